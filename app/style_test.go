package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"convas/compute/models"
	"convas/compute/style"
)

// Built-in sample pictures, as files in the repository.
const (
	chelseaFile = "../assets/samples/chelsea.png"
	screamFile  = "../assets/samples/scream.jpg"
)

func TestStylePresets(t *testing.T) {
	a := testApp(t)
	p, err := a.LoadStylePreset(StyleRecipePreset)
	if err != nil {
		t.Fatal(err)
	}
	// The recipe's values exactly: the preset file and DefaultConfig agree.
	if want := style.DefaultConfig(); !reflect.DeepEqual(p.Config, want) {
		t.Errorf("stylenet = %+v\nwant %+v", p.Config, want)
	}
	q, err := a.LoadStylePreset("style-" + StyleTrunkPreset)
	if err != nil {
		t.Fatal(err)
	}
	net, err := a.LoadStyleNetwork(q.Config.Model)
	if err != nil {
		t.Fatal(err)
	}
	q.Config.Size = 64
	if _, err := style.Estimate(q.Config, net, style.Timing{}); err != nil {
		t.Errorf("the trunk's preset does not fit its network: %v", err)
	}
	if n := len(a.StylePresets()); n != 2 {
		t.Errorf("%d built-in style presets, want 2", n)
	}
	// Training presets do not list style presets, and style presets refuse other recipes'.
	for _, tp := range a.Presets() {
		if strings.HasPrefix(tp.Name, "style-") {
			t.Errorf("training presets list %s", tp.Name)
		}
	}
	for body, want := range map[string]string{
		"recipe = \"style\"\nstyle_wieght = 3\n":             "style_wieght",
		"recipe = \"deepdream\"\n":                           "recipe",
		"recipe = \"style\"\noptimizer = \"sgd\"\n":          "optimizer = sgd",
		"recipe = \"style\"\n[style_layers]\nrelu1_1 = -1\n": "relu1_1",
	} {
		_, err := ParseStylePreset("bad.toml", []byte(body))
		var pe *PresetError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.toml") {
			t.Errorf("%q: %v, want a PresetError naming bad.toml and %q", body, err, want)
		}
	}
	if _, err := a.LoadStylePreset("nope"); err == nil || !strings.Contains(err.Error(), "stylenet") {
		t.Errorf("missing preset: %v", err)
	}
	// The layer tables of a preset replace the defaults' rather than merging into them.
	r, err := ParseStylePreset("x.toml", []byte("recipe = \"style\"\n[content_layers]\nrelu3_3 = 1\n"))
	if err != nil || len(r.Config.ContentLayers) != 1 || len(r.Config.StyleLayers) != 5 {
		t.Errorf("got %+v, %v", r.Config, err)
	}
}

func TestStylePNGSettingsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "style.png")
	img := &style.Image{H: 6, W: 9, Pix: make([]float32, 3*6*9)}
	img.Pix[0], img.Pix[1] = -40, 300 // clipped when written
	want := style.DefaultConfig()
	want.Content = "chat-été 🐈.png"
	want.Styles = []style.StyleImage{{Image: "/tmp/scream.jpg", Weight: 2}, {Image: "b.png", Weight: 0.5}}
	want.StyleLayers["relu1_1"] = 0.7
	want.Optimizer, want.Size, want.PreserveColors, want.Margin = "lbfgs", 300, true, 8
	if err := SaveStylePNG(path, img, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStyleSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back %+v\nwant %+v", got, want)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	r0, _, _, _ := m.At(0, 0).RGBA()
	r1, _, _, _ := m.At(1, 0).RGBA()
	if b := m.Bounds(); b.Dx() != 9 || b.Dy() != 6 || r0 != 0 || r1 != 0xffff {
		t.Errorf("decoded %v with first reds %d and %d, want 9x6, 0 and 65535", m.Bounds(), r0, r1)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), "tEXtconvas:style\x00{") {
		t.Error("the settings are not a tEXt chunk keyed convas:style")
	}
	// A PNG without settings, and a file that is not there.
	if _, err := ReadStyleSettings(chelseaFile); !errors.Is(err, ErrNoStyleSettings) || !strings.Contains(err.Error(), chelseaFile) {
		t.Errorf("plain PNG: %v", err)
	}
	if _, err := ReadStyleSettings(filepath.Join(dir, "none.png")); err == nil || !strings.Contains(err.Error(), "none.png") {
		t.Errorf("missing file: %v", err)
	}
}

// tinyTrunkConfig is the trunk's preset at 64 pixels for 2 steps.
func tinyTrunkConfig(t *testing.T, a *App) style.Config {
	t.Helper()
	p, err := a.LoadStylePreset(StyleTrunkPreset)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.Config
	cfg.Content, cfg.Styles = chelseaFile, []style.StyleImage{{Image: screamFile, Weight: 1}}
	cfg.Size, cfg.Iterations, cfg.Margin, cfg.Every = 64, 2, 4, 1
	return cfg
}

func TestNewStyleErrorsNameTheFile(t *testing.T) {
	a := testApp(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.png")
	os.WriteFile(junk, []byte("not a picture"), 0o644)
	for name, edit := range map[string]func(c *style.Config) string{
		"missing content": func(c *style.Config) string { c.Content = filepath.Join(dir, "gone.png"); return "gone.png" },
		"junk style":      func(c *style.Config) string { c.Styles[0].Image = junk; return "junk.png" },
		"junk init":       func(c *style.Config) string { c.Init = junk; return "junk.png" },
		"unknown network": func(c *style.Config) string { c.Model = "alexnet"; return "alexnet" },
		"layer":           func(c *style.Config) string { c.StyleLayers["relu1_1"] = 1; return "relu1_1" },
		"memory":          func(c *style.Config) string { c.Size, c.MemoryMiB = 256, 150; return "size = " },
	} {
		cfg := tinyTrunkConfig(t, a)
		want := edit(&cfg)
		if _, err := a.NewStyle(cfg); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line naming %q", name, err, want)
		}
	}
}

func TestStyleRunWithTheTrunk(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the trunk")
	}
	a := testApp(t)
	r, err := a.NewStyle(tinyTrunkConfig(t, a))
	if err != nil {
		t.Fatal(err)
	}
	// Weights: a layer the run does not have and a negative weight are refused; layers left out
	// keep their weight.
	w := r.Weights()
	if err := r.SetWeights(style.Weights{Content: 1, Style: 1, StyleLayers: map[string]float64{"relu1_1": 1}}); err == nil {
		t.Error("an unknown layer was accepted")
	}
	if err := r.SetWeights(style.Weights{Content: -1, Style: 1}); err == nil {
		t.Error("a negative weight was accepted")
	}
	if err := r.SetWeights(style.Weights{Content: 2, Style: 3, TV: 0, StyleLayers: map[string]float64{"mixed0": 5}}); err != nil {
		t.Fatal(err)
	}
	now := r.Weights()
	if now.Content != 2 || now.StyleLayers["mixed0"] != 5 || now.StyleLayers["conv2d_1"] != w.StyleLayers["conv2d_1"] || len(now.ContentLayers) != 1 {
		t.Errorf("weights now %+v", now)
	}
	job, err := r.Start()
	if err != nil {
		t.Fatal(err)
	}
	var its, saved int
	var done bool
	for ev := range r.Events {
		switch e := ev.(type) {
		case StyleIteration:
			its++
			if e.Losses.TV != 0 {
				t.Errorf("step %d: tv loss %v under weight 0", e.Step, e.Losses.TV)
			}
		case StyleSaved:
			saved++
		case StyleDone:
			done = true
		}
		if done {
			break
		}
	}
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	res := r.Result()
	if its != 2 || saved != 2 || res == nil || max(res.H, res.W) != 64 {
		t.Errorf("%d iterations, %d saved, result %v", its, saved, res)
	}
	if s := r.Settings(); s.ContentWeight != 2 || s.StyleLayers["mixed0"] != 5 {
		t.Errorf("settings %+v do not hold the weights in effect", s)
	}
}

// TestStyleEstimator estimates the trunk's preset: without a measurement the time is unknown;
// measured once, it is kept for the network and layer set, and grows with the size; size 0 takes
// the content picture's long side; a budget too small gives the largest size that fits.
func TestStyleEstimator(t *testing.T) {
	a := testApp(t)
	e := a.NewStyleEstimator()
	cfg := tinyTrunkConfig(t, a)
	got, err := e.Estimate(context.Background(), cfg, false)
	if err != nil || got.Step != 0 || got.Bytes <= 0 || !got.Fits() || got.H != 64 {
		t.Fatalf("unmeasured: %+v, %v", got, err)
	}
	if testing.Short() {
		return
	}
	got, err = e.Estimate(context.Background(), cfg, true)
	if err != nil || got.Step <= 0 || got.Timing.PerGFLOP <= 0 {
		t.Fatalf("measured: %+v, %v", got, err)
	}
	t.Logf("trunk at 64: %v a step (timing %+v)", got.Step, got.Timing)
	big := cfg.Clone()
	big.Size = 256
	big.StyleLayers["conv2d_1"] = 7 // a weight: the same layer set, the same timing
	got2, err := e.Estimate(context.Background(), big, false)
	// The step time is the measured fit applied to the operations of the size: it grows with
	// them, by the fit's own rate (how far depends on this machine's measurement, not asserted).
	if err != nil || got2.Timing != got.Timing || got2.FLOPs < 15*got.FLOPs || !(got2.Step > got.Step) ||
		got2.Step != got.Timing.Step(got2.FLOPs) {
		t.Errorf("256 pixels: %v a step for %d FLOPs, timing %+v; 64 pixels: %v for %d FLOPs", got2.Step, got2.FLOPs, got2.Timing, got.Step, got.FLOPs)
	}
	other := cfg.Clone()
	delete(other.StyleLayers, "mixed2")
	if o, _ := e.Estimate(context.Background(), other, false); o.Step != 0 {
		t.Errorf("another layer set has a timing before one is measured: %+v", o.Timing)
	}
	whole := cfg.Clone()
	whole.Size = 0 // chelsea.png, 451 x 300
	if w, err := e.Estimate(context.Background(), whole, false); err != nil || w.H != 451 || w.W != 451 {
		t.Errorf("size 0: %dx%d, %v; want chelsea's long side, 451", w.W, w.H, err)
	}
	tight := cfg.Clone()
	tight.Size, tight.MemoryMiB = 256, 150
	tt, err := e.Estimate(context.Background(), tight, false)
	if err != nil || tt.Fits() || tt.Largest < 16 || tt.Largest >= 256 || !strings.Contains(fmt.Sprint(tt.Err()), fmt.Sprintf("size = %d", tt.Largest)) {
		t.Errorf("over budget: %+v, %v", tt, tt.Err())
	}
}

// TestStyleEstimateDuringARun estimates with the trunk again and again while a transfer with
// the trunk runs, as the panel does when settings are edited mid-run: under go test -race this
// checks that building graphs at once shares nothing.
func TestStyleEstimateDuringARun(t *testing.T) {
	a := testApp(t)
	cfg := tinyTrunkConfig(t, a)
	cfg.Iterations = 3
	r, err := a.NewStyle(cfg)
	if err != nil {
		t.Fatal(err)
	}
	job, err := r.Start()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range r.Events {
		}
	}()
	e := a.NewStyleEstimator()
	est := cfg.Clone()
	n := 0
	for sz := 80; job.State() <= Paused; sz += 8 {
		est.Size = sz
		if _, err := e.Estimate(context.Background(), est, false); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d estimates during the run", n)
}

// TestStyleNetPresetWithVGG19 runs the recipe's preset as written (presets/style-stylenet.toml:
// VGG-19, noise, Adam at 10, 100 generations, a picture every 25, the content picture's own
// size) on a small content picture, with VGG-19 of the real shapes and random weights in place
// of the .mat, which cannot be fetched here: from LoadStyleNetwork's result on, the code path is
// the real one (NewStyle's checks, the job, Run, SaveStylePNG). -short runs 4 generations.
func TestStyleNetPresetWithVGG19(t *testing.T) {
	a := testApp(t)
	p, err := a.LoadStylePreset(StyleRecipePreset)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.Config.Clone()
	dir := t.TempDir()
	content := filepath.Join(dir, "chelsea-48.png")
	m, err := imaging.Open(chelseaFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := imaging.Save(imaging.Resize(m, 48, 32, imaging.Lanczos), content); err != nil {
		t.Fatal(err)
	}
	cfg.Content, cfg.Styles = content, []StylePicture{{Image: screamFile, Weight: 1}}
	if testing.Short() {
		cfg.Iterations, cfg.Every = 4, 2
	}
	r, err := newStyleRun(cfg, style.VGG{M: models.NewVGG19Random(1)}, MemoryBudget{MiB: cfg.MemoryMiB})
	if err != nil {
		t.Fatal(err)
	}
	job, err := r.Start()
	if err != nil {
		t.Fatal(err)
	}
	var its []StyleIteration
	var saved []int
	for ev := range r.Events {
		if it, ok := ev.(StyleIteration); ok {
			its = append(its, it)
		}
		if s, ok := ev.(StyleSaved); ok {
			saved = append(saved, s.Step)
		}
		if _, ok := ev.(StyleDone); ok {
			break
		}
	}
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(its) != cfg.Iterations || len(saved) != cfg.Iterations/cfg.Every || saved[len(saved)-1] != cfg.Iterations {
		t.Fatalf("%d iterations, saved at %v", len(its), saved)
	}
	first, last := its[0].Losses, its[len(its)-1].Losses
	t.Logf("losses %+v -> %+v", first, last)
	for _, l := range []float64{first.Content, first.Style, first.TV, last.Total} {
		if !(l >= 0) || math.IsInf(l, 0) {
			t.Fatalf("a loss is %v", l)
		}
	}
	if !(last.Total < first.Total) || !(last.Style < first.Style) {
		t.Errorf("the loss did not fall: %+v -> %+v", first, last)
	}
	res := r.Result()
	if res == nil || res.W != 48 || res.H != 32 {
		t.Fatalf("result %v, want the content picture's 48x32 (size = 0)", res)
	}
	out := filepath.Join(dir, "cat.png")
	if err := SaveStylePNG(out, res, r.Settings()); err != nil {
		t.Fatal(err)
	}
	back, err := ReadStyleSettings(out)
	if err != nil || back.Model != style.VGG19Name || back.StyleWeight != 500 || back.ContentLayers["relu4_2"] != 0.5 {
		t.Errorf("settings read back %+v, %v", back, err)
	}
	if f, err := os.Open(out); err == nil {
		c, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil || c.Width != 48 || c.Height != 32 {
			t.Errorf("saved %dx%d, %v", c.Width, c.Height, err)
		}
	}
}

func TestSampleCredit(t *testing.T) {
	if got := SampleCredit("scream.jpg"); got != "Edvard Munch, The Scream (1893): public domain" {
		t.Errorf("scream.jpg: %q", got)
	}
	if got := SampleCredit("chelsea.png"); got != "CC0 (scikit-image data)" {
		t.Errorf("chelsea.png: %q", got)
	}
	if got := SampleCredit("nope.png"); got != "" {
		t.Errorf("an unknown sample: %q", got)
	}
}
