package optim

import (
	"errors"
	"fmt"
	"math"
)

// ErrNoProgress reports a line search that found no point lower than the start along the search
// direction within its evaluations: the objective is flat there to its precision, or the
// direction is poor. The point and its gradient are left as they were.
var ErrNoProgress = errors.New("optim: lbfgs: no decrease along the search direction")

// Objective computes f(x) and writes the gradient of f at x into grad (of len(x)).
type Objective func(x, grad []float64) (float64, error)

// LBFGS is the limited-memory BFGS method (Liu and Nocedal, "On the limited memory BFGS method
// for large scale optimization", 1989) as Nocedal and Wright's Numerical Optimization (2nd ed.)
// gives it: the search direction from the two-loop recursion over the last M pairs of steps and
// gradient changes (algorithm 7.4, with the initial scaling of equation 7.20), and a line search
// for the strong Wolfe conditions (algorithms 3.5 and 3.6, with cubic interpolation).
//
// It works in float64 over one flat vector. Its state is the pairs kept; Reset forgets them, as a
// caller must when the objective changes.
type LBFGS struct {
	// M is the number of pairs kept: 10.
	M int
	// C1 and C2 are the Wolfe constants of sufficient decrease and curvature: 1e-4 and 0.9.
	C1, C2 float64
	// MaxEvals is the most evaluations one line search may make: 20.
	MaxEvals int
	// InitialStep sets the first step, taken without curvature information (at the first
	// iteration and after Reset): 0 takes a step of min(1, 1/Σ|g|) along -g, as Torch's
	// optim.lbfgs does; a positive value takes the step that changes no value by more than it.
	InitialStep float64

	s, y   [][]float64 // the last M steps x_{k+1}-x_k and gradient changes g_{k+1}-g_k, oldest first
	rho    []float64   // 1/(yᵀs) of each pair
	d      []float64   // the search direction
	xt, gt []float64   // the line search's trial point and its gradient
}

// NewLBFGS returns L-BFGS with the usual settings: M 10, C1 1e-4, C2 0.9, 20 evaluations per
// line search.
func NewLBFGS() *LBFGS { return &LBFGS{M: 10, C1: 1e-4, C2: 0.9, MaxEvals: 20} }

// Reset forgets the pairs kept: the next step is a steepest-descent one with the initial step.
func (l *LBFGS) Reset() { l.s, l.y, l.rho = nil, nil, nil }

// Step makes one iteration from x, where f is fx and the gradient g: it moves x to the point the
// line search accepts, overwrites g with the gradient there, and returns f there and the number
// of evaluations made. When Step returns without error, its last call of f was at the new x (a
// caller may keep what that call computed besides f). On ErrNoProgress, x and g are unchanged.
func (l *LBFGS) Step(f Objective, x []float64, fx float64, g []float64) (float64, int, error) {
	n := len(x)
	if len(g) != n {
		return fx, 0, fmt.Errorf("optim: lbfgs: %d gradients for %d values", len(g), n)
	}
	if len(l.d) != n {
		l.d, l.xt, l.gt = make([]float64, n), make([]float64, n), make([]float64, n)
		l.Reset()
	}
	dg := l.direction(g)
	if !(dg < 0) { // not a descent direction: the pairs mislead; start again from -g
		l.Reset()
		dg = l.direction(g)
	}
	if dg == 0 {
		return fx, 0, nil // a stationary point
	}
	alpha := 1.0
	if len(l.s) == 0 {
		alpha = l.firstStep(g)
	}
	fnew, evals, err := l.lineSearch(f, x, fx, g, dg, alpha)
	if err != nil {
		return fx, evals, err
	}
	l.remember(x, g)
	copy(x, l.xt)
	copy(g, l.gt)
	return fnew, evals, nil
}

// firstStep is the step length along d = -g when there is no curvature information.
func (l *LBFGS) firstStep(g []float64) float64 {
	var sum, most float64
	for _, v := range g {
		sum += math.Abs(v)
		most = max(most, math.Abs(v))
	}
	if l.InitialStep > 0 {
		return l.InitialStep / most
	}
	return min(1, 1/sum)
}

// direction sets l.d to -H·g by the two-loop recursion and returns dᵀg.
func (l *LBFGS) direction(g []float64) float64 {
	q := l.d
	copy(q, g)
	k := len(l.s)
	a := make([]float64, k)
	for i := k - 1; i >= 0; i-- {
		a[i] = l.rho[i] * dot(l.s[i], q)
		axpy(-a[i], l.y[i], q)
	}
	if k > 0 {
		gamma := dot(l.s[k-1], l.y[k-1]) / dot(l.y[k-1], l.y[k-1])
		for i := range q {
			q[i] *= gamma
		}
	}
	for i := range k {
		b := l.rho[i] * dot(l.y[i], q)
		axpy(a[i]-b, l.s[i], q)
	}
	for i := range q {
		q[i] = -q[i]
	}
	return dot(q, g)
}

// remember keeps the pair of the step from x (gradient g) to l.xt (gradient l.gt), unless its
// curvature yᵀs is not clearly positive, and drops the oldest pair beyond M.
func (l *LBFGS) remember(x, g []float64) {
	var sy, ss, yy float64
	for i := range x {
		si, yi := l.xt[i]-x[i], l.gt[i]-g[i]
		sy, ss, yy = sy+si*yi, ss+si*si, yy+yi*yi
	}
	if !(sy > 1e-10*math.Sqrt(ss*yy)) {
		return
	}
	var s, y []float64
	if len(l.s) >= max(l.M, 1) { // reuse the oldest pair's vectors
		s, y = l.s[0], l.y[0]
		l.s, l.y, l.rho = l.s[1:], l.y[1:], l.rho[1:]
	} else {
		s, y = make([]float64, len(x)), make([]float64, len(x))
	}
	for i := range x {
		s[i], y[i] = l.xt[i]-x[i], l.gt[i]-g[i]
	}
	l.s, l.y, l.rho = append(l.s, s), append(l.y, y), append(l.rho, 1/sy)
}

// lineSearch finds a step length along l.d from x satisfying the strong Wolfe conditions,
// starting with alpha (algorithm 3.5): it widens the step while the function keeps falling and
// its slope stays steep, then zooms into the bracket found. It leaves the accepted point and its
// gradient in l.xt and l.gt, as the last evaluation, and returns f there.
func (l *LBFGS) lineSearch(f Objective, x []float64, f0 float64, g []float64, dg0, alpha float64) (float64, int, error) {
	ls := lineSearch{l: l, f: f, x: x, f0: f0, dg0: dg0, best: math.Inf(1)}
	prev := point{0, f0, dg0}
	for i := 0; ; i++ {
		cur, err := ls.eval(alpha)
		if err != nil {
			return f0, ls.evals, err
		}
		switch {
		case !ls.armijo(cur) || (i > 0 && cur.f >= prev.f):
			return ls.zoom(prev, cur)
		case math.Abs(cur.dg) <= -l.C2*dg0:
			return cur.f, ls.evals, nil
		case cur.dg >= 0:
			return ls.zoom(cur, prev)
		}
		if ls.evals >= l.MaxEvals {
			return ls.fallBack()
		}
		prev, alpha = cur, 2*alpha
	}
}

// point is a step length with f and the slope along the direction there.
type point struct{ a, f, dg float64 }

// lineSearch is the state of one line search.
type lineSearch struct {
	l           *LBFGS
	f           Objective
	x           []float64
	f0, dg0     float64
	evals       int
	best, bestA float64 // the lowest f seen that satisfies sufficient decrease, and its step
}

// eval evaluates f at x + a·d into l.xt and l.gt.
func (ls *lineSearch) eval(a float64) (point, error) {
	l := ls.l
	for i, xi := range ls.x {
		l.xt[i] = xi + a*l.d[i]
	}
	ls.evals++
	fa, err := ls.f(l.xt, l.gt)
	if err != nil {
		return point{}, err
	}
	p := point{a, fa, dot(l.gt, l.d)}
	if ls.armijo(p) && fa < ls.best {
		ls.best, ls.bestA = fa, a
	}
	return p, nil
}

// armijo reports whether p satisfies the condition of sufficient decrease.
func (ls *lineSearch) armijo(p point) bool {
	return p.f <= ls.f0+ls.l.C1*p.a*ls.dg0 && !math.IsNaN(p.f)
}

// zoom narrows the bracket between lo (the lower end in f, satisfying sufficient decrease) and
// hi until a step satisfies the strong Wolfe conditions (algorithm 3.6).
func (ls *lineSearch) zoom(lo, hi point) (float64, int, error) {
	for ls.evals < ls.l.MaxEvals {
		cur, err := ls.eval(cubicMin(lo, hi))
		if err != nil {
			return ls.f0, ls.evals, err
		}
		switch {
		case !ls.armijo(cur) || cur.f >= lo.f:
			hi = cur
		case math.Abs(cur.dg) <= -ls.l.C2*ls.dg0:
			return cur.f, ls.evals, nil
		default:
			if cur.dg*(hi.a-lo.a) >= 0 {
				hi = lo
			}
			lo = cur
		}
		if math.Abs(hi.a-lo.a) <= 1e-12*max(math.Abs(lo.a), 1e-300) {
			break
		}
	}
	return ls.fallBack()
}

// fallBack ends a line search that ran out of evaluations: it accepts the lowest point seen
// that satisfies sufficient decrease, evaluating it again so that it is the last evaluation, or
// reports ErrNoProgress.
func (ls *lineSearch) fallBack() (float64, int, error) {
	if math.IsInf(ls.best, 1) {
		return ls.f0, ls.evals, ErrNoProgress
	}
	p, err := ls.eval(ls.bestA)
	if err != nil {
		return ls.f0, ls.evals, err
	}
	return p.f, ls.evals, nil
}

// cubicMin returns the minimiser of the cubic that interpolates f and its slope at a and b
// (Nocedal and Wright, equation 3.59), kept at least a tenth of the interval from either end;
// bisection where the cubic has no minimum.
func cubicMin(a, b point) float64 {
	d1 := a.dg + b.dg - 3*(a.f-b.f)/(a.a-b.a)
	sq := d1*d1 - a.dg*b.dg
	lo, hi := min(a.a, b.a), max(a.a, b.a)
	mid := (lo + hi) / 2
	if !(sq >= 0) {
		return mid
	}
	d2 := math.Copysign(math.Sqrt(sq), b.a-a.a)
	t := b.a - (b.a-a.a)*(b.dg+d2-d1)/(b.dg-a.dg+2*d2)
	margin := 0.1 * (hi - lo)
	if !(t >= lo+margin && t <= hi-margin) {
		return mid
	}
	return t
}

// Minimize runs Step from x until the largest gradient component is at most gtol or maxIter
// iterations have run, and returns f at the final x (which it leaves in x) and the iterations
// run. ErrNoProgress ends it early with the point reached and that error.
func (l *LBFGS) Minimize(f Objective, x []float64, maxIter int, gtol float64) (float64, int, error) {
	g := make([]float64, len(x))
	fx, err := f(x, g)
	if err != nil {
		return fx, 0, err
	}
	for it := 0; it < maxIter; it++ {
		if maxAbs(g) <= gtol {
			return fx, it, nil
		}
		if fx, _, err = l.Step(f, x, fx, g); err != nil {
			return fx, it, err
		}
	}
	return fx, maxIter, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// axpy adds a·x to y.
func axpy(a float64, x, y []float64) {
	for i, v := range x {
		y[i] += a * v
	}
}

func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}
