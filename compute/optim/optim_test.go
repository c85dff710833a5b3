package optim

import (
	"math"
	"testing"
)

// quadratic returns f(x) = sum((x-c)^2) with gradient 2(x-c).
func quadGrad(x, c, g []float32) {
	for i := range x {
		g[i] = 2 * (x[i] - c[i])
	}
}

func TestMomentumHandComputed(t *testing.T) {
	// Two steps of TF's update by hand: accum=g1; x1=x0-lr*g1; accum=0.9*g1+g2; x2=x1-lr*accum.
	x := []float32{1}
	g := []float32{0}
	s := NewMomentum(0.9)
	quadGrad(x, []float32{0}, g) // g1 = 2
	s.Step([]Param{{"w", x, g}}, 0.1)
	if x[0] != 0.8 {
		t.Fatalf("after step 1: %v", x[0])
	}
	quadGrad(x, []float32{0}, g) // g2 = 1.6; accum = 1.8+1.6 = 3.4
	s.Step([]Param{{"w", x, g}}, 0.1)
	if math.Abs(float64(x[0])-(0.8-0.34)) > 1e-6 {
		t.Fatalf("after step 2: %v", x[0])
	}
}

func TestSolversReachMinimum(t *testing.T) {
	c := []float32{3, -2, 0.5}
	for _, name := range []string{"momentum", "adam"} {
		s, _ := New(name, 0.9)
		x := make([]float32, 3)
		g := make([]float32, 3)
		lr := float32(0.05)
		for i := 0; i < 2000; i++ {
			quadGrad(x, c, g)
			s.Step([]Param{{"w", x, g}}, lr)
		}
		for i := range x {
			if math.Abs(float64(x[i]-c[i])) > 1e-3 {
				t.Errorf("%s: x=%v, want %v", name, x, c)
				break
			}
		}
	}
}

func TestAdamFirstStepIsLR(t *testing.T) {
	// With bias correction Adam's first step moves each coordinate by lr*sign(g) (up to epsilon).
	x := []float32{1, -1}
	g := []float32{0.001, -50}
	NewAdam().Step([]Param{{"w", x, g}}, 0.01)
	if math.Abs(float64(x[0])-0.99) > 1e-5 || math.Abs(float64(x[1])+0.99) > 1e-5 {
		t.Fatalf("got %v", x)
	}
}

func TestStateRoundTrip(t *testing.T) {
	for _, name := range []string{"momentum", "adam"} {
		a, _ := New(name, 0.9)
		x1 := []float32{1, 2}
		g := []float32{0.5, -0.5}
		a.Step([]Param{{"w", x1, g}}, 0.1)
		b, _ := New(name, 0.9)
		if err := b.SetState(a.State()); err != nil {
			t.Fatal(err)
		}
		x2 := append([]float32(nil), x1...)
		a.Step([]Param{{"w", x1, g}}, 0.1)
		b.Step([]Param{{"w", x2, g}}, 0.1)
		if x1[0] != x2[0] || x1[1] != x2[1] {
			t.Errorf("%s: resumed %v, continuous %v", name, x2, x1)
		}
	}
}
