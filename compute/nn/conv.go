package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/gpu"
)

// Conv2D convolves x (N,C,H,W) with filters w (O,C,KH,KW), explicit padding and strides: the
// cross-correlation TensorFlow and Caffe compute. Output (N,O,OH,OW).
//
// OH = (H + pad.Top + pad.Bottom - KH)/strideH + 1, and likewise OW. Both x and w receive
// gradients.
//
// In the default cgo build, float32 convolutions (all three passes) run through oneDNN
// (conv_dnnl.go); float64 ones, and float32 ones in the purego build, run on im2col and GEMM
// (convkernels.go). Results agree to float32 rounding: oneDNN sums in another order.
func Conv2D(x, w *gorgonia.Node, pad Padding, strideH, strideW int) (*gorgonia.Node, error) {
	return Conv2DAlgo(x, w, pad, strideH, strideW, ConvDirect)
}

// ConvAlgorithm chooses how the oneDNN backend computes a float32 convolution. Other backends
// (float64, the purego build) ignore it.
type ConvAlgorithm int

const (
	// ConvDirect is the direct convolution, the default.
	ConvDirect ConvAlgorithm = iota
	// ConvWinograd computes 3x3 convolutions at stride 1 with Winograd's F(4x4, 3x3) where it
	// is faster: oneDNN's Winograd on AVX-512 machines (all three passes), and elsewhere
	// compute/wino's for the forward pass and the gradient to the input, on the shapes where
	// wino.Faster measured it ahead of oneDNN's direct kernels (the gradient to the filter stays
	// direct). Other kernels and strides run the direct convolution. On two cores of an AVX-512
	// Xeon oneDNN's ran VGG-sized 3x3 layers 1.6 to 2.6 times as fast as the direct convolution
	// in all three passes (the 512-channel filter gradient varied from 0.9 to 1.7 times), and its
	// results were within 2e-6 of the largest output, where the direct convolution's were within
	// 4e-7; compute/wino's are within about 5e-6 (its package comment; 8e-6 at worst over its
	// tests' random shapes). Off by default; VGG19, GoogLeNet and Inception v3 ask for it.
	ConvWinograd
)

// String names the algorithm.
func (a ConvAlgorithm) String() string {
	switch a {
	case ConvDirect:
		return "direct"
	case ConvWinograd:
		return "winograd"
	}
	return fmt.Sprintf("ConvAlgorithm(%d)", int(a))
}

// Conv2DAlgo is Conv2D with a choice of algorithm for the oneDNN backend; its gradients use the
// same choice.
func Conv2DAlgo(x, w *gorgonia.Node, pad Padding, strideH, strideW int, algo ConvAlgorithm) (*gorgonia.Node, error) {
	if err := checkNodes(x, w); err != nil {
		return nil, fmt.Errorf("nn: Conv2D: %w", err)
	}
	if _, err := newConvGeom(x.Shape(), w.Shape(), pad, strideH, strideW); err != nil {
		return nil, fmt.Errorf("nn: Conv2D: %w", err)
	}
	if algo != ConvDirect && algo != ConvWinograd {
		return nil, fmt.Errorf("nn: Conv2D: unknown algorithm %v", algo)
	}
	y, err := gorgonia.ApplyOp(&conv2DOp{convParams: convParams{pad: pad, sh: strideH, sw: strideW, algo: algo}}, x, w)
	if err != nil {
		return nil, fmt.Errorf("nn: Conv2D: %w", err)
	}
	return y, nil
}

// Conv2DBias is Conv2D followed by AddBias: x (N,C,H,W) convolved with w (O,C,KH,KW), plus b (O)
// on every output channel, as one op. In the default cgo build the bias is added inside
// oneDNN's convolution (float32), so the output is written once instead of twice. x, w and b
// receive gradients; b's is the output gradient summed over all axes but the channels.
func Conv2DBias(x, w, b *gorgonia.Node, pad Padding, strideH, strideW int) (*gorgonia.Node, error) {
	return Conv2DBiasAlgo(x, w, b, pad, strideH, strideW, ConvDirect)
}

// Conv2DBiasAlgo is Conv2DBias with a choice of algorithm for the oneDNN backend, as for
// Conv2DAlgo.
func Conv2DBiasAlgo(x, w, b *gorgonia.Node, pad Padding, strideH, strideW int, algo ConvAlgorithm) (*gorgonia.Node, error) {
	p, err := checkConvBias("Conv2DBias", x, w, b, pad, strideH, strideW, algo)
	if err != nil {
		return nil, err
	}
	y, err := gorgonia.ApplyOp(&conv2DOp{convParams: p, bias: true}, x, w, b)
	if err != nil {
		return nil, fmt.Errorf("nn: Conv2DBias: %w", err)
	}
	return y, nil
}

// Conv2DBiasReLU is ReLU(Conv2DBiasAlgo(x, w, b, ...)) as one op: the rectifier is applied in
// the convolution's own loop (a oneDNN post-op, or compute/wino's output transform) instead of in
// a pass of its own over the output. Its gradient masks the output gradient where the output is
// zero (where the sum before the rectifier was not positive) and then takes the convolution's
// three gradients, as ReLU after Conv2DBias does.
func Conv2DBiasReLU(x, w, b *gorgonia.Node, pad Padding, strideH, strideW int, algo ConvAlgorithm) (*gorgonia.Node, error) {
	pre, err := checkConvBias("Conv2DBiasReLU", x, w, b, pad, strideH, strideW, algo)
	if err != nil {
		return nil, err
	}
	y, err := gorgonia.ApplyOp(&conv2DOp{convParams: pre, bias: true, relu: true}, x, w, b)
	if err != nil {
		return nil, fmt.Errorf("nn: Conv2DBiasReLU: %w", err)
	}
	return y, nil
}

// checkConvBias checks the arguments of the convolutions with a bias.
func checkConvBias(name string, x, w, b *gorgonia.Node, pad Padding, strideH, strideW int, algo ConvAlgorithm) (convParams, error) {
	if err := checkNodes(x, w, b); err != nil {
		return convParams{}, fmt.Errorf("nn: %s: %w", name, err)
	}
	if _, err := newConvGeom(x.Shape(), w.Shape(), pad, strideH, strideW); err != nil {
		return convParams{}, fmt.Errorf("nn: %s: %w", name, err)
	}
	if bs := b.Shape(); bs.Dims() != 1 || bs[0] != w.Shape()[0] {
		return convParams{}, fmt.Errorf("nn: %s: bias has shape %v, want (%d)", name, bs, w.Shape()[0])
	}
	if algo != ConvDirect && algo != ConvWinograd {
		return convParams{}, fmt.Errorf("nn: %s: unknown algorithm %v", name, algo)
	}
	return convParams{pad: pad, sh: strideH, sw: strideW, algo: algo}, nil
}

// convParams are the parameters shared by the convolution and its two backward ops.
type convParams struct {
	pad    Padding
	sh, sw int
	algo   ConvAlgorithm
}

// describe names an op of the convolution family with all its parameters.
func (p convParams) describe(name string) string {
	if p.algo != ConvDirect {
		return fmt.Sprintf("nn.%s{pad: %v, stride: (%d, %d), algo: %v}", name, p.pad, p.sh, p.sw, p.algo)
	}
	return fmt.Sprintf("nn.%s{pad: %v, stride: (%d, %d)}", name, p.pad, p.sh, p.sw)
}

// geom checks the input and filter shapes against p.
func (p convParams) geom(x, w tensor.Shape) (convGeom, error) {
	return newConvGeom(x, w, p.pad, p.sh, p.sw)
}

// conv2DOp is the forward convolution: (x, w) → y, or with bias (x, w, b) → y.
type conv2DOp struct {
	convParams
	outCache
	placeSlot
	bias bool
	relu bool // with bias only: ReLU of the output, fused
	kept keptFilter
}

var (
	_ gorgonia.SDOp            = (*conv2DOp)(nil)
	_ gorgonia.ADOp            = (*conv2DOp)(nil)
	_ gorgonia.UsePreallocDoer = (*conv2DOp)(nil)
)

// Arity is 2: input and filters; 3 with the bias.
func (op *conv2DOp) Arity() int {
	if op.bias {
		return 3
	}
	return 2
}

// Type is Tensor-4 a → Tensor-4 a → Tensor-4 a, with a Tensor-1 a before the result when the op
// has a bias.
func (op *conv2DOp) Type() hm.Type {
	t := tensorType(4)
	if op.bias {
		return hm.NewFnType(t, t, tensorType(1), t)
	}
	return hm.NewFnType(t, t, t)
}

// InferShape returns (N, O, OH, OW).
func (op *conv2DOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := inferShapes("Conv2D", op.Arity(), inputs)
	if err != nil {
		return nil, err
	}
	g, err := op.geom(ss[0], ss[1])
	if err != nil {
		return nil, fmt.Errorf("nn: Conv2D: %w", err)
	}
	return g.outShape(), nil
}

// Do convolves.
func (op *conv2DOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) { return op.do(nil, inputs) }

// UsePreallocDo convolves into prealloc.
func (op *conv2DOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *conv2DOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	in, err := denseInputs("Conv2D", op.Arity(), inputs)
	if err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	g, err := op.geom(x.Shape(), w.Shape())
	if err != nil {
		return nil, fmt.Errorf("nn: Conv2D: %w", err)
	}
	if op.bias {
		if bs := in[2].Shape(); bs.Dims() != 1 || bs[0] != g.o {
			return nil, fmt.Errorf("nn: Conv2DBias: bias has shape %v, want (%d)", bs, g.o)
		}
	}
	y, err := op.result("Conv2D", prealloc, x.Dtype(), g.outShape())
	if err != nil {
		return nil, err
	}
	if op.pl.on(x) {
		if err := op.pl.convOn(&g, op.bias, op.relu, in, y); err != nil {
			return nil, op.pl.fail("Conv2D", err)
		}
		return y, nil
	}
	switch {
	case x.Dtype() == tensor.Float32 && op.bias:
		conv32Bias(op.algo, &g, dataOf[float32](x), dataOf[float32](w), dataOf[float32](in[2]), dataOf[float32](y), op.relu, &op.kept)
	case x.Dtype() == tensor.Float32:
		conv32(op.algo, passForward, &g, dataOf[float32](x), dataOf[float32](w), dataOf[float32](y), &op.kept)
	case op.bias:
		convForward(&g, dataOf[float64](x), dataOf[float64](w), dataOf[float64](y))
		addBias(g.outShape(), dataOf[float64](y), dataOf[float64](in[2]), dataOf[float64](y))
		if op.relu {
			reluForward(dataOf[float64](y), dataOf[float64](y))
		}
	default:
		convForward(&g, dataOf[float64](x), dataOf[float64](w), dataOf[float64](y))
	}
	return y, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *conv2DOp) ReturnsPtr() bool { return false }

// CallsExtern is false: BLAS and oneDNN calls finish before Do returns.
func (op *conv2DOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *conv2DOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and all its parameters.
func (op *conv2DOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and all its parameters.
func (op *conv2DOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op and its parameters; with a bias or a fused ReLU it still begins
// "nn.Conv2D{", which the memory and FLOP estimates of the recipes look for.
func (op *conv2DOp) String() string {
	s := op.describe("Conv2D")
	if op.bias {
		s = s[:len(s)-1] + ", bias}"
	}
	if op.relu {
		s = s[:len(s)-1] + ", relu}"
	}
	return s
}

// DiffWRT is true for every input.
func (op *conv2DOp) DiffWRT(inputs int) []bool {
	if op.bias {
		return []bool{true, true, true}
	}
	return []bool{true, true}
}

// SymDiff returns the gradient nodes for x and w, each computed from (x, w, grad).
func (op *conv2DOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != op.Arity() {
		return nil, fmt.Errorf("nn: Conv2D: SymDiff: expected %d inputs, got %d", op.Arity(), len(inputs))
	}
	x, w := inputs[0], inputs[1]
	if op.relu {
		// The output is zero exactly where the sum before the rectifier was not positive, so
		// ReLU's backward op, given the output, masks the gradient as given that sum.
		dz, err := gorgonia.ApplyOp(&unaryBackOp{k: reluKernel{rank: 4}}, output, grad)
		if err != nil {
			return nil, fmt.Errorf("nn: Conv2D: SymDiff: rectifier gradient: %w", err)
		}
		grad = dz
	}
	dx, err := gorgonia.ApplyOp(&conv2DBackDataOp{convParams: op.convParams}, x, w, grad)
	if err != nil {
		return nil, fmt.Errorf("nn: Conv2D: SymDiff: input gradient: %w", err)
	}
	dw, err := gorgonia.ApplyOp(&conv2DBackFilterOp{convParams: op.convParams}, x, w, grad)
	if err != nil {
		return nil, fmt.Errorf("nn: Conv2D: SymDiff: filter gradient: %w", err)
	}
	if !op.bias {
		return gorgonia.Nodes{dx, dw}, nil
	}
	db, err := gorgonia.ApplyOp(&biasGradOp{dims: 4}, grad)
	if err != nil {
		return nil, fmt.Errorf("nn: Conv2D: SymDiff: bias gradient: %w", err)
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// DoDiff adds the gradients for x and w into their derivatives (gorgonia.LispMachine).
func (op *conv2DOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	return doDiff("Conv2D", inputs, output, func(vals []gorgonia.Value, dy gorgonia.Value) ([]gorgonia.Value, error) {
		if len(vals) != op.Arity() {
			return nil, fmt.Errorf("expected %d inputs, got %d", op.Arity(), len(vals))
		}
		if op.relu {
			dz, err := (&unaryBackOp{k: reluKernel{rank: 4}}).Do(output.Value(), dy)
			if err != nil {
				return nil, err
			}
			dy = dz
		}
		dx, err := (&conv2DBackDataOp{convParams: op.convParams}).Do(vals[0], vals[1], dy)
		if err != nil {
			return nil, err
		}
		dw, err := (&conv2DBackFilterOp{convParams: op.convParams}).Do(vals[0], vals[1], dy)
		if err != nil {
			return nil, err
		}
		if !op.bias {
			return []gorgonia.Value{dx, dw}, nil
		}
		db, err := (&biasGradOp{dims: 4}).Do(dy)
		if err != nil {
			return nil, err
		}
		return []gorgonia.Value{dx, dw, db}, nil
	})
}

// backInputs checks the inputs (x, w, dy) of a backward convolution op.
func (p convParams) backInputs(name string, inputs []gorgonia.Value) (x, w, dy *tensor.Dense, g convGeom, err error) {
	in, err := denseInputs(name, 3, inputs)
	if err != nil {
		return nil, nil, nil, g, err
	}
	x, w, dy = in[0], in[1], in[2]
	if g, err = p.geom(x.Shape(), w.Shape()); err != nil {
		return nil, nil, nil, g, fmt.Errorf("nn: %s: %w", name, err)
	}
	if !dy.Shape().Eq(g.outShape()) {
		return nil, nil, nil, g, fmt.Errorf("nn: %s: output gradient has shape %v, want %v", name, dy.Shape(), g.outShape())
	}
	return x, w, dy, g, nil
}

// backShapes checks the shapes (x, w, dy) given to a backward convolution op's InferShape.
func (p convParams) backShapes(name string, inputs []gorgonia.DimSizer) ([]tensor.Shape, error) {
	ss, err := inferShapes(name, 3, inputs)
	if err != nil {
		return nil, err
	}
	g, err := p.geom(ss[0], ss[1])
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", name, err)
	}
	if !ss[2].Eq(g.outShape()) {
		return nil, fmt.Errorf("nn: %s: output gradient has shape %v, want %v", name, ss[2], g.outShape())
	}
	return ss, nil
}

// conv2DBackDataOp is the gradient of the convolution with respect to its input:
// (x, w, dy) → dx. Only the shape of x is read.
type conv2DBackDataOp struct {
	convParams
	outCache
	placeSlot
	kept keptFilter
}

var _ gorgonia.UsePreallocDoer = (*conv2DBackDataOp)(nil)

// Arity is 3: input, filters and output gradient.
func (op *conv2DBackDataOp) Arity() int { return 3 }

// Type is Tensor-4 a → Tensor-4 a → Tensor-4 a → Tensor-4 a.
func (op *conv2DBackDataOp) Type() hm.Type {
	t := tensorType(4)
	return hm.NewFnType(t, t, t, t)
}

// InferShape returns the shape of x.
func (op *conv2DBackDataOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := op.backShapes("Conv2DBackData", inputs)
	if err != nil {
		return nil, err
	}
	return ss[0].Clone(), nil
}

// Do computes the input gradient.
func (op *conv2DBackDataOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo computes the input gradient into prealloc.
func (op *conv2DBackDataOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *conv2DBackDataOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	x, w, dy, g, err := op.backInputs("Conv2DBackData", inputs)
	if err != nil {
		return nil, err
	}
	dx, err := op.result("Conv2DBackData", prealloc, x.Dtype(), x.Shape())
	if err != nil {
		return nil, err
	}
	if op.pl.on(x) {
		if err := op.pl.convBackOn(&g, gpu.BackwardData, x, w, dy, dx); err != nil {
			return nil, op.pl.fail("Conv2DBackData", err)
		}
		return dx, nil
	}
	if x.Dtype() == tensor.Float32 {
		conv32(op.algo, passBackData, &g, dataOf[float32](dx), dataOf[float32](w), dataOf[float32](dy), &op.kept)
	} else {
		convBackData(&g, dataOf[float64](w), dataOf[float64](dy), dataOf[float64](dx))
	}
	return dx, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *conv2DBackDataOp) ReturnsPtr() bool { return false }

// CallsExtern is false: BLAS and oneDNN calls finish before Do returns.
func (op *conv2DBackDataOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *conv2DBackDataOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and all its parameters.
func (op *conv2DBackDataOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and all its parameters.
func (op *conv2DBackDataOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op and its parameters.
func (op *conv2DBackDataOp) String() string { return op.describe("Conv2DBackData") }

// conv2DBackFilterOp is the gradient of the convolution with respect to its filters:
// (x, w, dy) → dw. Only the shape of w is read.
type conv2DBackFilterOp struct {
	convParams
	outCache
	placeSlot
}

var _ gorgonia.UsePreallocDoer = (*conv2DBackFilterOp)(nil)

// Arity is 3: input, filters and output gradient.
func (op *conv2DBackFilterOp) Arity() int { return 3 }

// Type is Tensor-4 a → Tensor-4 a → Tensor-4 a → Tensor-4 a.
func (op *conv2DBackFilterOp) Type() hm.Type {
	t := tensorType(4)
	return hm.NewFnType(t, t, t, t)
}

// InferShape returns the shape of w.
func (op *conv2DBackFilterOp) InferShape(inputs ...gorgonia.DimSizer) (tensor.Shape, error) {
	ss, err := op.backShapes("Conv2DBackFilter", inputs)
	if err != nil {
		return nil, err
	}
	return ss[1].Clone(), nil
}

// Do computes the filter gradient.
func (op *conv2DBackFilterOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(nil, inputs)
}

// UsePreallocDo computes the filter gradient into prealloc.
func (op *conv2DBackFilterOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.do(prealloc, inputs)
}

func (op *conv2DBackFilterOp) do(prealloc gorgonia.Value, inputs []gorgonia.Value) (gorgonia.Value, error) {
	x, w, dy, g, err := op.backInputs("Conv2DBackFilter", inputs)
	if err != nil {
		return nil, err
	}
	dw, err := op.result("Conv2DBackFilter", prealloc, w.Dtype(), w.Shape())
	if err != nil {
		return nil, err
	}
	if op.pl.on(x) {
		if err := op.pl.convBackOn(&g, gpu.BackwardFilter, x, w, dy, dw); err != nil {
			return nil, op.pl.fail("Conv2DBackFilter", err)
		}
		return dw, nil
	}
	if x.Dtype() == tensor.Float32 {
		conv32(op.algo, passBackFilter, &g, dataOf[float32](x), dataOf[float32](dw), dataOf[float32](dy), nil)
	} else {
		convBackFilter(&g, dataOf[float64](x), dataOf[float64](dy), dataOf[float64](dw))
	}
	return dw, nil
}

// ReturnsPtr is false: the output is a new tensor.
func (op *conv2DBackFilterOp) ReturnsPtr() bool { return false }

// CallsExtern is false: BLAS and oneDNN calls finish before Do returns.
func (op *conv2DBackFilterOp) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (op *conv2DBackFilterOp) OverwritesInput() int { return -1 }

// WriteHash writes the op and all its parameters.
func (op *conv2DBackFilterOp) WriteHash(h hash.Hash) { writeHash(h, op.String()) }

// Hashcode hashes the op and all its parameters.
func (op *conv2DBackFilterOp) Hashcode() uint32 { return hashString(op.String()) }

// String describes the op and its parameters.
func (op *conv2DBackFilterOp) String() string { return op.describe("Conv2DBackFilter") }
