package dream

import (
	"context"
	"testing"

	"convas/compute/models"
)

// TestVGG19Dream dreams with a random-weight VGG19 (the real file is a download): the layer
// table names every convolution and its ReLU with VGG's channel counts, the default layer is
// one of them, and three steps on relu4_3 channel 7 and on the whole of conv5_1 raise the
// objective. Roll 1 means no shift, as in TestGoogLeNetDreamRuns.
func TestVGG19Dream(t *testing.T) {
	net := VGG19{M: models.NewVGG19Random(3)}
	chans := map[string]int{}
	for _, l := range net.Layers() {
		chans[l.Name] = l.Channels
	}
	for name, want := range map[string]int{"conv1_1": 64, "relu2_2": 128, "conv3_4": 256, VGG19Layer: 512, "conv5_4": 512, "pool5": 512} {
		if chans[name] != want {
			t.Errorf("layer %s has %d channels, want %d", name, chans[name], want)
		}
	}
	img := randomImage(64, 80, 5)
	for _, c := range []struct {
		layer   string
		channel int
	}{{VGG19Layer, 7}, {"conv5_1", -1}} {
		cfg := Config{Layer: c.layer, Channel: c.channel, Octaves: 1, OctaveScale: 1.4, Iterations: 3, Step: 1.5, TileSize: 512, Roll: 1}
		events := make(chan Event, 16)
		out, err := Run(context.Background(), cfg, net, img, nil, nil, events)
		if err != nil {
			t.Fatal(err)
		}
		close(events)
		var obj []float64
		for e := range events {
			if it, ok := e.(Iteration); ok {
				obj = append(obj, it.Objective)
			}
		}
		if len(obj) != 3 || !(obj[2] > obj[1] && obj[1] > obj[0]) {
			t.Errorf("%s channel %d: objective %v does not rise", c.layer, c.channel, obj)
		}
		if out.H != 64 || out.W != 80 || maxDiff(t, out, img) == 0 {
			t.Errorf("%s: the dream is %dx%d and differs from the picture by %v", c.layer, out.W, out.H, maxDiff(t, out, img))
		}
	}
}
