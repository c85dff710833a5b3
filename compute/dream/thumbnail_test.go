package dream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"convas/compute/models"
)

// TestVisStdHandValues checks VisStd on one pixel of values 0, 10, 20: mean 10, standard
// deviation sqrt(200/3) = 8.165, so -1.2247, 0 and 1.2247 deviations, times 0.1, plus 0.5.
func TestVisStdHandValues(t *testing.T) {
	m := &Image{H: 1, W: 1, Pix: []float32{0, 10, 20}}
	got := VisStd(m).Pix[:4]
	want := []uint8{96, 128, 159, 255} // 255·0.37753 = 96.27, 255·0.5 = 127.5, 255·0.62247 = 158.73
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("VisStd gives %v, want %v", got, want)
		}
	}
	// A flat picture has no deviation: mid-grey, not a division by zero.
	flat := VisStd(&Image{H: 2, W: 2, Pix: make([]float32, 12)})
	for i := 0; i < len(flat.Pix); i += 4 {
		if flat.Pix[i] != 128 || flat.Pix[i+1] != 128 || flat.Pix[i+2] != 128 {
			t.Fatalf("a flat picture gives %v", flat.Pix[i:i+4])
		}
	}
}

// TestThumbnailFakeNet renders channel 1 of the fake network's layer "b": its gradient is
// constant in the green plane and zero elsewhere, so each step adds 3·step to every green value
// (the mean absolute gradient is a third of the green one): two steps of 1.5 add 9 to green and
// nothing to red and blue. Of that change the mean is 3 and the standard deviation
// sqrt((36 + 9 + 9)/3) = 4.243, so VisStd gives green 255·(0.5 + 0.1·6/4.243) = 163.6 and red
// and blue 255·(0.5 - 0.1·3/4.243) = 109.5 (109.47), everywhere.
func TestThumbnailFakeNet(t *testing.T) {
	tc := ThumbnailConfig{Side: 16, Iterations: 2, Step: 1.5, Seed: 4}
	got, silent, err := Thumbnail(context.Background(), tc, &fakeNet{}, "b", 1, nil)
	if err != nil || silent {
		t.Fatal(silent, err)
	}
	if got.Rect.Dx() != 16 || got.Rect.Dy() != 16 {
		t.Fatalf("thumbnail %v, want 16x16", got.Rect)
	}
	for i := 0; i < len(got.Pix); i += 4 {
		if p := got.Pix[i : i+4]; p[0] != 109 || p[1] != 164 || p[2] != 109 || p[3] != 255 {
			t.Fatalf("pixel %d is %v, want [109 164 109 255]", i/4, p)
		}
	}
}

func TestThumbnailErrors(t *testing.T) {
	net := &fakeNet{}
	tc := DefaultThumbnailConfig()
	bad := []struct {
		tc      ThumbnailConfig
		layer   string
		channel int
		want    string
	}{
		{ThumbnailConfig{Side: 8, Iterations: 1, Step: 1}, "a", 0, "dream: side = 8"},
		{ThumbnailConfig{Side: 32, Iterations: 0, Step: 1}, "a", 0, "dream: iterations = 0"},
		{ThumbnailConfig{Side: 32, Iterations: 1, Step: 0}, "a", 0, "dream: step = 0"},
		{tc, "a", -1, "dream: channel = -1"},
		{tc, "a", 3, "dream: thumbnail of a channel 3: dream: channel = 3"},
		{tc, "nope", 0, `dream: thumbnail of nope channel 0: dream: layer = "nope"`},
	}
	for _, c := range bad {
		if _, _, err := Thumbnail(context.Background(), c.tc, net, c.layer, c.channel, nil); err == nil || err.Error()[:min(len(err.Error()), len(c.want))] != c.want {
			t.Errorf("%+v %s %d: got %v, want %q...", c.tc, c.layer, c.channel, err, c.want)
		}
	}
	stop := errors.New("stop")
	if _, _, err := Thumbnail(context.Background(), tc, net, "a", 0, func(context.Context) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("a gate's error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Thumbnail(ctx, tc, net, "a", 0, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: got %v", err)
	}
}

// BenchmarkThumbnailTrunk renders one gallery thumbnail (the default settings) of mixed3 with
// the embedded trunk: a layer of 768 channels takes that many.
func BenchmarkThumbnailTrunk(b *testing.B) {
	net := loadTrunk(b)
	ch := 0
	for b.Loop() {
		if _, _, err := Thumbnail(context.Background(), DefaultThumbnailConfig(), net, TrunkLayer, ch, nil); err != nil {
			b.Fatal(err)
		}
		ch++
	}
}

// TestThumbnailSilentChannel renders a channel whose gradient is zero on every picture (the fake
// network's layer "zero"): it is tried from both noises, nothing moves, and it comes back silent
// and flat mid-grey.
func TestThumbnailSilentChannel(t *testing.T) {
	net := &fakeNet{}
	tc := ThumbnailConfig{Side: 16, Iterations: 2, Step: 1.5, Seed: 2}
	img, silent, err := Thumbnail(context.Background(), tc, net, "zero", 0, nil)
	if err != nil || !silent {
		t.Fatalf("silent %v, %v", silent, err)
	}
	for i := 0; i < len(img.Pix); i += 4 {
		if p := img.Pix[i : i+4]; p[0] != 128 || p[1] != 128 || p[2] != 128 {
			t.Fatalf("a silent channel shows %v at pixel %d, want mid-grey", p, i/4)
		}
	}
	// The side is checked once; then two runs, each building its graph in the preflight: the
	// grey noise, then the full range.
	if got := len(net.built()); got != 3 {
		t.Errorf("%d graphs built, want 3 (the side's check, then one run from each noise)", got)
	}
}

// TestThumbnailWakesOnFullNoise checks on the embedded trunk that a channel of mixed3 silent on
// the recipe's grey noise is drawn from the full-range noise.
func TestThumbnailWakesOnFullNoise(t *testing.T) {
	if testing.Short() {
		t.Skip("renders thumbnails of the trunk")
	}
	net := loadTrunk(t)
	tc := DefaultThumbnailConfig()
	tc.Iterations = 1
	for _, ch := range []int{0, 2} { // silent on grey noise at 96 pixels
		cfg := Config{Layer: TrunkLayer, Channel: ch, Octaves: 1, OctaveScale: 2, Iterations: 1, Step: 1.5, TileSize: tc.Side}
		grey0 := Noise(tc.Side, tc.Side, tc.Seed)
		if out, err := Run(context.Background(), cfg, net, grey0, nil, nil, nil); err != nil || maxDelta(out, grey0) != 0 {
			t.Fatalf("channel %d moves on grey noise (%v): pick a silent one", ch, err)
		}
		img, silent, err := Thumbnail(context.Background(), tc, net, TrunkLayer, ch, nil)
		if err != nil {
			t.Fatal(err)
		}
		flat := VisStd(NewImage(tc.Side, tc.Side))
		if silent || string(img.Pix) == string(flat.Pix) {
			t.Errorf("channel %d: silent %v", ch, silent)
		}
	}
}

// TestThumbnailSideFitsEveryLayer builds the thumbnail graph of every layer of every dream
// network at the side a thumbnail takes, with random weights where the file is a download: a
// gallery can draw every layer the Dream panel lists that can be dreamed on at all (every layer
// but GoogLeNet's auxiliary heads nn0 and nn1, whose output is not a picture of channels).
func TestThumbnailSideFitsEveryLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a graph per layer")
	}
	side := DefaultThumbnailConfig().Side
	nets := map[string]Network{GoogLeNetName: GoogLeNet{M: models.NewGoogLeNetRandom(1)}, VGG19Name: VGG19{M: models.NewVGG19Random(1)}}
	if _, err := os.Stat(trunkFile); err == nil {
		nets[TrunkName] = loadTrunk(t)
	}
	var failed []string
	for name, net := range nets {
		for _, l := range net.Layers() {
			s := thumbnailSide(net, l.Name, 0, side)
			if _, err := buildTileGraph(net, s, s, l.Name, 0); err != nil {
				failed = append(failed, name+" "+l.Name)
				t.Logf("%s layer %s at %d pixels: %v", name, l.Name, s, err)
			} else if s != side {
				t.Logf("%s layer %s is drawn at %d pixels", name, l.Name, s)
			}
		}
	}
	if fmt.Sprint(failed) != "[inception5h nn0 inception5h nn1]" {
		t.Errorf("layers no thumbnail can be drawn of: %v", failed)
	}
}
