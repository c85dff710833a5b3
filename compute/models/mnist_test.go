package models

import (
	"math/rand/v2"
	"testing"
)

func recipeShape() MNISTShape {
	return MNISTShape{Height: 28, Width: 28, Channels: 1, Conv1: 25, Conv2: 50, Pool1: 2, Pool2: 2, Hidden: 100, Classes: 10}
}

// TestLayerShapes checks every layer's output against the recipe's: 28x28x25 after conv1,
// 14x14x25 after pool1, 14x14x50 after conv2, 7x7x50 after pool2, 100 and 10 after the dense layers.
func TestLayerShapes(t *testing.T) {
	m := NewMNISTCNN(recipeShape(), rand.New(rand.NewPCG(1, 2)))
	g, err := m.Build(3)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{
		"conv1_w": {25, 1, 4, 4}, "conv2_w": {50, 25, 4, 4}, "fc1_w": {7 * 7 * 50, 100}, "fc2_w": {100, 10},
	}
	for _, p := range m.Params {
		if w, ok := want[p.Name]; ok && !equal(p.Shape, w) {
			t.Errorf("%s: %v, want %v", p.Name, p.Shape, w)
		}
	}
	if !equal(g.Logits.Shape(), []int{3, 10}) {
		t.Errorf("logits %v", g.Logits.Shape())
	}
	// Walk the graph for the intermediate shapes by op name.
	for _, s := range [][]int{{3, 25, 28, 28}, {3, 25, 14, 14}, {3, 50, 14, 14}, {3, 50, 7, 7}, {3, 100}} {
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
}

func TestOddPools(t *testing.T) {
	// 'SAME' pools of 3 shrink 28 to 10 and then to 4.
	s := recipeShape()
	s.Pool1, s.Pool2 = 3, 3
	m := NewMNISTCNN(s, rand.New(rand.NewPCG(1, 2)))
	if _, err := m.Build(2); err != nil {
		t.Fatal(err)
	}
	if m.Params[4].Shape[0] != 4*4*50 {
		t.Errorf("fc1 input %d, want %d", m.Params[4].Shape[0], 4*4*50)
	}
}

func TestTruncatedNormal(t *testing.T) {
	v := TruncatedNormal(rand.New(rand.NewPCG(3, 4)), 100000, 0.1)
	var sum, sq float64
	for _, x := range v {
		if x < -0.2 || x > 0.2 {
			t.Fatalf("value %v beyond two standard deviations", x)
		}
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	mean := sum / float64(len(v))
	std := sq/float64(len(v)) - mean*mean
	// A normal truncated at 2 sigma has standard deviation 0.8796 sigma.
	if mean > 0.002 || mean < -0.002 || std < 0.0877*0.0877*0.97 || std > 0.0877*0.0877*1.03 {
		t.Errorf("mean %v variance %v", mean, std)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
