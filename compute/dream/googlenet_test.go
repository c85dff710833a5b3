package dream

import (
	"context"
	"testing"

	"convas/compute/device/devicetest"
	"convas/compute/models"
)

// BenchmarkDreamSeedDefault is the recipe's run exactly: 4 octaves at 1.4, 10 steps of 1.5, the
// 512-pixel tile, channel 139 of mixed4d_3x3_bottleneck_pre_relu, on a 512x512 photo, with the
// inception5h GoogLeNet's shape and random weights (the file is a download). With -device cuda
// the network runs on the GPU (compute/device/devicetest).
func BenchmarkDreamSeedDefault(b *testing.B) { benchmarkDreamDefault(b, 512) }

// BenchmarkDreamSeedDefault1024 is BenchmarkDreamSeedDefault on a 1024x1024 photo, four tiles
// at the largest octave: issue 8's target on an H100 is 2 s. On the CPU it takes half a minute.
func BenchmarkDreamSeedDefault1024(b *testing.B) { benchmarkDreamDefault(b, 1024) }

func benchmarkDreamDefault(b *testing.B, side int) {
	net := GoogLeNet{M: models.NewGoogLeNetRandom(1)}
	img := photo(b, side, side)
	cfg := DefaultConfig()
	cfg.Accel = devicetest.Accel(b)
	before := devicetest.Moved(cfg.Accel)
	for b.Loop() {
		if _, err := Run(context.Background(), cfg, net, img, nil, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	devicetest.ReportMoved(b, cfg.Accel, before, b.N)
}

// TestGoogLeNetDreamRuns checks the recipe's layer and channel on a random GoogLeNet: three
// steps on a small picture, and the objective rises. Roll 1 means no shift: with random weights
// the edges of a shifted picture move the objective more than a step does.
func TestGoogLeNetDreamRuns(t *testing.T) {
	net := GoogLeNet{M: models.NewGoogLeNetRandom(1)}
	img := chelsea(t, 128, 128)
	cfg := DefaultConfig()
	cfg.Octaves, cfg.Iterations, cfg.Roll = 1, 3, 1
	events := make(chan Event, 16)
	if _, err := Run(context.Background(), cfg, net, img, nil, nil, events); err != nil {
		t.Fatal(err)
	}
	close(events)
	var obj []float64
	for e := range events {
		if it, ok := e.(Iteration); ok {
			obj = append(obj, it.Objective)
		}
	}
	if len(obj) < 2 || !(obj[len(obj)-1] > obj[0]) {
		t.Errorf("objective %v does not rise", obj)
	}
}

// BenchmarkDreamOverhead is BenchmarkDreamSeedDefault's run with the fake network (the picture
// times a constant): what the recipe itself costs around the network (octave split and merge,
// shifts, tile copies, the step, graph builds), without GoogLeNet's forward and backward pass;
// an upper bound, since the fake network's own small graph runs too.
func BenchmarkDreamOverhead(b *testing.B) {
	img := randomImage(512, 512, 1)
	cfg := DefaultConfig()
	cfg.Layer, cfg.Channel = "a", 2 // one channel, as the recipe's 139
	for b.Loop() {
		if _, err := Run(context.Background(), cfg, &fakeNet{}, img, nil, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
