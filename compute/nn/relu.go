package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ReLU returns max(x, 0) element by element, for x of any rank. The gradient passes where x > 0.
//
// It is one op, forward and backward, where Gorgonia's Rectify builds a comparison and a
// product (two ops and a mask tensor per call) and bumps a package-level counter that races
// when two graphs are built at once.
func ReLU(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("nn: ReLU: nil input")
	}
	return applyUnary(reluKernel{rank: x.Dims()}, x)
}

// reluKernel is the rectifier as a unaryKernel; rank is the rank of its input.
type reluKernel struct{ rank int }

func (k reluKernel) opName() string { return "ReLU" }

func (k reluKernel) describe(name string) string { return fmt.Sprintf("nn.%s(rank %d)", name, k.rank) }

func (k reluKernel) ranks() (in, out int) { return k.rank, k.rank }

func (k reluKernel) outShape(x tensor.Shape) (tensor.Shape, error) {
	if x.Dims() != k.rank {
		return nil, fmt.Errorf("input must have rank %d, got shape %v", k.rank, x)
	}
	return x.Clone(), nil
}

func (k reluKernel) forward(x, y *tensor.Dense) error {
	if x.Dtype() == tensor.Float32 {
		if !reluForwardF32(dataOf[float32](x), dataOf[float32](y)) {
			reluForward(dataOf[float32](x), dataOf[float32](y))
		}
	} else {
		reluForward(dataOf[float64](x), dataOf[float64](y))
	}
	return nil
}

func (k reluKernel) backward(x, dy, dx *tensor.Dense) error {
	if x.Dtype() == tensor.Float32 {
		if !reluBackwardF32(dataOf[float32](x), dataOf[float32](dy), dataOf[float32](dx)) {
			reluBackward(dataOf[float32](x), dataOf[float32](dy), dataOf[float32](dx))
		}
	} else {
		reluBackward(dataOf[float64](x), dataOf[float64](dy), dataOf[float64](dx))
	}
	return nil
}

// reluForward writes max(x, 0) into y.
func reluForward[T float](x, y []T) {
	parallelFor(len(x), func(_, lo, hi int) {
		for i, v := range x[lo:hi] {
			y[lo+i] = max(v, 0)
		}
	})
}

// writesGrad marks reluKernel as a gradWriter: reluBackward writes every element of dx.
func (k reluKernel) writesGrad() {}

// gradInPlace marks reluKernel as an inPlaceGrad: reluBackward reads dy[i] only for dx[i].
func (k reluKernel) gradInPlace() {}

// reluBackward writes dy into dx where x > 0 and 0 elsewhere.
func reluBackward[T float](x, dy, dx []T) {
	parallelFor(len(x), func(_, lo, hi int) {
		xs, gs, ds := x[lo:hi], dy[lo:hi], dx[lo:hi]
		gs, ds = gs[:len(xs)], ds[:len(xs)]
		for i, v := range xs {
			if v > 0 {
				ds[i] = gs[i]
			} else {
				ds[i] = 0
			}
		}
	})
}
