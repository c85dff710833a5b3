package wino

import (
	"errors"
	"fmt"
)

// ErrUnavailable is returned by every pass in builds without cgo or with the purego tag.
var ErrUnavailable = errors.New("wino: unavailable in this build (needs cgo, without the purego tag)")

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
	const limit = 1 << 31 // element counts past 2^31 would overflow int on 32-bit platforms
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

// Tiles returns the number of 4x4 output tiles, N·⌈OH/4⌉·⌈OW/4⌉: the columns of the 36 products
// and the unit that Faster counts in.
func (c Conv) Tiles() int {
	oh, ow := c.OutSize()
	return c.N * ((oh + 3) / 4) * ((ow + 3) / 4)
}

// fasterRule is Faster's rule without the instruction-set check. Measured on 2 vCPUs of an AMD
// EPYC (AVX2+FMA, no AVX-512) against oneDNN 2.6's direct AVX2 kernels, batch 1, SAME padding,
// fastest of 10 runs (BenchmarkVGG, 2026-11-27 18:03 UTC, load average 0.6 to 1.3 from other
// work), in ms: Winograd with a kept Filter / with the filter transformed in the call / oneDNN.
//
//	C→O      image    forward                backward-data
//	64→64    224x224  11.4 / 12.3 / 24.8     12.9 / 14.3 / 25.5
//	256→256  128x128  39.3 / 42.9 / 113.1    36.9 / 40.8 / 109.3  (every VGG layer at 224 and
//	512→512  28x28    10.4 / 16.8 / 21.5     10.4 / 16.5 / 22.0    512 wins, 2x to 3x kept)
//	64→64    28x28    0.49 / 0.79 / 0.83     0.47 / 0.75 / 0.80
//	512→512  14x14    2.46 / 8.28 / 6.01     2.40 / 7.11 / 5.59
//	256→256  14x14    0.88 / 2.48 / 1.83     0.85 / 2.41 / 1.75
//	64→64    14x14    0.12 / 0.26 / 0.29     0.12 / 0.21 / 0.27   (an earlier sitting: oneDNN
//	512→512  7x7      2.30 / 11.5 / 2.02     2.68 / 6.85 / 2.51    0.22 and 0.21, faster than
//	32→32    56x56    0.46 / 0.69 / 0.71     0.48 / 0.49 / 0.67    Winograd in the call)
//	16→16    56x56    0.37 / 0.33 / 0.52     0.39 / 0.34 / 0.52
//	3→64     224x224  2.74 / 2.71 / 1.64     2.67 / 2.83 / 2.83
//
// Winograd loses where its fixed costs are not shared by enough tiles: with few channels (the
// transforms cost per channel and tile what the products save: 3 channels lose), with few
// tiles (the 36·O·C transformed weights are read once per call whatever the image size: 38 MB
// at 512 channels, so 7x7 loses), and, when the filter is transformed in the call (O·C kernels,
// about 4.5 ms at 512x512), with few tiles for many channels (14x14 loses).
func fasterRule(c Conv, filterKept bool) bool {
	if c.Supported() != nil || min(c.C, c.O) < 16 {
		return false
	}
	if filterKept {
		return c.Tiles() >= 16
	}
	return c.Tiles() >= 49
}
