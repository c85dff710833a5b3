//go:build !cgo || purego

package wino

// Available reports whether this build computes Winograd convolutions (it needs cgo); without,
// every pass returns ErrUnavailable.
const Available = false

// Faster is false in this build: the passes are unavailable.
func Faster(c Conv, filterKept bool) bool { return false }

// Workspace would hold the work buffers of Winograd passes; in this build every pass returns
// ErrUnavailable.
type Workspace struct{}

// Filter would hold transformed weights; in this build it stays empty.
type Filter struct{}

// Forward returns ErrUnavailable in this build.
func (ws *Workspace) Forward(c Conv, src, weights, bias, dst []float32) error {
	return ErrUnavailable
}

// BackwardData returns ErrUnavailable in this build.
func (ws *Workspace) BackwardData(c Conv, diffDst, weights, diffSrc []float32) error {
	return ErrUnavailable
}

// SetForward returns ErrUnavailable in this build.
func (ws *Workspace) SetForward(f *Filter, c Conv, weights []float32) error { return ErrUnavailable }

// SetBackwardData returns ErrUnavailable in this build.
func (ws *Workspace) SetBackwardData(f *Filter, c Conv, weights []float32) error {
	return ErrUnavailable
}

// ForwardFilter returns ErrUnavailable in this build.
func (ws *Workspace) ForwardFilter(c Conv, src []float32, f *Filter, bias, dst []float32) error {
	return ErrUnavailable
}

// BackwardDataFilter returns ErrUnavailable in this build.
func (ws *Workspace) BackwardDataFilter(c Conv, diffDst []float32, f *Filter, diffSrc []float32) error {
	return ErrUnavailable
}
