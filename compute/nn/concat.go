package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConcatChannels joins tensors (N,C_i,H,W) along the channel axis into (N,ΣC_i,H,W), as an
// inception block joins its branches. The gradient of each input is its own channels of the
// output gradient.
//
// More generally the inputs may be (N, C_i, ...) of any one rank of at least 2, agreeing on
// every axis but axis 1, all float32 or all float64. Stock gorgonia.Concat(1, ...) computes the
// right values but differentiates through Slice, whose hash keeps one byte per index: when two
// inputs' channel ranges agree mod 256 (two inputs of 256 channels, say) their gradients are
// merged into one and one of them is wrong. Use this instead.
func ConcatChannels(xs ...*gorgonia.Node) (*gorgonia.Node, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("nn: ConcatChannels: no inputs")
	}
	if err := checkNodes(xs...); err != nil {
		return nil, fmt.Errorf("nn: ConcatChannels: %w", err)
	}
	op := &concatChannelsOp{dims: xs[0].Dims(), n: len(xs)}
	shapes := make([]tensor.Shape, len(xs))
	for i, x := range xs {
		shapes[i] = x.Shape()
	}
	if _, err := op.outShape(shapes); err != nil {
		return nil, fmt.Errorf("nn: ConcatChannels: %w", err)
	}
	y, err := gorgonia.ApplyOp(op, xs...)
	if err != nil {
		return nil, fmt.Errorf("nn: ConcatChannels: %w", err)
	}
	return y, nil
}

// concatChannelsOp joins n tensors of rank dims along axis 1: (x_0, ..., x_n-1) → y.
type concatChannelsOp struct {
	dims, n int
	outCache
	placeSlot
}

var (
	_ gorgonia.SDOp            = (*concatChannelsOp)(nil)
	_ gorgonia.ADOp            = (*concatChannelsOp)(nil)
	_ gorgonia.UsePreallocDoer = (*concatChannelsOp)(nil)
)

// outShape checks the inputs' shapes and returns the output's.
func (op *concatChannelsOp) outShape(ss []tensor.Shape) (tensor.Shape, error) {
	if len(ss) != op.n {
		return nil, fmt.Errorf("expected %d inputs, got %d", op.n, len(ss))
	}
	if op.dims < 2 {
		return nil, fmt.Errorf("inputs must be (N, C, ...) of rank 2 or more, got rank %d", op.dims)
	}
	out := ss[0].Clone()
	out[1] = 0
	for i, s := range ss {
		if s.Dims() != op.dims {
			return nil, fmt.Errorf("input %d has shape %v; want rank %d", i, s, op.dims)
		}
		for a, d := range s {
			if d <= 0 {
				return nil, fmt.Errorf("input %d has an empty dimension: %v", i, s)
			}
			if a != 1 && d != ss[0][a] {
				return nil, fmt.Errorf("input %d has shape %v but input 0 has %v: only axis 1 may differ", i, s, ss[0])
			}
		}
		out[1] += s[1]
	}
	return out, nil
}

// Arity is the number of inputs.
func (op *concatChannelsOp) Arity() int { return op.n }

// Type is Tensor-d a → ... → Tensor-d a, with n inputs.
func (op *concatChannelsOp) Type() hm.Type {
	t := tensorType(op.dims)
	ts := make([]hm.Type, op.n+1)
	for i := range ts {
		ts[i] = t
	}
	return hm.NewFnType(ts...)
}

// InferShape returns (N, ΣC_i, ...).
func (op *concatChannelsOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("ConcatChannels", op.n, inputs)
	if err != nil {
		return nil, err
	}
	s, err := op.outShape(ss)
	if err != nil {
		return nil, fmt.Errorf("nn: ConcatChannels: %w", err)
	}
	return s, nil
}

// Do joins the inputs.
func (op *concatChannelsOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo joins the inputs into prealloc.
func (op *concatChannelsOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *concatChannelsOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	xs, err := denseInputs("ConcatChannels", op.n, inputs)
	if err != nil {
		return nil, err
	}
	ss := make([]tensor.Shape, len(xs))
	for i, x := range xs {
		ss[i] = x.Shape()
	}
	s, err := op.outShape(ss)
	if err != nil {
		return nil, fmt.Errorf("nn: ConcatChannels: %w", err)
	}
	y, err := op.result("ConcatChannels", prealloc, xs[0].Dtype(), s)
	if err != nil {
		return nil, err
	}
	if op.pl.on(xs[0]) {
		if err := op.pl.concatOn(xs, y); err != nil {
			return nil, op.pl.fail("ConcatChannels", err)
		}
		return y, nil
	}
	lo := 0
	for _, x := range xs {
		hi := lo + x.Shape()[1]
		if y.Dtype() == tensor.Float32 {
			copyChannels(s, lo, hi, dataOf[float32](y), dataOf[float32](x), true)
		} else {
			copyChannels(s, lo, hi, dataOf[float64](y), dataOf[float64](x), true)
		}
		lo = hi
	}
	return y, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *concatChannelsOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *concatChannelsOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *concatChannelsOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and its parameters.
func (op *concatChannelsOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and its parameters.
func (op *concatChannelsOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op.
func (op *concatChannelsOp) String() string {
	return fmt.Sprintf("nn.ConcatChannels{inputs: %d, rank: %d}", op.n, op.dims)
}

// DiffWRT is true for every input.
func (op *concatChannelsOp) DiffWRT(inputs int) []bool {
	d := make([]bool, inputs)
	for i := range d {
		d[i] = true
	}
	return d
}

// slices returns, for each input, the kernel that cuts its channels out of the output.
func (op *concatChannelsOp) slices(channels []int) []channelSliceKernel {
	ks := make([]channelSliceKernel, len(channels))
	lo := 0
	for i, c := range channels {
		ks[i] = channelSliceKernel{lo: lo, hi: lo + c, dims: op.dims, name: "ConcatChannelsGrad"}
		lo += c
	}
	return ks
}

// SymDiff returns, for each input, its channels of grad.
func (op *concatChannelsOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != op.n {
		return nil, fmt.Errorf("nn: ConcatChannels: SymDiff: expected %d inputs, got %d", op.n, len(inputs))
	}
	channels := make([]int, len(inputs))
	for i, x := range inputs {
		channels[i] = x.Shape()[1]
	}
	dxs := make(gorgonia.Nodes, len(inputs))
	for i, k := range op.slices(channels) {
		dx, err := gorgonia.ApplyOp(&unaryOp{k: k}, grad)
		if err != nil {
			return nil, fmt.Errorf("nn: ConcatChannels: SymDiff: input %d: %w", i, err)
		}
		dxs[i] = dx
	}
	return dxs, nil
}

// DoDiff adds each input's channels of the output gradient into its derivative
// (gorgonia.LispMachine).
func (op *concatChannelsOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	return doDiff("ConcatChannels", inputs, output, func(vals []gorgonia.Value, dy gorgonia.Value) ([]gorgonia.Value, error) {
		if len(vals) != op.n {
			return nil, fmt.Errorf("expected %d inputs, got %d", op.n, len(vals))
		}
		channels := make([]int, len(inputs))
		for i, x := range inputs {
			channels[i] = x.Shape()[1]
		}
		gs := make([]gorgonia.Value, len(vals))
		for i, k := range op.slices(channels) {
			g, err := (&unaryOp{k: k}).Do(dy)
			if err != nil {
				return nil, err
			}
			gs[i] = g
		}
		return gs, nil
	})
}
