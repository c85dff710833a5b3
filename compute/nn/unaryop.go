package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// unaryKernel is what distinguishes one operation of a single input from another: its
// parameters, shapes and the two loops. unaryOp and unaryBackOp wrap a kernel into the
// Gorgonia forward and backward ops, so every such operation shares one implementation of
// typing, shape inference, preallocation, hashing and differentiation.
//
// A kernel holds parameters only, never state, and is comparable by its description.
type unaryKernel interface {
	// opName is the exported name of the operation, for errors: "AvgPool2D".
	opName() string
	// describe names an op of the kernel's family with all its parameters; the forward op
	// uses opName(), the backward op opName()+"Back".
	describe(name string) string
	// ranks are the ranks of the input and of the output.
	ranks() (in, out int)
	// outShape checks an input shape and returns the output's.
	outShape(x tensor.Shape) (tensor.Shape, error)
	// forward writes every element of y from x; both share one dtype and have been checked
	// against outShape.
	forward(x, y *tensor.Dense) error
	// backward adds the gradient for x, given x and the output gradient dy, into dx, which
	// arrives zeroed.
	backward(x, dy, dx *tensor.Dense) error
}

// gradWriter is a unaryKernel whose backward writes every element of dx rather than adding
// into it, so dx need not be zeroed first (one pass over it fewer).
type gradWriter interface {
	writesGrad()
}

// inPlaceGrad is a gradWriter whose backward may write dx over dy: it reads each dy[i] only to
// compute dx[i]. Its backward op then tells Gorgonia's compiler that it may overwrite dy, which
// the tape machine does when nothing reads dy afterwards, by handing dy's tensor to
// UsePreallocDo: one tensor fewer per op.
type inPlaceGrad interface {
	gradWriter
	gradInPlace()
}

// applyUnary checks x against the kernel and adds the kernel's forward op on x to x's graph.
func applyUnary(k unaryKernel, x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkNodes(x); err != nil {
		return nil, fmt.Errorf("nn: %s: %w", k.opName(), err)
	}
	if in, _ := k.ranks(); x.Dims() != in {
		return nil, fmt.Errorf("nn: %s: input must have rank %d, got shape %v", k.opName(), in, x.Shape())
	}
	if _, err := k.outShape(x.Shape()); err != nil {
		return nil, fmt.Errorf("nn: %s: %w", k.opName(), err)
	}
	y, err := gorgonia.ApplyOp(&unaryOp{k: k}, x)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", k.opName(), err)
	}
	return y, nil
}

// unaryOp is the forward op of a kernel: x → y.
type unaryOp struct {
	k unaryKernel
	outCache
	placeSlot
}

var (
	_ gorgonia.SDOp            = (*unaryOp)(nil)
	_ gorgonia.ADOp            = (*unaryOp)(nil)
	_ gorgonia.UsePreallocDoer = (*unaryOp)(nil)
)

// Arity is 1.
func (op *unaryOp) Arity() int { return 1 }

// Type is Tensor-in a → Tensor-out a.
func (op *unaryOp) Type() hm.Type {
	in, out := op.k.ranks()
	return hm.NewFnType(tensorType(in), tensorType(out))
}

// InferShape returns the kernel's output shape.
func (op *unaryOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes(op.k.opName(), 1, inputs)
	if err != nil {
		return nil, err
	}
	s, err := op.k.outShape(ss[0])
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", op.k.opName(), err)
	}
	return s, nil
}

// Do runs the forward kernel.
func (op *unaryOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo runs the forward kernel into prealloc.
func (op *unaryOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *unaryOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	name := op.k.opName()
	in, err := denseInputs(name, 1, inputs)
	if err != nil {
		return nil, err
	}
	x := in[0]
	s, err := op.k.outShape(x.Shape())
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", name, err)
	}
	y, err := op.result(name, prealloc, x.Dtype(), s)
	if err != nil {
		return nil, err
	}
	if op.pl.on(x) {
		if err := op.pl.unaryOn(op.k, x, y); err != nil {
			return nil, op.pl.fail(name, err)
		}
		return y, nil
	}
	if err := op.k.forward(x, y); err != nil {
		return nil, fmt.Errorf("nn: %s: %w", name, err)
	}
	return y, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *unaryOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *unaryOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *unaryOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and all its parameters.
func (op *unaryOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and all its parameters.
func (op *unaryOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op and its parameters.
func (op *unaryOp) String() string { return op.k.describe(op.k.opName()) }

// DiffWRT is true for the input.
func (op *unaryOp) DiffWRT(inputs int) []bool { return []bool{true} }

// SymDiff returns the gradient node for x, computed from (x, grad).
func (op *unaryOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("nn: %s: SymDiff: expected 1 input, got %d", op.k.opName(), len(inputs))
	}
	dx, err := gorgonia.ApplyOp(&unaryBackOp{k: op.k}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: SymDiff: %w", op.k.opName(), err)
	}
	return gorgonia.Nodes{dx}, nil
}

// DoDiff adds the gradient for x into its derivative (gorgonia.LispMachine).
func (op *unaryOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	return doDiff(op.k.opName(), inputs, output, func(vals []gorgonia.Value, dy gorgonia.Value) ([]gorgonia.Value, error) {
		if len(vals) != 1 {
			return nil, fmt.Errorf("expected 1 input, got %d", len(vals))
		}
		dx, err := (&unaryBackOp{k: op.k}).Do(vals[0], dy)
		if err != nil {
			return nil, err
		}
		return []gorgonia.Value{dx}, nil
	})
}

// unaryBackOp is the backward op of a kernel: (x, dy) → dx.
type unaryBackOp struct {
	k unaryKernel
	outCache
	placeSlot
}

var _ gorgonia.UsePreallocDoer = (*unaryBackOp)(nil)

// Arity is 2: input and output gradient.
func (op *unaryBackOp) Arity() int { return 2 }

// Type is Tensor-in a → Tensor-out a → Tensor-in a.
func (op *unaryBackOp) Type() hm.Type {
	in, out := op.k.ranks()
	return hm.NewFnType(tensorType(in), tensorType(out), tensorType(in))
}

// name is the backward op's name, for errors.
func (op *unaryBackOp) name() string { return op.k.opName() + "Back" }

// check checks the shapes of x and dy.
func (op *unaryBackOp) check(x, dy tensor.Shape) error {
	s, err := op.k.outShape(x)
	if err != nil {
		return fmt.Errorf("nn: %s: %w", op.name(), err)
	}
	if !dy.Eq(s) {
		return fmt.Errorf("nn: %s: output gradient has shape %v, want %v", op.name(), dy, s)
	}
	return nil
}

// InferShape returns the shape of x.
func (op *unaryBackOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes(op.name(), 2, inputs)
	if err != nil {
		return nil, err
	}
	if err := op.check(ss[0], ss[1]); err != nil {
		return nil, err
	}
	return ss[0].Clone(), nil
}

// Do computes the input gradient.
func (op *unaryBackOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo computes the input gradient into prealloc.
func (op *unaryBackOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *unaryBackOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs(op.name(), 2, inputs)
	if err != nil {
		return nil, err
	}
	x, dy := in[0], in[1]
	if err := op.check(x.Shape(), dy.Shape()); err != nil {
		return nil, err
	}
	dx, err := op.result(op.name(), prealloc, x.Dtype(), x.Shape())
	if err != nil {
		return nil, err
	}
	if op.pl.on(x) {
		if err := op.pl.unaryBackOn(op.k, x, dy, dx); err != nil {
			return nil, op.pl.fail(op.name(), err)
		}
		return dx, nil
	}
	if _, ok := op.k.(gradWriter); !ok {
		if dx.Dtype() == tensor.Float32 {
			clear(dataOf[float32](dx))
		} else {
			clear(dataOf[float64](dx))
		}
	}
	if err := op.k.backward(x, dy, dx); err != nil {
		return nil, fmt.Errorf("nn: %s: %w", op.name(), err)
	}
	return dx, nil
}

// ReturnsPtr is true for kernels that may write the gradient over dy (see inPlaceGrad), whose
// result may then be dy's tensor; false otherwise: the output is a new tensor.
func (op *unaryBackOp) ReturnsPtr() bool {
	_, ok := op.k.(inPlaceGrad)
	return ok
}

// CallsExtern is false.
func (op *unaryBackOp) CallsExtern() bool { return false }

// OverwritesInput is 1 (dy) for kernels that may write the gradient over it, -1 otherwise.
func (op *unaryBackOp) OverwritesInput() int {
	if _, ok := op.k.(inPlaceGrad); ok {
		return 1
	}
	return -1
}

// WriteHash writes the op and all its parameters.
func (op *unaryBackOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and all its parameters.
func (op *unaryBackOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op and its parameters.
func (op *unaryBackOp) String() string { return op.k.describe(op.name()) }
