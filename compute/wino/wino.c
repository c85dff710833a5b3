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

#include <string.h>

#include "wino.h"

#define VL 8 // tiles a transform block, one per vector lane
#define NR 16 // tiles a product block (V and M hold 16 consecutive floats of a row)
#define MR 6 // output channels a product block (U holds 6 consecutive floats of a column)

#define INLINE static inline __attribute__((always_inline))

int wino_has_avx2(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// ---- filter transform ----

// filter_lanes computes G g G^T for FL kernels at once, one a lane (g[i][x]: element i of the
// row-major 3x3 kernel x), in double, multiplying by the reciprocals (division costs ten times
// more, and a 512x512 layer has 262144 kernels).
#define FL 8
INLINE void filter_lanes(const double g[9][FL], double out[36][FL]) {
	const double q = 1.0 / 4, s = 1.0 / 6, tw = 1.0 / 12, tf = 1.0 / 24;
	double t[6][3][FL]; // G g
	for (int j = 0; j < 3; j++) {
		for (int x = 0; x < FL; x++) {
			double g0 = g[j][x], g1 = g[3 + j][x], g2 = g[6 + j][x];
			t[0][j][x] = g0 * q;
			t[1][j][x] = -(g0 + g1 + g2) * s;
			t[2][j][x] = -(g0 - g1 + g2) * s;
			t[3][j][x] = g0 * tf + g1 * tw + g2 * s;
			t[4][j][x] = g0 * tf - g1 * tw + g2 * s;
			t[5][j][x] = g2;
		}
	}
	for (int i = 0; i < 6; i++) { // (G g) G^T
		for (int x = 0; x < FL; x++) {
			double g0 = t[i][0][x], g1 = t[i][1][x], g2 = t[i][2][x];
			out[6 * i + 0][x] = g0 * q;
			out[6 * i + 1][x] = -(g0 + g1 + g2) * s;
			out[6 * i + 2][x] = -(g0 - g1 + g2) * s;
			out[6 * i + 3][x] = g0 * tf + g1 * tw + g2 * s;
			out[6 * i + 4][x] = g0 * tf - g1 * tw + g2 * s;
			out[6 * i + 5][x] = g2;
		}
	}
}

// plane returns the floats between consecutive transform positions a of U, V or M with blocks
// of blk rows of n floats: one cache line more than the data, because a stride of a multiple
// of 4 KiB sends the 36 positions of a tile to the same L1 set (measured: the filter transform
// took 5 times longer that way).
static inline long plane(long blocks, long n, long blk) { return blocks * n * blk + 16; }

#define KB 16 // filter columns transformed before their 36 runs are stored

INLINE void filter_body(const float *w, float *u, long rows, long cols, long ob0, long ob1, int back) {
	long nob = (rows + MR - 1) / MR, ps = plane(nob, cols, MR);
	float buf[36][KB * MR];
	double g[9][FL], out[36][FL];
	for (long ob = ob0; ob < ob1; ob++) {
		for (long k0 = 0; k0 < cols; k0 += KB) {
			long kn = cols - k0 < KB ? cols - k0 : KB;
			for (int rr = 0; rr < MR; rr++) {
				long r = ob * MR + rr;
				for (long kl = 0; kl < kn; kl += FL) {
					for (int x = 0; x < FL; x++) {
						long k = k0 + kl + x;
						if (r >= rows || kl + x >= kn) { // padding rows of the last block, or columns past the end
							for (int i = 0; i < 9; i++) g[i][x] = 0;
						} else if (!back) {
							const float *src = w + (r * cols + k) * 9; // w[o=r][c=k]
							for (int i = 0; i < 9; i++) g[i][x] = src[i];
						} else {
							const float *src = w + (k * rows + r) * 9; // w[o=k][c=r], rotated 180 degrees
							for (int i = 0; i < 9; i++) g[i][x] = src[8 - i];
						}
					}
					filter_lanes(g, out);
					for (int a = 0; a < 36; a++)
						for (int x = 0; x < FL; x++) buf[a][(kl + x) * MR + rr] = (float)out[a][x];
				}
			}
			for (int a = 0; a < 36; a++)
				memcpy(u + a * ps + (ob * cols + k0) * MR, buf[a], kn * MR * sizeof(float));
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

INLINE void input_body(const float *src, float *v, wino_geom g, long tstart, long tc, long nb, long c0, long c1) {
	long per_img = g.tiles_h * g.tiles_w, total = g.n * per_img;
	long astride = plane(nb, g.ci, NR);
	float d[6][6][VL];
	for (long c = c0; c < c1; c++) {
		for (long j0 = 0; j0 < nb * NR; j0 += VL) {
			long t = tstart + j0;
			long n = t / per_img, rem = t % per_img, ty = rem / g.tiles_w, tx = rem % g.tiles_w;
			long y0 = 4 * ty - g.pad_t, x0 = 4 * tx - g.pad_l;
			float *out = v + ((j0 / NR) * g.ci + c) * NR + j0 % NR;
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

INLINE void output_body(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long nb, long o0, long o1) {
	long per_img = g.tiles_h * g.tiles_w;
	long astride = plane(nb, g.co, NR);
	float s[6][6][VL], t[4][6][VL], y[4][4][VL];
	for (long o = o0; o < o1; o++) {
		float b = bias ? bias[o] : 0.0f;
		for (long j0 = 0; j0 < tc; j0 += VL) {
			const float *in = m + ((j0 / NR) * g.co + o) * NR + j0 % NR;
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

// ---- the 36 products ----

typedef float v8 __attribute__((vector_size(32), aligned(4)));

// kernel computes one MR x NR block of M[a] = U[a] V[a]: c[i][j] = sum over p < k of
// a[p][i] b[p][j], a and b packed (MR and NR floats a step), c with row stride NR; only the
// first rows rows are stored. Twelve 8-float accumulators, two loads and six broadcasts a step:
// the AVX2 register file's 16 registers hold it (the baseline build splits each vector in two).
// The sum runs in blocks of KSUM steps, each added to c afterwards: a float32 sum's rounding
// error grows with its length: two levels (blocks of 64, then their sum) brought the error at
// C = 512 on VGG-like data from 1.1e-5 to 4.5e-6, at the price of a load and store of c a block.
#define KSUM 64
INLINE void kernel(const float *a, const float *b, float *c, long k, int rows) {
	v8 *o = (v8 *)c;
	for (long p0 = 0; p0 < k; p0 += KSUM) {
		long pn = k - p0 < KSUM ? k - p0 : KSUM;
		v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
		v8 c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
		for (long p = 0; p < pn; p++, a += MR, b += NR) {
			v8 b0 = *(const v8 *)b, b1 = *(const v8 *)(b + 8), x;
			x = (v8){0} + a[0]; c00 += x * b0; c01 += x * b1;
			x = (v8){0} + a[1]; c10 += x * b0; c11 += x * b1;
			x = (v8){0} + a[2]; c20 += x * b0; c21 += x * b1;
			x = (v8){0} + a[3]; c30 += x * b0; c31 += x * b1;
			x = (v8){0} + a[4]; c40 += x * b0; c41 += x * b1;
			x = (v8){0} + a[5]; c50 += x * b0; c51 += x * b1;
		}
		if (p0 == 0) {
			switch (rows) {
			default: o[10] = c50; o[11] = c51; /* fall through */
			case 5: o[8] = c40; o[9] = c41; /* fall through */
			case 4: o[6] = c30; o[7] = c31; /* fall through */
			case 3: o[4] = c20; o[5] = c21; /* fall through */
			case 2: o[2] = c10; o[3] = c11; /* fall through */
			case 1: o[0] = c00; o[1] = c01;
			}
		} else {
			switch (rows) {
			default: o[10] += c50; o[11] += c51; /* fall through */
			case 5: o[8] += c40; o[9] += c41; /* fall through */
			case 4: o[6] += c30; o[7] += c31; /* fall through */
			case 3: o[4] += c20; o[5] += c21; /* fall through */
			case 2: o[2] += c10; o[3] += c11; /* fall through */
			case 1: o[0] += c00; o[1] += c01;
			}
		}
	}
}

INLINE void gemm_body(const float *u, const float *v, float *m, long co, long ci, long nb, long a0, long a1) {
	long nob = (co + MR - 1) / MR, pu = plane(nob, ci, MR), pv = plane(nb, ci, NR), pm = plane(nb, co, NR);
	for (long a = a0; a < a1; a++) {
		for (long ob = 0; ob < nob; ob++) {
			const float *pa = u + a * pu + ob * ci * MR;
			int rows = co - ob * MR < MR ? (int)(co - ob * MR) : MR;
			for (long jb = 0; jb < nb; jb++)
				kernel(pa, v + a * pv + jb * ci * NR, m + a * pm + (jb * co + ob * MR) * NR, ci, rows);
		}
	}
}

// ---- the two builds of each transform, and the dispatch ----

__attribute__((target("avx2,fma"))) static void filter_avx2(const float *w, float *u, long rows, long cols, long ob0, long ob1, int back) {
	filter_body(w, u, rows, cols, ob0, ob1, back);
}
static void filter_base(const float *w, float *u, long rows, long cols, long ob0, long ob1, int back) {
	filter_body(w, u, rows, cols, ob0, ob1, back);
}
__attribute__((target("avx2,fma"))) static void input_avx2(const float *src, float *v, wino_geom g, long tstart, long tc, long nb, long c0, long c1) {
	input_body(src, v, g, tstart, tc, nb, c0, c1);
}
static void input_base(const float *src, float *v, wino_geom g, long tstart, long tc, long nb, long c0, long c1) {
	input_body(src, v, g, tstart, tc, nb, c0, c1);
}
__attribute__((target("avx2,fma"))) static void output_avx2(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long nb, long o0, long o1) {
	output_body(m, dst, bias, g, tstart, tc, nb, o0, o1);
}
static void output_base(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long nb, long o0, long o1) {
	output_body(m, dst, bias, g, tstart, tc, nb, o0, o1);
}
__attribute__((target("avx2,fma"))) static void gemm_avx2(const float *u, const float *v, float *m, long co, long ci, long nb, long a0, long a1) {
	gemm_body(u, v, m, co, ci, nb, a0, a1);
}
static void gemm_base(const float *u, const float *v, float *m, long co, long ci, long nb, long a0, long a1) {
	gemm_body(u, v, m, co, ci, nb, a0, a1);
}

void wino_filter(const float *w, float *u, long rows, long cols, long ob0, long ob1, int back, int avx2) {
	if (avx2) filter_avx2(w, u, rows, cols, ob0, ob1, back);
	else filter_base(w, u, rows, cols, ob0, ob1, back);
}

void wino_input(const float *src, float *v, wino_geom g, long tstart, long tc, long nb, long c0, long c1, int avx2) {
	if (avx2) input_avx2(src, v, g, tstart, tc, nb, c0, c1);
	else input_base(src, v, g, tstart, tc, nb, c0, c1);
}

void wino_output(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long nb, long o0, long o1, int avx2) {
	if (avx2) output_avx2(m, dst, bias, g, tstart, tc, nb, o0, o1);
	else output_base(m, dst, bias, g, tstart, tc, nb, o0, o1);
}

void wino_gemm(const float *u, const float *v, float *m, long co, long ci, long nb, long a0, long a1, int avx2) {
	if (avx2) gemm_avx2(u, v, m, co, ci, nb, a0, a1);
	else gemm_base(u, v, m, co, ci, nb, a0, a1);
}
