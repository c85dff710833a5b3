// The C half of package wino: the three transforms of Winograd F(4x4, 3x3) and the loop of 36
// GEMMs. The Go half (wino_cgo.go) chooses chunks and splits the work between goroutines.

#ifndef CONVAS_WINO_H
#define CONVAS_WINO_H

// wino_geom describes one stride-1 3x3 correlation on NCHW buffers in the terms of its
// Winograd tiling. Pads may be negative (BackwardData of a forward pad above 2 crops diff_dst).
typedef struct {
	long n;            // images
	long ci, h, w;     // input channels and size
	long co, oh, ow;   // output channels and size
	long pad_t, pad_l; // rows and columns of zeros before the input (may be negative)
	long tiles_h, tiles_w;
} wino_geom;

// wino_has_avx2 reports whether this CPU runs the AVX2+FMA versions of the transforms.
int wino_has_avx2(void);

// wino_filter writes U[a][r][k] (a < 36, r < rows, k < cols, row-major) for rows r in [r0, r1).
// Forward (back = 0): rows = O, cols = C, U = G w[r][k] G^T. BackwardData (back = 1): rows = C,
// cols = O, U = G rot180(w[k][r]) G^T. w is OIHW with 3x3 kernels, O = rows or cols as above.
void wino_filter(const float *w, float *u, long rows, long cols, long r0, long r1, int back, int avx2);

// wino_input writes V[a][c][j] = (B^T d B)[a] for the tiles tstart+j, j < tc, channels c in
// [c0, c1); V's rows hold ld >= roundup(tc, 8) floats, and columns tc..roundup(tc, 8) get zeros.
void wino_input(const float *src, float *v, wino_geom g, long tstart, long tc, long ld, long c0, long c1, int avx2);

// wino_gemms computes M[a] = U[a] V[a] (co x ci times ci x tc, V and M with row stride ld) for
// a in [a0, a1) with OpenBLAS's sgemm.
void wino_gemms(const float *u, const float *v, float *m, long co, long ci, long tc, long ld, int a0, int a1);

// wino_output writes dst (NCHW, co channels of oh x ow) from M for the tiles tstart+j, j < tc,
// and output channels [o0, o1): Y = A^T M A, plus bias[o] when bias is not NULL, only the part
// of each 4x4 tile inside the output.
void wino_output(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long ld, long o0, long o1, int avx2);

#endif
