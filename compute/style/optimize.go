package style

import (
	"errors"

	"convas/compute/optim"
)

// optimizer makes one step on the picture.
type optimizer interface {
	// step moves img (in place) one step down the loss of p under the weights w and returns
	// the losses of the picture it started from.
	step(p *problem, img *Image, w Weights) (Losses, error)
}

// newOptimizer returns the optimiser cfg names for a picture of n values.
func newOptimizer(cfg Config, n int) optimizer {
	if cfg.Optimizer == "lbfgs" {
		l := optim.NewLBFGS()
		l.InitialStep = cfg.LearningRate
		return &lbfgsStep{l: l, x: make([]float64, n), g: make([]float64, n)}
	}
	a := optim.NewAdam()
	a.Beta1, a.Beta2 = float32(cfg.Beta1), float32(cfg.Beta2)
	return &adamStep{adam: a, lr: float32(cfg.LearningRate), x: make([]float64, n), g: make([]float64, n), g32: make([]float32, n)}
}

// adamStep is the recipe's optimiser: Adam on the pixels, TensorFlow's AdamOptimizer.
type adamStep struct {
	adam *optim.Adam
	lr   float32
	x, g []float64
	g32  []float32
}

func (a *adamStep) step(p *problem, img *Image, w Weights) (Losses, error) {
	for i, v := range img.Pix {
		a.x[i] = float64(v)
	}
	l, err := p.eval(a.x, w, a.g)
	if err != nil {
		return l, err
	}
	for i, v := range a.g {
		a.g32[i] = float32(v)
	}
	return l, a.adam.Step([]optim.Param{{Name: "image", Value: img.Pix, Grad: a.g32}}, a.lr)
}

// lbfgsStep is L-BFGS on the pixels. It keeps the loss and gradient of the picture between
// steps; a change of weights changes the objective, so it evaluates again and forgets the
// curvature pairs, which belong to the old objective.
type lbfgsStep struct {
	l      *optim.LBFGS
	x, g   []float64
	losses Losses // at x under w
	w      Weights
	have   bool
}

func (s *lbfgsStep) step(p *problem, img *Image, w Weights) (Losses, error) {
	if !s.have || !sameWeights(w, s.w) {
		for i, v := range img.Pix {
			s.x[i] = float64(v)
		}
		l, err := p.eval(s.x, w, s.g)
		if err != nil {
			return l, err
		}
		if s.have {
			s.l.Reset()
		}
		s.losses, s.w, s.have = l, w, true
	}
	before := s.losses
	last := before
	f := func(x, g []float64) (float64, error) {
		l, err := p.eval(x, w, g)
		last = l
		return l.Total, err
	}
	_, _, err := s.l.Step(f, s.x, before.Total, s.g)
	switch {
	case errors.Is(err, optim.ErrNoProgress):
		// Flat to float32's precision along the direction: forget the pairs and try steepest
		// descent next time; the picture stays.
		s.l.Reset()
		return before, nil
	case err != nil:
		return before, err
	}
	s.losses = last
	for i, v := range s.x {
		img.Pix[i] = float32(v)
	}
	return before, nil
}

// sameWeights reports whether two sets of weights are equal.
func sameWeights(a, b Weights) bool {
	if a.Content != b.Content || a.Style != b.Style || a.TV != b.TV ||
		len(a.ContentLayers) != len(b.ContentLayers) || len(a.StyleLayers) != len(b.StyleLayers) {
		return false
	}
	for l, v := range a.ContentLayers {
		if bv, ok := b.ContentLayers[l]; !ok || bv != v {
			return false
		}
	}
	for l, v := range a.StyleLayers {
		if bv, ok := b.StyleLayers[l]; !ok || bv != v {
			return false
		}
	}
	return true
}
