package dream

import (
	"gorgonia.org/gorgonia"

	"convas/compute/models"
)

// The embedded InceptionV3 trunk as a Network.
const (
	// TrunkName names the embedded trunk in model lists and saved settings.
	TrunkName = "inceptionv3-trunk"
	// TrunkLayer is the trunk's default dream layer: mixed3 and mixed4 give the clearest dreams
	// at a few hundred pixels; mixed5 gives swirls and fur unless the picture is larger.
	TrunkLayer = "mixed3"
)

// Trunk adapts an InceptionV3 trunk (models.InceptionV3, such as the embedded one) to Network.
// Its graphs take RGB pixels in 0..255 and scale them to [-1, 1] inside; every layer's output is
// after its ReLU.
type Trunk struct{ M *models.InceptionV3 }

// Build builds the trunk for one h x w picture up to layer.
func (t Trunk) Build(h, w int, layer string) (*gorgonia.ExprGraph, *gorgonia.Node, *gorgonia.Node, error) {
	g, err := t.M.Build(1, h, w, layer)
	if err != nil {
		return nil, nil, nil, err
	}
	return g.G, g.Input, g.Output, nil
}

// Layers lists the trunk's layers in graph order.
func (t Trunk) Layers() []models.LayerInfo { return t.M.Layers() }
