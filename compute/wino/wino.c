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

// The AVX2 builds exist on x86 only; elsewhere (arm64 and others) the portable build runs.
#if defined(__x86_64__) || defined(__i386__)
#define WINO_X86 1
#include <immintrin.h>
#else
#define WINO_X86 0
#endif

#include "convas_wino.h"

#define VL 8 // tiles a transform block, one per vector lane
#define NR 16 // tiles a product block (V and M hold 16 consecutive floats of a row)
#define MR 6 // output channels a product block (U holds 6 consecutive floats of a column)

#define PW (4 * (VL - 1) + 6) // columns under 8 tiles side by side

// NODIST keeps gcc -O3 from replacing short copy loops by calls to memcpy and memset.
#define NODIST optimize("no-tree-loop-distribute-patterns")

#define INLINE static inline __attribute__((always_inline))

// v8 is 8 floats, one a tile (transforms) or column (products): gcc's vector extension, one
// AVX register in the AVX2 build and two SSE registers in the baseline one. Explicit vectors,
// because gcc left the transforms' strided stores scalar (they might overlap).
typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef int v8i __attribute__((vector_size(32), aligned(4)));

int wino_has_avx2(void) {
#if WINO_X86
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return 0;
#endif
}

// ---- filter transform ----

// filter_lanes computes G g G^T for 8 kernels at once (6 used), one a lane (g[i]: element i of
// the row-major 3x3 kernels), in float, multiplying by the reciprocals (division costs ten times
// more, and a 512x512 layer has 262144 kernels). float rather than double: the 1/6 and 1/24
// rounded to float add 6e-8 of error to U, against 5e-6 from the whole computation.
#define FL 8
INLINE void filter_lanes(const v8 g[9], v8 out[36]) {
	const float q = 1.0f / 4, s = 1.0f / 6, tw = 1.0f / 12, tf = 1.0f / 24;
	v8 t[6][3]; // G g
	for (int j = 0; j < 3; j++) {
		v8 g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
		t[0][j] = g0 * q;
		t[1][j] = -(g0 + g1 + g2) * s;
		t[2][j] = -(g0 - g1 + g2) * s;
		t[3][j] = g0 * tf + g1 * tw + g2 * s;
		t[4][j] = g0 * tf - g1 * tw + g2 * s;
		t[5][j] = g2;
	}
	for (int i = 0; i < 6; i++) { // (G g) G^T
		v8 g0 = t[i][0], g1 = t[i][1], g2 = t[i][2];
		out[6 * i + 0] = g0 * q;
		out[6 * i + 1] = -(g0 + g1 + g2) * s;
		out[6 * i + 2] = -(g0 - g1 + g2) * s;
		out[6 * i + 3] = g0 * tf + g1 * tw + g2 * s;
		out[6 * i + 4] = g0 * tf - g1 * tw + g2 * s;
		out[6 * i + 5] = g2;
	}
}

// plane returns the floats between consecutive transform positions a of U, V or M with blocks
// of blk rows of n floats: one cache line more than the data, because a stride of a multiple
// of 4 KiB sends the 36 positions of a tile to the same L1 set (measured: the filter transform
// took 5 times longer that way).
static inline long plane(long blocks, long n, long blk) { return blocks * n * blk + 16; }

INLINE void filter_body(const float *w, float *u, long rows, long cols, long ob0, long ob1, int back) {
	long nob = (rows + MR - 1) / MR, ps = plane(nob, cols, MR);
	float gt[9][FL] = {{0}}; // lanes 6 and 7 stay zero
	v8 g[9], out[36];
	for (long ob = ob0; ob < ob1; ob++) {
		for (long k = 0; k < cols; k++) {
			// The MR kernels of rows 6·ob to 6·ob+5 and column k, one a lane: their transforms
			// are the MR consecutive floats of U[a] at (ob, k).
			for (int rr = 0; rr < MR; rr++) {
				long r = ob * MR + rr;
				if (r >= rows) { // padding rows of the last block
					for (int i = 0; i < 9; i++) gt[i][rr] = 0;
				} else if (!back) {
					const float *src = w + (r * cols + k) * 9; // w[o=r][c=k]
					for (int i = 0; i < 9; i++) gt[i][rr] = src[i];
				} else {
					const float *src = w + (k * rows + r) * 9; // w[o=k][c=r], rotated 180 degrees
					for (int i = 0; i < 9; i++) gt[i][rr] = src[8 - i];
				}
			}
			for (int i = 0; i < 9; i++) g[i] = *(const v8 *)gt[i];
			filter_lanes(g, out);
			float *dst = u + (ob * cols + k) * MR;
			if (k + 1 < cols) {
				// 8 floats: the last 2 land on column k+1's first rows, which its own
				// stores overwrite next.
				for (int a = 0; a < 36; a++) *(v8 *)(dst + a * ps) = out[a];
			} else {
				for (int a = 0; a < 36; a++)
					for (int rr = 0; rr < MR; rr++) dst[a * ps + rr] = out[a][rr];
			}
		}
	}
}

#if WINO_X86
// ---- AVX2 gathers and scatters of 8 tiles side by side ----

// gather_avx2 fills d[k][l][x] = p[k·w + 4x + l] (8 tiles of 6x6, 4 columns apart): four
// loads and a 4x4 transpose within each 128-bit half give columns 0 to 3 of all 8 tiles;
// columns 4 and 5 are columns 0 and 1 of the next tile, shifted one lane, with the 9th
// tile's first columns (p[32], p[33]) in the last lane. 22 instructions a row instead of 36
// scalar loads and stores.
__attribute__((target("avx2,fma"))) static void gather_avx2(const float *p, long w, float d[6][6][VL]) {
	const __m256i next = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
	for (int k = 0; k < 6; k++, p += w) {
		__m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8), c = _mm256_loadu_ps(p + 16), e = _mm256_loadu_ps(p + 24);
		__m256 r0 = _mm256_permute2f128_ps(a, c, 0x20); // tiles 0 | 4
		__m256 r1 = _mm256_permute2f128_ps(a, c, 0x31); // tiles 1 | 5
		__m256 r2 = _mm256_permute2f128_ps(b, e, 0x20); // tiles 2 | 6
		__m256 r3 = _mm256_permute2f128_ps(b, e, 0x31); // tiles 3 | 7
		__m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
		__m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
		__m256 c0 = _mm256_shuffle_ps(t0, t2, 0x44), c1 = _mm256_shuffle_ps(t0, t2, 0xEE);
		_mm256_storeu_ps(d[k][0], c0);
		_mm256_storeu_ps(d[k][1], c1);
		_mm256_storeu_ps(d[k][2], _mm256_shuffle_ps(t1, t3, 0x44));
		_mm256_storeu_ps(d[k][3], _mm256_shuffle_ps(t1, t3, 0xEE));
		_mm256_storeu_ps(d[k][4], _mm256_blend_ps(_mm256_permutevar8x32_ps(c0, next), _mm256_broadcast_ss(p + 32), 0x80));
		_mm256_storeu_ps(d[k][5], _mm256_blend_ps(_mm256_permutevar8x32_ps(c1, next), _mm256_broadcast_ss(p + 33), 0x80));
	}
}

// scatter_avx2 stores q[i·w + 4x + j] = y[i][j][x] (8 whole 4x4 tiles side by side), the
// transpose of gather_avx2's.
__attribute__((target("avx2,fma"))) static void scatter_avx2(float y[4][4][VL], float *q, long w) {
	for (int i = 0; i < 4; i++, q += w) {
		__m256 y0 = _mm256_loadu_ps(y[i][0]), y1 = _mm256_loadu_ps(y[i][1]), y2 = _mm256_loadu_ps(y[i][2]), y3 = _mm256_loadu_ps(y[i][3]);
		__m256 u0 = _mm256_unpacklo_ps(y0, y1), u1 = _mm256_unpackhi_ps(y0, y1);
		__m256 u2 = _mm256_unpacklo_ps(y2, y3), u3 = _mm256_unpackhi_ps(y2, y3);
		__m256 v0 = _mm256_shuffle_ps(u0, u2, 0x44); // tiles 0 | 4
		__m256 v1 = _mm256_shuffle_ps(u0, u2, 0xEE); // tiles 1 | 5
		__m256 v2 = _mm256_shuffle_ps(u1, u3, 0x44); // tiles 2 | 6
		__m256 v3 = _mm256_shuffle_ps(u1, u3, 0xEE); // tiles 3 | 7
		_mm256_storeu_ps(q, _mm256_permute2f128_ps(v0, v1, 0x20));
		_mm256_storeu_ps(q + 8, _mm256_permute2f128_ps(v2, v3, 0x20));
		_mm256_storeu_ps(q + 16, _mm256_permute2f128_ps(v0, v1, 0x31));
		_mm256_storeu_ps(q + 24, _mm256_permute2f128_ps(v2, v3, 0x31));
	}
}
#else
// Elsewhere the AVX2 gathers are never called (simd is 0); these keep the bodies compiling.
static void gather_avx2(const float *p, long w, float d[6][6][VL]) {
	for (int k = 0; k < 6; k++)
		for (int l = 0; l < 6; l++)
			for (int x = 0; x < VL; x++) d[k][l][x] = p[k * w + 4 * x + l];
}
static void scatter_avx2(float y[4][4][VL], float *q, long w) {
	for (int i = 0; i < 4; i++)
		for (int x = 0; x < VL; x++)
			for (int j = 0; j < 4; j++) q[i * w + 4 * x + j] = y[i][j][x];
}
#endif

// ---- input transform ----

// input_tile transforms one block: d[k][l][x] is row k, column l of tile x; it writes
// V[a][x] for a < 36 at x + a * astride.
INLINE void input_tile(float d[6][6][VL], float *v, long astride) {
	v8 t[6][6]; // B^T d
	for (int l = 0; l < 6; l++) {
		v8 d0 = *(v8 *)d[0][l], d1 = *(v8 *)d[1][l], d2 = *(v8 *)d[2][l], d3 = *(v8 *)d[3][l], d4 = *(v8 *)d[4][l], d5 = *(v8 *)d[5][l];
		t[0][l] = 4.0f * d0 - 5.0f * d2 + d4;
		t[1][l] = -4.0f * (d1 + d2) + d3 + d4;
		t[2][l] = 4.0f * (d1 - d2) - d3 + d4;
		t[3][l] = 2.0f * (d3 - d1) - d2 + d4;
		t[4][l] = 2.0f * (d1 - d3) - d2 + d4;
		t[5][l] = 4.0f * d1 - 5.0f * d3 + d5;
	}
	for (int i = 0; i < 6; i++) { // (B^T d) B
		float *o = v + 6 * i * astride;
		v8 d0 = t[i][0], d1 = t[i][1], d2 = t[i][2], d3 = t[i][3], d4 = t[i][4], d5 = t[i][5];
		*(v8 *)(o + 0 * astride) = 4.0f * d0 - 5.0f * d2 + d4;
		*(v8 *)(o + 1 * astride) = -4.0f * (d1 + d2) + d3 + d4;
		*(v8 *)(o + 2 * astride) = 4.0f * (d1 - d2) - d3 + d4;
		*(v8 *)(o + 3 * astride) = 2.0f * (d3 - d1) - d2 + d4;
		*(v8 *)(o + 4 * astride) = 2.0f * (d1 - d3) - d2 + d4;
		*(v8 *)(o + 5 * astride) = 4.0f * d1 - 5.0f * d3 + d5;
	}
}

INLINE void input_body(const float *src, float *v, wino_geom g, long tstart, long tc, long nb, long c0, long c1, int simd) {
	long per_img = g.tiles_h * g.tiles_w, total = g.n * per_img;
	long astride = plane(nb, g.ci, NR);
	float d[6][6][VL], patch[6][PW];
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
				if (simd) {
					gather_avx2(p, g.w, d);
					input_tile(d, out, astride);
					continue;
				}
				for (int k = 0; k < 6; k++)
					for (int l = 0; l < 6; l++)
						for (int x = 0; x < VL; x++) d[k][l][x] = p[k * g.w + 4 * x + l];
				input_tile(d, out, astride);
				continue;
			}
			if (simd && j0 + VL <= tc && tx + VL <= g.tiles_w) {
				// Eight tiles side by side across an edge of the image (the first and last
				// blocks of a row of tiles): copy their 6 x 34 inputs, zeros outside, into a
				// patch and gather from it.
				const float *chan = src + (n * g.ci + c) * g.h * g.w;
				int l0 = x0 < 0 ? (x0 < -PW ? PW : (int)-x0) : 0;
				int l1 = g.w - x0 < PW ? (int)(g.w - x0) : PW;
				for (int k = 0; k < 6; k++) {
					long y = y0 + k;
					// Loops, not memset and memcpy: libc calls for 34 floats cost more than the
					// copy (NODIST keeps gcc from turning the loops back into them).
					if (y < 0 || y >= g.h || l1 <= l0) {
						for (int l = 0; l < PW; l++) patch[k][l] = 0;
						continue;
					}
					const float *row = chan + y * g.w + x0;
					for (int l = 0; l < l0; l++) patch[k][l] = 0;
					for (int l = l0; l < l1; l++) patch[k][l] = row[l];
					for (int l = l1; l < PW; l++) patch[k][l] = 0;
				}
				gather_avx2(patch[0], PW, d);
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
				// The rectangle of the tile inside the image, rows [k0, k1) and columns [l0, l1).
				const float *p = src + ((n * g.ci + c) * g.h + y0) * g.w + x0;
				int k0 = y0 < 0 ? (int)-y0 : 0, k1 = g.h - y0 < 6 ? (int)(g.h - y0) : 6;
				int l0 = x0 < -6 ? 6 : x0 < 0 ? (int)-x0 : 0, l1 = g.w - x0 < 6 ? (int)(g.w - x0) : 6;
				for (int k = 0; k < 6; k++) {
					if (k < k0 || k >= k1) {
						for (int l = 0; l < 6; l++) d[k][l][x] = 0;
						continue;
					}
					for (int l = 0; l < l0; l++) d[k][l][x] = 0;
					for (int l = l0; l < l1; l++) d[k][l][x] = p[k * g.w + l];
					for (int l = l1 < l0 ? l0 : l1; l < 6; l++) d[k][l][x] = 0;
				}
			}
			input_tile(d, out, astride);
		}
	}
}

// ---- output transform ----

INLINE void output_body(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long nb, long o0, long o1, int simd) {
	long per_img = g.tiles_h * g.tiles_w;
	long astride = plane(nb, g.co, NR);
	float y[4][4][VL];
	for (long o = o0; o < o1; o++) {
		float b = bias ? bias[o] : 0.0f;
		for (long j0 = 0; j0 < tc; j0 += VL) {
			// M holds whole blocks of 16 tiles (zeros past the chunk's tiles): load all 8 lanes.
			const float *in = m + ((j0 / NR) * g.co + o) * NR + j0 % NR;
			long nv = tc - j0 < VL ? tc - j0 : VL;
			v8 t[4][6];
			for (int l = 0; l < 6; l++) { // A^T s
				v8 m0 = *(const v8 *)(in + l * astride), m1 = *(const v8 *)(in + (6 + l) * astride);
				v8 m2 = *(const v8 *)(in + (12 + l) * astride), m3 = *(const v8 *)(in + (18 + l) * astride);
				v8 m4 = *(const v8 *)(in + (24 + l) * astride), m5 = *(const v8 *)(in + (30 + l) * astride);
				v8 p12 = m1 + m2, n12 = m1 - m2, p34 = m3 + m4, n34 = m3 - m4;
				t[0][l] = m0 + p12 + p34;
				t[1][l] = n12 + 2.0f * n34;
				t[2][l] = p12 + 4.0f * p34;
				t[3][l] = n12 + 8.0f * n34 + m5;
			}
			for (int i = 0; i < 4; i++) { // (A^T s) A
				v8 m0 = t[i][0], m1 = t[i][1], m2 = t[i][2], m3 = t[i][3], m4 = t[i][4], m5 = t[i][5];
				v8 p12 = m1 + m2, n12 = m1 - m2, p34 = m3 + m4, n34 = m3 - m4;
				*(v8 *)y[i][0] = m0 + p12 + p34 + b;
				*(v8 *)y[i][1] = n12 + 2.0f * n34 + b;
				*(v8 *)y[i][2] = p12 + 4.0f * p34 + b;
				*(v8 *)y[i][3] = n12 + 8.0f * n34 + m5 + b;
			}
			if (g.relu) {
				// max(y, 0) by mask: y > 0 is all ones where true (NaN gives 0, as oneDNN's ReLU).
				for (int i = 0; i < 4; i++)
					for (int jj = 0; jj < 4; jj++) {
						v8 x = *(v8 *)y[i][jj];
						*(v8 *)y[i][jj] = (v8)((v8i)x & (v8i)(x > 0.0f));
					}
			}
			long tt = tstart + j0;
			long n = tt / per_img, rem = tt % per_img, ty = rem / g.tiles_w, tx = rem % g.tiles_w;
			if (nv == VL && tx + VL <= g.tiles_w && 4 * ty + 4 <= g.oh && 4 * (tx + VL) <= g.ow) {
				// Eight whole tiles side by side.
				float *q = dst + ((n * g.co + o) * g.oh + 4 * ty) * g.ow + 4 * tx;
				if (simd) {
					scatter_avx2(y, q, g.ow);
					continue;
				}
				for (int i = 0; i < 4; i++)
					for (int x = 0; x < VL; x++)
						for (int jj = 0; jj < 4; jj++) q[i * g.ow + 4 * x + jj] = y[i][jj][x];
				continue;
			}
			for (int x = 0; x < nv; x++, tt++) {
				n = tt / per_img, rem = tt % per_img, ty = rem / g.tiles_w, tx = rem % g.tiles_w;
				float *chan = dst + (n * g.co + o) * g.oh * g.ow;
				for (int i = 0; i < 4; i++) {
					long yy = 4 * ty + i;
					if (yy >= g.oh) break;
					for (int jj = 0; jj < 4; jj++) {
						long xx = 4 * tx + jj;
						if (xx >= g.ow) break;
						chan[yy * g.ow + xx] = y[i][jj][x];
					}
				}
			}
		}
	}
}

// ---- the 36 products ----

// kernel computes one MR x NR block of M[a] = U[a] V[a]: c[i][j] = sum over p < k of
// a[p][i] b[p][j], a and b packed (MR and NR floats a step), c with row stride NR; only the
// first rows rows are stored. The sum runs in blocks of KSUM steps, each added to c afterwards:
// a float32 sum's rounding error grows with its length, and two levels (blocks of 64, then
// their sum) brought the error at C = 512 on VGG-like data from 1.1e-5 to 4.5e-6, at the price
// of a load and store of c a block. This is the portable build, in 4-float vectors, 8 columns
// at a time: twelve accumulators fit the 16 SSE registers (with 8-float vectors they spilled,
// and the products ran 25 times slower than kernel_avx2's).
#define KSUM 64
typedef float v4 __attribute__((vector_size(16), aligned(4)));
INLINE void kernel(const float *a0, const float *b0, float *c, long k, int rows) {
	for (int h = 0; h < NR; h += 8) {
		const float *a = a0, *b = b0 + h;
		for (long p0 = 0; p0 < k; p0 += KSUM) {
			long pn = k - p0 < KSUM ? k - p0 : KSUM;
			v4 acc[MR][2] = {{{0}}};
			for (long p = 0; p < pn; p++, a += MR, b += NR) {
				v4 x0 = *(const v4 *)b, x1 = *(const v4 *)(b + 4);
				for (int i = 0; i < MR; i++) {
					acc[i][0] += a[i] * x0;
					acc[i][1] += a[i] * x1;
				}
			}
			for (int i = 0; i < rows; i++) {
				v4 *o = (v4 *)(c + i * NR + h);
				if (p0 == 0) {
					o[0] = acc[i][0];
					o[1] = acc[i][1];
				} else {
					o[0] += acc[i][0];
					o[1] += acc[i][1];
				}
			}
		}
	}
}

#if WINO_X86
// kernel_avx2 is kernel's AVX2 build, 16 columns at a time: twelve 8-float accumulators, two
// loads and six broadcasts a step, which the 16 AVX registers hold. Intrinsics, because gcc
// compiled the vector extension's broadcasts to a scalar add and a register broadcast each (or,
// spelled as an initialiser, to inserts and spills), which cost half the products' speed.
__attribute__((target("avx2,fma"))) static void kernel_avx2(const float *a, const float *b, float *c, long k, int rows) {
	for (long p0 = 0; p0 < k; p0 += KSUM) {
		long pn = k - p0 < KSUM ? k - p0 : KSUM;
		__m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
		__m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
		for (long p = 0; p < pn; p++, a += MR, b += NR) {
			__m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), x;
			x = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
			x = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
			x = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
			x = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
			x = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
			x = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
		}
		__m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
		for (int i = 0; i < 2 * rows; i++) {
			__m256 v = p0 == 0 ? acc[i] : _mm256_add_ps(_mm256_loadu_ps(c + 8 * i), acc[i]);
			_mm256_storeu_ps(c + 8 * i, v);
		}
	}
}
#else
static void kernel_avx2(const float *a, const float *b, float *c, long k, int rows) { kernel(a, b, c, k, rows); }
#endif

INLINE void gemm_body(const float *u, const float *v, float *m, long co, long ci, long nb, long a0, long a1, int simd) {
	long nob = (co + MR - 1) / MR, pu = plane(nob, ci, MR), pv = plane(nb, ci, NR), pm = plane(nb, co, NR);
	for (long a = a0; a < a1; a++) {
		for (long ob = 0; ob < nob; ob++) {
			const float *pa = u + a * pu + ob * ci * MR;
			int rows = co - ob * MR < MR ? (int)(co - ob * MR) : MR;
			for (long jb = 0; jb < nb; jb++) {
				if (simd) kernel_avx2(pa, v + a * pv + jb * ci * NR, m + a * pm + (jb * co + ob * MR) * NR, ci, rows);
				else kernel(pa, v + a * pv + jb * ci * NR, m + a * pm + (jb * co + ob * MR) * NR, ci, rows);
			}
		}
	}
}

// ---- the two builds of each transform, and the dispatch ----

#if WINO_X86
__attribute__((target("avx2,fma"))) static void filter_avx2(const float *w, float *u, long rows, long cols, long ob0, long ob1, int back) {
	filter_body(w, u, rows, cols, ob0, ob1, back);
}
#endif
static void filter_base(const float *w, float *u, long rows, long cols, long ob0, long ob1, int back) {
	filter_body(w, u, rows, cols, ob0, ob1, back);
}
#if WINO_X86
__attribute__((target("avx2,fma"), NODIST)) static void input_avx2(const float *src, float *v, wino_geom g, long tstart, long tc, long nb, long c0, long c1) {
	input_body(src, v, g, tstart, tc, nb, c0, c1, 1);
}
#endif
__attribute__((NODIST)) static void input_base(const float *src, float *v, wino_geom g, long tstart, long tc, long nb, long c0, long c1) {
	input_body(src, v, g, tstart, tc, nb, c0, c1, 0);
}
#if WINO_X86
__attribute__((target("avx2,fma"))) static void output_avx2(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long nb, long o0, long o1) {
	output_body(m, dst, bias, g, tstart, tc, nb, o0, o1, 1);
}
#endif
static void output_base(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long nb, long o0, long o1) {
	output_body(m, dst, bias, g, tstart, tc, nb, o0, o1, 0);
}
#if WINO_X86
__attribute__((target("avx2,fma"))) static void gemm_avx2(const float *u, const float *v, float *m, long co, long ci, long nb, long a0, long a1) {
	gemm_body(u, v, m, co, ci, nb, a0, a1, 1);
}
#endif
static void gemm_base(const float *u, const float *v, float *m, long co, long ci, long nb, long a0, long a1) {
	gemm_body(u, v, m, co, ci, nb, a0, a1, 0);
}

void wino_filter(const float *w, float *u, long rows, long cols, long ob0, long ob1, int back, int avx2) {
#if WINO_X86
	if (avx2) {
		filter_avx2(w, u, rows, cols, ob0, ob1, back);
		return;
	}
#endif
	(void)avx2;
	filter_base(w, u, rows, cols, ob0, ob1, back);
}

void wino_input(const float *src, float *v, wino_geom g, long tstart, long tc, long nb, long c0, long c1, int avx2) {
#if WINO_X86
	if (avx2) {
		input_avx2(src, v, g, tstart, tc, nb, c0, c1);
		return;
	}
#endif
	(void)avx2;
	input_base(src, v, g, tstart, tc, nb, c0, c1);
}

void wino_output(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long nb, long o0, long o1, int avx2) {
#if WINO_X86
	if (avx2) {
		output_avx2(m, dst, bias, g, tstart, tc, nb, o0, o1);
		return;
	}
#endif
	(void)avx2;
	output_base(m, dst, bias, g, tstart, tc, nb, o0, o1);
}

void wino_gemm(const float *u, const float *v, float *m, long co, long ci, long nb, long a0, long a1, int avx2) {
#if WINO_X86
	if (avx2) {
		gemm_avx2(u, v, m, co, ci, nb, a0, a1);
		return;
	}
#endif
	(void)avx2;
	gemm_base(u, v, m, co, ci, nb, a0, a1);
}
