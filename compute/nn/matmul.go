package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MatMul multiplies the matrices a (M, K) and b (K, N) into (M, N) on this build's BLAS
// (OpenBLAS in the default build, gonum's pure Go in the purego one), with its gradients to
// both: da = dy·bᵀ and db = aᵀ·dy, each one GEMM call with the transposition folded in.
//
// It is the product of a dense layer (x·w, then AddBias): Gorgonia's Mul goes through
// gorgonia.org/tensor's own BLAS, gonum's pure-Go one, whatever the build.
func MatMul(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkNodes(a, b); err != nil {
		return nil, fmt.Errorf("nn: MatMul: %w", err)
	}
	op := &matMulOp{}
	if _, err := op.outShape(a.Shape(), b.Shape()); err != nil {
		return nil, fmt.Errorf("nn: MatMul: %w", err)
	}
	y, err := gorgonia.ApplyOp(op, a, b)
	if err != nil {
		return nil, fmt.Errorf("nn: MatMul: %w", err)
	}
	return y, nil
}

// matMulOp is op(a)·op(b), where op transposes when transA or transB is set: (a, b) → y. MatMul
// builds it without transpositions; its gradients are matMulOps with one.
type matMulOp struct {
	transA, transB bool
	outCache
}

var (
	_ gorgonia.SDOp            = (*matMulOp)(nil)
	_ gorgonia.ADOp            = (*matMulOp)(nil)
	_ gorgonia.UsePreallocDoer = (*matMulOp)(nil)
)

// dims returns m, k and n of op(a) (m×k) and op(b) (k×n), or an error when the shapes do not fit.
func (op *matMulOp) dims(a, b tensor.Shape) (m, k, n int, err error) {
	if a.Dims() != 2 || b.Dims() != 2 {
		return 0, 0, 0, fmt.Errorf("inputs must be matrices, got shapes %v and %v", a, b)
	}
	m, k = a[0], a[1]
	if op.transA {
		m, k = k, m
	}
	kb, n := b[0], b[1]
	if op.transB {
		kb, n = n, kb
	}
	if k != kb || m <= 0 || k <= 0 || n <= 0 {
		return 0, 0, 0, fmt.Errorf("cannot multiply %v by %v%s", a, b, op.transposes())
	}
	return m, k, n, nil
}

// transposes describes the transpositions for error messages.
func (op *matMulOp) transposes() string {
	switch {
	case op.transA && op.transB:
		return " (both transposed)"
	case op.transA:
		return " (the first transposed)"
	case op.transB:
		return " (the second transposed)"
	}
	return ""
}

// outShape returns (m, n).
func (op *matMulOp) outShape(a, b tensor.Shape) (tensor.Shape, error) {
	m, _, n, err := op.dims(a, b)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{m, n}, nil
}

// Arity is 2.
func (op *matMulOp) Arity() int { return 2 }

// Type is Matrix a → Matrix a → Matrix a.
func (op *matMulOp) Type() hm.Type {
	t := tensorType(2)
	return hm.NewFnType(t, t, t)
}

// InferShape returns (m, n).
func (op *matMulOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("MatMul", 2, inputs)
	if err != nil {
		return nil, err
	}
	s, err := op.outShape(ss[0], ss[1])
	if err != nil {
		return nil, fmt.Errorf("nn: MatMul: %w", err)
	}
	return s, nil
}

// Do multiplies.
func (op *matMulOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) { return op.do(nil, inputs) }

// UsePreallocDo multiplies into prealloc.
func (op *matMulOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *matMulOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("MatMul", 2, inputs)
	if err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	m, k, n, err := op.dims(a.Shape(), b.Shape())
	if err != nil {
		return nil, fmt.Errorf("nn: MatMul: %w", err)
	}
	y, err := op.result("MatMul", prealloc, a.Dtype(), tensor.Shape{m, n})
	if err != nil {
		return nil, err
	}
	lda, ldb := a.Shape()[1], b.Shape()[1]
	if a.Dtype() == tensor.Float32 {
		gemm(op.transA, op.transB, m, n, k, dataOf[float32](a), lda, dataOf[float32](b), ldb, 0, dataOf[float32](y), n)
	} else {
		gemm(op.transA, op.transB, m, n, k, dataOf[float64](a), lda, dataOf[float64](b), ldb, 0, dataOf[float64](y), n)
	}
	return y, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *matMulOp) ReturnsPtr() bool { return false }

// CallsExtern is false: the BLAS call finishes before Do returns.
func (op *matMulOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *matMulOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and its transpositions.
func (op *matMulOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and its transpositions.
func (op *matMulOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op and its transpositions.
func (op *matMulOp) String() string {
	return fmt.Sprintf("nn.MatMul{transA: %v, transB: %v}", op.transA, op.transB)
}

// DiffWRT is true for both inputs.
func (op *matMulOp) DiffWRT(inputs int) []bool { return []bool{true, true} }

// grads returns the ops and operand orders of the two gradients of op(a)·op(b) = y, each a
// product of dy with a or b. With y = A·B (A = op(a), B = op(b)): dA = dy·Bᵀ and dB = Aᵀ·dy,
// and da is dA or its transpose (likewise db).
func (op *matMulOp) gradOps(a, b, dy any) (daOp *matMulOp, daArgs [2]any, dbOp *matMulOp, dbArgs [2]any) {
	if !op.transA {
		daOp, daArgs = &matMulOp{transB: !op.transB}, [2]any{dy, b} // da = dy·Bᵀ
	} else {
		daOp, daArgs = &matMulOp{transA: op.transB, transB: true}, [2]any{b, dy} // da = (dy·Bᵀ)ᵀ = B·dyᵀ
	}
	if !op.transB {
		dbOp, dbArgs = &matMulOp{transA: !op.transA}, [2]any{a, dy} // db = Aᵀ·dy
	} else {
		dbOp, dbArgs = &matMulOp{transA: true, transB: op.transA}, [2]any{dy, a} // db = (Aᵀ·dy)ᵀ = dyᵀ·A
	}
	return daOp, daArgs, dbOp, dbArgs
}

// SymDiff returns the gradient nodes for a and b.
func (op *matMulOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("nn: MatMul: SymDiff: expected 2 inputs, got %d", len(inputs))
	}
	daOp, daArgs, dbOp, dbArgs := op.gradOps(inputs[0], inputs[1], grad)
	da, err := gorgonia.ApplyOp(daOp, daArgs[0].(*gorgonia.Node), daArgs[1].(*gorgonia.Node))
	if err != nil {
		return nil, fmt.Errorf("nn: MatMul: SymDiff: first gradient: %w", err)
	}
	db, err := gorgonia.ApplyOp(dbOp, dbArgs[0].(*gorgonia.Node), dbArgs[1].(*gorgonia.Node))
	if err != nil {
		return nil, fmt.Errorf("nn: MatMul: SymDiff: second gradient: %w", err)
	}
	return gorgonia.Nodes{da, db}, nil
}

// DoDiff adds the gradients for a and b into their derivatives (gorgonia.LispMachine).
func (op *matMulOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	return doDiff("MatMul", inputs, output, func(vals []gorgonia.Value, dy gorgonia.Value) ([]gorgonia.Value, error) {
		if len(vals) != 2 {
			return nil, fmt.Errorf("expected 2 inputs, got %d", len(vals))
		}
		daOp, daArgs, dbOp, dbArgs := op.gradOps(vals[0], vals[1], dy)
		da, err := daOp.Do(daArgs[0].(gorgonia.Value), daArgs[1].(gorgonia.Value))
		if err != nil {
			return nil, err
		}
		db, err := dbOp.Do(dbArgs[0].(gorgonia.Value), dbArgs[1].(gorgonia.Value))
		if err != nil {
			return nil, err
		}
		return []gorgonia.Value{da, db}, nil
	})
}
