package nn

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// These tests pin what stock Gorgonia v0.9.18 gets right and wrong among the operations this
// package might otherwise have to provide: gorgonia.Mean is right (so there is no MeanAll
// here), gorgonia.Concat computes the right values but differentiates wrongly once two inputs'
// channel ranges agree mod 256 (so there is ConcatChannels).

func TestStockMeanGradient(t *testing.T) {
	checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
		r := newRand(200)
		x := randLeaf(g, r, tensor.Float64, "x", 2, 3, 4, 5)
		return must(t)(gorgonia.Mean(must(t)(gorgonia.Square(x)))), gorgonia.Nodes{x}
	})
}

func TestStockMeanFloat32(t *testing.T) {
	g := gorgonia.NewGraph()
	x := randLeaf(g, newRand(203), tensor.Float32, "x", 2, 3, 40, 50)
	m := must(t)(gorgonia.Mean(x))
	grads, err := gorgonia.Grad(m, x)
	if err != nil {
		t.Fatal(err)
	}
	runGraph(t, g)
	if !m.IsScalar() || m.Dtype() != tensor.Float32 {
		t.Fatalf("Mean gave %v %v, want a float32 scalar", m.Dtype(), m.Shape())
	}
	xv := valuesOf(t, x)
	var s float64
	for _, v := range xv {
		s += v
	}
	if got, want := scalarValue(t, m), s/float64(len(xv)); !closeTo(got, want, 1e-5) {
		t.Errorf("mean %v, want %v", got, want)
	}
	for i, v := range valuesOf(t, grads[0]) {
		if !closeTo(v, 1.0/float64(len(xv)), 1e-7) {
			t.Fatalf("dx[%d] = %v, want 1/%d", i, v, len(xv))
		}
	}
}

func TestStockConcatGradient(t *testing.T) {
	checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
		r := newRand(201)
		a := randLeaf(g, r, tensor.Float64, "a", 2, 3, 4, 5)
		b := randLeaf(g, r, tensor.Float64, "b", 2, 1, 4, 5)
		c := randLeaf(g, r, tensor.Float64, "c", 2, 2, 4, 5)
		return probe(t, r, must(t)(gorgonia.Concat(1, a, b, c)), "probe"), gorgonia.Nodes{a, b, c}
	})
}

func TestStockConcatWideGradientIsWrong(t *testing.T) {
	// Two 256-channel inputs: stock Concat's gradient slices [0, 256) and [256, 512) of the
	// output gradient hash alike, so both inputs get the first one. If this test fails,
	// Gorgonia has been fixed; ConcatChannels stays right either way.
	g := gorgonia.NewGraph()
	r := newRand(204)
	a := randLeaf(g, r, tensor.Float64, "a", 1, 256, 1, 1)
	b := randLeaf(g, r, tensor.Float64, "b", 1, 256, 1, 1)
	cost := probe(t, r, must(t)(gorgonia.Concat(1, a, b)), "probe")
	grads, err := gorgonia.Grad(cost, a, b)
	if err != nil {
		t.Fatal(err)
	}
	runGraph(t, g)
	if !equal(valuesOf(t, grads[0]), valuesOf(t, grads[1])) {
		t.Error("stock Concat now differentiates 256-channel inputs apart: revisit ARCHITECTURE.md's traps")
	}
}
