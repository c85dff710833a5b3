package transfer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"

	"convas/compute/models"
	"convas/compute/optim"
)

// Head is the new classifier trained on bottlenecks: logits = relu(x·W1 + b1)·W2 + b2 with a
// hidden layer, logits = x·W2 + b2 without one (retrain.py's final_training_ops), and a softmax.
//
// It is written over plain slices with gonum's BLAS rather than as a Gorgonia graph: it is two
// matrix products (OpenBLAS, or gonum's BLAS in a pure-Go build), the bottlenecks never need the backbone again, and a step is then a few
// microseconds of arithmetic instead of a graph run with its allocations.
type Head struct {
	In, Hidden, Classes int
	// W1 (In x Hidden) and B1 (Hidden) are empty without a hidden layer. W2 is (Hidden or In) x
	// Classes, B2 is Classes; all row-major.
	W1, B1, W2, B2 []float32
}

// FinalStddev is retrain.py's initial standard deviation of the final layer's weights (a
// truncated normal); its biases start at zero.
const FinalStddev = 0.001

// NewHead returns a head with its initial weights drawn from rng: the final layer as retrain.py
// has it, a hidden layer (which retrain.py has not) with He's truncated normal, stddev
// sqrt(2/in), and zero biases.
func NewHead(in, hidden, classes int, rng *rand.Rand) (*Head, error) {
	if in <= 0 || hidden < 0 || classes < 2 {
		return nil, fmt.Errorf("transfer: head of %d inputs, %d hidden units and %d classes: need inputs, no negative hidden units and two classes", in, hidden, classes)
	}
	h := &Head{In: in, Hidden: hidden, Classes: classes}
	last := in
	if hidden > 0 {
		h.W1 = models.TruncatedNormal(rng, in*hidden, math.Sqrt(2/float64(in)))
		h.B1 = make([]float32, hidden)
		last = hidden
	}
	h.W2 = models.TruncatedNormal(rng, last*classes, FinalStddev)
	h.B2 = make([]float32, classes)
	return h, nil
}

// check reports a head whose slices do not match its sizes (a damaged or hand-made one).
func (h *Head) check() error {
	last := h.In
	if h.Hidden > 0 {
		last = h.Hidden
	}
	switch {
	case h.In <= 0 || h.Hidden < 0 || h.Classes < 2:
		return fmt.Errorf("transfer: head of %d inputs, %d hidden units and %d classes", h.In, h.Hidden, h.Classes)
	case len(h.W1) != h.In*h.Hidden || len(h.B1) != h.Hidden:
		return fmt.Errorf("transfer: hidden layer has %d weights and %d biases for %dx%d", len(h.W1), len(h.B1), h.In, h.Hidden)
	case len(h.W2) != last*h.Classes || len(h.B2) != h.Classes:
		return fmt.Errorf("transfer: final layer has %d weights and %d biases for %dx%d", len(h.W2), len(h.B2), last, h.Classes)
	}
	return nil
}

// params lists the head's tensors with gradient slices for a solver.
func (h *Head) params() []optim.Param {
	var ps []optim.Param
	add := func(name string, v []float32) {
		ps = append(ps, optim.Param{Name: name, Value: v, Grad: make([]float32, len(v))})
	}
	if h.Hidden > 0 {
		add("hidden/weights", h.W1)
		add("hidden/biases", h.B1)
	}
	add("final/weights", h.W2)
	add("final/biases", h.B2)
	return ps
}

// pass holds one batch's activations, kept for the backward pass.
type pass struct {
	n      int
	x      []float32 // n x In
	hidden []float32 // n x Hidden, after the ReLU
	probs  []float32 // n x Classes, softmax
}

// forward computes the class probabilities of n bottlenecks laid out row after row in x.
func (h *Head) forward(x []float32, n int) *pass {
	p := &pass{n: n, x: x}
	a, k := x, h.In
	if h.Hidden > 0 {
		p.hidden = affine(x, n, h.In, h.W1, h.B1, h.Hidden)
		for i, v := range p.hidden {
			p.hidden[i] = max(v, 0)
		}
		a, k = p.hidden, h.Hidden
	}
	p.probs = affine(a, n, k, h.W2, h.B2, h.Classes)
	for i := 0; i < n; i++ {
		softmax(p.probs[i*h.Classes : (i+1)*h.Classes])
	}
	return p
}

// affine returns x·w + b for x (n x k), w (k x m), b (m).
func affine(x []float32, n, k int, w, b []float32, m int) []float32 {
	y := make([]float32, n*m)
	for i := 0; i < n; i++ {
		copy(y[i*m:(i+1)*m], b)
	}
	bl.Sgemm(blas.NoTrans, blas.NoTrans, n, m, k, 1, x, k, w, m, 1, y, m)
	return y
}

// softmax turns logits into probabilities in place, in float64 for the sum.
func softmax(z []float32) {
	hi := z[0]
	for _, v := range z {
		hi = max(hi, v)
	}
	var s float64
	for i, v := range z {
		e := math.Exp(float64(v - hi))
		z[i] = float32(e)
		s += e
	}
	for i := range z {
		z[i] = float32(float64(z[i]) / s)
	}
}

// loss returns the mean cross-entropy of the pass against labels and how many it got right.
func (p *pass) loss(labels []int, classes int) (float64, int) {
	var l float64
	right := 0
	for i, y := range labels {
		row := p.probs[i*classes : (i+1)*classes]
		l -= math.Log(max(float64(row[y]), 1e-30))
		if argmax(row) == y {
			right++
		}
	}
	return l / float64(len(labels)), right
}

// backward writes the gradients of the mean cross-entropy into ps (in params order).
func (h *Head) backward(p *pass, labels []int, ps []optim.Param) {
	n, c := p.n, h.Classes
	dz := make([]float32, n*c) // (softmax - onehot) / n
	for i, y := range labels {
		for j := 0; j < c; j++ {
			dz[i*c+j] = p.probs[i*c+j] / float32(n)
		}
		dz[i*c+y] -= 1 / float32(n)
	}
	a, k := p.x, h.In
	final := ps
	if h.Hidden > 0 {
		a, k = p.hidden, h.Hidden
		final = ps[2:]
	}
	// final/weights = aᵀ·dz, final/biases = column sums of dz.
	bl.Sgemm(blas.Trans, blas.NoTrans, k, c, n, 1, a, k, dz, c, 0, final[0].Grad, c)
	colSums(dz, n, c, final[1].Grad)
	if h.Hidden == 0 {
		return
	}
	// Back through the ReLU: da = dz·W2ᵀ where the unit was active.
	da := make([]float32, n*k)
	bl.Sgemm(blas.NoTrans, blas.Trans, n, k, c, 1, dz, c, h.W2, c, 0, da, k)
	for i, v := range p.hidden {
		if v <= 0 {
			da[i] = 0
		}
	}
	bl.Sgemm(blas.Trans, blas.NoTrans, h.In, k, n, 1, p.x, h.In, da, k, 0, ps[0].Grad, k)
	colSums(da, n, k, ps[1].Grad)
}

func colSums(x []float32, n, m int, out []float32) {
	clear(out)
	for i := 0; i < n; i++ {
		for j, v := range x[i*m : (i+1)*m] {
			out[j] += v
		}
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Probabilities returns the head's class probabilities for one bottleneck.
func (h *Head) Probabilities(features []float32) ([]float32, error) {
	if len(features) != h.In {
		return nil, fmt.Errorf("transfer: %d features for a head of %d inputs", len(features), h.In)
	}
	return h.forward(features, 1).probs, nil
}
