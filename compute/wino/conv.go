package wino

import (
	"errors"
	"fmt"
)

// ErrUnavailable is returned by every pass in builds without cgo or with the purego tag.
var ErrUnavailable = errors.New("wino: unavailable in this build (needs cgo and OpenBLAS)")

// ErrUnsupported is wrapped by Supported's errors: the convolution is not one Winograd F(4x4,
// 3x3) computes here, and the caller should use another kernel.
var ErrUnsupported = errors.New("wino: unsupported convolution")

// Conv describes a stride-1 convolution with a 3x3 kernel (a cross-correlation, as in compute/nn
// and compute/dnnl): src (N, C, H, W) in NCHW, weights (O, C, 3, 3) in OIHW and dst (N, O, OH,
// OW) in NCHW, with OH = H+PadTop+PadBottom-2 and OW = W+PadLeft+PadRight-2. Padding may be
// asymmetric (TensorFlow's SAME) and larger than 2.
type Conv struct {
	N, C, H, W                           int
	O                                    int
	PadTop, PadBottom, PadLeft, PadRight int
}

// OutSize returns OH and OW.
func (c Conv) OutSize() (oh, ow int) {
	return c.H + c.PadTop + c.PadBottom - 2, c.W + c.PadLeft + c.PadRight - 2
}

// Supported returns nil if Forward and BackwardData handle c, and otherwise an error wrapping
// ErrUnsupported that says why: a size below 1, a negative pad, or an output of no rows or
// columns.
func (c Conv) Supported() error {
	if c.N < 1 || c.C < 1 || c.H < 1 || c.W < 1 || c.O < 1 {
		return fmt.Errorf("%w: sizes must be positive in %+v", ErrUnsupported, c)
	}
	if c.PadTop < 0 || c.PadBottom < 0 || c.PadLeft < 0 || c.PadRight < 0 {
		return fmt.Errorf("%w: negative padding in %+v", ErrUnsupported, c)
	}
	if oh, ow := c.OutSize(); oh < 1 || ow < 1 {
		return fmt.Errorf("%w: the 3x3 kernel is larger than the padded input in %+v", ErrUnsupported, c)
	}
	const limit = 1 << 31 // sgemm's dimensions are 32-bit
	if oh, ow := c.OutSize(); c.N*c.C*c.H*c.W >= limit || c.N*c.O*oh*ow >= limit || c.N*((oh+3)/4)*((ow+3)/4) >= limit {
		return fmt.Errorf("%w: too large (%+v)", ErrUnsupported, c)
	}
	return nil
}

// FLOPs returns the floating-point operations of the direct convolution, 2·N·O·C·9·OH·OW, the
// figure GFLOP/s rates are quoted against (Winograd itself does about a quarter of the
// multiplications).
func (c Conv) FLOPs() float64 {
	oh, ow := c.OutSize()
	return 2 * float64(c.N) * float64(c.O) * float64(c.C) * 9 * float64(oh) * float64(ow)
}

// checkSizes verifies that the buffers of a pass fit c.
func (c Conv) checkSizes(pass string, src, weights, bias, dst []float32, withBias bool) error {
	if err := c.Supported(); err != nil {
		return err
	}
	oh, ow := c.OutSize()
	if len(src) != c.N*c.C*c.H*c.W || len(weights) != c.O*c.C*9 || len(dst) != c.N*c.O*oh*ow {
		return fmt.Errorf("wino: %s: buffers of %d, %d and %d elements do not fit %+v (want %d, %d and %d)",
			pass, len(src), len(weights), len(dst), c, c.N*c.C*c.H*c.W, c.O*c.C*9, c.N*c.O*oh*ow)
	}
	if withBias && bias != nil && len(bias) != c.O {
		return fmt.Errorf("wino: %s: bias of %d elements for %d output channels", pass, len(bias), c.O)
	}
	return nil
}
