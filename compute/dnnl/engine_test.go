//go:build cgo && !purego

package dnnl

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// naive computes the three passes of c directly in float64: y from (x, w), dx from (w, dy) and
// dw from (x, dy).
func naive(c Conv, x, w, dy []float32) (y, dx, dw []float64) {
	oh, ow := c.OutSize()
	y = make([]float64, c.N*c.O*oh*ow)
	dx = make([]float64, c.N*c.C*c.H*c.W)
	dw = make([]float64, c.O*c.C*c.KH*c.KW)
	for n := 0; n < c.N; n++ {
		for o := 0; o < c.O; o++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					yi := ((n*c.O+o)*oh+i)*ow + j
					for ch := 0; ch < c.C; ch++ {
						for u := 0; u < c.KH; u++ {
							for v := 0; v < c.KW; v++ {
								r, q := i*c.StrideH+u-c.PadTop, j*c.StrideW+v-c.PadLeft
								if r < 0 || r >= c.H || q < 0 || q >= c.W {
									continue
								}
								xi := ((n*c.C+ch)*c.H+r)*c.W + q
								wi := ((o*c.C+ch)*c.KH+u)*c.KW + v
								y[yi] += float64(x[xi]) * float64(w[wi])
								dx[xi] += float64(dy[yi]) * float64(w[wi])
								dw[wi] += float64(dy[yi]) * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	return y, dx, dw
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(2*r.Float64() - 1)
	}
	return s
}

// sizes returns the element counts of src, weights and dst.
func sizes(c Conv) (int, int, int) {
	oh, ow := c.OutSize()
	return c.N * c.C * c.H * c.W, c.O * c.C * c.KH * c.KW, c.N * c.O * oh * ow
}

// compare checks got against want element by element, relative to the largest |want|: a sum
// of float32 products reordered by a blocked kernel differs from the float64 sum by a few ulps
// of the largest terms, not of each result.
func compare(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	scale := 1.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*scale {
			t.Fatalf("%s[%d] = %g, want %g (scale %g)", what, i, got[i], want[i], scale)
		}
	}
}

// runAll runs the three passes of c on e and compares them with naive.
func runAll(t *testing.T, e *Engine, r *rand.Rand, c Conv) {
	t.Helper()
	nx, nw, ny := sizes(c)
	x, w, dy := randSlice(r, nx), randSlice(r, nw), randSlice(r, ny)
	wantY, wantDX, wantDW := naive(c, x, w, dy)
	y, dx, dw := make([]float32, ny), make([]float32, nx), make([]float32, nw)
	if err := e.Run(c, Forward, x, w, y); err != nil {
		t.Fatal(err)
	}
	if err := e.Run(c, BackwardData, dx, w, dy); err != nil {
		t.Fatal(err)
	}
	if err := e.Run(c, BackwardWeights, x, dw, dy); err != nil {
		t.Fatal(err)
	}
	compare(t, "y", y, wantY, 1e-5)
	compare(t, "dx", dx, wantDX, 1e-5)
	compare(t, "dw", dw, wantDW, 1e-5)
}

func TestRunMatchesNaive(t *testing.T) {
	e, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []Conv{
		{N: 2, C: 1, H: 28, W: 28, O: 25, KH: 4, KW: 4, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2},
		{N: 3, C: 25, H: 14, W: 14, O: 50, KH: 4, KW: 4, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2},
		{N: 1, C: 16, H: 9, W: 11, O: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{N: 2, C: 3, H: 10, W: 7, O: 5, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadTop: 0, PadBottom: 3, PadLeft: 2, PadRight: 0},
		{N: 1, C: 2, H: 4, W: 4, O: 2, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2},
		{N: 2, C: 8, H: 6, W: 6, O: 8, KH: 1, KW: 1, StrideH: 2, StrideW: 2},
	} {
		runAll(t, e, r, c)
	}
}

func TestRunBiasMatchesNaive(t *testing.T) {
	e, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []Conv{
		{N: 2, C: 1, H: 28, W: 28, O: 25, KH: 4, KW: 4, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2, Bias: true},
		{N: 1, C: 16, H: 9, W: 11, O: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Bias: true},
		{N: 2, C: 3, H: 10, W: 7, O: 5, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadTop: 0, PadBottom: 3, PadLeft: 2, PadRight: 0, Bias: true},
	} {
		nx, nw, ny := sizes(c)
		x, w, b := randSlice(r, nx), randSlice(r, nw), randSlice(r, c.O)
		want, _, _ := naive(c, x, w, make([]float32, ny))
		oh, ow := c.OutSize()
		for i := range want {
			want[i] += float64(b[i/(oh*ow)%c.O])
		}
		y := make([]float32, ny)
		if err := e.RunBias(c, x, w, b, y); err != nil {
			t.Fatal(err)
		}
		compare(t, "y", y, want, 1e-5)
		// The backward passes ignore the bias.
		nx, nw, ny = sizes(c)
		dy, dx, dw := randSlice(r, ny), make([]float32, nx), make([]float32, nw)
		_, wantDX, wantDW := naive(c, x, w, dy)
		if err := e.Run(c, BackwardData, dx, w, dy); err != nil {
			t.Fatal(err)
		}
		if err := e.Run(c, BackwardWeights, x, dw, dy); err != nil {
			t.Fatal(err)
		}
		compare(t, "dx", dx, wantDX, 1e-5)
		compare(t, "dw", dw, wantDW, 1e-5)
		if err := e.Run(c, Forward, x, w, y); err == nil {
			t.Error("Run accepted a forward pass with a bias")
		}
		if err := e.RunBias(c, x, w, b[1:], y); err == nil {
			t.Error("RunBias accepted a bias of the wrong length")
		}
	}
}

func TestRunReLU(t *testing.T) {
	// The ReLU post-op: max(0, conv + bias), with and without the bias, and the backward passes
	// of the same Conv unaffected (they ignore ReLU as they ignore the bias).
	e, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []Conv{
		{N: 2, C: 25, H: 14, W: 14, O: 50, KH: 4, KW: 4, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 2, PadLeft: 1, PadRight: 2, Bias: true, ReLU: true},
		{N: 1, C: 16, H: 9, W: 11, O: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, ReLU: true},
	} {
		nx, nw, ny := sizes(c)
		x, w, b := randSlice(r, nx), randSlice(r, nw), randSlice(r, c.O)
		want, wantDX, _ := naive(c, x, w, randSlice(r, ny))
		oh, ow := c.OutSize()
		negative := 0
		for i := range want {
			if c.Bias {
				want[i] += float64(b[i/(oh*ow)%c.O])
			}
			if want[i] < 0 {
				want[i] = 0
				negative++
			}
		}
		if negative == 0 || negative == len(want) {
			t.Fatalf("%+v: %d of %d outputs negative: the test checks nothing", c, negative, len(want))
		}
		y := make([]float32, ny)
		if c.Bias {
			err = e.RunBias(c, x, w, b, y)
		} else {
			err = e.Run(c, Forward, x, w, y)
		}
		if err != nil {
			t.Fatal(err)
		}
		compare(t, "relu(y)", y, want, 1e-5)
		dx := make([]float32, nx)
		_, wantDX, _ = naive(c, x, w, y) // any dy: the backward pass is the plain convolution's
		if err := e.Run(c, BackwardData, dx, w, y); err != nil {
			t.Fatal(err)
		}
		compare(t, "dx", dx, wantDX, 1e-5)
	}
}

func TestInfoAndErrors(t *testing.T) {
	e, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := Conv{N: 1, C: 32, H: 16, W: 16, O: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	for _, p := range []Pass{Forward, BackwardData, BackwardWeights} {
		info, err := e.Info(c, p)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v: %s, layouts %v", p, info.Impl, info.Layouts)
		if info.Impl == "" {
			t.Errorf("%v: no implementation name", p)
		}
	}
	bad := c
	bad.KH = 40
	if err := e.Run(bad, Forward, make([]float32, 1), make([]float32, 1), make([]float32, 1)); err == nil {
		t.Error("a kernel larger than the padded input was accepted")
	}
	if err := e.Run(c, Forward, make([]float32, 3), make([]float32, 1), make([]float32, 1)); err == nil {
		t.Error("buffers of the wrong size were accepted")
	}
	e.Close()
	if _, err := e.Info(c, Forward); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

func TestConcurrentCallersAndEviction(t *testing.T) {
	// A cache of 2 primitives for 3 shapes × 3 passes evicts all the time; 4 goroutines share
	// the engine, as graphs on several jobs' goroutines do.
	e, err := NewEngineCache(2)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	convs := []Conv{
		{N: 2, C: 3, H: 8, W: 8, O: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{N: 1, C: 8, H: 5, W: 9, O: 16, KH: 2, KW: 2, StrideH: 1, StrideW: 2, PadBottom: 1, PadRight: 1},
		{N: 3, C: 16, H: 7, W: 7, O: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 2},
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for i := 0; i < 6; i++ {
				runAll(t, e, r, convs[(g+i)%len(convs)])
			}
		}(g)
	}
	wg.Wait()
}

// absOf returns |s| elementwise.
func absOf(s []float32) []float32 {
	a := make([]float32, len(s))
	for i, v := range s {
		a[i] = float32(math.Abs(float64(v)))
	}
	return a
}

func TestWinogradIsOptional(t *testing.T) {
	// Winograd (or, where oneDNN has none, the direct convolution in its place) runs all three
	// passes within 1e-4 of the largest result of the direct definition. The
	// log gives its error relative to the largest result and, per element, to Σ|terms|, the
	// scale of a float32 sum's rounding, beside the direct algorithm's.
	e, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := Conv{N: 2, C: 64, H: 28, W: 28, O: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	for _, odd := range []Conv{
		{N: 1, C: 24, H: 14, W: 14, O: 24, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Algorithm: Winograd},
		{N: 1, C: 64, H: 14, W: 14, O: 64, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Algorithm: Winograd},
		{N: 1, C: 64, H: 14, W: 14, O: 64, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2, Algorithm: Winograd},
	} {
		info, err := e.Info(odd, Forward)
		t.Logf("Winograd asked for C=%d, %dx%d, stride %d: %s %v", odd.C, odd.KH, odd.KW, odd.StrideH, info.Impl, err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	nx, nw, ny := sizes(c)
	x, w, dy := randSlice(r, nx), randSlice(r, nw), randSlice(r, ny)
	want := [3][]float64{}
	want[0], want[1], want[2] = naive(c, x, w, dy)
	mag := [3][]float64{}
	mag[0], mag[1], mag[2] = naive(c, absOf(x), absOf(w), absOf(dy))
	for _, algo := range []Algorithm{Direct, Winograd} {
		c.Algorithm = algo
		if info, err := e.Info(c, Forward); err != nil {
			t.Fatal(err)
		} else if algo == Winograd && !strings.Contains(info.Impl, "wino") {
			t.Logf("Winograd unavailable here: %s runs instead", info.Impl)
		}
		got := [3][]float32{make([]float32, ny), make([]float32, nx), make([]float32, nw)}
		for i, p := range []Pass{Forward, BackwardData, BackwardWeights} {
			var err error
			switch p {
			case Forward:
				err = e.Run(c, p, x, w, got[0])
			case BackwardData:
				err = e.Run(c, p, got[1], w, dy)
			case BackwardWeights:
				err = e.Run(c, p, x, got[2], dy)
			}
			if err != nil {
				t.Errorf("%v %v: %v", algo, p, err)
				continue
			}
			info, _ := e.Info(c, p)
			scale, worstScale, worstTerms := 0.0, 0.0, 0.0
			for _, v := range want[i] {
				scale = math.Max(scale, math.Abs(v))
			}
			for j, v := range want[i] {
				d := math.Abs(float64(got[i][j]) - v)
				worstScale = math.Max(worstScale, d/scale)
				worstTerms = math.Max(worstTerms, d/mag[i][j])
			}
			t.Logf("%-8v %-16v %-28s error/max|y| %.2g, error/Σ|terms| %.2g", algo, p, info.Impl, worstScale, worstTerms)
			if worstScale > 1e-4 {
				t.Errorf("%v %v: error %.2g of the largest result", algo, p, worstScale)
			}
		}
	}
}

// BenchmarkVGG times the three passes of VGG-sized 3x3 convolutions at batch 1, direct and,
// where oneDNN has it, Winograd, in GFLOP/s of the direct algorithm (2 FLOPs per multiply-add).
func BenchmarkVGG(b *testing.B) {
	e, err := NewEngine()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for _, l := range []struct {
		name    string
		c, h, o int
	}{{"64x224x224_64", 64, 224, 64}, {"256x56x56_256", 256, 56, 256}, {"512x28x28_512", 512, 28, 512}} {
		c := Conv{N: 1, C: l.c, H: l.h, W: l.h, O: l.o, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
		nx, nw, ny := sizes(c)
		r := rand.New(rand.NewPCG(5, 6))
		x, w, y := randSlice(r, nx), randSlice(r, nw), randSlice(r, ny)
		flops := 2 * float64(c.O*c.C*9*l.h*l.h)
		for _, algo := range []Algorithm{Direct, Winograd} {
			c.Algorithm = algo
			for _, p := range []Pass{Forward, BackwardData, BackwardWeights} {
				if info, err := e.Info(c, p); err != nil || algo == Winograd && !strings.Contains(info.Impl, "wino") {
					continue
				}
				name := l.name + "/" + p.String() + "/direct"
				if algo == Winograd {
					name = l.name + "/" + p.String() + "/winograd"
				}
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						if err := e.Run(c, p, x, w, y); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

func BenchmarkEngineRoundTrip(b *testing.B) {
	// The cost of one request through the engine's thread on a tiny convolution.
	e, err := NewEngine()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	c := Conv{N: 1, C: 1, H: 1, W: 1, O: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1}
	x, w, y := []float32{1}, []float32{2}, []float32{0}
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Run(c, Forward, x, w, y); err != nil {
			b.Fatal(err)
		}
	}
}
