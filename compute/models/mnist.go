package models

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/nn"
)

// MNISTShape is the recipe network's architecture: two 4x4 'SAME' convolutions with ReLU and
// max-pooling, a hidden dense layer with ReLU and a dense output layer.
type MNISTShape struct {
	Height, Width, Channels int // input picture (28x28x1)
	Conv1, Conv2            int // filters of the two convolutions (25, 50)
	Pool1, Pool2            int // window and stride of the two max-pools (2, 2)
	Hidden                  int // width of the hidden dense layer (100)
	Classes                 int // outputs (10)
}

// MNISTCNN is the MNIST recipe's network: its shape and its weights.
type MNISTCNN struct {
	Shape  MNISTShape
	Params []*Param // conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b
}

// flatSize returns the number of features entering the first dense layer.
func (s MNISTShape) flatSize() int {
	h := ceilDiv(ceilDiv(s.Height, s.Pool1), s.Pool2)
	w := ceilDiv(ceilDiv(s.Width, s.Pool1), s.Pool2)
	return h * w * s.Conv2
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// NewMNISTCNN initialises the network as the recipe does: every weight from a truncated normal of
// standard deviation 0.1, the convolution biases zero, the dense biases truncated normal too.
func NewMNISTCNN(s MNISTShape, rng *rand.Rand) *MNISTCNN {
	const std = 0.1
	p := func(name string, init bool, shape ...int) *Param {
		q := &Param{Name: name, Shape: shape}
		if init {
			q.Data = TruncatedNormal(rng, q.Len(), std)
		} else {
			q.Data = make([]float32, q.Len())
		}
		return q
	}
	return &MNISTCNN{Shape: s, Params: []*Param{
		p("conv1_w", true, s.Conv1, s.Channels, 4, 4),
		p("conv1_b", false, s.Conv1),
		p("conv2_w", true, s.Conv2, s.Conv1, 4, 4),
		p("conv2_b", false, s.Conv2),
		p("fc1_w", true, s.flatSize(), s.Hidden),
		p("fc1_b", true, s.Hidden),
		p("fc2_w", true, s.Hidden, s.Classes),
		p("fc2_b", true, s.Classes),
	}}
}

// Graph is one network instance for a fixed batch size: its input, its logits and the weight
// nodes in the order of MNISTCNN.Params.
type Graph struct {
	G       *G.ExprGraph
	Input   *G.Node // (batch, channels, height, width)
	Logits  *G.Node // (batch, classes)
	Weights []*G.Node
}

// Build makes a graph of the network for the given batch size, bound to the model's weights.
// Every block's output shape is checked; a mismatch names the layer.
func (m *MNISTCNN) Build(batch int) (*Graph, error) {
	s := m.Shape
	g := G.NewGraph()
	w := make([]*G.Node, len(m.Params))
	for i, p := range m.Params {
		w[i] = G.NewTensor(g, tensor.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(p.Tensor()))
	}
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, s.Channels, s.Height, s.Width), G.WithName("input"))

	block := func(name string, in, filt, bias *G.Node, pool int) (*G.Node, error) {
		h, wd := in.Shape()[2], in.Shape()[3]
		c, err := nn.Conv2DBiasReLU(in, filt, bias, nn.Same(h, wd, 4, 4, 1, 1), 1, 1, nn.ConvDirect)
		if err != nil {
			return nil, fmt.Errorf("models: %s: %w", name, err)
		}
		ch, cw := c.Shape()[2], c.Shape()[3]
		return nn.MaxPool2D(c, pool, pool, pool, pool, nn.Same(ch, cw, pool, pool, pool, pool))
	}
	h1, err := block("conv1", x, w[0], w[1], s.Pool1)
	if err != nil {
		return nil, err
	}
	if err := expect("pool1", h1, batch, s.Conv1, ceilDiv(s.Height, s.Pool1), ceilDiv(s.Width, s.Pool1)); err != nil {
		return nil, err
	}
	h2, err := block("conv2", h1, w[2], w[3], s.Pool2)
	if err != nil {
		return nil, err
	}
	flat, err := G.Reshape(h2, tensor.Shape{batch, s.flatSize()})
	if err != nil {
		return nil, fmt.Errorf("models: flatten %v: %w", h2.Shape(), err)
	}
	f1, err := dense("fc1", flat, w[4], w[5], true)
	if err != nil {
		return nil, err
	}
	logits, err := dense("fc2", f1, w[6], w[7], false)
	if err != nil {
		return nil, err
	}
	if err := expect("fc2", logits, batch, s.Classes); err != nil {
		return nil, err
	}
	return &Graph{G: g, Input: x, Logits: logits, Weights: w}, nil
}

// dense is a fully connected layer: in (batch, k) times wt (k, m) on this build's BLAS, plus the
// bias b (m), then a ReLU when relu is set.
func dense(name string, in, wt, b *G.Node, relu bool) (*G.Node, error) {
	out, err := nn.MatMul(in, wt)
	if err == nil {
		out, err = nn.AddBias(out, b)
	}
	if err == nil && relu {
		out, err = nn.ReLU(out)
	}
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", name, err)
	}
	return out, nil
}

func expect(layer string, n *G.Node, want ...int) error {
	got := []int(n.Shape())
	if len(got) != len(want) {
		return &ShapeError{layer, got, want}
	}
	for i := range got {
		if got[i] != want[i] {
			return &ShapeError{layer, got, want}
		}
	}
	return nil
}
