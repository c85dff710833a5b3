//go:build cgo && !purego

// Winograd F(4x4, 3x3) transforms (Lavin and Gray 2015, interpolation points 0, 1, -1, 2, -2
// and infinity). The input and output transforms work on 8 tiles at once, one tile per vector
// lane, so that gcc -O3 vectorises them: a block of 8 consecutive tiles writes 8 consecutive
// floats of V[a][c] and reads 8 consecutive floats of M[a][o]. Each transform exists twice, for
// the baseline x86-64 ISA (SSE2) and for AVX2+FMA (a target attribute on the function, not a
// global -mavx2, so that the binary still runs without AVX2); the Go side picks one with
// wino_has_avx2. The matrices:
//
//   B^T = [4  0 -5  0 1 0]   G = [ 1/4     0    0 ]   A^T = [1 1  1 1  1 0]
//         [0 -4 -4  1 1 0]       [-1/6  -1/6 -1/6 ]         [0 1 -1 2 -2 0]
//         [0  4 -4 -1 1 0]       [-1/6   1/6 -1/6 ]         [0 1  1 4  4 0]
//         [0 -2 -1  2 1 0]       [1/24  1/12  1/6 ]         [0 1 -1 8 -8 1]
//         [0  2 -1 -2 1 0]       [1/24 -1/12  1/6 ]
//         [0  4  0 -5 0 1]       [ 0      0    1  ]

#include <cblas.h>
#include <string.h>

#include "wino.h"

#define VL 8 // tiles per block, one per vector lane

#define INLINE static inline __attribute__((always_inline))

int wino_has_avx2(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// ---- filter transform ----

// filter_one computes the 36 values of G g G^T for one 3x3 kernel g (row-major), in double.
INLINE void filter_one(const double g[9], double out[36]) {
	double t[6][3]; // G g
	for (int j = 0; j < 3; j++) {
		double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
		t[0][j] = g0 / 4;
		t[1][j] = -(g0 + g1 + g2) / 6;
		t[2][j] = -(g0 - g1 + g2) / 6;
		t[3][j] = g0 / 24 + g1 / 12 + g2 / 6;
		t[4][j] = g0 / 24 - g1 / 12 + g2 / 6;
		t[5][j] = g2;
	}
	for (int i = 0; i < 6; i++) { // (G g) G^T
		double g0 = t[i][0], g1 = t[i][1], g2 = t[i][2];
		double *o = out + 6 * i;
		o[0] = g0 / 4;
		o[1] = -(g0 + g1 + g2) / 6;
		o[2] = -(g0 - g1 + g2) / 6;
		o[3] = g0 / 24 + g1 / 12 + g2 / 6;
		o[4] = g0 / 24 - g1 / 12 + g2 / 6;
		o[5] = g2;
	}
}

INLINE void filter_body(const float *w, float *u, long rows, long cols, long r0, long r1, int back) {
	long plane = rows * cols;
	for (long r = r0; r < r1; r++) {
		for (long k = 0; k < cols; k++) {
			double g[9], out[36];
			if (!back) {
				const float *src = w + (r * cols + k) * 9; // w[o=r][c=k]
				for (int i = 0; i < 9; i++) g[i] = src[i];
			} else {
				const float *src = w + (k * rows + r) * 9; // w[o=k][c=r], rotated 180 degrees
				for (int i = 0; i < 9; i++) g[i] = src[8 - i];
			}
			filter_one(g, out);
			float *dst = u + r * cols + k;
			for (int a = 0; a < 36; a++) dst[a * plane] = (float)out[a];
		}
	}
}

// ---- input transform ----

// input_tile transforms one block: d[k][l][v] is row k, column l of tile v; it writes
// V[a][v] for a < 36 at v + a * astride.
INLINE void input_tile(float d[6][6][VL], float *v, long astride) {
	float t[6][6][VL]; // B^T d
	for (int l = 0; l < 6; l++) {
		for (int x = 0; x < VL; x++) {
			float d0 = d[0][l][x], d1 = d[1][l][x], d2 = d[2][l][x], d3 = d[3][l][x], d4 = d[4][l][x], d5 = d[5][l][x];
			t[0][l][x] = 4 * d0 - 5 * d2 + d4;
			t[1][l][x] = -4 * (d1 + d2) + d3 + d4;
			t[2][l][x] = 4 * (d1 - d2) - d3 + d4;
			t[3][l][x] = 2 * (d3 - d1) - d2 + d4;
			t[4][l][x] = 2 * (d1 - d3) - d2 + d4;
			t[5][l][x] = 4 * d1 - 5 * d3 + d5;
		}
	}
	for (int i = 0; i < 6; i++) { // (B^T d) B
		float *o = v + 6 * i * astride;
		for (int x = 0; x < VL; x++) {
			float d0 = t[i][0][x], d1 = t[i][1][x], d2 = t[i][2][x], d3 = t[i][3][x], d4 = t[i][4][x], d5 = t[i][5][x];
			o[0 * astride + x] = 4 * d0 - 5 * d2 + d4;
			o[1 * astride + x] = -4 * (d1 + d2) + d3 + d4;
			o[2 * astride + x] = 4 * (d1 - d2) - d3 + d4;
			o[3 * astride + x] = 2 * (d3 - d1) - d2 + d4;
			o[4 * astride + x] = 2 * (d1 - d3) - d2 + d4;
			o[5 * astride + x] = 4 * d1 - 5 * d3 + d5;
		}
	}
}

INLINE void input_body(const float *src, float *v, wino_geom g, long tstart, long tc, long ld, long c0, long c1) {
	long per_img = g.tiles_h * g.tiles_w, total = g.n * per_img;
	long astride = g.ci * ld;
	float d[6][6][VL];
	for (long c = c0; c < c1; c++) {
		for (long j0 = 0; j0 < tc; j0 += VL) {
			long t = tstart + j0;
			long n = t / per_img, rem = t % per_img, ty = rem / g.tiles_w, tx = rem % g.tiles_w;
			long y0 = 4 * ty - g.pad_t, x0 = 4 * tx - g.pad_l;
			float *out = v + c * ld + j0;
			if (j0 + VL <= tc && tx + VL <= g.tiles_w && y0 >= 0 && y0 + 6 <= g.h && x0 >= 0 &&
			    x0 + 4 * (VL - 1) + 6 <= g.w) {
				// Eight tiles side by side, all inside the image.
				const float *p = src + ((n * g.ci + c) * g.h + y0) * g.w + x0;
				for (int k = 0; k < 6; k++)
					for (int l = 0; l < 6; l++)
						for (int x = 0; x < VL; x++) d[k][l][x] = p[k * g.w + 4 * x + l];
				input_tile(d, out, astride);
				continue;
			}
			for (int x = 0; x < VL; x++, t++) {
				if (j0 + x >= tc || t >= total) {
					for (int k = 0; k < 6; k++)
						for (int l = 0; l < 6; l++) d[k][l][x] = 0;
					continue;
				}
				n = t / per_img, rem = t % per_img, ty = rem / g.tiles_w, tx = rem % g.tiles_w;
				y0 = 4 * ty - g.pad_t, x0 = 4 * tx - g.pad_l;
				const float *plane = src + (n * g.ci + c) * g.h * g.w;
				for (int k = 0; k < 6; k++) {
					long y = y0 + k;
					for (int l = 0; l < 6; l++) {
						long xx = x0 + l;
						d[k][l][x] = (y >= 0 && y < g.h && xx >= 0 && xx < g.w) ? plane[y * g.w + xx] : 0.0f;
					}
				}
			}
			input_tile(d, out, astride);
		}
	}
}

// ---- output transform ----

INLINE void output_body(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long ld, long o0, long o1) {
	long per_img = g.tiles_h * g.tiles_w;
	long astride = g.co * ld;
	float s[6][6][VL], t[4][6][VL], y[4][4][VL];
	for (long o = o0; o < o1; o++) {
		float b = bias ? bias[o] : 0.0f;
		for (long j0 = 0; j0 < tc; j0 += VL) {
			const float *in = m + o * ld + j0;
			long nv = tc - j0 < VL ? tc - j0 : VL;
			for (int a = 0; a < 36; a++)
				for (int x = 0; x < VL; x++) s[a / 6][a % 6][x] = x < nv ? in[a * astride + x] : 0.0f;
			for (int l = 0; l < 6; l++) { // A^T s
				for (int x = 0; x < VL; x++) {
					float m0 = s[0][l][x], m1 = s[1][l][x], m2 = s[2][l][x], m3 = s[3][l][x], m4 = s[4][l][x], m5 = s[5][l][x];
					float p12 = m1 + m2, n12 = m1 - m2, p34 = m3 + m4, n34 = m3 - m4;
					t[0][l][x] = m0 + p12 + p34;
					t[1][l][x] = n12 + 2 * n34;
					t[2][l][x] = p12 + 4 * p34;
					t[3][l][x] = n12 + 8 * n34 + m5;
				}
			}
			for (int i = 0; i < 4; i++) { // (A^T s) A
				for (int x = 0; x < VL; x++) {
					float m0 = t[i][0][x], m1 = t[i][1][x], m2 = t[i][2][x], m3 = t[i][3][x], m4 = t[i][4][x], m5 = t[i][5][x];
					float p12 = m1 + m2, n12 = m1 - m2, p34 = m3 + m4, n34 = m3 - m4;
					y[i][0][x] = m0 + p12 + p34 + b;
					y[i][1][x] = n12 + 2 * n34 + b;
					y[i][2][x] = p12 + 4 * p34 + b;
					y[i][3][x] = n12 + 8 * n34 + m5 + b;
				}
			}
			long tt = tstart + j0;
			long n = tt / per_img, rem = tt % per_img, ty = rem / g.tiles_w, tx = rem % g.tiles_w;
			if (nv == VL && tx + VL <= g.tiles_w && 4 * ty + 4 <= g.oh && 4 * (tx + VL) <= g.ow) {
				// Eight whole tiles side by side.
				float *q = dst + ((n * g.co + o) * g.oh + 4 * ty) * g.ow + 4 * tx;
				for (int i = 0; i < 4; i++)
					for (int x = 0; x < VL; x++)
						for (int jj = 0; jj < 4; jj++) q[i * g.ow + 4 * x + jj] = y[i][jj][x];
				continue;
			}
			for (int x = 0; x < nv; x++, tt++) {
				n = tt / per_img, rem = tt % per_img, ty = rem / g.tiles_w, tx = rem % g.tiles_w;
				float *plane = dst + (n * g.co + o) * g.oh * g.ow;
				for (int i = 0; i < 4; i++) {
					long yy = 4 * ty + i;
					if (yy >= g.oh) break;
					for (int jj = 0; jj < 4; jj++) {
						long xx = 4 * tx + jj;
						if (xx >= g.ow) break;
						plane[yy * g.ow + xx] = y[i][jj][x];
					}
				}
			}
		}
	}
}

// ---- the two builds of each transform, and the dispatch ----

__attribute__((target("avx2,fma"))) static void filter_avx2(const float *w, float *u, long rows, long cols, long r0, long r1, int back) {
	filter_body(w, u, rows, cols, r0, r1, back);
}
static void filter_base(const float *w, float *u, long rows, long cols, long r0, long r1, int back) {
	filter_body(w, u, rows, cols, r0, r1, back);
}
__attribute__((target("avx2,fma"))) static void input_avx2(const float *src, float *v, wino_geom g, long tstart, long tc, long ld, long c0, long c1) {
	input_body(src, v, g, tstart, tc, ld, c0, c1);
}
static void input_base(const float *src, float *v, wino_geom g, long tstart, long tc, long ld, long c0, long c1) {
	input_body(src, v, g, tstart, tc, ld, c0, c1);
}
__attribute__((target("avx2,fma"))) static void output_avx2(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long ld, long o0, long o1) {
	output_body(m, dst, bias, g, tstart, tc, ld, o0, o1);
}
static void output_base(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long ld, long o0, long o1) {
	output_body(m, dst, bias, g, tstart, tc, ld, o0, o1);
}

void wino_filter(const float *w, float *u, long rows, long cols, long r0, long r1, int back, int avx2) {
	if (avx2) filter_avx2(w, u, rows, cols, r0, r1, back);
	else filter_base(w, u, rows, cols, r0, r1, back);
}

void wino_input(const float *src, float *v, wino_geom g, long tstart, long tc, long ld, long c0, long c1, int avx2) {
	if (avx2) input_avx2(src, v, g, tstart, tc, ld, c0, c1);
	else input_base(src, v, g, tstart, tc, ld, c0, c1);
}

void wino_output(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long ld, long o0, long o1, int avx2) {
	if (avx2) output_avx2(m, dst, bias, g, tstart, tc, ld, o0, o1);
	else output_base(m, dst, bias, g, tstart, tc, ld, o0, o1);
}

void wino_gemms(const float *u, const float *v, float *m, long co, long ci, long tc, long ld, int a0, int a1) {
	for (int a = a0; a < a1; a++)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)co, (blasint)tc, (blasint)ci, 1.0f,
		            u + (long)a * co * ci, (blasint)ci, v + (long)a * ci * ld, (blasint)ld, 0.0f,
		            m + (long)a * co * ld, (blasint)ld);
}
