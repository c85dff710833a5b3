package nn

import (
	"math"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestMaxPool2DHand(t *testing.T) {
	// All values negative, so a padded zero would win every window it entered.
	//
	//	-1 -5 -2
	//	-7 -3 -4
	//	-9 -6 -8
	//
	// 2x2 windows at stride 2 with SAME padding (0 before, 1 after on both axes):
	// {-1 -5 -7 -3} → -1, {-2 -4 pad pad} → -2, {-9 -6 pad pad} → -6, {-8 pad pad pad} → -8.
	xd := []float64{-1, -5, -2, -7, -3, -4, -9, -6, -8}
	pad := Same(3, 3, 2, 2, 2, 2)
	if pad != (Padding{Bottom: 1, Right: 1}) {
		t.Fatalf("Same(3, 3, 2, 2, 2, 2) = %v", pad)
	}
	// With a 3x3 window at stride 1, SAME pads 1 on every side; each output is the maximum
	// of the real cells around it.
	cases := []struct {
		k, s int
		want []float64
		// the input cells that receive the gradient of ones, with their counts
		grad []float64
	}{
		{2, 2, []float64{-1, -2, -6, -8}, []float64{1, 0, 1, 0, 0, 0, 0, 1, 1}},
		{3, 1, []float64{-1, -1, -2, -1, -1, -2, -3, -3, -3}, []float64{4, 0, 2, 0, 3, 0, 0, 0, 0}},
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, c := range cases {
			g := gorgonia.NewGraph()
			x := leaf(g, dt, "x", xd, 1, 1, 3, 3)
			p := Same(3, 3, c.k, c.k, c.s, c.s)
			y := must(t)(MaxPool2D(x, c.k, c.k, c.s, c.s, p))
			sum := must(t)(gorgonia.Sum(y))
			grads, err := gorgonia.Grad(sum, x)
			if err != nil {
				t.Fatal(err)
			}
			runGraph(t, g)
			if got := valuesOf(t, y); !equal(got, c.want) {
				t.Errorf("%v %dx%d/%d: y = %v, want %v", dt, c.k, c.k, c.s, got, c.want)
			}
			if got := valuesOf(t, grads[0]); !equal(got, c.grad) {
				t.Errorf("%v %dx%d/%d: dx = %v, want %v", dt, c.k, c.k, c.s, got, c.grad)
			}
		}
	}
}

func TestMaxPool2DMatchesNaive(t *testing.T) {
	r := newRand(5)
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
		y := must(t)(MaxPool2D(x, kh, kw, sh, sw, pad))
		runGraph(t, g)
		oh, ow := (h+pad.Top+pad.Bottom-kh)/sh+1, (w+pad.Left+pad.Right-kw)/sw+1
		if !y.Shape().Eq(tensor.Shape{n, c, oh, ow}) {
			t.Fatalf("shape %v, want %v", y.Shape(), tensor.Shape{n, c, oh, ow})
		}
		got := valuesOf(t, y)
		for pl := 0; pl < n*c; pl++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					best := math.Inf(-1)
					for u := 0; u < kh; u++ {
						for v := 0; v < kw; v++ {
							rr, q := i*sh+u-pad.Top, j*sw+v-pad.Left
							if rr >= 0 && rr < h && q >= 0 && q < w {
								best = math.Max(best, xd[(pl*h+rr)*w+q])
							}
						}
					}
					if v := got[(pl*oh+i)*ow+j]; v != best {
						t.Fatalf("case %d: y[%d,%d,%d] = %g, want %g", tc, pl, i, j, v, best)
					}
				}
			}
		}
	}
}

func TestMaxPool2DGradients(t *testing.T) {
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
				r := newRand(uint64(20 + i))
				x := randLeaf(g, r, tensor.Float64, "x", 2, 2, 7, 6)
				y := must(t)(MaxPool2D(x, c.k, c.k, c.s, c.s, c.pad(7, 6)))
				return probe(t, r, y, "probe"), gorgonia.Nodes{x}
			})
		})
	}
}

func TestMaxPool2DRejectsBadArguments(t *testing.T) {
	g := gorgonia.NewGraph()
	x := randLeaf(g, newRand(6), tensor.Float64, "x", 1, 1, 4, 4)
	bad := []struct {
		name           string
		kh, kw, sh, sw int
		pad            Padding
	}{
		{"padding as large as the kernel", 2, 2, 2, 2, Padding{Top: 2}},
		{"zero stride", 2, 2, 0, 2, Valid()},
		{"zero kernel", 0, 2, 1, 1, Valid()},
		{"kernel larger than input", 5, 2, 1, 1, Valid()},
	}
	for _, c := range bad {
		if _, err := MaxPool2D(x, c.kh, c.kw, c.sh, c.sw, c.pad); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// equal reports whether two float slices hold the same values.
func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMaxPoolKernelsMatchNaive checks the float32 kernels, forward and backward, against a
// naive loop over every window cell, on inputs of few distinct values so that windows hold ties
// (the gradient must go to the first maximum in row-major order), for shapes that take the
// 2x2-stride-2 loop, 3x3 windows (GoogLeNet's) and other shapes.
func TestMaxPoolKernelsMatchNaive(t *testing.T) {
	r := newRand(7)
	for tc := 0; tc < 600; tc++ {
		n, c, h, w := 1+r.IntN(2), 1+r.IntN(3), 1+r.IntN(12), 1+r.IntN(12)
		kh, kw, sh, sw := 1+r.IntN(4), 1+r.IntN(4), 1+r.IntN(3), 1+r.IntN(3)
		switch tc % 4 {
		case 0:
			kh, kw, sh, sw = 2, 2, 2, 2
		case 1:
			kh, kw = 3, 3
		}
		pad := Same(h, w, kh, kw, sh, sw)
		if r.IntN(2) == 0 {
			pad = Padding{Top: r.IntN(kh), Bottom: r.IntN(kh), Left: r.IntN(kw), Right: r.IntN(kw)}
		}
		g, err := poolParams{kh: kh, kw: kw, sh: sh, sw: sw, pad: pad}.geom(tensor.Shape{n, c, h, w})
		if err != nil {
			continue
		}
		x := make([]float32, n*c*h*w)
		for i := range x {
			x[i] = float32(r.IntN(4)) // ties, to check that each kernel takes the first maximum
			if tc%3 == 2 {
				x[i] -= 3 // and negative values, which the float32 kernel orders through integer keys
			}
		}
		dy := make([]float32, n*c*g.oh*g.ow)
		for i := range dy {
			dy[i] = float32(1 + r.IntN(9))
		}
		y, dx := make([]float32, len(dy)), make([]float32, len(x))
		maxPoolForward(&g, x, y, nil)
		maxPoolBackward(&g, x, dy, dx)
		// The same through the mask, which the ops use once differentiated.
		my, mdx, mask := make([]float32, len(dy)), make([]float32, len(x)), make([]int32, len(dy))
		maxPoolForwardMask(&g, x, my, mask, nil)
		maxPoolRoute(&g, mask, dy, mdx)
		wantY, wantDX := make([]float32, len(dy)), make([]float32, len(x))
		for pl := 0; pl < n*c; pl++ {
			for i := 0; i < g.oh; i++ {
				for j := 0; j < g.ow; j++ {
					best := -1
					for u := 0; u < kh; u++ {
						for v := 0; v < kw; v++ {
							rr, q := i*sh+u-pad.Top, j*sw+v-pad.Left
							if rr < 0 || rr >= h || q < 0 || q >= w {
								continue
							}
							k := (pl*h+rr)*w + q
							if best < 0 || x[k] > x[best] {
								best = k
							}
						}
					}
					o := (pl*g.oh+i)*g.ow + j
					wantY[o] = x[best]
					wantDX[best] += dy[o]
				}
			}
		}
		for i := range y {
			if y[i] != wantY[i] {
				t.Fatalf("case %d (%v, kernel %dx%d, stride %dx%d, pad %v): y[%d] = %g, want %g", tc, tensor.Shape{n, c, h, w}, kh, kw, sh, sw, pad, i, y[i], wantY[i])
			}
		}
		for i := range y {
			if my[i] != wantY[i] {
				t.Fatalf("case %d (%v, kernel %dx%d, stride %dx%d, pad %v): y[%d] = %g with the mask, want %g", tc, tensor.Shape{n, c, h, w}, kh, kw, sh, sw, pad, i, my[i], wantY[i])
			}
		}
		for i := range dx {
			if mdx[i] != wantDX[i] {
				t.Fatalf("case %d (%v, kernel %dx%d, stride %dx%d, pad %v): dx[%d] = %g through the mask, want %g", tc, tensor.Shape{n, c, h, w}, kh, kw, sh, sw, pad, i, mdx[i], wantDX[i])
			}
		}
		for i := range dx {
			if dx[i] != wantDX[i] {
				t.Fatalf("case %d (%v, kernel %dx%d, stride %dx%d, pad %v): dx[%d] = %g, want %g", tc, tensor.Shape{n, c, h, w}, kh, kw, sh, sw, pad, i, dx[i], wantDX[i])
			}
		}
	}
}

// TestMaxPool2DMask checks that a differentiated MaxPool2D records its mask on every run and
// that its backward op routes along it, on a graph whose buffers are reused, with a new input
// each run: the gradient must be the one the window search gives for that run's input.
func TestMaxPool2DMask(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(2, 3, 9, 8), gorgonia.WithName("x"))
	y := must(t)(MaxPool2D(x, 3, 3, 2, 2, Same(9, 8, 3, 3, 2, 2)))
	cost := must(t)(gorgonia.Sum(must(t)(gorgonia.Square(y))))
	grads, err := gorgonia.Grad(cost, x)
	if err != nil {
		t.Fatal(err)
	}
	fwd := y.Op().(*maxPool2DOp)
	ReuseBuffers(g)
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	r := newRand(8)
	pg, err := fwd.geom(x.Shape())
	if err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 3; run++ {
		xd := make([]float32, x.Shape().TotalSize())
		for i := range xd {
			xd[i] = float32(r.IntN(5)) // ties
		}
		if err := gorgonia.Let(x, tensor.New(tensor.WithShape(x.Shape()...), tensor.WithBacking(xd))); err != nil {
			t.Fatal(err)
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		if !fwd.mask.valid(x.Value().(*tensor.Dense)) {
			t.Fatalf("run %d: no mask recorded for this run's input", run)
		}
		yv := y.Value().Data().([]float32)
		dy := make([]float32, len(yv))
		for i, v := range yv {
			dy[i] = 2 * v
		}
		want := make([]float32, len(xd))
		maxPoolBackward(&pg, xd, dy, want)
		got := grads[0].Value().Data().([]float32)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("run %d: dx[%d] = %g, want %g", run, i, got[i], want[i])
			}
		}
		vm.Reset()
	}
}
