package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SquaredError is the scalar scale · Σ (x − target)², summed over every element in float64, or
// scale · Σ x² when target is nil: the content, style and total-variation terms of style
// transfer. Its gradient with respect to x is 2·scale·(x − target); the target is a constant
// (no gradient). Placed on an accelerator (Place), both run there and only the scalar crosses.
func SquaredError(x, target *gorgonia.Node, scale float64) (*gorgonia.Node, error) {
	ins := gorgonia.Nodes{x}
	if target != nil {
		if !target.Shape().Eq(x.Shape()) {
			return nil, fmt.Errorf("nn: SquaredError: target %v does not match %v", target.Shape(), x.Shape())
		}
		ins = append(ins, target)
	}
	if err := checkNodes(ins...); err != nil {
		return nil, fmt.Errorf("nn: SquaredError: %w", err)
	}
	y, err := gorgonia.ApplyOp(&sqErrOp{dims: x.Dims(), target: target != nil, scale: scale}, ins...)
	if err != nil {
		return nil, fmt.Errorf("nn: SquaredError: %w", err)
	}
	return y, nil
}

// sqErrOp is SquaredError: (x[, target]) → scalar.
type sqErrOp struct {
	dims   int
	target bool
	scale  float64
	placeSlot
}

var _ gorgonia.SDOp = (*sqErrOp)(nil)

// Arity is 2 with a target, 1 without.
func (op *sqErrOp) Arity() int {
	if op.target {
		return 2
	}
	return 1
}

// Type is Tensor-n a (→ Tensor-n a) → a.
func (op *sqErrOp) Type() hm.Type {
	t := tensorType(op.dims)
	if op.target {
		return hm.NewFnType(t, t, hm.TypeVariable('a'))
	}
	return hm.NewFnType(t, hm.TypeVariable('a'))
}

// InferShape returns the scalar shape.
func (op *sqErrOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	if _, err := inferShapes("SquaredError", op.Arity(), inputs); err != nil {
		return nil, err
	}
	return tensor.ScalarShape(), nil
}

// Do computes the scalar as a *gorgonia.F32 or *gorgonia.F64.
func (op *sqErrOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("SquaredError", op.Arity(), inputs)
	if err != nil {
		return nil, err
	}
	if op.target && in[1].Shape().TotalSize() != in[0].Shape().TotalSize() {
		return nil, fmt.Errorf("nn: SquaredError: target %v does not match %v", in[1].Shape(), in[0].Shape())
	}
	if op.pl.on(in[0]) {
		v, err := op.pl.sqErrOn(op.scale, in)
		if err != nil {
			return nil, op.pl.fail("SquaredError", err)
		}
		return gorgonia.NewF32(v), nil
	}
	if in[0].Dtype() == tensor.Float32 {
		var t []float32
		if op.target {
			t = dataOf[float32](in[1])
		}
		return gorgonia.NewF32(float32(op.scale * sumSqDiff(dataOf[float32](in[0]), t))), nil
	}
	var t []float64
	if op.target {
		t = dataOf[float64](in[1])
	}
	return gorgonia.NewF64(op.scale * sumSqDiff(dataOf[float64](in[0]), t)), nil
}

// sumSqDiff is Σ (x − t)² (Σ x² for a nil t) in float64, in four independent sums.
func sumSqDiff[T float](x, t []T) float64 {
	var a [4]float64
	i := 0
	if t == nil {
		for ; i+4 <= len(x); i += 4 {
			for k := range 4 {
				v := float64(x[i+k])
				a[k] += v * v
			}
		}
		for ; i < len(x); i++ {
			v := float64(x[i])
			a[0] += v * v
		}
	} else {
		t = t[:len(x)]
		for ; i+4 <= len(x); i += 4 {
			for k := range 4 {
				v := float64(x[i+k]) - float64(t[i+k])
				a[k] += v * v
			}
		}
		for ; i < len(x); i++ {
			v := float64(x[i]) - float64(t[i])
			a[0] += v * v
		}
	}
	return a[0] + a[1] + a[2] + a[3]
}

// ReturnsPtr is false: the output is a new value.
func (op *sqErrOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *sqErrOp) CallsExtern() bool { return false }

// OverwritesInput is -1.
func (op *sqErrOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and its parameters.
func (op *sqErrOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and its parameters.
func (op *sqErrOp) Hashcode() uint32 { return hashString(op.String()) }

// String names the op and its parameters.
func (op *sqErrOp) String() string {
	return fmt.Sprintf("nn.SquaredError{rank: %d, target: %t, scale: %g}", op.dims, op.target, op.scale)
}

// DiffWRT is true for x only.
func (op *sqErrOp) DiffWRT(int) []bool {
	if op.target {
		return []bool{true, false}
	}
	return []bool{true}
}

// SymDiff returns the gradient node for x, computed from (x[, target], grad), and nil for the
// target.
func (op *sqErrOp) SymDiff(inputs gorgonia.Nodes, _, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != op.Arity() {
		return nil, fmt.Errorf("nn: SquaredError: SymDiff: %d inputs, want %d", len(inputs), op.Arity())
	}
	dx, err := gorgonia.ApplyOp(&sqErrBackOp{dims: op.dims, target: op.target, scale: op.scale}, append(inputs[:len(inputs):len(inputs)], grad)...)
	if err != nil {
		return nil, fmt.Errorf("nn: SquaredError: SymDiff: %w", err)
	}
	if op.target {
		return gorgonia.Nodes{dx, nil}, nil
	}
	return gorgonia.Nodes{dx}, nil
}

// sqErrBackOp is SquaredError's gradient: (x[, target], dy) → 2·scale·dy·(x − target).
type sqErrBackOp struct {
	dims   int
	target bool
	scale  float64
	outCache
	placeSlot
}

var _ gorgonia.UsePreallocDoer = (*sqErrBackOp)(nil)

// Arity is 3 with a target, 2 without.
func (op *sqErrBackOp) Arity() int {
	if op.target {
		return 3
	}
	return 2
}

// Type is Tensor-n a (→ Tensor-n a) → a → Tensor-n a.
func (op *sqErrBackOp) Type() hm.Type {
	t := tensorType(op.dims)
	if op.target {
		return hm.NewFnType(t, t, hm.TypeVariable('a'), t)
	}
	return hm.NewFnType(t, hm.TypeVariable('a'), t)
}

// InferShape returns x's shape.
func (op *sqErrBackOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(inputs) != op.Arity() {
		return nil, fmt.Errorf("nn: SquaredErrorBack: expected %d input shapes, got %d", op.Arity(), len(inputs))
	}
	ss, err := inferShapes("SquaredErrorBack", 1, inputs[:1])
	if err != nil {
		return nil, err
	}
	return ss[0].Clone(), nil
}

// Do computes the gradient.
func (op *sqErrBackOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo computes the gradient into prealloc.
func (op *sqErrBackOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *sqErrBackOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != op.Arity() {
		return nil, fmt.Errorf("nn: SquaredErrorBack: expected %d inputs, got %d", op.Arity(), len(inputs))
	}
	n := op.Arity() - 1
	in, err := denseInputs("SquaredErrorBack", n, inputs[:n])
	if err != nil {
		return nil, err
	}
	x := in[0]
	if op.target && in[1].Shape().TotalSize() != x.Shape().TotalSize() {
		return nil, fmt.Errorf("nn: SquaredErrorBack: target %v does not match %v", in[1].Shape(), x.Shape())
	}
	dy, err := scalarOf(inputs[n])
	if err != nil {
		return nil, fmt.Errorf("nn: SquaredErrorBack: output gradient: %w", err)
	}
	dx, err := op.result("SquaredErrorBack", prealloc, x.Dtype(), x.Shape())
	if err != nil {
		return nil, err
	}
	k := 2 * op.scale * dy
	if op.pl.on(x) {
		if err := op.pl.sqErrBackOn(k, in, dx); err != nil {
			return nil, op.pl.fail("SquaredErrorBack", err)
		}
		return dx, nil
	}
	if x.Dtype() == tensor.Float32 {
		var t []float32
		if op.target {
			t = dataOf[float32](in[1])
		}
		scaledDiff(dataOf[float32](x), t, float32(k), dataOf[float32](dx))
	} else {
		var t []float64
		if op.target {
			t = dataOf[float64](in[1])
		}
		scaledDiff(dataOf[float64](x), t, k, dataOf[float64](dx))
	}
	return dx, nil
}

// scaledDiff writes dx = k·(x − t) (k·x for a nil t).
func scaledDiff[T float](x, t []T, k T, dx []T) {
	if t == nil {
		for i, v := range x {
			dx[i] = k * v
		}
		return
	}
	t = t[:len(x)]
	for i, v := range x {
		dx[i] = k * (v - t[i])
	}
}

// ReturnsPtr is false: the output is a new tensor.
func (op *sqErrBackOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *sqErrBackOp) CallsExtern() bool { return false }

// OverwritesInput is -1.
func (op *sqErrBackOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and its parameters.
func (op *sqErrBackOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and its parameters.
func (op *sqErrBackOp) Hashcode() uint32 { return hashString(op.String()) }

// String names the op and its parameters.
func (op *sqErrBackOp) String() string {
	return fmt.Sprintf("nn.SquaredErrorBack{rank: %d, target: %t, scale: %g}", op.dims, op.target, op.scale)
}
