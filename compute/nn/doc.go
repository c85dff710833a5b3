// Package nn holds Gorgonia operations of Convas's own for convolutional networks: convolution
// (with a fused bias: Conv2DBias) with explicit, possibly asymmetric padding, max and average
// pooling with TensorFlow 'SAME' semantics, LRN, bilinear resize, channel selection and
// concatenation, a per-channel bias, ReLU, matrix products for dense layers and a numerically
// stable softmax cross-entropy, each with its gradients.
//
// Every operation works on tensor.Float32 and tensor.Float64 values and uses the NCHW layout with
// (out, in, kh, kw) filters. In the default cgo build float32 convolutions run through oneDNN
// (compute/dnnl); float64 ones, and all of them in the purego build, on im2col and GEMM.
//
// Ops keep state, so an op (and the graph holding it) belongs to one goroutine at a time: a
// differentiated MaxPool2D records where each window's maximum lies for its backward op, and
// after ReuseBuffers every op keeps the tensor it writes its result into from one run of the
// graph to the next. Backward operations take the forward inputs and the gradient of the output
// as inputs of their own.
//
// GEMM runs through gonum's BLAS interfaces. The default cgo build uses OpenBLAS through
// gonum.org/v1/netlib; the purego build tag (or a build without cgo) uses gonum's pure-Go
// implementation.
package nn
