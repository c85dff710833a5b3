package nn

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestAddBiasForward(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := gorgonia.NewGraph()
		// x (2, 3, 1, 2): batch 2, channels 3, a 1x2 plane.
		x := leaf(g, dt, "x", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 3, 1, 2)
		b := leaf(g, dt, "b", []float64{100, 200, 300}, 3)
		y := must(t)(AddBias(x, b))
		// Dense layer: x (2, 3).
		xd := leaf(g, dt, "xd", []float64{1, 2, 3, 4, 5, 6}, 2, 3)
		yd := must(t)(AddBias(xd, b))
		runGraph(t, g)
		if got, want := valuesOf(t, y), []float64{101, 102, 203, 204, 305, 306, 107, 108, 209, 210, 311, 312}; !equal(got, want) {
			t.Errorf("%v: 4-D: y = %v, want %v", dt, got, want)
		}
		if got, want := valuesOf(t, yd), []float64{101, 202, 303, 104, 205, 306}; !equal(got, want) {
			t.Errorf("%v: 2-D: y = %v, want %v", dt, got, want)
		}
	}
}

func TestAddBiasGradients(t *testing.T) {
	shapes := [][]int{{2, 3, 4, 5}, {4, 3}, {2, 3, 5}}
	for i, s := range shapes {
		t.Run(name("%v", s), func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(uint64(30 + i))
				x := randLeaf(g, r, tensor.Float64, "x", s...)
				b := randLeaf(g, r, tensor.Float64, "b", s[1])
				y := must(t)(AddBias(x, b))
				return probe(t, r, y, "probe"), gorgonia.Nodes{x, b}
			})
		})
	}
}

func TestAddBiasRejectsBadShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	r := newRand(7)
	x := randLeaf(g, r, tensor.Float64, "x", 2, 3, 4, 4)
	for _, b := range []*gorgonia.Node{
		randLeaf(g, r, tensor.Float64, "b4", 4),
		randLeaf(g, r, tensor.Float64, "bm", 3, 1),
		randLeaf(g, r, tensor.Float32, "b32", 3),
	} {
		if _, err := AddBias(x, b); err == nil {
			t.Errorf("bias %v %v: no error", b.Dtype(), b.Shape())
		}
	}
	v := randLeaf(g, r, tensor.Float64, "v", 3)
	if _, err := AddBias(v, v); err == nil {
		t.Error("vector input: no error")
	}
}

// BenchmarkBiasGrad times the bias gradient (the sum of the output gradient over every position
// of each channel) in float32 at the MNIST recipe's first layer (batch 100) and VGG19's first
// at 512.
func BenchmarkBiasGrad(b *testing.B) {
	for _, s := range []tensor.Shape{{100, 25, 28, 28}, {1, 64, 512, 512}} {
		r := newRand(460)
		dy := toDtype(tensor.Float32, randData(r, s.TotalSize())).([]float32)
		db := make([]float32, s[1])
		b.Run(name("%dx%dx%dx%d", s[0], s[1], s[2], s[3]), func(b *testing.B) {
			for b.Loop() {
				sumPerChannel(s, dy, db)
			}
		})
	}
}
