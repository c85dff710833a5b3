// Package nn holds Gorgonia operations of Convas's own for convolutional networks: a fast
// convolution (im2col and one GEMM per image) with explicit, possibly asymmetric padding, max
// pooling with TensorFlow 'SAME' semantics, a per-channel bias and a numerically stable softmax
// cross-entropy.
//
// Every operation works on tensor.Float32 and tensor.Float64 values, uses the NCHW layout with
// (out, in, kh, kw) filters, and is stateless: nothing is remembered between a forward and a
// backward pass. Backward operations take the forward inputs and the gradient of the output as
// inputs of their own, so one op may serve any number of graphs and goroutines.
//
// GEMM runs through gonum's BLAS interfaces. The default cgo build uses OpenBLAS through
// gonum.org/v1/netlib; the purego build tag (or a build without cgo) uses gonum's pure-Go
// implementation.
package nn
