package dream

import (
	"context"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/disintegration/imaging"

	"convas/compute/models"
)

// Files the trunk tests read when they are there: the embedded trunk, and a photo.
const (
	trunkFile   = "../../assets/inceptionv3/inceptionv3-mixed5.cnvm"
	chelseaFile = "../../../shared/samples/chelsea.png"
)

// loadTrunk loads the embedded trunk as a Network, or skips the test if the file is not there.
func loadTrunk(t testing.TB) Trunk {
	t.Helper()
	f, err := os.Open(trunkFile)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no %s", trunkFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := models.LoadInceptionV3(f)
	if err != nil {
		t.Fatal(err)
	}
	return Trunk{m}
}

// chelsea returns the photo resized to h x w, or skips the test.
func chelsea(t testing.TB, h, w int) *Image {
	t.Helper()
	img, err := imaging.Open(chelseaFile)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no %s", chelseaFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	return FromImage(imaging.Resize(img, w, h, imaging.Linear))
}

// photo is chelsea where the file is there (this checkout), or else a picture of smooth colour
// waves: a benchmark run in a copied test binary on another machine costs the same either way.
func photo(tb testing.TB, h, w int) *Image {
	tb.Helper()
	if _, err := os.Stat(chelseaFile); err == nil {
		return chelsea(tb, h, w)
	}
	img := NewImage(h, w)
	for c := range 3 {
		for y := range h {
			for x := range w {
				v := 128 + 100*math.Sin(float64(x*(c+1))/17+float64(y)/(11+float64(c)))
				img.Pix[(c*h+y)*w+x] = float32(v)
			}
		}
	}
	return img
}

// TestTrunkObjectiveRises dreams on the photo with the embedded trunk: the mean activation of
// mixed3 must rise from step to step (the reference run, in TensorFlow.js, took it from 0.58 to
// 0.97 in 60 steps at 299 pixels).
func TestTrunkObjectiveRises(t *testing.T) {
	net := loadTrunk(t)
	img := chelsea(t, 80, 120)
	cfg := Config{Layer: TrunkLayer, Channel: -1, Octaves: 1, OctaveScale: 1.3, Iterations: 4, Step: 1.275, TileSize: 512, Roll: 16, Seed: 1}
	events := make(chan Event, 16)
	if _, err := Run(context.Background(), cfg, net, img, nil, nil, events); err != nil {
		t.Fatal(err)
	}
	close(events)
	var objs []float64
	for e := range events {
		if it, ok := e.(Iteration); ok {
			objs = append(objs, it.Objective)
		}
	}
	t.Logf("mean activation of mixed3 by step: %.4f", objs)
	if len(objs) != cfg.Iterations {
		t.Fatalf("%d iterations reported, want %d", len(objs), cfg.Iterations)
	}
	for i := 1; i < len(objs); i++ {
		if objs[i] <= objs[i-1] {
			t.Errorf("step %d: objective %.4f after %.4f, want it to rise", i+1, objs[i], objs[i-1])
		}
	}
	if objs[len(objs)-1] < 1.1*objs[0] {
		t.Errorf("objective rose from %.4f to %.4f only", objs[0], objs[len(objs)-1])
	}
}

// TestTrunkChannelAndMemory checks one channel's objective builds, and the memory estimate of
// a large picture made of 512-pixel tiles.
func TestTrunkChannelAndMemory(t *testing.T) {
	net := loadTrunk(t)
	cfg := Config{Layer: "mixed5", Channel: 767, Octaves: 4, OctaveScale: 1.4, Iterations: 1, Step: 1.5, TileSize: 512}
	need, err := Estimate(cfg, net, 3000, 4000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a 4000x3000 picture in 512-pixel tiles of mixed5 needs about %d MiB", need>>20)
	if need < 1<<30 || need > DefaultMemoryMiB<<20 {
		t.Errorf("estimate %d MiB, want 1 GiB to the default budget", need>>20)
	}
	cfg.Channel = 768
	if _, err := Estimate(cfg, net, 300, 300); err == nil {
		t.Error("channel 768 of mixed5 (768 channels) accepted")
	}
}

// BenchmarkDreamTrunkMixed3 is the recipe's run (4 octaves at 1.4, 10 steps each, the 512-pixel
// tile) on a 512x512 photo with the embedded trunk's mixed3, in place of the recipe's GoogLeNet
// until inception5h can be built.
func BenchmarkDreamTrunkMixed3(b *testing.B) {
	net := loadTrunk(b)
	img := chelsea(b, 512, 512)
	cfg := DefaultConfig()
	cfg.Layer, cfg.Channel = TrunkLayer, -1
	for b.Loop() {
		if _, err := Run(context.Background(), cfg, net, img, nil, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
