//go:build !cgo || purego

package nn

// reluForwardF32 is the C kernel of relu_cgo.go; the pure-Go build has none, and reluForward
// does the work.
func reluForwardF32(x, y []float32) bool { return false }

// reluBackwardF32 is the C kernel of relu_cgo.go; the pure-Go build has none, and reluBackward
// does the work.
func reluBackwardF32(x, dy, dx []float32) bool { return false }
