//go:build !cgo || purego

package nn

import "gorgonia.org/tensor"

// lrnForwardF32 is the C kernel of lrn_cgo.go; the pure-Go build has none, and lrnForward does
// the work.
func lrnForwardF32(lrnKernel, tensor.Shape, []float32, []float32) bool { return false }

// lrnBackwardF32 is the C kernel of lrn_cgo.go; the pure-Go build has none, and lrnBackward
// does the work.
func lrnBackwardF32(lrnKernel, tensor.Shape, []float32, []float32, []float32) bool { return false }
