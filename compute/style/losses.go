package style

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/nn"
)

// The losses of Gatys et al. as the StyleNet recipe writes them, one function each, built with
// their targets. TensorFlow's l2_loss(x) is sum(x²)/2, so the recipe's 2*l2_loss(x) is sum(x²).
// Each term is built without its weights; total scales each term by a scalar leaf that Run sets
// before every step from the live Weights, so changing a weight needs no new graph:
//
//	loss = ContentWeight · Σ_l w_l · contentLoss_l        (the recipe's original_loss)
//	     + StyleWeight   · Σ_l w_l · styleLoss_l          (style_loss)
//	     + TVWeight      · tvLoss                         (total_variation_loss)

// contentLoss is the content term of one layer, the recipe's
//
//	2 * tf.nn.l2_loss(image_net[l] - original_features[l]) / original_features[l].size
//
// that is Σ (F - P)² / |P|: the squared differences between the picture's responses F and the
// content picture's P, summed and divided by their number of elements.
func contentLoss(f, target *G.Node) (*G.Node, error) {
	if !f.Shape().Eq(target.Shape()) {
		return nil, fmt.Errorf("style: content target %v does not fit layer %v", target.Shape(), f.Shape())
	}
	return nn.SquaredError(f, target, 1/float64(target.Shape().TotalSize()))
}

// gram is the recipe's Gram matrix of a layer's responses f, (1, C, H, W):
//
//	features = tf.reshape(layer, (-1, channels))                        # F, (H·W) x C
//	style_gram_matrix = tf.matmul(tf.transpose(features), features) / size  # size = H·W·C
//
// NCHW holds F transposed, as Fᵀ (C x H·W), so the Gram matrix Fᵀ F is Fᵀ (Fᵀ)ᵀ, C x C: one
// op (nn.Gram) computes it, on BLAS or placed on a GPU, and its gradient.
func gram(f *G.Node) (*G.Node, error) {
	s := f.Shape()
	if s.Dims() != 4 || s[0] != 1 {
		return nil, fmt.Errorf("style: a Gram matrix needs responses (1, C, H, W), got %v", s)
	}
	if dt := f.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("style: a Gram matrix needs float32 or float64 responses, got %v", f.Dtype())
	}
	return nn.Gram(f)
}

// styleLoss is the style term of one layer, the recipe's
//
//	2 * tf.nn.l2_loss(style_gram_matrix - style_expected) / style_expected.size
//
// that is Σ (G - A)² / C²: the squared differences between the picture's Gram matrix G and the
// style's A (gram of the style picture's responses), summed and divided by their number.
//
// The recipe sums the layers' terms with style_loss += style_image_weight *
// tf.reduce_sum(style_losses) inside its loop over the layers, so the first layer counts five
// times and the last once; the intended sum, each layer once, is what total builds.
func styleLoss(f, target *G.Node) (*G.Node, error) {
	var b builder
	g := b.node(gram(f))
	if b.err == nil && !g.Shape().Eq(target.Shape()) {
		return nil, fmt.Errorf("style: style target %v does not fit the Gram matrix %v", target.Shape(), g.Shape())
	}
	if b.err != nil {
		return nil, b.err
	}
	return nn.SquaredError(g, target, 1/float64(target.Shape().TotalSize()))
}

// tvLoss is the recipe's total-variation term of the picture x, (1, 3, H, W), without its
// weight. With dv the (H-1) x W differences between vertically adjacent pixels of each channel
// and dh the H x (W-1) differences between horizontally adjacent ones, each halved by l2_loss
// and the whole doubled:
//
//	tvLoss = 2 · ( ½·Σ dv² / |dv| + ½·Σ dh² / |dh| ) = Σ dv² / (3·(H-1)·W) + Σ dh² / (3·H·(W-1))
//
// The recipe divides the vertical sum by total_var_y, the size of x[:, :, 1:, :] (the count of
// horizontal differences), and the horizontal sum by the count of vertical ones: the counts are
// swapped, which only matters when the picture is not square. Here each sum is divided by its
// own count. The differences are computed as convolutions with fixed [-1 1] kernels, one per
// channel, which avoids Gorgonia's Slice (wrong beyond index 255).
func tvLoss(x *G.Node) (*G.Node, error) {
	var b builder
	dv := b.conv(x, diffKernel(x, "tv/vertical", 2, 1))
	dh := b.conv(x, diffKernel(x, "tv/horizontal", 1, 2))
	if b.err != nil {
		return nil, b.err
	}
	v := b.node(nn.SquaredError(dv, nil, 1/float64(dv.Shape().TotalSize())))
	h := b.node(nn.SquaredError(dh, nil, 1/float64(dh.Shape().TotalSize())))
	return b.add(v, h), b.err
}

// diffKernel returns the (3, 3, kh, kw) filters of the differences next - this within each
// channel: kh x kw is 2x1 (vertical) or 1x2 (horizontal).
func diffKernel(x *G.Node, name string, kh, kw int) *G.Node {
	k := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(3, 3, kh, kw))
	for c := range 3 {
		base := (c*3 + c) * kh * kw
		setAt(k, base, -1)
		setAt(k, base+1, 1)
	}
	return G.NewTensor(x.Graph(), x.Dtype(), 4, G.WithShape(3, 3, kh, kw), G.WithName(name), G.WithValue(k))
}

// setAt writes v at flat index i of a float32 or float64 tensor.
func setAt(t *tensor.Dense, i int, v float64) {
	switch d := t.Data().(type) {
	case []float32:
		d[i] = float32(v)
	case []float64:
		d[i] = v
	}
}

// builder chains graph operations and keeps the first error, so that a loss reads as its
// formula: after an error every call returns nil and b.err tells what went wrong.
type builder struct{ err error }

func (b *builder) node(n *G.Node, err error) *G.Node {
	if b.err != nil {
		return nil
	}
	b.err = err
	return n
}

func (b *builder) add(x, y *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.node(G.Add(x, y))
}

// scale multiplies x by the constant k, in x's dtype.
func (b *builder) scale(x *G.Node, k float64) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.node(G.Mul(x, constant(x.Dtype(), k)))
}

func (b *builder) conv(x, k *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.node(nn.Conv2D(x, k, nn.Padding{}, 1, 1))
}

// constant returns a scalar constant of dtype dt.
func constant(dt tensor.Dtype, v float64) *G.Node {
	if dt == tensor.Float64 {
		return G.NewConstant(v)
	}
	return G.NewConstant(float32(v))
}
