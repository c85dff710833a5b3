package dream

import (
	"context"
	"fmt"
	"math"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/nn"
)

// tileGraph is the objective and its gradient with respect to the input for one tile size: the
// network up to the layer, the mean of the layer (or of one channel of it), and the gradient of
// that mean, compiled so that only the input gradient is computed, never a weight gradient.
type tileGraph struct {
	h, w              int
	g                 *G.ExprGraph
	input, cost, grad *G.Node
	bytes             int64 // estimated memory of one run: see graphBytes

	vm G.VM
	x  *tensor.Dense // the input tile, bound to input before every run
	// place runs the network's heavy ops on an accelerator (nil: the CPU).
	place *nn.Placement
}

// buildTileGraph builds the graph of an h x w tile without compiling it.
func buildTileGraph(net Network, h, w int, layer string, channel int) (*tileGraph, error) {
	g, input, out, err := net.Build(h, w, layer)
	if err != nil {
		return nil, err
	}
	if s := input.Shape(); !s.Eq(tensor.Shape{1, 3, h, w}) {
		return nil, fmt.Errorf("dream: the network's input is %v, want (1, 3, %d, %d)", s, h, w)
	}
	if out.Dims() != 4 {
		return nil, fmt.Errorf("dream: layer %s has shape %v, want (1, C, H, W)", layer, out.Shape())
	}
	x := out
	if channel >= 0 {
		if x, err = nn.SelectChannel(out, channel); err != nil {
			return nil, fmt.Errorf("dream: layer %s: %w", layer, err)
		}
	}
	cost, err := G.Mean(x)
	if err != nil {
		return nil, fmt.Errorf("dream: objective: %w", err)
	}
	grads, err := G.Grad(cost, input)
	if err != nil {
		return nil, fmt.Errorf("dream: gradient: %w", err)
	}
	t := &tileGraph{h: h, w: w, g: g, input: input, cost: cost, grad: grads[0]}
	t.bytes = graphBytes(g.ExactSubgraphRoots(cost, t.grad), input)
	return t, nil
}

// compile prepares the machine that computes the objective and the input gradient, and nothing
// else: CompileFunction prunes the weight gradients that Grad added to the graph. With an
// accelerator (acc not nil) the network's convolutions, pooling, LRN and ReLUs run on it, its
// weights uploaded once; each run uploads the tile and downloads the objective's input and the
// gradient, and whatever crosses between the accelerator's ops and the CPU's (concatenations,
// the channel selection).
func (t *tileGraph) compile(acc nn.Accel) error {
	var leaves G.Nodes // the picture and the weights
	for _, n := range t.g.ExactSubgraphRoots(t.cost, t.grad).AllNodes() {
		if n.Op() == nil {
			leaves = append(leaves, n)
		}
	}
	prog, locs, err := G.CompileFunction(t.g, leaves, G.Nodes{t.cost, t.grad})
	if err != nil {
		return fmt.Errorf("dream: compile: %w", err)
	}
	t.vm = G.NewTapeMachine(t.g, G.WithPrecompiled(prog, locs))
	t.x = tensor.New(tensor.WithShape(1, 3, t.h, t.w), tensor.Of(tensor.Float32))
	// A tile graph runs every iteration of an octave: its ops write into the tensors of the last
	// run instead of allocating them again. run hands the gradient out only until it returns.
	nn.ReuseBuffers(t.g)
	place, err := nn.Place(t.g, acc, G.Nodes{t.cost, t.grad}, func(n *G.Node) bool { return n != t.input })
	if err != nil {
		return fmt.Errorf("dream: %w", err)
	}
	t.place = place
	return nil
}

// run computes the objective of one tile (planar RGB, h x w) and hands its gradient to use,
// which must copy what it keeps before it returns.
func (t *tileGraph) run(tile []float32, use func(grad []float32)) (float64, error) {
	copy(t.x.Data().([]float32), tile)
	if err := G.Let(t.input, t.x); err != nil {
		return 0, fmt.Errorf("dream: %w", err)
	}
	defer t.vm.Reset()
	if err := t.vm.RunAll(); err != nil {
		err = t.place.Cause(err)
		return 0, fmt.Errorf("dream: run: %w", err)
	}
	obj, ok1 := t.cost.Value().Data().(float32)
	grad, ok2 := t.grad.Value().Data().([]float32)
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("dream: the network must compute in float32")
	}
	use(grad)
	return float64(obj), nil
}

func (t *tileGraph) close() {
	if t.vm != nil {
		t.vm.Close()
	}
	t.place.Close()
}

// graphBytes estimates the memory one run of a tile graph takes: the value of every node the
// program computes, forward and backward (Gorgonia keeps all of them until the next run), and the
// input tile, plus the largest scratch column matrix of a convolution (nn.Conv2D's im2col: kernel
// volume times output positions), all twice over: Go's collector lets the heap grow to about
// twice what is live (GOGC=100). The weights are not counted: every graph shares them.
//
// Measured on the embedded trunk: a 512x512 tile of mixed3 has 661 MiB live and ran with a heap
// of 1175 MiB; 299x199 of mixed3, 142 MiB and 283 MiB.
func graphBytes(sub *G.ExprGraph, input *G.Node) int64 {
	var total, scratch int64
	for _, n := range sub.AllNodes() {
		if n.Op() == nil && n != input {
			continue // a weight
		}
		size := int64(n.Dtype().Size())
		total += int64(max(n.Shape().TotalSize(), 1)) * size
		if n.Op() == nil || !strings.HasPrefix(n.Op().String(), "nn.Conv2D{") {
			continue
		}
		out := n.Shape()
		for it := sub.From(n.ID()); it.Next(); {
			w, ok := it.Node().(*G.Node)
			if ws := w.Shape(); ok && w.Op() == nil && ws.Dims() == 4 && ws[0] == out[1] {
				scratch = max(scratch, int64(ws.TotalSize()/ws[0]*out[2]*out[3])*size)
			}
		}
	}
	return 2 * (total + scratch)
}

// graphCache holds the compiled tile graphs of the current objective, one per tile size. Every
// step of a run uses one tile size (edge tiles are taken flush with the edge), so a graph is
// reused step after step, and a size no longer used is dropped with the values it holds.
type graphCache struct {
	net             Network
	budget, picture int64    // bytes: the run's budget and what its copies of the picture take
	acc             nn.Accel // where the graphs run: nil for the CPU

	layer   string
	channel int
	set     bool
	graphs  map[[2]int]*tileGraph

	// prebuilt are the graphs the preflight built (not compiled) for the run's first
	// objective, by tile size: get compiles them instead of building them again.
	prebuilt    map[[2]int]*tileGraph
	prebuiltFor Settings

	// Buffers reused from step to step while the picture keeps its size: the shifted picture,
	// its gradient, and one tile.
	rolled, grad *Image
	tile         []float32
}

// buffer returns *b, or a new h x w picture in its place if it has another size.
func buffer(b **Image, h, w int) *Image {
	if *b == nil || (*b).H != h || (*b).W != w {
		*b = NewImage(h, w)
	}
	return *b
}

func newGraphCache(net Network, budget, picture int64) *graphCache {
	return &graphCache{net: net, budget: budget, picture: picture, graphs: map[[2]int]*tileGraph{}}
}

// setObjective selects the layer and channel of the following steps; a change drops every graph.
func (c *graphCache) setObjective(layer string, channel int) {
	if c.set && layer == c.layer && channel == c.channel {
		return
	}
	c.close()
	c.layer, c.channel, c.set = layer, channel, true
}

// get returns the compiled graph of an h x w tile, building it if needed, after checking that it
// fits the memory budget.
func (c *graphCache) get(h, w int) (*tileGraph, error) {
	if t := c.graphs[[2]int{h, w}]; t != nil {
		return t, nil
	}
	c.close() // a new size: the old one is not used again by this step
	t := c.prebuilt[[2]int{h, w}]
	if t != nil && c.prebuiltFor.Layer == c.layer && c.prebuiltFor.Channel == c.channel {
		delete(c.prebuilt, [2]int{h, w}) // built and checked against the budget by the preflight
	} else {
		var err error
		if t, err = buildTileGraph(c.net, h, w, c.layer, c.channel); err != nil {
			return nil, err
		}
		if err := checkBudget(c.net, t, c.layer, c.channel, c.picture, c.budget); err != nil {
			return nil, err
		}
	}
	if err := t.compile(c.acc); err != nil {
		return nil, err
	}
	c.graphs[[2]int{h, w}] = t
	return t, nil
}

func (c *graphCache) close() {
	for k, t := range c.graphs {
		t.close()
		delete(c.graphs, k)
	}
}

// gradient returns the gradient of the objective over the whole picture and the objective
// averaged over the tiles. The gradient is the cache's buffer, valid until the next call. The tiles are TileSize squares (or the picture's side where it is
// smaller) side by side from the top left; the last row and column of tiles lie flush with the
// bottom and right edges, overlapping the ones before, so that every tile has one size and every
// pixel a gradient. Where tiles overlap the later tile's gradient wins, as in the recipe.
//
// This differs from the recipe's calc_grad_tiled, which lets the last tile be smaller (a graph
// of another size, and another normalisation of the mean) and leaves a strip narrower than half
// a tile without gradient until a later shift moves it into a tile.
func (c *graphCache) gradient(ctx context.Context, img *Image, tile int) (*Image, float64, error) {
	th, tw := min(tile, img.H), min(tile, img.W)
	t, err := c.get(th, tw)
	if err != nil {
		return nil, 0, err
	}
	ys, xs := tileStarts(img.H, th), tileStarts(img.W, tw)
	g := buffer(&c.grad, img.H, img.W) // every value is written: the tiles cover the picture
	if len(c.tile) != 3*th*tw {
		c.tile = make([]float32, 3*th*tw)
	}
	buf := c.tile
	var sum float64
	for _, y0 := range ys {
		for _, x0 := range xs {
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			img.crop(y0, x0, th, tw, buf)
			obj, err := t.run(buf, func(grad []float32) { g.paste(y0, x0, th, tw, grad) })
			if err != nil {
				return nil, 0, err
			}
			sum += obj
		}
	}
	return g, sum / float64(len(ys)*len(xs)), nil
}

// tileStarts returns where tiles of t cells start along an axis of n >= t cells: every t cells
// from 0, and the last one flush with the end.
func tileStarts(n, t int) []int {
	var starts []int
	for s := 0; s+t < n; s += t {
		starts = append(starts, s)
	}
	return append(starts, n-t)
}

// picturePlaneBytes is what a run keeps of an h x w picture: the octaves' details (about two
// pictures at a scale of 1.4), the picture, its shifted copy, the gradient and its shifted copy,
// and a frame or two on their way to the receiver: eight pictures of 3 float32 planes.
func picturePlaneBytes(h, w int) int64 {
	return 8 * 3 * 4 * int64(h) * int64(w)
}

// Estimate returns the memory in bytes a run of cfg on an h x w picture needs at most: the
// largest tile graph of its octaves and the picture's copies. It checks the configuration, the
// layer and the channel against the network, and that every octave can be built.
func Estimate(cfg Config, net Network, h, w int) (int64, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	s, err := checkSettings(net, fixed{cfg}.Current())
	if err != nil {
		return 0, err
	}
	if h <= 0 || w <= 0 {
		return 0, fmt.Errorf("dream: empty picture")
	}
	var most int64
	err = eachTile(net, s, octaveSizes(h, w, cfg.Octaves, cfg.OctaveScale), cfg.TileSize, func(t *tileGraph) error {
		most = max(most, t.bytes)
		return nil
	})
	return most + picturePlaneBytes(h, w), err
}

// Check refuses, before any work, a run of cfg on an h x w picture that Run would refuse before
// its first step: a bad configuration, layer or channel, an octave too small for the network, or
// a tile or picture over the memory budget (the error then says how large a tile or a picture
// fits).
func Check(cfg Config, net Network, h, w int) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s, err := checkSettings(net, fixed{cfg}.Current())
	if err != nil {
		return err
	}
	if h <= 0 || w <= 0 {
		return fmt.Errorf("dream: empty picture")
	}
	_, err = preflight(net, s, octaveSizes(h, w, cfg.Octaves, cfg.OctaveScale), cfg.TileSize, budgetOf(cfg))
	return err
}

// budgetOf is a run's memory budget in bytes.
func budgetOf(cfg Config) int64 {
	if cfg.MemoryMiB == 0 {
		return DefaultMemoryMiB << 20
	}
	return int64(cfg.MemoryMiB) << 20
}

// preflight builds the tile graph of every octave without running it, and refuses a run that
// cannot be built or that does not fit the budget, before any work is done. It returns the
// graphs by tile size, for the run to compile as it reaches them.
func preflight(net Network, s Settings, sizes [][2]int, tile int, budget int64) (map[[2]int]*tileGraph, error) {
	full := sizes[len(sizes)-1]
	picture := picturePlaneBytes(full[0], full[1])
	built := map[[2]int]*tileGraph{}
	err := eachTile(net, s, sizes, tile, func(t *tileGraph) error {
		built[[2]int{t.h, t.w}] = t
		return checkBudget(net, t, s.Layer, s.Channel, picture, budget)
	})
	return built, err
}

// eachTile builds the tile graph of every distinct tile size of the octaves and calls f on it.
func eachTile(net Network, s Settings, sizes [][2]int, tile int, f func(t *tileGraph) error) error {
	seen := map[[2]int]bool{}
	for i, sz := range sizes {
		th, tw := min(tile, sz[0]), min(tile, sz[1])
		if seen[[2]int{th, tw}] {
			continue
		}
		seen[[2]int{th, tw}] = true
		t, err := buildTileGraph(net, th, tw, s.Layer, s.Channel)
		if err != nil {
			return fmt.Errorf("dream: octave %d of %d (%dx%d pixels) cannot be dreamed on at layer %s (a larger picture or fewer octaves may help): %w",
				i+1, len(sizes), sz[1], sz[0], s.Layer, err)
		}
		if err := f(t); err != nil {
			return err
		}
	}
	return nil
}

// checkBudget refuses a tile graph that, with the picture's copies, needs more than budget
// bytes, and says how large a tile may be.
func checkBudget(net Network, t *tileGraph, layer string, channel int, picture, budget int64) error {
	if t.bytes+picture <= budget {
		return nil
	}
	mib := func(b int64) int64 { return (b + 1<<20 - 1) >> 20 }
	msg := fmt.Sprintf("dream: a %dx%d tile of layer %s needs about %d MiB and the picture %d MiB, over the memory budget of %d MiB",
		t.w, t.h, layer, mib(t.bytes), mib(picture), mib(budget))
	if picture >= budget {
		f := math.Sqrt(float64(budget) / float64(picture) / 2)
		return fmt.Errorf("%s: the picture may have at most about %d pixels (%.0f%% of its sides)", msg, int64(f*f*float64(picture)/(8*3*4)), 100*f)
	}
	// The graph's memory grows with the tile's area: guess the side that fits, then check it.
	side := int(float64(max(t.h, t.w)) * math.Sqrt(float64(budget-picture)/float64(t.bytes)))
	for ; side >= 16; side = side * 9 / 10 {
		s, err := buildTileGraph(net, min(side, t.h), min(side, t.w), layer, channel)
		if err != nil {
			break
		}
		if s.bytes+picture <= budget {
			return fmt.Errorf("%s: tiles of at most %d pixels fit (tile_size = %d)", msg, side, side)
		}
	}
	return fmt.Errorf("%s, and so does the smallest tile the layer can be built for", msg)
}
