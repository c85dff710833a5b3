//go:build cgo && !purego

package nn

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// TestLRNKernelsCMatchGo checks the C kernels against the Go ones they replace for float32
// (lrnForward, lrnBackward), which compute the scales in float64: the C kernels take them in
// float32 (a few ulp), so the results agree within 1e-6 of the largest value. The shapes span
// several units, an uneven last unit, several images, windows wider than the channels and every
// specialised beta (0.75 and 0.5 on SSE, 1 and the rest scalar).
func TestLRNKernelsCMatchGo(t *testing.T) {
	r := newRand(440)
	for _, k := range []lrnKernel{
		{radius: 2, bias: 1, alpha: 1e-4, beta: 0.75},
		{radius: 0, bias: 1, alpha: 0.5, beta: 0.5},
		{radius: 1, bias: 0.5, alpha: 2, beta: 1},
		{radius: 3, bias: 1.5, alpha: 0.3, beta: 0.6},
		{radius: 9, bias: 1, alpha: 0.1, beta: 1.3},
		{radius: 2, bias: 1, alpha: 0, beta: 0.75},
	} {
		for _, s := range []tensor.Shape{{1, 5, 3, 4}, {3, 6, 17, 31}, {2, 1, 20, 20}, {1, 64, 16, 33}} {
			x := toDtype(tensor.Float32, randData(r, s.TotalSize())).([]float32)
			dy := toDtype(tensor.Float32, randData(r, s.TotalSize())).([]float32)
			for i := range x {
				x[i] *= 3
			}
			yGo, yC := make([]float32, len(x)), make([]float32, len(x))
			lrnForward(k, s, x, yGo)
			if !lrnForwardF32(k, s, x, yC) {
				t.Fatal("the C forward kernel did not run")
			}
			dxGo, dxC := make([]float32, len(x)), make([]float32, len(x))
			lrnBackward(k, s, x, dy, dxGo)
			if !lrnBackwardF32(k, s, x, dy, dxC) {
				t.Fatal("the C backward kernel did not run")
			}
			for _, c := range []struct {
				what      string
				got, want []float32
			}{{"y", yC, yGo}, {"dx", dxC, dxGo}} {
				var d, m float64
				for i := range c.want {
					d = math.Max(d, math.Abs(float64(c.got[i])-float64(c.want[i])))
					m = math.Max(m, math.Abs(float64(c.want[i])))
				}
				if d > 1e-6*m {
					t.Errorf("%+v %v: %s from C differs from Go's by %.2g of the largest value", k, s, c.what, d/m)
				}
			}
		}
	}
}
