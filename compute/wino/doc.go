// Package wino computes stride-1 3x3 convolutions (cross-correlations) in float32 with Winograd's
// minimal filtering algorithm F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015), on the plain layouts of compute/nn and compute/dnnl: src NCHW, weights
// OIHW, dst NCHW. It exists for CPUs where oneDNN 2.6 has no Winograd (it has one only for
// AVX-512) and runs 3x3 convolutions with its direct kernels.
//
// A 4x4 block of outputs is computed from the 6x6 block of inputs under it with 36 products
// instead of 144 multiply-adds, in three stages per chunk of tiles:
//
//   - the filter transform U[a] = G g Gᵀ (once per call, or once for all calls with a Filter),
//   - the input transform V[a] = Bᵀ d B of every 6x6 input tile (zeros outside the padded input),
//   - 36 matrix products M[a] = U[a]·V[a] (O x C times C x tiles, OpenBLAS's sgemm), and
//   - the output transform Y = Aᵀ M A, which writes only the part of an edge tile inside dst.
//
// With the interpolation points 0, ±1, ±2 and ∞ the float32 result differs from the exact
// convolution by about 1e-6 of its largest value on VGG-like data (tests measure it against a
// float64 direct convolution). The transforms are C, compiled by cgo with -O3 once for the
// baseline x86-64 ISA and once for AVX2+FMA and chosen at run time; chunks of tiles bound the
// work memory and keep it in cache; the transforms of a chunk are split over GOMAXPROCS
// goroutines and OpenBLAS threads each product. Faster tells where this beats oneDNN's direct
// kernels on the machine it was measured on.
//
// A Workspace holds the work buffers of the shapes it has run and is reused across calls, so
// that a call allocates nothing once its buffers have grown; one Workspace serves one goroutine
// at a time. In builds without cgo or with the purego tag the passes return ErrUnavailable and
// callers use their other kernels.
package wino
