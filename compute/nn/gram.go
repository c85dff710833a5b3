package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gram is the Gram matrix of a layer's responses f, (1, C, H, W), as style transfer uses it:
// f read as the C x H·W matrix F gives F Fᵀ / (C·H·W), C x C, by one symmetric rank-k update
// (BLAS syrk: half the multiplications of a general product) straight on the layer's data. Its
// gradient is (dG + dGᵀ) F / (C·H·W), one general product. Placed on an accelerator
// (Place), both run there as GEMMs.
func Gram(f *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkNodes(f); err != nil {
		return nil, fmt.Errorf("nn: Gram: %w", err)
	}
	s := f.Shape()
	if s.Dims() != 4 || s[0] != 1 {
		return nil, fmt.Errorf("nn: Gram: responses must be (1, C, H, W), got %v", s)
	}
	g, err := gorgonia.ApplyOp(&gramOp{c: s[1], hw: s[2] * s[3]}, f)
	if err != nil {
		return nil, fmt.Errorf("nn: Gram: %w", err)
	}
	return g, nil
}

// gramOp is Gram: (1, C, H, W) → (C, C).
type gramOp struct {
	c, hw int
	outCache
	placeSlot
}

var _ gorgonia.SDOp = (*gramOp)(nil)

// Arity is 1.
func (op *gramOp) Arity() int { return 1 }

// Type is Tensor-4 a → Matrix a.
func (op *gramOp) Type() hm.Type { return hm.NewFnType(tensorType(4), tensorType(2)) }

// InferShape returns (C, C).
func (op *gramOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("Gram", 1, inputs)
	if err != nil {
		return nil, err
	}
	if ss[0].TotalSize() != op.c*op.hw {
		return nil, fmt.Errorf("nn: Gram: input %v, want (1, %d, H, W) with H·W = %d", ss[0], op.c, op.hw)
	}
	return tensor.Shape{op.c, op.c}, nil
}

// Do computes the Gram matrix into a new tensor.
func (op *gramOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("Gram", 1, inputs)
	if err != nil {
		return nil, err
	}
	f := in[0]
	if f.Shape().TotalSize() != op.c*op.hw {
		return nil, fmt.Errorf("nn: Gram: input %v, want %d values", f.Shape(), op.c*op.hw)
	}
	out, err := op.result("Gram", nil, f.Dtype(), tensor.Shape{op.c, op.c})
	if err != nil {
		return nil, err
	}
	if op.pl.on(f) {
		if err := op.pl.gramOn(op.c, op.hw, f, out); err != nil {
			return nil, op.pl.fail("Gram", err)
		}
		return out, nil
	}
	scale := 1 / float64(op.c*op.hw)
	if f.Dtype() == tensor.Float32 {
		g := dataOf[float32](out)
		blas32Impl.Ssyrk(blas.Upper, blas.NoTrans, op.c, op.hw, float32(scale), dataOf[float32](f), op.hw, 0, g, op.c)
		mirrorUpper(g, op.c)
	} else {
		g := dataOf[float64](out)
		blas64Impl.Dsyrk(blas.Upper, blas.NoTrans, op.c, op.hw, scale, dataOf[float64](f), op.hw, 0, g, op.c)
		mirrorUpper(g, op.c)
	}
	return out, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *gramOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *gramOp) CallsExtern() bool { return false }

// OverwritesInput is -1.
func (op *gramOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and its sizes.
func (op *gramOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and its sizes.
func (op *gramOp) Hashcode() uint32 { return hashString(op.String()) }

// String names the op and its sizes: channels and positions.
func (op *gramOp) String() string { return fmt.Sprintf("nn.Gram{%d, %d}", op.c, op.hw) }

// DiffWRT is true.
func (op *gramOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff returns the gradient node for f, computed from (f, grad).
func (op *gramOp) SymDiff(inputs gorgonia.Nodes, _, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("nn: Gram: SymDiff: %d inputs, want 1", len(inputs))
	}
	df, err := gorgonia.ApplyOp(&gramBackOp{c: op.c, hw: op.hw}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("nn: Gram: SymDiff: %w", err)
	}
	return gorgonia.Nodes{df}, nil
}

// gramBackOp is Gram's gradient: (f, dG) → df = (dG + dGᵀ) F / (C·H·W).
type gramBackOp struct {
	c, hw int
	outCache
	placeSlot
}

// Arity is 2.
func (op *gramBackOp) Arity() int { return 2 }

// Type is Tensor-4 a → Matrix a → Tensor-4 a.
func (op *gramBackOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(2), tensorType(4))
}

// InferShape returns f's shape.
func (op *gramBackOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("GramBack", 2, inputs)
	if err != nil {
		return nil, err
	}
	return ss[0].Clone(), nil
}

// Do computes the gradient into a new tensor.
func (op *gramBackOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("GramBack", 2, inputs)
	if err != nil {
		return nil, err
	}
	f, dg := in[0], in[1]
	if f.Shape().TotalSize() != op.c*op.hw || dg.Shape().TotalSize() != op.c*op.c {
		return nil, fmt.Errorf("nn: GramBack: inputs %v and %v, want %d and %d values", f.Shape(), dg.Shape(), op.c*op.hw, op.c*op.c)
	}
	out, err := op.result("GramBack", nil, f.Dtype(), f.Shape())
	if err != nil {
		return nil, err
	}
	if op.pl.on(f) {
		if err := op.pl.gramBackOn(op.c, op.hw, f, dg, out); err != nil {
			return nil, op.pl.fail("GramBack", err)
		}
		return out, nil
	}
	scale := 1 / float64(op.c*op.hw)
	if f.Dtype() == tensor.Float32 {
		s := symmetrise(dataOf[float32](dg), op.c)
		blas32Impl.Sgemm(blas.NoTrans, blas.NoTrans, op.c, op.hw, op.c, float32(scale), s, op.c, dataOf[float32](f), op.hw, 0, dataOf[float32](out), op.hw)
	} else {
		s := symmetrise(dataOf[float64](dg), op.c)
		blas64Impl.Dgemm(blas.NoTrans, blas.NoTrans, op.c, op.hw, op.c, scale, s, op.c, dataOf[float64](f), op.hw, 0, dataOf[float64](out), op.hw)
	}
	return out, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *gramBackOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *gramBackOp) CallsExtern() bool { return false }

// OverwritesInput is -1.
func (op *gramBackOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and its sizes.
func (op *gramBackOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and its sizes.
func (op *gramBackOp) Hashcode() uint32 { return hashString(op.String()) }

// String names the op and its sizes.
func (op *gramBackOp) String() string { return fmt.Sprintf("nn.GramBack{%d, %d}", op.c, op.hw) }

// mirrorUpper copies the upper triangle of the c x c matrix g into its lower triangle.
func mirrorUpper[T float](g []T, c int) {
	for i := range c {
		for j := i + 1; j < c; j++ {
			g[j*c+i] = g[i*c+j]
		}
	}
}

// symmetrise returns dg + dgᵀ for the c x c matrix dg, as a new matrix.
func symmetrise[T float](dg []T, c int) []T {
	s := make([]T, c*c)
	for i := range c {
		for j := range c {
			s[i*c+j] = dg[i*c+j] + dg[j*c+i]
		}
	}
	return s
}
