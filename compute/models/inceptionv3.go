package models

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/formats/cnvm"
	"convas/compute/nn"
)

// inceptionV3Channels are the output channels of Keras InceptionV3's mixed blocks, which a
// loaded trunk must match.
var inceptionV3Channels = map[string]int{
	"mixed0": 256, "mixed1": 288, "mixed2": 288, "mixed3": 768, "mixed4": 768, "mixed5": 768,
	"mixed6": 768, "mixed7": 768, "mixed8": 1280, "mixed9": 2048, "mixed10": 2048,
}

// keras BatchNormalization's default epsilon, used where a layer does not store its own.
const kerasBNEpsilon = 0.001

// InceptionV3 is a trunk of Keras's InceptionV3 (Szegedy et al., "Rethinking the Inception
// Architecture for Computer Vision", arXiv:1512.00567) loaded from a .cnvm file, such as the
// embedded one that ends at mixed5.
//
// Each convolution unit of the file (conv2d_N, batch_normalization_N, activation_N) becomes one
// convolution with a bias: the batch normalisation is folded into the kernel at load time, from
// the stored weights. A unit is named after its convolution, conv2d_N, and its output is the
// unit's whole output, after the ReLU (Keras's activation_N, a name that works too).
type InceptionV3 struct {
	// Meta is the model file's metadata: source, licence, how the inputs are scaled.
	Meta map[string]string

	units  []*unit          // in graph order, the input first
	byName map[string]*unit // by unit name and by the names of the file's layers merged into it
}

// unit is one block of the built graph: the input, a convolution with its folded batch
// normalisation and activation, a pooling, or a concatenation.
type unit struct {
	name     string
	kind     string // "input", "conv", "relu", "maxpool", "avgpool" or "concat"
	inputs   []*unit
	channels int

	// Convolutions and poolings.
	kh, kw, sh, sw int
	same           bool
	// Convolutions.
	w, b       *Param // (out, in, kh, kw) and (out), batch normalisation folded in
	folded     bool   // a batch normalisation has been folded into w and b
	relu       bool
	activation string // the activation layer merged into the unit, whose name names its output too
}

// LayerInfo describes one layer of a network for a layer table or picker.
type LayerInfo struct {
	// Name is the layer's name, such as "conv2d_1" or "mixed3": the key of its output in a
	// built graph.
	Name string
	// Kind is what the layer computes: "conv" (a convolution with bias and ReLU), "relu",
	// "maxpool", "avgpool" or "concat".
	Kind string
	// Channels is the number of channels of the layer's output.
	Channels int
}

// LoadInceptionV3 reads a .cnvm file and prepares the trunk it holds; see NewInceptionV3.
func LoadInceptionV3(r io.Reader) (*InceptionV3, error) {
	f, err := cnvm.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("models: inceptionv3: %w", err)
	}
	return NewInceptionV3(f)
}

// NewInceptionV3 prepares the trunk of a decoded .cnvm model: it dequantizes the kernels,
// transposes them to (out, in, kh, kw), folds each batch normalisation into the convolution
// before it (gamma 1 where the file has none, Keras's epsilon 0.001 where the layer stores none),
// and checks the layers: their kinds, their weights' shapes, and the channels of the mixed
// blocks against Keras InceptionV3. Errors name the layer.
func NewInceptionV3(f *cnvm.Model) (*InceptionV3, error) {
	m := &InceptionV3{Meta: f.Meta, byName: map[string]*unit{}}
	uses := map[string]int{}
	for _, l := range f.Layers {
		for _, in := range l.Inputs {
			uses[in]++
		}
	}
	for _, l := range f.Layers {
		ins := make([]*unit, len(l.Inputs))
		for i, n := range l.Inputs {
			ins[i] = m.byName[n]
		}
		u, err := m.addLayer(f, l, ins, uses)
		if err != nil {
			return nil, fmt.Errorf("models: inceptionv3: layer %s: %w", l.Name, err)
		}
		m.byName[l.Name] = u
	}
	if len(m.units) == 0 || m.units[0].kind != "input" {
		return nil, fmt.Errorf("models: inceptionv3: the file has no input layer")
	}
	return m, nil
}

// addLayer merges a layer of the file into the trunk and returns the unit that gives its output.
func (m *InceptionV3) addLayer(f *cnvm.Model, l *cnvm.Layer, ins []*unit, uses map[string]int) (*unit, error) {
	one := func() (*unit, error) {
		if len(ins) != 1 {
			return nil, fmt.Errorf("%s takes one input, has %d", l.Kind, len(ins))
		}
		return ins[0], nil
	}
	switch l.Kind {
	case cnvm.KindInput:
		shape := l.Ints["shape"]
		if len(shape) != 3 || shape[2] != 3 || len(m.units) > 0 {
			return nil, fmt.Errorf("the trunk needs one input of 3 channels, (height, width, 3), got %v", shape)
		}
		return m.add(&unit{name: l.Name, kind: "input", channels: 3}), nil
	case cnvm.KindConv2D:
		in, err := one()
		if err != nil {
			return nil, err
		}
		return m.conv(f, l, in)
	case cnvm.KindBatchNorm:
		in, err := one()
		if err != nil {
			return nil, err
		}
		if in.kind != "conv" || in.folded || in.relu || uses[l.Inputs[0]] != 1 {
			return nil, fmt.Errorf("a batch normalisation can only be folded into a convolution that nothing else reads")
		}
		if err := foldInto(f, l, in); err != nil {
			return nil, err
		}
		in.folded = true
		return in, nil
	case cnvm.KindActivation:
		in, err := one()
		if err != nil {
			return nil, err
		}
		switch act := l.Strings["activation"]; {
		case act == "linear":
			return in, nil
		case act != "relu":
			return nil, fmt.Errorf("activation %q is not supported", act)
		case in.kind == "conv" && !in.relu && uses[l.Inputs[0]] == 1:
			in.relu, in.activation = true, l.Name
			return in, nil
		}
		return m.add(&unit{name: l.Name, kind: "relu", inputs: ins, channels: in.channels}), nil
	case cnvm.KindMaxPool2D, cnvm.KindAvgPool2D:
		in, err := one()
		if err != nil {
			return nil, err
		}
		u := &unit{name: l.Name, kind: "maxpool", inputs: ins, channels: in.channels}
		if l.Kind == cnvm.KindAvgPool2D {
			u.kind = "avgpool"
		}
		if err := u.window(l, "pool"); err != nil {
			return nil, err
		}
		return m.add(u), nil
	case cnvm.KindConcat:
		if len(ins) < 2 {
			return nil, fmt.Errorf("concat needs at least 2 inputs, has %d", len(ins))
		}
		u := &unit{name: l.Name, kind: "concat", inputs: ins}
		for _, in := range ins {
			u.channels += in.channels
		}
		if want, ok := inceptionV3Channels[l.Name]; ok && u.channels != want {
			return nil, fmt.Errorf("%d channels, Keras InceptionV3 has %d", u.channels, want)
		}
		return m.add(u), nil
	}
	return nil, fmt.Errorf("kind %q is not part of an InceptionV3 trunk", l.Kind)
}

// add appends a unit to the trunk.
func (m *InceptionV3) add(u *unit) *unit {
	m.units = append(m.units, u)
	return u
}

// window reads the kernel (under key), strides and padding of a convolution or pooling.
func (u *unit) window(l *cnvm.Layer, key string) error {
	k, s := l.Ints[key], l.Ints["strides"]
	if len(k) != 2 || len(s) != 2 || k[0] <= 0 || k[1] <= 0 || s[0] <= 0 || s[1] <= 0 {
		return fmt.Errorf("%s %v and strides %v must be two positive sizes", key, k, s)
	}
	u.kh, u.kw, u.sh, u.sw = k[0], k[1], s[0], s[1]
	switch p := l.Strings["padding"]; p {
	case "same", "valid":
		u.same = p == "same"
	default:
		return fmt.Errorf("padding %q is neither same nor valid", p)
	}
	return nil
}

// conv makes the unit of a convolution: its kernel dequantized and transposed from Keras's
// (kh, kw, in, out) to (out, in, kh, kw), and its bias (zero if the layer has none).
func (m *InceptionV3) conv(f *cnvm.Model, l *cnvm.Layer, in *unit) (*unit, error) {
	u := &unit{name: l.Name, kind: "conv", inputs: []*unit{in}}
	if err := u.window(l, "kernel"); err != nil {
		return nil, err
	}
	switch act := l.Strings["activation"]; act {
	case "linear", "":
	case "relu":
		u.relu = true
	default:
		return nil, fmt.Errorf("activation %q is not supported", act)
	}
	k, shape, err := weight(f, l, "kernel", u.kh, u.kw, in.channels, -1)
	if err != nil {
		return nil, err
	}
	out := shape[3]
	u.channels = out
	u.w = &Param{Name: l.Name + "/w", Shape: []int{out, in.channels, u.kh, u.kw}, Data: hwioToOIHW(k, u.kh, u.kw, in.channels, out)}
	u.b = &Param{Name: l.Name + "/b", Shape: []int{out}, Data: make([]float32, out)}
	if _, ok := l.Weights["bias"]; ok {
		b, _, err := weight(f, l, "bias", out)
		if err != nil {
			return nil, err
		}
		copy(u.b.Data, b)
	}
	return m.add(u), nil
}

// weight returns the values and shape of the tensor a layer uses in a role, after checking the
// shape; -1 in shape matches any size.
func weight(f *cnvm.Model, l *cnvm.Layer, role string, shape ...int) ([]float32, []int, error) {
	name, ok := l.Weights[role]
	if !ok {
		return nil, nil, fmt.Errorf("no %s weight", role)
	}
	t := f.Tensor(name)
	if t == nil {
		return nil, nil, fmt.Errorf("weight %s: no tensor %q", role, name)
	}
	ok = len(t.Shape) == len(shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = shape[i] < 0 || shape[i] == t.Shape[i]
	}
	if !ok {
		return nil, nil, fmt.Errorf("weight %s %q has shape %v, want %v (-1: any)", role, name, t.Shape, shape)
	}
	v := t.Float32()
	if v == nil {
		return nil, nil, fmt.Errorf("weight %s %q: data does not fit shape %v and dtype %v", role, name, t.Shape, t.DType)
	}
	return v, t.Shape, nil
}

// hwioToOIHW transposes a Keras kernel (kh, kw, in, out) to (out, in, kh, kw).
func hwioToOIHW(k []float32, kh, kw, in, out int) []float32 {
	w := make([]float32, len(k))
	for y := range kh {
		for x := range kw {
			for i := range in {
				for o := range out {
					w[((o*in+i)*kh+y)*kw+x] = k[((y*kw+x)*in+i)*out+o]
				}
			}
		}
	}
	return w
}

// foldInto folds a batch normalisation layer into the convolution unit before it.
func foldInto(f *cnvm.Model, l *cnvm.Layer, u *unit) error {
	defaults := map[string]float32{"gamma": 1, "beta": 0} // Keras's scale=false and center=false
	stats := map[string][]float32{}
	for _, role := range []string{"mean", "variance", "gamma", "beta"} {
		def, optional := defaults[role]
		if _, ok := l.Weights[role]; !ok && optional {
			stats[role] = slices.Repeat([]float32{def}, u.channels)
			continue
		}
		v, _, err := weight(f, l, role, u.channels)
		if err != nil {
			return err
		}
		stats[role] = v
	}
	eps, ok := l.Floats["epsilon"]
	if !ok {
		eps = kerasBNEpsilon
	}
	return foldBatchNorm(u.w.Data, u.b.Data, stats["gamma"], stats["beta"], stats["mean"], stats["variance"], eps)
}

// foldBatchNorm folds an inference-mode batch normalisation, y = gamma*(x-mean)/sqrt(var+eps) +
// beta per output channel, into the convolution before it: w (out, in, kh, kw) and b (out) are
// rewritten in place so that conv(x, w) + b gives what the normalisation gave. The arithmetic is
// float64, rounded to float32 once.
func foldBatchNorm(w, b, gamma, beta, mean, variance []float32, eps float64) error {
	out := len(b)
	if out == 0 || len(w)%out != 0 || len(gamma) != out || len(beta) != out || len(mean) != out || len(variance) != out {
		return fmt.Errorf("batch normalisation of %d channels does not fit a kernel of %d values and %d biases", len(mean), len(w), out)
	}
	per := len(w) / out
	for o := range out {
		v := float64(variance[o]) + eps
		if !(v > 0) {
			return fmt.Errorf("channel %d: variance %v plus epsilon %v is not positive", o, variance[o], eps)
		}
		s := float64(gamma[o]) / math.Sqrt(v)
		for i := o * per; i < (o+1)*per; i++ {
			w[i] = float32(float64(w[i]) * s)
		}
		b[o] = float32((float64(b[o])-float64(mean[o]))*s + float64(beta[o]))
	}
	return nil
}

// Layers lists the trunk's layers in graph order, without the input.
func (m *InceptionV3) Layers() []LayerInfo {
	out := make([]LayerInfo, 0, len(m.units)-1)
	for _, u := range m.units[1:] {
		out = append(out, LayerInfo{Name: u.name, Kind: u.kind, Channels: u.channels})
	}
	return out
}

// InceptionV3Graph is one instance of the trunk for a fixed input size.
type InceptionV3Graph struct {
	G *G.ExprGraph
	// Input is (batch, 3, height, width): RGB pixels in 0..255. The graph scales them to
	// [-1, 1] (x/127.5 - 1), as Keras's InceptionV3 expects.
	Input *G.Node
	// Output is the output of the layer the graph was built up to.
	Output *G.Node
	// Layers are the outputs of every layer built, by name: conv2d_N (after its folded batch
	// normalisation and ReLU, which activation_N names too), max_pooling2d_N,
	// average_pooling2d_N and mixedN.
	Layers map[string]*G.Node
	// Params are the weight nodes of the convolutions built, by their names (conv2d_N/w, the
	// kernel (out, in, kh, kw), and conv2d_N/b, the bias), for taking gradients with respect to
	// them. Their values are the model's Param.Data: an update to one is seen by every graph
	// built from the same model (Clone first to train a private copy).
	Params map[string]*G.Node
}

// Build makes a graph of the trunk for a batch of pictures of h x w pixels, up to and including
// the layer upTo (the last layer if upTo is empty): only the layers upTo depends on are built.
// The weights are shared with every other graph built from m. Every layer's output shape is
// checked as it is built; an error names the layer.
func (m *InceptionV3) Build(batch, h, w int, upTo string) (*InceptionV3Graph, error) {
	target := m.units[len(m.units)-1]
	if upTo != "" {
		if target = m.byName[upTo]; target == nil {
			return nil, fmt.Errorf("models: inceptionv3: no layer %q (Layers lists them)", upTo)
		}
		if upTo != target.name && upTo != target.activation {
			return nil, fmt.Errorf("models: inceptionv3: layer %q is folded into %s, whose output is after its ReLU: build up to %s", upTo, target.name, target.name)
		}
	}
	if batch <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("models: inceptionv3: input %dx%dx%d is empty", batch, h, w)
	}
	need := map[*unit]bool{}
	var mark func(u *unit)
	mark = func(u *unit) {
		if !need[u] {
			need[u] = true
			for _, in := range u.inputs {
				mark(in)
			}
		}
	}
	mark(target)

	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, 3, h, w), G.WithName("input"))
	scaled, err := G.Mul(x, G.NewConstant(float32(1/127.5)))
	if err == nil {
		scaled, err = G.Sub(scaled, G.NewConstant(float32(1)))
	}
	if err != nil {
		return nil, fmt.Errorf("models: inceptionv3: input scaling: %w", err)
	}
	out := &InceptionV3Graph{G: g, Input: x, Layers: map[string]*G.Node{}, Params: map[string]*G.Node{}}
	nodes := map[*unit]*G.Node{}
	for _, u := range m.units {
		if u.kind == "input" {
			nodes[u] = scaled
		}
	}
	if err := m.buildNeeded(g, out, need, nodes, target); err != nil {
		return nil, err
	}
	return out, nil
}

// buildNeeded adds to g, in order, every unit that need marks and nodes does not already hold
// (the input, or the layer a graph starts from), records each in out.Layers under its name and
// its activation's, and sets out.Output to target's node.
func (m *InceptionV3) buildNeeded(g *G.ExprGraph, out *InceptionV3Graph, need map[*unit]bool, nodes map[*unit]*G.Node, target *unit) error {
	for _, u := range m.units {
		if _, done := nodes[u]; done || !need[u] {
			continue
		}
		n, err := u.build(g, nodes, out.Params)
		if err != nil {
			return fmt.Errorf("models: inceptionv3: layer %s: %w", u.name, err)
		}
		nodes[u] = n
		out.Layers[u.name] = n
		if u.activation != "" && u.activation != u.name {
			out.Layers[u.activation] = n
		}
	}
	out.Output = nodes[target]
	return nil
}

// build adds the unit to the graph, reading its inputs' nodes, and checks its output shape.
func (u *unit) build(g *G.ExprGraph, nodes map[*unit]*G.Node, params map[string]*G.Node) (*G.Node, error) {
	in := make([]*G.Node, len(u.inputs))
	for i, v := range u.inputs {
		in[i] = nodes[v]
	}
	s := in[0].Shape()
	n, h, w := s[0], s[2], s[3]
	oh, ow := h, w
	var pad nn.Padding
	if u.kind == "conv" || u.kind == "maxpool" || u.kind == "avgpool" {
		oh, ow = outSize(h, u.kh, u.sh, u.same), outSize(w, u.kw, u.sw, u.same)
		if oh <= 0 || ow <= 0 {
			return nil, fmt.Errorf("input %dx%d is smaller than the %dx%d window", h, w, u.kh, u.kw)
		}
		if u.same {
			pad = nn.Same(h, w, u.kh, u.kw, u.sh, u.sw)
		}
	}
	var y *G.Node
	var err error
	switch u.kind {
	case "conv":
		wn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(u.w.Shape...), G.WithName(u.w.Name), G.WithValue(u.w.Tensor()))
		bn := G.NewTensor(g, tensor.Float32, 1, G.WithShape(u.b.Shape...), G.WithName(u.b.Name), G.WithValue(u.b.Tensor()))
		params[u.w.Name], params[u.b.Name] = wn, bn
		// Winograd where it is faster (nn.ConvWinograd: the 3x3 layers at stride 1).
		y, err = nn.Conv2DBiasAlgo(in[0], wn, bn, pad, u.sh, u.sw, nn.ConvWinograd)
		if err == nil && u.relu {
			y, err = nn.ReLU(y)
		}
	case "relu":
		y, err = nn.ReLU(in[0])
	case "maxpool":
		y, err = nn.MaxPool2D(in[0], u.kh, u.kw, u.sh, u.sw, pad)
	case "avgpool":
		y, err = nn.AvgPool2D(in[0], u.kh, u.kw, u.sh, u.sw, pad)
	case "concat":
		for _, v := range in[1:] {
			if t := v.Shape(); t[2] != h || t[3] != w {
				return nil, fmt.Errorf("inputs of sizes %v and %v cannot be joined", s, t)
			}
		}
		y, err = G.Concat(1, in...)
	}
	if err != nil {
		return nil, err
	}
	if err := expect(u.name, y, n, u.channels, oh, ow); err != nil {
		return nil, err
	}
	return y, nil
}

// outSize is the output size of a window k at stride s over in cells: TensorFlow's 'SAME'
// (ceil(in/s)) or 'VALID' ((in-k)/s + 1, or 0 if the window does not fit).
func outSize(in, k, s int, same bool) int {
	if same {
		return (in + s - 1) / s
	}
	if in < k {
		return 0
	}
	return (in-k)/s + 1
}

// layer returns the unit whose output a layer name names, with Build's errors for an unknown
// layer and for a layer folded into a convolution.
func (m *InceptionV3) layer(name string) (*unit, error) {
	u := m.byName[name]
	if u == nil {
		return nil, fmt.Errorf("models: inceptionv3: no layer %q (Layers lists them)", name)
	}
	if name != u.name && name != u.activation {
		return nil, fmt.Errorf("models: inceptionv3: layer %q is folded into %s, whose output is after its ReLU: use %s", name, u.name, u.name)
	}
	return u, nil
}

// LayerShape returns the (channels, height, width) of a layer's output for pictures of h x w
// pixels: the shape of the input BuildFrom(batch, h, w, layer, ...) takes.
func (m *InceptionV3) LayerShape(layer string, h, w int) ([3]int, error) {
	u, err := m.layer(layer)
	if err != nil {
		return [3]int{}, err
	}
	if h <= 0 || w <= 0 {
		return [3]int{}, fmt.Errorf("models: inceptionv3: input %dx%d is empty", h, w)
	}
	sizes := map[*unit][2]int{}
	var size func(u *unit) ([2]int, error)
	size = func(u *unit) ([2]int, error) {
		if s, ok := sizes[u]; ok {
			return s, nil
		}
		if u.kind == "input" {
			return [2]int{h, w}, nil
		}
		s, err := size(u.inputs[0])
		if err != nil {
			return s, err
		}
		if u.kind == "conv" || u.kind == "maxpool" || u.kind == "avgpool" {
			s = [2]int{outSize(s[0], u.kh, u.sh, u.same), outSize(s[1], u.kw, u.sw, u.same)}
			if s[0] <= 0 || s[1] <= 0 {
				return s, fmt.Errorf("models: inceptionv3: layer %s: its input is smaller than the %dx%d window", u.name, u.kh, u.kw)
			}
		}
		sizes[u] = s
		return s, nil
	}
	s, err := size(u)
	if err != nil {
		return [3]int{}, err
	}
	return [3]int{u.channels, s[0], s[1]}, nil
}

// BuildFrom makes a graph of the part of the trunk after the layer from, up to and including
// the layer upTo (the last layer if upTo is empty), for a batch of pictures of h x w pixels:
// its Input is from's output, (batch, channels, height, width) as LayerShape gives them, and
// only the layers after from that upTo depends on are built (Layers does not hold from). Every
// layer upTo needs must be reached from the pictures only through from: BuildFrom("mixed4",
// "mixed5") builds the mixed5 block alone. The weights are shared with every other graph built
// from m, as Build's; Params holds the block's weight nodes.
func (m *InceptionV3) BuildFrom(batch, h, w int, from, upTo string) (*InceptionV3Graph, error) {
	start, err := m.layer(from)
	if err != nil {
		return nil, err
	}
	target := m.units[len(m.units)-1]
	if upTo != "" {
		if target, err = m.layer(upTo); err != nil {
			return nil, err
		}
	}
	if batch <= 0 {
		return nil, fmt.Errorf("models: inceptionv3: batch %d is empty", batch)
	}
	shape, err := m.LayerShape(from, h, w)
	if err != nil {
		return nil, err
	}
	if target == start {
		return nil, fmt.Errorf("models: inceptionv3: nothing to build from %s up to %s", from, upTo)
	}
	need := map[*unit]bool{}
	var mark func(u *unit) error
	mark = func(u *unit) error {
		if need[u] {
			return nil
		}
		need[u] = true
		if u == start {
			return nil
		}
		if u.kind == "input" {
			return fmt.Errorf("models: inceptionv3: %s reads the pictures other than through %s: build it with Build", target.name, from)
		}
		for _, in := range u.inputs {
			if err := mark(in); err != nil {
				return err
			}
		}
		return nil
	}
	if err := mark(target); err != nil {
		return nil, err
	}
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, shape[0], shape[1], shape[2]), G.WithName(start.name))
	out := &InceptionV3Graph{G: g, Input: x, Layers: map[string]*G.Node{}, Params: map[string]*G.Node{}}
	if err := m.buildNeeded(g, out, need, map[*unit]*G.Node{start: x}, target); err != nil {
		return nil, err
	}
	return out, nil
}

// Params returns the weights of the convolutions after the layer from up to the layer upTo (the
// last layer if upTo is empty), those BuildFrom(..., from, upTo) builds, in graph order: each
// convolution's kernel then its bias. They are m's own: writing to their Data changes m.
func (m *InceptionV3) Params(from, upTo string) ([]*Param, error) {
	g, err := m.BuildFrom(1, 299, 299, from, upTo)
	if err != nil {
		return nil, err
	}
	var ps []*Param
	for _, u := range m.units {
		if u.kind == "conv" && g.Params[u.w.Name] != nil {
			ps = append(ps, u.w, u.b)
		}
	}
	return ps, nil
}

// Clone returns a deep copy of the trunk: its own weights, which can be trained without
// changing m or any graph built from m.
func (m *InceptionV3) Clone() *InceptionV3 {
	c := &InceptionV3{Meta: maps.Clone(m.Meta), byName: make(map[string]*unit, len(m.byName))}
	copies := make(map[*unit]*unit, len(m.units))
	for _, u := range m.units {
		v := *u
		v.inputs = make([]*unit, len(u.inputs))
		for i, in := range u.inputs {
			v.inputs[i] = copies[in]
		}
		if u.w != nil {
			v.w = &Param{Name: u.w.Name, Shape: slices.Clone(u.w.Shape), Data: slices.Clone(u.w.Data)}
		}
		if u.b != nil {
			v.b = &Param{Name: u.b.Name, Shape: slices.Clone(u.b.Shape), Data: slices.Clone(u.b.Data)}
		}
		copies[u] = &v
		c.units = append(c.units, &v)
	}
	for name, u := range m.byName {
		c.byName[name] = copies[u]
	}
	return c
}
