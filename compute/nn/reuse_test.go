package nn

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestReuseBuffers runs the tiny CNN three times, with a new input each run, on two machines:
// one over a graph whose ops reuse their buffers and one over a stock graph. Every run must give
// the same loss and gradients on both (a kept buffer's old contents must never leak into a
// result), and the reusing graph must write its ops' results into the same tensors each run.
func TestReuseBuffers(t *testing.T) {
	type run struct {
		g     *gorgonia.ExprGraph
		vm    gorgonia.VM
		loss  *gorgonia.Node
		x     *gorgonia.Node
		grads gorgonia.Nodes
	}
	build := func(reuse bool) run {
		g := gorgonia.NewGraph()
		loss, wrt := tinyCNN(t, g, newRand(54))
		grads, err := gorgonia.Grad(loss, wrt...)
		if err != nil {
			t.Fatal(err)
		}
		if reuse {
			if n := ReuseBuffers(g); n < 8 {
				t.Fatalf("ReuseBuffers switched %d ops, want at least 8", n)
			}
		}
		return run{g, gorgonia.NewTapeMachine(g), loss, wrt[0], grads}
	}
	stock, reusing := build(false), build(true)
	defer stock.vm.Close()
	defer reusing.vm.Close()
	values := func(g *gorgonia.ExprGraph) map[*gorgonia.Node]*tensor.Dense {
		m := map[*gorgonia.Node]*tensor.Dense{}
		for _, n := range g.AllNodes() {
			if _, ok := n.Op().(reuser); ok {
				if d, ok := n.Value().(*tensor.Dense); ok {
					m[n] = d
				}
			}
		}
		return m
	}
	r := newRand(55)
	var before map[*gorgonia.Node]*tensor.Dense
	for i := 0; i < 3; i++ {
		xd := randData(r, stock.x.Shape().TotalSize())
		for _, m := range []run{stock, reusing} {
			x := tensor.New(tensor.WithShape(m.x.Shape()...), tensor.WithBacking(append([]float64(nil), xd...)))
			if err := gorgonia.Let(m.x, x); err != nil {
				t.Fatal(err)
			}
			if err := m.vm.RunAll(); err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		}
		if a, b := scalarValue(t, stock.loss), scalarValue(t, reusing.loss); a != b {
			t.Errorf("run %d: loss %v with reuse, %v without", i, b, a)
		}
		for j := range stock.grads {
			if !equal(valuesOf(t, reusing.grads[j]), valuesOf(t, stock.grads[j])) {
				t.Errorf("run %d: gradient %d differs with reuse", i, j)
			}
		}
		now := values(reusing.g)
		if i > 0 {
			same := 0
			for n, d := range now {
				if before[n] == d {
					same++
				}
			}
			if same < len(now)/2 {
				t.Errorf("run %d: only %d of %d op results were written into the last run's tensors", i, same, len(now))
			}
		}
		before = now
		stock.vm.Reset()
		reusing.vm.Reset()
	}
}
