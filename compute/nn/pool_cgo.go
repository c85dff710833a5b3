//go:build cgo && !purego

package nn

/*
#cgo CFLAGS: -O3
#include <stdint.h>
#include <string.h>

// The float32 max-pooling kernel, in C so that gcc vectorises it: Go has no SIMD and no
// conditional moves for floats, and the Go loops it replaces spent their time on mispredicted
// branches. Built for AVX2 and for baseline x86-64 (convas_clones.h).
#include "convas_clones.h"

// okey maps a float to an int32 that orders as the float does (-0 and +0 equal); fromkey
// inverts it (returning +0 for -0).
static inline int32_t okey(float v) {
	int32_t b;
	memcpy(&b, &v, 4);
	int32_t m = b >> 31;
	return ((b & 0x7fffffff) ^ m) - m;
}

static inline float fromkey(int32_t k) {
	int32_t m = k >> 31;
	int32_t b = ((k ^ m) - m) | (m & (int32_t)0x80000000);
	float v;
	memcpy(&v, &b, 4);
	return v;
}

typedef struct {
	int h, w, oh, ow, kh, kw, sh, sw, pt, pl;
	int lo, hi; // output columns whose windows lie inside the plane's columns
} pgeom;

// hpass: along one row of keys, each interior output column's first maximum and its column.
static inline __attribute__((always_inline)) void hpass(const int32_t *restrict key, int32_t *restrict hk, int32_t *restrict hc, const pgeom *g, int kw, int sw) {
	int n = g->hi - g->lo;
	int base = g->lo * sw - g->pl;
	for (int j = 0; j < n; j++) {
		int w0 = base + j * sw;
		int32_t bk = key[w0];
		int32_t at = w0;
		for (int c = 1; c < kw; c++) {
			int32_t k = key[w0 + c];
			int gt = k > bk;
			bk = gt ? k : bk;
			at = gt ? w0 + c : at;
		}
		hk[j] = bk;
		hc[j] = at;
	}
}

// argmax over a clipped window, scalar: the first maximum in row-major order.
static int32_t argmax_window(const float *plane, const pgeom *g, int h0, int h1, int oc) {
	int w0 = oc * g->sw - g->pl, w1 = w0 + g->kw;
	if (w0 < 0) w0 = 0;
	if (w1 > g->w) w1 = g->w;
	int32_t best = h0 * g->w + w0;
	int32_t bk = okey(plane[best]);
	for (int r = h0; r < h1; r++) {
		for (int c = w0; c < w1; c++) {
			int32_t k = okey(plane[r * g->w + c]);
			if (k > bk) {
				bk = k;
				best = r * g->w + c;
			}
		}
	}
	return best;
}

// edge pools the clipped window of output column oc of a row into orow and, unless mrow is
// NULL, its argmax into mrow.
static inline void edge(const float *plane, const pgeom *g, int h0, int h1, int oc, float *orow, int32_t *mrow) {
	int32_t at = argmax_window(plane, g, h0, h1, oc);
	orow[oc] = plane[at];
	if (mrow) mrow[oc] = at;
}

// convas_maxpool_f32 max-pools planes [0, planes) of x (h x w each) into y (oh x ow each) and,
// when mask is not NULL, writes each output's argmax (its index in its plane) into mask.
// scratch holds w + 2*h*(hi-lo) int32s.
CONVAS_CLONES
void convas_maxpool_f32(const float *x, float *y, int32_t *mask, int planes, const pgeom *gp, int32_t *scratch) {
	const pgeom g = *gp;
	int n = g.hi - g.lo;
	int32_t *key = scratch, *hk = scratch + g.w, *hc = hk + g.h * n;
	for (int p = 0; p < planes; p++) {
		const float *plane = x + (size_t)p * g.h * g.w;
		float *out = y + (size_t)p * g.oh * g.ow;
		int32_t *mk = mask ? mask + (size_t)p * g.oh * g.ow : NULL;
		if (n > 0) {
			for (int ih = 0; ih < g.h; ih++) {
				const float *row = plane + ih * g.w;
				for (int i = 0; i < g.w; i++) key[i] = okey(row[i]);
				int32_t *rk = hk + ih * n, *rc = hc + ih * n;
				if (g.kw == 3 && g.sw == 1) hpass(key, rk, rc, &g, 3, 1);
				else if (g.kw == 3 && g.sw == 2) hpass(key, rk, rc, &g, 3, 2);
				else if (g.kw == 2 && g.sw == 2) hpass(key, rk, rc, &g, 2, 2);
				else hpass(key, rk, rc, &g, g.kw, g.sw);
			}
		}
		for (int o = 0; o < g.oh; o++) {
			int h0 = o * g.sh - g.pt, h1 = h0 + g.kh;
			if (h0 < 0) h0 = 0;
			if (h1 > g.h) h1 = g.h;
			float *orow = out + o * g.ow;
			int32_t *mrow = mk ? mk + o * g.ow : NULL;
			int from = 0, to = 0;
			if (h1 - h0 == g.kh && n > 0) {
				from = g.lo;
				to = g.hi;
				// Down the kh rows, columns innermost so that gcc vectorises: bk (in key, free
				// once the row pass is done) and the argmax (in the mask row, or in hk's spare
				// room when there is no mask) follow the first row with the greatest maximum.
				int32_t *bk = key;
				float *ov = orow + g.lo;
				const int32_t *k0 = hk + h0 * n, *c0 = hc + h0 * n;
				if (mrow) {
					int32_t *at = mrow + g.lo;
					for (int j = 0; j < n; j++) {
						bk[j] = k0[j];
						at[j] = h0 * g.w + c0[j];
					}
					for (int r = 1; r < g.kh; r++) {
						const int32_t *kr = k0 + r * n, *cr = c0 + r * n;
						int32_t rowbase = (h0 + r) * g.w;
						for (int j = 0; j < n; j++) {
							int gt = kr[j] > bk[j];
							bk[j] = gt ? kr[j] : bk[j];
							at[j] = gt ? rowbase + cr[j] : at[j];
						}
					}
				} else {
					for (int j = 0; j < n; j++) bk[j] = k0[j];
					for (int r = 1; r < g.kh; r++) {
						const int32_t *kr = k0 + r * n;
						for (int j = 0; j < n; j++) bk[j] = kr[j] > bk[j] ? kr[j] : bk[j];
					}
				}
				for (int j = 0; j < n; j++) ov[j] = fromkey(bk[j]);
			}
			// The columns [from, to) are done; the rest, where padding clips the windows,
			// take the scalar search.
			for (int oc = 0; oc < from; oc++) edge(plane, &g, h0, h1, oc, orow, mrow);
			for (int oc = to; oc < g.ow; oc++) edge(plane, &g, h0, h1, oc, orow, mrow);
		}
	}
}
*/
import "C"

import "unsafe"

// maxPoolF32 pools the float32 planes of x into y through the C kernel above, planes split over
// goroutines, and records each output's argmax in mask unless mask is nil. scratch is kept by
// the caller across calls and grows as needed. It returns false, having done nothing, where the
// C kernel does not apply (no planes).
func maxPoolF32(g *poolGeom, x, y []float32, mask []int32, scratch *[]int32) bool {
	planes := g.n * g.c
	if planes == 0 {
		return false
	}
	lo, hi := g.interior()
	cg := C.pgeom{
		h: C.int(g.h), w: C.int(g.w), oh: C.int(g.oh), ow: C.int(g.ow),
		kh: C.int(g.kh), kw: C.int(g.kw), sh: C.int(g.sh), sw: C.int(g.sw),
		pt: C.int(g.pad.Top), pl: C.int(g.pad.Left), lo: C.int(lo), hi: C.int(hi),
	}
	per := g.w + 2*g.h*(hi-lo)
	workers := workersFor(planes)
	if scratch == nil {
		scratch = new([]int32)
	}
	if len(*scratch) < per*workers {
		*scratch = make([]int32, per*workers)
	}
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(planes, func(worker, p0, p1 int) {
		var mk *C.int32_t
		if mask != nil {
			mk = (*C.int32_t)(unsafe.Pointer(&mask[p0*out]))
		}
		C.convas_maxpool_f32((*C.float)(unsafe.Pointer(&x[p0*in])), (*C.float)(unsafe.Pointer(&y[p0*out])), mk,
			C.int(p1-p0), &cg, (*C.int32_t)(unsafe.Pointer(&(*scratch)[worker*per])))
	})
	return true
}
