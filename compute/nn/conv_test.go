package nn

import (
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveConv is the direct definition of the padded, strided cross-correlation, in float64:
// y[n,o,i,j] = Σ_c Σ_u Σ_v x[n,c,i*sh+u-top,j*sw+v-left]·w[o,c,u,v], zero outside x.
func naiveConv(x []float64, xs tensor.Shape, w []float64, ws tensor.Shape, pad Padding, sh, sw int) ([]float64, tensor.Shape) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	o, kh, kw := ws[0], ws[2], ws[3]
	oh := (h+pad.Top+pad.Bottom-kh)/sh + 1
	ow := (wd+pad.Left+pad.Right-kw)/sw + 1
	y := make([]float64, n*o*oh*ow)
	for b := 0; b < n; b++ {
		for f := 0; f < o; f++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var s float64
					for ch := 0; ch < c; ch++ {
						for u := 0; u < kh; u++ {
							for v := 0; v < kw; v++ {
								r, q := i*sh+u-pad.Top, j*sw+v-pad.Left
								if r < 0 || r >= h || q < 0 || q >= wd {
									continue
								}
								s += x[((b*c+ch)*h+r)*wd+q] * w[((f*c+ch)*kh+u)*kw+v]
							}
						}
					}
					y[((b*o+f)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return y, tensor.Shape{n, o, oh, ow}
}

// convCase is one convolution configuration.
type convCase struct {
	n, c, h, w, o, kh, kw, sh, sw int
	pad                           Padding
}

// randConvCase draws a random configuration whose kernel fits its padded input.
func randConvCase(r *rand.Rand) convCase {
	for {
		cc := convCase{
			n: 1 + r.IntN(3), c: 1 + r.IntN(4), h: 1 + r.IntN(9), w: 1 + r.IntN(9),
			o: 1 + r.IntN(5), kh: 1 + r.IntN(5), kw: 1 + r.IntN(5), sh: 1 + r.IntN(3), sw: 1 + r.IntN(3),
		}
		switch r.IntN(3) {
		case 0:
			cc.pad = Same(cc.h, cc.w, cc.kh, cc.kw, cc.sh, cc.sw)
		case 1:
			cc.pad = Padding{Top: r.IntN(4), Bottom: r.IntN(4), Left: r.IntN(4), Right: r.IntN(4)}
		}
		if cc.h+cc.pad.Top+cc.pad.Bottom >= cc.kh && cc.w+cc.pad.Left+cc.pad.Right >= cc.kw {
			return cc
		}
	}
}

func TestConv2DForwardMatchesNaive(t *testing.T) {
	r := newRand(1)
	fixed := []convCase{
		{n: 2, c: 1, h: 28, w: 28, o: 3, kh: 4, kw: 4, sh: 1, sw: 1, pad: Same(28, 28, 4, 4, 1, 1)},
		{n: 2, c: 3, h: 7, w: 9, o: 2, kh: 1, kw: 1, sh: 1, sw: 1},                                 // pointwise
		{n: 1, c: 2, h: 6, w: 6, o: 2, kh: 1, kw: 1, sh: 2, sw: 2},                                 // 1x1, strided
		{n: 1, c: 2, h: 5, w: 8, o: 3, kh: 3, kw: 2, sh: 3, sw: 1, pad: Padding{0, 3, 2, 0}},       // lopsided
		{n: 3, c: 2, h: 4, w: 4, o: 2, kh: 5, kw: 5, sh: 1, sw: 1, pad: Padding{2, 2, 2, 2}},       // kernel > input
		{n: 1, c: 1, h: 10, w: 3, o: 1, kh: 2, kw: 3, sh: 4, sw: 5, pad: Padding{Top: 1, Left: 1}}, // stride > kernel
	}
	cases := fixed
	for i := 0; i < 200; i++ {
		cases = append(cases, randConvCase(r))
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		tol := 1e-12
		if dt == tensor.Float32 {
			tol = 1e-5
		}
		for i, cc := range cases {
			xs := tensor.Shape{cc.n, cc.c, cc.h, cc.w}
			ws := tensor.Shape{cc.o, cc.c, cc.kh, cc.kw}
			xd, wd := randData(r, xs.TotalSize()), randData(r, ws.TotalSize())
			want, wantShape := naiveConv(xd, xs, wd, ws, cc.pad, cc.sh, cc.sw)

			g := gorgonia.NewGraph()
			x := leaf(g, dt, "x", xd, xs...)
			w := leaf(g, dt, "w", wd, ws...)
			y := must(t)(Conv2D(x, w, cc.pad, cc.sh, cc.sw))
			if !y.Shape().Eq(wantShape) {
				t.Fatalf("%v case %d %+v: shape %v, want %v", dt, i, cc, y.Shape(), wantShape)
			}
			runGraph(t, g)
			got := valuesOf(t, y)
			for j := range want {
				if !closeTo(got[j], want[j], tol) {
					t.Fatalf("%v case %d %+v: y[%d] = %g, want %g", dt, i, cc, j, got[j], want[j])
				}
			}
		}
	}
}

func TestConv2DHandComputed(t *testing.T) {
	// x = 1..9 in a 3x3 image; w = [[1 2] [3 4]], which no flip leaves unchanged, so a true
	// convolution (flipped kernel) would give other numbers.
	// VALID: y[0,0] = 1·1 + 2·2 + 4·3 + 5·4 = 37, and so on.
	// SAME (pads 0 before, 1 after): the last row and column see zeros: y[0,2] = 3·1 + 6·3 = 21,
	// y[2,0] = 7·1 + 8·2 = 23, y[2,2] = 9·1 = 9.
	xd := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	wd := []float64{1, 2, 3, 4}
	cases := []struct {
		pad  Padding
		want []float64
		oh   int
	}{
		{Valid(), []float64{37, 47, 67, 77}, 2},
		{Same(3, 3, 2, 2, 1, 1), []float64{37, 47, 21, 67, 77, 33, 23, 26, 9}, 3},
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, c := range cases {
			g := gorgonia.NewGraph()
			x := leaf(g, dt, "x", xd, 1, 1, 3, 3)
			w := leaf(g, dt, "w", wd, 1, 1, 2, 2)
			y := must(t)(Conv2D(x, w, c.pad, 1, 1))
			runGraph(t, g)
			if s := y.Shape(); !s.Eq(tensor.Shape{1, 1, c.oh, c.oh}) {
				t.Fatalf("%v pad %v: shape %v", dt, c.pad, s)
			}
			got := valuesOf(t, y)
			for i := range c.want {
				if got[i] != c.want[i] {
					t.Fatalf("%v pad %v: y = %v, want %v", dt, c.pad, got, c.want)
				}
			}
		}
	}
}

func TestConv2DGradients(t *testing.T) {
	cases := []convCase{
		{n: 2, c: 2, h: 6, w: 5, o: 3, kh: 4, kw: 4, sh: 1, sw: 1, pad: Same(6, 5, 4, 4, 1, 1)}, // even kernel, SAME
		{n: 2, c: 3, h: 5, w: 6, o: 2, kh: 3, kw: 2, sh: 2, sw: 1, pad: Padding{1, 0, 2, 1}},    // lopsided, strided
		{n: 1, c: 2, h: 7, w: 7, o: 2, kh: 2, kw: 3, sh: 3, sw: 2, pad: Padding{Bottom: 1}},     // stride > kernel
		{n: 2, c: 3, h: 3, w: 4, o: 2, kh: 1, kw: 1, sh: 1, sw: 1},                              // pointwise
		{n: 3, c: 1, h: 4, w: 4, o: 2, kh: 3, kw: 3, sh: 2, sw: 2, pad: Same(4, 4, 3, 3, 2, 2)},
	}
	for i, cc := range cases {
		t.Run(name("case%d", i), func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(uint64(10 + i))
				x := randLeaf(g, r, tensor.Float64, "x", cc.n, cc.c, cc.h, cc.w)
				w := randLeaf(g, r, tensor.Float64, "w", cc.o, cc.c, cc.kh, cc.kw)
				y := must(t)(Conv2D(x, w, cc.pad, cc.sh, cc.sw))
				return probe(t, r, y, "probe"), gorgonia.Nodes{x, w}
			})
		})
	}
}

func TestConv2DRejectsBadShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	r := newRand(3)
	x := randLeaf(g, r, tensor.Float64, "x", 1, 2, 5, 5)
	cases := []struct {
		name   string
		w      *gorgonia.Node
		pad    Padding
		sh, sw int
	}{
		{"channel mismatch", randLeaf(g, r, tensor.Float64, "w1", 3, 1, 3, 3), Valid(), 1, 1},
		{"kernel too big", randLeaf(g, r, tensor.Float64, "w2", 3, 2, 6, 3), Valid(), 1, 1},
		{"zero stride", randLeaf(g, r, tensor.Float64, "w3", 3, 2, 3, 3), Valid(), 0, 1},
		{"negative padding", randLeaf(g, r, tensor.Float64, "w4", 3, 2, 3, 3), Padding{Top: -1}, 1, 1},
		{"matrix filters", randLeaf(g, r, tensor.Float64, "w5", 3, 2), Valid(), 1, 1},
		{"float32 filters", randLeaf(g, r, tensor.Float32, "w6", 3, 2, 3, 3), Valid(), 1, 1},
	}
	for _, c := range cases {
		_, err := Conv2D(x, c.w, c.pad, c.sh, c.sw)
		if err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(err.Error(), "nn: Conv2D: ") {
			t.Errorf("%s: error %q lacks the package prefix", c.name, err)
		}
	}
}

func TestOpsWithDifferentParametersAreNotMerged(t *testing.T) {
	g := gorgonia.NewGraph()
	r := newRand(4)
	x := randLeaf(g, r, tensor.Float64, "x", 1, 1, 6, 6)
	w := randLeaf(g, r, tensor.Float64, "w", 1, 1, 2, 2)
	a := must(t)(Conv2D(x, w, Valid(), 1, 1))
	b := must(t)(Conv2D(x, w, Padding{Top: 1}, 1, 1))
	c := must(t)(Conv2D(x, w, Padding{Bottom: 1}, 1, 1))
	d := must(t)(Conv2D(x, w, Valid(), 1, 2))
	again := must(t)(Conv2D(x, w, Valid(), 1, 1))
	if a == b || b == c || a == d {
		t.Error("convolutions with different parameters were merged into one node")
	}
	if a != again {
		t.Error("identical convolutions were not merged")
	}
	p1 := must(t)(MaxPool2D(x, 2, 2, 2, 2, Valid()))
	p2 := must(t)(MaxPool2D(x, 2, 2, 2, 2, Padding{Right: 1}))
	p3 := must(t)(MaxPool2D(x, 2, 2, 2, 1, Valid()))
	if p1 == p2 || p1 == p3 {
		t.Error("poolings with different parameters were merged into one node")
	}
}

func TestConv2DChunking(t *testing.T) {
	// Batches are cut into chunks of images, one GEMM each; every chunking, uneven last chunk
	// and one-image chunks included, must give the unchunked results.
	r := newRand(11)
	for _, cc := range []convCase{
		{n: 7, c: 2, h: 5, w: 6, o: 3, kh: 3, kw: 2, sh: 2, sw: 1, pad: Padding{1, 0, 2, 1}},
		{n: 5, c: 3, h: 4, w: 4, o: 2, kh: 1, kw: 1, sh: 1, sw: 1},
	} {
		xs := tensor.Shape{cc.n, cc.c, cc.h, cc.w}
		ws := tensor.Shape{cc.o, cc.c, cc.kh, cc.kw}
		g, err := newConvGeom(xs, ws, cc.pad, cc.sh, cc.sw)
		if err != nil {
			t.Fatal(err)
		}
		x, w := randData(r, xs.TotalSize()), randData(r, ws.TotalSize())
		dy := randData(r, g.outShape().TotalSize())
		run := func(targetCols int) (y, dx, dw []float64) {
			g := g
			g.targetCols = targetCols
			y = make([]float64, g.outShape().TotalSize())
			dx = make([]float64, xs.TotalSize())
			dw = make([]float64, ws.TotalSize())
			convForward(&g, x, w, y)
			convBackData(&g, w, dy, dx)
			convBackFilter(&g, x, dy, dw)
			return y, dx, dw
		}
		y0, dx0, dw0 := run(1 << 30) // one chunk
		for _, target := range []int{1, g.p() + 1, 2 * g.p(), 3 * g.p()} {
			y, dx, dw := run(target)
			for _, c := range []struct {
				name      string
				got, want []float64
			}{{"y", y, y0}, {"dx", dx, dx0}, {"dw", dw, dw0}} {
				for i := range c.want {
					if !closeTo(c.got[i], c.want[i], 1e-12) {
						t.Fatalf("%+v, chunks of %d columns: %s[%d] = %g, want %g", cc, target, c.name, i, c.got[i], c.want[i])
					}
				}
			}
		}
	}
}
