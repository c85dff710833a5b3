package nn

import (
	"math"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveXent is the textbook definition -Σ l·log(softmax(z)) averaged over rows, with the
// softmax computed directly (fine for small logits).
func naiveXent(z, l []float64, n, k int) (loss float64, grad []float64) {
	grad = make([]float64, n*k)
	for i := 0; i < n; i++ {
		var s float64
		for j := 0; j < k; j++ {
			s += math.Exp(z[i*k+j])
		}
		for j := 0; j < k; j++ {
			p := math.Exp(z[i*k+j]) / s
			loss -= l[i*k+j] * math.Log(p)
			grad[i*k+j] = (p - l[i*k+j]) / float64(n)
		}
	}
	return loss / float64(n), grad
}

func TestSoftmaxCrossEntropyHand(t *testing.T) {
	// Row 1: logits (1, 2, 3), class 2: loss = log(e + e² + e³) - 3 = 0.4076059644...
	// Row 2: logits (1, 1, 1), class 0: loss = log 3 = 1.0986122887...
	// Mean: 0.7531091265...; gradient (softmax - labels)/2.
	z := []float64{1, 2, 3, 1, 1, 1}
	l := []float64{0, 0, 1, 1, 0, 0}
	wantLoss := (math.Log(math.E+math.Exp(2)+math.Exp(3)) - 3 + math.Log(3)) / 2
	e := []float64{math.E, math.Exp(2), math.Exp(3)}
	s := e[0] + e[1] + e[2]
	wantGrad := []float64{e[0] / s / 2, e[1] / s / 2, (e[2]/s - 1) / 2, (1.0/3 - 1) / 2, 1.0 / 6, 1.0 / 6}
	if naive, _ := naiveXent(z, l, 2, 3); !closeTo(naive, wantLoss, 1e-15) {
		t.Fatalf("hand value %v disagrees with the textbook formula %v", wantLoss, naive)
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		tol := 1e-14
		if dt == tensor.Float32 {
			tol = 1e-6
		}
		g := gorgonia.NewGraph()
		logits := leaf(g, dt, "logits", z, 2, 3)
		labels := leaf(g, dt, "labels", l, 2, 3)
		loss := must(t)(SoftmaxCrossEntropy(logits, labels))
		if !loss.IsScalar() {
			t.Fatalf("loss has shape %v", loss.Shape())
		}
		grads, err := gorgonia.Grad(loss, logits)
		if err != nil {
			t.Fatal(err)
		}
		runGraph(t, g)
		if got := scalarValue(t, loss); !closeTo(got, wantLoss, tol) {
			t.Errorf("%v: loss = %.15g, want %.15g", dt, got, wantLoss)
		}
		got := valuesOf(t, grads[0])
		for i := range wantGrad {
			if !closeTo(got[i], wantGrad[i], tol) {
				t.Errorf("%v: grad = %v, want %v", dt, got, wantGrad)
				break
			}
		}
	}
}

func TestSoftmaxCrossEntropyStable(t *testing.T) {
	// exp(1000) overflows; log-sum-exp must not. Loss = 1000 for the wrong class,
	// 0 for the right one; mean 500.
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := gorgonia.NewGraph()
		logits := leaf(g, dt, "logits", []float64{1000, 0, -1000, 1000}, 2, 2)
		labels := leaf(g, dt, "labels", []float64{0, 1, 0, 1}, 2, 2)
		loss := must(t)(SoftmaxCrossEntropy(logits, labels))
		grads, err := gorgonia.Grad(loss, logits)
		if err != nil {
			t.Fatal(err)
		}
		runGraph(t, g)
		if got := scalarValue(t, loss); got != 500 {
			t.Errorf("%v: loss = %v, want 500", dt, got)
		}
		if got, want := valuesOf(t, grads[0]), []float64{0.5, -0.5, 0, 0}; !equal(got, want) {
			t.Errorf("%v: grad = %v, want %v", dt, got, want)
		}
	}
}

func TestSoftmaxCrossEntropyMatchesNaive(t *testing.T) {
	r := newRand(8)
	n, k := 5, 7
	z := randData(r, n*k)
	l := make([]float64, n*k)
	for i := 0; i < n; i++ { // probability labels: positive rows summing to 1
		var s float64
		for j := 0; j < k; j++ {
			l[i*k+j] = r.Float64()
			s += l[i*k+j]
		}
		for j := 0; j < k; j++ {
			l[i*k+j] /= s
		}
	}
	wantLoss, wantGrad := naiveXent(z, l, n, k)
	g := gorgonia.NewGraph()
	logits := leaf(g, tensor.Float64, "logits", z, n, k)
	labels := leaf(g, tensor.Float64, "labels", l, n, k)
	loss := must(t)(SoftmaxCrossEntropy(logits, labels))
	grads, err := gorgonia.Grad(loss, logits)
	if err != nil {
		t.Fatal(err)
	}
	runGraph(t, g)
	if got := scalarValue(t, loss); !closeTo(got, wantLoss, 1e-14) {
		t.Errorf("loss = %.15g, want %.15g", got, wantLoss)
	}
	got := valuesOf(t, grads[0])
	for i := range wantGrad {
		if !closeTo(got[i], wantGrad[i], 1e-14) {
			t.Fatalf("grad[%d] = %g, want %g", i, got[i], wantGrad[i])
		}
	}
}

func TestSoftmaxCrossEntropyGradients(t *testing.T) {
	cases := []struct {
		name   string
		labels func(n, k int) []float64
	}{
		{"one-hot", func(n, k int) []float64 {
			l := make([]float64, n*k)
			for i := 0; i < n; i++ {
				l[i*k+(3*i+1)%k] = 1
			}
			return l
		}},
		{"unnormalised", func(n, k int) []float64 { // rows not summing to 1: exact gradient
			l := randData(newRand(9), n*k)
			for i := range l {
				l[i] = math.Abs(l[i])
			}
			return l
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(40)
				n, k := 4, 5
				z := leaf(g, tensor.Float64, "logits", randData(r, n*k), n, k)
				l := leaf(g, tensor.Float64, "labels", c.labels(n, k), n, k)
				loss := must(t)(SoftmaxCrossEntropy(z, l))
				// Scale the loss so the incoming gradient is not 1.
				three := gorgonia.NewConstant(3.0, gorgonia.WithName("three"))
				return must(t)(gorgonia.Mul(loss, three)), gorgonia.Nodes{z}
			})
		})
	}
}

func TestSoftmaxCrossEntropyRejectsBadShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	r := newRand(10)
	z := randLeaf(g, r, tensor.Float64, "z", 3, 4)
	for _, l := range []*gorgonia.Node{
		randLeaf(g, r, tensor.Float64, "l1", 3, 5),
		randLeaf(g, r, tensor.Float64, "l2", 12),
		randLeaf(g, r, tensor.Float32, "l3", 3, 4),
	} {
		if _, err := SoftmaxCrossEntropy(z, l); err == nil {
			t.Errorf("labels %v %v: no error", l.Dtype(), l.Shape())
		}
	}
}

func TestSoftmaxCrossEntropyLabelsGetNoGradient(t *testing.T) {
	g := gorgonia.NewGraph()
	r := newRand(12)
	z := randLeaf(g, r, tensor.Float64, "z", 2, 3)
	l := randLeaf(g, r, tensor.Float64, "l", 2, 3)
	loss := must(t)(SoftmaxCrossEntropy(z, l))
	if _, err := gorgonia.Grad(loss, l); err == nil {
		t.Error("Grad with respect to the labels succeeded")
	}
}
