package nn

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ResizeBilinear resizes every plane of x (N,C,H,W) to outH x outW by bilinear interpolation
// with the semantics of TensorFlow 2's tf.image.resize(method="bilinear", antialias=False),
// that is resize_bilinear with half-pixel centres: output cell o along an axis of in cells
// samples the input at
//
//	src = (o + 0.5)·in/out - 0.5
//
// clamped to [0, in-1], interpolating linearly between the two cells around it. (ONNX Resize
// with mode "linear" and coordinate_transformation_mode "half_pixel" agrees when its scale is
// exactly out/in.) Halving an even size therefore averages 2x2 blocks, and nothing is
// antialiased: shrinking by more than 2 skips cells. The gradient is the transpose: each
// output gradient is scattered back to the four cells it was interpolated from, with the same
// weights.
func ResizeBilinear(x *gorgonia.Node, outH, outW int) (*gorgonia.Node, error) {
	return applyUnary(resizeKernel{oh: outH, ow: outW}, x)
}

// resizeKernel is bilinear resizing as a unaryKernel.
type resizeKernel struct{ oh, ow int }

func (k resizeKernel) opName() string { return "ResizeBilinear" }

func (k resizeKernel) describe(name string) string {
	return fmt.Sprintf("nn.%s{out: %dx%d, halfPixel}", name, k.oh, k.ow)
}

func (k resizeKernel) ranks() (in, out int) { return 4, 4 }

func (k resizeKernel) outShape(x tensor.Shape) (tensor.Shape, error) {
	if k.oh <= 0 || k.ow <= 0 {
		return nil, fmt.Errorf("output size %dx%d must be positive", k.oh, k.ow)
	}
	if x.Dims() != 4 {
		return nil, fmt.Errorf("input must be (N, C, H, W), got shape %v", x)
	}
	for _, d := range x {
		if d <= 0 {
			return nil, fmt.Errorf("empty dimension in input %v", x)
		}
	}
	return tensor.Shape{x[0], x[1], k.oh, k.ow}, nil
}

func (k resizeKernel) forward(x, y *tensor.Dense) error {
	g := newResizeGeom(x.Shape(), k.oh, k.ow)
	if x.Dtype() == tensor.Float32 {
		resizeForward(&g, dataOf[float32](x), dataOf[float32](y))
	} else {
		resizeForward(&g, dataOf[float64](x), dataOf[float64](y))
	}
	return nil
}

func (k resizeKernel) backward(x, dy, dx *tensor.Dense) error {
	g := newResizeGeom(x.Shape(), k.oh, k.ow)
	if x.Dtype() == tensor.Float32 {
		resizeBackward(&g, dataOf[float32](dy), dataOf[float32](dx))
	} else {
		resizeBackward(&g, dataOf[float64](dy), dataOf[float64](dx))
	}
	return nil
}

// lerpTap is where one output cell samples an axis: between cells lo and hi, with weight w on
// hi and 1-w on lo.
type lerpTap struct {
	lo, hi int
	w      float64
}

// halfPixelTaps returns the taps of out cells resampling in cells with half-pixel centres,
// as TensorFlow computes them: src = (o+0.5)·in/out - 0.5, lo = max(floor(src), 0),
// hi = min(ceil(src), in-1), w = src - floor(src); at either edge lo and hi coincide, which
// clamps src.
func halfPixelTaps(in, out int) []lerpTap {
	taps := make([]lerpTap, out)
	scale := float64(in) / float64(out)
	for o := range taps {
		src := (float64(o)+0.5)*scale - 0.5
		f := math.Floor(src)
		lo, hi := int(f), int(math.Ceil(src))
		taps[o] = lerpTap{lo: max(lo, 0), hi: min(hi, in-1), w: src - f}
	}
	return taps
}

// resizeGeom is the geometry of one resize: planes of h x w become oh x ow.
type resizeGeom struct {
	planes, h, w, oh, ow int
	ty, tx               []lerpTap
}

// newResizeGeom computes the taps for resizing planes of shape x to oh x ow.
func newResizeGeom(x tensor.Shape, oh, ow int) resizeGeom {
	return resizeGeom{
		planes: x[0] * x[1], h: x[2], w: x[3], oh: oh, ow: ow,
		ty: halfPixelTaps(x[2], oh), tx: halfPixelTaps(x[3], ow),
	}
}

// resizeForward interpolates every plane of x into y, planes split over goroutines.
func resizeForward[T float](g *resizeGeom, x, y []T) {
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(g.planes, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src, dst := x[pl*in:(pl+1)*in], y[pl*out:(pl+1)*out]
			for oy, ty := range g.ty {
				top, bottom := src[ty.lo*g.w:(ty.lo+1)*g.w], src[ty.hi*g.w:(ty.hi+1)*g.w]
				row := dst[oy*g.ow : (oy+1)*g.ow]
				for ox, tx := range g.tx {
					t := float64(top[tx.lo]) + (float64(top[tx.hi])-float64(top[tx.lo]))*tx.w
					b := float64(bottom[tx.lo]) + (float64(bottom[tx.hi])-float64(bottom[tx.lo]))*tx.w
					row[ox] = T(t + (b-t)*ty.w)
				}
			}
		}
	})
}

// resizeBackward scatters every output gradient of dy back to the four input cells it was
// interpolated from, with their weights, into dx (which arrives zeroed).
func resizeBackward[T float](g *resizeGeom, dy, dx []T) {
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(g.planes, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src, dst := dy[pl*out:(pl+1)*out], dx[pl*in:(pl+1)*in]
			for oy, ty := range g.ty {
				top, bottom := dst[ty.lo*g.w:(ty.lo+1)*g.w], dst[ty.hi*g.w:(ty.hi+1)*g.w]
				row := src[oy*g.ow : (oy+1)*g.ow]
				for ox, tx := range g.tx {
					v := float64(row[ox])
					vt, vb := v*(1-ty.w), v*ty.w
					top[tx.lo] += T(vt * (1 - tx.w))
					top[tx.hi] += T(vt * tx.w)
					bottom[tx.lo] += T(vb * (1 - tx.w))
					bottom[tx.hi] += T(vb * tx.w)
				}
			}
		}
	})
}
