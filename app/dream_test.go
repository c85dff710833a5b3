package app

import (
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"convas/compute/dream"
	"convas/compute/models"
)

func TestDreamPNGSettingsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "dream.png")
	img := dream.Noise(12, 20, 3)
	img.Pix[0], img.Pix[1] = -40, 300 // clipped when written
	cfg := dream.DefaultConfig()
	cfg.Layer, cfg.Channel, cfg.Step, cfg.Roll, cfg.Seed = "mixed4", 17, 1.275, 16, -5
	want := DreamSettings{Network: dream.TrunkName, Picture: "chat-été 🐈.png", LongSide: 299, Config: cfg}
	if err := SaveDreamPNG(path, img, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadDreamSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("read back %+v\nwant %+v", got, want)
	}
	// The standard decoder checks every chunk's checksum, and reads the pixels back.
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
	if b := m.Bounds(); b.Dx() != 20 || b.Dy() != 12 || r0 != 0 || r1 != 0xffff {
		t.Errorf("decoded %v with first reds %d and %d, want 20x12, 0 and 65535", m.Bounds(), r0, r1)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), "tEXtconvas:dream\x00{") || strings.ContainsFunc(string(raw[:200]), func(r rune) bool { return r == 'é' }) {
		t.Error("the settings are not an ASCII tEXt chunk keyed convas:dream")
	}
}

func TestReadDreamSettingsErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.png")
	if err := SaveDreamPNG(good, dream.Noise(4, 4, 1), DreamSettings{Network: dream.TrunkName, Config: dream.DefaultConfig()}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	plain := filepath.Join(dir, "plain.png")
	f, _ := os.Create(plain)
	png.Encode(f, dream.Noise(4, 4, 1).ToNRGBA())
	f.Close()
	damaged := append([]byte(nil), raw...)
	i := strings.Index(string(damaged), `"layer"`)
	damaged[i+2] = 'X'
	cases := []struct {
		path string
		want string
		is   error
	}{
		{plain, "plain.png: no Convas dream settings", ErrNoDreamSettings},
		{write("damaged.png", damaged), `damaged.png: png: chunk "tEXt" at offset`, nil},
		{write("short.png", raw[:60]), "short.png: png: cut off", io.ErrUnexpectedEOF},
		{write("shorter.png", raw[:50]), "shorter.png: png: chunk \"tEXt\" at offset 33", io.ErrUnexpectedEOF},
		{write("text.png", []byte("hello")), "text.png: not a PNG file", nil},
		{filepath.Join(dir, "missing.png"), "missing.png: no such file", nil},
	}
	for _, c := range cases {
		_, err := ReadDreamSettings(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: got %v, want %q", filepath.Base(c.path), err, c.want)
		}
	}
}

func TestDreamPresets(t *testing.T) {
	a := testApp(t)
	byName := map[string]DreamPreset{}
	for _, p := range a.DreamPresets() {
		byName[p.Name] = p
	}
	if len(byName) != 4 {
		t.Fatalf("built-in dream presets %v, want 4 (one failed to parse?)", byName)
	}
	if p := byName["deepdream-inception5h"]; p.Config != dream.DefaultConfig() || p.Network != "inception5h" {
		t.Errorf("deepdream-inception5h is %+v, want the recipe's %+v", p, dream.DefaultConfig())
	}
	p, err := a.LoadDreamPreset("trunk-mixed3")
	if err != nil || p.Config.Layer != "mixed3" || p.Config.Channel != -1 || p.LongSide != 299 || p.Config.Step != 1.275 || p.Network != dream.TrunkName {
		t.Errorf("trunk-mixed3: %+v, %v", p, err)
	}
	// VGG19's preset names a layer of VGG19 and fits the default memory budget at its size.
	v := byName["deepdream-vgg19"]
	need, err := dream.Estimate(v.Config, dream.VGG19{M: models.NewVGG19Random(1)}, v.LongSide, v.LongSide)
	if v.Network != dream.VGG19Name || v.LongSide != 448 || err != nil || need > dream.DefaultMemoryMiB<<20 {
		t.Errorf("deepdream-vgg19 %+v: needs %d MiB, %v", v, need>>20, err)
	}
	if _, err := ParseDreamPreset("x.toml", []byte("recipe = \"deepdream\"\nlayer = \"mixed3\"\nsteps = 3\n")); err == nil || !strings.Contains(err.Error(), "steps = 3: unknown key") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := ParseDreamPreset("x.toml", []byte("recipe = \"deepdream\"\noctaves = 0\n")); err == nil || !strings.Contains(err.Error(), "octaves = 0") {
		t.Errorf("bad value: %v", err)
	}
	if _, err := ParseDreamPreset("x.toml", []byte("batch_size = 100\n")); err == nil {
		t.Error("a training preset was read as a dream preset")
	}
}

func TestNewDreamErrors(t *testing.T) {
	a := testApp(t)
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.jpg")
	os.WriteFile(corrupt, []byte("\xff\xd8\xffgarbage"), 0o644)
	trunk := a.DefaultDreamConfig(dream.TrunkName)
	if trunk.Layer != "mixed3" || trunk.Channel != -1 || a.DefaultDreamConfig("inception5h") != dream.DefaultConfig() {
		t.Errorf("default configurations: trunk %+v", trunk)
	}
	if v := a.DefaultDreamConfig(dream.VGG19Name); v.Layer != "relu4_3" || v.Channel != -1 || v.Step != 1.5 {
		t.Errorf("default configuration of vgg19: %+v", v)
	}
	with := func(f func(c *dream.Config)) dream.Config { c := trunk; f(&c); return c }
	cases := []struct {
		req  DreamRequest
		want string
	}{
		{DreamRequest{Network: dream.TrunkName, Picture: filepath.Join(dir, "missing.png"), Config: trunk}, "picture " + dir + "/missing.png: no such file or directory"},
		{DreamRequest{Network: dream.TrunkName, Picture: corrupt, Config: trunk}, "picture " + corrupt + ": "},
		{DreamRequest{Network: dream.TrunkName, Picture: NoisePicture, Config: with(func(c *dream.Config) { c.Layer = "mixed7" })}, `layer = "mixed7"`},
		{DreamRequest{Network: dream.TrunkName, Picture: NoisePicture, Config: with(func(c *dream.Config) { c.Channel = 768 })}, "channel = 768"},
		{DreamRequest{Network: "inception5h", Picture: NoisePicture, Config: trunk}, "network inception5h: not downloaded (missing): fetch it"},
		{DreamRequest{Network: dream.VGG19Name, Picture: NoisePicture, Config: a.DefaultDreamConfig(dream.VGG19Name)}, "network vgg19: not downloaded (missing): fetch it in the Models tab or with convas models fetch vgg19"},
		{DreamRequest{Network: dream.TrunkName, Picture: NoisePicture, LongSide: 600, Config: with(func(c *dream.Config) { c.MemoryMiB = 64 })},
			"over the memory budget of 64 MiB: tiles of at most 92 pixels fit (tile_size = 92)"},
		{DreamRequest{Network: dream.TrunkName, Picture: NoisePicture, LongSide: 600, Config: with(func(c *dream.Config) { c.MemoryMiB = 16 })},
			"over the memory budget of 16 MiB: the picture may have at most about"},
		{DreamRequest{Network: "lenet", Picture: NoisePicture, Config: trunk}, `unknown network "lenet" (have: inceptionv3-trunk, inception5h, vgg19)`},
	}
	for _, c := range cases {
		if _, err := a.NewDream(c.req); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: got %v, want %q", c.req.Network, filepath.Base(c.req.Picture), err, c.want)
		}
	}
}

// TestDreamLiveChange pauses a dream on the embedded trunk, changes its layer, channel and step,
// and resumes: the iterations after the change use them, and the saved settings record them.
func TestDreamLiveChange(t *testing.T) {
	a := testApp(t)
	cfg := a.DefaultDreamConfig(dream.TrunkName)
	cfg.Octaves, cfg.Iterations = 1, 4
	d, err := a.NewDream(DreamRequest{Network: dream.TrunkName, Picture: NoisePicture, LongSide: 80, Config: cfg, KeepFrames: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetLayer("mixed9"); err == nil {
		t.Error("SetLayer accepted a layer the trunk lacks")
	}
	if err := d.SetChannel(768); err == nil {
		t.Error("SetChannel accepted channel 768 of mixed3")
	}
	job, err := d.Start()
	if err != nil {
		t.Fatal(err)
	}
	job.Pause()
	if err := d.SetLayer("mixed2"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetChannel(5); err != nil {
		t.Fatal(err)
	}
	if err := d.SetStep(2); err != nil {
		t.Fatal(err)
	}
	job.Resume()
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	var its []dream.Iteration
	for len(d.Events) > 0 {
		if it, ok := (<-d.Events).(dream.Iteration); ok {
			its = append(its, it)
		}
	}
	if len(its) != 4 || its[3].Layer != "mixed2" || its[3].Channel != 5 {
		t.Fatalf("iterations %+v: want 4, the last on mixed2 channel 5", its)
	}
	for i := 1; i < len(its); i++ {
		if its[i-1].Layer == "mixed2" && its[i].Layer != "mixed2" {
			t.Errorf("iteration %d went back to %s", i+1, its[i].Layer)
		}
	}
	if d.Result() == nil || d.Result().W != 80 {
		t.Fatalf("result %v", d.Result())
	}
	if s := d.Settings(); s.Config.Layer != "mixed2" || s.Config.Channel != 5 || s.Config.Step != 2 || s.Picture != "noise" || s.LongSide != 80 {
		t.Errorf("settings %+v", s)
	}
	// Back to a layer with fewer channels than the channel picked: the whole layer.
	d.SetChannel(280)
	if err := d.SetLayer("mixed0"); err != nil || d.Settings().Config.Channel != -1 {
		t.Errorf("mixed0 (256 channels) after channel 280: %v, channel %d", err, d.Settings().Config.Channel)
	}
}

// TestDreamVGG19Listed imports a file as VGG19 without verification: the network list then
// offers VGG19, with relu4_3 as its layer, and a file that is not a VGG19 MAT-file is refused
// with an error that names it, when the dream is prepared and when the gallery's job loads it.
func TestDreamVGG19Listed(t *testing.T) {
	a := testApp(t)
	bogus := filepath.Join(t.TempDir(), "imagenet-vgg-verydeep-19.mat")
	os.WriteFile(bogus, []byte("MATLAB 5.0 MAT-file, but not really"), 0o644)
	if _, err := a.Store().ImportUnverified(bogus, dream.VGG19Name); err != nil {
		t.Fatal(err)
	}
	var vgg DreamNetwork
	for _, n := range a.DreamNetworks() {
		if n.Name == dream.VGG19Name {
			vgg = n
		}
	}
	if !vgg.Available || vgg.DefaultLayer != dream.VGG19Layer {
		t.Fatalf("vgg19 in the list: %+v", vgg)
	}
	if _, err := a.DreamLayers(dream.VGG19Name); err == nil || !strings.Contains(err.Error(), "imagenet-vgg-verydeep-19.mat: models: vgg19: ") {
		t.Errorf("the layers of a bogus VGG19 file: %v", err)
	}
	if l, err := a.DreamLayers(dream.TrunkName); err != nil || len(l) == 0 || l[len(l)-1].Name != "mixed5" {
		t.Errorf("the trunk's layers: %v, %v", l, err)
	}
	_, err := a.NewDream(DreamRequest{Network: dream.VGG19Name, Picture: NoisePicture, Config: a.DefaultDreamConfig(dream.VGG19Name)})
	if err == nil || !strings.Contains(err.Error(), "imagenet-vgg-verydeep-19.mat: models: vgg19: ") {
		t.Errorf("a bogus VGG19 file: %v", err)
	}
	g, err := a.NewGallery(dream.VGG19Name, dream.VGG19Layer, 512, DefaultGallerySettings())
	if err != nil {
		t.Fatal(err)
	}
	job := g.Start()
	g.RenderUpTo(1)
	if err := job.Wait(); err == nil || !strings.Contains(err.Error(), "gallery of vgg19, layer relu4_3: ") || !strings.Contains(err.Error(), "imagenet-vgg-verydeep-19.mat: models: vgg19: ") {
		t.Errorf("the gallery of a bogus VGG19 file: %v", err)
	}
}
