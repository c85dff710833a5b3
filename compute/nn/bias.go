package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AddBias adds a per-channel bias b (C) to x (N,C,H,W) (or to x (N,C) for dense layers), with its gradient to both.
//
// More generally x may be (N, C, ...) of any rank of at least 2; axis 1 is the channel axis.
// The gradient to x is the output gradient itself; the gradient to b sums it over every axis
// but the channel axis.
func AddBias(x, b *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkNodes(x, b); err != nil {
		return nil, fmt.Errorf("nn: AddBias: %w", err)
	}
	op := &addBiasOp{dims: x.Dims()}
	if err := op.check(x.Shape(), b.Shape()); err != nil {
		return nil, fmt.Errorf("nn: AddBias: %w", err)
	}
	y, err := gorgonia.ApplyOp(op, x, b)
	if err != nil {
		return nil, fmt.Errorf("nn: AddBias: %w", err)
	}
	return y, nil
}

// channelGeom returns the batch size, channel count and per-channel plane size of a tensor
// of shape (N, C, ...).
func channelGeom(s tensor.Shape) (n, c, plane int) {
	plane = 1
	for _, d := range s[2:] {
		plane *= d
	}
	return s[0], s[1], plane
}

// addBiasOp adds a per-channel bias: (x, b) → y. dims is the rank of x.
type addBiasOp struct {
	dims int
	outCache
	placeSlot
}

var (
	_ gorgonia.SDOp            = (*addBiasOp)(nil)
	_ gorgonia.ADOp            = (*addBiasOp)(nil)
	_ gorgonia.UsePreallocDoer = (*addBiasOp)(nil)
)

// check checks the shapes of x and b.
func (op *addBiasOp) check(x, b tensor.Shape) error {
	if op.dims < 2 || x.Dims() != op.dims {
		return fmt.Errorf("input must be (N, C, ...) of rank %d, got shape %v", max(op.dims, 2), x)
	}
	if b.Dims() != 1 || b[0] != x[1] {
		return fmt.Errorf("bias must be a vector of the %d channels of input %v, got shape %v", x[1], x, b)
	}
	return nil
}

// Arity is 2: input and bias.
func (op *addBiasOp) Arity() int { return 2 }

// Type is Tensor-d a → Vector a → Tensor-d a.
func (op *addBiasOp) Type() hm.Type {
	t := tensorType(op.dims)
	return hm.NewFnType(t, tensorType(1), t)
}

// InferShape returns the shape of x.
func (op *addBiasOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("AddBias", 2, inputs)
	if err != nil {
		return nil, err
	}
	if err := op.check(ss[0], ss[1]); err != nil {
		return nil, fmt.Errorf("nn: AddBias: %w", err)
	}
	return ss[0].Clone(), nil
}

// Do adds the bias.
func (op *addBiasOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo adds the bias into prealloc.
func (op *addBiasOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *addBiasOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("AddBias", 2, inputs)
	if err != nil {
		return nil, err
	}
	x, b := in[0], in[1]
	if err := op.check(x.Shape(), b.Shape()); err != nil {
		return nil, fmt.Errorf("nn: AddBias: %w", err)
	}
	y, err := op.result("AddBias", prealloc, x.Dtype(), x.Shape())
	if err != nil {
		return nil, err
	}
	if op.pl.on(x) {
		if err := op.pl.biasOn(x, b, y); err != nil {
			return nil, op.pl.fail("AddBias", err)
		}
		return y, nil
	}
	if x.Dtype() == tensor.Float32 {
		addBias(x.Shape(), dataOf[float32](x), dataOf[float32](b), dataOf[float32](y))
	} else {
		addBias(x.Shape(), dataOf[float64](x), dataOf[float64](b), dataOf[float64](y))
	}
	return y, nil
}

// addBias writes y = x + b broadcast along the channel axis.
func addBias[T float](s tensor.Shape, x, b, y []T) {
	n, c, plane := channelGeom(s)
	parallelFor(n*c, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			bias := b[i%c]
			src, dst := x[i*plane:(i+1)*plane], y[i*plane:(i+1)*plane]
			for j, v := range src {
				dst[j] = v + bias
			}
		}
	})
}

// ReturnsPtr is false: the output is a new tensor.
func (op *addBiasOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *addBiasOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *addBiasOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and its parameter.
func (op *addBiasOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and its parameter.
func (op *addBiasOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op.
func (op *addBiasOp) String() string { return fmt.Sprintf("nn.AddBias{dims: %d}", op.dims) }

// DiffWRT is true for both the input and the bias.
func (op *addBiasOp) DiffWRT(inputs int) []bool { return []bool{true, true} }

// SymDiff returns grad itself for x and its per-channel sum for b.
func (op *addBiasOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("nn: AddBias: SymDiff: expected 2 inputs, got %d", len(inputs))
	}
	db, err := gorgonia.ApplyOp(&biasGradOp{dims: op.dims}, grad)
	if err != nil {
		return nil, fmt.Errorf("nn: AddBias: SymDiff: %w", err)
	}
	return gorgonia.Nodes{grad, db}, nil
}

// DoDiff adds the gradients for x and b into their derivatives (gorgonia.LispMachine).
func (op *addBiasOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	return doDiff("AddBias", inputs, output, func(vals []gorgonia.Value, dy gorgonia.Value) ([]gorgonia.Value, error) {
		db, err := (&biasGradOp{dims: op.dims}).Do(dy)
		if err != nil {
			return nil, err
		}
		return []gorgonia.Value{dy, db}, nil
	})
}

// biasGradOp sums an output gradient (N, C, ...) over all axes but the channel axis: dy → db.
type biasGradOp struct {
	dims int
	outCache
	placeSlot
}

var _ gorgonia.UsePreallocDoer = (*biasGradOp)(nil)

// Arity is 1: the output gradient.
func (op *biasGradOp) Arity() int { return 1 }

// Type is Tensor-d a → Vector a.
func (op *biasGradOp) Type() hm.Type { return hm.NewFnType(tensorType(op.dims), tensorType(1)) }

// InferShape returns (C).
func (op *biasGradOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("AddBiasGrad", 1, inputs)
	if err != nil {
		return nil, err
	}
	if ss[0].Dims() != op.dims || op.dims < 2 {
		return nil, fmt.Errorf("nn: AddBiasGrad: gradient must be (N, C, ...) of rank %d, got %v", op.dims, ss[0])
	}
	return tensor.Shape{ss[0][1]}, nil
}

// Do sums the gradient per channel.
func (op *biasGradOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo sums the gradient per channel into prealloc.
func (op *biasGradOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *biasGradOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("AddBiasGrad", 1, inputs)
	if err != nil {
		return nil, err
	}
	dy := in[0]
	if dy.Dims() != op.dims || op.dims < 2 {
		return nil, fmt.Errorf("nn: AddBiasGrad: gradient must be (N, C, ...) of rank %d, got %v", op.dims, dy.Shape())
	}
	db, err := op.result("AddBiasGrad", prealloc, dy.Dtype(), tensor.Shape{dy.Shape()[1]})
	if err != nil {
		return nil, err
	}
	if op.pl.on(dy) {
		if err := op.pl.biasGradOn(dy, db); err != nil {
			return nil, op.pl.fail("AddBiasGrad", err)
		}
		return db, nil
	}
	if dy.Dtype() == tensor.Float32 {
		sumPerChannel(dy.Shape(), dataOf[float32](dy), dataOf[float32](db))
	} else {
		sumPerChannel(dy.Shape(), dataOf[float64](dy), dataOf[float64](db))
	}
	return db, nil
}

// sumPerChannel writes db[c] = Σ over n and the plane of dy[n, c, ...], accumulating in float64
// in four independent sums (one dependent addition after another would wait on the adder's
// latency at every element).
func sumPerChannel[T float](s tensor.Shape, dy, db []T) {
	n, c, plane := channelGeom(s)
	parallelFor(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var a0, a1, a2, a3 float64
			for i := 0; i < n; i++ {
				off := (i*c + ch) * plane
				v := dy[off : off+plane]
				j := 0
				for ; j+4 <= len(v); j += 4 {
					a0 += float64(v[j])
					a1 += float64(v[j+1])
					a2 += float64(v[j+2])
					a3 += float64(v[j+3])
				}
				for ; j < len(v); j++ {
					a0 += float64(v[j])
				}
			}
			db[ch] = T((a0 + a1) + (a2 + a3))
		}
	})
}

// ReturnsPtr is false: the output is a new tensor.
func (op *biasGradOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *biasGradOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *biasGradOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and its parameter.
func (op *biasGradOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and its parameter.
func (op *biasGradOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op.
func (op *biasGradOp) String() string { return fmt.Sprintf("nn.AddBiasGrad{dims: %d}", op.dims) }
