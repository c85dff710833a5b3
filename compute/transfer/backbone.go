package transfer

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"convas/compute/models"
	"convas/compute/nn"
)

// Backbone is a frozen pretrained network seen as a feature extractor: a graph from a batch of
// square RGB pictures (pixels in 0..255, planar, (batch, 3, size, size)) to their bottleneck
// features (batch, Dim), the global average of one layer's feature map.
type Backbone interface {
	// Name identifies the network's weights, as the model store names them; with Layer and
	// Size it keys the bottleneck cache.
	Name() string
	// Layer is the layer whose feature map is averaged.
	Layer() string
	// Size is the side in pixels of the square input pictures are resized to.
	Size() int
	// Build makes a graph for a batch of pictures; features is (batch, channels of Layer).
	Build(batch int) (g *G.ExprGraph, input, features *G.Node, err error)
}

// The backbones' names, as the model store knows them.
const (
	TrunkName     = "inceptionv3-trunk"
	GoogLeNetName = "inception5h"
	VGG19Name     = "vgg19"
)

// The layers pooled into bottlenecks, and the input sizes, of each backbone.
//
// retrain.py's bottleneck is Inception v3's pool_3: the 2,048 channels of mixed10, averaged over
// the 8x8 plane of a 299x299 picture. The embedded trunk ends at mixed5, so its bottleneck is
// mixed5's 768 channels averaged (17x17 at 299), at Keras InceptionV3's input size.
//
// For inception5h (GoogLeNet) it is mixed5b, the last inception block: its 1,024 channels
// averaged are exactly the graph's own avgpool0 (7x7 VALID over the 7x7 plane at 224), the
// vector the network's classifier (softmax2) reads, at the network's 224x224 input.
//
// For VGG19 it is relu5_4, the last convolutional features: the MatConvNet file's classifier
// (fc6 to fc8, whose fc7 is the usual VGG bottleneck) is not kept by models.LoadVGG19, and
// fc6 expects the 7x7 pool5 map of a 224x224 input anyway; the global average of relu5_4's 512
// channels is the common convolutional descriptor instead, at VGG's 224x224 training size.
const (
	TrunkLayer     = "mixed5"
	GoogLeNetLayer = "mixed5b"
	VGG19Layer     = "relu5_4"

	TrunkSize     = 299
	GoogLeNetSize = 224
	VGG19Size     = 224
)

// Trunk is the embedded InceptionV3 trunk as a Backbone, pooled at mixed5.
type Trunk struct {
	M *models.InceptionV3
	// InputSize overrides TrunkSize when positive (smaller is faster; at least 75).
	InputSize int
}

// Name returns TrunkName.
func (t Trunk) Name() string { return TrunkName }

// Layer returns TrunkLayer.
func (t Trunk) Layer() string { return TrunkLayer }

// Size returns InputSize, or TrunkSize.
func (t Trunk) Size() int { return sizeOr(t.InputSize, TrunkSize) }

// Build builds the trunk up to mixed5 and pools it.
func (t Trunk) Build(batch int) (*G.ExprGraph, *G.Node, *G.Node, error) {
	s := t.Size()
	g, err := t.M.Build(batch, s, s, TrunkLayer)
	if err != nil {
		return nil, nil, nil, err
	}
	return pool(g.G, g.Input, g.Output, TrunkName)
}

// GoogLeNet is inception5h as a Backbone, pooled at mixed5b.
type GoogLeNet struct {
	M *models.GoogLeNet
	// InputSize overrides GoogLeNetSize when positive.
	InputSize int
}

// Name returns GoogLeNetName.
func (n GoogLeNet) Name() string { return GoogLeNetName }

// Layer returns GoogLeNetLayer.
func (n GoogLeNet) Layer() string { return GoogLeNetLayer }

// Size returns InputSize, or GoogLeNetSize.
func (n GoogLeNet) Size() int { return sizeOr(n.InputSize, GoogLeNetSize) }

// Build builds the network up to mixed5b and pools it.
func (n GoogLeNet) Build(batch int) (*G.ExprGraph, *G.Node, *G.Node, error) {
	s := n.Size()
	g, err := n.M.Build(batch, s, s, GoogLeNetLayer)
	if err != nil {
		return nil, nil, nil, err
	}
	return pool(g.G, g.Input, g.Output, GoogLeNetName)
}

// VGG19 is VGG19 as a Backbone, pooled at relu5_4.
type VGG19 struct {
	M *models.VGG19
	// InputSize overrides VGG19Size when positive.
	InputSize int
}

// Name returns VGG19Name.
func (v VGG19) Name() string { return VGG19Name }

// Layer returns VGG19Layer.
func (v VGG19) Layer() string { return VGG19Layer }

// Size returns InputSize, or VGG19Size.
func (v VGG19) Size() int { return sizeOr(v.InputSize, VGG19Size) }

// Build builds the network up to relu5_4 and pools it.
func (v VGG19) Build(batch int) (*G.ExprGraph, *G.Node, *G.Node, error) {
	s := v.Size()
	g, err := v.M.Build(batch, s, s, VGG19Layer)
	if err != nil {
		return nil, nil, nil, err
	}
	return pool(g.G, g.Input, g.Output, VGG19Name)
}

func sizeOr(s, def int) int {
	if s > 0 {
		return s
	}
	return def
}

// pool appends the global average pooling that turns a feature map into bottlenecks.
func pool(g *G.ExprGraph, in, out *G.Node, name string) (*G.ExprGraph, *G.Node, *G.Node, error) {
	f, err := nn.GlobalAvgPool2D(out)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("transfer: %s: pooling: %w", name, err)
	}
	return g, in, f, nil
}
