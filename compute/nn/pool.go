package nn

import (
	"fmt"
	"hash"
	"unsafe"

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
	op := &maxPool2DOp{poolParams: poolParams{kh: kh, kw: kw, sh: sh, sw: sw, pad: pad}}
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
	h0, h1 = g.rows(oh)
	w0, w1 = g.cols(ow)
	return h0, h1, w0, w1
}

// rows returns the input rows [h0, h1) of output row oh, clipped to the unpadded input.
func (g *poolGeom) rows(oh int) (h0, h1 int) {
	h0 = oh*g.sh - g.pad.Top
	return max(h0, 0), min(h0+g.kh, g.h)
}

// cols returns the input columns [w0, w1) of output column ow, clipped to the unpadded input.
func (g *poolGeom) cols(ow int) (w0, w1 int) {
	w0 = ow*g.sw - g.pad.Left
	return max(w0, 0), min(w0+g.kw, g.w)
}

// maxPoolForward pools every (n, c) plane of x into y, planes split over goroutines. Each
// window's maximum is its first cell replaced by every later cell (in row-major order) that is
// strictly greater, so the value is that of the cell the backward pass routes to.
func maxPoolForward[T float](g *poolGeom, x, y []T, scratch *[]int32) {
	if x32, ok := any(x).([]float32); ok && maxPoolF32(g, x32, any(y).([]float32), nil, scratch) {
		return
	}
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(g.n*g.c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			maxPoolPlane(g, x[pl*in:(pl+1)*in], y[pl*out:(pl+1)*out])
		}
	})
}

// maxPoolPlane pools one plane. The 2x2 windows at stride 2 of VGG and the MNIST recipe take a
// loop of their own where the window lies wholly inside the plane.
func maxPoolPlane[T float](g *poolGeom, plane, dst []T) {
	for oh := 0; oh < g.oh; oh++ {
		h0, h1 := g.rows(oh)
		out := dst[oh*g.ow : (oh+1)*g.ow]
		if g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pad.Left == 0 && h1-h0 == 2 {
			r0, r1 := plane[h0*g.w:(h0+1)*g.w], plane[(h0+1)*g.w:(h0+2)*g.w]
			full := min(g.ow, g.w/2)
			for ow := 0; ow < full; ow++ {
				m := r0[2*ow]
				if v := r0[2*ow+1]; v > m {
					m = v
				}
				if v := r1[2*ow]; v > m {
					m = v
				}
				if v := r1[2*ow+1]; v > m {
					m = v
				}
				out[ow] = m
			}
			for ow := full; ow < g.ow; ow++ {
				out[ow] = windowMax(g, plane, h0, h1, ow)
			}
			continue
		}
		for ow := range out {
			out[ow] = windowMax(g, plane, h0, h1, ow)
		}
	}
}

// windowMax returns the maximum of the window of output column ow over the rows [h0, h1).
func windowMax[T float](g *poolGeom, plane []T, h0, h1, ow int) T {
	w0, w1 := g.cols(ow)
	m := plane[h0*g.w+w0]
	for ih := h0; ih < h1; ih++ {
		for _, v := range plane[ih*g.w+w0 : ih*g.w+w1] {
			if v > m {
				m = v
			}
		}
	}
	return m
}

// argmax returns the index in plane of the first maximum of the window of output column ow
// over the rows [h0, h1).
func argmax[T float](g *poolGeom, plane []T, h0, h1, ow int) int {
	w0, w1 := g.cols(ow)
	best := h0*g.w + w0
	bv := plane[best]
	for ih := h0; ih < h1; ih++ {
		off := ih * g.w
		for iw, v := range plane[off+w0 : off+w1] {
			if v > bv {
				bv, best = v, off+w0+iw
			}
		}
	}
	return best
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
				h0, h1 := g.rows(oh)
				gr := grad[oh*g.ow : (oh+1)*g.ow]
				from := 0
				if g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pad.Left == 0 && h1-h0 == 2 {
					from = min(g.ow, g.w/2)
					route2x2(plane[h0*g.w:(h0+2)*g.w], dst[h0*g.w:(h0+2)*g.w], gr[:from], g.w)
				}
				for ow := from; ow < len(gr); ow++ {
					dst[argmax(g, plane, h0, h1, ow)] += gr[ow]
				}
			}
		}
	})
}

// maxPoolForwardMask is maxPoolForward that also writes into mask, for each output, the index
// in its plane of the input cell it copied (the first maximum of its window).
func maxPoolForwardMask[T float](g *poolGeom, x, y []T, mask []int32, scratch *[]int32) {
	if x32, ok := any(x).([]float32); ok && maxPoolF32(g, x32, any(y).([]float32), mask, scratch) {
		return
	}
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(g.n*g.c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			plane := x[pl*in : (pl+1)*in]
			dst, mk := y[pl*out:(pl+1)*out], mask[pl*out:(pl+1)*out]
			for oh := 0; oh < g.oh; oh++ {
				h0, h1 := g.rows(oh)
				o, m := dst[oh*g.ow:(oh+1)*g.ow], mk[oh*g.ow:(oh+1)*g.ow]
				lo, hi := 0, 0
				switch {
				case g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pad.Left == 0 && h1-h0 == 2:
					hi = min(g.ow, g.w/2)
					argmax2x2(plane, h0, g.w, o[:hi], m[:hi])
				case h1-h0 == g.kh:
					lo, hi = g.interior()
					argmaxInterior(g, plane, h0, o, m, lo, hi)
				}
				for ow := 0; ow < lo; ow++ {
					i := argmax(g, plane, h0, h1, ow)
					o[ow], m[ow] = plane[i], int32(i)
				}
				for ow := hi; ow < len(o); ow++ {
					i := argmax(g, plane, h0, h1, ow)
					o[ow], m[ow] = plane[i], int32(i)
				}
			}
		}
	})
}

// interior returns the output columns [lo, hi) whose windows lie wholly inside the input's
// columns (lo = hi when there are none).
func (g *poolGeom) interior() (lo, hi int) {
	lo = min((g.pad.Left+g.sw-1)/g.sw, g.ow) // the first ow with ow·sw - pad.Left >= 0
	hi = 0
	if last := g.w - g.kw + g.pad.Left; last >= 0 {
		hi = min(g.ow, last/g.sw+1) // ow·sw - pad.Left + kw <= w
	}
	return lo, max(lo, hi)
}

// argmaxInterior writes into out and mask, for the output columns [lo, hi) of a row whose
// windows cover the input rows [h0, h0+kh) and lie wholly inside the plane, each window's first
// maximum (row-major) and its index in plane: argmax without the clipping and the call per
// window.
func argmaxInterior[T float](g *poolGeom, plane []T, h0 int, out []T, mask []int32, lo, hi int) {
	for ow := lo; ow < hi; ow++ {
		w0 := ow*g.sw - g.pad.Left
		best := h0*g.w + w0
		bv := plane[best]
		for r := 0; r < g.kh; r++ {
			off := (h0+r)*g.w + w0
			for j, v := range plane[off : off+g.kw] {
				if v > bv {
					bv, best = v, off+j
				}
			}
		}
		out[ow], mask[ow] = bv, int32(best)
	}
}

// argmax2x2 writes the maxima of a row of 2x2 windows at stride 2, wholly inside rows h0 and
// h0+1 of plane (of width w), into out, and their indices in plane into mask.
func argmax2x2[T float](plane []T, h0, w int, out []T, mask []int32) {
	r0, r1 := plane[h0*w:(h0+1)*w], plane[(h0+1)*w:(h0+2)*w]
	for ow := range out {
		i := 2 * ow
		m, at := r0[i], h0*w+i
		if v := r0[i+1]; v > m {
			m, at = v, h0*w+i+1
		}
		if v := r1[i]; v > m {
			m, at = v, (h0+1)*w+i
		}
		if v := r1[i+1]; v > m {
			m, at = v, (h0+1)*w+i+1
		}
		out[ow], mask[ow] = m, int32(at)
	}
}

// maxPoolRoute adds each output gradient in dy to the input cell mask names, into dx.
func maxPoolRoute[T float](g *poolGeom, mask []int32, dy, dx []T) {
	in, out := g.h*g.w, g.oh*g.ow
	parallelFor(g.n*g.c, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			dst := dx[pl*in : (pl+1)*in]
			clear(dst)
			grad, mk := dy[pl*out:(pl+1)*out], mask[pl*out:(pl+1)*out]
			for o, d := range grad {
				dst[mk[o]] += d
			}
		}
	})
}

// route2x2 routes the gradients gr of a row of 2x2 windows at stride 2, wholly inside the two
// input rows x (of width w, as are the rows of dx), each to the first maximum of its window.
// The windows do not overlap, so each input cell receives at most one gradient.
func route2x2[T float](x, dx, gr []T, w int) {
	r0, r1 := x[:w], x[w:2*w]
	d0, d1 := dx[:w], dx[w:2*w]
	for ow, d := range gr {
		i := 2 * ow
		m, row, col := r0[i], 0, i
		if v := r0[i+1]; v > m {
			m, col = v, i+1
		}
		if v := r1[i]; v > m {
			m, row, col = v, 1, i
		}
		if v := r1[i+1]; v > m {
			row, col = 1, i+1
		}
		if row == 0 {
			d0[col] = d
		} else {
			d1[col] = d
		}
	}
}

// maxPool2DOp is max pooling: x → y. Once differentiated (SymDiff), it also records, on each
// run, where each window's maximum lies (mask), so that its backward op routes the gradient
// without searching the windows again.
type maxPool2DOp struct {
	poolParams
	outCache
	placeSlot
	record bool
	mask   poolMask
}

// poolMask is the index, within its plane, of the input cell each output of a max-pooling
// copied, and the input it was computed on (the address and length of its data).
type poolMask struct {
	idx []int32
	x   unsafe.Pointer
	n   int
	// scratch is the float32 kernel's work space (maxPoolF32), kept across runs.
	scratch []int32
}

// valid reports whether the mask was computed on the float data x.
func (m *poolMask) valid(x *tensor.Dense) bool {
	return m.x != nil && m.x == dataPointer(x) && m.n == x.Shape().TotalSize()
}

// dataPointer returns the address of x's first element.
func dataPointer(x *tensor.Dense) unsafe.Pointer {
	if x.Dtype() == tensor.Float32 {
		return unsafe.Pointer(unsafe.SliceData(dataOf[float32](x)))
	}
	return unsafe.Pointer(unsafe.SliceData(dataOf[float64](x)))
}

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
	y, err := op.result("MaxPool2D", prealloc, x.Dtype(), g.outShape())
	if err != nil {
		return nil, err
	}
	if op.pl.on(x) {
		op.mask.x = nil // no mask on the host: the gradient is the accelerator's too
		if err := op.pl.maxPoolOn(&g, x, y); err != nil {
			return nil, op.pl.fail("MaxPool2D", err)
		}
		return y, nil
	}
	if !op.record {
		if x.Dtype() == tensor.Float32 {
			maxPoolForward(&g, dataOf[float32](x), dataOf[float32](y), &op.mask.scratch)
		} else {
			maxPoolForward(&g, dataOf[float64](x), dataOf[float64](y), nil)
		}
		return y, nil
	}
	n := g.outShape().TotalSize()
	if cap(op.mask.idx) < n {
		op.mask.idx = make([]int32, n)
	}
	op.mask.idx = op.mask.idx[:n]
	if x.Dtype() == tensor.Float32 {
		maxPoolForwardMask(&g, dataOf[float32](x), dataOf[float32](y), op.mask.idx, &op.mask.scratch)
	} else {
		maxPoolForwardMask(&g, dataOf[float64](x), dataOf[float64](y), op.mask.idx, nil)
	}
	op.mask.x, op.mask.n = dataPointer(x), x.Shape().TotalSize()
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
	// The backward op reads the mask this op records, so it also takes this op's output: the
	// edge makes every machine run this op first.
	op.record = true
	dx, err := gorgonia.ApplyOp(&maxPool2DBackOp{poolParams: op.poolParams, fwd: op}, inputs[0], grad, output)
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
		dx, err := (&maxPool2DBackOp{poolParams: op.poolParams}).Do(vals[0], dy)
		if err != nil {
			return nil, err
		}
		return []gorgonia.Value{dx}, nil
	})
}

// maxPool2DBackOp is the gradient of max pooling: (x, dy) → dx, or, built by the forward op's
// SymDiff, (x, dy, y) → dx, where y (the forward op's output, otherwise unread) orders the
// forward op first. With a forward op (fwd) whose mask was recorded on this x, it routes each
// gradient along the mask; otherwise it finds each window's maximum again.
type maxPool2DBackOp struct {
	poolParams
	outCache
	placeSlot
	fwd *maxPool2DOp
}

var _ gorgonia.UsePreallocDoer = (*maxPool2DBackOp)(nil)

// Arity is 2: input and output gradient; 3 with the forward op's output.
func (op *maxPool2DBackOp) Arity() int {
	if op.fwd != nil {
		return 3
	}
	return 2
}

// Type is Tensor-4 a → Tensor-4 a → Tensor-4 a, with one more Tensor-4 a input with a forward op.
func (op *maxPool2DBackOp) Type() hm.Type {
	t := tensorType(4)
	if op.fwd != nil {
		return hm.NewFnType(t, t, t, t)
	}
	return hm.NewFnType(t, t, t)
}

// InferShape returns the shape of x.
func (op *maxPool2DBackOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("MaxPool2DBack", op.Arity(), inputs)
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
	in, err := denseInputs("MaxPool2DBack", op.Arity(), inputs)
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
	dx, err := op.result("MaxPool2DBack", prealloc, x.Dtype(), x.Shape())
	if err != nil {
		return nil, err
	}
	if op.pl.on(x) {
		if err := op.pl.maxPoolBackOn(&g, x, dy, in[2], dx); err != nil {
			return nil, op.pl.fail("MaxPool2DBack", err)
		}
		return dx, nil
	}
	switch {
	case op.fwd != nil && op.fwd.mask.valid(x) && len(op.fwd.mask.idx) == dy.Shape().TotalSize():
		if x.Dtype() == tensor.Float32 {
			maxPoolRoute(&g, op.fwd.mask.idx, dataOf[float32](dy), dataOf[float32](dx))
		} else {
			maxPoolRoute(&g, op.fwd.mask.idx, dataOf[float64](dy), dataOf[float64](dx))
		}
	case x.Dtype() == tensor.Float32:
		maxPoolBackward(&g, dataOf[float32](x), dataOf[float32](dy), dataOf[float32](dx))
	default:
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
func (op *maxPool2DBackOp) String() string {
	if op.fwd != nil {
		return op.describe("MaxPool2DBackMask")
	}
	return op.describe("MaxPool2DBack")
}
