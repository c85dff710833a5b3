package nn

import (
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestConcatChannelsForward(t *testing.T) {
	// a holds 0..11 as (2, 2, 1, 3); b holds 100..105 as (2, 1, 1, 3): image 0 is a's two
	// channels then b's first, image 1 likewise.
	ad := make([]float64, 12)
	for i := range ad {
		ad[i] = float64(i)
	}
	bd := []float64{100, 101, 102, 103, 104, 105}
	want := []float64{0, 1, 2, 3, 4, 5, 100, 101, 102, 6, 7, 8, 9, 10, 11, 103, 104, 105}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := gorgonia.NewGraph()
		a := leaf(g, dt, "a", ad, 2, 2, 1, 3)
		b := leaf(g, dt, "b", bd, 2, 1, 1, 3)
		y := must(t)(ConcatChannels(a, b))
		if !y.Shape().Eq(tensor.Shape{2, 3, 1, 3}) {
			t.Fatalf("shape %v, want (2, 3, 1, 3)", y.Shape())
		}
		runGraph(t, g)
		if got := valuesOf(t, y); !equal(got, want) {
			t.Errorf("%v: y = %v, want %v", dt, got, want)
		}
	}
}

func TestConcatChannelsGradients(t *testing.T) {
	t.Run("inception", func(t *testing.T) {
		checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
			r := newRand(310)
			a := randLeaf(g, r, tensor.Float64, "a", 2, 3, 4, 5)
			b := randLeaf(g, r, tensor.Float64, "b", 2, 1, 4, 5)
			c := randLeaf(g, r, tensor.Float64, "c", 2, 2, 4, 5)
			y := must(t)(ConcatChannels(a, b, c, a)) // a twice: its gradients add
			return probe(t, r, y, "probe"), gorgonia.Nodes{a, b, c}
		})
	})
	t.Run("256 channels each", func(t *testing.T) {
		// Stock gorgonia.Concat gets this wrong: the slices [0, 256), [256, 512) and
		// [512, 768) of its gradient hash alike (see TestStockConcatWideGradientIsWrong).
		checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
			r := newRand(311)
			a := randLeaf(g, r, tensor.Float64, "a", 1, 256, 1, 2)
			b := randLeaf(g, r, tensor.Float64, "b", 1, 256, 1, 2)
			c := randLeaf(g, r, tensor.Float64, "c", 1, 256, 1, 2)
			y := must(t)(ConcatChannels(a, b, c))
			return probe(t, r, y, "probe"), gorgonia.Nodes{a, b, c}
		})
	})
	t.Run("rank 2", func(t *testing.T) {
		checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
			r := newRand(312)
			a := randLeaf(g, r, tensor.Float64, "a", 3, 2)
			b := randLeaf(g, r, tensor.Float64, "b", 3, 5)
			y := must(t)(ConcatChannels(a, b))
			return probe(t, r, y, "probe"), gorgonia.Nodes{a, b}
		})
	})
}

func TestConcatChannelsRejectsBadShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	r := newRand(313)
	a := randLeaf(g, r, tensor.Float64, "a", 2, 3, 4, 4)
	b := randLeaf(g, r, tensor.Float64, "b", 2, 3, 4, 5)
	c := randLeaf(g, r, tensor.Float64, "c", 1, 3, 4, 4)
	d := randLeaf(g, r, tensor.Float64, "d", 2, 3, 4)
	e := randLeaf(g, r, tensor.Float32, "e", 2, 3, 4, 4)
	v := randLeaf(g, r, tensor.Float64, "v", 5)
	for _, tc := range []struct {
		name string
		xs   []*gorgonia.Node
	}{
		{"no inputs", nil},
		{"different width", []*gorgonia.Node{a, b}},
		{"different batch", []*gorgonia.Node{a, c}},
		{"different rank", []*gorgonia.Node{a, d}},
		{"different dtype", []*gorgonia.Node{a, e}},
		{"vector", []*gorgonia.Node{v, v}},
		{"nil input", []*gorgonia.Node{a, nil}},
	} {
		_, err := ConcatChannels(tc.xs...)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if !strings.HasPrefix(err.Error(), "nn: ConcatChannels: ") {
			t.Errorf("%s: error %q lacks the prefix", tc.name, err)
		}
	}
}
