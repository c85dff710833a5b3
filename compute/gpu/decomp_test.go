package gpu_test

// The GPU path computes TensorFlow's asymmetric 'SAME' padding from what cuDNN offers:
// symmetric padding plus an explicit copy into a larger buffer (cv_pad), whose gradient is
// cropped back (cv_crop); pooling on a fully padded input, average pooling rescaled by the
// window's real cells (cv_pool_rescale). These tests check that arithmetic on the CPU, with
// compute/nn's ops and Go mirrors of the three kernels, on every machine: the GPU tests then
// check the kernels and cuDNN themselves.

import (
	"math"
	"math/rand/v2"
	"testing"

	"convas/compute/gpu"
	"convas/compute/nn"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// padHost mirrors cv_pad: x (planes, h, w) into (planes, h2, w2) at (top, left), fill elsewhere.
func padHost(x []float32, planes, h, w, h2, w2, top, left int, fill float32) []float32 {
	y := make([]float32, planes*h2*w2)
	for i := range y {
		c, r, p := i%w2, i/w2%h2, i/(w2*h2)
		sr, sc := r-top, c-left
		if sr >= 0 && sr < h && sc >= 0 && sc < w {
			y[i] = x[(p*h+sr)*w+sc]
		} else {
			y[i] = fill
		}
	}
	return y
}

// cropHost mirrors cv_crop.
func cropHost(x []float32, planes, h, w, h2, w2, top, left int) []float32 {
	y := make([]float32, planes*h*w)
	for i := range y {
		c, r, p := i%w, i/w%h, i/(w*h)
		y[i] = x[(p*h2+r+top)*w2+c+left]
	}
	return y
}

// rescaleHost mirrors cv_pool_rescale: each output cell times kh*kw / its window's real cells.
func rescaleHost(y []float32, p gpu.Pool) []float32 {
	oh, ow := p.OutSize()
	out := make([]float32, len(y))
	for i := range y {
		c, r := i%ow, i/ow%oh
		h0, w0 := r*p.StrideH-p.PadTop, c*p.StrideW-p.PadLeft
		h1, w1 := min(h0+p.KH, p.H), min(w0+p.KW, p.W)
		h0, w0 = max(h0, 0), max(w0, 0)
		out[i] = y[i] * (float32(p.KH*p.KW) / float32((h1-h0)*(w1-w0)))
	}
	return out
}

func TestConvPaddingSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	cases := []struct {
		name             string
		n, c, h, w, o, k int
		stride           int
	}{
		{"4x4 same (1, 2)", 2, 3, 13, 13, 5, 4, 1},
		{"7x7/2 same on 24 (2, 3)", 1, 3, 24, 24, 4, 7, 2},
		{"3x3/2 same on 16 (0, 1)", 2, 4, 16, 16, 3, 3, 2},
		{"3x3 same (1, 1)", 1, 5, 9, 11, 2, 3, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pad := nn.Same(tc.h, tc.w, tc.k, tc.k, tc.stride, tc.stride)
			c := gpu.Conv{N: tc.n, C: tc.c, H: tc.h, W: tc.w, O: tc.o, KH: tc.k, KW: tc.k, StrideH: tc.stride, StrideW: tc.stride,
				PadTop: pad.Top, PadBottom: pad.Bottom, PadLeft: pad.Left, PadRight: pad.Right}
			ph, pw, et, el, h2, w2 := gpu.SplitForTest(c)
			if ph+et != pad.Top || pw+el != pad.Left || h2+2*ph != tc.h+pad.Top+pad.Bottom || w2+2*pw != tc.w+pad.Left+pad.Right {
				t.Fatalf("split %d %d %d %d %d %d does not add up to %v", ph, pw, et, el, h2, w2, pad)
			}
			oh, ow := c.OutSize()
			x, w := randSlice(r, tc.n*tc.c*tc.h*tc.w), randSlice(r, tc.o*tc.c*tc.k*tc.k)
			dy := randSlice(r, tc.n*tc.o*oh*ow)
			conv := func(p nn.Padding) func([]*gorgonia.Node) (*gorgonia.Node, error) {
				return func(ns []*gorgonia.Node) (*gorgonia.Node, error) {
					return nn.Conv2D(ns[0], ns[1], p, tc.stride, tc.stride)
				}
			}
			ws := tensor.Shape{tc.o, tc.c, tc.k, tc.k}
			y, g := cpuTwin(t, []leaf{{tensor.Shape{tc.n, tc.c, tc.h, tc.w}, x}, {ws, w}}, conv(pad), dy)
			planes := tc.n * tc.c
			xp := padHost(x, planes, tc.h, tc.w, h2, w2, et, el, 0)
			y2, g2 := cpuTwin(t, []leaf{{tensor.Shape{tc.n, tc.c, h2, w2}, xp}, {ws, w}},
				conv(nn.Padding{Top: ph, Bottom: ph, Left: pw, Right: pw}), dy)
			checkClose(t, "forward", y2, y, 1e-6)
			checkClose(t, "backward data (cropped)", cropHost(g2[0], planes, tc.h, tc.w, h2, w2, et, el), g[0], 1e-6)
			checkClose(t, "backward filter", g2[1], g[1], 1e-6)
		})
	}
}

func TestPoolPaddingSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	cases := []struct {
		name       string
		mode       gpu.PoolMode
		h, w, k, s int
	}{
		{"max 3x3/2 on 14 (0, 1)", gpu.PoolMax, 14, 14, 3, 2},
		{"max 3x3/1 (1, 1)", gpu.PoolMax, 9, 8, 3, 1},
		{"avg 3x3/1 (1, 1)", gpu.PoolAverage, 9, 8, 3, 1},
		{"avg 2x2/2 on 7 (0, 1)", gpu.PoolAverage, 7, 7, 2, 2},
		{"avg 5x5/2 on 11 (2, 2)", gpu.PoolAverage, 11, 12, 5, 2},
	}
	const n, c = 2, 3
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pad := nn.Same(tc.h, tc.w, tc.k, tc.k, tc.s, tc.s)
			p := gpu.Pool{N: n, C: c, H: tc.h, W: tc.w, KH: tc.k, KW: tc.k, StrideH: tc.s, StrideW: tc.s,
				PadTop: pad.Top, PadBottom: pad.Bottom, PadLeft: pad.Left, PadRight: pad.Right, Mode: tc.mode}
			oh, ow := p.OutSize()
			h2, w2 := tc.h+pad.Top+pad.Bottom, tc.w+pad.Left+pad.Right
			x, dy := randSlice(r, n*c*tc.h*tc.w), randSlice(r, n*c*oh*ow)
			pool := func(pd nn.Padding) func([]*gorgonia.Node) (*gorgonia.Node, error) {
				return func(ns []*gorgonia.Node) (*gorgonia.Node, error) {
					if tc.mode == gpu.PoolMax {
						return nn.MaxPool2D(ns[0], tc.k, tc.k, tc.s, tc.s, pd)
					}
					return nn.AvgPool2D(ns[0], tc.k, tc.k, tc.s, tc.s, pd)
				}
			}
			y, g := cpuTwin(t, []leaf{{tensor.Shape{n, c, tc.h, tc.w}, x}}, pool(pad), dy)
			fill := float32(0)
			if tc.mode == gpu.PoolMax {
				fill = -math.MaxFloat32
			}
			xp := padHost(x, n*c, tc.h, tc.w, h2, w2, pad.Top, pad.Left, fill)
			dyIn := dy
			if tc.mode == gpu.PoolAverage {
				dyIn = rescaleHost(dy, p) // the GPU path scales the output gradient before cuDNN's backward
			}
			y2, g2 := cpuTwin(t, []leaf{{tensor.Shape{n, c, h2, w2}, xp}}, pool(nn.Valid()), dyIn)
			if tc.mode == gpu.PoolAverage {
				y2 = rescaleHost(y2, p)
			}
			checkClose(t, "forward", y2, y, 1e-6)
			checkClose(t, "backward (cropped)", cropHost(g2[0], n*c, tc.h, tc.w, h2, w2, pad.Top, pad.Left), g[0], 1e-6)
		})
	}
}

// TestLRNAlphaConvention: cuDNN's LRN is ONNX's (alpha divided by the window size), so the
// alpha cgpu.c hands it, TensorFlow's alpha times the window, is TensorFlow's alpha again
// through compute/nn's own conversion.
func TestLRNAlphaConvention(t *testing.T) {
	for _, radius := range []int{0, 2, 7} {
		size := 2*radius + 1
		const alpha = 1e-4
		p, err := nn.LRNFromONNX(size, alpha*float64(size), 0.75, 1)
		if err != nil || p.DepthRadius != radius || math.Abs(p.Alpha-alpha) > 1e-18 {
			t.Errorf("radius %d: LRNFromONNX(%d, %g) = %+v, %v; want radius %d, alpha %g", radius, size, alpha*float64(size), p, err, radius, alpha)
		}
	}
}
