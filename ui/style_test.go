package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"convas/app"
)

func newStylePanel(t *testing.T) (*StylePanel, queue) {
	t.Helper()
	a := test.NewTempApp(t)
	w := a.NewWindow("test")
	dir := t.TempDir()
	core := &app.App{ConfigDir: filepath.Join(dir, "config"), CacheDir: filepath.Join(dir, "cache"), DataDir: filepath.Join(dir, "data")}
	q := make(queue, 1000)
	p := NewStylePanel(core, w, q.do)
	w.SetContent(p.View())
	return p, q
}

func TestStylePanelRunAndLiveWeights(t *testing.T) {
	p, q := newStylePanel(t)
	if !strings.HasSuffix(p.contentPath, "chelsea.png") || !strings.HasSuffix(p.stylePath, "scream.jpg") {
		t.Fatalf("default pictures %q %q", p.contentPath, p.stylePath)
	}
	if p.networks[p.networkSel.Selected].Name != "inceptionv3-trunk" {
		t.Fatalf("default network %q", p.networkSel.Selected)
	}
	p.fields["size"].SetText("64")
	p.fields["iterations"].SetText("6")
	p.fields["every"].SetText("2")
	test.Tap(p.startBtn)
	q.pump(t, 60*time.Second, func() bool { return p.running() })
	p.weights["style"].SetValue(1) // 10: applies from the next iteration
	if w := p.run.Weights(); w.Style != 10 {
		t.Errorf("style weight while running: %v, want 10", w.Style)
	}
	q.pump(t, 120*time.Second, func() bool { return p.job.State() > app.Paused && !p.startBtn.Disabled() })
	if p.job.State() != app.Finished || p.saveBtn.Disabled() {
		t.Fatalf("state %v, status %q", p.job.State(), p.status.Text)
	}
	if !strings.HasPrefix(p.estimate.Text, "Needs about ") {
		t.Errorf("estimate %q", p.estimate.Text)
	}
	if len(p.strip.Objects) != 3 {
		t.Errorf("%d saved generations in the strip, want 3", len(p.strip.Objects))
	}
	if !strings.Contains(p.progressText.Text, "Generation 6 of 6") {
		t.Errorf("progress %q", p.progressText.Text)
	}
}

func TestStylePanelBlendAndLayerWeights(t *testing.T) {
	p, _ := newStylePanel(t)
	p.AddStyle(p.contentPath, 0.5)
	var key string
	for k := range p.layerWeight {
		if strings.HasPrefix(k, "style:") {
			key = k
			break
		}
	}
	p.layerWeight[key].SetText("7")
	cfg, err := p.readConfig()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Styles) != 2 || cfg.Styles[1].Weight != 0.5 {
		t.Errorf("styles %+v", cfg.Styles)
	}
	if got := cfg.StyleLayers[strings.TrimPrefix(key, "style:")]; got != 7 {
		t.Errorf("layer weight %v, want 7", got)
	}
	p.layerOn[key].SetChecked(false)
	if cfg, _ := p.readConfig(); cfg.StyleLayers[strings.TrimPrefix(key, "style:")] != 0 {
		t.Error("an unchecked layer keeps its weight")
	}
}
