package nn

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tensorType is the Gorgonia type of a float tensor of the given rank, with element type 'a'.
func tensorType(dims int) gorgonia.TensorType {
	return gorgonia.TensorType{Dims: dims, Of: hm.TypeVariable('a')}
}

// nodeDtype returns the element type of a node, or an error when it is not float32 or float64.
func nodeDtype(n *gorgonia.Node) (tensor.Dtype, error) {
	if n == nil {
		return tensor.Dtype{}, fmt.Errorf("nil node")
	}
	var t hm.Type
	switch nt := n.Type().(type) {
	case gorgonia.TensorType:
		t = nt.Of
	case *gorgonia.TensorType:
		t = nt.Of
	default:
		t = nt
	}
	dt, ok := t.(tensor.Dtype)
	if !ok || (dt != tensor.Float32 && dt != tensor.Float64) {
		return tensor.Dtype{}, fmt.Errorf("node %v has type %v; want float32 or float64", n, n.Type())
	}
	return dt, nil
}

// checkNodes checks that every node is a float32 or float64 tensor and that all agree.
func checkNodes(ns ...*gorgonia.Node) error {
	var first tensor.Dtype
	for i, n := range ns {
		dt, err := nodeDtype(n)
		if err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
		if i == 0 {
			first = dt
		} else if dt != first {
			return fmt.Errorf("input %d is %v but input 0 is %v", i, dt, first)
		}
	}
	return nil
}

// denseInputs checks the number of inputs and converts each to a float *tensor.Dense of one
// shared dtype.
func denseInputs(name string, want int, inputs []gorgonia.Value) ([]*tensor.Dense, error) {
	if len(inputs) != want {
		return nil, fmt.Errorf("nn: %s: expected %d inputs, got %d", name, want, len(inputs))
	}
	ds := make([]*tensor.Dense, want)
	for i, v := range inputs {
		d, err := denseOf(v, fmt.Sprintf("input %d", i))
		if err != nil {
			return nil, fmt.Errorf("nn: %s: %w", name, err)
		}
		ds[i] = d
	}
	if err := sameDtype(ds...); err != nil {
		return nil, fmt.Errorf("nn: %s: %w", name, err)
	}
	return ds, nil
}

// inferShapes checks the number of shapes InferShape received and returns them.
func inferShapes(name string, want int, inputs []gorgonia.DimSizer) ([]tensor.Shape, error) {
	if len(inputs) != want {
		return nil, fmt.Errorf("nn: %s: expected %d input shapes, got %d", name, want, len(inputs))
	}
	ss := make([]tensor.Shape, want)
	for i, d := range inputs {
		s, err := shapeOf(d)
		if err != nil {
			return nil, fmt.Errorf("nn: %s: input %d: %w", name, i, err)
		}
		ss[i] = s
	}
	return ss, nil
}

// result returns the tensor an op writes into: prealloc when it is given (and fits), a new one
// otherwise.
func result(name string, prealloc gorgonia.Value, dt tensor.Dtype, shape tensor.Shape) (*tensor.Dense, error) {
	if prealloc == nil {
		return newLike(dt, shape), nil
	}
	p, err := checkPrealloc(prealloc, dt, shape)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", name, err)
	}
	return p, nil
}

// doDiff implements ADOp.DoDiff for an op whose input gradients grads computes from the input
// values and the output gradient; a nil gradient means the input gets none.
func doDiff(name string, inputs gorgonia.Nodes, output *gorgonia.Node, grads func(vals []gorgonia.Value, dy gorgonia.Value) ([]gorgonia.Value, error)) error {
	dy, err := output.Grad()
	if err != nil {
		return fmt.Errorf("nn: %s: DoDiff: output gradient: %w", name, err)
	}
	vals := make([]gorgonia.Value, len(inputs))
	for i, n := range inputs {
		vals[i] = n.Value()
	}
	gs, err := grads(vals, dy)
	if err != nil {
		return fmt.Errorf("nn: %s: DoDiff: %w", name, err)
	}
	for i, g := range gs {
		if g == nil {
			continue
		}
		if err := accumulateGrad(inputs[i], g); err != nil {
			return fmt.Errorf("nn: %s: DoDiff: input %d: %w", name, i, err)
		}
	}
	return nil
}
