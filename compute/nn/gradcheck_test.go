package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds the test helpers that every op's tests share: random leaves, a scalar probe
// of an op's output, and a numeric gradient checker.

// newRand returns a deterministic source for test data.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// randData returns n values uniform in [-1, 1).
func randData(r *rand.Rand, n int) []float64 {
	d := make([]float64, n)
	for i := range d {
		d[i] = 2*r.Float64() - 1
	}
	return d
}

// toDtype converts float64 test data to a backing slice of dtype dt.
func toDtype(dt tensor.Dtype, d []float64) any {
	if dt == tensor.Float32 {
		f := make([]float32, len(d))
		for i, v := range d {
			f[i] = float32(v)
		}
		return f
	}
	return append([]float64(nil), d...)
}

// leaf adds a named input node of the given shape and dtype holding data to g. Every leaf
// needs a distinct name: Gorgonia merges leaves that share one.
func leaf(g *gorgonia.ExprGraph, dt tensor.Dtype, name string, data []float64, shape ...int) *gorgonia.Node {
	v := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(toDtype(dt, data)))
	return gorgonia.NewTensor(g, dt, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(v))
}

// randLeaf is leaf with random data from r.
func randLeaf(g *gorgonia.ExprGraph, r *rand.Rand, dt tensor.Dtype, name string, shape ...int) *gorgonia.Node {
	return leaf(g, dt, name, randData(r, tensor.Shape(shape).TotalSize()), shape...)
}

// probe returns the scalar Σ out ⊙ R for a fixed random R of out's shape: a cost whose
// gradient with respect to out is R, so every output element is checked.
func probe(t testing.TB, r *rand.Rand, out *gorgonia.Node, name string) *gorgonia.Node {
	t.Helper()
	weights := randLeaf(out.Graph(), r, out.Dtype(), name, out.Shape()...)
	prod, err := gorgonia.HadamardProd(out, weights)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	s, err := gorgonia.Sum(prod)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	return s
}

// scalarValue reads the value of a scalar node.
func scalarValue(t testing.TB, n *gorgonia.Node) float64 {
	t.Helper()
	v, err := scalarOf(n.Value())
	if err != nil {
		t.Fatalf("reading %v: %v", n, err)
	}
	return v
}

// float64Data returns the float64 backing data of a node's value (not a copy).
func float64Data(t testing.TB, v gorgonia.Value) []float64 {
	t.Helper()
	d, ok := v.(*tensor.Dense)
	if !ok {
		t.Fatalf("value is a %T, not a *tensor.Dense", v)
	}
	f, ok := d.Data().([]float64)
	if !ok {
		t.Fatalf("value holds %T, not []float64", d.Data())
	}
	return f
}

// gradCheck holds the tolerances of checkGrad: analytic a and numeric n agree when
// |a - n| <= rtol·max(|a|, |n|) + atol.
type gradCheck struct {
	eps, rtol, atol float64
}

// checkGrad builds a float64 graph with build, which returns a scalar cost and the input leaves
// to check; it differentiates the cost with gorgonia.Grad, runs it on a tape machine, and
// compares every element of every gradient with central differences of the cost (step 1e-6,
// relative tolerance 1e-6, absolute 1e-8).
func checkGrad(t *testing.T, build func(g *gorgonia.ExprGraph) (cost *gorgonia.Node, wrt gorgonia.Nodes)) {
	t.Helper()
	gradCheck{eps: 1e-6, rtol: 1e-6, atol: 1e-8}.check(t, build)
}

// check is checkGrad with the tolerances of c.
func (c gradCheck) check(t *testing.T, build func(g *gorgonia.ExprGraph) (cost *gorgonia.Node, wrt gorgonia.Nodes)) {
	t.Helper()
	g := gorgonia.NewGraph()
	cost, wrt := build(g)
	if cost.Dtype() != tensor.Float64 {
		t.Fatalf("gradient checks need a float64 graph, got %v", cost.Dtype())
	}
	grads, err := gorgonia.Grad(cost, wrt...)
	if err != nil {
		t.Fatalf("Grad: %v", err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	run := func() float64 {
		t.Helper()
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatalf("RunAll: %v", err)
		}
		return scalarValue(t, cost)
	}
	run()
	analytic := make([][]float64, len(wrt))
	for i, gn := range grads {
		if !gn.Shape().Eq(wrt[i].Shape()) {
			t.Fatalf("gradient of %v has shape %v, want %v", wrt[i].Name(), gn.Shape(), wrt[i].Shape())
		}
		analytic[i] = append([]float64(nil), float64Data(t, gn.Value())...)
	}
	for i, n := range wrt {
		data := float64Data(t, n.Value())
		before := append([]float64(nil), data...)
		var worst float64
		bad := 0
		for j := range data {
			orig := data[j]
			data[j] = orig + c.eps
			fp := run()
			data[j] = orig - c.eps
			fm := run()
			data[j] = orig
			num := (fp - fm) / (2 * c.eps)
			a := analytic[i][j]
			diff := math.Abs(a - num)
			scale := math.Max(math.Abs(a), math.Abs(num))
			allowed := c.rtol*scale + c.atol
			worst = math.Max(worst, diff/allowed)
			if diff > allowed || math.IsNaN(diff) {
				if bad < 5 {
					t.Errorf("d cost / d %s[%d]: analytic %.12g, numeric %.12g (diff %.3g)", n.Name(), j, a, num, diff)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d gradient elements disagree", n.Name(), bad, len(data))
		}
		for j := range data {
			if data[j] != before[j] {
				t.Fatalf("%s[%d] changed while checking: the graph overwrote an input", n.Name(), j)
			}
		}
		t.Logf("%s: %d elements, worst error %.0f%% of the tolerance", n.Name(), len(data), 100*worst)
	}
}

// must returns a function that passes a node through and fails the test on a graph-building
// error: must(t)(Conv2D(x, w, pad, 1, 1)).
func must(t testing.TB) func(*gorgonia.Node, error) *gorgonia.Node {
	return func(n *gorgonia.Node, err error) *gorgonia.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// runGraph runs g once on a tape machine.
func runGraph(t testing.TB, g *gorgonia.ExprGraph) {
	t.Helper()
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatalf("RunAll: %v", err)
	}
}

// valuesOf returns a node's value as float64s, converting from float32.
func valuesOf(t testing.TB, n *gorgonia.Node) []float64 {
	t.Helper()
	d, ok := n.Value().(*tensor.Dense)
	if !ok {
		t.Fatalf("%v holds a %T", n, n.Value())
	}
	switch s := d.Data().(type) {
	case []float64:
		return append([]float64(nil), s...)
	case []float32:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v)
		}
		return out
	}
	t.Fatalf("%v holds %T", n, d.Data())
	return nil
}

// closeTo reports whether got and want agree within tol relative to max(1, |want|).
func closeTo(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// name formats a sub-test name.
func name(format string, args ...any) string { return fmt.Sprintf(format, args...) }
