package models

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/formats/graphdef"
	"convas/compute/nn"
)

// The tiny graph's input size and weights: conv2d0 has a 3x2 filter at stride 2, whose
// 'SAME' padding of an 8x9 picture is one row below and one column to the right.
const tinyN, tinyH, tinyW = 2, 8, 9

var (
	tinyConvW = randoms(rand.New(rand.NewPCG(5, 1)), 3*2*3*4, -0.05, 0.05) // HWIO
	tinyConvB = []float32{0.5, -0.25, 1, 0}
	tiny1x1W  = randoms(rand.New(rand.NewPCG(5, 2)), 4*3, -1, 1)
	tiny1x1B  = []float32{0.1, -0.2, 0.3}
	tinyFCW   = randoms(rand.New(rand.NewPCG(5, 3)), 42*5, -0.1, 0.1)
	tinyFCB   = []float32{0, 1, -1, 0.5, 2}
	tinyLRN   = nn.LRNParams{DepthRadius: 2, Bias: 1.5, Alpha: 0.0625, Beta: 0.75}
)

// gd makes a GraphDef node; kv alternates attribute names and values.
func gd(name, op string, inputs []string, kv ...any) *graphdef.Node {
	n := &graphdef.Node{Name: name, Op: op, Inputs: inputs, Attrs: map[string]graphdef.AttrValue{}}
	for i := 0; i < len(kv); i += 2 {
		n.Attrs[kv[i].(string)] = kv[i+1].(graphdef.AttrValue)
	}
	return n
}

func gdFloats(name string, shape []int64, v []float32) *graphdef.Node {
	return gd(name, "Const", nil, "dtype", graphdef.TypeAttr(graphdef.DTFloat), "value", graphdef.TensorAttr(graphdef.NewFloat32Tensor(shape, v)))
}

func gdInts(name string, shape []int64, v ...int32) *graphdef.Node {
	return gd(name, "Const", nil, "dtype", graphdef.TypeAttr(graphdef.DTInt32),
		"value", graphdef.TensorAttr(&graphdef.Tensor{DType: graphdef.DTInt32, Shape: shape, IntVal: v}))
}

// from lists the inputs of a node.
func from(s ...string) []string { return s }

// tinyGraph returns a graph in inception5h's style, with its node names, ops and attributes: a
// stem (conv2d0, maxpool0, localresponsenorm0), a two-branch mixed3a joined by ConcatV2, and a
// classifier that flattens the 2x3x7 block in NHWC order. Some constants come after the nodes
// that read them, which the loader must sort out.
func tinyGraph() *graphdef.Graph {
	T := graphdef.TypeAttr(graphdef.DTFloat)
	strides := func(s int64) graphdef.AttrValue { return graphdef.IntsAttr(1, s, s, 1) }
	same := graphdef.StringAttr("SAME")
	return &graphdef.Graph{Nodes: []*graphdef.Node{
		gd("input", "Placeholder", nil, "dtype", T, "shape", graphdef.ShapeAttr(graphdef.Shape{Dims: []int64{-1, -1, -1, 3}})),
		gdFloats("conv2d0_w", []int64{3, 2, 3, 4}, tinyConvW),
		gdFloats("conv2d0_b", []int64{4}, tinyConvB),
		gd("conv2d0_pre_relu/conv", "Conv2D", from("input", "conv2d0_w"), "T", T, "strides", strides(2), "padding", same,
			"data_format", graphdef.StringAttr("NHWC"), "use_cudnn_on_gpu", graphdef.BoolAttr(true)),
		gd("conv2d0_pre_relu", "BiasAdd", from("conv2d0_pre_relu/conv", "conv2d0_b"), "T", T),
		gd("conv2d0", "Relu", from("conv2d0_pre_relu"), "T", T),
		gd("maxpool0", "MaxPool", from("conv2d0"), "T", T, "ksize", graphdef.IntsAttr(1, 3, 3, 1), "strides", strides(2), "padding", same),
		gd("localresponsenorm0", "LRN", from("maxpool0"), "T", T, "depth_radius", graphdef.IntAttr(int64(tinyLRN.DepthRadius)),
			"bias", graphdef.FloatAttr(float32(tinyLRN.Bias)), "alpha", graphdef.FloatAttr(float32(tinyLRN.Alpha)), "beta", graphdef.FloatAttr(float32(tinyLRN.Beta))),
		gd("mixed3a_1x1_pre_relu/conv", "Conv2D", from("localresponsenorm0", "mixed3a_1x1_w"), "T", T, "strides", strides(1), "padding", graphdef.StringAttr("VALID")),
		gdFloats("mixed3a_1x1_w", []int64{1, 1, 4, 3}, tiny1x1W),
		gdFloats("mixed3a_1x1_b", []int64{3}, tiny1x1B),
		gd("mixed3a_1x1_pre_relu", "BiasAdd", from("mixed3a_1x1_pre_relu/conv", "mixed3a_1x1_b"), "T", T, "data_format", graphdef.StringAttr("NHWC")),
		gd("mixed3a_1x1", "Relu", from("mixed3a_1x1_pre_relu"), "T", T),
		gd("mixed3a_pool", "AvgPool", from("localresponsenorm0"), "T", T, "ksize", graphdef.IntsAttr(1, 3, 3, 1), "strides", strides(1), "padding", same),
		gdInts("mixed3a/concat_dim", nil, 3),
		gd("mixed3a", "ConcatV2", from("mixed3a_1x1", "mixed3a_pool:0", "mixed3a/concat_dim", "^conv2d0"), "N", graphdef.IntAttr(2), "T", T, "Tidx", graphdef.TypeAttr(graphdef.DTInt32)),
		gdInts("avgpool0/reshape/shape", []int64{2}, -1, 42),
		gd("avgpool0/reshape", "Reshape", from("mixed3a", "avgpool0/reshape/shape"), "T", T, "Tshape", graphdef.TypeAttr(graphdef.DTInt32)),
		gd("softmax2_pre_activation/matmul", "MatMul", from("avgpool0/reshape", "softmax2_w"), "T", T,
			"transpose_a", graphdef.BoolAttr(false), "transpose_b", graphdef.BoolAttr(false)),
		gdFloats("softmax2_w", []int64{42, 5}, tinyFCW),
		gdFloats("softmax2_b", []int64{5}, tinyFCB),
		gd("softmax2_pre_activation", "BiasAdd", from("softmax2_pre_activation/matmul", "softmax2_b"), "T", T),
		gd("softmax2", "Softmax", from("softmax2_pre_activation"), "T", T),
		gd("output2", "Identity", from("softmax2"), "T", T),
	}}
}

// loadGraph encodes a graph and loads it.
func loadGraph(t *testing.T, g *graphdef.Graph) (*GoogLeNet, error) {
	t.Helper()
	return LoadGoogLeNet(bytes.NewReader(graphdef.Marshal(g)))
}

// sameTF returns TensorFlow's 'SAME' output size and padding before for one axis.
func sameTF(in, k, s int) (out, before int) {
	out = (in + s - 1) / s
	return out, max((out-1)*s+k-in, 0) / 2
}

// convTF is tf.nn.conv2d with 'SAME' or 'VALID' padding and an HWIO filter, plus a bias.
func convTF(x refTensor, f []float32, kh, kw, co, s int, same bool, b []float32) refTensor {
	oh, ow, pt, pl := (x.h-kh)/s+1, (x.w-kw)/s+1, 0, 0
	if same {
		oh, pt = sameTF(x.h, kh, s)
		ow, pl = sameTF(x.w, kw, s)
	}
	y := newRef(x.n, oh, ow, co)
	for n := range x.n {
		for i := range oh {
			for j := range ow {
				for o := range co {
					sum := float64(b[o])
					for u := range kh {
						for v := range kw {
							for c := range x.c {
								sum += float64(f[((u*kw+v)*x.c+c)*co+o]) * x.at(n, i*s+u-pt, j*s+v-pl, c)
							}
						}
					}
					y.v[y.idx(n, i, j, o)] = sum
				}
			}
		}
	}
	return y
}

// poolTF is tf.nn.max_pool or tf.nn.avg_pool with 'SAME' padding: padded cells are left out.
func poolTF(x refTensor, k, s int, avg bool) refTensor {
	oh, pt := sameTF(x.h, k, s)
	ow, pl := sameTF(x.w, k, s)
	y := newRef(x.n, oh, ow, x.c)
	for n := range x.n {
		for i := range oh {
			for j := range ow {
				for c := range x.c {
					m, sum, cnt := math.Inf(-1), 0.0, 0
					for u := i*s - pt; u < i*s-pt+k; u++ {
						for v := j*s - pl; v < j*s-pl+k; v++ {
							if u >= 0 && u < x.h && v >= 0 && v < x.w {
								m, sum, cnt = max(m, x.at(n, u, v, c)), sum+x.at(n, u, v, c), cnt+1
							}
						}
					}
					if avg {
						m = sum / float64(cnt)
					}
					y.v[y.idx(n, i, j, c)] = m
				}
			}
		}
	}
	return y
}

// lrnTF is tf.nn.local_response_normalization.
func lrnTF(x refTensor, p nn.LRNParams) refTensor {
	y := newRef(x.n, x.h, x.w, x.c)
	a, b, beta := float64(float32(p.Alpha)), float64(float32(p.Bias)), float64(float32(p.Beta))
	for i := 0; i < len(x.v); i += x.c {
		for c := range x.c {
			var sq float64
			for cc := max(c-p.DepthRadius, 0); cc <= min(c+p.DepthRadius, x.c-1); cc++ {
				sq += x.v[i+cc] * x.v[i+cc]
			}
			y.v[i+c] = x.v[i+c] / math.Pow(b+a*sq, beta)
		}
	}
	return y
}

// concatTF joins NHWC tensors along their channels.
func concatTF(xs ...refTensor) refTensor {
	c := 0
	for _, x := range xs {
		c += x.c
	}
	y := newRef(xs[0].n, xs[0].h, xs[0].w, c)
	for p := range y.n * y.h * y.w {
		off := 0
		for _, x := range xs {
			copy(y.v[p*c+off:], x.v[p*x.c:(p+1)*x.c])
			off += x.c
		}
	}
	return y
}

// tinyRef computes every layer of tinyGraph for pixels x (NCHW, 0..255) less 117.
func tinyRef(x []float32) (map[string]refTensor, [][]float64) {
	r := map[string]refTensor{}
	mean := [3]float32{117, 117, 117}
	r["conv2d0_pre_relu"] = convTF(pixels(x, tinyN, tinyH, tinyW, mean), tinyConvW, 3, 2, 4, 2, true, tinyConvB)
	r["conv2d0"] = reluRef(r["conv2d0_pre_relu"])
	r["maxpool0"] = poolTF(r["conv2d0"], 3, 2, false)
	r["localresponsenorm0"] = lrnTF(r["maxpool0"], tinyLRN)
	r["mixed3a_1x1_pre_relu"] = convTF(r["localresponsenorm0"], tiny1x1W, 1, 1, 3, 1, false, tiny1x1B)
	r["mixed3a_1x1"] = reluRef(r["mixed3a_1x1_pre_relu"])
	r["mixed3a_pool"] = poolTF(r["localresponsenorm0"], 3, 1, true)
	r["mixed3a"] = concatTF(r["mixed3a_1x1"], r["mixed3a_pool"])
	// The classifier: flatten each picture's 2x3x7 values in NHWC order, a dense layer, softmax.
	m := r["mixed3a"]
	feat := len(m.v) / m.n
	probs := make([][]float64, m.n)
	for n := range m.n {
		logits := make([]float64, 5)
		var z float64
		for o := range logits {
			logits[o] = float64(tinyFCB[o])
			for k := range feat {
				logits[o] += m.v[n*feat+k] * float64(tinyFCW[k*5+o])
			}
			z += math.Exp(logits[o])
		}
		for o := range logits {
			logits[o] = math.Exp(logits[o]) / z
		}
		probs[n] = logits
	}
	return r, probs
}

// tinyLayers is the layer table of tinyGraph.
var tinyLayers = []LayerInfo{
	{"conv2d0_pre_relu", "conv", 4}, {"conv2d0", "relu", 4}, {"maxpool0", "maxpool", 4}, {"localresponsenorm0", "lrn", 4},
	{"mixed3a_1x1_pre_relu", "conv", 3}, {"mixed3a_1x1", "relu", 3}, {"mixed3a_pool", "avgpool", 4}, {"mixed3a", "concat", 7},
}

// checkTiny runs m, a model of tinyGraph's network, and compares every layer with tinyRef.
func checkTiny(t *testing.T, m *GoogLeNet) {
	t.Helper()
	x := randoms(rand.New(rand.NewPCG(5, 4)), tinyN*3*tinyH*tinyW, 0, 255)
	g, err := m.Build(tinyN, tinyH, tinyW, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(g.Input, tensor.New(tensor.WithShape(tinyN, 3, tinyH, tinyW), tensor.WithBacking(x))); err != nil {
		t.Fatal(err)
	}
	got := runRead(t, g.G, g.Layers)
	ref, probs := tinyRef(x)
	for name, want := range ref {
		compareNCHW(t, name, got[name].Data().([]float32), got[name].Shape(), want)
	}
	out := got["output2"]
	if !equalInts(out.Shape(), []int{tinyN, 5}) {
		t.Fatalf("output2 of shape %v", out.Shape())
	}
	for n := range tinyN {
		for o := range 5 {
			if v := float64(out.Data().([]float32)[n*5+o]); math.Abs(v-probs[n][o]) > 1e-5 {
				t.Errorf("softmax2[%d][%d] = %v, want %v", n, o, v, probs[n][o])
			}
		}
	}
}

// TestGoogLeNetTiny checks every layer of the tiny graph against TensorFlow's definitions,
// computed in NHWC straight from the HWIO filters, and its layer table.
func TestGoogLeNetTiny(t *testing.T) {
	m, err := loadGraph(t, tinyGraph())
	if err != nil {
		t.Fatal(err)
	}
	if m.Mean != 117 {
		t.Errorf("mean %v, want 117: the graph does not subtract it", m.Mean)
	}
	if got := m.Layers(); !slices.Equal(got, tinyLayers) {
		t.Errorf("layers\n%v\nwant\n%v", got, tinyLayers)
	}
	checkTiny(t, m)
}

// TestGoogLeNetPreprocessing checks a graph that subtracts its own mean from an HWC input and
// adds the batch axis, as DeepDream's notebook does in front of inception5h.
func TestGoogLeNetPreprocessing(t *testing.T) {
	g := tinyGraph()
	g.Nodes[0] = gd("input", "Placeholder", nil, "dtype", graphdef.TypeAttr(graphdef.DTFloat),
		"shape", graphdef.ShapeAttr(graphdef.Shape{Dims: []int64{-1, -1, 3}}))
	g.Nodes = slices.Insert(g.Nodes, 1,
		gd("sub/y", "Const", nil, "dtype", graphdef.TypeAttr(graphdef.DTFloat),
			"value", graphdef.TensorAttr(&graphdef.Tensor{DType: graphdef.DTFloat, FloatVal: []float32{117}})),
		gd("sub", "Sub", from("input", "sub/y")),
		gdInts("ExpandDims/dim", nil, 0),
		gd("ExpandDims", "ExpandDims", from("sub", "ExpandDims/dim")))
	g.Node("conv2d0_pre_relu/conv").Inputs[0] = "ExpandDims"
	m, err := loadGraph(t, g)
	if err != nil {
		t.Fatal(err)
	}
	if m.Mean != 0 {
		t.Errorf("mean %v, want 0: the graph subtracts its own", m.Mean)
	}
	checkTiny(t, m)
}

// TestGoogLeNetErrors checks that what the loader cannot read is an error naming the node.
func TestGoogLeNetErrors(t *testing.T) {
	cases := []struct {
		name string
		mod  func(g *graphdef.Graph)
		want []string
	}{
		{"unknown op", func(g *graphdef.Graph) {
			g.Nodes = append(g.Nodes, gd("mixed3a_weird", "Sigmoid", from("mixed3a")))
		}, []string{`node "mixed3a_weird"`, `op "Sigmoid" is not supported`}},
		{"filter of the wrong depth", func(g *graphdef.Graph) {
			*g.Node("mixed3a_1x1_w") = *gdFloats("mixed3a_1x1_w", []int64{1, 1, 5, 3}, make([]float32, 15))
		}, []string{`node "mixed3a_1x1_pre_relu/conv"`, "takes 5 channels, input localresponsenorm0 has 4"}},
		{"filter not constant", func(g *graphdef.Graph) {
			g.Node("conv2d0_pre_relu/conv").Inputs[1] = "input"
		}, []string{`node "conv2d0_pre_relu/conv"`, "filter input is a Placeholder, not a constant"}},
		{"bias of the wrong size", func(g *graphdef.Graph) {
			*g.Node("conv2d0_b") = *gdFloats("conv2d0_b", []int64{3}, make([]float32, 3))
		}, []string{`node "conv2d0_pre_relu"`, "bias conv2d0_b of 3 values"}},
		{"concatenation along rows", func(g *graphdef.Graph) {
			*g.Node("mixed3a/concat_dim") = *gdInts("mixed3a/concat_dim", nil, 1)
		}, []string{`node "mixed3a"`, "only the channel axis"}},
		{"NCHW", func(g *graphdef.Graph) {
			g.Node("maxpool0").Attrs["data_format"] = graphdef.StringAttr("NCHW")
		}, []string{`node "maxpool0"`, "data format NCHW"}},
		{"explicit padding", func(g *graphdef.Graph) {
			g.Node("maxpool0").Attrs["padding"] = graphdef.StringAttr("EXPLICIT")
		}, []string{`node "maxpool0"`, `padding "EXPLICIT"`}},
		{"no strides", func(g *graphdef.Graph) {
			delete(g.Node("conv2d0_pre_relu/conv").Attrs, "strides")
		}, []string{`node "conv2d0_pre_relu/conv"`, "strides", "not set"}},
		{"a missing input", func(g *graphdef.Graph) {
			g.Node("conv2d0").Inputs[0] = "nowhere"
		}, []string{`node "conv2d0" reads "nowhere"`}},
		{"a cycle", func(g *graphdef.Graph) {
			g.Node("conv2d0_pre_relu/conv").Inputs[0] = "conv2d0"
		}, []string{"cycle"}},
		{"a second input", func(g *graphdef.Graph) {
			g.Nodes = append(g.Nodes, gd("input2", "Placeholder", nil))
		}, []string{`node "input2"`, "a second Placeholder"}},
		{"no input", func(g *graphdef.Graph) { g.Nodes = g.Nodes[1:2] }, []string{"no Placeholder"}},
		{"integer pictures", func(g *graphdef.Graph) {
			g.Nodes[0].Attrs["dtype"] = graphdef.TypeAttr(graphdef.DTUint8)
		}, []string{`node "input"`, "input of type uint8"}},
		{"a name used twice", func(g *graphdef.Graph) {
			g.Nodes = append(g.Nodes, gd("conv2d0", "Relu", from("conv2d0_pre_relu")))
		}, []string{`"conv2d0" is empty or used twice`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := tinyGraph()
			c.mod(g)
			_, err := loadGraph(t, g)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range append(c.want, "models: googlenet: ") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

// TestGoogLeNetDamaged cuts the encoded graph everywhere: a load may fail or, where the cut
// falls between two nodes, read a smaller graph, but it never panics.
func TestGoogLeNetDamaged(t *testing.T) {
	data := graphdef.Marshal(tinyGraph())
	failed := 0
	for cut := 0; cut < len(data); cut += 1 + cut/64 {
		m, err := LoadGoogLeNet(bytes.NewReader(data[:cut]))
		if err != nil {
			failed++
			continue
		}
		for _, l := range m.Layers() { // what did load must build, or fail to
			m.Build(1, tinyH, tinyW, l.Name)
		}
	}
	if failed == 0 {
		t.Error("every cut loaded")
	}
}

func TestGoogLeNetBuildErrors(t *testing.T) {
	m, err := loadGraph(t, tinyGraph())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		h, w int
		upTo string
		want string
	}{
		{tinyH, tinyW, "mixed9z", `no node "mixed9z"`},
		{tinyH, tinyW, "softmax2_w", `"softmax2_w" is a constant`},
		{16, 16, "", "node avgpool0/reshape (Reshape): cannot reshape (1, 4, 4, 7) (NHWC) to [-1 42]"},
	} {
		if _, err := m.Build(1, c.h, c.w, c.upTo); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%dx%d up to %q: %v, want %q", c.h, c.w, c.upTo, err, c.want)
		}
	}
	g, err := m.Build(1, 16, 16, "mixed3a")
	if err != nil {
		t.Fatal(err)
	}
	if g.Layers["avgpool0/reshape"] != nil || !equalInts(g.Output.Shape(), []int{1, 7, 4, 4}) {
		t.Errorf("built up to mixed3a: output %v", g.Output.Shape())
	}
}

func TestGoogLeNetInputGradient(t *testing.T) {
	m, err := loadGraph(t, tinyGraph())
	if err != nil {
		t.Fatal(err)
	}
	x := randoms(rand.New(rand.NewPCG(5, 5)), 3*tinyH*tinyW, 0, 255)
	checkInputGrad(t, func() (*G.ExprGraph, *G.Node, *G.Node) {
		g, err := m.Build(1, tinyH, tinyW, "softmax2_pre_activation")
		if err != nil {
			t.Fatal(err)
		}
		cost, err := G.Sum(g.Output)
		if err != nil {
			t.Fatal(err)
		}
		return g.G, g.Input, cost
	}, x, []int{1, 3, tinyH, tinyW}, 0.05)
}

// randomGoogLeNet is NewGoogLeNetRandom(1), made once for the tests that need it; with -short,
// the same network of zero weights, which is made faster.
var randomGoogLeNet = sync.OnceValue(func() *GoogLeNet {
	if testing.Short() {
		return newInception5h(nil)
	}
	return NewGoogLeNetRandom(1)
})

// checkInception5h checks a model's layer table against inception5h's.
func checkInception5h(t *testing.T, m *GoogLeNet) {
	t.Helper()
	convs, channels := 0, 0
	byName := map[string]LayerInfo{}
	for _, l := range m.Layers() {
		byName[l.Name] = l
		if l.Kind == "conv" {
			convs++
			channels += l.Channels
		}
	}
	if convs != 59 || channels != 7548 {
		t.Errorf("%d convolutions of %d channels, want 59 of 7548", convs, channels)
	}
	for _, want := range []LayerInfo{
		{"conv2d0_pre_relu", "conv", 64}, {"conv2d0", "relu", 64}, {"maxpool0", "maxpool", 64},
		{"localresponsenorm0", "lrn", 64}, {"conv2d2", "relu", 192}, {"maxpool1", "maxpool", 192},
		{"mixed3a", "concat", 256}, {"mixed3b", "concat", 480}, {"maxpool4", "maxpool", 480},
		{"mixed4a", "concat", 508}, {"mixed4b", "concat", 512}, {"mixed4c", "concat", 512},
		{"mixed4d_3x3_bottleneck_pre_relu", "conv", 144}, {"mixed4d", "concat", 528}, {"mixed4e", "concat", 832},
		{"mixed5a", "concat", 832}, {"mixed5b", "concat", 1024}, {"mixed5b_pool", "maxpool", 832},
		{"head0_bottleneck_pre_relu", "conv", 128}, {"avgpool0", "avgpool", 1024},
	} {
		if got := byName[want.Name]; got != want {
			t.Errorf("layer %s: %v, want %v", want.Name, got, want)
		}
	}
}

func TestGoogLeNetRandom(t *testing.T) {
	m := randomGoogLeNet()
	checkInception5h(t, m)
	for _, c := range []struct {
		size int
		upTo string
		want []int
	}{
		{224, "", []int{1, 1008}},
		{224, "output", []int{1, 1008}},
		{224, "output1", []int{1, 1008}},
		{512, "mixed4d", []int{1, 528, 32, 32}},
	} {
		g, err := m.Build(1, c.size, c.size, c.upTo)
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(g.Output.Shape(), c.want) {
			t.Errorf("%s at %d: shape %v, want %v", c.upTo, c.size, g.Output.Shape(), c.want)
		}
		if c.upTo == "mixed4d" && (g.Layers["mixed4e"] != nil || g.Layers["head1_pool"] != nil) {
			t.Errorf("built past mixed4d")
		}
	}
	if _, err := m.Build(1, 160, 160, "output2"); err == nil || !strings.Contains(err.Error(), "node avgpool0 (AvgPool): input 5x5 is smaller than the 7x7 window") {
		t.Errorf("the classifier at 160x160: %v", err)
	}
}

// TestGoogLeNetFile loads the real graph when INCEPTION5H_PB names it.
func TestGoogLeNetFile(t *testing.T) {
	path := os.Getenv("INCEPTION5H_PB")
	if path == "" || testing.Short() {
		t.Skip("set INCEPTION5H_PB to tensorflow_inception_graph.pb to check the real file")
	}
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := LoadGoogLeNet(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mean %v", m.Mean)
	checkInception5h(t, m)
}

// BenchmarkGoogLeNetInputGrad times one DeepDream step of the network at 512x512 with random
// weights: the forward pass and the gradient to the input of the mean of channel 139 of
// mixed4d_3x3_bottleneck_pre_relu. The graph is built up to mixed4d; compiling only the
// objective and its gradient leaves out mixed4d's other branches. GFLOP/s counts the
// convolutions computed, forward and backward-data.
func BenchmarkGoogLeNetInputGrad(b *testing.B) {
	m := NewGoogLeNetRandom(1)
	const layer = "mixed4d_3x3_bottleneck_pre_relu"
	for _, size := range []int{512} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			g, err := m.Build(1, size, size, "mixed4d")
			if err != nil {
				b.Fatal(err)
			}
			ch, err := nn.SelectChannel(g.Layers[layer], 139)
			if err != nil {
				b.Fatal(err)
			}
			cost, err := G.Mean(ch)
			if err != nil {
				b.Fatal(err)
			}
			vm, _ := inputGradMachine(b, g.G, g.Input, cost)
			defer vm.Close()
			reuseBuffers(g.G)
			x := randoms(rand.New(rand.NewPCG(1, 2)), 3*size*size, 0, 255)
			if err := G.Let(g.Input, tensor.New(tensor.WithShape(1, 3, size, size), tensor.WithBacking(x))); err != nil {
				b.Fatal(err)
			}
			// The convolutions the objective depends on.
			var flops float64
			seen := map[*gnode]bool{}
			var walk func(n *gnode)
			walk = func(n *gnode) {
				if seen[n] {
					return
				}
				seen[n] = true
				if n.op == "Conv2D" {
					flops += 2 * float64(g.Layers[n.name].Shape().TotalSize()*n.param.Len()/n.channels)
				}
				for _, v := range n.inputs {
					walk(v)
				}
			}
			walk(m.byName[layer])
			warmUp(b, vm)
			for b.Loop() {
				if err := vm.RunAll(); err != nil {
					b.Fatal(err)
				}
				vm.Reset()
			}
			reportStep(b, 2*flops)
		})
	}
}
