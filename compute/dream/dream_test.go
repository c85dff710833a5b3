package dream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/models"
)

// fakeNet is a Network whose layers are the input times a constant gain, so that the gradient of
// a layer's mean is known exactly: gain/(3·h·w) everywhere for the whole layer, gain/(h·w) in
// one plane for one channel. It records every layer it is asked to build.
type fakeNet struct {
	mu      sync.Mutex
	builds  []string
	minSide int // Build fails below this size, as a real network's windows do
}

var fakeGains = map[string]float32{"a": 1, "b": 2, "zero": 0}

func (f *fakeNet) Layers() []models.LayerInfo {
	return []models.LayerInfo{{Name: "a", Kind: "conv", Channels: 3}, {Name: "b", Kind: "conv", Channels: 3}, {Name: "zero", Kind: "conv", Channels: 3}}
}

func (f *fakeNet) Build(h, w int, layer string) (*G.ExprGraph, *G.Node, *G.Node, error) {
	f.mu.Lock()
	f.builds = append(f.builds, fmt.Sprintf("%s %dx%d", layer, h, w))
	f.mu.Unlock()
	if h < f.minSide || w < f.minSide {
		return nil, nil, nil, fmt.Errorf("input %dx%d is smaller than the %dx%d window", h, w, f.minSide, f.minSide)
	}
	gain, ok := fakeGains[layer]
	if !ok {
		return nil, nil, nil, fmt.Errorf("no layer %q", layer)
	}
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, 3, h, w), G.WithName("input"))
	y, err := G.Mul(x, G.NewConstant(gain))
	return g, x, y, err
}

func (f *fakeNet) built() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.builds...)
}

// randomImage returns an h x w picture of values uniform in 0..255.
func randomImage(h, w int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := NewImage(h, w)
	for i := range m.Pix {
		m.Pix[i] = 255 * rng.Float32()
	}
	return m
}

// maxDiff returns the largest absolute difference of two pictures' values.
func maxDiff(t *testing.T, a, b *Image) float64 {
	t.Helper()
	if a.H != b.H || a.W != b.W {
		t.Fatalf("sizes %dx%d and %dx%d differ", a.W, a.H, b.W, b.H)
	}
	var d float64
	for i := range a.Pix {
		d = max(d, math.Abs(float64(a.Pix[i])-float64(b.Pix[i])))
	}
	return d
}

func testConfig(layer string, channel int) Config {
	cfg := DefaultConfig()
	cfg.Layer, cfg.Channel = layer, channel
	return cfg
}

func TestRollHandValues(t *testing.T) {
	m := NewImage(2, 4)
	copy(m.Pix, []float32{0, 1, 2, 3, 4, 5, 6, 7}) // red plane: rows 0 1 2 3 and 4 5 6 7
	r := roll(m, 1, 1)
	// np.roll(np.roll(a, 1, 1), 1, 0) of [[0 1 2 3] [4 5 6 7]] is [[7 4 5 6] [3 0 1 2]].
	want := []float32{7, 4, 5, 6, 3, 0, 1, 2}
	for i, v := range want {
		if r.Pix[i] != v {
			t.Fatalf("roll(1, 1) = %v, want %v", r.Pix[:8], want)
		}
	}
	if l := roll(m, 0, -1); l.Pix[0] != 1 || l.Pix[3] != 0 {
		t.Errorf("roll(0, -1) row 0 = %v, want [1 2 3 0]", l.Pix[:4])
	}
}

func TestRollUnrollIsIdentity(t *testing.T) {
	m := randomImage(13, 17, 1)
	for _, s := range [][2]int{{0, 0}, {1, 2}, {12, 16}, {13, 17}, {40, -3}, {-29, 100}} {
		back := roll(roll(m, s[0], s[1]), -s[0], -s[1])
		if d := maxDiff(t, m, back); d != 0 {
			t.Errorf("shift %v: roll then unroll differs by %v", s, d)
		}
	}
	if d := maxDiff(t, m, roll(m, 13, 34)); d != 0 {
		t.Errorf("a shift by whole sides is not the identity: %v", d)
	}
}

func TestResizeHandValues(t *testing.T) {
	row := func(v ...float32) *Image {
		m := NewImage(1, len(v))
		copy(m.Pix, v)
		copy(m.Pix[len(v):], v) // green
		copy(m.Pix[2*len(v):], v)
		return m
	}
	// Values tf.image.resize(..., method="bilinear") gives (half-pixel centres, no antialias).
	cases := []struct {
		in   *Image
		w    int
		want []float32
	}{
		{row(0, 1), 4, []float32{0, 0.25, 0.75, 1}},
		{row(0, 1, 2, 3), 2, []float32{0.5, 2.5}},
		{row(0, 10, 20), 2, []float32{2.5, 17.5}},
		{row(0, 10, 20), 5, []float32{0, 4, 10, 16, 20}},
		{row(5, 6, 7), 3, []float32{5, 6, 7}},
	}
	for _, c := range cases {
		got := Resize(c.in, 1, c.w)
		for p := range 3 {
			for i, v := range c.want {
				if g := got.Pix[p*c.w+i]; math.Abs(float64(g-v)) > 1e-5 {
					t.Errorf("resize %v to %d: plane %d = %v, want %v", c.in.Pix[:c.in.W], c.w, p, got.Pix[p*c.w:(p+1)*c.w], c.want)
					break
				}
			}
		}
	}
	// 2x2 to 4x4: separable, rows then columns.
	sq := NewImage(2, 2)
	copy(sq.Pix, []float32{0, 1, 2, 3})
	copy(sq.Pix[8:], []float32{10, 10, 10, 10}) // blue stays flat
	got := Resize(sq, 4, 4)
	want := []float32{0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3}
	for i, v := range want {
		if math.Abs(float64(got.Pix[i]-v)) > 1e-5 || got.Pix[32+i] != 10 {
			t.Fatalf("2x2 to 4x4: red %v, want %v; blue %v", got.Pix[:16], want, got.Pix[32:])
		}
	}
}

func TestOctaveSplitMergeIsIdentity(t *testing.T) {
	img := randomImage(61, 83, 2)
	base, details := splitOctaves(img, 4, 1.4)
	if base.H != 21 || base.W != 30 || len(details) != 3 { // 61→43→30→21, 83→59→42→30
		t.Fatalf("base %dx%d, %d details; want 30x21 and 3", base.W, base.H, len(details))
	}
	cur := base
	for i := len(details) - 1; i >= 0; i-- {
		cur = mergeOctave(cur, details[i])
	}
	if d := maxDiff(t, img, cur); d > 1e-4 {
		t.Errorf("split then merge differs by %v", d)
	}
	// The same through Run, with a layer whose gradient is zero.
	out, err := Run(context.Background(), Config{Layer: "zero", Channel: -1, Octaves: 4, OctaveScale: 1.4, Iterations: 2, Step: 1.5, TileSize: 32},
		&fakeNet{}, img, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(t, img, out); d > 1e-4 {
		t.Errorf("a dream without gradient changed the picture by %v", d)
	}
}

func TestOctaveSizes(t *testing.T) {
	// np.int32(np.float32(hw)/1.3) for the reference's 199x299 picture.
	got := octaveSizes(199, 299, 3, 1.3)
	want := [][2]int{{117, 176}, {153, 230}, {199, 299}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("octave sizes %v, want %v", got, want)
	}
}

// TestConstantGradientHasNoSeams feeds a network whose gradient is the same everywhere: the
// gradient put together from overlapping tiles of a rolled picture must be the same everywhere
// too, and one step must move every value by exactly the step.
func TestConstantGradientHasNoSeams(t *testing.T) {
	img := randomImage(150, 100, 3)
	const tile = 64
	c := newGraphCache(&fakeNet{}, 1<<30, 0)
	defer c.close()
	c.setObjective("a", -1)
	g, obj, err := c.gradient(context.Background(), roll(img, 17, 5), tile)
	if err != nil {
		t.Fatal(err)
	}
	want := float32(1.0 / (3 * tile * tile))
	for i, v := range g.Pix {
		if math.Abs(float64(v-want)) > 1e-6*float64(want) {
			t.Fatalf("gradient at %d (plane %d, row %d, column %d) = %v, want %v everywhere", i, i/(150*100), i%(150*100)/100, i%100, v, want)
		}
	}
	if obj < 0 || obj > 255 {
		t.Errorf("objective %v is not a mean of pixels", obj)
	}
	cfg := Config{Layer: "a", Channel: -1, Octaves: 1, OctaveScale: 1.4, Iterations: 1, Step: 1.5, TileSize: tile, Seed: 9}
	out, err := Run(context.Background(), cfg, &fakeNet{}, img, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out.Pix {
		if d := out.Pix[i] - img.Pix[i]; math.Abs(float64(d-1.5)) > 1e-4 {
			t.Fatalf("value %d moved by %v, want 1.5 everywhere", i, d)
		}
	}
}

func TestTileStarts(t *testing.T) {
	cases := []struct {
		n, t int
		want string
	}{{64, 64, "[0]"}, {150, 64, "[0 64 86]"}, {128, 64, "[0 64]"}, {129, 64, "[0 64 65]"}}
	for _, c := range cases {
		if got := fmt.Sprint(tileStarts(c.n, c.t)); got != c.want {
			t.Errorf("tileStarts(%d, %d) = %s, want %s", c.n, c.t, got, c.want)
		}
	}
}

// liveControl is a Control a test changes from the gate, between two iterations.
type liveControl struct {
	mu sync.Mutex
	s  Settings
}

func (c *liveControl) Current() Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

func (c *liveControl) set(s Settings) {
	c.mu.Lock()
	c.s = s
	c.mu.Unlock()
}

// TestLiveChangeTakesEffectAtNextIteration changes the channel before the third iteration and
// the layer before the fourth: each change must show in that iteration's event, its gradient and
// the graphs built, and nowhere before.
func TestLiveChangeTakesEffectAtNextIteration(t *testing.T) {
	img := randomImage(20, 30, 4)
	const step = 0.5
	cfg := Config{Layer: "a", Channel: 0, Octaves: 1, OctaveScale: 1.4, Iterations: 4, Step: step, TileSize: 64}
	ctl := &liveControl{s: Settings{Layer: "a", Channel: 0, Step: step}}
	calls := 0
	gate := func(context.Context) error {
		calls++
		switch calls {
		case 3:
			ctl.set(Settings{Layer: "a", Channel: 2, Step: step})
		case 4:
			ctl.set(Settings{Layer: "b", Channel: -1, Step: step})
		}
		return nil
	}
	net := &fakeNet{}
	events := make(chan Event, 16)
	out, err := Run(context.Background(), cfg, net, img, ctl, gate, events)
	if err != nil {
		t.Fatal(err)
	}
	close(events)
	var seen []string
	for e := range events {
		if it, ok := e.(Iteration); ok {
			seen = append(seen, fmt.Sprintf("%d:%s/%d", it.Iter, it.Layer, it.Channel))
		}
	}
	if want := "[1:a/0 2:a/0 3:a/2 4:b/-1]"; fmt.Sprint(seen) != want {
		t.Errorf("iterations %v, want %s", seen, want)
	}
	// The preflight builds a and iteration 1 compiles that graph; 3 rebuilds it for channel 2;
	// 4 builds b.
	if got, want := fmt.Sprint(net.built()), "[a 20x30 a 20x30 b 20x30]"; got != want {
		t.Errorf("built %s, want %s", got, want)
	}
	// One channel of three: the normalised gradient is 3 in that plane; the whole layer: 1.
	plane := img.H * img.W
	for p, moved := range []float64{3 + 3 + 1, 1, 3 + 1} {
		for i := p * plane; i < (p+1)*plane; i++ {
			if d := float64(out.Pix[i] - img.Pix[i]); math.Abs(d-moved*step) > 1e-4 {
				t.Fatalf("plane %d moved by %v, want %v", p, d, moved*step)
			}
		}
	}
}

// TestSlowReceiverDoesNotBlock runs with a full event buffer and nobody reading until the last
// iteration of the first octave has started: the frames in between are dropped, every OctaveDone
// and Done still arrives, and every frame is a copy of its own.
func TestSlowReceiverDoesNotBlock(t *testing.T) {
	img := randomImage(16, 16, 5)
	cfg := Config{Layer: "a", Channel: -1, Octaves: 2, OctaveScale: 1.4, Iterations: 5, Step: 1, TileSize: 64}
	events := make(chan Event, 1)
	last := make(chan struct{})
	calls := 0
	gate := func(context.Context) error {
		if calls++; calls == cfg.Iterations {
			close(last)
		}
		return nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), cfg, &fakeNet{}, img, nil, gate, events)
		done <- err
	}()
	<-last
	var got []Event
	for len(got) == 0 || !isDone(got[len(got)-1]) {
		got = append(got, <-events)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var octaves int
	var frames []*Image
	for _, e := range got {
		switch e := e.(type) {
		case OctaveDone:
			octaves++
			frames = append(frames, e.Frame)
		case Iteration:
			if e.Octave == 1 && e.Iter != 1 && e.Iter != cfg.Iterations {
				t.Errorf("iteration %d of octave 1 was delivered while the buffer was full", e.Iter)
			}
			frames = append(frames, e.Frame)
		}
	}
	if _, ok := got[0].(Iteration); !ok || octaves != 2 {
		t.Errorf("got %v: want the first iteration first, and 2 OctaveDone", got)
	}
	final := got[len(got)-1].(Done).Frame
	for i, f := range frames {
		if &f.Pix[0] == &final.Pix[0] {
			t.Errorf("frame %d shares its pixels with the final picture", i)
		}
		for j, g := range frames[:i] {
			if &f.Pix[0] == &g.Pix[0] {
				t.Errorf("frames %d and %d share their pixels", j, i)
			}
		}
	}
}

func isDone(e Event) bool { _, ok := e.(Done); return ok }

func TestCancelAndGateError(t *testing.T) {
	img := randomImage(16, 16, 6)
	cfg := Config{Layer: "a", Channel: -1, Octaves: 1, OctaveScale: 1.4, Iterations: 5, Step: 1, TileSize: 64}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	gate := func(ctx context.Context) error {
		if n++; n == 3 {
			cancel()
		}
		return ctx.Err()
	}
	if _, err := Run(ctx, cfg, &fakeNet{}, img, nil, gate, nil); !errors.Is(err, context.Canceled) || n != 3 {
		t.Errorf("cancelled at the third gate: %v after %d gates", err, n)
	}
}

func TestBadSettings(t *testing.T) {
	img := randomImage(40, 40, 7)
	cases := []struct {
		cfg  func(c *Config)
		net  *fakeNet
		want string
	}{
		{func(c *Config) { c.Layer = "mixed9" }, &fakeNet{}, `dream: layer = "mixed9": not a layer of the network ([a b zero])`},
		{func(c *Config) { c.Channel = 3 }, &fakeNet{}, "dream: channel = 3: layer a has channels 0 to 2 (-1: all)"},
		{func(c *Config) { c.Octaves = 0 }, &fakeNet{}, "dream: octaves = 0: must be 1 to 20"},
		{func(c *Config) { c.OctaveScale = 1 }, &fakeNet{}, "dream: octave_scale = 1"},
		{func(c *Config) { c.Step = -1 }, &fakeNet{}, "dream: step = -1"},
		{func(c *Config) {}, &fakeNet{minSide: 20}, "dream: octave 1 of 4 (14x14 pixels) cannot be dreamed on at layer a"},
	}
	for _, c := range cases {
		cfg := testConfig("a", -1)
		c.cfg(&cfg)
		_, err := Run(context.Background(), cfg, c.net, img, nil, nil, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if _, err := Run(context.Background(), testConfig("a", -1), &fakeNet{}, &Image{H: 2, W: 2}, nil, nil, nil); err == nil {
		t.Error("a picture without pixels was accepted")
	}
}

// TestMemoryBudget refuses a tile that does not fit and names a tile size that does.
func TestMemoryBudget(t *testing.T) {
	net := &fakeNet{}
	cfg := Config{Layer: "a", Channel: -1, Octaves: 1, OctaveScale: 1.4, Iterations: 1, Step: 1, TileSize: 512}
	need, err := Estimate(cfg, net, 600, 600)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MemoryMiB = int(need>>20) * 2 / 3
	_, err = Run(context.Background(), cfg, net, randomImage(600, 600, 8), nil, nil, nil)
	var side int
	if err == nil || !strings.Contains(err.Error(), "a 512x512 tile of layer a needs about") {
		t.Fatalf("over budget: %v", err)
	}
	if _, err := fmt.Sscanf(err.Error()[strings.Index(err.Error(), "tile_size = "):], "tile_size = %d)", &side); err != nil || side >= 512 || side < 64 {
		t.Fatalf("no usable tile size in %q (%v)", err, side)
	}
	cfg.TileSize = side
	if fits, err := Estimate(cfg, net, 600, 600); err != nil || fits > int64(cfg.MemoryMiB)<<20 {
		t.Errorf("the suggested tile of %d needs %d bytes of %d: %v", side, fits, cfg.MemoryMiB<<20, err)
	}
	cfg.MemoryMiB = 1
	if _, err := Run(context.Background(), cfg, net, randomImage(600, 600, 8), nil, nil, nil); err == nil || !strings.Contains(err.Error(), "the picture may have at most about") {
		t.Errorf("picture over budget: %v", err)
	}
	// Check refuses the same before any work, and accepts what fits.
	if err := Check(cfg, net, 600, 600); err == nil || !strings.Contains(err.Error(), "the picture may have at most about") {
		t.Errorf("Check of a picture over budget: %v", err)
	}
	cfg.MemoryMiB = 0
	if err := Check(cfg, net, 600, 600); err != nil {
		t.Errorf("Check within the default budget: %v", err)
	}
}

func TestNoise(t *testing.T) {
	m := Noise(NoiseSide, NoiseSide, 1)
	lo, hi := float32(1000), float32(-1)
	for _, v := range m.Pix {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo < 100 || hi >= 101 || hi-lo < 0.99 {
		t.Errorf("noise values in [%v, %v], want [100, 101)", lo, hi)
	}
	if maxDiff(t, m, Noise(NoiseSide, NoiseSide, 1)) != 0 || maxDiff(t, m, Noise(NoiseSide, NoiseSide, 2)) == 0 {
		t.Error("noise does not follow its seed")
	}
}

// TestAscendRolled checks that moving a picture along the gradient of its rolled copy, read in
// place, is moving it along that gradient rolled back (roll is checked by hand above).
func TestAscendRolled(t *testing.T) {
	img, g := randomImage(7, 11, 1), randomImage(7, 11, 2)
	for i := range g.Pix {
		g.Pix[i] -= 127 // of both signs
	}
	for _, s := range [][2]int{{0, 0}, {3, 5}, {-2, 13}, {6, 10}} {
		got, want := img.Clone(), img.Clone()
		ascendRolled(got, g, s[0], s[1], 1.5)
		ascend(want, roll(g, -s[0], -s[1]), 1.5)
		if d := maxDiff(t, got, want); d != 0 {
			t.Errorf("roll (%d, %d): off by %v", s[0], s[1], d)
		}
		if d := maxDiff(t, got, img); d == 0 {
			t.Errorf("roll (%d, %d): nothing moved", s[0], s[1])
		}
	}
	// The mean move is the step.
	out := img.Clone()
	ascendRolled(out, g, 2, 3, 1.5)
	var sum float64
	for i := range out.Pix {
		sum += math.Abs(float64(out.Pix[i] - img.Pix[i]))
	}
	if m := sum / float64(len(out.Pix)); math.Abs(m-1.5) > 1e-4 {
		t.Errorf("mean move %v, want 1.5", m)
	}
}
