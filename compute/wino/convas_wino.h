// The C half of package wino: the three transforms of Winograd F(4x4, 3x3) and its 36 matrix
// products. The Go half (wino_cgo.go) chooses chunks and splits the work between goroutines.

// (Named convas_wino.h, not wino.h: cgo compiles its probe of the preamble from a file in the
// temporary directory, where a stray wino.h was once found before this one.)

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
	long relu;         // nonzero: the output transform writes max(y, 0)
} wino_geom;

// wino_has_avx2 reports whether this CPU runs the AVX2+FMA versions of the transforms.
int wino_has_avx2(void);

// The packed layouts, for the AVX2 product kernel (MR x NR blocks of 6 channels by 16 tiles):
//   U[a][ob][k][r]  a < 36, ob < ceil(rows/6), k < cols, r < 6: transformed filter of row
//                   6·ob+r (output channel of the pass) and column k (input channel), zero in
//                   rows past the last;
//   V[a][jb][c][j]  jb < nb, c < ci, j < 16: input transform of channel c in tile tstart+16·jb+j
//                   of the chunk (zero past its tc tiles);
//   M[a][jb][o][j]  the products, o < co.
// Consecutive positions a are one cache line (16 floats) further apart than their data.

// wino_filter writes the blocks [ob0, ob1) of U, ob1 <= ceil(rows/6). Forward (back = 0): rows = O,
// cols = C, from w[r][k]. BackwardData (back = 1): rows = C, cols = O, from w[k][r] rotated by
// 180 degrees. w is OIHW with 3x3 kernels.
void wino_filter(const float *w, float *u, long rows, long cols, long ob0, long ob1, int back, int avx2);

// wino_input writes V for the tiles tstart+j, j < tc <= 16·nb, channels c in [c0, c1).
void wino_input(const float *src, float *v, wino_geom g, long tstart, long tc, long nb, long c0, long c1, int avx2);

// wino_gemm computes M[a] = U[a] V[a] (co x ci times ci x 16·nb) for a in [a0, a1), with a 6x16
// register-blocked kernel.
void wino_gemm(const float *u, const float *v, float *m, long co, long ci, long nb, long a0, long a1, int avx2);

// wino_output writes dst (NCHW, co channels of oh x ow) from M for the tiles tstart+j, j < tc,
// and output channels [o0, o1): Y = A^T M A, plus bias[o] when bias is not NULL, then max(Y, 0)
// when g.relu is set, only the part of each 4x4 tile inside the output.
void wino_output(const float *m, float *dst, const float *bias, wino_geom g, long tstart, long tc, long nb, long o0, long o1, int avx2);

#endif
