package style

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// evalScalar runs a graph and returns the value of a scalar node, or fails the test.
func evalScalar(t *testing.T, g *G.ExprGraph, n *G.Node) float64 {
	t.Helper()
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return scalarOf(n)
}

// constTensor makes a named leaf of float64 values.
func constTensor(g *G.ExprGraph, name string, shape []int, v ...float64) *G.Node {
	return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))))
}

func TestContentLossByHand(t *testing.T) {
	g := G.NewGraph()
	f := constTensor(g, "f", []int{1, 2, 1, 2}, 1, 2, 3, 4)
	p := constTensor(g, "p", []int{1, 2, 1, 2}, 0, 2, 5, 1)
	l, err := contentLoss(f, p)
	if err != nil {
		t.Fatal(err)
	}
	// 2*l2_loss(f-p)/p.size = (1² + 0² + 2² + 3²)/4 = 14/4
	if got := evalScalar(t, g, l); math.Abs(got-3.5) > 1e-12 {
		t.Errorf("content loss %v, want 3.5", got)
	}
}

func TestGramByHand(t *testing.T) {
	g := G.NewGraph()
	// Two channels of two pixels: channel 0 is (1, 2), channel 1 is (3, 4). With F (pixels x
	// channels) = [[1 3] [2 4]], FᵀF = [[5 11] [11 25]], divided by H·W·C = 4.
	f := constTensor(g, "f", []int{1, 2, 1, 2}, 1, 2, 3, 4)
	gm, err := gram(f)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := []float64{5.0 / 4, 11.0 / 4, 11.0 / 4, 25.0 / 4}
	got := gm.Value().Data().([]float64)
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("gram %v, want %v", got, want)
		}
	}
}

func TestStyleLossByHand(t *testing.T) {
	g := G.NewGraph()
	f := constTensor(g, "f", []int{1, 2, 1, 2}, 1, 2, 3, 4) // Gram [[1.25 2.75] [2.75 6.25]]
	a := constTensor(g, "a", []int{2, 2}, 1, 3, 2, 6)
	l, err := styleLoss(f, a)
	if err != nil {
		t.Fatal(err)
	}
	// 2*l2_loss(G-A)/A.size = (0.25² + 0.25² + 0.75² + 0.25²)/4
	want := (0.0625 + 0.0625 + 0.5625 + 0.0625) / 4
	if got := evalScalar(t, g, l); math.Abs(got-want) > 1e-12 {
		t.Errorf("style loss %v, want %v", got, want)
	}
}

func TestTVLossByHand(t *testing.T) {
	g := G.NewGraph()
	// A 2x3 picture; red varies, green is flat, blue varies along rows only.
	x := constTensor(g, "x", []int{1, 3, 2, 3},
		0, 1, 3, // red, row 0
		2, 2, 2, // red, row 1
		5, 5, 5, 5, 5, 5, // green
		1, 1, 1, // blue, row 0
		4, 4, 4) // blue, row 1
	l, err := tvLoss(x)
	if err != nil {
		t.Fatal(err)
	}
	// Vertical differences (3 channels x 1 x 3 = 9): red 2, 1, -1; blue 3, 3, 3: Σ² = 6 + 27.
	// Horizontal differences (3 x 2 x 2 = 12): red 1, 2, 0, 0; the rest 0: Σ² = 5.
	// tv = 2·(½·33/9 + ½·5/12)
	want := 33.0/9 + 5.0/12
	if got := evalScalar(t, g, l); math.Abs(got-want) > 1e-12 {
		t.Errorf("tv loss %v, want %v", got, want)
	}
}

// TestGramGradientNumeric checks gramOp's gradient against central differences under a loss
// Σ W∘G with W not symmetric (the style loss's is), in float64 and float32, and the float32
// Gram matrix against the float64 one.
func TestGramGradientNumeric(t *testing.T) {
	const c, h, w = 3, 4, 5
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, c*h*w)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	wts := make([]float64, c*c)
	for i := range wts {
		wts[i] = rng.NormFloat64()
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := G.NewGraph()
		in := G.NewTensor(g, dt, 4, G.WithShape(1, c, h, w), G.WithName("x"))
		wn := G.NewTensor(g, dt, 2, G.WithShape(c, c), G.WithName("w"), G.WithValue(floatTensor(dt, []int{c, c}, wts)))
		gm, err := gram(in)
		if err != nil {
			t.Fatal(err)
		}
		loss := G.Must(G.Sum(G.Must(G.HadamardProd(gm, wn))))
		grads, err := G.Grad(loss, in)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		f := func(v []float64) (float64, []float64) {
			G.Let(in, floatTensor(dt, []int{1, c, h, w}, v))
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			defer vm.Reset()
			var gr []float64
			switch d := grads[0].Value().Data().(type) {
			case []float64:
				gr = append(gr, d...)
			case []float32:
				for _, e := range d {
					gr = append(gr, float64(e))
				}
			}
			return scalarOf(loss), gr
		}
		_, grad := f(x)
		eps, tol := 1e-6, 1e-6
		if dt == tensor.Float32 {
			eps, tol = 1e-2, 2e-2
		}
		for i := range x {
			x[i] += eps
			up, _ := f(x)
			x[i] -= 2 * eps
			down, _ := f(x)
			x[i] += eps
			num := (up - down) / (2 * eps)
			if math.Abs(num-grad[i]) > tol*max(1, math.Abs(num)) {
				t.Errorf("%v: value %d: gradient %.8g, central difference %.8g", dt, i, grad[i], num)
			}
		}
		vm.Close()
	}
}

// floatTensor makes a tensor of dtype dt holding v.
func floatTensor(dt tensor.Dtype, shape []int, v []float64) *tensor.Dense {
	d := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	setFloats(d, v)
	return d
}
