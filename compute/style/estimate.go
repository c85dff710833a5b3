package style

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"
)

// Estimation is what a run needs before it starts: the memory of its largest size against the
// budget, and the time of a step at that size as a Timing predicts it.
type Estimation struct {
	H, W   int   // the largest size of the run (for Estimate, a square of cfg.Size)
	Bytes  int64 // the memory of the run at most
	Budget int64 // the memory budget (Config.MemoryMiB, or DefaultMemoryMiB)
	FLOPs  int64 // the operations of one step at the largest size (graphCost's count)
	// Step is the time of one step at the largest size, Timing.Step of FLOPs; 0 without a
	// measured Timing.
	Step time.Duration
	// Largest is, when the run does not fit the budget, the largest long side that does
	// (0 when none does); it is the run's own long side when it fits.
	Largest int
}

// Fits reports whether the run fits the memory budget.
func (e Estimation) Fits() bool { return e.Bytes <= e.Budget }

// Err is the error a run that does not fit the memory budget is refused with, naming the
// largest size that fits; nil when it fits. Run and Check refuse with the same words.
func (e Estimation) Err() error {
	if e.Fits() {
		return nil
	}
	mib := func(b int64) int64 { return (b + 1<<20 - 1) >> 20 }
	msg := fmt.Sprintf("style: a %dx%d picture needs about %d MiB, over the memory budget of %d MiB", e.W, e.H, mib(e.Bytes), mib(e.Budget))
	if e.Largest == 0 {
		return fmt.Errorf("%s, and so does the smallest picture the layers can be built for", msg)
	}
	return fmt.Errorf("%s: a long side of at most %d pixels fits (size = %d)", msg, e.Largest, e.Largest)
}

// Timing is a measured model of the time of one step on this machine: a part that does not
// grow with the step's operations (Gorgonia's bookkeeping, the optimiser, the frame copy) and a
// time per operation, fitted to steps timed at two small sizes (MeasureTiming). It belongs to one
// network and one set of layers; its zero value predicts nothing.
type Timing struct {
	Fixed    time.Duration    // per step
	PerGFLOP time.Duration    // per 10⁹ operations of graphCost's count
	Sides    [2]int           // the sides of the square pictures timed
	Times    [2]time.Duration // the time of a step at each
}

// Step predicts the time of a step of flops operations; 0 for the zero Timing.
func (t Timing) Step(flops int64) time.Duration {
	if t.PerGFLOP <= 0 {
		return 0
	}
	return t.Fixed + time.Duration(float64(flops)/1e9*float64(t.PerGFLOP))
}

// TimingSmall and TimingLarge are the sides of the square pictures MeasureTiming times a step
// at: small enough to take about a second for VGG19 on two cores, large enough for the deepest
// layers of both networks, and a factor of four apart in operations, so that the fit separates
// the fixed part from the part that grows.
const (
	TimingSmall = 64
	TimingLarge = 128
)

// MeasureTiming times one Adam step of cfg's layers on net at TimingSmall and TimingLarge (after
// one untimed step at each, which creates the convolution primitives and warms the caches) on
// synthetic pictures, and fits Timing to the two. L-BFGS makes one or more evaluations of the
// same cost per step. It reflects the machine's load while it runs: a front end measures once
// per network and layer set and keeps the result. ctx is checked between the steps.
func MeasureTiming(ctx context.Context, cfg Config, net Network) (Timing, error) {
	cfg = cfg.Clone()
	cfg.Optimizer, cfg.Margin, cfg.PreserveColors, cfg.CoarseToFine = "adam", 0, false, false
	if _, err := lastLayer(net.Layers(), cfg.layerNames(), cfg.Model); err != nil {
		return Timing{}, err
	}
	t := Timing{Sides: [2]int{TimingSmall, TimingLarge}}
	var flops [2]int64
	for i, side := range t.Sides {
		l := &level{content: waves(side, side), styles: []*Image{waves(side+side/3, side)}, weights: []float64{1}}
		p, err := newProblem(net, cfg, l)
		if err != nil {
			return Timing{}, fmt.Errorf("style: timing a %dx%d step: %w", side, side, err)
		}
		flops[i] = p.flops
		img := l.content.Clone()
		opt, w := newOptimizer(cfg, len(img.Pix)), WeightsOf(cfg)
		for range 2 {
			if err := ctx.Err(); err != nil {
				p.close()
				return Timing{}, err
			}
			start := time.Now()
			if _, err := opt.step(p, img, w); err != nil {
				p.close()
				return Timing{}, fmt.Errorf("style: timing a %dx%d step: %w", side, side, err)
			}
			t.Times[i] = time.Since(start) // the second, warm step's
		}
		p.close()
	}
	t.Fixed, t.PerGFLOP = fitTiming(flops, t.Times)
	return t, nil
}

// fitTiming fits time = fixed + flops·per through two timed steps; a noisy pair that would
// make either part negative falls back to the larger step's rate alone (fixed 0).
func fitTiming(flops [2]int64, times [2]time.Duration) (fixed, perGFLOP time.Duration) {
	if flops[1] <= 0 {
		return 0, 0
	}
	alone := time.Duration(float64(times[1]) / float64(flops[1]) * 1e9)
	if flops[1] <= flops[0] {
		return 0, alone
	}
	per := float64(times[1]-times[0]) / float64(flops[1]-flops[0])
	f := float64(times[0]) - per*float64(flops[0])
	if !(per > 0) || f < 0 {
		return 0, alone
	}
	return time.Duration(f), time.Duration(per * 1e9)
}

// waves is a synthetic h x w picture of smooth colour waves, for timing.
func waves(h, w int) *Image {
	img := &Image{H: h, W: w, Pix: make([]float32, 3*h*w)}
	for c := range 3 {
		for y := range h {
			for x := range w {
				img.Pix[(c*h+y)*w+x] = float32(128 + 100*math.Sin(float64(x+2*c)/3+float64(y*(c+1))/4))
			}
		}
	}
	return img
}

// Estimate returns what a run of cfg with net needs, for a square picture of cfg.Size pixels (the
// most a picture of that long side can need) and square style pictures StyleScale times its
// side, with the time of a step predicted by t (none for the zero Timing). It checks the
// configuration and the layers against the network. Size 0 (the content picture's size) cannot
// be estimated without the picture: set Size first.
func Estimate(cfg Config, net Network, t Timing) (Estimation, error) {
	if err := cfg.Validate(); err != nil {
		return Estimation{}, err
	}
	if cfg.Size == 0 {
		return Estimation{}, &FieldError{"size", 0, "the estimate needs a size (0 keeps the content picture's, which is not known here)"}
	}
	if _, err := lastLayer(net.Layers(), cfg.layerNames(), cfg.Model); err != nil {
		return Estimation{}, err
	}
	n := max(1, len(cfg.Styles))
	styleSizes := func(h, w int) [][2]int {
		side := max(1, int(math.Round(cfg.StyleScale*float64(w))))
		return slices.Repeat([][2]int{{side, side}}, n)
	}
	return estimateFit(cfg, net, cfg.Size, cfg.Size, styleSizes, t)
}

// estimateFit estimates a run of cfg on an h x w content picture and, when it does not fit the
// budget, finds the largest long side that does.
func estimateFit(cfg Config, net Network, h, w int, styleSizes func(h, w int) [][2]int, t Timing) (Estimation, error) {
	e := Estimation{H: h, W: w, Budget: int64(cfg.MemoryMiB) << 20, Largest: max(h, w)}
	if e.Budget == 0 {
		e.Budget = DefaultMemoryMiB << 20
	}
	var err error
	if e.Bytes, e.FLOPs, err = estimate(cfg, net, levels(cfg, h, w), styleSizes); err != nil {
		return e, err
	}
	e.Step = t.Step(e.FLOPs)
	if e.Fits() {
		return e, nil
	}
	// Memory grows with the area: guess the long side that fits, then check it, stepping down.
	long := max(h, w)
	e.Largest = 0
	for side := int(float64(long) * math.Sqrt(float64(e.Budget)/float64(e.Bytes))); side >= 16; side = side * 19 / 20 {
		th, tw := fitLongSide(h, w, side)
		try := cfg
		try.Size = side
		b, _, err := estimate(try, net, levels(try, th, tw), styleSizes)
		if err == nil && b <= e.Budget {
			e.Largest = side
			break
		}
	}
	return e, nil
}

// estimate returns the most memory any size of a run needs, and the operations of a step at the
// largest size. styleSizes gives the sizes of the style pictures for an h x w picture.
func estimate(cfg Config, net Network, sizes [][2]int, styleSizes func(h, w int) [][2]int) (int64, int64, error) {
	var most, flops int64
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
	return most, flops, nil
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
	styleSizes := func(h, w int) [][2]int {
		var out [][2]int
		for _, s := range pics.styles {
			sh, sw := styleSize(cfg, s, w)
			out = append(out, [2]int{sh, sw})
		}
		return out
	}
	full := sizes[len(sizes)-1]
	e, err := estimateFit(cfg, net, full[0], full[1], styleSizes, Timing{})
	if err != nil {
		return err
	}
	return e.Err()
}

// sortedKeys returns the layers of a weight map in order.
func sortedKeys(m map[string]float64) []string { return slices.Sorted(maps.Keys(m)) }
