package models

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/nn"
)

// TestCIFAR10Shapes checks every block against the recipe: 24x24x64 after conv1, 12x12x64 after
// pool1 and norm1, 12x12x64 after conv2, 6x6x64 after pool2, then 384, 192 and 10.
func TestCIFAR10Shapes(t *testing.T) {
	m := NewCIFAR10CNN(CIFAR10Recipe(), rand.New(rand.NewPCG(1, 2)))
	want := map[string][]int{
		"conv1_w": {64, 3, 5, 5}, "conv1_b": {64}, "conv2_w": {64, 64, 5, 5}, "conv2_b": {64},
		"fc1_w": {6 * 6 * 64, 384}, "fc1_b": {384}, "fc2_w": {384, 192}, "fc2_b": {192}, "fc3_w": {192, 10}, "fc3_b": {10},
	}
	if len(m.Params) != len(want) {
		t.Fatalf("%d parameters, want %d", len(m.Params), len(want))
	}
	for _, p := range m.Params {
		if !equal(p.Shape, want[p.Name]) {
			t.Errorf("%s: %v, want %v", p.Name, p.Shape, want[p.Name])
		}
	}
	g, err := m.Build(2)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(g.Logits.Shape(), []int{2, 10}) || !equal(g.Input.Shape(), []int{2, 3, 24, 24}) {
		t.Errorf("input %v logits %v", g.Input.Shape(), g.Logits.Shape())
	}
	for _, s := range [][]int{{2, 64, 24, 24}, {2, 64, 12, 12}, {2, 64, 6, 6}, {2, 2304}, {2, 384}, {2, 192}} {
		found := false
		for _, n := range g.G.AllNodes() {
			if equal(n.Shape(), s) {
				found = true
			}
		}
		if !found {
			t.Errorf("no layer of shape %v in the graph", s)
		}
	}
	if l := m.Layers(); len(l) != 9 || l[2].Kind != "lrn" || l[6].Channels != 384 {
		t.Errorf("layers %+v", l)
	}
}

// TestCIFAR10Init checks the recipe's initialisation: biases zero, weights a normal of stddev
// 0.05 truncated at two standard deviations (whose own stddev is 0.05 x 0.8796).
func TestCIFAR10Init(t *testing.T) {
	m := NewCIFAR10CNN(CIFAR10Recipe(), rand.New(rand.NewPCG(7, 8)))
	for _, p := range m.Params {
		if len(p.Shape) == 1 {
			for _, v := range p.Data {
				if v != 0 {
					t.Fatalf("%s is not zero", p.Name)
				}
			}
			continue
		}
		var sq float64
		for _, v := range p.Data {
			if v < -0.1 || v > 0.1 {
				t.Fatalf("%s: %v beyond two standard deviations", p.Name, v)
			}
			sq += float64(v) * float64(v)
		}
		if std := math.Sqrt(sq / float64(len(p.Data))); p.Len() > 10000 && math.Abs(std-0.05*0.8796) > 0.002 {
			t.Errorf("%s: stddev %.4f, want %.4f", p.Name, std, 0.05*0.8796)
		}
	}
}

// TestCIFAR10StepFLOPs compares the count with one worked out by hand: per picture, conv1
// 24·24·64·3·25 = 2,764,800 multiply-adds, conv2 12·12·64·64·25 = 14,745,600, the dense layers
// 2304·384 + 384·192 + 192·10 = 960,384; a step is three passes less conv1's input gradient.
func TestCIFAR10StepFLOPs(t *testing.T) {
	fwd := 2.0 * (2764800 + 14745600 + 960384)
	want := 128 * (3*fwd - 2*2764800)
	if got := CIFAR10Recipe().StepFLOPs(128); got != want {
		t.Errorf("%.0f FLOPs, want %.0f", got, want)
	}
}

// TestCIFAR10LossFalls trains the network, three outputs, with plain SGD at the recipe's 0.1 on
// three classes of coloured pictures (a red, green or blue square on noise at a random place) and
// checks that the loss starts near ln 3 and falls to less than half of it within 40 steps.
func TestCIFAR10LossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	s := CIFAR10Recipe()
	// The recipe's widths (a narrow copy stalls at ln 3 for hundreds of steps: with weights of
	// stddev 0.05 its logits barely move), on 16x16 pictures to keep the test short.
	s.Height, s.Width, s.Classes = 16, 16, 3
	m := NewCIFAR10CNN(s, rand.New(rand.NewPCG(3, 4)))
	const batch = 16
	g, err := m.Build(batch)
	if err != nil {
		t.Fatal(err)
	}
	labels := G.NewMatrix(g.G, tensor.Float32, G.WithShape(batch, 3), G.WithName("labels"))
	loss, err := nn.SoftmaxCrossEntropy(g.Logits, labels)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(loss, g.Weights...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g.G)
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, batch*3*16*16)
	y := make([]float32, batch*3)
	var losses []float64
	steps := 40
	for step := 0; step < steps; step++ {
		clear(y)
		for i := 0; i < batch; i++ {
			k := r.IntN(3)
			y[i*3+k] = 1
			img := x[i*768 : (i+1)*768]
			for j := range img {
				img[j] = r.Float32() - 0.5
			}
			y0, x0 := r.IntN(10), r.IntN(10)
			for yy := y0; yy < y0+6; yy++ {
				for xx := x0; xx < x0+6; xx++ {
					img[k*256+yy*16+xx] += 2
				}
			}
		}
		G.Let(g.Input, tensor.New(tensor.WithShape(batch, 3, 16, 16), tensor.WithBacking(x)))
		G.Let(labels, tensor.New(tensor.WithShape(batch, 3), tensor.WithBacking(y)))
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		losses = append(losses, float64(loss.Value().Data().(float32)))
		for i, p := range m.Params {
			for j, gv := range grads[i].Value().Data().([]float32) {
				p.Data[j] -= 0.1 * gv
			}
		}
		vm.Reset()
	}
	if math.Abs(losses[0]-math.Log(3)) > 0.2 {
		t.Errorf("first loss %.3f, want near ln 3 = 1.099", losses[0])
	}
	var last float64
	for _, l := range losses[steps-10:] {
		last += l / 10
	}
	if !(last < 0.5*losses[0]) {
		t.Errorf("loss went from %.3f to %.3f over %d steps; want it at least halved", losses[0], last, steps)
	}
}
