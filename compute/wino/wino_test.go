//go:build cgo && !purego

package wino

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// directForward is the float64 reference: dst[n][o][y][x] = bias[o] + Σ src[n][c][y+i-PadTop]
// [x+j-PadLeft]·w[o][c][i][j] over c, i, j, with zeros outside src.
func directForward(c Conv, src, w, bias []float32) []float64 {
	oh, ow := c.OutSize()
	dst := make([]float64, c.N*c.O*oh*ow)
	for n := 0; n < c.N; n++ {
		for o := 0; o < c.O; o++ {
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					s := 0.0
					if bias != nil {
						s = float64(bias[o])
					}
					for ch := 0; ch < c.C; ch++ {
						for i := 0; i < 3; i++ {
							sy := y + i - c.PadTop
							if sy < 0 || sy >= c.H {
								continue
							}
							for j := 0; j < 3; j++ {
								sx := x + j - c.PadLeft
								if sx < 0 || sx >= c.W {
									continue
								}
								s += float64(src[((n*c.C+ch)*c.H+sy)*c.W+sx]) * float64(w[((o*c.C+ch)*3+i)*3+j])
							}
						}
					}
					dst[((n*c.O+o)*oh+y)*ow+x] = s
				}
			}
		}
	}
	return dst
}

// directBackwardData is the float64 transposed convolution, written as the scatter that the
// chain rule gives (each output's gradient flows back to the 9 inputs under it), not as the
// gather with a rotated kernel that BackwardData computes.
func directBackwardData(c Conv, dy, w []float32) []float64 {
	oh, ow := c.OutSize()
	dx := make([]float64, c.N*c.C*c.H*c.W)
	for n := 0; n < c.N; n++ {
		for o := 0; o < c.O; o++ {
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					g := float64(dy[((n*c.O+o)*oh+y)*ow+x])
					for ch := 0; ch < c.C; ch++ {
						for i := 0; i < 3; i++ {
							sy := y + i - c.PadTop
							if sy < 0 || sy >= c.H {
								continue
							}
							for j := 0; j < 3; j++ {
								sx := x + j - c.PadLeft
								if sx < 0 || sx >= c.W {
									continue
								}
								dx[((n*c.C+ch)*c.H+sy)*c.W+sx] += g * float64(w[((o*c.C+ch)*3+i)*3+j])
							}
						}
					}
				}
			}
		}
	}
	return dx
}

// relErr returns max|got-want| / max|want| (max|got-want| when want is all zeros).
func relErr(got []float32, want []float64) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func uniform(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

// randomConv draws a convolution: N 1-3, C and O 1-40, H and W 1-30 (one in four W 31-90, where
// rows hold 8 whole tiles side by side, the AVX2 gathers' case), pads 0-2 (sometimes 3, which
// BackwardData computes with a negative pad), with at least one output.
func randomConv(r *rand.Rand) Conv {
	for {
		pad := func() int {
			if r.IntN(8) == 0 {
				return 3
			}
			return r.IntN(3)
		}
		c := Conv{N: 1 + r.IntN(3), C: 1 + r.IntN(40), O: 1 + r.IntN(40), H: 1 + r.IntN(30), W: 1 + r.IntN(30),
			PadTop: pad(), PadBottom: pad(), PadLeft: pad(), PadRight: pad()}
		if r.IntN(4) == 0 {
			c.W = 31 + r.IntN(60)
		}
		if c.Supported() == nil {
			return c
		}
	}
}

// randomTol bounds the relative error of uniform data with C <= 40: float32 rounding (6e-8 a
// step) amplified by the input transform (rows of Bᵀ sum to 10 in absolute value, 100 for the
// 2-D transform) and the output transform (up to 19, 361), partly cancelling; the worst over 200
// shapes measured 7.7e-6. 2e-5 leaves a margin without hiding a wrong tile, whose error would be
// of order 1.
const randomTol = 2e-5

// TestRandomShapes compares both passes, on both instruction sets and with chunks small enough
// to split the tiles of a shape, against the float64 direct convolution.
func TestRandomShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 7))
	count := 200
	if testing.Short() {
		count = 40
	}
	var worstF, worstB float64
	for k := 0; k < count; k++ {
		c := randomConv(r)
		oh, ow := c.OutSize()
		x, w, b := uniform(r, c.N*c.C*c.H*c.W), uniform(r, c.O*c.C*9), uniform(r, c.O)
		dy := uniform(r, c.N*c.O*oh*ow)
		if k%2 == 0 {
			b = nil
		}
		wantY, wantDX := directForward(c, x, w, b), directBackwardData(c, dy, w)
		small := 36 * 4 * (c.C + c.O) * nr // one block of 16 tiles a chunk
		for _, variant := range []struct {
			name        string
			isa         int
			chunk, mode int
		}{
			{"default", 0, 0, modeAuto}, {"baseline-isa", 1, small, modeChunks},
			{"small-chunks", 0, small, modeChunks}, {"small-stages", 0, small, modeStages},
		} {
			ws := &Workspace{isa: variant.isa, chunkBytes: variant.chunk, mode: variant.mode}
			y := make([]float32, len(wantY))
			if err := ws.Forward(c, x, w, b, y); err != nil {
				t.Fatalf("%+v %s: %v", c, variant.name, err)
			}
			dx := make([]float32, len(wantDX))
			if err := ws.BackwardData(c, dy, w, dx); err != nil {
				t.Fatalf("%+v %s: %v", c, variant.name, err)
			}
			ef, eb := relErr(y, wantY), relErr(dx, wantDX)
			worstF, worstB = math.Max(worstF, ef), math.Max(worstB, eb)
			if ef > randomTol || eb > randomTol {
				t.Errorf("%+v %s: relative error forward %.3g, backward-data %.3g, want <= %g", c, variant.name, ef, eb, randomTol)
			}
		}
	}
	t.Logf("%d shapes: worst relative error forward %.3g, backward-data %.3g", count, worstF, worstB)
}

// TestLargePads checks pads larger than a tile, where whole tiles lie in the padding and
// BackwardData crops diff_dst by up to 9 rows or columns.
func TestLargePads(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 17))
	var ws Workspace
	for _, c := range []Conv{
		{N: 1, C: 3, O: 5, H: 7, W: 40, PadTop: 9, PadBottom: 0, PadLeft: 11, PadRight: 7},
		{N: 2, C: 4, O: 2, H: 1, W: 1, PadTop: 8, PadBottom: 8, PadLeft: 1, PadRight: 9},
		{N: 1, C: 2, O: 3, H: 5, W: 50, PadTop: 0, PadBottom: 10, PadLeft: 0, PadRight: 0},
	} {
		oh, ow := c.OutSize()
		x, w, b, dy := uniform(r, c.N*c.C*c.H*c.W), uniform(r, c.O*c.C*9), uniform(r, c.O), uniform(r, c.N*c.O*oh*ow)
		y, dx := make([]float32, len(dy)), make([]float32, len(x))
		if err := ws.Forward(c, x, w, b, y); err != nil {
			t.Fatal(err)
		}
		if err := ws.BackwardData(c, dy, w, dx); err != nil {
			t.Fatal(err)
		}
		ef, eb := relErr(y, directForward(c, x, w, b)), relErr(dx, directBackwardData(c, dy, w))
		if ef > randomTol || eb > randomTol {
			t.Errorf("%+v: relative error forward %.3g, backward-data %.3g, want <= %g", c, ef, eb, randomTol)
		}
	}
}

// TestReLU checks the fused ReLU of Forward against max(reference, 0), and that BackwardData
// ignores it.
func TestReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 19))
	var ws Workspace
	for k := 0; k < 20; k++ {
		c := randomConv(r)
		c.ReLU = true
		oh, ow := c.OutSize()
		x, w, b, dy := uniform(r, c.N*c.C*c.H*c.W), uniform(r, c.O*c.C*9), uniform(r, c.O), uniform(r, c.N*c.O*oh*ow)
		want := directForward(c, x, w, b)
		negative := 0
		for i, v := range want {
			if v < 0 {
				want[i] = 0
				negative++
			}
		}
		y := make([]float32, len(want))
		if err := ws.Forward(c, x, w, b, y); err != nil {
			t.Fatal(err)
		}
		if e := relErr(y, want); e > randomTol {
			t.Errorf("%+v: relative error %.3g, want <= %g", c, e, randomTol)
		}
		for i := range y {
			if y[i] < 0 {
				t.Fatalf("%+v: y[%d] = %g < 0 with ReLU", c, i, y[i])
			}
		}
		if negative == 0 && len(want) > 8 {
			t.Errorf("%+v: no negative outputs to clip: the test checks nothing", c)
		}
		dx := make([]float32, len(x))
		if err := ws.BackwardData(c, dy, w, dx); err != nil {
			t.Fatal(err)
		}
		if e := relErr(dx, directBackwardData(c, dy, w)); e > randomTol {
			t.Errorf("%+v: backward-data relative error %.3g with ReLU set", c, e)
		}
	}
}

// TestAdjoint checks <dy, conv(x)> = <BackwardData(dy), x>, the property that makes
// BackwardData the gradient of Forward, in float64 over the float32 results.
func TestAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	var ws Workspace
	for k := 0; k < 30; k++ {
		c := randomConv(r)
		oh, ow := c.OutSize()
		x, w, dy := uniform(r, c.N*c.C*c.H*c.W), uniform(r, c.O*c.C*9), uniform(r, c.N*c.O*oh*ow)
		y, dx := make([]float32, len(dy)), make([]float32, len(x))
		if err := ws.Forward(c, x, w, nil, y); err != nil {
			t.Fatal(err)
		}
		if err := ws.BackwardData(c, dy, w, dx); err != nil {
			t.Fatal(err)
		}
		var lhs, rhs, scale float64
		for i := range y {
			lhs += float64(dy[i]) * float64(y[i])
			scale += math.Abs(float64(dy[i]) * float64(y[i]))
		}
		for i := range x {
			rhs += float64(dx[i]) * float64(x[i])
		}
		if math.Abs(lhs-rhs) > 1e-5*scale {
			t.Errorf("%+v: <dy, conv(x)> = %.9g, <backdata(dy), x> = %.9g (scale %.3g)", c, lhs, rhs, scale)
		}
	}
}

// vggData returns ReLU'd standard normal activations and He-initialised weights (normal with
// variance 2/(9C)), the statistics of a VGG layer's inputs.
func vggData(r *rand.Rand, c Conv) (x, w []float32) {
	x = make([]float32, c.N*c.C*c.H*c.W)
	for i := range x {
		x[i] = float32(math.Max(0, r.NormFloat64()))
	}
	w = make([]float32, c.O*c.C*9)
	sd := math.Sqrt(2 / float64(9*c.C))
	for i := range w {
		w[i] = float32(r.NormFloat64() * sd)
	}
	return x, w
}

// TestVGGError measures the error on VGG-like data at VGG's channel counts (a 28x28 image with
// SAME padding and 32 output channels, which the error does not depend on) and holds it to
// 1e-5 of the largest output; oneDNN's Winograd measured 1e-6 to 3e-6 on such layers.
func TestVGGError(t *testing.T) {
	channels := []int{64, 256, 512}
	if testing.Short() {
		channels = []int{64}
	}
	r := rand.New(rand.NewPCG(3, 11))
	var ws Workspace
	for _, ch := range channels {
		c := Conv{N: 1, C: ch, O: 32, H: 28, W: 28, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
		x, w := vggData(r, c)
		want := directForward(c, x, w, nil)
		y := make([]float32, len(want))
		if err := ws.Forward(c, x, w, nil, y); err != nil {
			t.Fatal(err)
		}
		dy := uniform(r, len(y))
		wantDX := directBackwardData(c, dy, w)
		dx := make([]float32, len(x))
		if err := ws.BackwardData(c, dy, w, dx); err != nil {
			t.Fatal(err)
		}
		ef, eb := relErr(y, want), relErr(dx, wantDX)
		t.Logf("C=%d: relative error forward %.3g, backward-data %.3g", ch, ef, eb)
		if ef > 1e-5 || eb > 1e-5 {
			t.Errorf("C=%d: relative error forward %.3g, backward-data %.3g, want <= 1e-5", ch, ef, eb)
		}
	}
}

// TestFilter checks that passes with a transformed Filter give the same bits as the plain
// passes, also on another image size, and that a filter set for another pass or other channels
// is refused.
func TestFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 13))
	c := Conv{N: 2, C: 9, O: 11, H: 13, W: 10, PadTop: 0, PadBottom: 1, PadLeft: 2, PadRight: 1}
	oh, ow := c.OutSize()
	x, w, b, dy := uniform(r, c.N*c.C*c.H*c.W), uniform(r, c.O*c.C*9), uniform(r, c.O), uniform(r, c.N*c.O*oh*ow)
	var ws Workspace
	y1, y2 := make([]float32, len(dy)), make([]float32, len(dy))
	dx1, dx2 := make([]float32, len(x)), make([]float32, len(x))
	var ff, fb Filter
	for _, err := range []error{
		ws.Forward(c, x, w, b, y1), ws.SetForward(&ff, c, w), ws.ForwardFilter(c, x, &ff, b, y2),
		ws.BackwardData(c, dy, w, dx1), ws.SetBackwardData(&fb, c, w), ws.BackwardDataFilter(c, dy, &fb, dx2),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	sameWithFilter(t, "forward: y", y2, y1)
	sameWithFilter(t, "backward-data: dx", dx2, dx1)
	if err := ws.ForwardFilter(c, x, &fb, b, y2); err == nil {
		t.Error("ForwardFilter accepted a backward-data filter")
	}
	if err := ws.BackwardDataFilter(c, dy, &ff, dx2); err == nil {
		t.Error("BackwardDataFilter accepted a forward filter")
	}
	// Another batch, image size and padding with the same channels: the same filter serves.
	c2 := Conv{N: 1, C: c.C, O: c.O, H: 21, W: 40, PadTop: 1, PadBottom: 1, PadLeft: 0, PadRight: 2}
	oh2, ow2 := c2.OutSize()
	x2, dy2 := uniform(r, c2.N*c2.C*c2.H*c2.W), uniform(r, c2.N*c2.O*oh2*ow2)
	y3, y4 := make([]float32, len(dy2)), make([]float32, len(dy2))
	dx3, dx4 := make([]float32, len(x2)), make([]float32, len(x2))
	for _, err := range []error{
		ws.Forward(c2, x2, w, b, y3), ws.ForwardFilter(c2, x2, &ff, b, y4),
		ws.BackwardData(c2, dy2, w, dx3), ws.BackwardDataFilter(c2, dy2, &fb, dx4),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	sameWithFilter(t, "another image size: y", y4, y3)
	sameWithFilter(t, "another image size: dx", dx4, dx3)
	// Other channels: refused.
	c3 := c
	c3.O = c.O + 1
	if err := ws.ForwardFilter(c3, x, &ff, nil, make([]float32, c3.N*c3.O*oh*ow)); err == nil {
		t.Error("ForwardFilter accepted a filter set for other channels")
	}
}

// TestErrors checks that bad shapes and buffers are refused with errors, never a panic.
func TestErrors(t *testing.T) {
	var ws Workspace
	good := Conv{N: 1, C: 2, O: 3, H: 5, W: 5, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	for _, c := range []Conv{
		{N: 0, C: 1, O: 1, H: 3, W: 3},
		{N: 1, C: 1, O: 1, H: 2, W: 3},
		{N: 1, C: 1, O: 1, H: 3, W: 3, PadLeft: -1},
		{N: 1, C: -1, O: 1, H: 3, W: 3},
	} {
		err := c.Supported()
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%+v: Supported() = %v, want ErrUnsupported", c, err)
		}
		if err := ws.Forward(c, nil, nil, nil, nil); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%+v: Forward = %v, want ErrUnsupported", c, err)
		}
	}
	x, w, y := make([]float32, 50), make([]float32, 54), make([]float32, 75)
	for name, err := range map[string]error{
		"short src":     ws.Forward(good, x[:49], w, nil, y),
		"short weights": ws.Forward(good, x, w[:53], nil, y),
		"long dst":      ws.Forward(good, x, w, nil, append(y, 0)),
		"bias":          ws.Forward(good, x, w, make([]float32, 2), y),
		"backward dst":  ws.BackwardData(good, y[:74], w, x),
		"backward src":  ws.BackwardData(good, y, w, x[:1]),
		"nil filter":    ws.ForwardFilter(good, x, nil, nil, y),
		"unset filter":  ws.BackwardDataFilter(good, y, &Filter{}, x),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := ws.Forward(good, x, w, nil, y); err != nil {
		t.Errorf("the right buffers: %v", err)
	}
}

// TestNoAllocs checks that repeated calls on a Workspace allocate nothing.
func TestNoAllocs(t *testing.T) {
	c := Conv{N: 1, C: 16, O: 16, H: 40, W: 40, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	oh, ow := c.OutSize()
	x, w, y := make([]float32, c.N*c.C*c.H*c.W), make([]float32, c.O*c.C*9), make([]float32, c.N*c.O*oh*ow)
	ws := &Workspace{chunkBytes: 36 * 4 * 32 * nr} // several chunks
	var f Filter
	if err := ws.SetForward(&f, c, w); err != nil {
		t.Fatal(err)
	}
	run := func() {
		if err := ws.Forward(c, x, w, nil, y); err != nil {
			t.Fatal(err)
		}
		if err := ws.ForwardFilter(c, x, &f, nil, y); err != nil {
			t.Fatal(err)
		}
		if err := ws.BackwardData(c, y, w, x); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range []int{modeChunks, modeStages} {
		ws.mode = mode
		run()
		if a := testing.AllocsPerRun(10, run); a != 0 {
			t.Errorf("mode %d: %v allocations a run, want 0", mode, a)
		}
	}
}

func ExampleWorkspace_Forward() {
	// A 1-channel 4x4 image, a 3x3 box filter, SAME padding: each output sums its neighbours.
	c := Conv{N: 1, C: 1, O: 1, H: 4, W: 4, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	x := make([]float32, 16)
	for i := range x {
		x[i] = 1
	}
	w := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}
	y := make([]float32, 16)
	var ws Workspace
	if err := ws.Forward(c, x, w, nil, y); err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < 4; i++ {
		fmt.Printf("%.3g\n", y[4*i:4*i+4])
	}
	// Output:
	// [4 6 6 4]
	// [6 9 9 6]
	// [6 9 9 6]
	// [4 6 6 4]
}

// sameWithFilter fails unless got (computed with a kept Filter) equals want (without) bit for
// bit.
func sameWithFilter(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %g with a Filter, %g without", what, i, got[i], want[i])
		}
	}
}
