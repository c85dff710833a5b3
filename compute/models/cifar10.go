package models

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/nn"
)

// CIFAR10Shape is the CIFAR-10 recipe's network (TensorFlow Machine Learning Cookbook,
// "Implementing an Advanced CNN", after TensorFlow's cifar10 tutorial): two blocks of 5x5 'SAME'
// convolution with bias and ReLU, 3x3 max-pool at stride 2 'SAME' and local response
// normalisation, then dense layers with ReLU to Hidden1 and Hidden2 units and a dense output.
type CIFAR10Shape struct {
	Height, Width, Channels int // input picture, the pipeline's crop (24x24x3)
	Conv1, Conv2            int // filters of the two 5x5 convolutions (64, 64)
	Hidden1, Hidden2        int // widths of the two hidden dense layers (384, 192)
	Classes                 int // outputs (10)
}

// CIFAR10Recipe returns the recipe's shape.
func CIFAR10Recipe() CIFAR10Shape {
	return CIFAR10Shape{Height: 24, Width: 24, Channels: 3, Conv1: 64, Conv2: 64, Hidden1: 384, Hidden2: 192, Classes: 10}
}

// The recipe's fixed hyperparameters.
const (
	cifarKernel   = 5    // convolution window
	cifarPool     = 3    // max-pool window
	cifarStride   = 2    // max-pool stride
	cifarLRNDepth = 5    // tf.nn.lrn depth_radius
	cifarLRNBias  = 2.0  // bias
	cifarLRNAlpha = 1e-3 // alpha (TensorFlow's: applied to the plain sum of squares)
	cifarLRNBeta  = 0.75 // beta
	cifarInitStd  = 0.05 // truncated_normal_initializer stddev of every weight
)

// CIFAR10CNN is the CIFAR-10 recipe's network: its shape and its weights.
type CIFAR10CNN struct {
	Shape  CIFAR10Shape
	Params []*Param // conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b, fc3_w, fc3_b
}

// pooled returns the side after one 'SAME' max-pool at stride 2.
func pooled(n int) int { return ceilDiv(n, cifarStride) }

// flatSize returns the number of features entering the first dense layer (6x6x64 = 2304).
func (s CIFAR10Shape) flatSize() int {
	return pooled(pooled(s.Height)) * pooled(pooled(s.Width)) * s.Conv2
}

// Check reports a shape the network cannot be built with.
func (s CIFAR10Shape) Check() error {
	for _, v := range []int{s.Height, s.Width, s.Channels, s.Conv1, s.Conv2, s.Hidden1, s.Hidden2, s.Classes} {
		if v <= 0 {
			return fmt.Errorf("models: CIFAR-10 network shape %+v has a size that is not positive", s)
		}
	}
	return nil
}

// NewCIFAR10CNN initialises the network as the recipe does: every weight from a truncated normal
// of standard deviation 0.05, every bias zero. Filters are (out, in, 5, 5); dense weights are
// (in, out).
func NewCIFAR10CNN(s CIFAR10Shape, rng *rand.Rand) *CIFAR10CNN {
	w := func(name string, shape ...int) *Param {
		q := &Param{Name: name, Shape: shape}
		q.Data = TruncatedNormal(rng, q.Len(), cifarInitStd)
		return q
	}
	b := func(name string, n int) *Param { return &Param{Name: name, Shape: []int{n}, Data: make([]float32, n)} }
	k := cifarKernel
	return &CIFAR10CNN{Shape: s, Params: []*Param{
		w("conv1_w", s.Conv1, s.Channels, k, k), b("conv1_b", s.Conv1),
		w("conv2_w", s.Conv2, s.Conv1, k, k), b("conv2_b", s.Conv2),
		w("fc1_w", s.flatSize(), s.Hidden1), b("fc1_b", s.Hidden1),
		w("fc2_w", s.Hidden1, s.Hidden2), b("fc2_b", s.Hidden2),
		w("fc3_w", s.Hidden2, s.Classes), b("fc3_b", s.Classes),
	}}
}

// Parameters returns the weights in the order of Graph.Weights.
func (m *CIFAR10CNN) Parameters() []*Param { return m.Params }

// InputShape returns the picture the network takes: channels, height, width.
func (m *CIFAR10CNN) InputShape() (c, h, w int) {
	return m.Shape.Channels, m.Shape.Height, m.Shape.Width
}

// NumClasses returns the number of outputs.
func (m *CIFAR10CNN) NumClasses() int { return m.Shape.Classes }

// Layers lists the network's layers in order. Kind is "conv" (a convolution with its bias and
// ReLU), "maxpool", "lrn" or "dense" (with ReLU but for the last).
func (m *CIFAR10CNN) Layers() []LayerInfo {
	s := m.Shape
	return []LayerInfo{
		{Name: "conv1", Kind: "conv", Channels: s.Conv1}, {Name: "pool1", Kind: "maxpool", Channels: s.Conv1},
		{Name: "norm1", Kind: "lrn", Channels: s.Conv1},
		{Name: "conv2", Kind: "conv", Channels: s.Conv2}, {Name: "pool2", Kind: "maxpool", Channels: s.Conv2},
		{Name: "norm2", Kind: "lrn", Channels: s.Conv2},
		{Name: "fc1", Kind: "dense", Channels: s.Hidden1}, {Name: "fc2", Kind: "dense", Channels: s.Hidden2},
		{Name: "fc3", Kind: "dense", Channels: s.Classes},
	}
}

// Build makes a graph of the network for the given batch size, bound to the model's weights.
// Every block's output shape is checked; a mismatch names the layer.
func (m *CIFAR10CNN) Build(batch int) (*Graph, error) {
	s := m.Shape
	if err := s.Check(); err != nil {
		return nil, err
	}
	g := G.NewGraph()
	w := make([]*G.Node, len(m.Params))
	for i, p := range m.Params {
		w[i] = G.NewTensor(g, tensor.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(p.Tensor()))
	}
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, s.Channels, s.Height, s.Width), G.WithName("input"))

	// block is conv 5x5 SAME + bias + ReLU, max-pool 3x3 stride 2 SAME, LRN.
	block := func(n int, in, filt, bias *G.Node) (*G.Node, error) {
		wrap := func(layer string, err error) error { return fmt.Errorf("models: %s%d: %w", layer, n, err) }
		h, wd := in.Shape()[2], in.Shape()[3]
		c, err := nn.Conv2DBiasReLU(in, filt, bias, nn.Same(h, wd, cifarKernel, cifarKernel, 1, 1), 1, 1, nn.ConvDirect)
		if err != nil {
			return nil, wrap("conv", err)
		}
		if err := expect(fmt.Sprint("conv", n), c, batch, filt.Shape()[0], h, wd); err != nil {
			return nil, err
		}
		p, err := nn.MaxPool2D(c, cifarPool, cifarPool, cifarStride, cifarStride, nn.Same(h, wd, cifarPool, cifarPool, cifarStride, cifarStride))
		if err != nil {
			return nil, wrap("pool", err)
		}
		if err := expect(fmt.Sprint("pool", n), p, batch, filt.Shape()[0], pooled(h), pooled(wd)); err != nil {
			return nil, err
		}
		out, err := nn.LRN(p, cifarLRNDepth, cifarLRNBias, cifarLRNAlpha, cifarLRNBeta)
		if err != nil {
			return nil, wrap("norm", err)
		}
		return out, nil
	}
	h1, err := block(1, x, w[0], w[1])
	if err != nil {
		return nil, err
	}
	h2, err := block(2, h1, w[2], w[3])
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
	f2, err := dense("fc2", f1, w[6], w[7], true)
	if err != nil {
		return nil, err
	}
	logits, err := dense("fc3", f2, w[8], w[9], false)
	if err != nil {
		return nil, err
	}
	if err := expect("fc3", logits, batch, s.Classes); err != nil {
		return nil, err
	}
	return &Graph{G: g, Input: x, Logits: logits, Weights: w}, nil
}

// StepFLOPs counts one training step at batch n, 2 FLOPs per multiply-add of the convolutions and
// dense layers: the forward pass, the gradient to every weight, and the gradient to the input of
// every layer but the first. Pools, LRN, bias and ReLU are left out.
func (s CIFAR10Shape) StepFLOPs(n int) float64 {
	k2 := float64(cifarKernel * cifarKernel)
	p1h, p1w := pooled(s.Height), pooled(s.Width)
	conv1 := 2 * float64(n*s.Conv1*s.Height*s.Width) * float64(s.Channels) * k2
	conv2 := 2 * float64(n*s.Conv2*p1h*p1w) * float64(s.Conv1) * k2
	fc := 2 * float64(n) * float64(s.flatSize()*s.Hidden1+s.Hidden1*s.Hidden2+s.Hidden2*s.Classes)
	fwd := conv1 + conv2 + fc
	return fwd + fwd + (fwd - conv1)
}
