package style

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gramOp is the Gram matrix of a layer's responses as one op: F, (1, C, H, W) read as the
// C x H·W matrix Fᵀ of the recipe's features, gives Fᵀ F / (C·H·W), C x C, by one symmetric
// rank-k update (BLAS syrk: half the multiplications of a general product) straight on the
// layer's data. Built from Gorgonia's Reshape, Transpose and Mul, the same product copied Fᵀ
// into its transpose and multiplied on gonum's pure-Go BLAS, forward and twice backward: a
// quarter of a VGG19 step at 256 pixels (BenchmarkStyleIteration). Its gradient is gramBackOp.
type gramOp struct{ c, hw int }

var _ G.SDOp = gramOp{}

func (op gramOp) Arity() int { return 1 }

func (op gramOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 4, Of: a}, G.TensorType{Dims: 2, Of: a})
}

func (op gramOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("style: gram: %d inputs, want 1", len(in))
	}
	return tensor.Shape{op.c, op.c}, nil
}

func (op gramOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("style: gram: %d inputs, want 1", len(in))
	}
	f, err := denseOf(in[0], op.c*op.hw, "gram")
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.Of(f.Dtype()), tensor.WithShape(op.c, op.c))
	scale := 1 / float64(op.c*op.hw)
	switch d := f.Data().(type) {
	case []float32:
		g := out.Data().([]float32)
		blas32.Ssyrk(blas.Upper, blas.NoTrans, op.c, op.hw, float32(scale), d, op.hw, 0, g, op.c)
		mirrorUpper(g, op.c)
	case []float64:
		g := out.Data().([]float64)
		blas64.Dsyrk(blas.Upper, blas.NoTrans, op.c, op.hw, scale, d, op.hw, 0, g, op.c)
		mirrorUpper(g, op.c)
	}
	return out, nil
}

func (op gramOp) ReturnsPtr() bool      { return false }
func (op gramOp) CallsExtern() bool     { return false }
func (op gramOp) OverwritesInput() int  { return -1 }
func (op gramOp) String() string        { return fmt.Sprintf("style.Gram{%d, %d}", op.c, op.hw) }
func (op gramOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op gramOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func (op gramOp) DiffWRT(int) []bool { return []bool{true} }

func (op gramOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("style: gram: %d inputs, want 1", len(in))
	}
	df, err := G.ApplyOp(gramBackOp(op), in[0], grad)
	if err != nil {
		return nil, fmt.Errorf("style: gram gradient: %w", err)
	}
	return G.Nodes{df}, nil
}

// gramBackOp is the gradient of gramOp: with G = F Fᵀ / N (F here C x H·W) and dG the gradient
// of the loss with respect to G, the gradient with respect to F is (dG + dGᵀ) F / N, one
// general product on BLAS.
type gramBackOp struct{ c, hw int }

func (op gramBackOp) Arity() int { return 2 }

func (op gramBackOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 4, Of: a}, G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 4, Of: a})
}

func (op gramBackOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("style: gram gradient: %d inputs, want 2", len(in))
	}
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("style: gram gradient: input shape %v", in[0])
	}
	return s.Clone(), nil
}

func (op gramBackOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("style: gram gradient: %d inputs, want 2", len(in))
	}
	f, err := denseOf(in[0], op.c*op.hw, "gram gradient")
	if err != nil {
		return nil, err
	}
	dg, err := denseOf(in[1], op.c*op.c, "gram gradient")
	if err != nil {
		return nil, err
	}
	if dg.Dtype() != f.Dtype() {
		return nil, fmt.Errorf("style: gram gradient: %v and %v", f.Dtype(), dg.Dtype())
	}
	out := tensor.New(tensor.Of(f.Dtype()), tensor.WithShape(f.Shape().Clone()...))
	scale := 1 / float64(op.c*op.hw)
	switch d := f.Data().(type) {
	case []float32:
		s := symmetrise(dg.Data().([]float32), op.c)
		blas32.Sgemm(blas.NoTrans, blas.NoTrans, op.c, op.hw, op.c, float32(scale), s, op.c, d, op.hw, 0, out.Data().([]float32), op.hw)
	case []float64:
		s := symmetrise(dg.Data().([]float64), op.c)
		blas64.Dgemm(blas.NoTrans, blas.NoTrans, op.c, op.hw, op.c, scale, s, op.c, d, op.hw, 0, out.Data().([]float64), op.hw)
	}
	return out, nil
}

func (op gramBackOp) ReturnsPtr() bool      { return false }
func (op gramBackOp) CallsExtern() bool     { return false }
func (op gramBackOp) OverwritesInput() int  { return -1 }
func (op gramBackOp) String() string        { return fmt.Sprintf("style.GramBack{%d, %d}", op.c, op.hw) }
func (op gramBackOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op gramBackOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// denseOf returns v as a row-major *tensor.Dense of n float32 or float64 values.
func denseOf(v G.Value, n int, what string) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("style: %s: a %T, want a *tensor.Dense", what, v)
	}
	if d.IsMaterializable() || d.RequiresIterator() {
		if d, ok = d.Materialize().(*tensor.Dense); !ok {
			return nil, fmt.Errorf("style: %s: materialising a view failed", what)
		}
	}
	if dt := d.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("style: %s: dtype %v, want float32 or float64", what, dt)
	}
	if d.Shape().TotalSize() != n {
		return nil, fmt.Errorf("style: %s: %v holds %d values, want %d", what, d.Shape(), d.Shape().TotalSize(), n)
	}
	return d, nil
}

// mirrorUpper copies the upper triangle of the c x c matrix g into its lower triangle.
func mirrorUpper[T float32 | float64](g []T, c int) {
	for i := range c {
		for j := i + 1; j < c; j++ {
			g[j*c+i] = g[i*c+j]
		}
	}
}

// symmetrise returns dg + dgᵀ for the c x c matrix dg, as a new matrix.
func symmetrise[T float32 | float64](dg []T, c int) []T {
	s := make([]T, c*c)
	for i := range c {
		for j := range c {
			s[i*c+j] = dg[i*c+j] + dg[j*c+i]
		}
	}
	return s
}
