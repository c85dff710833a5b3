// Package wino computes stride-1 3x3 convolutions (cross-correlations) in float32 with Winograd's
// minimal filtering algorithm F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015), on the plain layouts of compute/nn and compute/dnnl: src NCHW, weights
// OIHW, dst NCHW. It exists for CPUs where oneDNN 2.6 has no Winograd (it has one only for
// AVX-512) and runs 3x3 convolutions with its direct kernels.
//
// A 4x4 block of outputs is computed from the 6x6 block of inputs under it with 36 products
// instead of 144 multiply-adds, in stages:
//
//   - the filter transform U[a] = G g Gᵀ (once per call, or once for all calls with a Filter),
//   - the input transform V[a] = Bᵀ d B of every 6x6 input tile (zeros outside the padded input),
//   - 36 matrix products M[a] = U[a]·V[a] (O x C times C x tiles), and
//   - the output transform Y = Aᵀ M A, which writes only the part of an edge tile inside dst.
//
// The tiles are processed in chunks whose V and M stay in a core's cache; each worker goroutine
// (GOMAXPROCS of them) takes whole chunks, or, when there are too few chunks, every stage of a
// chunk is split between them. With the interpolation points 0, ±1, ±2 and ∞ the float32 result
// differs from the exact convolution by about 5e-6 of its largest value on VGG-like data at 64
// to 512 channels (the tests measure it against a float64 direct convolution).
//
// Everything below the Go scheduling is C, compiled by cgo with -O3 once for the baseline x86-64
// ISA and once for AVX2+FMA (a target attribute, not a global -mavx2, so the binary still runs
// without AVX2) and chosen at run time. The products are a 6x16 register-blocked kernel on
// layouts the transforms write packed for it, not OpenBLAS's sgemm: measured on VGG's 64-channel
// layer at 224x224, OpenBLAS's threads spun in sched_yield while the transforms ran and its
// beta=0 pass over M cost half as much as its products, and the whole convolution ran at the
// speed of oneDNN's direct kernels; with the packed kernel (AVX2 intrinsics) and whole chunks a
// goroutine it runs VGG's layers 2 to 3 times faster than them (filter kept; the figures are
// beside fasterRule in conv.go). Faster tells where Winograd wins on such a machine.
//
// A Workspace holds the work buffers of the shapes it has run and is reused across calls, so
// that a call allocates nothing once its buffers have grown; one Workspace serves one goroutine
// at a time. In builds without cgo or with the purego tag the passes return ErrUnavailable and
// callers use their other kernels.
package wino
