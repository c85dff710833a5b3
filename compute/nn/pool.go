package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2D: kernel kh x kw, strides, padding (padded cells never win; TF SAME semantics).
//
// x is (N,C,H,W); the output is (N,C,OH,OW) with OH = (H + pad.Top + pad.Bottom - kh)/sh + 1,
// and likewise OW. Each side's padding must be smaller than the kernel, so that every window
// holds at least one real cell (Same always satisfies this). The gradient goes to the first
// maximum of each window, in row-major order.
func MaxPool2D(x *gorgonia.Node, kh, kw, sh, sw int, pad Padding) (*gorgonia.Node, error) {
	if err := checkNodes(x); err != nil {
		return nil, fmt.Errorf("nn: MaxPool2D: %w", err)
	}
	op := &maxPool2DOp{poolParams{kh: kh, kw: kw, sh: sh, sw: sw, pad: pad}}
	if _, err := op.geom(x.Shape()); err != nil {
		return nil, fmt.Errorf("nn: MaxPool2D: %w", err)
	}
	y, err := gorgonia.ApplyOp(op, x)
	if err != nil {
		return nil, fmt.Errorf("nn: MaxPool2D: %w", err)
	}
	return y, nil
}

// poolParams are the parameters shared by max pooling and its backward op.
type poolParams struct {
	kh, kw, sh, sw int
	pad            Padding
}

// poolGeom is the geometry of one pooling: input (n, c, h, w), output (n, c, oh, ow).
type poolGeom struct {
	poolParams
	n, c, h, w, oh, ow int
}

// describe names an op of the pooling family with all its parameters.
func (p poolParams) describe(name string) string {
	return fmt.Sprintf("nn.%s{kernel: (%d, %d), stride: (%d, %d), pad: %v}", name, p.kh, p.kw, p.sh, p.sw, p.pad)
}

// geom checks an input shape against p.
func (p poolParams) geom(x tensor.Shape) (poolGeom, error) {
	if x.Dims() != 4 {
		return poolGeom{}, fmt.Errorf("input must be (N, C, H, W), got shape %v", x)
	}
	for _, d := range x {
		if d <= 0 {
			return poolGeom{}, fmt.Errorf("empty dimension in input %v", x)
		}
	}
	if p.kh <= 0 || p.kw <= 0 || p.sh <= 0 || p.sw <= 0 {
		return poolGeom{}, fmt.Errorf("kernel (%d, %d) and strides (%d, %d) must be positive", p.kh, p.kw, p.sh, p.sw)
	}
	if err := p.pad.check(); err != nil {
		return poolGeom{}, err
	}
	if p.pad.Top >= p.kh || p.pad.Bottom >= p.kh || p.pad.Left >= p.kw || p.pad.Right >= p.kw {
		return poolGeom{}, fmt.Errorf("padding %v must be smaller than the kernel %dx%d", p.pad, p.kh, p.kw)
	}
	g := poolGeom{poolParams: p, n: x[0], c: x[1], h: x[2], w: x[3]}
	g.oh = outSize(g.h, p.pad.Top, p.pad.Bottom, p.kh, p.sh)
	g.ow = outSize(g.w, p.pad.Left, p.pad.Right, p.kw, p.sw)
	if g.oh <= 0 || g.ow <= 0 {
		return poolGeom{}, fmt.Errorf("kernel %dx%d does not fit input %dx%d padded by %v", p.kh, p.kw, g.h, g.w, p.pad)
	}
	return g, nil
}

// outShape is the shape of the pooling's output.
func (g *poolGeom) outShape() tensor.Shape { return tensor.Shape{g.n, g.c, g.oh, g.ow} }

// window returns the rows [h0, h1) and columns [w0, w1) of the input that output cell
// (oh, ow) pools, clipped to the unpadded input.
func (g *poolGeom) window(oh, ow int) (h0, h1, w0, w1 int) {
	h0 = oh*g.sh - g.pad.Top
	w0 = ow*g.sw - g.pad.Left
	h1 = min(h0+g.kh, g.h)
	w1 = min(w0+g.kw, g.w)
	return max(h0, 0), h1, max(w0, 0), w1
}

// argmax returns the index in plane of the first maximum of the window of (oh, ow).
func argmax[T float](g *poolGeom, plane []T, oh, ow int) int {
	h0, h1, w0, w1 := g.window(oh, ow)
	best := h0*g.w + w0
	bv := plane[best]
	for ih := h0; ih < h1; ih++ {
		row := plane[ih*g.w : ih*g.w+w1]
		for iw := w0; iw < w1; iw++ {
			if row[iw] > bv {
				bv, best = row[iw], ih*g.w+iw
			}
		}
	}
	return best
}

// maxPoolForward pools every (n, c) plane of x into y, planes split over goroutines.
func maxPoolForward[T float](g *poolGeom, x, y []T) {
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(g.n*g.c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			plane := x[pl*in : (pl+1)*in]
			dst := y[pl*out : (pl+1)*out]
			for oh := 0; oh < g.oh; oh++ {
				for ow := 0; ow < g.ow; ow++ {
					dst[oh*g.ow+ow] = plane[argmax(g, plane, oh, ow)]
				}
			}
		}
	})
}

// maxPoolBackward routes each output gradient in dy to the first maximum of its window in x,
// summing where windows overlap, into dx.
func maxPoolBackward[T float](g *poolGeom, x, dy, dx []T) {
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(g.n*g.c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			plane := x[pl*in : (pl+1)*in]
			grad := dy[pl*out : (pl+1)*out]
			dst := dx[pl*in : (pl+1)*in]
			clear(dst)
			for oh := 0; oh < g.oh; oh++ {
				for ow := 0; ow < g.ow; ow++ {
					dst[argmax(g, plane, oh, ow)] += grad[oh*g.ow+ow]
				}
			}
		}
	})
}

// maxPool2DOp is max pooling: x → y.
type maxPool2DOp struct{ poolParams }

var (
	_ gorgonia.SDOp            = (*maxPool2DOp)(nil)
	_ gorgonia.ADOp            = (*maxPool2DOp)(nil)
	_ gorgonia.UsePreallocDoer = (*maxPool2DOp)(nil)
)

// Arity is 1.
func (op *maxPool2DOp) Arity() int { return 1 }

// Type is Tensor-4 a → Tensor-4 a.
func (op *maxPool2DOp) Type() hm.Type {
	t := tensorType(4)
	return hm.NewFnType(t, t)
}

// InferShape returns (N, C, OH, OW).
func (op *maxPool2DOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("MaxPool2D", 1, inputs)
	if err != nil {
		return nil, err
	}
	g, err := op.geom(ss[0])
	if err != nil {
		return nil, fmt.Errorf("nn: MaxPool2D: %w", err)
	}
	return g.outShape(), nil
}

// Do pools.
func (op *maxPool2DOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo pools into prealloc.
func (op *maxPool2DOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *maxPool2DOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("MaxPool2D", 1, inputs)
	if err != nil {
		return nil, err
	}
	x := in[0]
	g, err := op.geom(x.Shape())
	if err != nil {
		return nil, fmt.Errorf("nn: MaxPool2D: %w", err)
	}
	y, err := result("MaxPool2D", prealloc, x.Dtype(), g.outShape())
	if err != nil {
		return nil, err
	}
	if x.Dtype() == tensor.Float32 {
		maxPoolForward(&g, dataOf[float32](x), dataOf[float32](y))
	} else {
		maxPoolForward(&g, dataOf[float64](x), dataOf[float64](y))
	}
	return y, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *maxPool2DOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *maxPool2DOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *maxPool2DOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and all its parameters.
func (op *maxPool2DOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and all its parameters.
func (op *maxPool2DOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op and its parameters.
func (op *maxPool2DOp) String() string { return op.describe("MaxPool2D") }

// DiffWRT is true for the input.
func (op *maxPool2DOp) DiffWRT(inputs int) []bool { return []bool{true} }

// SymDiff returns the gradient node for x, computed from (x, grad).
func (op *maxPool2DOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("nn: MaxPool2D: SymDiff: expected 1 input, got %d", len(inputs))
	}
	dx, err := gorgonia.ApplyOp(&maxPool2DBackOp{op.poolParams}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("nn: MaxPool2D: SymDiff: %w", err)
	}
	return gorgonia.Nodes{dx}, nil
}

// DoDiff adds the gradient for x into its derivative (gorgonia.LispMachine).
func (op *maxPool2DOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	return doDiff("MaxPool2D", inputs, output, func(vals []gorgonia.Value, dy gorgonia.Value) ([]gorgonia.Value, error) {
		if len(vals) != 1 {
			return nil, fmt.Errorf("expected 1 input, got %d", len(vals))
		}
		dx, err := (&maxPool2DBackOp{op.poolParams}).Do(vals[0], dy)
		if err != nil {
			return nil, err
		}
		return []gorgonia.Value{dx}, nil
	})
}

// maxPool2DBackOp is the gradient of max pooling: (x, dy) → dx. It finds each window's
// maximum again rather than keeping a mask.
type maxPool2DBackOp struct{ poolParams }

var _ gorgonia.UsePreallocDoer = (*maxPool2DBackOp)(nil)

// Arity is 2: input and output gradient.
func (op *maxPool2DBackOp) Arity() int { return 2 }

// Type is Tensor-4 a → Tensor-4 a → Tensor-4 a.
func (op *maxPool2DBackOp) Type() hm.Type {
	t := tensorType(4)
	return hm.NewFnType(t, t, t)
}

// InferShape returns the shape of x.
func (op *maxPool2DBackOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("MaxPool2DBack", 2, inputs)
	if err != nil {
		return nil, err
	}
	g, err := op.geom(ss[0])
	if err != nil {
		return nil, fmt.Errorf("nn: MaxPool2DBack: %w", err)
	}
	if !ss[1].Eq(g.outShape()) {
		return nil, fmt.Errorf("nn: MaxPool2DBack: output gradient has shape %v, want %v", ss[1], g.outShape())
	}
	return ss[0].Clone(), nil
}

// Do computes the input gradient.
func (op *maxPool2DBackOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo computes the input gradient into prealloc.
func (op *maxPool2DBackOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *maxPool2DBackOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("MaxPool2DBack", 2, inputs)
	if err != nil {
		return nil, err
	}
	x, dy := in[0], in[1]
	g, err := op.geom(x.Shape())
	if err != nil {
		return nil, fmt.Errorf("nn: MaxPool2DBack: %w", err)
	}
	if !dy.Shape().Eq(g.outShape()) {
		return nil, fmt.Errorf("nn: MaxPool2DBack: output gradient has shape %v, want %v", dy.Shape(), g.outShape())
	}
	dx, err := result("MaxPool2DBack", prealloc, x.Dtype(), x.Shape())
	if err != nil {
		return nil, err
	}
	if x.Dtype() == tensor.Float32 {
		maxPoolBackward(&g, dataOf[float32](x), dataOf[float32](dy), dataOf[float32](dx))
	} else {
		maxPoolBackward(&g, dataOf[float64](x), dataOf[float64](dy), dataOf[float64](dx))
	}
	return dx, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *maxPool2DBackOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *maxPool2DBackOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *maxPool2DBackOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and all its parameters.
func (op *maxPool2DBackOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and all its parameters.
func (op *maxPool2DBackOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op and its parameters.
func (op *maxPool2DBackOp) String() string { return op.describe("MaxPool2DBack") }
