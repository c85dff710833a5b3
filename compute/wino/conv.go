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
//
// With ReLU, Forward writes max(conv + bias, 0), in the output transform rather than a pass of
// its own; BackwardData ignores it (the caller masks diff_dst with the forward output first).
type Conv struct {
	N, C, H, W                           int
	O                                    int
	PadTop, PadBottom, PadLeft, PadRight int
	ReLU                                 bool
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
	// Element counts past 2^31 would overflow int on 32-bit platforms and C's long on 64-bit
	// Windows; the transformed filter holds 36·(O+5)·C of them.
	const limit = 1 << 31
	if oh, ow := c.OutSize(); c.N*c.C*c.H*c.W >= limit || c.N*c.O*oh*ow >= limit || 36*(c.O+5)*c.C >= limit {
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
// fastest of 20 runs in two sittings (BenchmarkVGG, 2026-11-27 18:05 and 18:07 UTC, load
// average 1.1 to 3.4 from other work), in ms: Winograd with a kept Filter / with the filter
// transformed in the call / oneDNN.
//
//	C→O      image    forward                backward-data
//	64→64    224x224  9.89 / 9.34 / 21.6     9.53 / 10.4 / 24.1   (every VGG layer at 224 and
//	256→256  56x56    7.19 / 7.72 / 21.2     7.17 / 7.56 / 21.3    512 wins, 2x to 3x)
//	512→512  28x28    10.4 / 14.8 / 22.3     9.97 / 14.9 / 20.2
//	64→64    28x28    0.30 / 0.34 / 0.49     0.28 / 0.36 / 0.58
//	512→512  14x14    2.18 / 5.85 / 5.62     2.29 / 5.82 / 5.41
//	256→256  14x14    0.65 / 1.34 / 1.58     0.62 / 1.16 / 1.37
//	64→64    14x14    0.11 / 0.16 / 0.23     0.11 / 0.16 / 0.21
//	512→512  7x7      2.21 / 6.40 / 1.93     2.28 / 5.93 / 1.93
//	32→32    56x56    0.47 / 0.40 / 0.66     0.30 / 0.29 / 0.53
//	16→16    56x56    0.18 / 0.16 / 0.26     0.19 / 0.20 / 0.24
//	3→64     224x224  2.62 / 2.26 / 1.66     3.03 / 3.53 / 2.85
//
// Winograd loses where its fixed costs are not shared by enough tiles: with few channels (the
// transforms cost per channel and tile what the products save: 3 channels lose), with few
// tiles (the 36·O·C transformed weights are read once per call whatever the image size: 38 MB
// at 512 channels, so 7x7 loses), and, when the filter is transformed in the call (O·C kernels,
// about 4 ms at 512x512, bound by writing its 38 MB), with few tiles for many channels (14x14
// at 512 channels loses).
func fasterRule(c Conv, filterKept bool) bool {
	if c.Supported() != nil || min(c.C, c.O) < 16 {
		return false
	}
	t := c.Tiles()
	if filterKept {
		return t >= 16
	}
	return t >= 49 || (t >= 16 && c.C*c.O <= 256*256)
}
