package nn

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestConv2DBiasGradients(t *testing.T) {
	cases := []convCase{
		{n: 2, c: 2, h: 6, w: 5, o: 3, kh: 4, kw: 4, sh: 1, sw: 1, pad: Same(6, 5, 4, 4, 1, 1)},
		{n: 2, c: 3, h: 5, w: 6, o: 2, kh: 3, kw: 2, sh: 2, sw: 1, pad: Padding{1, 0, 2, 1}},
		{n: 1, c: 2, h: 7, w: 7, o: 2, kh: 2, kw: 3, sh: 3, sw: 2, pad: Padding{Bottom: 1}},
	}
	for i, cc := range cases {
		t.Run(name("case%d", i), func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(uint64(70 + i))
				x := randLeaf(g, r, tensor.Float64, "x", cc.n, cc.c, cc.h, cc.w)
				w := randLeaf(g, r, tensor.Float64, "w", cc.o, cc.c, cc.kh, cc.kw)
				b := randLeaf(g, r, tensor.Float64, "b", cc.o)
				y := must(t)(Conv2DBias(x, w, b, cc.pad, cc.sh, cc.sw))
				return probe(t, r, y, "probe"), gorgonia.Nodes{x, w, b}
			})
		})
	}
}

// TestConv2DBiasMatchesConvThenBias compares the fused op with Conv2D followed by AddBias, the
// two ops it replaces, forward and backward, in float32 (oneDNN's bias in the default build)
// and float64, on shapes of the MNIST recipe, VGG and odd ones.
func TestConv2DBiasMatchesConvThenBias(t *testing.T) {
	cases := []convCase{
		{n: 3, c: 1, h: 28, w: 28, o: 25, kh: 4, kw: 4, sh: 1, sw: 1, pad: Same(28, 28, 4, 4, 1, 1)},
		{n: 1, c: 64, h: 20, w: 18, o: 64, kh: 3, kw: 3, sh: 1, sw: 1, pad: Same(20, 18, 3, 3, 1, 1)},
		{n: 2, c: 3, h: 10, w: 7, o: 5, kh: 3, kw: 2, sh: 2, sw: 3, pad: Padding{0, 3, 2, 0}},
	}
	for i, cc := range cases {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			var ys, grads [2][][]float64
			for k, fused := range []bool{true, false} {
				g := gorgonia.NewGraph()
				r := newRand(uint64(80 + i))
				x := randLeaf(g, r, dt, "x", cc.n, cc.c, cc.h, cc.w)
				w := randLeaf(g, r, dt, "w", cc.o, cc.c, cc.kh, cc.kw)
				b := randLeaf(g, r, dt, "b", cc.o)
				var y *gorgonia.Node
				if fused {
					y = must(t)(Conv2DBias(x, w, b, cc.pad, cc.sh, cc.sw))
				} else {
					y = must(t)(AddBias(must(t)(Conv2D(x, w, cc.pad, cc.sh, cc.sw)), b))
				}
				cost := probe(t, r, y, "probe")
				gs, err := gorgonia.Grad(cost, x, w, b)
				if err != nil {
					t.Fatal(err)
				}
				runGraph(t, g)
				ys[k] = append(ys[k], valuesOf(t, y))
				for _, gn := range gs {
					grads[k] = append(grads[k], valuesOf(t, gn))
				}
			}
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 2e-5 // oneDNN sums in another order than the GEMM kernels
			}
			fusedAgrees(t, name("case %d %v", i, dt), tol, ys, grads)
		}
	}
}

// fusedAgrees checks that a fused op's output and gradients (ys[0], grads[0]: y, then dx, dw
// and db) agree with the unfused ops' (ys[1], grads[1]) within tol of the largest value, or 1.
func fusedAgrees(t *testing.T, what string, tol float64, ys, grads [2][][]float64) {
	t.Helper()
	check := func(v string, got, want []float64) {
		scale := 1.0
		for _, x := range want {
			scale = max(scale, x, -x)
		}
		for j := range want {
			if !closeTo(got[j]/scale, want[j]/scale, tol) {
				t.Fatalf("%s: %s[%d] = %g fused, %g unfused", what, v, j, got[j], want[j])
			}
		}
	}
	check("y", ys[0][0], ys[1][0])
	for j, v := range []string{"dx", "dw", "db"} {
		check(v, grads[0][j], grads[1][j])
	}
}

func TestConv2DBiasRejectsBadBias(t *testing.T) {
	g := gorgonia.NewGraph()
	r := newRand(4)
	x := randLeaf(g, r, tensor.Float64, "x", 1, 2, 5, 5)
	w := randLeaf(g, r, tensor.Float64, "w", 3, 2, 3, 3)
	for _, b := range []*gorgonia.Node{
		randLeaf(g, r, tensor.Float64, "b2", 2),
		randLeaf(g, r, tensor.Float64, "b33", 3, 3),
		randLeaf(g, r, tensor.Float32, "b32", 3),
	} {
		if _, err := Conv2DBias(x, w, b, Valid(), 1, 1); err == nil {
			t.Errorf("bias %v %v accepted", b.Dtype(), b.Shape())
		}
	}
}

func TestConv2DBiasReLUGradients(t *testing.T) {
	// Numeric gradients in float64; the bias is shifted so that about half the outputs are
	// rectified, and no sum sits at the kink within the step of the numeric derivative.
	cases := []convCase{
		{n: 2, c: 2, h: 6, w: 5, o: 3, kh: 4, kw: 4, sh: 1, sw: 1, pad: Same(6, 5, 4, 4, 1, 1)},
		{n: 2, c: 3, h: 5, w: 6, o: 2, kh: 3, kw: 3, sh: 1, sw: 1, pad: Padding{1, 0, 2, 1}},
	}
	for i, cc := range cases {
		t.Run(name("case%d", i), func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(uint64(90 + i))
				x := randLeaf(g, r, tensor.Float64, "x", cc.n, cc.c, cc.h, cc.w)
				w := randLeaf(g, r, tensor.Float64, "w", cc.o, cc.c, cc.kh, cc.kw)
				b := randLeaf(g, r, tensor.Float64, "b", cc.o)
				y := must(t)(Conv2DBiasReLU(x, w, b, cc.pad, cc.sh, cc.sw, ConvDirect))
				return probe(t, r, y, "probe"), gorgonia.Nodes{x, w, b}
			})
		})
	}
}

// TestConv2DBiasReLUMatchesUnfused compares the fused op with Conv2DBias followed by ReLU, the
// two ops it replaces, forward and backward, in float32 (oneDNN's post-op, or compute/wino's
// fused output transform for the VGG-sized layer with ConvWinograd) and float64.
func TestConv2DBiasReLUMatchesUnfused(t *testing.T) {
	cases := []struct {
		convCase
		algo ConvAlgorithm
	}{
		{convCase{n: 3, c: 25, h: 14, w: 14, o: 50, kh: 4, kw: 4, sh: 1, sw: 1, pad: Same(14, 14, 4, 4, 1, 1)}, ConvDirect},
		{convCase{n: 1, c: 64, h: 56, w: 56, o: 64, kh: 3, kw: 3, sh: 1, sw: 1, pad: Same(56, 56, 3, 3, 1, 1)}, ConvWinograd},
		{convCase{n: 2, c: 3, h: 10, w: 7, o: 5, kh: 3, kw: 2, sh: 2, sw: 3, pad: Padding{0, 3, 2, 0}}, ConvDirect},
	}
	for i, cc := range cases {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			var ys, grads [2][][]float64
			for k, fused := range []bool{true, false} {
				g := gorgonia.NewGraph()
				r := newRand(uint64(95 + i))
				x := randLeaf(g, r, dt, "x", cc.n, cc.c, cc.h, cc.w)
				w := randLeaf(g, r, dt, "w", cc.o, cc.c, cc.kh, cc.kw)
				b := randLeaf(g, r, dt, "b", cc.o)
				var y *gorgonia.Node
				if fused {
					y = must(t)(Conv2DBiasReLU(x, w, b, cc.pad, cc.sh, cc.sw, cc.algo))
				} else {
					y = must(t)(ReLU(must(t)(Conv2DBiasAlgo(x, w, b, cc.pad, cc.sh, cc.sw, cc.algo))))
				}
				cost := probe(t, r, y, "probe")
				gs, err := gorgonia.Grad(cost, x, w, b)
				if err != nil {
					t.Fatal(err)
				}
				runGraph(t, g)
				ys[k] = append(ys[k], valuesOf(t, y))
				for _, gn := range gs {
					grads[k] = append(grads[k], valuesOf(t, gn))
				}
			}
			zeros := 0
			for _, v := range ys[1][0] {
				if v == 0 {
					zeros++
				}
			}
			if zeros == 0 || zeros == len(ys[1][0]) {
				t.Fatalf("case %d: %d of %d outputs rectified: the test checks nothing", i, zeros, len(ys[1][0]))
			}
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-6 // the same kernels; only the rectifier moves
			}
			fusedAgrees(t, name("case %d %v", i, dt), tol, ys, grads)
		}
	}
}
