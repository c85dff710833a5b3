package train

import (
	"fmt"
	"math/rand/v2"

	"convas/compute/models"
	"convas/compute/optim"
)

// Network is a from-scratch CNN the loop trains: the MNIST recipe's or the CIFAR-10 recipe's.
type Network interface {
	// Build makes a graph for a batch size, bound to the weights.
	Build(batch int) (*models.Graph, error)
	// Parameters returns the weights in the order of the graph's Weights.
	Parameters() []*models.Param
	// InputShape returns the picture the network takes: channels, height, width.
	InputShape() (c, h, w int)
	// NumClasses returns the number of outputs.
	NumClasses() int
}

// MNIST adapts the MNIST recipe's network to Network.
type MNIST struct{ *models.MNISTCNN }

// Parameters returns the weights.
func (m MNIST) Parameters() []*models.Param { return m.Params }

// InputShape returns channels, height, width.
func (m MNIST) InputShape() (c, h, w int) { return m.Shape.Channels, m.Shape.Height, m.Shape.Width }

// NumClasses returns the number of outputs.
func (m MNIST) NumClasses() int { return m.Shape.Classes }

// CIFARCrop is the side of the CIFAR-10 recipe's crops, which the network takes.
const CIFARCrop = 24

// NewNetwork initialises cfg's network for pictures of c x h x w (the network's own input: for
// CIFAR-10 the 24x24 crop) and classes outputs, drawing the weights from rng.
func NewNetwork(cfg Config, c, h, w, classes int, rng *rand.Rand) (Network, error) {
	switch cfg.Recipe {
	case RecipeMNIST:
		shape := models.MNISTShape{Height: h, Width: w, Channels: c,
			Conv1: cfg.Conv1Features, Conv2: cfg.Conv2Features,
			Pool1: cfg.MaxPoolSize1, Pool2: cfg.MaxPoolSize2,
			Hidden: cfg.FullyConnectedSize1, Classes: classes}
		return MNIST{models.NewMNISTCNN(shape, rng)}, nil
	case RecipeCIFAR:
		shape := models.CIFAR10Shape{Height: h, Width: w, Channels: c,
			Conv1: cfg.Conv1Features, Conv2: cfg.Conv2Features,
			Hidden1: cfg.FullyConnectedSize1, Hidden2: cfg.FullyConnectedSize2, Classes: classes}
		if err := shape.Check(); err != nil {
			return nil, err
		}
		return models.NewCIFAR10CNN(shape, rng), nil
	}
	return nil, fmt.Errorf("train: unknown recipe %q", cfg.Recipe)
}

// NewSolver returns the solver cfg names.
func NewSolver(cfg Config) (optim.Solver, error) {
	if cfg.Optimizer == "sgd" {
		return SGD{}, nil
	}
	return optim.New(cfg.Optimizer, float32(cfg.Momentum))
}

// SGD is plain gradient descent, TensorFlow's GradientDescentOptimizer: value -= lr*grad. It has
// no state. (It lives here rather than in compute/optim, which this change does not own.)
type SGD struct{}

// Step applies one update to every parameter.
func (SGD) Step(params []optim.Param, lr float32) error {
	for _, p := range params {
		if len(p.Grad) != len(p.Value) {
			return fmt.Errorf("train: sgd: %s: %d gradients for %d values", p.Name, len(p.Grad), len(p.Value))
		}
		for i, g := range p.Grad {
			p.Value[i] -= lr * g
		}
	}
	return nil
}

// State returns no tensors: plain SGD keeps none.
func (SGD) State() map[string][]float32 { return map[string][]float32{} }

// SetState accepts only an empty state.
func (SGD) SetState(st map[string][]float32) error {
	if len(st) != 0 {
		return fmt.Errorf("train: sgd keeps no state, the checkpoint has %d solver tensors", len(st))
	}
	return nil
}
