//go:build cgo && !purego

package nn

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include <math.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

// LRN's float32 kernels in C: the algorithm of lrnForward and lrnBackward in lrn.go (units of up
// to SPAN positions of one image; float64 window sums over the channels, adding the channel that
// enters the window and subtracting the one that leaves), in loops gcc vectorises. The scales
// d^-beta take SSE's packed float32 square roots: gcc does not vectorise sqrt() itself, because
// it may set errno, and cgo refuses -fno-math-errno; scalar float64 square roots were most of
// the Go kernel's time. d is at least bias > 0, and d^-0.75 = 1/(√d·√√d) in float32 is within a
// few ulp.
// Built for AVX2 and for baseline x86-64 (convas_clones.h).
#include "convas_clones.h"

#define SPAN 256

typedef struct {
	int nc, plane, r;
	double bias, alpha, beta;
} lrngeom;

// lrn_scales writes p[i] = (bias + alpha·a[i])^-beta.
static inline void lrn_scales(float *restrict p, const double *restrict a, int m, const lrngeom *k) {
	double bias = k->bias, alpha = k->alpha;
	int i = 0;
#if defined(__x86_64__) || defined(__i386__)
	if (k->beta == 0.75 || k->beta == 0.5) {
		const __m128 one = _mm_set1_ps(1.0f);
		for (; i + 4 <= m; i += 4) {
			__m128 d = _mm_set_ps((float)(bias + alpha * a[i + 3]), (float)(bias + alpha * a[i + 2]),
				(float)(bias + alpha * a[i + 1]), (float)(bias + alpha * a[i]));
			__m128 s = _mm_sqrt_ps(d);
			__m128 q = k->beta == 0.75 ? _mm_mul_ps(s, _mm_sqrt_ps(s)) : s;
			_mm_storeu_ps(p + i, _mm_div_ps(one, q));
		}
	}
#endif
	for (; i < m; i++) {
		double d = bias + alpha * a[i];
		if (k->beta == 0.75) {
			double s = sqrt(d);
			p[i] = (float)(1 / (s * sqrt(s)));
		} else if (k->beta == 0.5) {
			p[i] = (float)(1 / sqrt(d));
		} else if (k->beta == 1) {
			p[i] = (float)(1 / d);
		} else {
			p[i] = (float)pow(d, -k->beta);
		}
	}
}

static inline void add_sq(double *restrict sum, const float *restrict x, int m) {
	for (int i = 0; i < m; i++) sum[i] += (double)x[i] * (double)x[i];
}

static inline void sub_sq(double *restrict sum, const float *restrict x, int m) {
	for (int i = 0; i < m; i++) sum[i] -= (double)x[i] * (double)x[i];
}

static inline void unit_of(int u, int plane, int *n, int *p0, int *p1) {
	int per = (plane + SPAN - 1) / SPAN;
	*n = u / per;
	*p0 = (u % per) * SPAN;
	*p1 = *p0 + SPAN < plane ? *p0 + SPAN : plane;
}

// convas_lrn_fwd_f32 runs units [u0, u1). sum holds SPAN doubles, p SPAN floats.
CONVAS_CLONES
void convas_lrn_fwd_f32(const float *x, float *y, int u0, int u1, const lrngeom *kp, double *sum, float *p) {
	const lrngeom k = *kp;
	for (int u = u0; u < u1; u++) {
		int n, p0, p1;
		unit_of(u, k.plane, &n, &p0, &p1);
		int m = p1 - p0;
		const float *xb = x + (size_t)n * k.nc * k.plane + p0;
		float *yb = y + (size_t)n * k.nc * k.plane + p0;
		memset(sum, 0, m * sizeof(double));
		for (int cc = 0; cc <= k.r && cc < k.nc; cc++) add_sq(sum, xb + (size_t)cc * k.plane, m);
		for (int c = 0; c < k.nc; c++) {
			lrn_scales(p, sum, m, &k);
			const float *xs = xb + (size_t)c * k.plane;
			float *ys = yb + (size_t)c * k.plane;
			for (int i = 0; i < m; i++) ys[i] = xs[i] * p[i];
			if (c + 1 + k.r < k.nc) add_sq(sum, xb + (size_t)(c + 1 + k.r) * k.plane, m);
			if (c - k.r >= 0) sub_sq(sum, xb + (size_t)(c - k.r) * k.plane, m);
		}
	}
}

// convas_lrn_bwd_f32 runs units [u0, u1). sum holds SPAN doubles, p SPAN floats, t nc·SPAN
// doubles.
CONVAS_CLONES
void convas_lrn_bwd_f32(const float *x, const float *dy, float *dx, int u0, int u1, const lrngeom *kp, double *sum, float *p, double *t) {
	const lrngeom k = *kp;
	double scale = 2 * k.alpha * k.beta;
	for (int u = u0; u < u1; u++) {
		int n, p0, p1;
		unit_of(u, k.plane, &n, &p0, &p1);
		int m = p1 - p0;
		size_t base = (size_t)n * k.nc * k.plane + p0;
		const float *xb = x + base, *gb = dy + base;
		float *db = dx + base;
		// Pass 1: the direct term into dx, and t = dy·out/d for every channel.
		memset(sum, 0, m * sizeof(double));
		for (int cc = 0; cc <= k.r && cc < k.nc; cc++) add_sq(sum, xb + (size_t)cc * k.plane, m);
		for (int c = 0; c < k.nc; c++) {
			lrn_scales(p, sum, m, &k);
			const float *xs = xb + (size_t)c * k.plane, *gs = gb + (size_t)c * k.plane;
			float *ds = db + (size_t)c * k.plane;
			double *tc = t + (size_t)c * SPAN;
			for (int i = 0; i < m; i++) {
				double g = (double)gs[i] * (double)p[i];
				ds[i] = (float)g;
				tc[i] = g * (double)xs[i] / (k.bias + k.alpha * sum[i]);
			}
			if (c + 1 + k.r < k.nc) add_sq(sum, xb + (size_t)(c + 1 + k.r) * k.plane, m);
			if (c - k.r >= 0) sub_sq(sum, xb + (size_t)(c - k.r) * k.plane, m);
		}
		if (scale == 0) continue;
		// Pass 2: the cross term, the sum of t over each channel's window.
		memset(sum, 0, m * sizeof(double));
		for (int cc = 0; cc <= k.r && cc < k.nc; cc++) {
			const double *tc = t + (size_t)cc * SPAN;
			for (int i = 0; i < m; i++) sum[i] += tc[i];
		}
		for (int c = 0; c < k.nc; c++) {
			const float *xs = xb + (size_t)c * k.plane;
			float *ds = db + (size_t)c * k.plane;
			for (int i = 0; i < m; i++) ds[i] -= (float)(scale * (double)xs[i] * sum[i]);
			if (c + 1 + k.r < k.nc) {
				const double *tc = t + (size_t)(c + 1 + k.r) * SPAN;
				for (int i = 0; i < m; i++) sum[i] += tc[i];
			}
			if (c - k.r >= 0) {
				const double *tc = t + (size_t)(c - k.r) * SPAN;
				for (int i = 0; i < m; i++) sum[i] -= tc[i];
			}
		}
	}
}
*/
import "C"

import (
	"sync"
	"unsafe"

	"gorgonia.org/tensor"
)

// lrnGeom describes k on tensors of shape s to the C kernels.
func lrnGeom(k lrnKernel, s tensor.Shape) C.lrngeom {
	_, nc, plane := channelGeom(s)
	return C.lrngeom{nc: C.int(nc), plane: C.int(plane), r: C.int(k.radius), bias: C.double(k.bias), alpha: C.double(k.alpha), beta: C.double(k.beta)}
}

// lrnWork is one worker's scratch for the C kernels: the window sums and scales of a unit, and
// for the backward pass t of every channel. lrnWorks keeps them between calls (GoogLeNet's
// backward pass needs about 1 MB a worker), so that a graph run many times does not allocate
// them every time; they are filled afresh by every call.
type lrnWork struct {
	sum, t []float64
	p      []float32
}

var lrnWorks = sync.Pool{New: func() any {
	return &lrnWork{sum: make([]float64, lrnSpan), p: make([]float32, lrnSpan)}
}}

// lrnForwardF32 is lrnForward for float32 through the C kernel; it reports whether it ran.
func lrnForwardF32(k lrnKernel, s tensor.Shape, x, y []float32) bool {
	g := lrnGeom(k, s)
	parallelFor(lrnUnits(s), func(_, lo, hi int) {
		w := lrnWorks.Get().(*lrnWork)
		defer lrnWorks.Put(w)
		C.convas_lrn_fwd_f32((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.int(lo), C.int(hi), &g,
			(*C.double)(unsafe.Pointer(&w.sum[0])), (*C.float)(unsafe.Pointer(&w.p[0])))
	})
	return true
}

// lrnBackwardF32 is lrnBackward for float32 through the C kernel; it reports whether it ran.
func lrnBackwardF32(k lrnKernel, s tensor.Shape, x, dy, dx []float32) bool {
	g := lrnGeom(k, s)
	_, nc, _ := channelGeom(s)
	parallelFor(lrnUnits(s), func(_, lo, hi int) {
		w := lrnWorks.Get().(*lrnWork)
		defer lrnWorks.Put(w)
		if len(w.t) < nc*lrnSpan {
			w.t = make([]float64, nc*lrnSpan)
		}
		C.convas_lrn_bwd_f32((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&dy[0])), (*C.float)(unsafe.Pointer(&dx[0])),
			C.int(lo), C.int(hi), &g,
			(*C.double)(unsafe.Pointer(&w.sum[0])), (*C.float)(unsafe.Pointer(&w.p[0])), (*C.double)(unsafe.Pointer(&w.t[0])))
	})
	return true
}
