package nn

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveLRN is TensorFlow's definition, computed directly.
func naiveLRN(x []float64, s tensor.Shape, r int, bias, alpha, beta float64) []float64 {
	n, c, plane := channelGeom(s)
	y := make([]float64, len(x))
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for p := 0; p < plane; p++ {
				var sq float64
				for cc := ch - r; cc <= ch+r; cc++ {
					if cc >= 0 && cc < c {
						v := x[(i*c+cc)*plane+p]
						sq += v * v
					}
				}
				j := (i*c+ch)*plane + p
				y[j] = x[j] / math.Pow(bias+alpha*sq, beta)
			}
		}
	}
	return y
}

func TestLRNHand(t *testing.T) {
	// One position, channels (1, 2, 3, 4), depth radius 1, bias 1, alpha 0.5, beta 1:
	// sqr_sum = (1+4, 1+4+9, 4+9+16, 9+16) = (5, 14, 29, 25),
	// out = (1/3.5, 2/8, 3/15.5, 4/13.5).
	want := []float64{1 / 3.5, 2 / 8.0, 3 / 15.5, 4 / 13.5}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		tol := 1e-15
		if dt == tensor.Float32 {
			tol = 1e-7
		}
		g := gorgonia.NewGraph()
		x := leaf(g, dt, "x", []float64{1, 2, 3, 4}, 1, 4, 1, 1)
		y := must(t)(LRN(x, 1, 1, 0.5, 1))
		runGraph(t, g)
		if got := valuesOf(t, y); !allClose(got, want, tol) {
			t.Errorf("%v: y = %v, want %v", dt, got, want)
		}
	}
}

func TestLRNMatchesNaive(t *testing.T) {
	r := newRand(400)
	params := []struct {
		radius            int
		bias, alpha, beta float64
	}{
		{2, 1, 1e-4, 0.75}, // GoogLeNet (inception5h)
		{2, 2, 1e-4, 0.75}, // AlexNet
		{0, 1, 0.5, 0.5},
		{1, 0.5, 2, 1},
		{3, 1.5, 0.3, 0.6},
		{9, 1, 0.1, 1.3}, // a window wider than the channels
	}
	for _, p := range params {
		for _, shape := range []tensor.Shape{{1, 5, 3, 4}, {2, 7, 1, 1}, {1, 3, 17, 19}} {
			xd := randData(r, shape.TotalSize())
			for i := range xd {
				xd[i] *= 3
			}
			want := naiveLRN(xd, shape, p.radius, p.bias, p.alpha, p.beta)
			for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
				tol := 1e-14
				if dt == tensor.Float32 {
					tol = 1e-6
				}
				g := gorgonia.NewGraph()
				x := leaf(g, dt, "x", xd, shape...)
				y := must(t)(LRN(x, p.radius, p.bias, p.alpha, p.beta))
				runGraph(t, g)
				if got := valuesOf(t, y); !allClose(got, want, tol) {
					t.Errorf("%v %+v %v: y differs from the definition", dt, p, shape)
				}
			}
		}
	}
}

func TestLRNSpansUnits(t *testing.T) {
	// Planes larger than one unit of work (lrnSpan positions), an uneven last unit and
	// several images must all agree with the definition.
	r := newRand(401)
	shape := tensor.Shape{3, 6, 17, 31} // 527 positions: 256 + 256 + 15
	xd := randData(r, shape.TotalSize())
	g := gorgonia.NewGraph()
	x := leaf(g, tensor.Float64, "x", xd, shape...)
	y := must(t)(LRN(x, 2, 1, 0.7, 0.75))
	runGraph(t, g)
	if got, want := valuesOf(t, y), naiveLRN(xd, shape, 2, 1, 0.7, 0.75); !allClose(got, want, 1e-14) {
		t.Error("y differs from the definition")
	}
}

func TestLRNGradients(t *testing.T) {
	// Large alphas make the cross-channel term of the gradient as large as the direct one.
	params := []struct {
		radius            int
		bias, alpha, beta float64
	}{
		{2, 1, 0.8, 0.75},
		{1, 2, 1.5, 0.5},
		{0, 1, 0.9, 1},
		{2, 0.7, 0.4, 0.6},
		{6, 1, 0.3, 1.4}, // a window wider than the channels
		{1, 1, 0, 0.75},  // alpha 0: the identity over bias^beta
	}
	for i, p := range params {
		t.Run(name("r%d_b%g_a%g_beta%g", p.radius, p.bias, p.alpha, p.beta), func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(uint64(410 + i))
				x := randLeaf(g, r, tensor.Float64, "x", 2, 5, 3, 2)
				y := must(t)(LRN(x, p.radius, p.bias, p.alpha, p.beta))
				return probe(t, r, y, "probe"), gorgonia.Nodes{x}
			})
		})
	}
	t.Run("several units", func(t *testing.T) {
		checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
			r := newRand(420)
			x := randLeaf(g, r, tensor.Float64, "x", 1, 3, 10, 27) // 270 positions: two units
			y := must(t)(LRN(x, 1, 1, 0.8, 0.75))
			return probe(t, r, y, "probe"), gorgonia.Nodes{x}
		})
	})
}

func TestLRNFromONNX(t *testing.T) {
	p, err := LRNFromONNX(5, 1e-4, 0.75, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := (LRNParams{DepthRadius: 2, Bias: 2, Alpha: 1e-4 / 5, Beta: 0.75}); p != want {
		t.Errorf("LRNFromONNX(5, 1e-4, 0.75, 2) = %+v, want %+v", p, want)
	}
	// The ONNX definition, computed directly, must agree with LRN under the conversion.
	r := newRand(402)
	shape := tensor.Shape{1, 7, 2, 3}
	xd := randData(r, shape.TotalSize())
	const size, alpha, beta, bias = 3, 0.9, 0.6, 1.5
	n, c, plane := channelGeom(shape)
	want := make([]float64, len(xd))
	for i := 0; i < n*c*plane; i++ {
		ch, pos := i/plane%c, i%plane
		var sq float64
		for cc := max(0, ch-(size-1)/2); cc <= min(c-1, ch+(size-1)/2); cc++ { // floor and ceil agree for odd sizes
			v := xd[(i/plane/c*c+cc)*plane+pos]
			sq += v * v
		}
		want[i] = xd[i] / math.Pow(bias+alpha/size*sq, beta)
	}
	q, err := LRNFromONNX(size, alpha, beta, bias)
	if err != nil {
		t.Fatal(err)
	}
	g := gorgonia.NewGraph()
	x := leaf(g, tensor.Float64, "x", xd, shape...)
	y := must(t)(LRN(x, q.DepthRadius, q.Bias, q.Alpha, q.Beta))
	runGraph(t, g)
	if got := valuesOf(t, y); !allClose(got, want, 1e-14) {
		t.Errorf("LRN with converted parameters differs from ONNX's definition")
	}
	for _, size := range []int{0, -1, 4} {
		if _, err := LRNFromONNX(size, 1e-4, 0.75, 1); err == nil || !strings.HasPrefix(err.Error(), "nn: LRNFromONNX: ") {
			t.Errorf("size %d: error %v", size, err)
		}
	}
}

func TestLRNRejectsBadArguments(t *testing.T) {
	g := gorgonia.NewGraph()
	x := randLeaf(g, newRand(403), tensor.Float64, "x", 1, 4, 2, 2)
	v := randLeaf(g, newRand(404), tensor.Float64, "v", 4, 2)
	for _, c := range []struct {
		name              string
		x                 *gorgonia.Node
		radius            int
		bias, alpha, beta float64
	}{
		{"negative radius", x, -1, 1, 1e-4, 0.75},
		{"zero bias", x, 2, 0, 1e-4, 0.75},
		{"negative alpha", x, 2, 1, -1e-4, 0.75},
		{"NaN beta", x, 2, 1, 1e-4, math.NaN()},
		{"infinite bias", x, 2, math.Inf(1), 1e-4, 0.75},
		{"rank 2 input", v, 2, 1, 1e-4, 0.75},
		{"nil input", nil, 2, 1, 1e-4, 0.75},
	} {
		_, err := LRN(c.x, c.radius, c.bias, c.alpha, c.beta)
		if err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(err.Error(), "nn: LRN: ") {
			t.Errorf("%s: error %q lacks the prefix", c.name, err)
		}
	}
}

// BenchmarkLRN times LRN's forward pass, backward pass and both in float32 at GoogLeNet's
// shapes (inception5h: depth radius 2, bias 1, alpha 1e-4, beta 0.75) and reports ms/op.
func BenchmarkLRN(b *testing.B) {
	k := lrnKernel{radius: 2, bias: 1, alpha: 1e-4, beta: 0.75}
	for _, shape := range []tensor.Shape{{1, 64, 56, 56}, {1, 192, 56, 56}} {
		r := newRand(430)
		dense := func() *tensor.Dense {
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(toDtype(tensor.Float32, randData(r, shape.TotalSize()))))
		}
		x, dy := dense(), dense()
		fwd, back := &unaryOp{k: k}, &unaryBackOp{k: k}
		passes := []struct {
			name string
			run  func() error
		}{
			{"forward", func() error { _, err := fwd.Do(x); return err }},
			{"backward", func() error { _, err := back.Do(x, dy); return err }},
			{"both", func() error {
				if _, err := fwd.Do(x); err != nil {
					return err
				}
				_, err := back.Do(x, dy)
				return err
			}},
		}
		for _, p := range passes {
			b.Run(name("%dx%dx%dx%d/%s", shape[0], shape[1], shape[2], shape[3], p.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := p.run(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
			})
		}
	}
}
