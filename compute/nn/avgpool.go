package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AvgPool2D is average pooling over kh x kw windows at strides sh, sw with explicit padding, with
// TensorFlow's semantics: padded cells are left out of the count, so each window divides by the
// number of real cells it covers (ONNX AveragePool with count_include_pad = 0 agrees).
//
// x is (N,C,H,W); the output is (N,C,OH,OW) with OH = (H + pad.Top + pad.Bottom - kh)/sh + 1,
// and likewise OW. Each side's padding must be smaller than the kernel, so that every window
// holds at least one real cell (Same always satisfies this). The gradient of an output cell is
// shared equally among the real cells of its window. Stock Gorgonia's AveragePool2D has a
// wrong gradient and counts padded cells; use this instead.
func AvgPool2D(x *gorgonia.Node, kh, kw, sh, sw int, pad Padding) (*gorgonia.Node, error) {
	return applyUnary(avgPoolKernel{poolParams{kh: kh, kw: kw, sh: sh, sw: sw, pad: pad}}, x)
}

// avgPoolKernel is average pooling as a unaryKernel.
type avgPoolKernel struct{ poolParams }

func (k avgPoolKernel) opName() string { return "AvgPool2D" }

func (k avgPoolKernel) ranks() (in, out int) { return 4, 4 }

func (k avgPoolKernel) outShape(x tensor.Shape) (tensor.Shape, error) {
	g, err := k.geom(x)
	if err != nil {
		return nil, err
	}
	return g.outShape(), nil
}

func (k avgPoolKernel) forward(x, y *tensor.Dense) error {
	g, err := k.geom(x.Shape())
	if err != nil {
		return err
	}
	if x.Dtype() == tensor.Float32 {
		avgPoolForward(&g, dataOf[float32](x), dataOf[float32](y))
	} else {
		avgPoolForward(&g, dataOf[float64](x), dataOf[float64](y))
	}
	return nil
}

func (k avgPoolKernel) backward(x, dy, dx *tensor.Dense) error {
	g, err := k.geom(x.Shape())
	if err != nil {
		return err
	}
	if x.Dtype() == tensor.Float32 {
		avgPoolBackward(&g, dataOf[float32](dy), dataOf[float32](dx))
	} else {
		avgPoolBackward(&g, dataOf[float64](dy), dataOf[float64](dx))
	}
	return nil
}

// avgPoolForward averages the real cells of every window of every (n, c) plane of x into y,
// accumulating in float64, planes split over goroutines.
func avgPoolForward[T float](g *poolGeom, x, y []T) {
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(g.n*g.c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			plane := x[pl*in : (pl+1)*in]
			dst := y[pl*out : (pl+1)*out]
			for oh := 0; oh < g.oh; oh++ {
				for ow := 0; ow < g.ow; ow++ {
					h0, h1, w0, w1 := g.window(oh, ow)
					var acc float64
					for ih := h0; ih < h1; ih++ {
						for _, v := range plane[ih*g.w+w0 : ih*g.w+w1] {
							acc += float64(v)
						}
					}
					dst[oh*g.ow+ow] = T(acc / float64((h1-h0)*(w1-w0)))
				}
			}
		}
	})
}

// avgPoolBackward adds each output gradient in dy, divided by its window's count of real
// cells, to every real cell of the window in dx (which arrives zeroed).
func avgPoolBackward[T float](g *poolGeom, dy, dx []T) {
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(g.n*g.c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			grad := dy[pl*out : (pl+1)*out]
			dst := dx[pl*in : (pl+1)*in]
			for oh := 0; oh < g.oh; oh++ {
				for ow := 0; ow < g.ow; ow++ {
					h0, h1, w0, w1 := g.window(oh, ow)
					share := grad[oh*g.ow+ow] / T((h1-h0)*(w1-w0))
					for ih := h0; ih < h1; ih++ {
						row := dst[ih*g.w+w0 : ih*g.w+w1]
						for i := range row {
							row[i] += share
						}
					}
				}
			}
		}
	})
}

// GlobalAvgPool2D averages each channel of x (N,C,H,W) over its whole plane: the output is
// (N,C). The gradient of an output is shared equally among the H·W cells of its plane. (Stock
// Gorgonia's GlobalAveragePool2D keeps (N,C,1,1) and panics when differentiated.)
func GlobalAvgPool2D(x *gorgonia.Node) (*gorgonia.Node, error) {
	return applyUnary(globalAvgPoolKernel{}, x)
}

// globalAvgPoolKernel is global average pooling as a unaryKernel.
type globalAvgPoolKernel struct{}

func (k globalAvgPoolKernel) opName() string { return "GlobalAvgPool2D" }

func (k globalAvgPoolKernel) describe(name string) string { return "nn." + name }

func (k globalAvgPoolKernel) ranks() (in, out int) { return 4, 2 }

func (k globalAvgPoolKernel) outShape(x tensor.Shape) (tensor.Shape, error) {
	if x.Dims() != 4 {
		return nil, fmt.Errorf("input must be (N, C, H, W), got shape %v", x)
	}
	for _, d := range x {
		if d <= 0 {
			return nil, fmt.Errorf("empty dimension in input %v", x)
		}
	}
	return tensor.Shape{x[0], x[1]}, nil
}

func (k globalAvgPoolKernel) forward(x, y *tensor.Dense) error {
	if x.Dtype() == tensor.Float32 {
		planeMeans(x.Shape(), dataOf[float32](x), dataOf[float32](y))
	} else {
		planeMeans(x.Shape(), dataOf[float64](x), dataOf[float64](y))
	}
	return nil
}

func (k globalAvgPoolKernel) backward(x, dy, dx *tensor.Dense) error {
	if x.Dtype() == tensor.Float32 {
		spreadMeans(x.Shape(), dataOf[float32](dy), dataOf[float32](dx))
	} else {
		spreadMeans(x.Shape(), dataOf[float64](dy), dataOf[float64](dx))
	}
	return nil
}

// planeMeans writes the mean of each (n, c) plane of x into y, accumulating in float64.
func planeMeans[T float](s tensor.Shape, x, y []T) {
	n, c, plane := channelGeom(s)
	parallelFor(n*c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			var acc float64
			for _, v := range x[pl*plane : (pl+1)*plane] {
				acc += float64(v)
			}
			y[pl] = T(acc / float64(plane))
		}
	})
}

// spreadMeans writes dy[n, c]/(H·W) into every cell of the (n, c) plane of dx.
func spreadMeans[T float](s tensor.Shape, dy, dx []T) {
	n, c, plane := channelGeom(s)
	parallelFor(n*c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			share := dy[pl] / T(plane)
			dst := dx[pl*plane : (pl+1)*plane]
			for i := range dst {
				dst[i] = share
			}
		}
	})
}
