package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float is the set of element types the kernels are written for.
type float interface {
	float32 | float64
}

// gemm computes c = op(a)·op(b) + beta·c for row-major matrices, where op(a) is m×k and op(b)
// is k×n, dispatching to the single or double precision routine of this build's BLAS.
func gemm[T float](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		blas32Impl.Sgemm(tA, tB, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		blas64Impl.Dgemm(tA, tB, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// workersFor returns how many goroutines parallelFor uses for n independent items.
func workersFor(n int) int {
	w := runtime.GOMAXPROCS(0)
	if n < w {
		w = n
	}
	if w < 1 {
		w = 1
	}
	return w
}

// parallelFor splits [0, n) into workersFor(n) contiguous chunks and calls fn(worker, lo, hi)
// for each, concurrently; with one worker it runs on the calling goroutine.
func parallelFor(n int, fn func(worker, lo, hi int)) {
	w := workersFor(n)
	if w == 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w)
	for i := 0; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		go func(i, lo, hi int) {
			defer wg.Done()
			fn(i, lo, hi)
		}(i, lo, hi)
	}
	wg.Wait()
}

// denseOf returns v as a row-major, contiguous *tensor.Dense of float32 or float64, copying it
// when it is a view or has been transposed lazily.
func denseOf(v gorgonia.Value, what string) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s: expected a *tensor.Dense, got %T", what, v)
	}
	if dt := d.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("%s: unsupported dtype %v (want float32 or float64)", what, dt)
	}
	if !d.DataOrder().IsRowMajor() {
		return nil, fmt.Errorf("%s: column-major data is not supported", what)
	}
	if d.IsMaterializable() || d.RequiresIterator() {
		m, ok := d.Materialize().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%s: materialising a view gave no *tensor.Dense", what)
		}
		d = m
	}
	return d, nil
}

// sameDtype checks that every tensor has the dtype of the first one.
func sameDtype(ts ...*tensor.Dense) error {
	for _, t := range ts[1:] {
		if t.Dtype() != ts[0].Dtype() {
			return fmt.Errorf("mixed dtypes %v and %v", ts[0].Dtype(), t.Dtype())
		}
	}
	return nil
}

// dataOf returns the first Shape().TotalSize() elements of d's backing array as []T.
func dataOf[T float](d *tensor.Dense) []T {
	s := d.Data().([]T)
	return s[:d.Shape().TotalSize()]
}

// newLike allocates a zeroed tensor of the given dtype and shape.
func newLike(dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape.Clone()...))
}

// checkPrealloc returns prealloc as a *tensor.Dense when it can hold a result of the given
// dtype and shape, and an error otherwise (the machine then falls back to Do).
func checkPrealloc(prealloc gorgonia.Value, dt tensor.Dtype, shape tensor.Shape) (*tensor.Dense, error) {
	p, ok := prealloc.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("preallocated value is a %T, not a *tensor.Dense", prealloc)
	}
	if p.Dtype() != dt || !p.Shape().Eq(shape) || p.IsMaterializable() || p.RequiresIterator() || !p.DataOrder().IsRowMajor() {
		return nil, fmt.Errorf("preallocated %v %v cannot hold a %v %v result", p.Dtype(), p.Shape(), dt, shape)
	}
	return p, nil
}

// shapeOf returns the shape that InferShape receives for one input.
func shapeOf(d gorgonia.DimSizer) (tensor.Shape, error) {
	s, ok := d.(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("expected a tensor.Shape, got %T", d)
	}
	return s, nil
}

// hashString is the Hashcode of an op whose WriteHash writes s.
func hashString(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// writeHash writes s to h; ops use their full description, parameters included, so that two
// ops with different parameters never hash alike and Gorgonia never merges their nodes.
func writeHash(h hash.Hash, s string) {
	h.Write([]byte(s))
}

// scalarOf reads a scalar gradient, which Gorgonia passes as *F64, *F32 or a one-element tensor.
func scalarOf(v gorgonia.Value) (float64, error) {
	switch s := v.(type) {
	case *gorgonia.F64:
		return float64(*s), nil
	case *gorgonia.F32:
		return float64(*s), nil
	case tensor.Tensor:
		if s.Shape().TotalSize() != 1 {
			return 0, fmt.Errorf("expected a scalar, got shape %v", s.Shape())
		}
		switch x := s.Data().(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case []float64:
			return x[0], nil
		case []float32:
			return float64(x[0]), nil
		}
		return 0, fmt.Errorf("expected a float scalar, got %v", s.Dtype())
	}
	return 0, fmt.Errorf("expected a scalar, got %T", v)
}

// accumulateGrad adds the gradient value g into the derivative that a gorgonia.LispMachine
// keeps for node n (used by the ops' DoDiff).
func accumulateGrad(n *gorgonia.Node, g gorgonia.Value) error {
	dv, err := n.Grad()
	if err != nil {
		return fmt.Errorf("no derivative bound to %v: %w", n, err)
	}
	dst, err := denseOf(dv, "derivative")
	if err != nil {
		return err
	}
	src, err := denseOf(g, "gradient")
	if err != nil {
		return err
	}
	if dst.Dtype() != src.Dtype() || !dst.Shape().Eq(src.Shape()) {
		return fmt.Errorf("derivative %v %v does not match gradient %v %v", dst.Dtype(), dst.Shape(), src.Dtype(), src.Shape())
	}
	if dst != dv {
		return fmt.Errorf("derivative of %v is a view and cannot be accumulated in place", n)
	}
	switch dst.Dtype() {
	case tensor.Float32:
		addTo(dataOf[float32](dst), dataOf[float32](src))
	default:
		addTo(dataOf[float64](dst), dataOf[float64](src))
	}
	return nil
}

// addTo adds src to dst element by element.
func addTo[T float](dst, src []T) {
	for i, v := range src {
		dst[i] += v
	}
}
