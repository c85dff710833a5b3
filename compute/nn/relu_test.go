package nn

import (
	"sync"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestReLUForward(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		g := gorgonia.NewGraph()
		in := []float64{-2, -0.5, 0, 0.25, 3, -1e-9}
		x := leaf(g, dt, "x", in, 2, 3)
		y := must(t)(ReLU(x))
		runGraph(t, g)
		want := []float64{0, 0, 0, 0.25, 3, 0}
		for i, v := range valuesOf(t, y) {
			if v != want[i] {
				t.Errorf("%v: ReLU(%g) = %g, want %g", dt, in[i], v, want[i])
			}
		}
	}
}

func TestReLUGradient(t *testing.T) {
	for _, shape := range [][]int{{7}, {3, 5}, {2, 3, 4, 5}} {
		t.Run(name("%v", shape), func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(uint64(300 + len(shape)))
				x := randLeaf(g, r, tensor.Float64, "x", shape...)
				y := must(t)(ReLU(x))
				return probe(t, r, y, "probe"), gorgonia.Nodes{x}
			})
		})
	}
}

// TestReLUConcurrentBuilds builds graphs on several goroutines at once; under -race it fails if
// building a ReLU touches shared state (Gorgonia's Rectify does).
func TestReLUConcurrentBuilds(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := gorgonia.NewGraph()
			x := randLeaf(g, newRand(uint64(i)), tensor.Float32, "x", 1, 2, 3, 3)
			if _, err := ReLU(x); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// TestReLUGradientInPlace checks that on a tape machine ReLU's backward op writes its result
// over the output gradient it reads, when nothing reads that afterwards, and that the gradient
// is still exact: a dense layer y = relu(x·w) and a cost Σ (y·v) ⊙ R, against the gradient
// computed by hand from the forward values.
func TestReLUGradientInPlace(t *testing.T) {
	g := gorgonia.NewGraph()
	r := newRand(12)
	x := randLeaf(g, r, tensor.Float64, "x", 4, 6)
	w := randLeaf(g, r, tensor.Float64, "w", 6, 5)
	v := randLeaf(g, r, tensor.Float64, "v", 5, 3)
	h := must(t)(MatMul(x, w))
	y := must(t)(ReLU(h))
	z := must(t)(MatMul(y, v))
	cost := probe(t, r, z, "R")
	var rn *gorgonia.Node
	for _, n := range g.AllNodes() {
		if n.Name() == "R" {
			rn = n
		}
	}
	grads, err := gorgonia.Grad(cost, x)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// Find ReLU's backward node and its output-gradient input.
	var back, dy *gorgonia.Node
	for _, n := range g.AllNodes() {
		if op, ok := n.Op().(*unaryBackOp); ok {
			if _, ok := op.k.(reluKernel); ok {
				back = n
			}
		}
	}
	if back == nil {
		t.Fatal("no ReLU backward node")
	}
	for it := g.From(back.ID()); it.Next(); {
		if c := it.Node().(*gorgonia.Node); c != h {
			dy = c
		}
	}
	if dy == nil || dy.Value() == nil {
		t.Fatal("no output gradient input")
	}
	if &dy.Value().Data().([]float64)[0] != &back.Value().Data().([]float64)[0] {
		t.Error("ReLU's backward did not write over its output gradient")
	}
	// By hand: dz = R, dy = dz·vᵀ, dh = dy where h > 0, dx = dh·wᵀ.
	hv, zv := valuesOf(t, h), valuesOf(t, rn)
	vd, wd := valuesOf(t, v), valuesOf(t, w)
	dh := make([]float64, 4*5)
	for i := 0; i < 4; i++ {
		for j := 0; j < 5; j++ {
			var s float64
			for k := 0; k < 3; k++ {
				s += zv[i*3+k] * vd[j*3+k]
			}
			if hv[i*5+j] > 0 {
				dh[i*5+j] = s
			}
		}
	}
	got := valuesOf(t, grads[0])
	for i := 0; i < 4; i++ {
		for j := 0; j < 6; j++ {
			var want float64
			for k := 0; k < 5; k++ {
				want += dh[i*5+k] * wd[j*5+k]
			}
			if !closeTo(got[i*6+j], want, 1e-12) {
				t.Fatalf("dx[%d][%d] = %g, want %g", i, j, got[i*6+j], want)
			}
		}
	}
}
