package style

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"
)

// assumedFLOPS is the rate of floating-point operations (graphCost's count) that Estimate's
// guess of the time of a step assumes: BenchmarkStyleIteration/256 reached 22.8 GFLOP/s with
// VGG19, and the embedded trunk, with its many small layers, 9 to 19 (0.5 to 1.1 s a step at 256
// pixels), on two cores shared with a load of 7 to 9 (oneDNN convolutions; Gorgonia's matrix
// products on gonum's pure-Go BLAS).
const assumedFLOPS = 20e9

// stepOverhead is the time of a step that does not grow with its operations: Gorgonia's
// allocations of every value, the optimiser, the frame copy.
const stepOverhead = 50 * time.Millisecond

// Estimate returns the memory in bytes a run of cfg with net needs at most, and a guess of the
// time one step takes, for a square picture of cfg.Size pixels (the most a picture of that long
// side can need) and square style pictures StyleScale times its side. It checks the
// configuration and the layers against the network. Size 0 (the content picture's size) cannot be
// estimated without the picture: set Size first.
func Estimate(cfg Config, net Network) (int64, time.Duration, error) {
	if err := cfg.Validate(); err != nil {
		return 0, 0, err
	}
	if cfg.Size == 0 {
		return 0, 0, &FieldError{"size", 0, "the estimate needs a size (0 keeps the content picture's, which is not known here)"}
	}
	if _, err := lastLayer(net.Layers(), cfg.layerNames(), cfg.Model); err != nil {
		return 0, 0, err
	}
	sizes := levels(cfg, cfg.Size, cfg.Size)
	n := max(1, len(cfg.Styles))
	return estimate(cfg, net, sizes, func(h, w int) [][2]int {
		side := max(1, int(math.Round(cfg.StyleScale*float64(w))))
		return slices.Repeat([][2]int{{side, side}}, n)
	})
}

// estimate returns the most memory any size of a run needs, and the time of a step at the
// largest size. styleSizes gives the sizes of the style pictures for an h x w picture.
func estimate(cfg Config, net Network, sizes [][2]int, styleSizes func(h, w int) [][2]int) (int64, time.Duration, error) {
	var most int64
	var flops int64
	for _, sz := range sizes {
		m := min(cfg.Margin, sz[0]-1, sz[1]-1)
		p, err := buildProblem(net, cfg, sz[0]+2*m, sz[1]+2*m, nil)
		if err != nil {
			return 0, 0, fmt.Errorf("style: a %dx%d picture: %w", sz[1], sz[0], err)
		}
		graph := p.bytes
		for _, ss := range styleSizes(sz[0], sz[1]) {
			b, err := forwardBytes(net, ss[0], ss[1], sortedKeys(cfg.StyleLayers))
			if err != nil {
				return 0, 0, fmt.Errorf("style: a %dx%d style picture: %w", ss[1], ss[0], err)
			}
			graph = max(graph, b)
		}
		most = max(most, graph+pictureBytes(cfg, sz[0]+2*m, sz[1]+2*m, styleSizes(sz[0], sz[1])))
		flops = p.flops
	}
	per := time.Duration(float64(flops)/assumedFLOPS*float64(time.Second)) + stepOverhead
	return most, per, nil
}

// forwardBytes is the memory of the run that computes the Gram matrices of an h x w style
// picture.
func forwardBytes(net Network, h, w int, layers []string) (int64, error) {
	g, input, outs, err := net.Build(h, w, layers)
	if err != nil {
		return 0, err
	}
	var nodes G.Nodes
	for _, l := range layers {
		n, err := gram(outs[l])
		if err != nil {
			return 0, err
		}
		nodes = append(nodes, n)
	}
	b, _ := graphCost(g.ExactSubgraphRoots(nodes...), input)
	return b, nil
}

// pictureBytes is what a run keeps besides its graph at an h x w size: the pictures (the
// content, its colour copy, the starting picture, the picture, frames on their way to the
// receiver: about eight of its size, and the style pictures) and the optimiser's state.
func pictureBytes(cfg Config, h, w int, styles [][2]int) int64 {
	n := int64(3 * h * w)
	b := 8 * 4 * n
	for _, s := range styles {
		b += 2 * 4 * 3 * int64(s[0]*s[1])
	}
	if cfg.Optimizer == "lbfgs" {
		m := int64(optimLBFGSPairs)
		return b + (2*m+5)*8*n // the pairs, x, g, the direction, the trial point and gradient
	}
	return b + (2*8+3*4)*n // x and g in float64, g, m and v in float32
}

// optimLBFGSPairs is the number of pairs optim.NewLBFGS keeps.
const optimLBFGSPairs = 10

// preflight refuses a run whose largest size does not fit the memory budget, naming the largest
// size that does.
func preflight(cfg Config, net Network, pics *pictures, sizes [][2]int) error {
	budget := int64(cfg.MemoryMiB) << 20
	if budget == 0 {
		budget = DefaultMemoryMiB << 20
	}
	styleSizes := func(h, w int) [][2]int {
		var out [][2]int
		for _, s := range pics.styles {
			sh, sw := styleSize(cfg, s, w)
			out = append(out, [2]int{sh, sw})
		}
		return out
	}
	need, _, err := estimate(cfg, net, sizes, styleSizes)
	if err != nil || need <= budget {
		return err
	}
	full := sizes[len(sizes)-1]
	mib := func(b int64) int64 { return (b + 1<<20 - 1) >> 20 }
	msg := fmt.Sprintf("style: a %dx%d picture needs about %d MiB, over the memory budget of %d MiB", full[1], full[0], mib(need), mib(budget))
	// Memory grows with the area: guess the long side that fits, then check it.
	long := max(full[0], full[1])
	for side := int(float64(long) * math.Sqrt(float64(budget)/float64(need))); side >= 16; side = side * 19 / 20 {
		h, w := fitLongSide(full[0], full[1], side)
		try := cfg
		try.Size = side
		b, _, err := estimate(try, net, levels(try, h, w), styleSizes)
		if err == nil && b <= budget {
			return fmt.Errorf("%s: a long side of at most %d pixels fits (size = %d)", msg, side, side)
		}
	}
	return fmt.Errorf("%s, and so does the smallest picture the layers can be built for", msg)
}

// sortedKeys returns the layers of a weight map in order.
func sortedKeys(m map[string]float64) []string { return slices.Sorted(maps.Keys(m)) }
