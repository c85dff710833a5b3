package nn

import "convas/compute/gpu"

// Buf is an array of float32 in an accelerator's memory, made by Accel.Alloc.
type Buf interface {
	// Len is the number of float32 elements.
	Len() int
}

// Accel is the seam where a GPU takes over compute/nn's heavy float32 ops: convolution (all
// three passes), bias, ReLU, max and average pooling and LRN, and their gradients. A graph
// bound to one with Place runs those ops on it and keeps their results in its memory, and every
// other op on the CPU; values cross between the two only where an op of one reads a value the
// other made. compute/device adapts a compute/gpu.Device to it; the parameter types are
// compute/gpu's, whose doc comments give their semantics (NCHW activations, OIHW filters,
// asymmetric padding, TensorFlow's LRN).
//
// Calls come from one goroutine at a time per placed graph, but several graphs may share one
// Accel from different goroutines: an implementation must be safe for that.
type Accel interface {
	// Alloc returns a buffer of n float32, contents undefined.
	Alloc(n int) (Buf, error)
	// Free releases a buffer made by Alloc.
	Free(b Buf)
	// Upload copies src (len(src) == b.Len()) into b.
	Upload(b Buf, src []float32) error
	// Download copies b into dst (len(dst) == b.Len()), waiting for the work before it.
	Download(dst []float32, b Buf) error
	// Copy copies n elements of src, from element srcOff on, into dst from element dstOff on.
	Copy(dst Buf, dstOff int, src Buf, srcOff, n int) error
	// Zero sets every element of b to 0.
	Zero(b Buf) error
	// Axpy writes y = a·x + y.
	Axpy(a float32, x, y Buf) error
	// Gemm writes the row-major c (m x n) = alpha·op(a)·op(b) + beta·c, where op(a) is a
	// (m x k) or, with transA, the transpose of a (k x m); likewise op(b) is (k x n).
	Gemm(transA, transB bool, m, n, k int, alpha float32, a, b Buf, beta float32, c Buf) error

	// Conv runs one pass of a convolution; see gpu.Device.Conv for which buffers each pass
	// reads and writes.
	Conv(c gpu.Conv, pass gpu.Pass, x, w, y Buf) error
	// BiasAdd writes y = x + b[channel] for x (n, c, plane); y may be x.
	BiasAdd(n, c, plane int, x, b, y Buf) error
	// BiasGrad writes db[channel] = the sum of dy (n, c, plane) over n and plane.
	BiasGrad(n, c, plane int, dy, db Buf) error
	// ReLUForward writes y = max(x, 0); y may be x.
	ReLUForward(x, y Buf) error
	// ReLUBackward writes dx = dy where x > 0 and 0 elsewhere; y is ReLU's output (x itself
	// will do, as x > 0 exactly where y > 0).
	ReLUBackward(x, y, dy, dx Buf) error
	// PoolForward pools x into y.
	PoolForward(p gpu.Pool, x, y Buf) error
	// PoolBackward writes dx from the pooling's input x, output y and output gradient dy.
	PoolBackward(p gpu.Pool, x, y, dy, dx Buf) error
	// LRNForward normalises x into y.
	LRNForward(l gpu.LRN, x, y Buf) error
	// LRNBackward writes dx from LRN's input x, output y and output gradient dy.
	LRNBackward(l gpu.LRN, x, y, dy, dx Buf) error
}
