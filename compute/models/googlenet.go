package models

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/formats/graphdef"
	"convas/compute/nn"
)

// inception5hMean is the pixel value that users of inception5h subtract from RGB pixels in
// 0..255 before they feed the graph (imagenet_mean in TensorFlow's DeepDream notebook); the
// graph itself does not.
const inception5hMean = 117

// googLeNetOps are the GraphDef ops a GoogLeNet graph may use.
var googLeNetOps = []string{
	"Placeholder", "Const", "Identity", "Conv2D", "BiasAdd", "Relu", "MaxPool", "AvgPool", "LRN",
	"Concat", "ConcatV2", "Reshape", "MatMul", "Softmax", "ExpandDims", "Sub", "Add", "Mul", "RealDiv",
}

// googLeNetArity is the number of inputs of each op but the concatenations, control inputs
// left out.
var googLeNetArity = map[string]int{
	"Placeholder": 0, "Const": 0, "Identity": 1, "Relu": 1, "LRN": 1, "MaxPool": 1, "AvgPool": 1, "Softmax": 1,
	"Conv2D": 2, "BiasAdd": 2, "Reshape": 2, "MatMul": 2, "ExpandDims": 2, "Sub": 2, "Add": 2, "Mul": 2, "RealDiv": 2,
}

// GoogLeNet is a network read from a TensorFlow GraphDef: GoogLeNet (Szegedy et al., "Going
// Deeper with Convolutions", arXiv:1409.4842) as inception5h's tensorflow_inception_graph.pb
// holds it, the network of the DeepDream recipe.
//
// Every node of the file becomes a node of the built graph under its own name, so a layer is
// named as in the file: conv2d0_pre_relu (a convolution with its bias), conv2d0 (its ReLU),
// maxpool0, localresponsenorm0, mixed3a_3x3_bottleneck_pre_relu, mixed4d (a concatenation) and
// so on. TensorFlow's NHWC tensors are computed as NCHW: a layer's channels are axis 1.
//
// The ops read are Placeholder (one float input of RGB pictures), Const, Identity, Conv2D
// (filters transposed from HWIO to OIHW at load time), BiasAdd, Relu, MaxPool, AvgPool, LRN
// (TensorFlow's semantics), Concat and ConcatV2 along the channel axis, Reshape (flattening in
// TensorFlow's NHWC order), MatMul with constant weights, Softmax, and, for preprocessing in
// the graph, ExpandDims on the input and Sub, Add, Mul and RealDiv by a constant scalar. Any
// other op is an error that names it and its node.
type GoogLeNet struct {
	// Mean is subtracted from the input pixels before they enter the graph: 117 when the graph
	// leaves it to its users, as inception5h's does; 0 when the graph preprocesses its own
	// input (it applies Sub, Add, Mul or RealDiv to it).
	Mean float32
	// Direct, when set, makes built graphs compute every convolution directly, never by
	// Winograd (as VGG19.Direct): for tests that compare two ways of running one graph.
	Direct bool

	nodes  []*gnode // in topological order, the file's order where it is one
	byName map[string]*gnode
	input  *gnode
}

// gnode is one node of the graph, with its data inputs (constant operands and control inputs
// taken out) and what loading learned of it.
type gnode struct {
	name, op string
	inputs   []*gnode
	rank     int // of the built value; rank 4 is NCHW
	channels int // TensorFlow's last axis, 0 if not known before the input size is
	kind     string
	pre      bool // the input, or preprocessing of it

	tensor         *graphdef.Tensor // Const
	param          *Param           // Conv2D (out, in, kh, kw), BiasAdd (c), MatMul (k, n)
	kh, kw, sh, sw int              // Conv2D, MaxPool, AvgPool
	same           bool
	lrn            nn.LRNParams
	transA         bool    // MatMul
	shape          []int   // Reshape, -1 for the size that is inferred
	scalar         float32 // Sub, Add, Mul, RealDiv
	scalarFirst    bool
}

// LoadGoogLeNet reads a TensorFlow GraphDef, such as inception5h's
// tensorflow_inception_graph.pb, and prepares the network it holds; see NewGoogLeNet.
func LoadGoogLeNet(r io.Reader) (*GoogLeNet, error) {
	g, err := graphdef.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("models: googlenet: %w", err)
	}
	return NewGoogLeNet(g)
}

// NewGoogLeNet prepares the network of a decoded GraphDef: it resolves every node's inputs,
// sorts the nodes, reads and checks every op's attributes and constant operands (filters
// against the channels they receive, biases against the channels they are added to), and
// converts the weights to the layouts the ops use. Errors name the node.
func NewGoogLeNet(g *graphdef.Graph) (*GoogLeNet, error) {
	m := &GoogLeNet{Mean: inception5hMean, byName: map[string]*gnode{}}
	raw := make([]*gnode, len(g.Nodes))
	defs := make(map[*gnode]*graphdef.Node, len(g.Nodes))
	for i, n := range g.Nodes {
		if !slices.Contains(googLeNetOps, n.Op) {
			return nil, fmt.Errorf("models: googlenet: node %q: op %q is not supported (supported: %s)", n.Name, n.Op, strings.Join(googLeNetOps, ", "))
		}
		if m.byName[n.Name] != nil || n.Name == "" {
			return nil, fmt.Errorf("models: googlenet: node name %q is empty or used twice", n.Name)
		}
		raw[i] = &gnode{name: n.Name, op: n.Op}
		m.byName[n.Name], defs[raw[i]] = raw[i], n
	}
	ins := map[*gnode][]*gnode{}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			name, out, control := graphdef.ParseInput(in)
			if control {
				continue
			}
			src := m.byName[name]
			if src == nil {
				return nil, fmt.Errorf("models: googlenet: node %q reads %q, which is not in the graph", n.Name, in)
			}
			if out != 0 {
				return nil, fmt.Errorf("models: googlenet: node %q reads output %d of %s, which has one", n.Name, out, src.op)
			}
			ins[raw[i]] = append(ins[raw[i]], src)
		}
	}
	order, err := topoSort(raw, ins)
	if err != nil {
		return nil, fmt.Errorf("models: googlenet: %w", err)
	}
	m.nodes = order
	for _, n := range m.nodes {
		if err := m.prepare(n, defs[n], ins[n]); err != nil {
			return nil, fmt.Errorf("models: googlenet: node %q (%s): %w", n.name, n.op, err)
		}
	}
	if m.input == nil {
		return nil, fmt.Errorf("models: googlenet: the graph has no Placeholder input")
	}
	m.label(ins)
	return m, nil
}

// topoSort orders the nodes so that every node comes after its inputs, keeping the given order
// where it already is one; a cycle is an error.
func topoSort(nodes []*gnode, ins map[*gnode][]*gnode) ([]*gnode, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[*gnode]int{}
	order := make([]*gnode, 0, len(nodes))
	var visit func(n *gnode) error
	visit = func(n *gnode) error {
		switch state[n] {
		case visiting:
			return fmt.Errorf("node %q is part of a cycle", n.name)
		case done:
			return nil
		}
		state[n] = visiting
		for _, in := range ins[n] {
			if err := visit(in); err != nil {
				return err
			}
		}
		state[n] = done
		order = append(order, n)
		return nil
	}
	for _, n := range nodes {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// label sets the kind of the layers that Layers lists: a Conv2D is listed under the BiasAdd
// that adds its bias when that is its only reader.
func (m *GoogLeNet) label(ins map[*gnode][]*gnode) {
	readers := map[*gnode][]*gnode{}
	for _, n := range m.nodes {
		for _, in := range ins[n] {
			readers[in] = append(readers[in], n)
		}
	}
	kinds := map[string]string{"Relu": "relu", "Concat": "concat", "ConcatV2": "concat", "MaxPool": "maxpool", "AvgPool": "avgpool", "LRN": "lrn"}
	for _, n := range m.nodes {
		switch r := readers[n]; {
		case n.op == "Conv2D" && !(len(r) == 1 && r[0].op == "BiasAdd"):
			n.kind = "conv"
		case n.op == "BiasAdd" && n.inputs[0].op == "Conv2D":
			n.kind = "conv"
		default:
			n.kind = kinds[n.op]
		}
	}
}

// prepare reads the attributes and constant operands of node n (nd in the file), whose inputs
// have been prepared, and keeps its data inputs.
func (m *GoogLeNet) prepare(n *gnode, nd *graphdef.Node, in []*gnode) error {
	if want, ok := googLeNetArity[n.op]; ok && len(in) != want {
		return fmt.Errorf("%d inputs, want %d", len(in), want)
	}
	n.inputs = in
	if len(in) > 0 {
		n.rank, n.channels = in[0].rank, in[0].channels
	}
	switch n.op {
	case "Placeholder":
		return m.placeholder(n, nd)
	case "Const":
		t, err := nd.Attr("value").Tensor()
		if err != nil {
			return err
		}
		n.tensor, n.rank = t, len(t.Shape)
		if len(t.Shape) > 0 {
			n.channels = int(t.Shape[len(t.Shape)-1])
		}
		return nil
	case "Identity":
		n.pre, n.tensor = in[0].pre, in[0].tensor
		return nil
	case "Relu", "Softmax":
		return nil
	case "Conv2D":
		return n.conv(nd, in[1])
	case "BiasAdd":
		return n.biasAdd(nd, in[1])
	case "MaxPool", "AvgPool":
		return n.pool(nd)
	case "LRN":
		return n.readLRN(nd)
	case "Concat", "ConcatV2":
		return n.concat(in)
	case "Reshape":
		return n.reshape(in[1])
	case "MatMul":
		return n.matMul(nd, in[1])
	case "ExpandDims":
		return n.expandDims(in[1])
	}
	return m.arithmetic(n, in)
}

// placeholder takes n as the network's input: (batch, 3, height, width) in the built graph.
func (m *GoogLeNet) placeholder(n *gnode, nd *graphdef.Node) error {
	if m.input != nil {
		return fmt.Errorf("a second Placeholder (the first is %s); one input is supported", m.input.name)
	}
	if a := nd.Attr("dtype"); a.Kind() != graphdef.KindUnset {
		t, err := a.Type()
		if err != nil {
			return err
		}
		if t.Base() != graphdef.DTFloat {
			return fmt.Errorf("input of type %v, want float", t)
		}
	}
	if a := nd.Attr("shape"); a.Kind() != graphdef.KindUnset {
		s, err := a.Shape()
		if err != nil {
			return err
		}
		if !s.UnknownRank && len(s.Dims) > 0 {
			if c := s.Dims[len(s.Dims)-1]; c >= 0 && c != 3 || len(s.Dims) < 3 || len(s.Dims) > 4 {
				return fmt.Errorf("input of shape %v; pictures of 3 channels, (batch, height, width, 3) or (height, width, 3), are supported", s.Dims)
			}
		}
	}
	m.input = n
	n.rank, n.channels, n.pre = 4, 3, true
	return nil
}

// constant returns the value of a constant operand, following Identity nodes to their Const.
func constant(x *gnode, role string) (*graphdef.Tensor, error) {
	if x.tensor == nil {
		return nil, fmt.Errorf("the %s %s is a %s, not a constant", role, x.name, x.op)
	}
	return x.tensor, nil
}

// constFloats returns the values of a constant operand after checking its rank.
func constFloats(x *gnode, role string, rank int) ([]float32, []int, error) {
	t, err := constant(x, role)
	if err != nil {
		return nil, nil, err
	}
	if len(t.Shape) != rank {
		return nil, nil, fmt.Errorf("the %s %s has shape %v, want rank %d", role, x.name, t.Shape, rank)
	}
	shape := make([]int, rank)
	for i, d := range t.Shape {
		if d <= 0 {
			return nil, nil, fmt.Errorf("the %s %s has shape %v", role, x.name, t.Shape)
		}
		shape[i] = int(d)
	}
	v, err := t.Float32()
	if err != nil {
		return nil, nil, fmt.Errorf("the %s %s: %w", role, x.name, err)
	}
	return v, shape, nil
}

// constInts returns the values of an integer constant operand, such as an axis or a shape.
func constInts(x *gnode, role string) ([]int64, error) {
	t, err := constant(x, role)
	if err != nil {
		return nil, err
	}
	v, err := t.Int64()
	if err != nil {
		return nil, fmt.Errorf("the %s %s: %w", role, x.name, err)
	}
	return v, nil
}

// nhwc checks the data_format attribute, which may be absent or NHWC.
func nhwc(nd *graphdef.Node) error {
	a := nd.Attr("data_format")
	if a.Kind() == graphdef.KindUnset {
		return nil
	}
	f, err := a.String()
	if err != nil {
		return err
	}
	if f != "NHWC" {
		return fmt.Errorf("data format %s is not supported (only NHWC)", f)
	}
	return nil
}

// window reads a spatial attribute of four values [1, h, w, 1] (strides, ksize).
func window(nd *graphdef.Node, name string) (h, w int, err error) {
	v, err := nd.Attr(name).Ints()
	if err != nil {
		return 0, 0, err
	}
	if len(v) != 4 || v[0] != 1 || v[3] != 1 || v[1] <= 0 || v[2] <= 0 || v[1] > math.MaxInt32 || v[2] > math.MaxInt32 {
		return 0, 0, fmt.Errorf("%s %v, want [1, h, w, 1] with positive h and w", name, v)
	}
	return int(v[1]), int(v[2]), nil
}

// padding reads the padding attribute: SAME or VALID.
func (n *gnode) padding(nd *graphdef.Node) error {
	p, err := nd.Attr("padding").String()
	if err != nil {
		return err
	}
	if p != "SAME" && p != "VALID" {
		return fmt.Errorf("padding %q is not supported (only SAME and VALID)", p)
	}
	n.same = p == "SAME"
	return nil
}

// conv reads a Conv2D and its filters (kh, kw, in, out), which become (out, in, kh, kw).
func (n *gnode) conv(nd *graphdef.Node, f *gnode) error {
	x := n.inputs[0]
	if x.rank != 4 {
		return fmt.Errorf("input %s has rank %d, want 4", x.name, x.rank)
	}
	k, s, err := constFloats(f, "filter", 4)
	if err != nil {
		return err
	}
	if x.channels != 0 && s[2] != x.channels {
		return fmt.Errorf("filter %s of shape %v takes %d channels, input %s has %d", f.name, s, s[2], x.name, x.channels)
	}
	if n.sh, n.sw, err = window(nd, "strides"); err != nil {
		return err
	}
	if err := n.padding(nd); err != nil {
		return err
	}
	if err := nhwc(nd); err != nil {
		return err
	}
	if a := nd.Attr("dilations"); a.Kind() != graphdef.KindUnset {
		d, err := a.Ints()
		if err != nil {
			return err
		}
		if slices.ContainsFunc(d, func(v int64) bool { return v != 1 }) {
			return fmt.Errorf("dilations %v are not supported", d)
		}
	}
	n.kh, n.kw, n.channels = s[0], s[1], s[3]
	n.param = &Param{Name: f.name, Shape: []int{s[3], s[2], s[0], s[1]}, Data: hwioToOIHW(k, s[0], s[1], s[2], s[3])}
	n.inputs = n.inputs[:1]
	return nil
}

// biasAdd reads a BiasAdd and its bias.
func (n *gnode) biasAdd(nd *graphdef.Node, b *gnode) error {
	v, s, err := constFloats(b, "bias", 1)
	if err != nil {
		return err
	}
	x := n.inputs[0]
	if x.rank != 2 && x.rank != 4 || x.channels != 0 && x.channels != s[0] {
		return fmt.Errorf("bias %s of %d values for input %s of rank %d and %d channels", b.name, s[0], x.name, x.rank, x.channels)
	}
	if err := nhwc(nd); err != nil {
		return err
	}
	n.channels = s[0]
	n.param = &Param{Name: b.name, Shape: s, Data: v}
	n.inputs = n.inputs[:1]
	return nil
}

// pool reads a MaxPool or AvgPool.
func (n *gnode) pool(nd *graphdef.Node) error {
	if n.rank != 4 {
		return fmt.Errorf("input %s has rank %d, want 4", n.inputs[0].name, n.rank)
	}
	var err error
	if n.kh, n.kw, err = window(nd, "ksize"); err != nil {
		return err
	}
	if n.sh, n.sw, err = window(nd, "strides"); err != nil {
		return err
	}
	if err := n.padding(nd); err != nil {
		return err
	}
	return nhwc(nd)
}

// readLRN reads an LRN's parameters, TensorFlow's defaults where an attribute is absent.
func (n *gnode) readLRN(nd *graphdef.Node) error {
	if n.rank != 4 {
		return fmt.Errorf("input %s has rank %d, want 4", n.inputs[0].name, n.rank)
	}
	n.lrn = nn.LRNParams{DepthRadius: 5, Bias: 1, Alpha: 1, Beta: 0.5}
	if a := nd.Attr("depth_radius"); a.Kind() != graphdef.KindUnset {
		r, err := a.Int()
		if err != nil {
			return err
		}
		if r < 0 || r > math.MaxInt32 {
			return fmt.Errorf("depth radius %d", r)
		}
		n.lrn.DepthRadius = int(r)
	}
	for name, dst := range map[string]*float64{"bias": &n.lrn.Bias, "alpha": &n.lrn.Alpha, "beta": &n.lrn.Beta} {
		if a := nd.Attr(name); a.Kind() != graphdef.KindUnset {
			f, err := a.Float()
			if err != nil {
				return err
			}
			*dst = float64(f)
		}
	}
	return nil
}

// concat reads a Concat (axis first) or ConcatV2 (axis last), which must join along the
// channel axis, TensorFlow's last.
func (n *gnode) concat(in []*gnode) error {
	if len(in) < 2 {
		return fmt.Errorf("%d inputs, want an axis and at least one tensor", len(in))
	}
	axisNode, data := in[0], in[1:]
	if n.op == "ConcatV2" {
		axisNode, data = in[len(in)-1], in[:len(in)-1]
	}
	axis, err := constInts(axisNode, "axis")
	if err != nil {
		return err
	}
	if len(axis) != 1 {
		return fmt.Errorf("axis %s holds %d values, want one", axisNode.name, len(axis))
	}
	n.rank, n.channels = data[0].rank, 0
	if a := int(axis[0]); a != n.rank-1 && a != -1 || n.rank != 2 && n.rank != 4 {
		return fmt.Errorf("concatenation along axis %d of rank %d; only the channel axis (the last) of rank 2 or 4 is supported", axis[0], n.rank)
	}
	known := true
	for _, x := range data {
		if x.rank != n.rank {
			return fmt.Errorf("inputs of ranks %d and %d", n.rank, x.rank)
		}
		known = known && x.channels > 0
		n.channels += x.channels
	}
	if !known {
		n.channels = 0
	}
	n.inputs = data
	return nil
}

// reshape reads a Reshape and its target shape, of which one size may be -1.
func (n *gnode) reshape(shape *gnode) error {
	v, err := constInts(shape, "shape")
	if err != nil {
		return err
	}
	n.shape = make([]int, len(v))
	unknown := 0
	for i, d := range v {
		if d == -1 {
			unknown++
		} else if d <= 0 || d > math.MaxInt32 {
			return fmt.Errorf("shape %v", v)
		}
		n.shape[i] = int(d)
	}
	if unknown > 1 || len(v) == 0 || len(v) > 4 {
		return fmt.Errorf("shape %v is not supported (rank 1 to 4, at most one size of -1)", v)
	}
	n.rank, n.channels = len(v), max(n.shape[len(v)-1], 0)
	n.inputs = n.inputs[:1]
	return nil
}

// matMul reads a MatMul of the data by constant weights (k, n), transposing them now if the
// node says so.
func (n *gnode) matMul(nd *graphdef.Node, w *gnode) error {
	flag := func(name string) (bool, error) {
		if a := nd.Attr(name); a.Kind() != graphdef.KindUnset {
			return a.Bool()
		}
		return false, nil
	}
	var err error
	if n.transA, err = flag("transpose_a"); err != nil {
		return err
	}
	transB, err := flag("transpose_b")
	if err != nil {
		return err
	}
	v, s, err := constFloats(w, "weight matrix", 2)
	if err != nil {
		return err
	}
	if transB {
		t := make([]float32, len(v))
		for i := range s[0] {
			for j := range s[1] {
				t[j*s[0]+i] = v[i*s[1]+j]
			}
		}
		v, s = t, []int{s[1], s[0]}
	}
	if n.rank != 2 {
		return fmt.Errorf("input %s has rank %d, want 2", n.inputs[0].name, n.rank)
	}
	if !n.transA && n.channels != 0 && n.channels != s[0] {
		return fmt.Errorf("weights %s of shape %v for input %s of %d columns", w.name, s, n.inputs[0].name, n.channels)
	}
	n.channels = s[1]
	n.param = &Param{Name: w.name, Shape: s, Data: v}
	n.inputs = n.inputs[:1]
	return nil
}

// expandDims reads an ExpandDims of the input at axis 0, which adds the batch axis that the
// built graph's input already has.
func (n *gnode) expandDims(dim *gnode) error {
	d, err := constInts(dim, "dimension")
	if err != nil {
		return err
	}
	if !n.inputs[0].pre || len(d) != 1 || d[0] != 0 {
		return fmt.Errorf("only an ExpandDims of the input at axis 0 (adding the batch axis) is supported")
	}
	n.pre = true
	n.inputs = n.inputs[:1]
	return nil
}

// arithmetic reads a Sub, Add, Mul or RealDiv of the data and a constant scalar.
func (m *GoogLeNet) arithmetic(n *gnode, in []*gnode) error {
	x, c := in[0], in[1]
	if c.tensor == nil {
		x, c, n.scalarFirst = in[1], in[0], true
	}
	if c.tensor == nil || x.tensor != nil {
		return fmt.Errorf("one operand must be a constant scalar and the other not")
	}
	v, err := c.tensor.Float32()
	if err != nil {
		return fmt.Errorf("the operand %s: %w", c.name, err)
	}
	if len(v) != 1 {
		return fmt.Errorf("the constant operand %s of shape %v is not a scalar", c.name, c.tensor.Shape)
	}
	n.scalar, n.inputs = v[0], []*gnode{x}
	n.rank, n.channels = x.rank, x.channels
	if x.pre {
		n.pre = true
		m.Mean = 0 // the graph does its own preprocessing
	}
	return nil
}

// Layers lists the network's layers in graph order: every convolution (kind "conv", named
// after the BiasAdd that adds its bias, such as mixed4d_3x3_bottleneck_pre_relu), ReLU
// ("relu"), concatenation ("concat"), max and average pooling ("maxpool", "avgpool") and
// local response normalisation ("lrn"), with its channels (0 where they depend on the input
// size).
func (m *GoogLeNet) Layers() []LayerInfo {
	var out []LayerInfo
	for _, n := range m.nodes {
		if n.kind != "" {
			out = append(out, LayerInfo{Name: n.name, Kind: n.kind, Channels: n.channels})
		}
	}
	return out
}

// GoogLeNetGraph is one instance of the network for a fixed input size.
type GoogLeNetGraph struct {
	G *G.ExprGraph
	// Input is (batch, 3, height, width): RGB pixels in 0..255. The graph subtracts the model's
	// Mean from them before the file's input node.
	Input *G.Node
	// Output is the output of the node the graph was built up to.
	Output *G.Node
	// Layers are the outputs of every node built, by the file's names, constants excepted. A
	// rank-4 value is (batch, channels, height, width), TensorFlow's NHWC tensor transposed.
	// A tape machine may overwrite a value in place once nothing else reads it: to read values
	// after a run, use gorgonia.Read or compile the node as an output.
	Layers map[string]*G.Node
}

// Build makes a graph of the network for a batch of pictures of h x w pixels, up to and
// including the node upTo (the file's last node if upTo is empty): only the nodes upTo depends
// on are built, so DeepDream at mixed4d builds nothing of mixed4e and after. The weights are
// shared with every other graph built from m. Every layer's output shape is checked as it is
// built; an error names the node.
func (m *GoogLeNet) Build(batch, h, w int, upTo string) (*GoogLeNetGraph, error) {
	target := m.nodes[len(m.nodes)-1]
	if upTo != "" {
		if target = m.byName[upTo]; target == nil {
			return nil, fmt.Errorf("models: googlenet: no node %q (Layers lists the layers)", upTo)
		}
	}
	if target.tensor != nil {
		return nil, fmt.Errorf("models: googlenet: node %q is a constant", target.name)
	}
	if batch <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("models: googlenet: input %dx%dx%d is empty", batch, h, w)
	}
	need := map[*gnode]bool{}
	var mark func(n *gnode)
	mark = func(n *gnode) {
		if !need[n] {
			need[n] = true
			for _, in := range n.inputs {
				mark(in)
			}
		}
	}
	mark(target)

	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, 3, h, w), G.WithName("input"))
	out := &GoogLeNetGraph{G: g, Input: x, Layers: map[string]*G.Node{}}
	nodes := map[*gnode]*G.Node{}
	leaves := map[*Param]*G.Node{}
	leaf := func(p *Param) *G.Node {
		if leaves[p] == nil {
			leaves[p] = G.NewTensor(g, tensor.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(p.Tensor()))
		}
		return leaves[p]
	}
	for _, n := range m.nodes {
		if !need[n] || n.tensor != nil { // constants, and Identity nodes of constants
			continue
		}
		var y *G.Node
		var err error
		if n == m.input {
			y, err = x, nil
			if m.Mean != 0 {
				y, err = G.Sub(x, G.NewConstant(m.Mean))
			}
		} else {
			in := make([]*G.Node, len(n.inputs))
			for i, v := range n.inputs {
				if in[i] = nodes[v]; in[i] == nil {
					return nil, fmt.Errorf("models: googlenet: node %s (%s) reads the constant %s as data, which is not supported", n.name, n.op, v.name)
				}
			}
			y, err = n.build(in, leaf, m.Direct)
		}
		if err != nil {
			return nil, fmt.Errorf("models: googlenet: node %s (%s): %w", n.name, n.op, err)
		}
		nodes[n] = y
		out.Layers[n.name] = y
	}
	out.Output = nodes[target]
	return out, nil
}

// build adds the node to the graph, reading its inputs' values, and checks its output shape.
func (n *gnode) build(in []*G.Node, leaf func(*Param) *G.Node, direct bool) (*G.Node, error) {
	x := in[0]
	s := x.Shape()
	var y *G.Node
	var err error
	want := []int(nil) // the shape to check, if not the input's with n.channels
	switch n.op {
	case "Identity", "ExpandDims":
		return x, nil
	case "Conv2D", "MaxPool", "AvgPool":
		h, w := s[2], s[3]
		oh, ow := outSize(h, n.kh, n.sh, n.same), outSize(w, n.kw, n.sw, n.same)
		if oh <= 0 || ow <= 0 {
			return nil, fmt.Errorf("input %dx%d is smaller than the %dx%d window", h, w, n.kh, n.kw)
		}
		pad := nn.Valid()
		if n.same {
			pad = nn.Same(h, w, n.kh, n.kw, n.sh, n.sw)
		}
		switch n.op {
		case "Conv2D":
			// Winograd where it is faster (nn.ConvWinograd: the 3x3 layers at stride 1).
			algo := nn.ConvWinograd
			if direct {
				algo = nn.ConvDirect
			}
			y, err = nn.Conv2DAlgo(x, leaf(n.param), pad, n.sh, n.sw, algo)
		case "MaxPool":
			y, err = nn.MaxPool2D(x, n.kh, n.kw, n.sh, n.sw, pad)
		default:
			y, err = nn.AvgPool2D(x, n.kh, n.kw, n.sh, n.sw, pad)
		}
		want = []int{s[0], n.channels, oh, ow}
	case "BiasAdd":
		y, err = nn.AddBias(x, leaf(n.param))
	case "Relu":
		y, err = nn.ReLU(x)
	case "LRN":
		y, err = nn.LRN(x, n.lrn.DepthRadius, n.lrn.Bias, n.lrn.Alpha, n.lrn.Beta)
	case "Concat", "ConcatV2":
		y, err = nn.ConcatChannels(in...)
		want = slices.Clone([]int(s))
		for _, v := range in[1:] {
			want[1] += v.Shape()[1]
		}
	case "Softmax":
		axis := x.Dims() - 1 // TensorFlow's last axis, which is axis 1 of an NCHW value
		if x.Dims() == 4 {
			axis = 1
		}
		y, err = G.SoftMax(x, axis)
	case "Reshape":
		return n.buildReshape(x)
	case "MatMul":
		if n.transA {
			if x, err = G.Transpose(x); err != nil {
				return nil, err
			}
		}
		if k := x.Shape()[1]; k != n.param.Shape[0] {
			return nil, fmt.Errorf("input of %d columns for weights %s of shape %v", k, n.param.Name, n.param.Shape)
		}
		y, err = G.Mul(x, leaf(n.param))
		want = []int{x.Shape()[0], n.channels}
	default: // Sub, Add, Mul, RealDiv by a scalar
		c := G.NewConstant(n.scalar)
		a, b := x, c
		if n.scalarFirst {
			a, b = c, x
		}
		y, err = map[string]func(a, b *G.Node) (*G.Node, error){"Sub": G.Sub, "Add": G.Add, "Mul": G.Mul, "RealDiv": G.Div}[n.op](a, b)
	}
	if err != nil {
		return nil, err
	}
	if want == nil {
		want = slices.Clone([]int(s))
		if n.channels > 0 && len(want) > 1 {
			want[1] = n.channels
		}
	}
	return y, expect(n.name, y, want...)
}

// buildReshape reshapes x as TensorFlow does its NHWC tensor: a rank-4 value is transposed
// from NCHW to NHWC first, and a rank-4 result back to NCHW.
func (n *gnode) buildReshape(x *G.Node) (*G.Node, error) {
	var err error
	if x.Dims() == 4 {
		if x, err = G.Transpose(x, 0, 2, 3, 1); err != nil {
			return nil, err
		}
	}
	total, known := x.Shape().TotalSize(), 1
	for _, d := range n.shape {
		if d > 0 {
			known *= d
		}
	}
	shape := slices.Clone(n.shape)
	for i, d := range shape {
		if d < 0 && known > 0 && total%known == 0 {
			shape[i] = total / known
		}
	}
	if tensor.Shape(shape).TotalSize() != total || slices.Min(shape) <= 0 {
		return nil, fmt.Errorf("cannot reshape %v (NHWC) to %v", x.Shape(), n.shape)
	}
	y, err := G.Reshape(x, shape)
	if err == nil && len(shape) == 4 {
		y, err = G.Transpose(y, 0, 3, 1, 2)
	}
	return y, err
}

// inception5hBlocks are the widths of inception5h's mixed blocks: the 1x1 branch, the 3x3
// branch's bottleneck and convolution, the 5x5 branch's bottleneck and convolution, and the
// pooling branch's 1x1 convolution. They are those of the paper's Table 1 but for mixed4a's
// 3x3 (204, not 208) and mixed5a's 5x5 bottleneck (48, not 32).
var inception5hBlocks = []struct {
	name                      string
	b1, b3r, b3, b5r, b5, bpr int
}{
	{"mixed3a", 64, 96, 128, 16, 32, 32},
	{"mixed3b", 128, 128, 192, 32, 96, 64},
	{"mixed4a", 192, 96, 204, 16, 48, 64},
	{"mixed4b", 160, 112, 224, 24, 64, 64},
	{"mixed4c", 128, 128, 256, 24, 64, 64},
	{"mixed4d", 112, 144, 288, 32, 64, 64},
	{"mixed4e", 256, 160, 320, 32, 128, 128},
	{"mixed5a", 256, 160, 320, 48, 128, 128},
	{"mixed5b", 384, 192, 384, 48, 128, 128},
}

// NewGoogLeNetRandom returns a GoogLeNet of inception5h's shapes and node names with random
// weights drawn from the seed (He initialisation: normal, standard deviation sqrt(2/fan-in);
// zero biases). It stands in for the real file in benchmarks and tests: the stem (conv2d0 7x7/2
// 64, maxpool0, localresponsenorm0, conv2d1 1x1 64, conv2d2 3x3 192, localresponsenorm1,
// maxpool1), mixed3a to mixed5b with maxpool4 and maxpool10 between the stages, the two
// auxiliary heads (head0 after mixed4a, head1 after mixed4d) and the classifier (avgpool0,
// softmax2) of 1008 classes: 59 convolutions of 7,548 channels. Its LRNs use depth radius 2,
// bias 1, alpha 1e-4 and beta 0.75.
func NewGoogLeNetRandom(seed uint64) *GoogLeNet {
	return newInception5h(rand.New(rand.NewPCG(seed, 0x35683569))) // "5h5i"
}

// newInception5h returns the network of NewGoogLeNetRandom with weights from heNormal, or zero
// weights if rng is nil.
func newInception5h(rng *rand.Rand) *GoogLeNet {
	b := &gdBuilder{rng: rng, g: &graphdef.Graph{}}
	b.add("input", "Placeholder", nil, "dtype", graphdef.TypeAttr(graphdef.DTFloat))
	x, c := b.conv("conv2d0", "input", 3, 7, 2, 64), 64
	x = b.pool("maxpool0", "MaxPool", x, 3, 2, "SAME")
	x = b.lrn("localresponsenorm0", x)
	x = b.conv("conv2d1", x, c, 1, 1, 64)
	x, c = b.conv("conv2d2", x, 64, 3, 1, 192), 192
	x = b.lrn("localresponsenorm1", x)
	x = b.pool("maxpool1", "MaxPool", x, 3, 2, "SAME")
	for _, k := range inception5hBlocks {
		switch k.name {
		case "mixed4a":
			x = b.pool("maxpool4", "MaxPool", x, 3, 2, "SAME")
		case "mixed5a":
			x = b.pool("maxpool10", "MaxPool", x, 3, 2, "SAME")
		}
		br := []string{
			b.conv(k.name+"_1x1", x, c, 1, 1, k.b1),
			b.conv(k.name+"_3x3", b.conv(k.name+"_3x3_bottleneck", x, c, 1, 1, k.b3r), k.b3r, 3, 1, k.b3),
			b.conv(k.name+"_5x5", b.conv(k.name+"_5x5_bottleneck", x, c, 1, 1, k.b5r), k.b5r, 5, 1, k.b5),
			b.conv(k.name+"_pool_reduce", b.pool(k.name+"_pool", "MaxPool", x, 3, 1, "SAME"), c, 1, 1, k.bpr),
		}
		b.constInts(k.name+"/concat_dim", nil, 3)
		x, c = b.add(k.name, "Concat", append([]string{k.name + "/concat_dim"}, br...), "N", graphdef.IntAttr(4)), k.b1+k.b3+k.b5+k.bpr
		switch k.name {
		case "mixed4a":
			b.head("0", x, c)
		case "mixed4d":
			b.head("1", x, c)
		}
	}
	x = b.pool("avgpool0", "AvgPool", x, 7, 1, "VALID")
	x = b.reshape("avgpool0/reshape", x, c)
	b.classifier("2", x, c)
	m, err := NewGoogLeNet(b.g)
	if err != nil {
		panic("models: NewGoogLeNetRandom: " + err.Error()) // the graph above is fixed
	}
	return m
}

// gdBuilder writes the GraphDef of NewGoogLeNetRandom.
type gdBuilder struct {
	rng *rand.Rand // nil for zero weights
	g   *graphdef.Graph
}

// add appends a node; kv alternates attribute names and values. It returns the node's name.
func (b *gdBuilder) add(name, op string, inputs []string, kv ...any) string {
	n := &graphdef.Node{Name: name, Op: op, Inputs: inputs, Attrs: map[string]graphdef.AttrValue{}}
	if op != "Placeholder" && op != "Const" {
		n.Attrs["T"] = graphdef.TypeAttr(graphdef.DTFloat)
	}
	for i := 0; i < len(kv); i += 2 {
		n.Attrs[kv[i].(string)] = kv[i+1].(graphdef.AttrValue)
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return name
}

// weights adds a Const of the given shape: He-initialised for fanIn > 0, zeros otherwise.
func (b *gdBuilder) weights(name string, fanIn int, shape ...int64) string {
	var v []float32 // no values: zeros
	if fanIn > 0 && b.rng != nil {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		v = make([]float32, n)
		heNormal(b.rng, v, fanIn)
	}
	return b.add(name, "Const", nil, "dtype", graphdef.TypeAttr(graphdef.DTFloat),
		"value", graphdef.TensorAttr(&graphdef.Tensor{DType: graphdef.DTFloat, Shape: shape, FloatVal: v}))
}

// constInts adds an int32 Const.
func (b *gdBuilder) constInts(name string, shape []int64, v ...int32) string {
	return b.add(name, "Const", nil, "dtype", graphdef.TypeAttr(graphdef.DTInt32),
		"value", graphdef.TensorAttr(&graphdef.Tensor{DType: graphdef.DTInt32, Shape: shape, IntVal: v}))
}

// conv adds a convolution unit as inception5h names it: name_w, name_b, name_pre_relu/conv
// (Conv2D, SAME), name_pre_relu (BiasAdd) and name (Relu).
func (b *gdBuilder) conv(name, x string, in, k, stride, out int) string {
	w := b.weights(name+"_w", in*k*k, int64(k), int64(k), int64(in), int64(out))
	bias := b.weights(name+"_b", 0, int64(out))
	s := int64(stride)
	c := b.add(name+"_pre_relu/conv", "Conv2D", []string{x, w}, "strides", graphdef.IntsAttr(1, s, s, 1),
		"padding", graphdef.StringAttr("SAME"), "data_format", graphdef.StringAttr("NHWC"))
	pre := b.add(name+"_pre_relu", "BiasAdd", []string{c, bias})
	return b.add(name, "Relu", []string{pre})
}

// pool adds a MaxPool or AvgPool.
func (b *gdBuilder) pool(name, op, x string, k, stride int, padding string) string {
	kk, s := int64(k), int64(stride)
	return b.add(name, op, []string{x}, "ksize", graphdef.IntsAttr(1, kk, kk, 1), "strides", graphdef.IntsAttr(1, s, s, 1),
		"padding", graphdef.StringAttr(padding), "data_format", graphdef.StringAttr("NHWC"))
}

// lrn adds an LRN of depth radius 2, bias 1, alpha 1e-4 and beta 0.75.
func (b *gdBuilder) lrn(name, x string) string {
	return b.add(name, "LRN", []string{x}, "depth_radius", graphdef.IntAttr(2), "bias", graphdef.FloatAttr(1),
		"alpha", graphdef.FloatAttr(1e-4), "beta", graphdef.FloatAttr(0.75))
}

// reshape adds a Reshape to (-1, n).
func (b *gdBuilder) reshape(name, x string, n int) string {
	return b.add(name, "Reshape", []string{x, b.constInts(name+"/shape", []int64{2}, -1, int32(n))})
}

// dense adds name/matmul (MatMul) and name (BiasAdd) from in to out features.
func (b *gdBuilder) dense(name, wname, x string, in, out int) string {
	w := b.weights(wname+"_w", in, int64(in), int64(out))
	bias := b.weights(wname+"_b", 0, int64(out))
	return b.add(name, "BiasAdd", []string{b.add(name+"/matmul", "MatMul", []string{x, w}), bias})
}

// head adds auxiliary classifier i after a block of c channels: headI_pool (5x5/3 VALID),
// headI_bottleneck (1x1, 128), a dense layer nnI of 1024 and softmaxI.
func (b *gdBuilder) head(i, x string, c int) {
	x = b.pool("head"+i+"_pool", "AvgPool", x, 5, 3, "VALID")
	x = b.conv("head"+i+"_bottleneck", x, c, 1, 1, 128)
	x = b.reshape("head"+i+"_bottleneck_reshape", x, 4*4*128)
	x = b.add("nn"+i, "Relu", []string{b.dense("nn"+i+"_pre_relu", "nn"+i, x, 4*4*128, 1024)})
	x = b.reshape("nn"+i+"_reshape", x, 1024)
	b.classifier(i, x, 1024)
}

// classifier adds softmaxI_pre_activation, softmaxI over 1008 classes and its output node.
func (b *gdBuilder) classifier(i, x string, c int) {
	s := b.add("softmax"+i, "Softmax", []string{b.dense("softmax"+i+"_pre_activation", "softmax"+i, x, c, 1008)})
	out := map[string]string{"0": "output", "1": "output1", "2": "output2"}[i]
	b.add(out, "Identity", []string{s})
}
