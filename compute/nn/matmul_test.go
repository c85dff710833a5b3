package nn

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveMatMul computes op(a)·op(b) in float64 for row-major a and b of the given shapes.
func naiveMatMul(a, b []float64, as, bs tensor.Shape, transA, transB bool) []float64 {
	at := func(i, j int) float64 { // op(a)[i][j]
		if transA {
			return a[j*as[1]+i]
		}
		return a[i*as[1]+j]
	}
	bt := func(i, j int) float64 {
		if transB {
			return b[j*bs[1]+i]
		}
		return b[i*bs[1]+j]
	}
	m, k := as[0], as[1]
	if transA {
		m, k = k, m
	}
	n := bs[1]
	if transB {
		n = bs[0]
	}
	y := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				y[i*n+j] += at(i, p) * bt(p, j)
			}
		}
	}
	return y
}

// matMulShapes returns the shapes of a and b for op(a) m×k and op(b) k×n.
func matMulShapes(m, k, n int, transA, transB bool) (as, bs tensor.Shape) {
	as, bs = tensor.Shape{m, k}, tensor.Shape{k, n}
	if transA {
		as = tensor.Shape{k, m}
	}
	if transB {
		bs = tensor.Shape{n, k}
	}
	return as, bs
}

func TestMatMulMatchesNaive(t *testing.T) {
	r := newRand(90)
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for tr := 0; tr < 4; tr++ {
			transA, transB := tr&1 != 0, tr&2 != 0
			m, k, n := 1+r.IntN(40), 1+r.IntN(300), 1+r.IntN(30)
			as, bs := matMulShapes(m, k, n, transA, transB)
			ad, bd := randData(r, as.TotalSize()), randData(r, bs.TotalSize())
			g := gorgonia.NewGraph()
			a, b := leaf(g, dt, "a", ad, as...), leaf(g, dt, "b", bd, bs...)
			y, err := gorgonia.ApplyOp(&matMulOp{transA: transA, transB: transB}, a, b)
			if err != nil {
				t.Fatal(err)
			}
			runGraph(t, g)
			want := naiveMatMul(ad, bd, as, bs, transA, transB)
			got := valuesOf(t, y)
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-5
			}
			for i := range want {
				if !closeTo(got[i], want[i], tol*float64(k)) {
					t.Fatalf("%v transA %v transB %v: y[%d] = %g, want %g", dt, transA, transB, i, got[i], want[i])
				}
			}
		}
	}
}

func TestMatMulGradients(t *testing.T) {
	for tr := 0; tr < 4; tr++ {
		transA, transB := tr&1 != 0, tr&2 != 0
		t.Run(name("transA=%v,transB=%v", transA, transB), func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(uint64(91 + tr))
				as, bs := matMulShapes(3, 5, 4, transA, transB)
				a, b := randLeaf(g, r, tensor.Float64, "a", as...), randLeaf(g, r, tensor.Float64, "b", bs...)
				y, err := gorgonia.ApplyOp(&matMulOp{transA: transA, transB: transB}, a, b)
				if err != nil {
					t.Fatal(err)
				}
				return probe(t, r, y, "probe"), gorgonia.Nodes{a, b}
			})
		})
	}
	// A dense layer as the MNIST recipe builds it: MatMul, AddBias, ReLU.
	checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
		r := newRand(95)
		x, w := randLeaf(g, r, tensor.Float64, "x", 4, 7), randLeaf(g, r, tensor.Float64, "w", 7, 3)
		b := randLeaf(g, r, tensor.Float64, "b", 3)
		y := must(t)(ReLU(must(t)(AddBias(must(t)(MatMul(x, w)), b))))
		return probe(t, r, y, "probe"), gorgonia.Nodes{x, w, b}
	})
}

func TestMatMulRejectsBadShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	r := newRand(96)
	a := randLeaf(g, r, tensor.Float64, "a", 3, 4)
	for _, b := range []*gorgonia.Node{
		randLeaf(g, r, tensor.Float64, "b1", 5, 2),
		randLeaf(g, r, tensor.Float64, "b2", 4, 2, 1),
		randLeaf(g, r, tensor.Float32, "b3", 4, 2),
	} {
		if _, err := MatMul(a, b); err == nil {
			t.Errorf("%v %v accepted", b.Dtype(), b.Shape())
		}
	}
}
