package models

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/formats/mat"
	"convas/compute/nn"
)

// A small MAT-file level 5 writer for the fixtures, after compute/formats/mat's writer_test.go:
// little-endian, each variable optionally in a miCOMPRESSED element as MATLAB's save -v7 does.

const (
	miINT8       = 1
	miINT32      = 5
	miUINT32     = 6
	miUINT16     = 4
	miSINGLE     = 7
	miDOUBLE     = 9
	miMATRIX     = 14
	miCOMPRESSED = 15
)

// encodeMAT returns a MAT-file holding vars.
func encodeMAT(compress bool, vars ...mat.Array) []byte {
	var b bytes.Buffer
	text := "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2026"
	b.WriteString(text + strings.Repeat(" ", 116-len(text)))
	b.Write(make([]byte, 8))
	b.Write([]byte{0, 1, 'I', 'M'}) // version 0x0100, little-endian
	for _, v := range vars {
		m := matElement(miMATRIX, matBody(v))
		if compress {
			var z bytes.Buffer
			zw := zlib.NewWriter(&z)
			zw.Write(m)
			zw.Close()
			m = binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, miCOMPRESSED), uint32(z.Len()))
			m = append(m, z.Bytes()...)
		}
		b.Write(m)
	}
	return b.Bytes()
}

// matElement returns a data element: tag, data, padding to 8 bytes.
func matElement(typ uint32, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// matBody returns the subelements of a's miMATRIX element.
func matBody(a mat.Array) []byte {
	h := a.Header()
	var dims []byte
	for _, d := range h.Dims {
		dims = binary.LittleEndian.AppendUint32(dims, uint32(d))
	}
	b := matElement(miUINT32, binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, uint32(h.Class)), 0))
	b = append(b, matElement(miINT32, dims)...)
	b = append(b, matElement(miINT8, []byte(h.Name))...)
	switch v := a.(type) {
	case *mat.Numeric:
		var d bytes.Buffer
		binary.Write(&d, binary.LittleEndian, v.Data)
		typ := uint32(miDOUBLE)
		if h.Class == mat.ClassSingle {
			typ = miSINGLE
		}
		b = append(b, matElement(typ, d.Bytes())...)
	case *mat.Char:
		var d []byte
		for _, r := range v.Value {
			d = binary.LittleEndian.AppendUint16(d, uint16(r))
		}
		b = append(b, matElement(miUINT16, d)...)
	case *mat.Cell:
		for _, e := range v.Elems {
			b = append(b, matElement(miMATRIX, matBody(e))...)
		}
	case *mat.Struct:
		b = append(b, matElement(miINT32, binary.LittleEndian.AppendUint32(nil, 32))...)
		names := make([]byte, 32*len(v.Fields))
		for i, f := range v.Fields {
			copy(names[32*i:], f)
		}
		b = append(b, matElement(miINT8, names)...)
		for _, e := range v.Elems[0] {
			b = append(b, matElement(miMATRIX, matBody(e))...)
		}
	}
	return b
}

func matSingle(dims []int, v ...float32) *mat.Numeric {
	return &mat.Numeric{ArrayHeader: mat.ArrayHeader{Dims: dims, Class: mat.ClassSingle}, Data: v}
}

func matDouble(v ...float64) *mat.Numeric {
	return &mat.Numeric{ArrayHeader: mat.ArrayHeader{Dims: []int{1, len(v)}, Class: mat.ClassDouble}, Data: v}
}

func matStr(s string) *mat.Char {
	return &mat.Char{ArrayHeader: mat.ArrayHeader{Dims: []int{1, len(s)}, Class: mat.ClassChar}, Value: s}
}

func matRow(elems ...mat.Array) *mat.Cell {
	return &mat.Cell{ArrayHeader: mat.ArrayHeader{Dims: []int{1, len(elems)}, Class: mat.ClassCell}, Elems: elems}
}

// matRecord returns a 1x1 struct; kv alternates field names and arrays.
func matRecord(kv ...any) *mat.Struct {
	s := &mat.Struct{ArrayHeader: mat.ArrayHeader{Dims: []int{1, 1}, Class: mat.ClassStruct}, Elems: [][]mat.Array{nil}}
	for i := 0; i < len(kv); i += 2 {
		s.Fields = append(s.Fields, kv[i].(string))
		s.Elems[0] = append(s.Elems[0], kv[i+1].(mat.Array))
	}
	return s
}

// named gives a top-level variable its name.
func named[T mat.Array](name string, a T) T {
	a.Header().Name = name
	return a
}

// matConv is a MatConvNet convolution layer with filters h x w x in x out (column-major).
func matConv(name string, f []float32, dims []int, b []float32, pad []float64, stride []float64) *mat.Struct {
	return matRecord("name", matStr(name), "type", matStr("conv"),
		"weights", matRow(matSingle(dims, f...), matSingle([]int{1, len(b)}, b...)),
		"pad", matDouble(pad...), "stride", matDouble(stride...), "dilate", matDouble(1, 1))
}

func matReLU(name string) *mat.Struct {
	return matRecord("name", matStr(name), "type", matStr("relu"), "leak", matDouble(0))
}

func matPool(name string) *mat.Struct {
	return matRecord("name", matStr(name), "type", matStr("pool"), "method", matStr("max"),
		"pool", matDouble(2, 2), "stride", matDouble(2, 2), "pad", matDouble(0, 1, 0, 1))
}

// miniVGG is a miniature of imagenet-vgg-verydeep-19.mat: its layers (two convolutions with
// their ReLUs and a pooling, then a classifier the loader must skip) and its meta.
type miniVGG struct {
	layers []mat.Array
	meta   *mat.Struct // nil for none
	beta16 bool        // the older layout: a top-level normalization with a whole average image
}

// Fixture values: the two convolutions' filters (column-major) and biases.
var (
	miniF1 = randoms(rand.New(rand.NewPCG(19, 1)), 3*3*3*2, -1, 1)
	miniB1 = []float32{0.5, -0.25}
	miniF2 = randoms(rand.New(rand.NewPCG(19, 2)), 3*3*2*2, -1, 1)
	miniB2 = []float32{0.125, 0.75}
)

// The miniature's padding and strides: conv1_2 pads and strides unevenly, as VGG does not, so
// that their order in the file ([top bottom left right], [vertical horizontal]) is tested.
var (
	miniPad1, miniStride1 = []float64{1, 1, 1, 1}, []float64{1, 1}
	miniPad2, miniStride2 = []float64{0, 1, 1, 2}, []float64{1, 2}
)

func newMiniVGG() *miniVGG {
	return &miniVGG{
		layers: []mat.Array{
			matConv("conv1_1", miniF1, []int{3, 3, 3, 2}, miniB1, miniPad1, miniStride1),
			matReLU("relu1_1"),
			matConv("conv1_2", miniF2, []int{3, 3, 2, 2}, miniB2, miniPad2, miniStride2),
			matReLU("relu1_2"),
			matPool("pool1"),
			matConv("fc6", make([]float32, 2*2*2*4), []int{2, 2, 2, 4}, make([]float32, 4), []float64{0}, []float64{1}),
			matRecord("name", matStr("prob"), "type", matStr("softmax")),
		},
		meta: matRecord("normalization", matRecord(
			"averageImage", matSingle([]int{1, 1, 3}, vgg19Mean[:]...),
			"imageSize", matDouble(224, 224, 3),
		)),
	}
}

// file encodes the miniature.
func (v *miniVGG) file(compress bool) []byte {
	vars := []mat.Array{named("layers", matRow(v.layers...))}
	if v.meta != nil {
		if v.beta16 {
			vars = append(vars, named("classes", matRecord("name", matRow(matStr("n01440764")))), named("normalization", v.meta.Elems[0][0].(*mat.Struct)))
		} else {
			vars = append(vars, named("meta", v.meta))
		}
	}
	return encodeMAT(compress, vars...)
}

// load decodes and loads the miniature.
func (v *miniVGG) load(t testing.TB) *VGG19 {
	t.Helper()
	m, err := LoadVGG19(bytes.NewReader(v.file(true)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// refTensor is a reference activation, NHWC in float64.
type refTensor struct {
	n, h, w, c int
	v          []float64
}

func newRef(n, h, w, c int) refTensor { return refTensor{n, h, w, c, make([]float64, n*h*w*c)} }

func (r refTensor) idx(n, y, x, c int) int { return ((n*r.h+y)*r.w+x)*r.c + c }

// at returns a value, 0 outside the picture.
func (r refTensor) at(n, y, x, c int) float64 {
	if y < 0 || y >= r.h || x < 0 || x >= r.w {
		return 0
	}
	return r.v[r.idx(n, y, x, c)]
}

// pixels returns the reference of an NCHW input less a per-channel mean.
func pixels(x []float32, n, h, w int, mean [3]float32) refTensor {
	r := newRef(n, h, w, 3)
	for i := range n {
		for c := range 3 {
			for y := range h {
				for xx := range w {
					r.v[r.idx(i, y, xx, c)] = float64(x[((i*3+c)*h+y)*w+xx]) - float64(mean[c])
				}
			}
		}
	}
	return r
}

// matConvRef is MatConvNet's vl_nnconv, read straight from the column-major filters:
// y(i,j,o) = b(o) + Σ F(u,v,k,o)·x(i·sy + u - top, j·sx + v - left, k).
func matConvRef(x refTensor, f []float32, fd [4]int, b []float32, pad, stride []float64) refTensor {
	pt, pb, pl, pr := int(pad[0]), int(pad[1]), int(pad[2]), int(pad[3])
	sy, sx := int(stride[0]), int(stride[1])
	oh, ow := (x.h+pt+pb-fd[0])/sy+1, (x.w+pl+pr-fd[1])/sx+1
	y := newRef(x.n, oh, ow, fd[3])
	for n := range x.n {
		for i := range oh {
			for j := range ow {
				for o := range fd[3] {
					s := float64(b[o])
					for u := range fd[0] {
						for v := range fd[1] {
							for k := range fd[2] {
								s += float64(f[u+fd[0]*(v+fd[1]*(k+fd[2]*o))]) * x.at(n, i*sy+u-pt, j*sx+v-pl, k)
							}
						}
					}
					y.v[y.idx(n, i, j, o)] = s
				}
			}
		}
	}
	return y
}

func reluRef(x refTensor) refTensor {
	y := refTensor{x.n, x.h, x.w, x.c, slices.Clone(x.v)}
	for i, v := range y.v {
		y.v[i] = max(v, 0)
	}
	return y
}

// maxPoolRef takes the maximum of each k x k window at stride s, padded after by one cell on
// each axis (MatConvNet's [0 1 0 1]); padded cells never win.
func maxPoolRef(x refTensor, k, s int) refTensor {
	oh, ow := (x.h+1-k)/s+1, (x.w+1-k)/s+1
	y := newRef(x.n, oh, ow, x.c)
	for n := range x.n {
		for i := range oh {
			for j := range ow {
				for c := range x.c {
					m := math.Inf(-1)
					for u := i * s; u < min(i*s+k, x.h); u++ {
						for v := j * s; v < min(j*s+k, x.w); v++ {
							m = max(m, x.at(n, u, v, c))
						}
					}
					y.v[y.idx(n, i, j, c)] = m
				}
			}
		}
	}
	return y
}

// compareNCHW checks an NCHW value against an NHWC reference.
func compareNCHW(t *testing.T, name string, got []float32, shape tensor.Shape, want refTensor) {
	t.Helper()
	if !equalInts(shape, []int{want.n, want.c, want.h, want.w}) {
		t.Errorf("%s: shape %v, want (%d, %d, %d, %d)", name, shape, want.n, want.c, want.h, want.w)
		return
	}
	worst := 0.0
	for n := range want.n {
		for c := range want.c {
			for y := range want.h {
				for x := range want.w {
					g, w := float64(got[((n*want.c+c)*want.h+y)*want.w+x]), want.at(n, y, x, c)
					if d := math.Abs(g-w) / (1 + math.Abs(w)); d > worst {
						worst = d
					}
					if math.Abs(g-w) > 1e-4*(1+math.Abs(w)) {
						t.Errorf("%s at (%d, %d, %d, %d): %v, want %v", name, n, c, y, x, g, w)
						return
					}
				}
			}
		}
	}
	t.Logf("%s: largest relative error %.2g", name, worst)
}

// forwardVGG builds m for an input, runs it and returns the values of the layers built. The
// values are read as the machine computes them: a later op may overwrite a value in place
// (relu1_1 overwrites conv1_1).
func forwardVGG(t *testing.T, m *VGG19, x []float32, n, h, w int, upTo string) map[string]*tensor.Dense {
	t.Helper()
	g, err := m.Build(n, h, w, upTo)
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(g.Input, tensor.New(tensor.WithShape(n, 3, h, w), tensor.WithBacking(x))); err != nil {
		t.Fatal(err)
	}
	if g.Output != g.Layers[upTo] && upTo != "" {
		t.Errorf("the output is not %s", upTo)
	}
	return runRead(t, g.G, g.Layers)
}

// runRead runs a graph and returns the values of the given nodes, each as it was computed.
func runRead(t *testing.T, g *G.ExprGraph, nodes map[string]*G.Node) map[string]*tensor.Dense {
	t.Helper()
	vals := map[string]*G.Value{}
	for name, n := range nodes {
		vals[name] = new(G.Value)
		G.Read(n, vals[name])
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	out := map[string]*tensor.Dense{}
	for name, v := range vals {
		out[name] = (*v).(*tensor.Dense)
	}
	return out
}

// TestVGG19Miniature checks every layer of the miniature against MatConvNet's definitions
// computed straight from the column-major file data, for both file layouts.
func TestVGG19Miniature(t *testing.T) {
	const n, h, w = 2, 6, 7
	x := randoms(rand.New(rand.NewPCG(19, 3)), n*3*h*w, 0, 255)
	for _, beta16 := range []bool{false, true} {
		t.Run(map[bool]string{false: "current", true: "beta16"}[beta16], func(t *testing.T) {
			v := newMiniVGG()
			mean := vgg19Mean
			if beta16 {
				// A 4x5x3 average image of 100c + 10y + x: its pixels average 100c + 17.
				img := make([]float32, 4*5*3)
				for y := range 4 {
					for xx := range 5 {
						for c := range 3 {
							img[y+4*(xx+5*c)] = float32(100*c + 10*y + xx)
						}
					}
				}
				v.beta16 = true
				v.meta = matRecord("normalization", matRecord("averageImage", matSingle([]int{4, 5, 3}, img...)))
				mean = [3]float32{17, 117, 217}
			}
			m := v.load(t)
			if m.Mean != mean {
				t.Errorf("mean %v, want %v", m.Mean, mean)
			}
			want := []LayerInfo{{"conv1_1", "conv", 2}, {"relu1_1", "relu", 2}, {"conv1_2", "conv", 2}, {"relu1_2", "relu", 2}, {"pool1", "maxpool", 2}}
			if got := m.Layers(); !slices.Equal(got, want) {
				t.Errorf("layers %v, want %v", got, want)
			}
			got := forwardVGG(t, m, x, n, h, w, "pool1")
			r := map[string]refTensor{}
			r["conv1_1"] = matConvRef(pixels(x, n, h, w, mean), miniF1, [4]int{3, 3, 3, 2}, miniB1, miniPad1, miniStride1)
			r["relu1_1"] = reluRef(r["conv1_1"])
			r["conv1_2"] = matConvRef(r["relu1_1"], miniF2, [4]int{3, 3, 2, 2}, miniB2, miniPad2, miniStride2)
			r["relu1_2"] = reluRef(r["conv1_2"])
			r["pool1"] = maxPoolRef(r["relu1_2"], 2, 2)
			for _, l := range want {
				compareNCHW(t, l.Name, got[l.Name].Data().([]float32), got[l.Name].Shape(), r[l.Name])
			}
		})
	}
}

// TestVGG19FilterOrientation checks by hand that MATLAB's first filter axis is the picture's
// rows: a filter whose only 1 is at F(1,3) (row 1, column 3, counting from 1) on the red
// channel, padded by 1, gives out(y, x) = red(y-1, x+1) - mean.
func TestVGG19FilterOrientation(t *testing.T) {
	f := make([]float32, 3*3*3)
	f[0+3*2] = 1 // F(1,3,1)
	v := newMiniVGG()
	v.layers = []mat.Array{matConv("conv1_1", f, []int{3, 3, 3}, []float32{0}, []float64{1}, []float64{1})}
	m := v.load(t)
	const h, w = 4, 5
	x := make([]float32, 3*h*w)
	for i := range x {
		x[i] = float32(i) // red(y, x) = 5y + x
	}
	out := forwardVGG(t, m, x, 1, h, w, "conv1_1")["conv1_1"].Data().([]float32)
	red := func(y, x int) float32 { return float32(w*y+x) - vgg19Mean[0] }
	for _, c := range []struct {
		y, x int
		want float32
	}{
		{1, 1, red(0, 2)}, {2, 0, red(1, 1)}, {3, 3, red(2, 4)}, // inside
		{0, 2, 0}, {2, 4, 0}, // reading the padding above and to the right
	} {
		if got := out[c.y*w+c.x]; math.Abs(float64(got-c.want)) > 1e-4 {
			t.Errorf("out(%d, %d) = %v, want %v", c.y, c.x, got, c.want)
		}
	}
}

// TestVGG19Damaged checks that a damaged file gives an error naming what is wrong.
func TestVGG19Damaged(t *testing.T) {
	lrn := matRecord("name", matStr("norm1"), "type", matStr("lrn"))
	cases := []struct {
		name string
		mod  func(v *miniVGG)
		want []string
	}{
		{"filters of the wrong depth", func(v *miniVGG) {
			v.layers[2] = matConv("conv1_2", make([]float32, 3*3*3*2), []int{3, 3, 3, 2}, miniB2, miniPad2, miniStride2)
		}, []string{"conv1_2", "take 3 channels, the layer before gives 2"}},
		{"biases", func(v *miniVGG) {
			v.layers[0] = matConv("conv1_1", miniF1, []int{3, 3, 3, 2}, []float32{1, 2, 3}, miniPad1, miniStride1)
		}, []string{"conv1_1", "3 biases for 2 filters"}},
		{"no weights", func(v *miniVGG) {
			v.layers[0] = matRecord("name", matStr("conv1_1"), "type", matStr("conv"))
		}, []string{"conv1_1", "filters", "weights"}},
		{"weights of text", func(v *miniVGG) {
			v.layers[0] = matRecord("name", matStr("conv1_1"), "type", matStr("conv"), "weights", matRow(matStr("F"), matStr("b")))
		}, []string{"conv1_1", "filters"}},
		{"unknown type", func(v *miniVGG) { v.layers = slices.Insert(v.layers, 2, mat.Array(lrn)) },
			[]string{"layers{3} (norm1)", `layer type "lrn" is not supported`}},
		{"average pooling", func(v *miniVGG) {
			v.layers[4] = matRecord("name", matStr("pool1"), "type", matStr("pool"), "method", matStr("avg"), "pool", matDouble(2))
		}, []string{"pool1", `pooling method "avg"`}},
		{"pooling padding", func(v *miniVGG) {
			v.layers[4] = matRecord("name", matStr("pool1"), "type", matStr("pool"), "pool", matDouble(2), "pad", matDouble(2))
		}, []string{"pool1", "not smaller than the 2x2 window"}},
		{"padding of 3 values", func(v *miniVGG) {
			v.layers[0] = matConv("conv1_1", miniF1, []int{3, 3, 3, 2}, miniB1, []float64{1, 1, 1}, miniStride1)
		}, []string{"conv1_1", "pad [1 1 1] has 3 values"}},
		{"zero stride", func(v *miniVGG) {
			v.layers[0] = matConv("conv1_1", miniF1, []int{3, 3, 3, 2}, miniB1, miniPad1, []float64{0})
		}, []string{"conv1_1", "stride [0 0] is not positive"}},
		{"leaky ReLU", func(v *miniVGG) {
			v.layers[1] = matRecord("name", matStr("relu1_1"), "type", matStr("relu"), "leak", matDouble(0.1))
		}, []string{"relu1_1", "leak 0.1"}},
		{"a layer not a struct", func(v *miniVGG) { v.layers[1] = matStr("relu") }, []string{"layers{2}", "not a 1x1 struct"}},
		{"a name used twice", func(v *miniVGG) { v.layers[1] = matReLU("conv1_1") }, []string{"layers{2}", `"conv1_1"`, "used twice"}},
		{"no average image", func(v *miniVGG) { v.meta = nil }, []string{"no average image"}},
		{"an average image of 2 channels", func(v *miniVGG) {
			v.meta = matRecord("normalization", matRecord("averageImage", matSingle([]int{1, 1, 2}, 1, 2)))
		}, []string{"average image is [1 1 2]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newMiniVGG()
			c.mod(v)
			_, err := LoadVGG19(bytes.NewReader(v.file(false)))
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range append(c.want, "models: vgg19: ") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
	t.Run("layers not a cell", func(t *testing.T) {
		_, err := LoadVGG19(bytes.NewReader(encodeMAT(false, named("layers", matDouble(1)), named("meta", newMiniVGG().meta))))
		if err == nil || !strings.Contains(err.Error(), "not a cell") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no layers", func(t *testing.T) {
		_, err := LoadVGG19(bytes.NewReader(encodeMAT(false, named("meta", newMiniVGG().meta))))
		if !errors.Is(err, mat.ErrNotFound) || !strings.Contains(err.Error(), `"layers"`) {
			t.Errorf("error %v", err)
		}
	})
}

// TestVGG19Truncated cuts the file everywhere and corrupts bytes of it: every load must fail
// with an error, or succeed, but never panic; a cut file reports io.ErrUnexpectedEOF.
func TestVGG19Truncated(t *testing.T) {
	for _, compress := range []bool{false, true} {
		data := newMiniVGG().file(compress)
		for cut := 0; cut < len(data); cut += 1 + cut/16 {
			_, err := LoadVGG19(bytes.NewReader(data[:cut]))
			if err == nil {
				t.Fatalf("compress %v: no error for the first %d of %d bytes", compress, cut, len(data))
			}
			// A cut inside an element is an unexpected EOF; one between elements loses them.
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, mat.ErrFormat) && !errors.Is(err, mat.ErrNotFound) {
				t.Errorf("compress %v, %d bytes: %v", compress, cut, err)
			}
		}
		rng := rand.New(rand.NewPCG(19, 4))
		for range 100 {
			bad := slices.Clone(data)
			for range 1 + rng.IntN(4) {
				bad[128+rng.IntN(len(bad)-128)] ^= byte(1 + rng.IntN(255))
			}
			LoadVGG19(bytes.NewReader(bad)) // must not panic
		}
	}
}

func TestVGG19BuildErrors(t *testing.T) {
	m := newMiniVGG().load(t)
	if _, err := m.Build(1, 8, 8, "relu9_9"); err == nil || !strings.Contains(err.Error(), `no layer "relu9_9"`) {
		t.Errorf("unknown layer: %v", err)
	}
	if _, err := m.Build(1, 1, 1, ""); err == nil || !strings.Contains(err.Error(), "layer conv1_2") {
		t.Errorf("a picture smaller than conv1_2's window: %v", err)
	}
	if _, err := m.Build(0, 8, 8, ""); err == nil {
		t.Error("an empty batch built")
	}
}

// vgg19Want is VGG19's layer table up to pool5.
func vgg19Want() []LayerInfo {
	var want []LayerInfo
	for b, n := range []int{2, 2, 4, 4, 4} {
		c := []int{64, 128, 256, 512, 512}[b]
		for i := 1; i <= n; i++ {
			s := strconv.Itoa(b+1) + "_" + strconv.Itoa(i)
			want = append(want, LayerInfo{"conv" + s, "conv", c}, LayerInfo{"relu" + s, "relu", c})
		}
		want = append(want, LayerInfo{"pool" + strconv.Itoa(b+1), "maxpool", c})
	}
	return want
}

// TestVGG19Random checks NewVGG19Random's network; with -short, the same network of zero
// weights, which is made faster (the race detector slows drawing 20 million weights).
func TestVGG19Random(t *testing.T) {
	m := newVGG19(nil)
	if !testing.Short() {
		m = NewVGG19Random(1)
	}
	if got, want := m.Layers(), vgg19Want(); !slices.Equal(got, want) {
		t.Errorf("layers\n%v\nwant\n%v", got, want)
	}
	var params int
	for _, l := range m.layers {
		if l.w != nil {
			params += l.w.Len() + l.b.Len()
		}
	}
	if params != 20024384 { // the 16 convolutions of VGG19
		t.Errorf("%d weights", params)
	}
	g, err := m.Build(1, 33, 40, "relu5_1")
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Output.Shape(); !equalInts(s, []int{1, 512, 3, 3}) {
		t.Errorf("relu5_1 of a 33x40 picture: shape %v", s)
	}
	if g.Layers["conv5_2"] != nil || g.Layers["relu5_1"] != g.Output {
		t.Error("built past relu5_1")
	}
}

func TestHeNormal(t *testing.T) {
	w := make([]float32, 100000)
	heNormal(rand.New(rand.NewPCG(1, 2)), w, 50)
	var s, s2 float64
	for _, v := range w {
		s, s2 = s+float64(v), s2+float64(v)*float64(v)
	}
	mean, std := s/float64(len(w)), math.Sqrt(s2/float64(len(w)))
	if math.Abs(mean) > 0.005 || math.Abs(std-0.2) > 0.004 {
		t.Errorf("mean %v, standard deviation %v; want 0 and sqrt(2/50) = 0.2", mean, std)
	}
}

// inputGradMachine compiles what the recipes run at each step: cost and its gradient with
// respect to the input, and nothing else (no weight gradients).
func inputGradMachine(tb testing.TB, g *G.ExprGraph, input, cost *G.Node) (G.VM, *G.Node) {
	tb.Helper()
	grads, err := G.Grad(cost, input)
	if err != nil {
		tb.Fatal(err)
	}
	prog, locs, err := G.CompileFunction(g, G.Nodes{input}, G.Nodes{cost, grads[0]})
	if err != nil {
		tb.Fatal(err)
	}
	return G.NewTapeMachine(g, G.WithPrecompiled(prog, locs)), grads[0]
}

// checkInputGrad compares the gradient that inputGradMachine computes for cost(build(x)) with a
// central difference along a random direction.
func checkInputGrad(t *testing.T, build func() (*G.ExprGraph, *G.Node, *G.Node), x []float32, shape []int, step float64) {
	t.Helper()
	dir := randoms(rand.New(rand.NewPCG(5, 6)), len(x), -1, 1)
	eval := func(x []float32) (float64, []float32) {
		g, in, cost := build()
		vm, grad := inputGradMachine(t, g, in, cost)
		defer vm.Close()
		if err := G.Let(in, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x))); err != nil {
			t.Fatal(err)
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return float64(cost.Value().Data().(float32)), slices.Clone(grad.Value().Data().([]float32))
	}
	_, grad := eval(x)
	var want float64
	for i := range grad {
		want += float64(grad[i]) * float64(dir[i])
	}
	shift := func(sign float64) []float32 {
		y := slices.Clone(x)
		for i := range y {
			y[i] += float32(sign * step * float64(dir[i]))
		}
		return y
	}
	up, _ := eval(shift(1))
	down, _ := eval(shift(-1))
	got := (up - down) / (2 * step)
	t.Logf("central difference %v, gradient %v", got, want)
	if math.Abs(got-want) > 2e-2*math.Abs(want) || want == 0 {
		t.Errorf("directional derivative %v by central difference, %v by the gradient", got, want)
	}
}

func TestVGG19InputGradient(t *testing.T) {
	m := newMiniVGG().load(t)
	const h, w = 9, 8
	x := randoms(rand.New(rand.NewPCG(19, 5)), 3*h*w, 0, 255)
	checkInputGrad(t, func() (*G.ExprGraph, *G.Node, *G.Node) {
		g, err := m.Build(1, h, w, "pool1")
		if err != nil {
			t.Fatal(err)
		}
		cost, err := G.Sum(g.Output)
		if err != nil {
			t.Fatal(err)
		}
		return g.G, g.Input, cost
	}, x, []int{1, 3, h, w}, 0.05)
}

// TestVGG19File loads the real file when VGG19_MAT names it.
func TestVGG19File(t *testing.T) {
	path := os.Getenv("VGG19_MAT")
	if path == "" || testing.Short() {
		t.Skip("set VGG19_MAT to imagenet-vgg-verydeep-19.mat to check the real file")
	}
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := LoadVGG19(f)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Layers(), vgg19Want(); !slices.Equal(got, want) {
		t.Errorf("layers\n%v\nwant\n%v", got, want)
	}
	t.Logf("mean %v", m.Mean)
}

// peakRSS returns the process's peak resident set size in MB (VmHWM), or 0 where /proc does
// not tell.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(rest), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

// fresh turns nn.ReuseBuffers off in the benchmarks, to measure what reusing buffers saves:
// go test -bench VGG19 ./compute/models/ -args -fresh.
var fresh = flag.Bool("fresh", false, "benchmarks: let every run allocate its tensors afresh (no nn.ReuseBuffers)")

// reuseBuffers makes a benchmark's graph reuse its buffers from run to run, as a recipe that
// runs one graph many times does, unless -fresh is given.
func reuseBuffers(g *G.ExprGraph) {
	if !*fresh {
		nn.ReuseBuffers(g)
	}
}

// vggConvFLOPs counts the convolutions of g, 2 FLOPs per multiply-add.
func vggConvFLOPs(m *VGG19, g *VGG19Graph) float64 {
	var flops float64
	for _, l := range m.layers {
		if y := g.Layers[l.name]; y != nil && l.kind == "conv" {
			flops += 2 * float64(y.Shape().TotalSize()*l.w.Len()/l.channels)
		}
	}
	return flops
}

// BenchmarkVGG19Forward times VGG19's forward pass through all 16 convolutions (up to
// relu5_4, the peer's vgg19_conv16 model) at batch 1, random weights, with ms/op, GFLOP/s (2 per
// multiply-add) and the peak memory.
func BenchmarkVGG19Forward(b *testing.B) {
	m := NewVGG19Random(1)
	for _, size := range []int{224, 512} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			g, err := m.Build(1, size, size, "relu5_4")
			if err != nil {
				b.Fatal(err)
			}
			prog, locs, err := G.CompileFunction(g.G, G.Nodes{g.Input}, G.Nodes{g.Output})
			if err != nil {
				b.Fatal(err)
			}
			vm := G.NewTapeMachine(g.G, G.WithPrecompiled(prog, locs))
			defer vm.Close()
			reuseBuffers(g.G)
			x := randoms(rand.New(rand.NewPCG(1, 2)), 3*size*size, 0, 255)
			if err := G.Let(g.Input, tensor.New(tensor.WithShape(1, 3, size, size), tensor.WithBacking(x))); err != nil {
				b.Fatal(err)
			}
			warmUp(b, vm)
			for b.Loop() {
				if err := vm.RunAll(); err != nil {
					b.Fatal(err)
				}
				vm.Reset()
			}
			reportStep(b, vggConvFLOPs(m, g))
		})
	}
}

// warmUp runs vm once before the timed runs, as the peer does (three times): the first run
// creates oneDNN's primitives and the work buffers and transformed weights of the Winograd
// kernels, which every later run reuses; the figures are the steady state a style transfer or a
// dream sees over its hundreds of runs.
func warmUp(b *testing.B, vm G.VM) {
	b.Helper()
	if err := vm.RunAll(); err != nil {
		b.Fatal(err)
	}
	vm.Reset()
}

// reportStep reports a benchmark of one forward and input-gradient pass: ms/op, GFLOP/s for the
// given FLOPs per pass, the peak RSS and the memory Go holds from the system.
func reportStep(b *testing.B, flops float64) {
	sec := b.Elapsed().Seconds() / float64(b.N)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(sec*1e3, "ms/op")
	b.ReportMetric(flops/sec/1e9, "GFLOP/s")
	b.ReportMetric(peakRSS(), "peak-RSS-MB")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "Go-Sys-MB")
}

// BenchmarkVGG19InputGrad times what one style transfer step costs the network: a forward
// pass up to relu5_1 and the gradient of sum(relu5_1) to the input, no weight gradients, with
// random weights. GFLOP/s counts 2 FLOPs a multiply-add and twice the forward convolutions
// (forward and backward-data).
func BenchmarkVGG19InputGrad(b *testing.B) {
	m := NewVGG19Random(1)
	for _, size := range []int{224, 512} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			g, err := m.Build(1, size, size, "relu5_1")
			if err != nil {
				b.Fatal(err)
			}
			cost, err := G.Sum(g.Output)
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
			flops := vggConvFLOPs(m, g)
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
