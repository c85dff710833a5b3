//go:build cgo && !purego

package nn

import (
	"math"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/wino"
)

// TestConv2DWinogradThroughWino runs ConvWinograd convolutions on VGG-like shapes through the
// ops, where compute/wino takes the forward pass and the gradient to the input, and checks the
// output and the gradients of a weighted sum against a float64 direct convolution of the same
// data (the definition in naiveConv and, for the gradients, the float64 ops): within 1e-5 of
// the largest value, where F(4x4, 3x3)'s float32 error is about 5e-6.
func TestConv2DWinogradThroughWino(t *testing.T) {
	if testing.Short() {
		t.Skip("VGG-sized convolutions in float64: skipped with -short")
	}
	r := newRand(470)
	for _, cc := range []convCase{
		{n: 1, c: 64, h: 56, w: 56, o: 64, kh: 3, kw: 3, sh: 1, sw: 1, pad: Padding{1, 1, 1, 1}},
		{n: 2, c: 32, h: 30, w: 27, o: 48, kh: 3, kw: 3, sh: 1, sw: 1, pad: Padding{0, 1, 1, 0}},
	} {
		xs, ws := tensor.Shape{cc.n, cc.c, cc.h, cc.w}, tensor.Shape{cc.o, cc.c, cc.kh, cc.kw}
		g, err := newConvGeom(xs, ws, cc.pad, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !wino.Faster(winoConv(&g), false) {
			t.Logf("%v: compute/wino is not the faster kernel for this shape here; checking oneDNN's instead", xs)
		} else {
			for _, pass := range []convPass{passForward, passBackData} {
				if impl := convImpl(ConvWinograd, pass, &g); !strings.Contains(impl, "wino") {
					t.Fatalf("%v: pass %d runs on %q, not a Winograd kernel", xs, pass, impl)
				}
			}
		}
		xd, wd := randData(r, xs.TotalSize()), randData(r, ws.TotalSize())
		for i := range xd {
			xd[i] = math.Max(xd[i], 0) // activations after a ReLU, as in VGG
		}
		coef := randData(r, g.outShape().TotalSize())
		run := func(dt tensor.Dtype, algo ConvAlgorithm) (y, dx, dw []float64) {
			eg := gorgonia.NewGraph()
			x := leaf(eg, dt, "x", xd, xs...)
			w := leaf(eg, dt, "w", wd, ws...)
			c := leaf(eg, dt, "c", coef, g.outShape()...)
			out := must(t)(Conv2DAlgo(x, w, cc.pad, 1, 1, algo))
			cost := must(t)(gorgonia.Sum(must(t)(gorgonia.HadamardProd(out, c))))
			if _, err := gorgonia.Grad(cost, x, w); err != nil {
				t.Fatal(err)
			}
			runGraph(t, eg)
			gx, _ := x.Grad()
			gw, _ := w.Grad()
			return valuesOf(t, out), flat(gx), flat(gw)
		}
		wantY, wantDX, wantDW := run(tensor.Float64, ConvDirect)
		gotY, gotDX, gotDW := run(tensor.Float32, ConvWinograd)
		for _, c := range []struct {
			what      string
			got, want []float64
		}{{"y", gotY, wantY}, {"dx", gotDX, wantDX}, {"dw", gotDW, wantDW}} {
			var d, m float64
			for i := range c.want {
				d = math.Max(d, math.Abs(c.got[i]-c.want[i]))
				m = math.Max(m, math.Abs(c.want[i]))
			}
			if d > 1e-5*m {
				t.Errorf("%v: %s differs from float64's by %.2g of the largest value", xs, c.what, d/m)
			} else {
				t.Logf("%v: %s within %.2g of the largest value", xs, c.what, d/m)
			}
		}
	}
}

// flat returns a gradient's values as float64.
func flat(v gorgonia.Value) []float64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	return nil
}

// TestConv2DWinogradKeptFilter checks the ops' cache of transformed weights on a small image
// (where they keep it): a second run with the same weights gives the same output bit for bit,
// and a run after the weights changed in place (as a training step changes them) follows the
// new weights, forward and in the gradient to the input.
func TestConv2DWinogradKeptFilter(t *testing.T) {
	r := newRand(471)
	xs, ws := tensor.Shape{1, 32, 16, 16}, tensor.Shape{32, 32, 3, 3}
	pad := Padding{1, 1, 1, 1}
	g, err := newConvGeom(xs, ws, pad, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := winoConv(&g)
	if !keepFilter(c) || !wino.Faster(c, true) {
		t.Skipf("%v: compute/wino does not keep a filter for this shape here", xs)
	}
	x := tensor.New(tensor.WithShape(xs...), tensor.WithBacking(toDtype(tensor.Float32, randData(r, xs.TotalSize()))))
	wd := toDtype(tensor.Float32, randData(r, ws.TotalSize())).([]float32)
	w := tensor.New(tensor.WithShape(ws...), tensor.WithBacking(wd))
	dy := tensor.New(tensor.WithShape(g.outShape()...), tensor.WithBacking(toDtype(tensor.Float32, randData(r, g.outShape().TotalSize()))))
	fwd := &conv2DOp{convParams: convParams{pad: pad, sh: 1, sw: 1, algo: ConvWinograd}}
	back := &conv2DBackDataOp{convParams: convParams{pad: pad, sh: 1, sw: 1, algo: ConvWinograd}}
	direct := convParams{pad: pad, sh: 1, sw: 1}
	check := func(step string) {
		t.Helper()
		y1, err := fwd.Do(x, w)
		if err != nil {
			t.Fatal(err)
		}
		y2, err := fwd.Do(x, w)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(y1.Data().([]float32), y2.Data().([]float32)) {
			t.Errorf("%s: two runs with the same weights differ", step)
		}
		dx, err := back.Do(x, w, dy)
		if err != nil {
			t.Fatal(err)
		}
		wantY, err := (&conv2DOp{convParams: direct}).Do(x, w)
		if err != nil {
			t.Fatal(err)
		}
		wantDX, err := (&conv2DBackDataOp{convParams: direct}).Do(x, w, dy)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what      string
			got, want []float32
		}{{"y", y1.Data().([]float32), wantY.Data().([]float32)}, {"dx", dx.Data().([]float32), wantDX.Data().([]float32)}} {
			var d, m float64
			for i := range c.want {
				d = math.Max(d, math.Abs(float64(c.got[i]-c.want[i])))
				m = math.Max(m, math.Abs(float64(c.want[i])))
			}
			if d > 1e-5*m {
				t.Errorf("%s: %s differs from the direct convolution's by %.2g of the largest value", step, c.what, d/m)
			}
		}
	}
	check("first weights")
	if !fwd.kept.ok || !back.kept.ok {
		t.Fatal("the ops kept no filter")
	}
	for i := range wd {
		wd[i] = -2 * wd[i]
	}
	wd[7] += 1
	check("changed weights")
}
