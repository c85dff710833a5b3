// Package optim holds the gradient-descent solvers the recipes use, written over plain float32
// slices so that their state can be saved in a checkpoint and a run resumed exactly.
//
// Gorgonia ships solvers too, but they keep their state private, so a resumed run would restart
// its momentum from zero; these are small enough to own.
package optim

import (
	"fmt"
	"math"
)

// Param is one trainable tensor: its values and the gradient of the loss with respect to them.
type Param struct {
	Name  string
	Value []float32
	Grad  []float32
}

// Solver updates parameters from their gradients.
type Solver interface {
	// Step applies one update to every parameter, in place.
	Step(params []Param, lr float32) error
	// State returns the solver's state tensors, keyed by parameter name and slot, for a checkpoint.
	State() map[string][]float32
	// SetState restores what State returned.
	SetState(map[string][]float32) error
}

// Momentum is TensorFlow's MomentumOptimizer: accum = momentum*accum + grad; value -= lr*accum.
type Momentum struct {
	Momentum float32
	accum    map[string][]float32
}

// NewMomentum returns a momentum solver with the given momentum (the recipes use 0.9).
func NewMomentum(momentum float32) *Momentum {
	return &Momentum{Momentum: momentum, accum: map[string][]float32{}}
}

// Step applies one momentum update.
func (s *Momentum) Step(params []Param, lr float32) error {
	for _, p := range params {
		if len(p.Grad) != len(p.Value) {
			return fmt.Errorf("optim: %s: %d gradients for %d values", p.Name, len(p.Grad), len(p.Value))
		}
		a := s.accum[p.Name]
		if a == nil {
			a = make([]float32, len(p.Value))
			s.accum[p.Name] = a
		}
		m := s.Momentum
		for i, g := range p.Grad {
			a[i] = m*a[i] + g
			p.Value[i] -= lr * a[i]
		}
	}
	return nil
}

// State returns the accumulators keyed "name/accum".
func (s *Momentum) State() map[string][]float32 {
	out := map[string][]float32{}
	for k, v := range s.accum {
		out[k+"/accum"] = v
	}
	return out
}

// SetState restores the accumulators.
func (s *Momentum) SetState(st map[string][]float32) error {
	return setSlots(s.accum, st, "accum")
}

// Adam is Kingma and Ba's Adam with TensorFlow's epsilon placement:
// lr_t = lr*sqrt(1-beta2^t)/(1-beta1^t); value -= lr_t*m/(sqrt(v)+epsilon).
type Adam struct {
	Beta1, Beta2, Epsilon float32
	t                     float64
	m, v                  map[string][]float32
}

// NewAdam returns Adam with the paper's defaults (beta1 0.9, beta2 0.999, epsilon 1e-8).
func NewAdam() *Adam {
	return &Adam{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, m: map[string][]float32{}, v: map[string][]float32{}}
}

// Step applies one Adam update.
func (s *Adam) Step(params []Param, lr float32) error {
	s.t++
	b1, b2 := float64(s.Beta1), float64(s.Beta2)
	lrt := float32(float64(lr) * math.Sqrt(1-math.Pow(b2, s.t)) / (1 - math.Pow(b1, s.t)))
	for _, p := range params {
		if len(p.Grad) != len(p.Value) {
			return fmt.Errorf("optim: %s: %d gradients for %d values", p.Name, len(p.Grad), len(p.Value))
		}
		m, v := s.m[p.Name], s.v[p.Name]
		if m == nil {
			m, v = make([]float32, len(p.Value)), make([]float32, len(p.Value))
			s.m[p.Name], s.v[p.Name] = m, v
		}
		for i, g := range p.Grad {
			m[i] = s.Beta1*m[i] + (1-s.Beta1)*g
			v[i] = s.Beta2*v[i] + (1-s.Beta2)*g*g
			p.Value[i] -= lrt * m[i] / (float32(math.Sqrt(float64(v[i]))) + s.Epsilon)
		}
	}
	return nil
}

// State returns the moments keyed "name/m" and "name/v", and the step count as "t".
func (s *Adam) State() map[string][]float32 {
	out := map[string][]float32{"t": {float32(s.t)}}
	for k, x := range s.m {
		out[k+"/m"] = x
		out[k+"/v"] = s.v[k]
	}
	return out
}

// SetState restores the moments and the step count.
func (s *Adam) SetState(st map[string][]float32) error {
	if t, ok := st["t"]; ok && len(t) == 1 {
		s.t = float64(t[0])
	}
	if err := setSlots(s.m, st, "m"); err != nil {
		return err
	}
	return setSlots(s.v, st, "v")
}

func setSlots(dst map[string][]float32, st map[string][]float32, slot string) error {
	suffix := "/" + slot
	for k, v := range st {
		if len(k) > len(suffix) && k[len(k)-len(suffix):] == suffix {
			dst[k[:len(k)-len(suffix)]] = append([]float32(nil), v...)
		}
	}
	return nil
}

// New returns the solver a preset names: "momentum" or "adam".
func New(name string, momentum float32) (Solver, error) {
	switch name {
	case "momentum":
		return NewMomentum(momentum), nil
	case "adam":
		return NewAdam(), nil
	}
	return nil, fmt.Errorf("optim: unknown optimizer %q (want momentum or adam)", name)
}
