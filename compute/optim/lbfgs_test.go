package optim

import (
	"errors"
	"math"
	"testing"
)

// TestLBFGSQuadratic minimises f(x) = ½xᵀAx - bᵀx for a symmetric positive definite A, whose
// minimum is at the solution of Ax = b.
func TestLBFGSQuadratic(t *testing.T) {
	const n = 12
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n)
		a[i][i] = float64(i + 1) // eigenvalues spread from about 1 to 12
		if i > 0 {
			a[i][i-1], a[i-1][i] = 0.4, 0.4
		}
	}
	want := make([]float64, n)
	for i := range want {
		want[i] = math.Sin(float64(i)) * 3
	}
	b := make([]float64, n) // b = A·want
	for i := range b {
		for j := range b {
			b[i] += a[i][j] * want[j]
		}
	}
	calls := 0
	f := func(x, g []float64) (float64, error) {
		calls++
		var v float64
		for i := range x {
			g[i] = -b[i]
			for j := range x {
				g[i] += a[i][j] * x[j]
			}
			v += 0.5 * x[i] * (g[i] - b[i]) // ½xᵀAx - bᵀx, as (Ax-b) - b = g - b
		}
		return v, nil
	}
	x := make([]float64, n)
	l := NewLBFGS()
	fx, iters, err := l.Minimize(f, x, 100, 1e-8)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if math.Abs(x[i]-want[i]) > 1e-7 {
			t.Errorf("x[%d] = %v, want %v", i, x[i], want[i])
		}
	}
	var fmin float64 // -½ bᵀA⁻¹b = -½ bᵀwant
	for i := range b {
		fmin -= 0.5 * b[i] * want[i]
	}
	if math.Abs(fx-fmin) > 1e-9*math.Abs(fmin) {
		t.Errorf("f = %v, want %v", fx, fmin)
	}
	t.Logf("%d iterations, %d evaluations", iters, calls)
	if iters > 30 {
		t.Errorf("%d iterations for a %d-dimensional quadratic", iters, n)
	}
}

// rosenbrock is the extended Rosenbrock function, Σ 100(x[i+1]-x[i]²)² + (1-x[i])², whose minimum
// is 0 at (1, ..., 1).
func rosenbrock(x, g []float64) (float64, error) {
	var f float64
	clear(g)
	for i := 0; i+1 < len(x); i++ {
		u, v := x[i+1]-x[i]*x[i], 1-x[i]
		f += 100*u*u + v*v
		g[i] += -400*u*x[i] - 2*v
		g[i+1] += 200 * u
	}
	return f, nil
}

func TestLBFGSRosenbrock(t *testing.T) {
	for _, start := range [][]float64{{-1.2, 1}, {-1.2, 1, -1.2, 1, -1.2, 1, -1.2, 1, -1.2, 1}} {
		x := append([]float64(nil), start...)
		fx, iters, err := NewLBFGS().Minimize(rosenbrock, x, 500, 1e-9)
		if err != nil && !errors.Is(err, ErrNoProgress) {
			t.Fatal(err)
		}
		for i, v := range x {
			if math.Abs(v-1) > 1e-6 {
				t.Errorf("n=%d: x[%d] = %v, want 1", len(x), i, v)
			}
		}
		if fx > 1e-12 {
			t.Errorf("n=%d: f = %v, want 0", len(x), fx)
		}
		t.Logf("n=%d: %d iterations, f %.3g", len(x), iters, fx)
	}
}

// TestLBFGSStepKeepsLastEvaluation checks the promise callers rely on: after Step, the last
// evaluation was at the new point; and ErrNoProgress leaves the point alone.
func TestLBFGSStepKeepsLastEvaluation(t *testing.T) {
	x := []float64{-1.2, 1}
	g := make([]float64, 2)
	fx, _ := rosenbrock(x, g)
	var last []float64
	f := func(x, g []float64) (float64, error) {
		last = append(last[:0], x...)
		return rosenbrock(x, g)
	}
	l := NewLBFGS()
	for range 20 {
		var err error
		if fx, _, err = l.Step(f, x, fx, g); err != nil {
			t.Fatal(err)
		}
		if last[0] != x[0] || last[1] != x[1] {
			t.Fatalf("last evaluation at %v, the step ended at %v", last, x)
		}
	}
	// A function that rises in every direction from its point: no progress, nothing moves.
	up := func(x, g []float64) (float64, error) {
		g[0], g[1] = -1, 0 // claims descent along +x[0], but f only rises
		return 1 + math.Abs(x[0]-5), nil
	}
	y := []float64{5, 5}
	gy := []float64{-1, 0}
	if _, _, err := NewLBFGS().Step(up, y, 1, gy); !errors.Is(err, ErrNoProgress) {
		t.Errorf("got %v, want ErrNoProgress", err)
	}
	if y[0] != 5 || y[1] != 5 || gy[0] != -1 {
		t.Errorf("point moved to %v, gradient %v", y, gy)
	}
}
