package nn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SoftmaxCrossEntropy returns the scalar mean over the batch of the softmax cross-entropy of logits (N,K) against one-hot (or probability) labels (N,K); numerically stable (log-sum-exp); gradient (softmax - labels)/N to logits; labels get no gradient.
//
// The loss is (1/N) Σ_n Σ_k labels[n,k]·(logsumexp(logits[n]) - logits[n,k]). For label rows
// that do not sum to 1 the gradient is the exact one, (softmax·Σ_k labels[n,k] - labels)/N.
func SoftmaxCrossEntropy(logits, labels *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkNodes(logits, labels); err != nil {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropy: %w", err)
	}
	if err := checkXentShapes(logits.Shape(), labels.Shape()); err != nil {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropy: %w", err)
	}
	y, err := gorgonia.ApplyOp(softmaxXentOp{}, logits, labels)
	if err != nil {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropy: %w", err)
	}
	return y, nil
}

// checkXentShapes checks that logits and labels are matrices of one shape.
func checkXentShapes(logits, labels tensor.Shape) error {
	if logits.Dims() != 2 || logits[0] <= 0 || logits[1] <= 0 {
		return fmt.Errorf("logits must be a non-empty (N, K) matrix, got shape %v", logits)
	}
	if !labels.Eq(logits) {
		return fmt.Errorf("labels have shape %v, logits %v", labels, logits)
	}
	return nil
}

// logSumExp returns log Σ exp(z), shifted by the maximum so that nothing overflows.
func logSumExp[T float](z []T) float64 {
	m := float64(z[0])
	for _, v := range z[1:] {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// xentLoss returns the mean softmax cross-entropy of the rows of z against those of l.
func xentLoss[T float](n, k int, z, l []T) float64 {
	var total float64
	for i := 0; i < n; i++ {
		zr, lr := z[i*k:(i+1)*k], l[i*k:(i+1)*k]
		lse := logSumExp(zr)
		for j, v := range zr {
			if lr[j] != 0 {
				total += float64(lr[j]) * (lse - float64(v))
			}
		}
	}
	return total / float64(n)
}

// xentGrad writes dz = g·(softmax(z)·Σ l - l)/N, row by row.
func xentGrad[T float](n, k int, z, l, dz []T, g float64) {
	scale := g / float64(n)
	for i := 0; i < n; i++ {
		zr, lr, dr := z[i*k:(i+1)*k], l[i*k:(i+1)*k], dz[i*k:(i+1)*k]
		lse := logSumExp(zr)
		var s float64
		for _, v := range lr {
			s += float64(v)
		}
		for j, v := range zr {
			dr[j] = T(scale * (math.Exp(float64(v)-lse)*s - float64(lr[j])))
		}
	}
}

// softmaxXentOp is the mean softmax cross-entropy: (logits, labels) → scalar.
type softmaxXentOp struct{}

var (
	_ gorgonia.SDOp = softmaxXentOp{}
	_ gorgonia.ADOp = softmaxXentOp{}
)

// Arity is 2: logits and labels.
func (op softmaxXentOp) Arity() int { return 2 }

// Type is Matrix a → Matrix a → a.
func (op softmaxXentOp) Type() hm.Type {
	t := tensorType(2)
	return hm.NewFnType(t, t, hm.TypeVariable('a'))
}

// InferShape returns the scalar shape.
func (op softmaxXentOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("SoftmaxCrossEntropy", 2, inputs)
	if err != nil {
		return nil, err
	}
	if err := checkXentShapes(ss[0], ss[1]); err != nil {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropy: %w", err)
	}
	return tensor.ScalarShape(), nil
}

// Do computes the loss as a *gorgonia.F32 or *gorgonia.F64.
func (op softmaxXentOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("SoftmaxCrossEntropy", 2, inputs)
	if err != nil {
		return nil, err
	}
	z, l := in[0], in[1]
	if err := checkXentShapes(z.Shape(), l.Shape()); err != nil {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropy: %w", err)
	}
	n, k := z.Shape()[0], z.Shape()[1]
	if z.Dtype() == tensor.Float32 {
		return gorgonia.NewF32(float32(xentLoss(n, k, dataOf[float32](z), dataOf[float32](l)))), nil
	}
	return gorgonia.NewF64(xentLoss(n, k, dataOf[float64](z), dataOf[float64](l))), nil
}

// ReturnsPtr is false: the output is a new value.
func (op softmaxXentOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op softmaxXentOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op softmaxXentOp) OverwritesInput() int { return -1 }

// WriteHash writes the op's name; it has no parameters.
func (op softmaxXentOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op's name.
func (op softmaxXentOp) Hashcode() uint32 { return hashString(op.String()) }

// String names the op.
func (op softmaxXentOp) String() string { return "nn.SoftmaxCrossEntropy" }

// DiffWRT is true for the logits only.
func (op softmaxXentOp) DiffWRT(inputs int) []bool { return []bool{true, false} }

// SymDiff returns the gradient node for the logits, computed from (logits, labels, grad),
// and nil for the labels.
func (op softmaxXentOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropy: SymDiff: expected 2 inputs, got %d", len(inputs))
	}
	dz, err := gorgonia.ApplyOp(&softmaxXentGradOp{}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropy: SymDiff: %w", err)
	}
	return gorgonia.Nodes{dz, nil}, nil
}

// DoDiff adds the gradient for the logits into their derivative (gorgonia.LispMachine).
func (op softmaxXentOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	return doDiff("SoftmaxCrossEntropy", inputs, output, func(vals []gorgonia.Value, dy gorgonia.Value) ([]gorgonia.Value, error) {
		if len(vals) != 2 {
			return nil, fmt.Errorf("expected 2 inputs, got %d", len(vals))
		}
		dz, err := (&softmaxXentGradOp{}).Do(vals[0], vals[1], dy)
		if err != nil {
			return nil, err
		}
		return []gorgonia.Value{dz, nil}, nil
	})
}

// softmaxXentGradOp is the gradient of the loss with respect to the logits:
// (logits, labels, dloss) → dlogits.
type softmaxXentGradOp struct{ outCache }

var _ gorgonia.UsePreallocDoer = (*softmaxXentGradOp)(nil)

// Arity is 3: logits, labels and the scalar gradient of the loss.
func (op *softmaxXentGradOp) Arity() int { return 3 }

// Type is Matrix a → Matrix a → a → Matrix a.
func (op *softmaxXentGradOp) Type() hm.Type {
	t := tensorType(2)
	return hm.NewFnType(t, t, hm.TypeVariable('a'), t)
}

// InferShape returns the shape of the logits.
func (op *softmaxXentGradOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropyGrad: expected 3 input shapes, got %d", len(inputs))
	}
	// The third input, the scalar gradient of the loss, may be any DimSizer.
	ss, err := inferShapes("SoftmaxCrossEntropyGrad", 2, inputs[:2])
	if err != nil {
		return nil, err
	}
	if err := checkXentShapes(ss[0], ss[1]); err != nil {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropyGrad: %w", err)
	}
	return ss[0].Clone(), nil
}

// Do computes the logits' gradient.
func (op *softmaxXentGradOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo computes the logits' gradient into prealloc.
func (op *softmaxXentGradOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *softmaxXentGradOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropyGrad: expected 3 inputs, got %d", len(inputs))
	}
	in, err := denseInputs("SoftmaxCrossEntropyGrad", 2, inputs[:2])
	if err != nil {
		return nil, err
	}
	z, l := in[0], in[1]
	if err := checkXentShapes(z.Shape(), l.Shape()); err != nil {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropyGrad: %w", err)
	}
	g, err := scalarOf(inputs[2])
	if err != nil {
		return nil, fmt.Errorf("nn: SoftmaxCrossEntropyGrad: loss gradient: %w", err)
	}
	dz, err := op.result("SoftmaxCrossEntropyGrad", prealloc, z.Dtype(), z.Shape())
	if err != nil {
		return nil, err
	}
	n, k := z.Shape()[0], z.Shape()[1]
	if z.Dtype() == tensor.Float32 {
		xentGrad(n, k, dataOf[float32](z), dataOf[float32](l), dataOf[float32](dz), g)
	} else {
		xentGrad(n, k, dataOf[float64](z), dataOf[float64](l), dataOf[float64](dz), g)
	}
	return dz, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *softmaxXentGradOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *softmaxXentGradOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *softmaxXentGradOp) OverwritesInput() int { return -1 }

// WriteHash writes the op's name; it has no parameters.
func (op *softmaxXentGradOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op's name.
func (op *softmaxXentGradOp) Hashcode() uint32 { return hashString(op.String()) }

// String names the op.
func (op *softmaxXentGradOp) String() string { return "nn.SoftmaxCrossEntropyGrad" }
