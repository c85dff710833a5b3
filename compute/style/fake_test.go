package style

import (
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/models"
	"convas/compute/nn"
)

// fakeNet is a tiny Network of fixed random weights: two 3x3 convolutions with ReLUs and a max
// pooling between them, relu1 (4 channels, full size) and relu2 (5 channels, half size). It
// computes in dt (float64 for gradient checks) and scales pixels by 1/64.
type fakeNet struct {
	dt     tensor.Dtype
	w1, w2 []float64
}

func newFakeNet(dt tensor.Dtype) fakeNet {
	rng := rand.New(rand.NewPCG(7, 7))
	n := fakeNet{dt: dt, w1: make([]float64, 4*3*3*3), w2: make([]float64, 5*4*3*3)}
	for i := range n.w1 {
		n.w1[i] = rng.NormFloat64() * 0.4
	}
	for i := range n.w2 {
		n.w2[i] = rng.NormFloat64() * 0.3
	}
	return n
}

func (n fakeNet) value(shape []int, v []float64) *tensor.Dense {
	t := tensor.New(tensor.Of(n.dt), tensor.WithShape(shape...))
	setFloats(t, v)
	return t
}

func (n fakeNet) Build(h, w int, layers []string) (*G.ExprGraph, *G.Node, map[string]*G.Node, error) {
	if _, err := lastLayer(n.Layers(), layers, "fake"); err != nil {
		return nil, nil, nil, err
	}
	g := G.NewGraph()
	x := G.NewTensor(g, n.dt, 4, G.WithShape(1, 3, h, w), G.WithName("input"))
	k1 := G.NewTensor(g, n.dt, 4, G.WithShape(4, 3, 3, 3), G.WithName("w1"), G.WithValue(n.value([]int{4, 3, 3, 3}, n.w1)))
	k2 := G.NewTensor(g, n.dt, 4, G.WithShape(5, 4, 3, 3), G.WithName("w2"), G.WithValue(n.value([]int{5, 4, 3, 3}, n.w2)))
	pad := nn.Padding{Top: 1, Bottom: 1, Left: 1, Right: 1}
	var b builder
	scaled := b.scale(x, 1.0/64)
	r1 := b.node(nn.ReLU(b.node(nn.Conv2D(scaled, k1, pad, 1, 1))))
	p1 := b.node(nn.MaxPool2D(r1, 2, 2, 2, 2, nn.Padding{}))
	r2 := b.node(nn.ReLU(b.node(nn.Conv2D(p1, k2, pad, 1, 1))))
	if b.err != nil {
		return nil, nil, nil, b.err
	}
	all := map[string]*G.Node{"relu1": r1, "relu2": r2}
	outs := map[string]*G.Node{}
	for _, l := range layers {
		outs[l] = all[l]
	}
	return g, x, outs, nil
}

func (fakeNet) Layers() []models.LayerInfo {
	return []models.LayerInfo{{Name: "relu1", Kind: "relu", Channels: 4}, {Name: "relu2", Kind: "relu", Channels: 5}}
}

func (fakeNet) Mean() [3]float32 { return [3]float32{127.5, 127.5, 127.5} }

// fakeConfig is a run of the fake network: both layers for content and style.
func fakeConfig() Config {
	cfg := DefaultConfig()
	cfg.Model = "fake"
	cfg.ContentLayers = map[string]float64{"relu2": 1}
	cfg.StyleLayers = map[string]float64{"relu1": 0.5, "relu2": 0.5}
	cfg.ContentWeight, cfg.StyleWeight, cfg.TVWeight = 1, 50, 0.01
	cfg.Iterations, cfg.Every = 10, 0
	return cfg
}

// pattern returns an h x w picture of smooth colour waves; k varies the waves.
func pattern(h, w int, k float64) *Image {
	img := &Image{H: h, W: w, Pix: make([]float32, 3*h*w)}
	for c := range 3 {
		for y := range h {
			for x := range w {
				v := 128 + 100*math.Sin(k*float64(x+2*c)/3+float64(y*(c+1))/(4*k))
				img.Pix[(c*h+y)*w+x] = float32(v)
			}
		}
	}
	return img
}

// stripes returns an h x w picture of diagonal red and blue stripes.
func stripes(h, w int) *Image {
	img := &Image{H: h, W: w, Pix: make([]float32, 3*h*w)}
	for y := range h {
		for x := range w {
			on := float32(((x + y) / 3) % 2)
			img.Pix[y*w+x] = 40 + 200*on
			img.Pix[h*w+y*w+x] = 60
			img.Pix[2*h*w+y*w+x] = 240 - 200*on
		}
	}
	return img
}
