//go:build cgo && !purego

package nn

import (
	"math"
	"testing"
)

// TestReLUKernelsCMatchGo checks the C rectifier against the Go loops it replaces, on random
// values with zeros of both signs, NaN and infinities among them, at lengths that leave a
// remainder after any vector width.
func TestReLUKernelsCMatchGo(t *testing.T) {
	r := newRand(450)
	nan := float32(math.NaN())
	special := []float32{0, float32(math.Copysign(0, -1)), nan, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45}
	for _, n := range []int{1, 7, 8, 9, 31, 1000, 100003} {
		x := make([]float32, n)
		dy := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
			dy[i] = float32(r.NormFloat64())
			if i%5 == 0 {
				x[i] = special[(i/5)%len(special)]
			}
		}
		yGo, yC := make([]float32, n), make([]float32, n)
		reluForward(x, yGo)
		if !reluForwardF32(x, yC) {
			t.Fatal("the C forward kernel did not run")
		}
		dxGo, dxC := make([]float32, n), make([]float32, n)
		reluBackward(x, dy, dxGo)
		if !reluBackwardF32(x, dy, dxC) {
			t.Fatal("the C backward kernel did not run")
		}
		for i := range x {
			// Go's max(-0, 0) is +0 and C keeps -0: equal as numbers, which is what matters.
			if !(yC[i] == yGo[i] || math.IsNaN(float64(yC[i])) && math.IsNaN(float64(yGo[i]))) {
				t.Fatalf("n=%d: relu(%v) = %v from C, %v from Go", n, x[i], yC[i], yGo[i])
			}
			if dxC[i] != dxGo[i] {
				t.Fatalf("n=%d: relu'(%v)·%v = %v from C, %v from Go", n, x[i], dy[i], dxC[i], dxGo[i])
			}
		}
		// In place, as reluKernel allows (gradInPlace).
		copy(dxC, dy)
		reluBackwardF32(x, dxC, dxC)
		for i := range x {
			if dxC[i] != dxGo[i] {
				t.Fatalf("n=%d in place: relu'(%v)·%v = %v, want %v", n, x[i], dy[i], dxC[i], dxGo[i])
			}
		}
	}
}

// BenchmarkReLU times the float32 rectifier forward and backward on VGG19's largest
// activation at 512 (64x512x512), through this build's kernel and through the Go loops.
func BenchmarkReLU(b *testing.B) {
	r := newRand(451)
	n := 64 * 512 * 512
	x, dy, y := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	b.Run("forward/c", func(b *testing.B) {
		for b.Loop() {
			reluForwardF32(x, y)
		}
	})
	b.Run("forward/go", func(b *testing.B) {
		for b.Loop() {
			reluForward(x, y)
		}
	})
	b.Run("backward/c", func(b *testing.B) {
		for b.Loop() {
			reluBackwardF32(x, dy, y)
		}
	})
	b.Run("backward/go", func(b *testing.B) {
		for b.Loop() {
			reluBackward(x, dy, y)
		}
	})
}
