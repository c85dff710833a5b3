package nn

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LRN is local response normalisation across channels with the semantics of TensorFlow's
// tf.nn.local_response_normalization, for x (N,C,H,W):
//
//	sqr_sum[c] = Σ x[c']² over c' in [c - depthRadius, c + depthRadius] ∩ [0, C)
//	out[c]     = x[c] / (bias + alpha·sqr_sum[c])^beta
//
// at every (n, h, w). TensorFlow applies alpha to the plain sum. ONNX, Caffe, PyTorch and
// oneDNN apply alpha/size to it, where size = 2·depthRadius + 1 is the window: to run a model
// from one of those, convert its parameters with LRNFromONNX. GoogLeNet (inception5h) uses
// depthRadius 2, bias 1, alpha 1e-4, beta 0.75 in TensorFlow's terms.
//
// depthRadius must not be negative, bias must be positive and alpha not negative (so the base
// is at least bias), and beta finite. The gradient is exact:
//
//	dx[j] = dy[j]·d[j]^-beta - 2·alpha·beta·x[j]·Σ dy[c]·out[c]/d[c] over c within depthRadius of j
//
// with d = bias + alpha·sqr_sum.
func LRN(x *gorgonia.Node, depthRadius int, bias, alpha, beta float64) (*gorgonia.Node, error) {
	k := lrnKernel{radius: depthRadius, bias: bias, alpha: alpha, beta: beta}
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("nn: LRN: %w", err)
	}
	return applyUnary(k, x)
}

// LRNParams are the parameters of LRN in TensorFlow's terms.
type LRNParams struct {
	DepthRadius       int
	Bias, Alpha, Beta float64
}

// LRNFromONNX converts the attributes of an ONNX LRN node (also Caffe's, PyTorch's
// LocalResponseNorm and oneDNN's, which share its definition) to LRN's parameters: the window
// size becomes depthRadius = (size-1)/2 and, since those divide alpha by the window size and
// TensorFlow does not, alpha becomes alpha/size; bias and beta are unchanged. ONNX's defaults
// are alpha 1e-4, beta 0.75, bias 1.
//
// An even size has a window one channel longer on one side than the other, which LRN cannot
// express: it is an error, as is a size below 1.
func LRNFromONNX(size int, alpha, beta, bias float64) (LRNParams, error) {
	if size < 1 || size%2 == 0 {
		return LRNParams{}, fmt.Errorf("nn: LRNFromONNX: size %d must be odd and positive", size)
	}
	return LRNParams{DepthRadius: (size - 1) / 2, Bias: bias, Alpha: alpha / float64(size), Beta: beta}, nil
}

// lrnKernel is local response normalisation as a unaryKernel.
type lrnKernel struct {
	radius            int
	bias, alpha, beta float64
}

// check checks the parameters.
func (k lrnKernel) check() error {
	if k.radius < 0 {
		return fmt.Errorf("negative depth radius %d", k.radius)
	}
	if !(k.bias > 0) || math.IsInf(k.bias, 0) {
		return fmt.Errorf("bias %g must be positive and finite", k.bias)
	}
	if !(k.alpha >= 0) || math.IsInf(k.alpha, 0) {
		return fmt.Errorf("alpha %g must be non-negative and finite", k.alpha)
	}
	if math.IsNaN(k.beta) || math.IsInf(k.beta, 0) {
		return fmt.Errorf("beta %g must be finite", k.beta)
	}
	return nil
}

func (k lrnKernel) opName() string { return "LRN" }

func (k lrnKernel) describe(name string) string {
	// %v formats a float64 with the fewest digits that read back exactly, so parameters
	// that differ always describe (and hash) differently.
	return fmt.Sprintf("nn.%s{depthRadius: %d, bias: %v, alpha: %v, beta: %v}", name, k.radius, k.bias, k.alpha, k.beta)
}

func (k lrnKernel) ranks() (in, out int) { return 4, 4 }

func (k lrnKernel) outShape(x tensor.Shape) (tensor.Shape, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	if x.Dims() != 4 {
		return nil, fmt.Errorf("input must be (N, C, H, W), got shape %v", x)
	}
	for _, d := range x {
		if d <= 0 {
			return nil, fmt.Errorf("empty dimension in input %v", x)
		}
	}
	return x.Clone(), nil
}

func (k lrnKernel) forward(x, y *tensor.Dense) error {
	if x.Dtype() == tensor.Float32 {
		if !lrnForwardF32(k, x.Shape(), dataOf[float32](x), dataOf[float32](y)) {
			lrnForward(k, x.Shape(), dataOf[float32](x), dataOf[float32](y))
		}
	} else {
		lrnForward(k, x.Shape(), dataOf[float64](x), dataOf[float64](y))
	}
	return nil
}

func (k lrnKernel) backward(x, dy, dx *tensor.Dense) error {
	if x.Dtype() == tensor.Float32 {
		if !lrnBackwardF32(k, x.Shape(), dataOf[float32](x), dataOf[float32](dy), dataOf[float32](dx)) {
			lrnBackward(k, x.Shape(), dataOf[float32](x), dataOf[float32](dy), dataOf[float32](dx))
		}
	} else {
		lrnBackward(k, x.Shape(), dataOf[float64](x), dataOf[float64](dy), dataOf[float64](dx))
	}
	return nil
}

// lrnSpan is the number of positions of a plane that one unit of LRN work covers, for every
// channel (SPAN in the C kernels of lrn_cgo.go): small enough that a unit's channels stay in
// cache, long enough for tight loops.
const lrnSpan = 256

// lrnUnits returns the number of units LRN's work on a tensor of shape s is cut into: up to
// lrnSpan positions of one image each, for every channel.
func lrnUnits(s tensor.Shape) int {
	n, _, plane := channelGeom(s)
	return n * ((plane + lrnSpan - 1) / lrnSpan)
}

// lrnUnit returns the image n and positions [p0, p1) of unit u of LRN's work on planes of
// the given size.
func lrnUnit(u, plane int) (n, p0, p1 int) {
	per := (plane + lrnSpan - 1) / lrnSpan
	n, p0 = u/per, (u%per)*lrnSpan
	return n, p0, min(p0+lrnSpan, plane)
}

// windowSums keeps, for the positions [p0, p1) of one image, the sum over the channels
// [c-r, c+r] ∩ [0, C) of v(cc)[i] as c steps from 0 to C-1: each step adds the channel entering
// the window and subtracts the one leaving it (two terms per position rather than 2r+1), in
// float64, where the squares of float32 values are exact.
type windowSums struct {
	sum   []float64
	r, nc int
}

// start sets the sums for channel 0: channels [0, r] ∩ [0, C).
func (w *windowSums) start(m int, add func(cc int, sum []float64)) {
	w.sum = w.sum[:m]
	clear(w.sum)
	for cc := 0; cc <= min(w.r, w.nc-1); cc++ {
		add(cc, w.sum)
	}
}

// next moves the window from channel c to c+1.
func (w *windowSums) next(c int, add, sub func(cc int, sum []float64)) {
	if in := c + 1 + w.r; in < w.nc {
		add(in, w.sum)
	}
	if out := c - w.r; out >= 0 {
		sub(out, w.sum)
	}
}

// lrnScales writes p[i] = d^-beta for d = bias + alpha·a[i], with the loop specialised for the
// common betas 0.75, 0.5 and 1 (square roots and a division instead of math.Pow).
func lrnScales(k lrnKernel, a []float64, p []float64) {
	p = p[:len(a)]
	switch k.beta {
	case 0.75:
		for i, v := range a {
			s := math.Sqrt(k.bias + k.alpha*float64(v))
			p[i] = 1 / (s * math.Sqrt(s))
		}
	case 0.5:
		for i, v := range a {
			p[i] = 1 / math.Sqrt(k.bias+k.alpha*float64(v))
		}
	case 1:
		for i, v := range a {
			p[i] = 1 / (k.bias + k.alpha*float64(v))
		}
	default:
		for i, v := range a {
			p[i] = math.Pow(k.bias+k.alpha*float64(v), -k.beta)
		}
	}
}

// squares returns the functions that add x² and subtract x² of channel cc, at the positions
// [p0, p1) of the image starting at base, into a window sum.
func squares[T float](x []T, plane, base, p0, p1 int) (add, sub func(cc int, sum []float64)) {
	add = func(cc int, sum []float64) {
		for i, v := range x[base+cc*plane+p0 : base+cc*plane+p1] {
			sum[i] += float64(v) * float64(v)
		}
	}
	sub = func(cc int, sum []float64) {
		for i, v := range x[base+cc*plane+p0 : base+cc*plane+p1] {
			sum[i] -= float64(v) * float64(v)
		}
	}
	return add, sub
}

// lrnForward writes y = x·(bias + alpha·sqr_sum)^-beta.
func lrnForward[T float](k lrnKernel, s tensor.Shape, x, y []T) {
	_, nc, plane := channelGeom(s)
	parallelFor(lrnUnits(s), func(_, lo, hi int) {
		win, p := windowSums{sum: make([]float64, lrnSpan), r: k.radius, nc: nc}, make([]float64, lrnSpan)
		for u := lo; u < hi; u++ {
			n, p0, p1 := lrnUnit(u, plane)
			base := n * nc * plane
			add, sub := squares(x, plane, base, p0, p1)
			win.start(p1-p0, add)
			for c := 0; c < nc; c++ {
				lrnScales(k, win.sum, p)
				off := base + c*plane
				src, dst := x[off+p0:off+p1], y[off+p0:off+p1]
				for i, v := range src {
					dst[i] = T(float64(v) * p[i])
				}
				win.next(c, add, sub)
			}
		}
	})
}

// lrnBackward writes into dx the gradient of LRN for x and the output gradient dy. With
// d = bias + alpha·sqr_sum and t[c] = dy[c]·x[c]·d[c]^(-beta-1) = dy[c]·out[c]/d[c]:
// dx[j] = dy[j]·d[j]^-beta - 2·alpha·beta·x[j]·Σ t[c] over the window around j.
func lrnBackward[T float](k lrnKernel, s tensor.Shape, x, dy, dx []T) {
	_, nc, plane := channelGeom(s)
	parallelFor(lrnUnits(s), func(_, lo, hi int) {
		win, p := windowSums{sum: make([]float64, lrnSpan), r: k.radius, nc: nc}, make([]float64, lrnSpan)
		t := make([]float64, nc*lrnSpan) // t[c] for every channel of the unit, lrnSpan apart
		addT := func(cc int, sum []float64) {
			for i, v := range t[cc*lrnSpan : cc*lrnSpan+len(sum)] {
				sum[i] += v
			}
		}
		subT := func(cc int, sum []float64) {
			for i, v := range t[cc*lrnSpan : cc*lrnSpan+len(sum)] {
				sum[i] -= v
			}
		}
		for u := lo; u < hi; u++ {
			n, p0, p1 := lrnUnit(u, plane)
			base, m := n*nc*plane, p1-p0
			// Pass 1: the direct term into dx and t for every channel.
			add, sub := squares(x, plane, base, p0, p1)
			win.start(m, add)
			for c := 0; c < nc; c++ {
				lrnScales(k, win.sum, p)
				off := base + c*plane + p0
				xs, gs, ds, tc := x[off:off+m], dy[off:off+m], dx[off:off+m], t[c*lrnSpan:c*lrnSpan+m]
				for i, v := range win.sum {
					g := float64(gs[i]) * p[i]
					ds[i] = T(g)
					tc[i] = g * float64(xs[i]) / (k.bias + k.alpha*v)
				}
				win.next(c, add, sub)
			}
			// Pass 2: the cross term, Σ t over each channel's window.
			scale := 2 * k.alpha * k.beta
			if scale == 0 {
				continue
			}
			win.start(m, addT)
			for c := 0; c < nc; c++ {
				off := base + c*plane + p0
				xs, ds := x[off:off+m], dx[off:off+m]
				for i, v := range win.sum {
					ds[i] -= T(scale * float64(xs[i]) * v)
				}
				win.next(c, addT, subT)
			}
		}
	})
}
