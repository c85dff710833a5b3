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
