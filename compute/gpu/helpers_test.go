package gpu_test

// Helpers shared by the CPU-only tests and the GPU tests.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// relErr is ‖a-b‖/‖b‖ (‖a-b‖ when b is zero).
func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func checkClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	if e := relErr(got, want); !(e <= tol) {
		t.Errorf("%s: relative error %.3g > %g", what, e, tol)
	} else {
		t.Logf("%s: relative error %.3g", what, e)
	}
}

// leaf is an input of a CPU graph.
type leaf struct {
	shape tensor.Shape
	data  []float32
}

// cpuTwin builds f over leaves in a Gorgonia graph, runs it and returns the output and the
// gradients of Σ output·dy with respect to each leaf (none when dy is nil).
func cpuTwin(t *testing.T, leaves []leaf, f func([]*gorgonia.Node) (*gorgonia.Node, error), dy []float32) ([]float32, [][]float32) {
	t.Helper()
	g := gorgonia.NewGraph()
	ns := make([]*gorgonia.Node, len(leaves))
	for i, l := range leaves {
		data := append([]float32(nil), l.data...)
		ns[i] = gorgonia.NewTensor(g, tensor.Float32, l.shape.Dims(), gorgonia.WithShape(l.shape...),
			gorgonia.WithName(fmt.Sprintf("in%d", i)),
			gorgonia.WithValue(tensor.New(tensor.WithShape(l.shape...), tensor.WithBacking(data))))
	}
	y, err := f(ns)
	if err != nil {
		t.Fatalf("building the CPU graph: %v", err)
	}
	var grads gorgonia.Nodes
	if dy != nil {
		dyn := gorgonia.NewTensor(g, tensor.Float32, y.Dims(), gorgonia.WithShape(y.Shape()...), gorgonia.WithName("dy"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(y.Shape()...), tensor.WithBacking(append([]float32(nil), dy...)))))
		prod, err := gorgonia.HadamardProd(y, dyn)
		if err != nil {
			t.Fatal(err)
		}
		loss, err := gorgonia.Sum(prod)
		if err != nil {
			t.Fatal(err)
		}
		if grads, err = gorgonia.Grad(loss, ns...); err != nil {
			t.Fatalf("gradients: %v", err)
		}
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("running the CPU graph: %v", err)
	}
	out := append([]float32(nil), y.Value().Data().([]float32)...)
	gs := make([][]float32, len(grads))
	for i, gn := range grads {
		gs[i] = append([]float32(nil), gn.Value().Data().([]float32)...)
	}
	return out, gs
}
