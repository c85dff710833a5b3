package style

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/nn"
)

// targets are what the picture is compared with at one size: the content picture's responses
// at the content layers, and the style pictures' blended Gram matrices at the style layers.
type targets struct {
	content map[string]*tensor.Dense
	style   map[string]*tensor.Dense
}

// problem is the loss of one picture size as a Gorgonia graph: the network up to its deepest
// layer, every term built with its target, and the gradient of the total with respect to the
// picture. Compiled, one run computes the three weighted losses, the total and that gradient,
// and nothing else (no weight gradient).
type problem struct {
	h, w   int
	g      *G.ExprGraph
	input  *G.Node
	parts  [3]*G.Node // the weighted content, style and TV losses
	total  *G.Node
	grad   *G.Node
	scales []scale // the weight leaves, set before every run

	bytes int64 // estimated memory of one run: see graphCost
	flops int64 // floating-point operations of one run, forward and backward

	vm G.VM
	x  *tensor.Dense // the picture, bound to input before every run
	// place runs the network's heavy ops on cfg.Accel (nil: the CPU).
	place *nn.Placement
}

// scale is a scalar leaf that weights one loss term, and how its value follows from Weights.
type scale struct {
	node  *G.Node
	value func(Weights) float64
}

// buildProblem builds the loss graph of an h x w picture without compiling it. Without targets
// (t nil) the target leaves have no values: the graph can be measured, not run.
func buildProblem(net Network, cfg Config, h, w int, t *targets) (*problem, error) {
	g, input, outs, err := net.Build(h, w, cfg.layerNames())
	if err != nil {
		return nil, err
	}
	if s := input.Shape(); !s.Eq(tensor.Shape{1, 3, h, w}) {
		return nil, fmt.Errorf("style: the network's input is %v, want (1, 3, %d, %d)", s, h, w)
	}
	p := &problem{h: h, w: w, g: g, input: input}
	var content, style []*G.Node
	for _, l := range slices.Sorted(maps.Keys(cfg.ContentLayers)) {
		target := p.leaf("content/target/"+l, outs[l].Shape(), t, func(t *targets) *tensor.Dense { return t.content[l] })
		term, err := contentLoss(outs[l], target)
		if err != nil {
			return nil, fmt.Errorf("style: content layer %s: %w", l, err)
		}
		content = append(content, p.weigh(term, "content/weight/"+l, func(w Weights) float64 { return w.Content * w.ContentLayers[l] }))
	}
	for _, l := range slices.Sorted(maps.Keys(cfg.StyleLayers)) {
		c := outs[l].Shape()[1]
		target := p.leaf("style/target/"+l, tensor.Shape{c, c}, t, func(t *targets) *tensor.Dense { return t.style[l] })
		term, err := styleLoss(outs[l], target)
		if err != nil {
			return nil, fmt.Errorf("style: style layer %s: %w", l, err)
		}
		style = append(style, p.weigh(term, "style/weight/"+l, func(w Weights) float64 { return w.Style * w.StyleLayers[l] }))
	}
	tv, err := tvLoss(input)
	if err != nil {
		return nil, fmt.Errorf("style: total variation: %w", err)
	}
	p.parts = [3]*G.Node{sum(content), sum(style), p.weigh(tv, "tv/weight", func(w Weights) float64 { return w.TV })}
	if slices.Contains(p.parts[:], nil) {
		return nil, fmt.Errorf("style: building the loss failed")
	}
	p.total = sum(p.parts[:])
	grads, err := G.Grad(p.total, input)
	if err != nil {
		return nil, fmt.Errorf("style: gradient: %w", err)
	}
	p.grad = grads[0]
	p.bytes, p.flops = graphCost(g.ExactSubgraphRoots(p.outputs()...), input)
	return p, nil
}

// newProblem computes the targets of one size and builds and compiles its loss graph.
func newProblem(net Network, cfg Config, l *level) (*problem, error) {
	t := &targets{}
	var err error
	if t.content, err = responses(net, cfg.Accel, l.content, sortedKeys(cfg.ContentLayers), identity); err != nil {
		return nil, err
	}
	grams := make([]map[string]*tensor.Dense, len(l.styles))
	for i, s := range l.styles {
		if grams[i], err = responses(net, cfg.Accel, s, sortedKeys(cfg.StyleLayers), gram); err != nil {
			return nil, fmt.Errorf("style picture %d: %w", i+1, err)
		}
	}
	t.style = blend(grams, l.weights)
	p, err := buildProblem(net, cfg, l.content.H, l.content.W, t)
	if err != nil {
		return nil, err
	}
	if err := p.compile(cfg.Accel); err != nil {
		return nil, err
	}
	return p, nil
}

// leaf makes a named input node of the dtype of the picture holding the target get picks from
// t, or no value without targets.
func (p *problem) leaf(name string, shape tensor.Shape, t *targets, get func(*targets) *tensor.Dense) *G.Node {
	opts := []G.NodeConsOpt{G.WithShape(shape...), G.WithName(name)}
	if t != nil {
		opts = append(opts, G.WithValue(get(t)))
	}
	return G.NewTensor(p.g, p.input.Dtype(), shape.Dims(), opts...)
}

// weigh returns term times a new scalar leaf whose value follows from the weights by value.
// Leaves are named for their term: Gorgonia merges leaves of the same name.
func (p *problem) weigh(term *G.Node, name string, value func(Weights) float64) *G.Node {
	if term == nil {
		return nil
	}
	n := G.NewScalar(p.g, p.input.Dtype(), G.WithName(name))
	p.scales = append(p.scales, scale{n, value})
	out, err := G.Mul(term, n)
	if err != nil {
		return nil
	}
	return out
}

// sum adds scalar nodes; nil if any is nil or the sum fails.
func sum(ns []*G.Node) *G.Node {
	if len(ns) == 0 || slices.Contains(ns, nil) {
		return nil
	}
	s := ns[0]
	for _, n := range ns[1:] {
		var err error
		if s, err = G.Add(s, n); err != nil {
			return nil
		}
	}
	return s
}

func (p *problem) outputs() G.Nodes {
	return G.Nodes{p.parts[0], p.parts[1], p.parts[2], p.total, p.grad}
}

// compile prepares the machine that computes the outputs and nothing else: CompileFunction
// prunes the weight gradients that Grad added to the graph.
//
// With an accelerator, the network's convolutions, pooling and ReLUs run on it: the weights are
// uploaded once, the picture each step, and only the activations that the loss terms read
// come back (the Gram matrices and the losses stay on the CPU).
func (p *problem) compile(acc nn.Accel) error {
	prog, locs, err := G.CompileFunction(p.g, leaves(p.g, p.outputs()), p.outputs())
	if err != nil {
		return fmt.Errorf("style: compile: %w", err)
	}
	p.vm = G.NewTapeMachine(p.g, G.WithPrecompiled(prog, locs))
	p.x = tensor.New(tensor.WithShape(1, 3, p.h, p.w), tensor.Of(p.input.Dtype()))
	// The problem runs once per step: its ops write into the tensors of the last run instead of
	// allocating them again; eval copies the losses and the gradient out before it returns.
	nn.ReuseBuffers(p.g)
	place, err := nn.Place(p.g, acc, p.outputs(), func(n *G.Node) bool { return n != p.input })
	if err != nil {
		return fmt.Errorf("style: %w", err)
	}
	p.place = place
	return nil
}

// leaves returns the nodes without an op (the picture, the targets, the weights) that outs
// depend on.
func leaves(g *G.ExprGraph, outs G.Nodes) G.Nodes {
	var in G.Nodes
	for _, n := range g.ExactSubgraphRoots(outs...).AllNodes() {
		if n.Op() == nil {
			in = append(in, n)
		}
	}
	return in
}

// eval computes the losses at the picture x (planar RGB, 3·h·w values) under the weights w and
// writes the gradient of the total into grad.
func (p *problem) eval(x []float64, w Weights, grad []float64) (Losses, error) {
	setFloats(p.x, x)
	if err := G.Let(p.input, p.x); err != nil {
		return Losses{}, fmt.Errorf("style: %w", err)
	}
	for _, s := range p.scales {
		var v any = s.value(w)
		if p.input.Dtype() == tensor.Float32 {
			v = float32(s.value(w))
		}
		if err := G.Let(s.node, v); err != nil {
			return Losses{}, fmt.Errorf("style: %w", err)
		}
	}
	defer p.vm.Reset()
	if err := p.vm.RunAll(); err != nil {
		err = p.place.Cause(err)
		return Losses{}, fmt.Errorf("style: run: %w", err)
	}
	l := Losses{Content: scalarOf(p.parts[0]), Style: scalarOf(p.parts[1]), TV: scalarOf(p.parts[2]), Total: scalarOf(p.total)}
	switch g := p.grad.Value().Data().(type) {
	case []float32:
		for i, v := range g {
			grad[i] = float64(v)
		}
	case []float64:
		copy(grad, g)
	default:
		return l, fmt.Errorf("style: the network must compute in float32 or float64")
	}
	return l, nil
}

func (p *problem) close() {
	if p.vm != nil {
		p.vm.Close()
	}
	p.place.Close()
}

// scalarOf returns the value of a scalar node after a run.
func scalarOf(n *G.Node) float64 {
	switch v := n.Value().Data().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

// setFloats copies x into a float32 or float64 tensor.
func setFloats(t *tensor.Dense, x []float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i, v := range x {
			d[i] = float32(v)
		}
	case []float64:
		copy(d, x)
	}
}

// responses runs the network once on img and returns, for every layer of layers, what f makes
// of the layer's output (the output itself for content targets, its Gram matrix for style
// targets), as tensors of their own.
func responses(net Network, acc nn.Accel, img *Image, layers []string, f func(*G.Node) (*G.Node, error)) (map[string]*tensor.Dense, error) {
	g, input, outs, err := net.Build(img.H, img.W, layers)
	if err != nil {
		return nil, err
	}
	nodes := make(G.Nodes, len(layers))
	for i, l := range layers {
		if nodes[i], err = f(outs[l]); err != nil {
			return nil, fmt.Errorf("style: layer %s: %w", l, err)
		}
	}
	prog, locs, err := G.CompileFunction(g, leaves(g, nodes), nodes)
	if err != nil {
		return nil, fmt.Errorf("style: compile: %w", err)
	}
	vm := G.NewTapeMachine(g, G.WithPrecompiled(prog, locs))
	defer vm.Close()
	place, err := nn.Place(g, acc, nodes, func(n *G.Node) bool { return n != input })
	if err != nil {
		return nil, fmt.Errorf("style: %w", err)
	}
	defer place.Close()
	x := tensor.New(tensor.WithShape(1, 3, img.H, img.W), tensor.Of(input.Dtype()))
	pix := make([]float64, len(img.Pix))
	for i, v := range img.Pix {
		pix[i] = float64(v)
	}
	setFloats(x, pix)
	if err := G.Let(input, x); err != nil {
		return nil, fmt.Errorf("style: %w", err)
	}
	if err := vm.RunAll(); err != nil {
		err = place.Cause(err)
		return nil, fmt.Errorf("style: run: %w", err)
	}
	out := make(map[string]*tensor.Dense, len(layers))
	for i, l := range layers {
		d, ok := nodes[i].Value().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("style: layer %s gave a %T", l, nodes[i].Value())
		}
		out[l] = d.Clone().(*tensor.Dense)
	}
	return out, nil
}

// identity is the f of responses that keeps a layer's output.
func identity(n *G.Node) (*G.Node, error) { return n, nil }

// blend averages the Gram matrices of several style pictures with weights (normalised to sum
// to 1): one target per layer.
func blend(grams []map[string]*tensor.Dense, weights []float64) map[string]*tensor.Dense {
	var total float64
	for _, w := range weights {
		total += w
	}
	out := map[string]*tensor.Dense{}
	for l, first := range grams[0] {
		acc := make([]float64, first.Shape().TotalSize())
		for i, g := range grams {
			k := weights[i] / total
			switch d := g[l].Data().(type) {
			case []float32:
				for j, v := range d {
					acc[j] += k * float64(v)
				}
			case []float64:
				for j, v := range d {
					acc[j] += k * v
				}
			}
		}
		t := tensor.New(tensor.WithShape(first.Shape().Clone()...), tensor.Of(first.Dtype()))
		setFloats(t, acc)
		out[l] = t
	}
	return out
}

// graphCost estimates the memory one run of a compiled problem takes and the floating-point
// operations it makes. Memory: the value of every node the program computes, forward and
// backward (Gorgonia keeps all of them until the next run), the picture and the targets, plus
// the largest scratch column matrix of a convolution (im2col: kernel volume times output
// positions), all twice over: Go's collector lets the heap grow to about twice what is live
// (GOGC=100). The network's weights are not counted: every graph shares them. Operations: two
// (a multiply and an add) for every multiply-add of a convolution, counted twice (its backward
// pass to the data costs as much), of every matrix product, forward and backward, and of the
// Gram matrices (nn.Gram) and their gradients.
func graphCost(sub *G.ExprGraph, input *G.Node) (bytes, flops int64) {
	var total, scratch int64
	for _, n := range sub.AllNodes() {
		if n.Op() == nil && n != input && !strings.Contains(n.Name(), "/target/") {
			continue // a weight of the network
		}
		size := int64(n.Dtype().Size())
		total += int64(max(n.Shape().TotalSize(), 1)) * size
		if n.Op() == nil {
			continue
		}
		ins := inputsOf(sub, n)
		switch op := n.Op().String(); {
		case strings.HasPrefix(op, "nn.Gram{") && len(ins) == 1: // syrk: C(C+1)/2 dot products of H·W
			c, hw := int64(n.Shape()[0]), int64(ins[0].Shape().TotalSize()/n.Shape()[0])
			flops += c * (c + 1) * hw
		case strings.HasPrefix(op, "nn.GramBack{") && len(ins) == 2: // a C x C by C x H·W product
			c, hw := int64(ins[1].Shape()[0]), int64(n.Shape().TotalSize()/ins[1].Shape()[0])
			flops += 2 * c * c * hw
		case strings.HasPrefix(op, "nn.Conv2D{"):
			// The (out, in, kh, kw) filters: a multiply-add per filter value and output position.
			for _, w := range ins {
				if ws := w.Shape(); w.Op() == nil && w != input && ws.Dims() == 4 && ws[0] == n.Shape()[1] {
					per := int64(ws.TotalSize() / ws[0])
					scratch = max(scratch, per*int64(n.Shape()[2]*n.Shape()[3])*size)
					flops += 2 * 2 * per * int64(n.Shape().TotalSize())
				}
			}
		case strings.Contains(op, "×") && len(ins) == 2:
			// An m x k by k x n product, either transposed: k² = |A|·|B| / |AB|.
			a, b, out := ins[0].Shape().TotalSize(), ins[1].Shape().TotalSize(), max(n.Shape().TotalSize(), 1)
			k := math.Sqrt(float64(a) * float64(b) / float64(out))
			flops += int64(2 * k * float64(out))
		}
	}
	return 2 * (total + scratch), flops
}

// inputsOf returns the nodes n reads.
func inputsOf(sub *G.ExprGraph, n *G.Node) []*G.Node {
	var ins []*G.Node
	for it := sub.From(n.ID()); it.Next(); {
		if m, ok := it.Node().(*G.Node); ok {
			ins = append(ins, m)
		}
	}
	return ins
}
