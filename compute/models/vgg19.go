package models

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/formats/mat"
	"convas/compute/nn"
)

// vgg19Mean is the mean pixel (R, G, B) of VGG's training set, as
// meta.normalization.averageImage of imagenet-vgg-verydeep-19.mat holds it.
var vgg19Mean = [3]float32{123.68, 116.779, 103.939}

// VGG19 is the convolutional part of VGG19 (Simonyan and Zisserman, "Very Deep Convolutional
// Networks for Large-Scale Image Recognition", arXiv:1409.1556), up to pool5, as the style
// transfer recipe uses it: sixteen 3x3 convolutions (conv1_1 ... conv5_4), each followed by its
// ReLU (relu1_1 ... relu5_4), and five 2x2 max-poolings (pool1 ... pool5).
//
// LoadVGG19 reads it from MatConvNet's imagenet-vgg-verydeep-19.mat (or the older beta16 file
// of the same name); the classifier (fc6, fc7, fc8 and the softmax) is not kept.
type VGG19 struct {
	// Mean is the mean pixel (R, G, B) in 0..255 of the training set, which a built graph
	// subtracts from its input: the file's average image, averaged over its pixels when it is
	// a whole image, as in the beta16 file.
	Mean [3]float32
	// Direct, when set, makes built graphs compute every convolution directly, never by
	// Winograd: slower, with the rounding of the direct convolution, which tests use to compare
	// two ways of running the same graph bit for bit.
	Direct bool

	layers []*vggLayer // in order, from conv1_1
}

// vggLayer is one layer of a MatConvNet SimpleNN network.
type vggLayer struct {
	name     string
	kind     string // "conv" (a convolution with its bias), "relu" or "maxpool"
	channels int    // of the output

	// Convolutions and poolings: the window, the strides and MatConvNet's explicit padding.
	kh, kw, sh, sw int
	pad            nn.Padding
	// Convolutions: the filters (out, in, kh, kw) and the biases (out).
	w, b *Param
}

// LoadVGG19 reads a MatConvNet SimpleNN MAT-file, such as imagenet-vgg-verydeep-19.mat, and
// prepares the network it holds; see NewVGG19.
func LoadVGG19(r io.Reader) (*VGG19, error) {
	f, err := mat.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("models: vgg19: %w", err)
	}
	return NewVGG19(f)
}

// NewVGG19 prepares the network of a decoded MatConvNet SimpleNN file: the variable layers, a
// cell of layer structs (name, type, weights, pad, stride; pool and method for poolings), read
// in order up to pool5 or the first fully connected layer (one whose name starts with fc, or
// of type fc, dropout or softmax), and the average image, meta.normalization.averageImage (or
// normalization.averageImage in beta16 files).
//
// Filters are converted from MATLAB's column-major H x W x Cin x Cout to (Cout, Cin, H, W);
// MatConvNet correlates, as Conv2D does, so they are not flipped. Each layer is checked: its
// type, its weights' shapes against the channels of the layer before, its padding and strides.
// Errors name the layer. Other layer types (lrn, bnorm, average pooling, leaky ReLUs) are not
// supported.
func NewVGG19(f *mat.File) (*VGG19, error) {
	mean, err := vggMean(f)
	if err != nil {
		return nil, fmt.Errorf("models: vgg19: %w", err)
	}
	a, err := f.Lookup("layers")
	if err != nil {
		return nil, fmt.Errorf("models: vgg19: %w", err)
	}
	cells, ok := a.(*mat.Cell)
	if !ok {
		if _, ok := a.(*mat.Struct); ok {
			return nil, fmt.Errorf("models: vgg19: layers is a struct array, as in a DagNN network; only SimpleNN networks, whose layers are a cell, are read")
		}
		return nil, fmt.Errorf("models: vgg19: layers is a %v %v, not a cell", a.Header().Dims, a.Header().Class)
	}
	m := &VGG19{Mean: mean}
	channels := 3
	seen := map[string]bool{}
	for i, e := range cells.Elems {
		l, ok := e.(*mat.Struct)
		if !ok || len(l.Elems) != 1 {
			return nil, fmt.Errorf("models: vgg19: layers{%d} is a %v %v, not a 1x1 struct", i+1, e.Header().Dims, e.Header().Class)
		}
		name, err := mat.LookupString(l, "name")
		if err != nil {
			return nil, fmt.Errorf("models: vgg19: layers{%d}: %w", i+1, err)
		}
		typ, err := mat.LookupString(l, "type")
		if err != nil {
			return nil, fmt.Errorf("models: vgg19: layers{%d} (%s): %w", i+1, name, err)
		}
		if classifier(name, typ) {
			break
		}
		if seen[name] || name == "" {
			return nil, fmt.Errorf("models: vgg19: layers{%d}: name %q is empty or used twice", i+1, name)
		}
		seen[name] = true
		v, err := vggLayerOf(l, name, typ, channels)
		if err != nil {
			return nil, fmt.Errorf("models: vgg19: layers{%d} (%s): %w", i+1, name, err)
		}
		m.layers = append(m.layers, v)
		channels = v.channels
		if name == "pool5" {
			break
		}
	}
	if len(m.layers) == 0 {
		return nil, fmt.Errorf("models: vgg19: the file has no convolutional layers")
	}
	return m, nil
}

// classifier reports whether a layer starts the classifier, where loading stops.
func classifier(name, typ string) bool {
	switch typ {
	case "fc", "dropout", "softmax", "softmaxloss":
		return true
	}
	return strings.HasPrefix(name, "fc") || name == "prob"
}

// vggLayerOf reads one layer whose input has the given channels.
func vggLayerOf(l *mat.Struct, name, typ string, channels int) (*vggLayer, error) {
	v := &vggLayer{name: name, channels: channels}
	switch typ {
	case "conv":
		v.kind = "conv"
		return v, v.readConv(l, channels)
	case "relu":
		v.kind = "relu"
		if l.HasField("leak") {
			leak, err := scalarField(l, "leak")
			if err != nil {
				return nil, err
			}
			if leak != 0 {
				return nil, fmt.Errorf("a leaky ReLU (leak %v) is not supported", leak)
			}
		}
		return v, nil
	case "pool":
		v.kind = "maxpool"
		if l.HasField("method") {
			method, err := mat.LookupString(l, "method")
			if err != nil {
				return nil, err
			}
			if method != "max" {
				return nil, fmt.Errorf("pooling method %q is not supported (only max)", method)
			}
		}
		size, err := intsField(l, "pool", nil, 2)
		if err != nil {
			return nil, err
		}
		v.kh, v.kw = size[0], size[1]
		if err := v.readWindow(l); err != nil {
			return nil, err
		}
		if p := v.pad; p.Top >= v.kh || p.Bottom >= v.kh || p.Left >= v.kw || p.Right >= v.kw {
			return nil, fmt.Errorf("padding %v is not smaller than the %dx%d window", p, v.kh, v.kw)
		}
		return v, nil
	}
	return nil, fmt.Errorf("layer type %q is not supported (only conv, relu and pool)", typ)
}

// readConv reads a convolution's weights, padding and strides.
func (v *vggLayer) readConv(l *mat.Struct, in int) error {
	fw, bw, err := convWeights(l)
	if err != nil {
		return err
	}
	d, err := mat.Dims4(fw)
	if err != nil {
		return fmt.Errorf("filters: %w", err)
	}
	if d[2] != in {
		return fmt.Errorf("filters %dx%dx%dx%d take %d channels, the layer before gives %d", d[0], d[1], d[2], d[3], d[2], in)
	}
	if d[0] <= 0 || d[1] <= 0 || d[3] <= 0 {
		return fmt.Errorf("filters %dx%dx%dx%d are empty", d[0], d[1], d[2], d[3])
	}
	data, shape, err := mat.ConvFilters(fw)
	if err != nil {
		return fmt.Errorf("filters: %w", err)
	}
	b, err := bw.Float32s()
	if err != nil {
		return fmt.Errorf("biases: %w", err)
	}
	if len(b) != shape[0] {
		return fmt.Errorf("%d biases for %d filters", len(b), shape[0])
	}
	v.kh, v.kw, v.channels = shape[2], shape[3], shape[0]
	v.w = &Param{Name: v.name + "/w", Shape: shape[:], Data: data}
	v.b = &Param{Name: v.name + "/b", Shape: []int{shape[0]}, Data: slices.Clone(b)}
	if l.HasField("dilate") {
		dil, err := intsField(l, "dilate", nil, 2)
		if err != nil {
			return err
		}
		if dil[0] != 1 || dil[1] != 1 {
			return fmt.Errorf("dilation %v is not supported", dil)
		}
	}
	return v.readWindow(l)
}

// convWeights returns a convolution's filters and biases: weights{1} and weights{2}, or the
// fields filters and biases of older files.
func convWeights(l *mat.Struct) (f, b *mat.Numeric, err error) {
	fp, bp := "weights{1}", "weights{2}"
	if !l.HasField("weights") && l.HasField("filters") {
		fp, bp = "filters", "biases"
	}
	if f, err = mat.LookupAs[*mat.Numeric](l, fp); err != nil {
		return nil, nil, fmt.Errorf("filters: %w", err)
	}
	if b, err = mat.LookupAs[*mat.Numeric](l, bp); err != nil {
		return nil, nil, fmt.Errorf("biases: %w", err)
	}
	return f, b, nil
}

// readWindow reads the strides (stride: one value, or [vertical horizontal]) and the padding
// (pad: one value, or [top bottom left right]) of a convolution or pooling.
func (v *vggLayer) readWindow(l *mat.Struct) error {
	s, err := intsField(l, "stride", []int{1}, 2)
	if err != nil {
		return err
	}
	p, err := intsField(l, "pad", []int{0}, 4)
	if err != nil {
		return err
	}
	if s[0] <= 0 || s[1] <= 0 {
		return fmt.Errorf("stride %v is not positive", s)
	}
	if slices.Min(p) < 0 {
		return fmt.Errorf("padding %v is negative", p)
	}
	v.sh, v.sw = s[0], s[1]
	v.pad = nn.Padding{Top: p[0], Bottom: p[1], Left: p[2], Right: p[3]}
	return nil
}

// intsField reads a field of whole numbers that holds one value or n; one value stands for n
// equal ones. A missing field gives def, or an error if def is nil.
func intsField(l *mat.Struct, field string, def []int, n int) ([]int, error) {
	if !l.HasField(field) && def != nil {
		return slices.Repeat(def, n), nil
	}
	a, err := mat.LookupAs[*mat.Numeric](l, field)
	if err != nil {
		return nil, err
	}
	v, err := a.Ints()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	switch len(v) {
	case 1:
		return slices.Repeat(v, n), nil
	case n:
		return v, nil
	}
	return nil, fmt.Errorf("%s %v has %d values, want 1 or %d", field, v, len(v), n)
}

// scalarField reads a numeric field of one value.
func scalarField(l *mat.Struct, field string) (float64, error) {
	a, err := mat.LookupAs[*mat.Numeric](l, field)
	if err != nil {
		return 0, err
	}
	v, err := a.Scalar()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	return v, nil
}

// vggMean reads the mean pixel from the average image of either file layout.
func vggMean(f *mat.File) ([3]float32, error) {
	var mean [3]float32
	a, err := f.Lookup("meta.normalization.averageImage")
	if errors.Is(err, mat.ErrNotFound) {
		var err2 error
		if a, err2 = f.Lookup("normalization.averageImage"); err2 == nil {
			err = nil
		}
	}
	if err != nil {
		return mean, fmt.Errorf("no average image (meta.normalization.averageImage, or normalization.averageImage in beta16 files): %w", err)
	}
	n, ok := a.(*mat.Numeric)
	if !ok {
		return mean, fmt.Errorf("the average image is a %v %v, not numbers", a.Header().Dims, a.Header().Class)
	}
	v, err := n.Float64s()
	if err != nil {
		return mean, fmt.Errorf("average image: %w", err)
	}
	// A 1x1x3 mean pixel or an HxWx3 image, column-major: the three planes one after another.
	d, err := mat.Dims4(n)
	if err != nil || d[3] != 1 || (len(v) != 3 && d[2] != 3) || len(v)%3 != 0 || len(v) == 0 {
		return mean, fmt.Errorf("the average image is %v, want 1x1x3 or HxWx3", n.Dims)
	}
	plane := len(v) / 3
	for c := range 3 {
		var s float64
		for _, x := range v[c*plane : (c+1)*plane] {
			s += x
		}
		mean[c] = float32(s / float64(plane))
	}
	return mean, nil
}

// NewVGG19Random returns a VGG19 of the real shapes, up to pool5, with random weights drawn from
// the seed: He initialisation (normal, standard deviation sqrt(2/fan-in)) and zero biases, the
// real mean pixel, and MatConvNet's pooling padding [0 1 0 1]. It stands in for the real file
// in benchmarks and tests.
func NewVGG19Random(seed uint64) *VGG19 {
	return newVGG19(rand.New(rand.NewPCG(seed, 0x5647473139))) // "VGG19"
}

// newVGG19 returns a VGG19 of the real shapes with weights from heNormal, or zero weights if
// rng is nil.
func newVGG19(rng *rand.Rand) *VGG19 {
	m := &VGG19{Mean: vgg19Mean}
	in := 3
	for block, convs := range []int{2, 2, 4, 4, 4} {
		out := []int{64, 128, 256, 512, 512}[block]
		for i := 1; i <= convs; i++ {
			suffix := fmt.Sprintf("%d_%d", block+1, i)
			conv := &vggLayer{name: "conv" + suffix, kind: "conv", channels: out, kh: 3, kw: 3, sh: 1, sw: 1,
				pad: nn.Padding{Top: 1, Bottom: 1, Left: 1, Right: 1}}
			conv.w = &Param{Name: conv.name + "/w", Shape: []int{out, in, 3, 3}, Data: make([]float32, out*in*3*3)}
			conv.b = &Param{Name: conv.name + "/b", Shape: []int{out}, Data: make([]float32, out)}
			heNormal(rng, conv.w.Data, in*3*3)
			m.layers = append(m.layers, conv, &vggLayer{name: "relu" + suffix, kind: "relu", channels: out})
			in = out
		}
		m.layers = append(m.layers, &vggLayer{name: fmt.Sprintf("pool%d", block+1), kind: "maxpool", channels: out,
			kh: 2, kw: 2, sh: 2, sw: 2, pad: nn.Padding{Bottom: 1, Right: 1}})
	}
	return m
}

// heNormal fills w with He initialisation for a layer of the given fan-in: normal values of
// standard deviation sqrt(2/fanIn) (He et al., arXiv:1502.01852). A nil rng leaves w as it is.
func heNormal(rng *rand.Rand, w []float32, fanIn int) {
	if rng == nil {
		return
	}
	std := math.Sqrt(2 / float64(fanIn))
	for i := range w {
		w[i] = float32(rng.NormFloat64() * std)
	}
}

// Layers lists the network's layers in order. Kind is "conv" (a convolution with its bias; its
// ReLU is the next layer), "relu" or "maxpool".
func (m *VGG19) Layers() []LayerInfo {
	out := make([]LayerInfo, len(m.layers))
	for i, l := range m.layers {
		out[i] = LayerInfo{Name: l.name, Kind: l.kind, Channels: l.channels}
	}
	return out
}

// VGG19Graph is one instance of the network for a fixed input size.
type VGG19Graph struct {
	G *G.ExprGraph
	// Input is (batch, 3, height, width): RGB pixels in 0..255. The graph subtracts the model's
	// Mean from them, as VGG expects.
	Input *G.Node
	// Output is the output of the layer the graph was built up to.
	Output *G.Node
	// Layers are the outputs of every layer built, (batch, channels, height, width), by name:
	// conv1_1 (before its ReLU), relu1_1, ..., pool1, ... A tape machine may overwrite a
	// layer's value in place once nothing else reads it (relu1_1 overwrites conv1_1): to read
	// values after a run, use gorgonia.Read or compile the layer as an output.
	Layers map[string]*G.Node
}

// Build makes a graph of the network for a batch of pictures of h x w pixels, up to and
// including the layer upTo (pool5, or the last layer read, if upTo is empty): style transfer
// stops at relu5_1, and nothing after upTo is built. The weights are shared with every other
// graph built from m. Every layer's output shape is checked as it is built; an error names the
// layer.
func (m *VGG19) Build(batch, h, w int, upTo string) (*VGG19Graph, error) {
	last := len(m.layers) - 1
	if upTo != "" {
		last = slices.IndexFunc(m.layers, func(l *vggLayer) bool { return l.name == upTo })
		if last < 0 {
			return nil, fmt.Errorf("models: vgg19: no layer %q (Layers lists them)", upTo)
		}
	}
	if batch <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("models: vgg19: input %dx%dx%d is empty", batch, h, w)
	}
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, 3, h, w), G.WithName("input"))
	neg := []float32{-m.Mean[0], -m.Mean[1], -m.Mean[2]}
	mean := G.NewTensor(g, tensor.Float32, 1, G.WithShape(3), G.WithName("vgg19/-mean"),
		G.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking(neg))))
	y, err := nn.AddBias(x, mean)
	if err != nil {
		return nil, fmt.Errorf("models: vgg19: mean subtraction: %w", err)
	}
	out := &VGG19Graph{G: g, Input: x, Layers: map[string]*G.Node{}}
	for _, l := range m.layers[:last+1] {
		if y, err = l.build(g, y, m.Direct); err != nil {
			return nil, fmt.Errorf("models: vgg19: layer %s: %w", l.name, err)
		}
		out.Layers[l.name] = y
	}
	out.Output = y
	return out, nil
}

// build adds the layer to the graph after x and checks its output shape.
func (l *vggLayer) build(g *G.ExprGraph, x *G.Node, direct bool) (*G.Node, error) {
	s := x.Shape()
	n, h, w := s[0], s[2], s[3]
	oh, ow := h, w
	if l.kind != "relu" {
		oh = paddedOut(h, l.pad.Top, l.pad.Bottom, l.kh, l.sh)
		ow = paddedOut(w, l.pad.Left, l.pad.Right, l.kw, l.sw)
		if oh <= 0 || ow <= 0 {
			return nil, fmt.Errorf("input %dx%d padded by %v is smaller than the %dx%d window", h, w, l.pad, l.kh, l.kw)
		}
	}
	var y *G.Node
	var err error
	switch l.kind {
	case "conv":
		wn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(l.w.Shape...), G.WithName(l.w.Name), G.WithValue(l.w.Tensor()))
		bn := G.NewTensor(g, tensor.Float32, 1, G.WithShape(l.b.Shape...), G.WithName(l.b.Name), G.WithValue(l.b.Tensor()))
		// Winograd where it is faster (nn.ConvWinograd: VGG19's 3x3 layers at stride 1), within
		// about 5e-6 of the largest output of the direct convolution.
		algo := nn.ConvWinograd
		if direct {
			algo = nn.ConvDirect
		}
		y, err = nn.Conv2DBiasAlgo(x, wn, bn, l.pad, l.sh, l.sw, algo)
	case "relu":
		y, err = nn.ReLU(x)
	case "maxpool":
		y, err = nn.MaxPool2D(x, l.kh, l.kw, l.sh, l.sw, l.pad)
	}
	if err != nil {
		return nil, err
	}
	if err := expect(l.name, y, n, l.channels, oh, ow); err != nil {
		return nil, err
	}
	return y, nil
}

// paddedOut is the number of windows of size k at stride s over in cells padded by before and
// after, as MatConvNet counts them: floor((in + before + after - k)/s) + 1, or 0 if the window
// does not fit.
func paddedOut(in, before, after, k, s int) int {
	span := in + before + after - k
	if span < 0 {
		return 0
	}
	return span/s + 1
}
