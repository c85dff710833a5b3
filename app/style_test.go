package app

import (
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
	if _, _, err := style.Estimate(q.Config, net); err != nil {
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
