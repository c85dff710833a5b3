package style

import (
	"fmt"
	"slices"

	"gorgonia.org/gorgonia"

	"convas/compute/dream"
	"convas/compute/models"
)

// Image is a picture as the recipe works on it: planar RGB float32, values 0..255 (the picture
// being optimised may go beyond them; ToNRGBA clips). It is DeepDream's picture type, shared so
// that a front end previews both recipes alike.
type Image = dream.Image

// FromImage converts a picture to planar RGB in 0..255.
var FromImage = dream.FromImage

// Network is what the recipe transfers with: a trained network that can be built for any input
// size with the outputs of named layers.
type Network interface {
	// Build makes a new graph for one picture of h x w pixels: input is (1, 3, h, w), RGB in
	// 0..255 (the network scales it as it was trained), and outs holds the output
	// (1, C, h', w') of every layer named. Graphs may share their weights but no node or op.
	Build(h, w int, layers []string) (g *gorgonia.ExprGraph, input *gorgonia.Node, outs map[string]*gorgonia.Node, err error)
	// Layers lists the layers Build accepts, in graph order, and their channels.
	Layers() []models.LayerInfo
	// Mean is the pixel (R, G, B in 0..255) the network takes as zero: noise is drawn around it.
	Mean() [3]float32
}

// Trunk adapts an InceptionV3 trunk (models.InceptionV3, such as the embedded one) to Network.
// Its graphs take RGB pixels in 0..255 and scale them to [-1, 1] inside; every layer's output is
// after its ReLU.
type Trunk struct{ M *models.InceptionV3 }

// Build builds the trunk for one h x w picture up to the last of layers in graph order.
func (t Trunk) Build(h, w int, layers []string) (*gorgonia.ExprGraph, *gorgonia.Node, map[string]*gorgonia.Node, error) {
	last, err := lastLayer(t.Layers(), layers, TrunkName)
	if err != nil {
		return nil, nil, nil, err
	}
	g, err := t.M.Build(1, h, w, last)
	if err != nil {
		return nil, nil, nil, err
	}
	return pick(g.G, g.Input, g.Layers, layers, last)
}

// Layers lists the trunk's layers in graph order.
func (t Trunk) Layers() []models.LayerInfo { return t.M.Layers() }

// Mean is mid-grey: the trunk scales 127.5 to 0.
func (t Trunk) Mean() [3]float32 { return [3]float32{127.5, 127.5, 127.5} }

// VGG adapts VGG19 (models.VGG19, MatConvNet's imagenet-vgg-verydeep-19) to Network, as the
// recipe uses it: layers are named conv1_1, relu1_1, ..., pool5.
type VGG struct{ M *models.VGG19 }

// Build builds VGG19 for one h x w picture up to the last of layers.
func (v VGG) Build(h, w int, layers []string) (*gorgonia.ExprGraph, *gorgonia.Node, map[string]*gorgonia.Node, error) {
	last, err := lastLayer(v.Layers(), layers, VGG19Name)
	if err != nil {
		return nil, nil, nil, err
	}
	g, err := v.M.Build(1, h, w, last)
	if err != nil {
		return nil, nil, nil, err
	}
	return pick(g.G, g.Input, g.Layers, layers, last)
}

// Layers lists VGG19's layers in order.
func (v VGG) Layers() []models.LayerInfo { return v.M.Layers() }

// Mean is VGG's mean pixel, which its graphs subtract.
func (v VGG) Mean() [3]float32 { return v.M.Mean }

// lastLayer returns the layer of names that comes last in the network's order, or an error
// naming a layer the network does not have.
func lastLayer(all []models.LayerInfo, names []string, network string) (string, error) {
	if len(names) == 0 {
		return "", fmt.Errorf("style: no layers asked of %s", network)
	}
	last := -1
	for _, n := range names {
		i := slices.IndexFunc(all, func(l models.LayerInfo) bool { return l.Name == n })
		if i < 0 {
			return "", &FieldError{"layer", fmt.Sprintf("%q", n), fmt.Sprintf("not a layer of %s (%s)", network, summarise(all))}
		}
		last = max(last, i)
	}
	return all[last].Name, nil
}

// pick returns the nodes of the layers asked for, or an error naming one that the graph up to
// last does not compute (a branch of an Inception block that last does not depend on).
func pick(g *gorgonia.ExprGraph, input *gorgonia.Node, built map[string]*gorgonia.Node, names []string, last string) (*gorgonia.ExprGraph, *gorgonia.Node, map[string]*gorgonia.Node, error) {
	outs := make(map[string]*gorgonia.Node, len(names))
	for _, n := range names {
		node := built[n]
		if node == nil {
			return nil, nil, nil, fmt.Errorf("style: layer %s is not on the way to layer %s: they cannot be used together", n, last)
		}
		outs[n] = node
	}
	return g, input, outs, nil
}

// summarise lists the layers' names, eliding the middle of a long list.
func summarise(all []models.LayerInfo) string {
	names := make([]string, len(all))
	for i, l := range all {
		names[i] = l.Name
	}
	const most = 12
	if len(names) <= most {
		return fmt.Sprint(names)
	}
	return fmt.Sprintf("%v ... %v, %d in all", names[:most/2], names[len(names)-most/2:], len(names))
}
