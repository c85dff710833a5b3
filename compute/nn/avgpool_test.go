package nn

import (
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestAvgPool2DHand(t *testing.T) {
	//	1 2 3
	//	4 5 6
	//	7 8 9
	//
	// 2x2 windows at stride 2 with SAME padding (0 before, 1 after on both axes): padded cells
	// are left out of the count, as TensorFlow does:
	// {1 2 4 5}/4 = 3, {3 6}/2 = 4.5, {7 8}/2 = 7.5, {9}/1 = 9.
	// The gradient of ones: each cell gets 1/count of every window it is in.
	//
	// 3x3 at stride 1, SAME (1 on every side): corners average 4 cells, edges 6, the centre 9.
	xd := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	q, s, n := 1.0/4, 1.0/6, 1.0/9
	corner, edge := q+2*s+n, 2*q+3*s+n
	cases := []struct {
		k, s int
		want []float64
		grad []float64
	}{
		{2, 2, []float64{3, 4.5, 7.5, 9}, []float64{q, q, 0.5, q, q, 0.5, 0.5, 0.5, 1}},
		{
			3, 1,
			[]float64{
				(1 + 2 + 4 + 5) / 4.0, (1 + 2 + 3 + 4 + 5 + 6) / 6.0, (2 + 3 + 5 + 6) / 4.0,
				(1 + 2 + 4 + 5 + 7 + 8) / 6.0, 5, (2 + 3 + 5 + 6 + 8 + 9) / 6.0,
				(4 + 5 + 7 + 8) / 4.0, (4 + 5 + 6 + 7 + 8 + 9) / 6.0, (5 + 6 + 8 + 9) / 4.0,
			},
			// A corner lies in the windows centred on itself (count 4), its two edge neighbours
			// (6) and the centre (9); an edge cell in two corner windows, three edge windows and
			// the centre; the centre in all nine.
			[]float64{
				corner, edge, corner,
				edge, 4*q + 4*s + n, edge,
				corner, edge, corner,
			},
		},
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		tol := 1e-15
		if dt == tensor.Float32 {
			tol = 1e-6
		}
		for _, c := range cases {
			g := gorgonia.NewGraph()
			x := leaf(g, dt, "x", xd, 1, 1, 3, 3)
			y := must(t)(AvgPool2D(x, c.k, c.k, c.s, c.s, Same(3, 3, c.k, c.k, c.s, c.s)))
			sum := must(t)(gorgonia.Sum(y))
			grads, err := gorgonia.Grad(sum, x)
			if err != nil {
				t.Fatal(err)
			}
			runGraph(t, g)
			if got := valuesOf(t, y); !allClose(got, c.want, tol) {
				t.Errorf("%v %dx%d/%d: y = %v, want %v", dt, c.k, c.k, c.s, got, c.want)
			}
			if got := valuesOf(t, grads[0]); !allClose(got, c.grad, tol) {
				t.Errorf("%v %dx%d/%d: dx = %v, want %v", dt, c.k, c.k, c.s, got, c.grad)
			}
		}
	}
}

func TestAvgPool2DMatchesNaive(t *testing.T) {
	r := newRand(105)
	for tc := 0; tc < 100; tc++ {
		n, c, h, w := 1+r.IntN(2), 1+r.IntN(3), 1+r.IntN(9), 1+r.IntN(9)
		kh, kw, sh, sw := 1+r.IntN(4), 1+r.IntN(4), 1+r.IntN(3), 1+r.IntN(3)
		pad := Same(h, w, kh, kw, sh, sw)
		if r.IntN(2) == 0 {
			pad = Padding{Top: r.IntN(kh), Bottom: r.IntN(kh), Left: r.IntN(kw), Right: r.IntN(kw)}
		}
		if h+pad.Top+pad.Bottom < kh || w+pad.Left+pad.Right < kw {
			continue
		}
		xd := randData(r, n*c*h*w)
		g := gorgonia.NewGraph()
		x := leaf(g, tensor.Float64, "x", xd, n, c, h, w)
		y := must(t)(AvgPool2D(x, kh, kw, sh, sw, pad))
		runGraph(t, g)
		oh, ow := (h+pad.Top+pad.Bottom-kh)/sh+1, (w+pad.Left+pad.Right-kw)/sw+1
		if !y.Shape().Eq(tensor.Shape{n, c, oh, ow}) {
			t.Fatalf("shape %v, want %v", y.Shape(), tensor.Shape{n, c, oh, ow})
		}
		got := valuesOf(t, y)
		for pl := 0; pl < n*c; pl++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var sum float64
					count := 0
					for u := 0; u < kh; u++ {
						for v := 0; v < kw; v++ {
							rr, q := i*sh+u-pad.Top, j*sw+v-pad.Left
							if rr >= 0 && rr < h && q >= 0 && q < w {
								sum += xd[(pl*h+rr)*w+q]
								count++
							}
						}
					}
					if v, want := got[(pl*oh+i)*ow+j], sum/float64(count); !closeTo(v, want, 1e-14) {
						t.Fatalf("case %d: y[%d,%d,%d] = %g, want %g", tc, pl, i, j, v, want)
					}
				}
			}
		}
	}
}

func TestAvgPool2DGradients(t *testing.T) {
	cases := []struct {
		k, s int
		pad  func(h, w int) Padding
	}{
		{2, 2, func(h, w int) Padding { return Same(h, w, 2, 2, 2, 2) }},
		{3, 1, func(h, w int) Padding { return Same(h, w, 3, 3, 1, 1) }}, // overlapping windows
		{3, 2, func(h, w int) Padding { return Padding{1, 2, 0, 1} }},
		{2, 3, func(h, w int) Padding { return Valid() }}, // gaps between windows
	}
	for i, c := range cases {
		t.Run(name("%dx%d/%d", c.k, c.k, c.s), func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(uint64(120 + i))
				x := randLeaf(g, r, tensor.Float64, "x", 2, 2, 7, 6)
				y := must(t)(AvgPool2D(x, c.k, c.k, c.s, c.s, c.pad(7, 6)))
				return probe(t, r, y, "probe"), gorgonia.Nodes{x}
			})
		})
	}
	t.Run("asymmetric kernel", func(t *testing.T) {
		checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
			r := newRand(125)
			x := randLeaf(g, r, tensor.Float64, "x", 1, 3, 5, 8)
			y := must(t)(AvgPool2D(x, 2, 3, 1, 2, Same(5, 8, 2, 3, 1, 2)))
			return probe(t, r, y, "probe"), gorgonia.Nodes{x}
		})
	})
}

func TestAvgPool2DRejectsBadArguments(t *testing.T) {
	g := gorgonia.NewGraph()
	x := randLeaf(g, newRand(106), tensor.Float64, "x", 1, 1, 4, 4)
	v := randLeaf(g, newRand(107), tensor.Float64, "v", 4, 4)
	bad := []struct {
		name           string
		x              *gorgonia.Node
		kh, kw, sh, sw int
		pad            Padding
	}{
		{"padding as large as the kernel", x, 2, 2, 2, 2, Padding{Top: 2}},
		{"negative padding", x, 2, 2, 2, 2, Padding{Left: -1}},
		{"zero stride", x, 2, 2, 0, 2, Valid()},
		{"zero kernel", x, 0, 2, 1, 1, Valid()},
		{"kernel larger than input", x, 5, 2, 1, 1, Valid()},
		{"rank 2 input", v, 2, 2, 1, 1, Valid()},
		{"nil input", nil, 2, 2, 1, 1, Valid()},
	}
	for _, c := range bad {
		_, err := AvgPool2D(c.x, c.kh, c.kw, c.sh, c.sw, c.pad)
		if err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(err.Error(), "nn: AvgPool2D: ") {
			t.Errorf("%s: error %q lacks the prefix", c.name, err)
		}
	}
}

func TestGlobalAvgPool2D(t *testing.T) {
	// Plane means of a (2, 3, 2, 2) input holding 0..23: (0+1+2+3)/4 = 1.5, then +4 each.
	xd := make([]float64, 24)
	for i := range xd {
		xd[i] = float64(i)
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := gorgonia.NewGraph()
		x := leaf(g, dt, "x", xd, 2, 3, 2, 2)
		y := must(t)(GlobalAvgPool2D(x))
		if !y.Shape().Eq(tensor.Shape{2, 3}) {
			t.Fatalf("shape %v, want (2, 3)", y.Shape())
		}
		w := leaf(g, dt, "w", []float64{1, 2, 3, 4, 5, 6}, 2, 3)
		cost := must(t)(gorgonia.Sum(must(t)(gorgonia.HadamardProd(y, w))))
		grads, err := gorgonia.Grad(cost, x)
		if err != nil {
			t.Fatal(err)
		}
		runGraph(t, g)
		want := []float64{1.5, 5.5, 9.5, 13.5, 17.5, 21.5}
		if got := valuesOf(t, y); !allClose(got, want, 1e-7) {
			t.Errorf("%v: y = %v, want %v", dt, got, want)
		}
		dx := valuesOf(t, grads[0])
		for i := range dx {
			if want := float64(i/4+1) / 4; dx[i] != want {
				t.Errorf("%v: dx[%d] = %g, want %g", dt, i, dx[i], want)
			}
		}
	}
	checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
		r := newRand(108)
		x := randLeaf(g, r, tensor.Float64, "x", 2, 3, 4, 5)
		return probe(t, r, must(t)(GlobalAvgPool2D(x)), "probe"), gorgonia.Nodes{x}
	})
	g := gorgonia.NewGraph()
	if _, err := GlobalAvgPool2D(randLeaf(g, newRand(109), tensor.Float64, "v", 3, 4)); err == nil || !strings.HasPrefix(err.Error(), "nn: GlobalAvgPool2D: ") {
		t.Errorf("rank 2 input: error %v", err)
	}
}

// allClose reports whether got and want have the same length and agree element by element
// within tol relative to max(1, |want|).
func allClose(got, want []float64, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if !closeTo(got[i], want[i], tol) {
			return false
		}
	}
	return true
}
