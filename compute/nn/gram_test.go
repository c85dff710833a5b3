package nn

import (
	"math"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestGramByHand: the Gram matrix of two channels of two positions, computed by hand.
func TestGramByHand(t *testing.T) {
	g := gorgonia.NewGraph()
	// Channel 0 is (1, 2), channel 1 is (3, -1); C·H·W = 4.
	f := leaf(g, tensor.Float64, "f", []float64{1, 2, 3, -1}, 1, 2, 1, 2)
	gm := must(t)(Gram(f))
	runGraph(t, g)
	want := []float64{5.0 / 4, 1.0 / 4, 1.0 / 4, 10.0 / 4} // (1+4, 3-2; 3-2, 9+1) / 4
	got := valuesOf(t, gm)
	for i := range want {
		if !closeTo(got[i], want[i], 1e-15) {
			t.Fatalf("Gram = %v, want %v", got, want)
		}
	}
}

// TestSquaredErrorByHand: scale·Σ(x−t)² and scale·Σx² on small vectors.
func TestSquaredErrorByHand(t *testing.T) {
	g := gorgonia.NewGraph()
	x := leaf(g, tensor.Float64, "x", []float64{1, 2, 3}, 1, 3)
	tg := leaf(g, tensor.Float64, "t", []float64{0, 4, 3}, 1, 3)
	withT := must(t)(SquaredError(x, tg, 0.5))
	without := must(t)(SquaredError(x, nil, 2))
	runGraph(t, g)
	if v := scalarValue(t, withT); v != 0.5*(1+4+0) {
		t.Errorf("SquaredError(x, t, 0.5) = %g, want 2.5", v)
	}
	if v := scalarValue(t, without); v != 2*(1+4+9) {
		t.Errorf("SquaredError(x, nil, 2) = %g, want 28", v)
	}
}

// TestGramSquaredErrorGradients checks, against central differences in float64, the gradients
// of a style term (SquaredError of a Gram matrix against a target), a content term, and a
// total-variation-like term without a target, each scaled so that the incoming gradient is not
// 1.
func TestGramSquaredErrorGradients(t *testing.T) {
	checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
		r := newRand(61)
		f := randLeaf(g, r, tensor.Float64, "f", 1, 3, 4, 5)
		a := randLeaf(g, r, tensor.Float64, "a", 3, 3)
		p := randLeaf(g, r, tensor.Float64, "p", 1, 3, 4, 5)
		style := must(t)(SquaredError(must(t)(Gram(f)), a, 1.0/9))
		content := must(t)(SquaredError(f, p, 0.25))
		tv := must(t)(SquaredError(f, nil, 0.1))
		sum := must(t)(gorgonia.Add(must(t)(gorgonia.Add(style, content)), tv))
		three := gorgonia.NewConstant(3.0, gorgonia.WithName("three"))
		return must(t)(gorgonia.Mul(sum, three)), gorgonia.Nodes{f}
	})
}

// TestGramFloat32 compares the float32 Gram matrix (syrk on float32) with float64.
func TestGramFloat32(t *testing.T) {
	r := newRand(62)
	d := randData(r, 1*8*6*7)
	vals := func(dt tensor.Dtype) []float64 {
		g := gorgonia.NewGraph()
		f := leaf(g, dt, "f", d, 1, 8, 6, 7)
		gm := must(t)(Gram(f))
		runGraph(t, g)
		return valuesOf(t, gm)
	}
	a, b := vals(tensor.Float32), vals(tensor.Float64)
	for i := range b {
		if math.Abs(a[i]-b[i]) > 1e-6 {
			t.Fatalf("[%d]: float32 %g, float64 %g", i, a[i], b[i])
		}
	}
}
