package models

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/formats/cnvm"
	"convas/compute/nn"
)

// Files the trunk tests read when they are there: the embedded trunk, and a photo.
const (
	trunkFile   = "../../assets/inceptionv3/inceptionv3-mixed5.cnvm"
	chelseaFile = "../../../shared/samples/chelsea.png"
)

// run computes a graph and returns the values of the given nodes (a scalar as one value).
func run(t testing.TB, g *G.ExprGraph, nodes ...*G.Node) [][]float32 {
	t.Helper()
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	out := make([][]float32, len(nodes))
	for i, n := range nodes {
		switch d := n.Value().Data().(type) {
		case float32:
			out[i] = []float32{d}
		case []float32:
			out[i] = append([]float32(nil), d...)
		}
	}
	return out
}

// randoms returns n values uniform in [lo, hi).
func randoms(rng *rand.Rand, n int, lo, hi float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float32()
	}
	return v
}

// TestFoldBatchNorm checks on a small convolution that the folded kernel and bias give what the
// batch normalisation gives when it is applied after the convolution.
func TestFoldBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, c, h, w, o, k = 2, 3, 6, 5, 4, 3
	x := randoms(rng, n*c*h*w, -1, 1)
	kernel := randoms(rng, o*c*k*k, -0.5, 0.5)
	bias := randoms(rng, o, -0.2, 0.2)
	gamma := []float32{1, 0.5, 2, 1}
	beta := randoms(rng, o, -1, 1)
	mean := randoms(rng, o, -0.5, 0.5)
	variance := []float32{0.01, 0.5, 1, 4}
	const eps = 0.001

	conv := func(kern, b []float32) []float32 {
		g := G.NewGraph()
		xn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(n, c, h, w), G.WithName("x"),
			G.WithValue(tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(x))))
		wn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(o, c, k, k), G.WithName("w"),
			G.WithValue(tensor.New(tensor.WithShape(o, c, k, k), tensor.WithBacking(kern))))
		bn := G.NewTensor(g, tensor.Float32, 1, G.WithShape(o), G.WithName("b"),
			G.WithValue(tensor.New(tensor.WithShape(o), tensor.WithBacking(b))))
		y, err := nn.Conv2D(xn, wn, nn.Same(h, w, k, k, 1, 1), 1, 1)
		if err == nil {
			y, err = nn.AddBias(y, bn)
		}
		if err != nil {
			t.Fatal(err)
		}
		return run(t, g, y)[0]
	}
	// Batch normalisation applied after the convolution, in float64.
	want := conv(kernel, bias)
	per := len(want) / n / o
	for i := range want {
		ch := i / per % o
		want[i] = float32(float64(gamma[ch])*(float64(want[i])-float64(mean[ch]))/math.Sqrt(float64(variance[ch])+eps) + float64(beta[ch]))
	}
	fk, fb := append([]float32(nil), kernel...), append([]float32(nil), bias...)
	if err := foldBatchNorm(fk, fb, gamma, beta, mean, variance, eps); err != nil {
		t.Fatal(err)
	}
	got := conv(fk, fb)
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("value %d: folded %v, batch norm after conv %v", i, got[i], want[i])
		}
	}
	if err := foldBatchNorm(fk, fb, gamma, beta, mean, []float32{-1, 1, 1, 1}, 0); err == nil {
		t.Error("a negative variance was folded")
	}
}

// tinyTrunk is a small network in the file layout of the embedded trunk: an input of 9x9 RGB, a
// 3x3/2 valid convolution unit (conv, batch norm without gamma, ReLU), a 1x3 'same' unit, and a
// block of two branches, a 1x1 unit and a 3x3 'same' average pooling followed by a 1x1 unit,
// joined by a concat. Kernels and batch norm statistics are uint8-quantized, as in nsfwjs.
func tinyTrunk(rng *rand.Rand) *cnvm.Model {
	m := &cnvm.Model{Layers: []*cnvm.Layer{{Name: "input_1", Kind: cnvm.KindInput, Ints: map[string][]int{"shape": {-1, -1, 3}}}}}
	quant := func(name string, shape ...int) string {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		min, scale := -0.3, 0.6/255
		if strings.HasSuffix(name, "variance") {
			min, scale = 0.05, 1.0/255
		}
		m.Tensors = append(m.Tensors, &cnvm.Tensor{Name: name, DType: cnvm.Uint8, Shape: shape, Min: min, Scale: scale, Data: data})
		return name
	}
	last := "input_1"
	unit := func(i, in, out, kh, kw, stride int, padding string, from string) string {
		conv, bn, act := "conv2d_"+itoa(i), "batch_normalization_"+itoa(i), "activation_"+itoa(i)
		m.Layers = append(m.Layers,
			&cnvm.Layer{Name: conv, Kind: cnvm.KindConv2D, Inputs: []string{from},
				Ints:    map[string][]int{"filters": {out}, "kernel": {kh, kw}, "strides": {stride, stride}},
				Strings: map[string]string{"padding": padding, "activation": "linear"},
				Weights: map[string]string{"kernel": quant(conv+"/kernel", kh, kw, in, out)}},
			&cnvm.Layer{Name: bn, Kind: cnvm.KindBatchNorm, Inputs: []string{conv}, Floats: map[string]float64{"epsilon": 0.001},
				Weights: map[string]string{"beta": quant(bn+"/beta", out), "mean": quant(bn+"/moving_mean", out), "variance": quant(bn+"/moving_variance", out)}},
			&cnvm.Layer{Name: act, Kind: cnvm.KindActivation, Inputs: []string{bn}, Strings: map[string]string{"activation": "relu"}},
		)
		return act
	}
	last = unit(1, 3, 4, 3, 3, 2, "valid", last)
	last = unit(2, 4, 5, 1, 3, 1, "same", last)
	b1 := unit(3, 5, 2, 1, 1, 1, "same", last)
	m.Layers = append(m.Layers, &cnvm.Layer{Name: "average_pooling2d_1", Kind: cnvm.KindAvgPool2D, Inputs: []string{last},
		Ints: map[string][]int{"pool": {3, 3}, "strides": {1, 1}}, Strings: map[string]string{"padding": "same"}})
	b2 := unit(4, 5, 3, 1, 1, 1, "same", "average_pooling2d_1")
	m.Layers = append(m.Layers, &cnvm.Layer{Name: "block", Kind: cnvm.KindConcat, Inputs: []string{b1, b2}})
	m.Outputs = []string{"block"}
	return m
}

// itoa formats a small int.
func itoa(i int) string { return string(rune('0' + i)) }

// The reference below computes the tiny trunk the way Keras does, channels last, without
// folding: an independent check of the transposition, the folding and the padding.

// image is a (height, width, channels) array.
type image struct {
	h, w, c int
	v       []float64
}

// at returns the value at (y, x, ch), zero outside the image.
func (im image) at(y, x, ch int) float64 {
	if y < 0 || x < 0 || y >= im.h || x >= im.w {
		return 0
	}
	return im.v[(y*im.w+x)*im.c+ch]
}

// pads returns the padding before the data along an axis, TensorFlow's SAME or VALID.
func pads(in, k, s int, same bool) (out, before int) {
	if !same {
		return (in-k)/s + 1, 0
	}
	out = (in + s - 1) / s
	return out, max((out-1)*s+k-in, 0) / 2
}

// refUnit is conv (Keras kernel kh, kw, in, out), batch norm (gamma 1) and ReLU.
func refUnit(f *cnvm.Model, x image, i int) image {
	conv := f.Layer("conv2d_" + itoa(i))
	bn := f.Layer("batch_normalization_" + itoa(i))
	kt := f.Tensor(conv.Weights["kernel"])
	k := kt.Float32()
	kh, kw, out := kt.Shape[0], kt.Shape[1], kt.Shape[3]
	s := conv.Ints["strides"][0]
	same := conv.Strings["padding"] == "same"
	oh, pt := pads(x.h, kh, s, same)
	ow, pl := pads(x.w, kw, s, same)
	beta, mean, variance := f.Tensor(bn.Weights["beta"]).Float32(), f.Tensor(bn.Weights["mean"]).Float32(), f.Tensor(bn.Weights["variance"]).Float32()
	y := image{oh, ow, out, make([]float64, oh*ow*out)}
	for oy := range oh {
		for ox := range ow {
			for o := range out {
				var sum float64
				for a := range kh {
					for b := range kw {
						for ch := range x.c {
							sum += x.at(oy*s+a-pt, ox*s+b-pl, ch) * float64(k[((a*kw+b)*x.c+ch)*out+o])
						}
					}
				}
				v := (sum-float64(mean[o]))/math.Sqrt(float64(variance[o])+0.001) + float64(beta[o])
				y.v[(oy*ow+ox)*out+o] = max(v, 0)
			}
		}
	}
	return y
}

// refAvgPool3 is a 3x3/1 'same' average pooling that leaves the padding out of the count.
func refAvgPool3(x image) image {
	y := image{x.h, x.w, x.c, make([]float64, len(x.v))}
	for py := range x.h {
		for px := range x.w {
			for ch := range x.c {
				var sum float64
				n := 0
				for a := py - 1; a <= py+1; a++ {
					for b := px - 1; b <= px+1; b++ {
						if a >= 0 && b >= 0 && a < x.h && b < x.w {
							sum += x.at(a, b, ch)
							n++
						}
					}
				}
				y.v[(py*x.w+px)*x.c+ch] = sum / float64(n)
			}
		}
	}
	return y
}

func TestInceptionV3MatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	f := tinyTrunk(rng)
	var file bytes.Buffer
	if err := cnvm.Encode(&file, f); err != nil {
		t.Fatal(err)
	}
	m, err := LoadInceptionV3(&file)
	if err != nil {
		t.Fatal(err)
	}
	const h, w = 9, 9
	pixels := randoms(rng, 3*h*w, 0, 255)
	g, err := m.Build(1, h, w, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(g.Input, tensor.New(tensor.WithShape(1, 3, h, w), tensor.WithBacking(pixels))); err != nil {
		t.Fatal(err)
	}
	got := run(t, g.G, g.Output)[0]

	x := image{h, w, 3, make([]float64, h*w*3)}
	for i, p := range pixels { // NCHW pixels to HWC in [-1, 1]
		ch, y, xx := i/(h*w), i/w%h, i%w
		x.v[(y*w+xx)*3+ch] = float64(p)/127.5 - 1
	}
	stem := refUnit(f, refUnit(f, x, 1), 2)
	b1, b2 := refUnit(f, stem, 3), refUnit(f, refAvgPool3(stem), 4)
	if want := []int{1, 5, 4, 4}; !equalInts(g.Output.Shape(), want) {
		t.Fatalf("output shape %v, want %v", g.Output.Shape(), want)
	}
	for ch := range 5 {
		for y := range 4 {
			for xx := range 4 {
				var want float64
				if ch < b1.c {
					want = b1.at(y, xx, ch)
				} else {
					want = b2.at(y, xx, ch-b1.c)
				}
				if v := float64(got[(ch*4+y)*4+xx]); math.Abs(v-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("channel %d at (%d, %d): %v, reference %v", ch, y, xx, v, want)
				}
			}
		}
	}
	if v := run(t, g.G, g.Layers["activation_2"])[0]; len(v) != 5*4*4 || g.Layers["activation_2"] != g.Layers["conv2d_2"] {
		t.Errorf("activation_2 is not conv2d_2's unit output")
	}
}

// TestInceptionV3InputGradient checks the gradient with respect to the input pixels, which
// DeepDream follows, against a central difference along a random direction.
func TestInceptionV3InputGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, err := NewInceptionV3(tinyTrunk(rng))
	if err != nil {
		t.Fatal(err)
	}
	const h, w = 11, 10
	pixels := randoms(rng, 3*h*w, 0, 255)
	dir := randoms(rng, 3*h*w, -1, 1)
	loss := func(x []float32, grad bool) (float64, []float32) {
		g, err := m.Build(1, h, w, "")
		if err != nil {
			t.Fatal(err)
		}
		cost, err := G.Sum(g.Output)
		if err != nil {
			t.Fatal(err)
		}
		var grads G.Nodes
		if grad {
			if grads, err = G.Grad(cost, g.Input); err != nil {
				t.Fatal(err)
			}
		}
		if err := G.Let(g.Input, tensor.New(tensor.WithShape(1, 3, h, w), tensor.WithBacking(x))); err != nil {
			t.Fatal(err)
		}
		nodes := append(G.Nodes{cost}, grads...)
		v := run(t, g.G, nodes...)
		if !grad {
			return float64(v[0][0]), nil
		}
		return float64(v[0][0]), v[1]
	}
	_, grad := loss(pixels, true)
	var want float64
	for i := range grad {
		want += float64(grad[i]) * float64(dir[i])
	}
	const step = 0.05 // pixels
	shifted := func(sign float32) []float32 {
		x := append([]float32(nil), pixels...)
		for i := range x {
			x[i] += sign * step * dir[i]
		}
		return x
	}
	up, _ := loss(shifted(1), false)
	down, _ := loss(shifted(-1), false)
	got := (up - down) / (2 * step)
	t.Logf("central difference %v, gradient %v", got, want)
	if math.Abs(got-want) > 2e-2*math.Abs(want) || want == 0 {
		t.Errorf("directional derivative %v by central difference, %v by the gradient", got, want)
	}
}

// equalInts compares a shape with a list of sizes.
func equalInts(s tensor.Shape, want []int) bool {
	if len(s) != len(want) {
		return false
	}
	for i := range s {
		if s[i] != want[i] {
			return false
		}
	}
	return true
}

func TestInceptionV3Errors(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	load := func(edit func(f *cnvm.Model)) error {
		f := tinyTrunk(rng)
		edit(f)
		_, err := NewInceptionV3(f)
		return err
	}
	tests := []struct {
		name string
		edit func(f *cnvm.Model)
		want string
	}{
		{"mixed channels", func(f *cnvm.Model) { f.Layer("block").Name = "mixed0" }, "layer mixed0: 5 channels, Keras InceptionV3 has 256"},
		{"kind", func(f *cnvm.Model) { f.Layer("block").Kind = cnvm.KindDense }, `layer block: kind "dense" is not part of an InceptionV3 trunk`},
		{"bn after pool", func(f *cnvm.Model) { f.Layer("batch_normalization_4").Inputs = []string{"average_pooling2d_1"} },
			"layer batch_normalization_4: a batch normalisation can only be folded into a convolution"},
		{"kernel shape", func(f *cnvm.Model) { f.Tensor("conv2d_2/kernel").Shape = []int{3, 1, 4, 5} }, "layer conv2d_2: weight kernel"},
		{"activation", func(f *cnvm.Model) { f.Layer("activation_1").Strings["activation"] = "tanh" }, `layer activation_1: activation "tanh"`},
		{"gray input", func(f *cnvm.Model) { f.Layers[0].Ints["shape"] = []int{-1, -1, 1} }, "layer input_1: the trunk needs one input of 3 channels"},
	}
	for _, tt := range tests {
		if err := load(tt.edit); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "models: inceptionv3: ") {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	m, err := NewInceptionV3(tinyTrunk(rng))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Build(1, 9, 9, "mixed9"); err == nil || !strings.Contains(err.Error(), `no layer "mixed9"`) {
		t.Errorf("unknown layer: %v", err)
	}
	if _, err := m.Build(1, 9, 9, "batch_normalization_2"); err == nil || !strings.Contains(err.Error(), "folded into conv2d_2") {
		t.Errorf("folded layer: %v", err)
	}
	if _, err := m.Build(1, 2, 9, ""); err == nil || !strings.Contains(err.Error(), "layer conv2d_1: input 2x9 is smaller than the 3x3 window") {
		t.Errorf("small input: %v", err)
	}
	if _, err := LoadInceptionV3(strings.NewReader("CNVM\x01\x00")); !errors.Is(err, cnvm.ErrFormat) {
		t.Errorf("truncated file: %v", err)
	}
}

// loadTrunk loads the embedded trunk, or skips the test if the file is not there.
func loadTrunk(t testing.TB) *InceptionV3 {
	t.Helper()
	f, err := os.Open(trunkFile)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no %s", trunkFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := LoadInceptionV3(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestInceptionV3Trunk checks the embedded trunk's layer table and shapes against Keras
// InceptionV3 at its 299x299 input.
func TestInceptionV3Trunk(t *testing.T) {
	m := loadTrunk(t)
	layers := m.Layers()
	convs, channels := 0, map[string]int{}
	for _, l := range layers {
		channels[l.Name] = l.Channels
		if l.Kind == "conv" {
			convs++
		}
	}
	if convs != 50 || layers[0] != (LayerInfo{"conv2d_1", "conv", 32}) || layers[len(layers)-1].Name != "mixed5" {
		t.Errorf("%d conv layers (want 50), first %v, last %v", convs, layers[0], layers[len(layers)-1])
	}
	g, err := m.Build(1, 299, 299, "")
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string][]int{
		"conv2d_1": {32, 149, 149}, "conv2d_2": {32, 147, 147}, "conv2d_3": {64, 147, 147}, "max_pooling2d_1": {64, 73, 73},
		"conv2d_5": {192, 71, 71}, "max_pooling2d_2": {192, 35, 35},
		"mixed0": {256, 35, 35}, "mixed1": {288, 35, 35}, "mixed2": {288, 35, 35},
		"mixed3": {768, 17, 17}, "mixed4": {768, 17, 17}, "mixed5": {768, 17, 17},
	}
	for name, want := range sizes {
		if channels[name] != want[0] {
			t.Errorf("layer table: %s has %d channels, want %d", name, channels[name], want[0])
		}
		if n := g.Layers[name]; n == nil || !equalInts(n.Shape(), append([]int{1}, want...)) {
			t.Errorf("%s: built %v, want (1, %v)", name, n, want)
		}
	}
	g3, err := m.Build(2, 150, 200, "mixed3")
	if err != nil {
		t.Fatal(err)
	}
	if g3.Layers["mixed4"] != nil || !equalInts(g3.Output.Shape(), []int{2, 768, 7, 10}) {
		t.Errorf("up to mixed3 at 150x200: mixed4 built %v, output %v", g3.Layers["mixed4"] != nil, g3.Output.Shape())
	}
}

// chelsea returns ../shared/samples/chelsea.png resized to h x w, as (1, 3, h, w) pixels in
// 0..255, or skips the test.
func chelsea(t testing.TB, h, w int) *tensor.Dense {
	t.Helper()
	img, err := imaging.Open(chelseaFile)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no %s", chelseaFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	r := imaging.Resize(img, w, h, imaging.Linear)
	x := make([]float32, 3*h*w)
	for y := range h {
		for xx := range w {
			c := r.NRGBAAt(xx, y)
			x[y*w+xx], x[(h+y)*w+xx], x[(2*h+y)*w+xx] = float32(c.R), float32(c.G), float32(c.B)
		}
	}
	return tensor.New(tensor.WithShape(1, 3, h, w), tensor.WithBacking(x))
}

// TestInceptionV3Chelsea runs the embedded trunk on a photo. TensorFlow.js 4 (tfjs-layers, CPU
// backend), running nsfwjs's own model unfolded on the same input tensor, gave these mean
// activations, and agreed with this trunk to 1.1e-5 in every value of mixed0, mixed3 and mixed5.
func TestInceptionV3Chelsea(t *testing.T) {
	m := loadTrunk(t)
	x := chelsea(t, 299, 299)
	g, err := m.Build(1, 299, 299, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(g.Input, x); err != nil {
		t.Fatal(err)
	}
	names := []string{"mixed0", "mixed1", "mixed2", "mixed3", "mixed4", "mixed5"}
	nodes := make([]*G.Node, len(names))
	for i, n := range names {
		nodes[i] = g.Layers[n]
	}
	tfjs := map[string]float64{"mixed0": 0.70040, "mixed3": 0.43668, "mixed5": 0.20768}
	for i, v := range run(t, g.G, nodes...) {
		var sum float64
		zeros := 0
		for _, e := range v {
			if math.IsNaN(float64(e)) || math.IsInf(float64(e), 0) || e < 0 {
				t.Fatalf("%s: value %v (a ReLU output must be finite and not negative)", names[i], e)
			}
			sum += float64(e)
			if e == 0 {
				zeros++
			}
		}
		mean := sum / float64(len(v))
		t.Logf("%s: mean %.4f, %.0f%% zeros", names[i], mean, 100*float64(zeros)/float64(len(v)))
		if want, ok := tfjs[names[i]]; ok && math.Abs(mean-want) > 2e-4 {
			t.Errorf("%s: mean %.5f, TensorFlow.js gave %.5f", names[i], mean, want)
		}
		if zeros == 0 || zeros == len(v) {
			t.Errorf("%s: %d zeros of %d: a trained ReLU layer has some, not all", names[i], zeros, len(v))
		}
	}
}

// BenchmarkInceptionV3Mixed5 times a forward pass of the embedded trunk at 299x299.
func BenchmarkInceptionV3Mixed5(b *testing.B) {
	m := loadTrunk(b)
	g, err := m.Build(1, 299, 299, "")
	if err != nil {
		b.Fatal(err)
	}
	if err := G.Let(g.Input, chelsea(b, 299, 299)); err != nil {
		b.Fatal(err)
	}
	vm := G.NewTapeMachine(g.G)
	defer vm.Close()
	for b.Loop() {
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
}

// forwardFrom runs BuildFrom(from, upTo) on the given input values and returns its output.
func forwardFrom(t *testing.T, m *InceptionV3, batch, h, w int, from, upTo string, in []float32) ([]float32, *InceptionV3Graph) {
	t.Helper()
	g, err := m.BuildFrom(batch, h, w, from, upTo)
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(g.Input, tensor.New(tensor.WithShape(g.Input.Shape()...), tensor.WithBacking(in))); err != nil {
		t.Fatal(err)
	}
	return run(t, g.G, g.Output)[0], g
}

// closeTo reports the first value of got further than float32 rounding from want.
func closeTo(got, want []float32, tol float64) (int, bool) {
	if len(got) != len(want) {
		return -1, false
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol*(1+math.Abs(float64(want[i]))) {
			return i, false
		}
	}
	return 0, true
}

// TestInceptionV3BuildFrom checks on the tiny trunk that the block after conv2d_2, built from
// conv2d_2's output, gives what the whole graph gives from the pixels, and that it builds and
// exposes only that block's weights.
func TestInceptionV3BuildFrom(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	m, err := NewInceptionV3(tinyTrunk(rng))
	if err != nil {
		t.Fatal(err)
	}
	const batch, h, w = 2, 11, 10
	pixels := randoms(rng, batch*3*h*w, 0, 255)
	full, err := m.Build(batch, h, w, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(full.Input, tensor.New(tensor.WithShape(batch, 3, h, w), tensor.WithBacking(pixels))); err != nil {
		t.Fatal(err)
	}
	v := run(t, full.G, full.Layers["conv2d_2"], full.Output)
	shape, err := m.LayerShape("activation_2", h, w)
	if err != nil || shape != [3]int{5, 5, 4} || !equalInts(full.Layers["conv2d_2"].Shape(), []int{batch, 5, 5, 4}) {
		t.Fatalf("LayerShape(activation_2) = %v, %v; built %v", shape, err, full.Layers["conv2d_2"].Shape())
	}
	got, g := forwardFrom(t, m, batch, h, w, "activation_2", "block", v[0])
	if i, ok := closeTo(got, v[1], 1e-6); !ok {
		t.Fatalf("BuildFrom's output differs from Build's at %d (%d values, want %d)", i, len(got), len(v[1]))
	}
	var names []string
	for n := range g.Params {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"conv2d_3/b", "conv2d_3/w", "conv2d_4/b", "conv2d_4/w"}; !slices.Equal(names, want) || g.Layers["conv2d_2"] != nil {
		t.Errorf("params %v, want %v; conv2d_2 built: %v", names, want, g.Layers["conv2d_2"] != nil)
	}
	ps, err := m.Params("conv2d_2", "")
	if err != nil || len(ps) != 4 || ps[0].Name != "conv2d_3/w" || ps[3].Name != "conv2d_4/b" {
		t.Errorf("Params(conv2d_2) = %v, %v", ps, err)
	}
	for _, c := range []struct{ from, upTo, want string }{
		{"conv2d_2", "conv2d_1", "other than through conv2d_2"},
		{"conv2d_3", "block", "other than through conv2d_3"},
		{"nope", "block", `no layer "nope"`},
		{"batch_normalization_2", "block", "folded into conv2d_2"},
		{"block", "", "nothing to build"},
	} {
		if _, err := m.BuildFrom(1, h, w, c.from, c.upTo); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("BuildFrom(%s, %s): %v, want an error with %q", c.from, c.upTo, err, c.want)
		}
	}
	if _, err := m.BuildFrom(1, 2, 2, "conv2d_2", ""); err == nil || !strings.Contains(err.Error(), "conv2d_1") {
		t.Errorf("2x2 pictures: %v, want conv2d_1's window error", err)
	}
}

// TestInceptionV3Clone checks that a clone computes what the original does, and that changing
// the clone's weights changes its outputs and not the original's.
func TestInceptionV3Clone(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	m, err := NewInceptionV3(tinyTrunk(rng))
	if err != nil {
		t.Fatal(err)
	}
	const h, w = 9, 9
	pixels := randoms(rng, 3*h*w, 0, 255)
	forward := func(m *InceptionV3) []float32 {
		g, err := m.Build(1, h, w, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := G.Let(g.Input, tensor.New(tensor.WithShape(1, 3, h, w), tensor.WithBacking(pixels))); err != nil {
			t.Fatal(err)
		}
		return run(t, g.G, g.Output)[0]
	}
	before := forward(m)
	c := m.Clone()
	if !slices.Equal(forward(c), before) || !slices.Equal(c.Layers(), m.Layers()) {
		t.Fatal("the clone computes something else than the original")
	}
	ps, err := c.Params("conv2d_2", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for i := range p.Data {
			p.Data[i] = p.Data[i]*2 + 0.1
		}
	}
	if slices.Equal(forward(c), before) {
		t.Error("changing the clone's weights did not change its output")
	}
	if !slices.Equal(forward(m), before) {
		t.Error("changing the clone's weights changed the original's output")
	}
}

// TestInceptionV3BuildFromTrunk checks on the embedded trunk that mixed5 built from mixed4's
// output gives what Build up to mixed5 gives from the pixels.
func TestInceptionV3BuildFromTrunk(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the trunk")
	}
	m := loadTrunk(t)
	const h, w = 99, 99
	rng := rand.New(rand.NewPCG(15, 16))
	full, err := m.Build(1, h, w, "mixed5")
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(full.Input, tensor.New(tensor.WithShape(1, 3, h, w), tensor.WithBacking(randoms(rng, 3*h*w, 0, 255)))); err != nil {
		t.Fatal(err)
	}
	v := run(t, full.G, full.Layers["mixed4"], full.Output)
	got, g := forwardFrom(t, m, 1, h, w, "mixed4", "mixed5", v[0])
	if i, ok := closeTo(got, v[1], 1e-5); !ok {
		t.Fatalf("mixed5 from mixed4 differs from Build's at %d: %v, want %v", i, got[max(i, 0)], v[1][max(i, 0)])
	}
	if len(g.Params) != 20 { // mixed5 has 10 convolutions
		t.Errorf("%d weight nodes in the mixed5 block, want 20", len(g.Params))
	}
}
