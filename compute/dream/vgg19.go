package dream

import (
	"gorgonia.org/gorgonia"

	"convas/compute/models"
)

// VGG19 as a Network.
const (
	// VGG19Name names VGG19 (MatConvNet's imagenet-vgg-verydeep-19) in model lists and saved
	// settings, as the model store does.
	VGG19Name = "vgg19"
	// VGG19Layer is VGG19's default dream layer: relu4_3, the output of the third convolution
	// of the fourth block after its ReLU. DeepDream's PyTorch ports to VGG19 dream at the end of
	// the fourth block (torch-dreams' VGG19 examples take relu4_3, features[24] in torchvision's
	// numbering, or conv4_4 to pool4); it sees about 100 pixels, as mixed4 of GoogLeNet does,
	// and gives eyes and fur where block 3 gives only texture and block 5 needs a larger picture.
	VGG19Layer = "relu4_3"
)

// VGG19 adapts the convolutional part of VGG19 (models.VGG19) to Network. Its graphs take RGB
// pixels in 0..255 and subtract the ImageNet mean pixel (models.VGG19.Mean) inside, as VGG was
// trained; convolution layers (conv4_3) are before their ReLU, relu layers (relu4_3) after.
type VGG19 struct{ M *models.VGG19 }

// Build builds VGG19 for one h x w picture up to layer.
func (v VGG19) Build(h, w int, layer string) (*gorgonia.ExprGraph, *gorgonia.Node, *gorgonia.Node, error) {
	g, err := v.M.Build(1, h, w, layer)
	if err != nil {
		return nil, nil, nil, err
	}
	return g.G, g.Input, g.Output, nil
}

// Layers lists VGG19's layers in order, conv1_1 to pool5.
func (v VGG19) Layers() []models.LayerInfo { return v.M.Layers() }
