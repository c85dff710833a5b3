package nn

import (
	"math"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// newOpsNet chains every op added beside the convolution: LRN, average pooling, resizing,
// channel selection and concatenation, global pooling; it returns a scalar cost and its input.
func newOpsNet(t testing.TB, g *gorgonia.ExprGraph, dt tensor.Dtype) (*gorgonia.Node, gorgonia.Nodes) {
	r := newRand(600)
	x := randLeaf(g, r, dt, "x", 2, 4, 6, 5)
	a := must(t)(LRN(x, 1, 1, 0.7, 0.75))
	b := must(t)(AvgPool2D(a, 3, 3, 2, 2, Same(6, 5, 3, 3, 2, 2))) // (2, 4, 3, 3)
	c := must(t)(ResizeBilinear(b, 5, 4))
	d := must(t)(SelectChannel(c, 2))
	e := must(t)(ConcatChannels(c, d, must(t)(SelectChannel(c, 0)))) // (2, 6, 5, 4)
	f := must(t)(GlobalAvgPool2D(e))
	return probe(t, r, f, "probe"), gorgonia.Nodes{x}
}

func TestNewOpsChainGradients(t *testing.T) {
	checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
		return newOpsNet(t, g, tensor.Float64)
	})
}

func TestNewOpsLispMachine(t *testing.T) {
	// gorgonia.LispMachine differentiates through DoDiff; it must agree with SymDiff.
	g1 := gorgonia.NewGraph()
	cost1, wrt1 := newOpsNet(t, g1, tensor.Float64)
	grads, err := gorgonia.Grad(cost1, wrt1...)
	if err != nil {
		t.Fatal(err)
	}
	runGraph(t, g1)

	g2 := gorgonia.NewGraph()
	cost2, wrt2 := newOpsNet(t, g2, tensor.Float64)
	m := gorgonia.NewLispMachine(g2)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("LispMachine: %v", err)
	}
	if a, b := scalarValue(t, cost1), scalarValue(t, cost2); !closeTo(a, b, 1e-14) {
		t.Fatalf("costs differ: tape %v, lisp %v", a, b)
	}
	dv, err := wrt2[0].Grad()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := float64Data(t, dv), valuesOf(t, grads[0]); !allClose(got, want, 1e-14) {
		t.Errorf("lisp and tape gradients differ")
	}
}

func TestNewOpsFloat32MatchesFloat64(t *testing.T) {
	run := func(dt tensor.Dtype) (float64, []float64) {
		g := gorgonia.NewGraph()
		cost, wrt := newOpsNet(t, g, dt)
		grads, err := gorgonia.Grad(cost, wrt...)
		if err != nil {
			t.Fatal(err)
		}
		runGraph(t, g)
		return scalarValue(t, cost), valuesOf(t, grads[0])
	}
	c64, g64 := run(tensor.Float64)
	c32, g32 := run(tensor.Float32)
	if !closeTo(c32, c64, 1e-5) || !allClose(g32, g64, 1e-5) {
		t.Errorf("float32 (cost %v) and float64 (cost %v) disagree", c32, c64)
	}
}

func TestNewOpsUsePreallocDo(t *testing.T) {
	// Each op must overwrite every element of a preallocated output (here full of NaN) and
	// refuse one of the wrong shape or dtype.
	r := newRand(601)
	dense := func(shape ...int) *tensor.Dense {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(randData(r, tensor.Shape(shape).TotalSize())))
	}
	x := dense(2, 3, 6, 5)
	type preallocOp interface {
		gorgonia.Op
		gorgonia.UsePreallocDoer
	}
	var cases []struct {
		op     preallocOp
		inputs []gorgonia.Value
	}
	add := func(op preallocOp, inputs ...gorgonia.Value) {
		cases = append(cases, struct {
			op     preallocOp
			inputs []gorgonia.Value
		}{op, inputs})
	}
	for _, k := range []unaryKernel{
		avgPoolKernel{poolParams{kh: 3, kw: 2, sh: 2, sw: 1, pad: Padding{1, 1, 0, 1}}},
		globalAvgPoolKernel{},
		lrnKernel{radius: 1, bias: 1, alpha: 0.5, beta: 0.75},
		resizeKernel{oh: 4, ow: 9},
		channelSliceKernel{lo: 1, hi: 2, dims: 4, name: "SelectChannel"},
		reluKernel{rank: 4},
	} {
		s, err := k.outShape(x.Shape())
		if err != nil {
			t.Fatal(err)
		}
		add(&unaryOp{k: k}, x)
		add(&unaryBackOp{k: k}, x, dense(s...))
	}
	add(&concatChannelsOp{dims: 4, n: 3}, x, dense(2, 1, 6, 5), x)
	for _, c := range cases {
		want, err := c.op.Do(c.inputs...)
		if err != nil {
			t.Fatalf("%v: Do: %v", c.op, err)
		}
		ws := want.(*tensor.Dense).Shape()
		nan := make([]float64, ws.TotalSize())
		for i := range nan {
			nan[i] = math.NaN()
		}
		got, err := c.op.UsePreallocDo(tensor.New(tensor.WithShape(ws...), tensor.WithBacking(nan)), c.inputs...)
		if err != nil {
			t.Fatalf("%v: UsePreallocDo: %v", c.op, err)
		}
		if !equal(float64Data(t, got), float64Data(t, want)) {
			t.Errorf("%v: UsePreallocDo and Do disagree", c.op)
		}
		if _, err := c.op.UsePreallocDo(tensor.New(tensor.WithShape(ws.TotalSize()+1), tensor.Of(tensor.Float64)), c.inputs...); err == nil {
			t.Errorf("%v: UsePreallocDo accepted a wrongly shaped output", c.op)
		}
		if _, err := c.op.UsePreallocDo(tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(ws...)), c.inputs...); err == nil {
			t.Errorf("%v: UsePreallocDo accepted a float32 output for float64 inputs", c.op)
		}
	}
}

func TestNewOpsWithDifferentParametersAreNotMerged(t *testing.T) {
	g := gorgonia.NewGraph()
	x := randLeaf(g, newRand(602), tensor.Float64, "x", 1, 3, 6, 6)
	distinct := func(what string, ns ...*gorgonia.Node) {
		t.Helper()
		for i := range ns {
			for j := i + 1; j < len(ns); j++ {
				if ns[i] == ns[j] {
					t.Errorf("%s: ops %d and %d were merged into one node", what, i, j)
				}
			}
		}
	}
	distinct("AvgPool2D",
		must(t)(AvgPool2D(x, 2, 2, 2, 2, Valid())),
		must(t)(AvgPool2D(x, 2, 2, 2, 2, Padding{Right: 1})),
		must(t)(AvgPool2D(x, 2, 2, 2, 1, Valid())),
		must(t)(MaxPool2D(x, 2, 2, 2, 2, Valid())))
	distinct("LRN",
		must(t)(LRN(x, 2, 1, 1e-4, 0.75)),
		must(t)(LRN(x, 1, 1, 1e-4, 0.75)),
		must(t)(LRN(x, 2, 2, 1e-4, 0.75)),
		must(t)(LRN(x, 2, 1, 1e-4+1e-19, 0.75)),
		must(t)(LRN(x, 2, 1, 1e-4, 0.5)))
	distinct("ResizeBilinear",
		must(t)(ResizeBilinear(x, 3, 4)),
		must(t)(ResizeBilinear(x, 4, 3)))
	if a, b := must(t)(LRN(x, 2, 1, 1e-4, 0.75)), must(t)(LRN(x, 2, 1, 1e-4, 0.75)); a != b {
		t.Error("identical LRNs were not merged")
	}
}
