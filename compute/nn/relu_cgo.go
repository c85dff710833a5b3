//go:build cgo && !purego

package nn

/*
#cgo CFLAGS: -O3
#include <stddef.h>

// The float32 rectifier in C, which gcc vectorises into compares and blends: the Go loops it
// replaces branch on the sign of every element, and the branch is taken at random on real
// activations.
// Built for AVX2 and for baseline x86-64 (convas_clones.h).
#include "convas_clones.h"

// y = 0 where x < 0, else x: NaN stays NaN, as with Go's max(x, 0), so that a diverging run
// shows.
CONVAS_CLONES
void convas_relu_fwd_f32(const float *restrict x, float *restrict y, ptrdiff_t n) {
	for (ptrdiff_t i = 0; i < n; i++) y[i] = x[i] < 0 ? 0 : x[i];
}

// dx = dy where x > 0, else 0. dx may be dy (the gradient computed in place).
CONVAS_CLONES
void convas_relu_bwd_f32(const float *restrict x, const float *dy, float *dx, ptrdiff_t n) {
	for (ptrdiff_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
}
*/
import "C"

import "unsafe"

// reluForwardF32 is reluForward for float32 through the C kernel; it reports whether it ran.
func reluForwardF32(x, y []float32) bool {
	if len(x) == 0 {
		return true
	}
	parallelFor(len(x), func(_, lo, hi int) {
		C.convas_relu_fwd_f32((*C.float)(unsafe.Pointer(&x[lo])), (*C.float)(unsafe.Pointer(&y[lo])), C.ptrdiff_t(hi-lo))
	})
	return true
}

// reluBackwardF32 is reluBackward for float32 through the C kernel; it reports whether it ran.
func reluBackwardF32(x, dy, dx []float32) bool {
	if len(x) == 0 {
		return true
	}
	parallelFor(len(x), func(_, lo, hi int) {
		C.convas_relu_bwd_f32((*C.float)(unsafe.Pointer(&x[lo])), (*C.float)(unsafe.Pointer(&dy[lo])), (*C.float)(unsafe.Pointer(&dx[lo])), C.ptrdiff_t(hi-lo))
	})
	return true
}
