package dream

import (
	"gorgonia.org/gorgonia"

	"convas/compute/models"
)

// GoogLeNetName names TensorFlow's inception5h GoogLeNet, the recipe's network, in model lists
// and saved settings.
const GoogLeNetName = "inception5h"

// GoogLeNet adapts the inception5h GoogLeNet (models.GoogLeNet) to Network. Its graphs take RGB
// pixels in 0..255 and subtract the model's mean (117) inside, as the recipe feeds it.
type GoogLeNet struct{ M *models.GoogLeNet }

// Build builds the network for one h x w picture up to layer.
func (n GoogLeNet) Build(h, w int, layer string) (*gorgonia.ExprGraph, *gorgonia.Node, *gorgonia.Node, error) {
	g, err := n.M.Build(1, h, w, layer)
	if err != nil {
		return nil, nil, nil, err
	}
	return g.G, g.Input, g.Output, nil
}

// Layers lists the network's layers in graph order.
func (n GoogLeNet) Layers() []models.LayerInfo { return n.M.Layers() }
