package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tinyCNN builds the MNIST recipe in miniature from these ops and stock Gorgonia nodes:
// conv 4x4 SAME → AddBias → Rectify → MaxPool2D 2x2/2 SAME → reshape → MatMul (dense) → AddBias
// → SoftmaxCrossEntropy. It returns the loss and the leaves x, w1, b1, w2, b2.
func tinyCNN(t testing.TB, g *gorgonia.ExprGraph, r *rand.Rand) (*gorgonia.Node, gorgonia.Nodes) {
	const n, c, h, w, o, k = 2, 2, 6, 5, 3, 4
	dt := tensor.Float64
	x := randLeaf(g, r, dt, "x", n, c, h, w)
	w1 := randLeaf(g, r, dt, "w1", o, c, 4, 4)
	b1 := randLeaf(g, r, dt, "b1", o)
	conv := must(t)(Conv2D(x, w1, Same(h, w, 4, 4, 1, 1), 1, 1))
	act := must(t)(gorgonia.Rectify(must(t)(AddBias(conv, b1))))
	pool := must(t)(MaxPool2D(act, 2, 2, 2, 2, Same(h, w, 2, 2, 2, 2)))
	s := pool.Shape()
	flat := must(t)(gorgonia.Reshape(pool, tensor.Shape{n, s[1] * s[2] * s[3]}))
	w2 := randLeaf(g, r, dt, "w2", s[1]*s[2]*s[3], k)
	b2 := randLeaf(g, r, dt, "b2", k)
	logits := must(t)(AddBias(must(t)(MatMul(flat, w2)), b2))
	labels := leaf(g, dt, "labels", []float64{0, 0, 1, 0, 1, 0, 0, 0}, n, k)
	loss := must(t)(SoftmaxCrossEntropy(logits, labels))
	return loss, gorgonia.Nodes{x, w1, b1, w2, b2}
}

func TestTinyCNNGradients(t *testing.T) {
	checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
		return tinyCNN(t, g, newRand(50))
	})
}

func TestLispMachineDoDiff(t *testing.T) {
	// The same network run on gorgonia.LispMachine, which differentiates through the ops'
	// DoDiff, must give the gradients that SymDiff gives on a tape machine.
	g1 := gorgonia.NewGraph()
	loss1, wrt1 := tinyCNN(t, g1, newRand(51))
	grads, err := gorgonia.Grad(loss1, wrt1...)
	if err != nil {
		t.Fatal(err)
	}
	runGraph(t, g1)

	g2 := gorgonia.NewGraph()
	loss2, wrt2 := tinyCNN(t, g2, newRand(51))
	m := gorgonia.NewLispMachine(g2)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("LispMachine: %v", err)
	}
	if a, b := scalarValue(t, loss1), scalarValue(t, loss2); !closeTo(a, b, 1e-12) {
		t.Fatalf("losses differ: tape %v, lisp %v", a, b)
	}
	for i, n := range wrt2 {
		dv, err := n.Grad()
		if err != nil {
			t.Fatalf("%s: %v", n.Name(), err)
		}
		got, want := float64Data(t, dv), valuesOf(t, grads[i])
		for j := range want {
			if !closeTo(got[j], want[j], 1e-12) {
				t.Fatalf("%s[%d]: lisp %g, tape %g", n.Name(), j, got[j], want[j])
			}
		}
	}
}

func TestUsePreallocDo(t *testing.T) {
	// Each op must overwrite every element of a preallocated output (here full of NaN) and
	// refuse one of the wrong shape or dtype.
	r := newRand(53)
	dense := func(data []float64, shape ...int) *tensor.Dense {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	}
	x := dense(randData(r, 2*3*6*5), 2, 3, 6, 5)
	w := dense(randData(r, 4*3*3*2), 4, 3, 3, 2)
	cp := convParams{pad: Padding{1, 0, 0, 1}, sh: 2, sw: 1}
	y, err := (&conv2DOp{convParams: cp}).Do(x, w)
	if err != nil {
		t.Fatal(err)
	}
	dy := dense(randData(r, y.(*tensor.Dense).Shape().TotalSize()), y.(*tensor.Dense).Shape()...)
	pp := poolParams{kh: 2, kw: 3, sh: 2, sw: 2, pad: Padding{Bottom: 1, Right: 1}}
	py, err := (&maxPool2DOp{poolParams: pp}).Do(x)
	if err != nil {
		t.Fatal(err)
	}
	pdy := dense(randData(r, py.(*tensor.Dense).Shape().TotalSize()), py.(*tensor.Dense).Shape()...)
	z := dense(randData(r, 12), 3, 4)
	b := dense(randData(r, 3), 3)
	cases := []struct {
		name string
		op   interface {
			gorgonia.Op
			gorgonia.UsePreallocDoer
		}
		inputs []gorgonia.Value
	}{
		{"Conv2D", &conv2DOp{convParams: cp}, []gorgonia.Value{x, w}},
		{"Conv2DBias", &conv2DOp{convParams: cp, bias: true}, []gorgonia.Value{x, w, dense(randData(r, 4), 4)}},
		{"Conv2DBackData", &conv2DBackDataOp{convParams: cp}, []gorgonia.Value{x, w, dy}},
		{"Conv2DBackFilter", &conv2DBackFilterOp{convParams: cp}, []gorgonia.Value{x, w, dy}},
		{"MaxPool2D", &maxPool2DOp{poolParams: pp}, []gorgonia.Value{x}},
		{"MaxPool2DBack", &maxPool2DBackOp{poolParams: pp}, []gorgonia.Value{x, pdy}},
		{"AddBias", &addBiasOp{dims: 4}, []gorgonia.Value{x, b}},
		{"MatMul", &matMulOp{}, []gorgonia.Value{z, dense(randData(r, 8), 4, 2)}},
		{"MatMulTransposed", &matMulOp{transA: true, transB: true}, []gorgonia.Value{z, dense(randData(r, 6), 2, 3)}},
		{"AddBiasGrad", &biasGradOp{dims: 4}, []gorgonia.Value{x}},
		{"SoftmaxCrossEntropyGrad", &softmaxXentGradOp{}, []gorgonia.Value{z, z, gorgonia.NewF64(2)}},
	}
	for _, c := range cases {
		want, err := c.op.Do(c.inputs...)
		if err != nil {
			t.Fatalf("%s: Do: %v", c.name, err)
		}
		ws := want.(*tensor.Dense).Shape()
		nan := make([]float64, ws.TotalSize())
		for i := range nan {
			nan[i] = math.NaN()
		}
		got, err := c.op.UsePreallocDo(dense(nan, ws...), c.inputs...)
		if err != nil {
			t.Fatalf("%s: UsePreallocDo: %v", c.name, err)
		}
		if !equal(float64Data(t, got), float64Data(t, want)) {
			t.Errorf("%s: UsePreallocDo and Do disagree", c.name)
		}
		if _, err := c.op.UsePreallocDo(dense(make([]float64, ws.TotalSize()+1), ws.TotalSize()+1), c.inputs...); err == nil {
			t.Errorf("%s: UsePreallocDo accepted a wrongly shaped output", c.name)
		}
		f32 := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(ws...))
		if _, err := c.op.UsePreallocDo(f32, c.inputs...); err == nil {
			t.Errorf("%s: UsePreallocDo accepted a float32 output for float64 inputs", c.name)
		}
	}
}

func TestRunsTwiceOnOneMachine(t *testing.T) {
	// A second run of one tape machine, without Reset, must give the gradients of the first.
	g := gorgonia.NewGraph()
	loss, wrt := tinyCNN(t, g, newRand(52))
	grads, err := gorgonia.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	var first [][]float64
	for run := 0; run < 2; run++ {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		for i, gn := range grads {
			v := valuesOf(t, gn)
			if run == 0 {
				first = append(first, v)
				continue
			}
			if !equal(v, first[i]) {
				t.Errorf("gradient of %s changed between runs", wrt[i].Name())
			}
		}
	}
}
