package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"convas/app"
)

func newModelsPanel(t *testing.T) (*ModelsPanel, queue) {
	t.Helper()
	a := test.NewTempApp(t)
	w := a.NewWindow("test")
	dir := t.TempDir()
	core := &app.App{ConfigDir: filepath.Join(dir, "config"), CacheDir: filepath.Join(dir, "cache"), DataDir: filepath.Join(dir, "data")}
	q := make(queue, 1000)
	p := NewModelsPanel(core, w, q.do)
	w.SetContent(p.View())
	return p, q
}

func rowIndex(p *ModelsPanel, name string) int {
	for i, r := range p.rows {
		if r.Entry.Name == name {
			return i
		}
	}
	return -1
}

func TestModelsPanelStatesAndLayers(t *testing.T) {
	p, q := newModelsPanel(t)
	trunk := rowIndex(p, "inceptionv3-trunk")
	vgg := rowIndex(p, "vgg19")
	if trunk < 0 || vgg < 0 {
		t.Fatalf("rows %v", p.rows)
	}
	if stateText(p.rows[trunk]) != "ready (embedded)" || stateText(p.rows[vgg]) != "missing" {
		t.Errorf("states %q %q", stateText(p.rows[trunk]), stateText(p.rows[vgg]))
	}
	p.list.Select(trunk)
	q.pump(t, 20*time.Second, func() bool { return len(p.layers) > 0 })
	found := false
	for _, l := range p.layers {
		if l.Name == "mixed5" && l.Channels == 768 {
			found = true
		}
	}
	if !found {
		t.Errorf("layer table lacks mixed5 with 768 channels: %v", p.layers)
	}
	if !p.fetchBtn.Disabled() || !p.deleteBtn.Disabled() {
		t.Error("Download/Delete enabled for the embedded trunk")
	}
	p.list.Select(vgg)
	if p.fetchBtn.Disabled() {
		t.Error("Download disabled for a missing model")
	}
}

func TestModelsPanelImportUnknownWarns(t *testing.T) {
	p, q := newModelsPanel(t)
	p.list.Select(rowIndex(p, "vgg19"))
	junk := filepath.Join(t.TempDir(), "junk.mat")
	if err := writeFile(junk, "not a model"); err != nil {
		t.Fatal(err)
	}
	p.Import(junk)
	q.pump(t, 10*time.Second, func() bool { return len(p.win.Canvas().Overlays().List()) > 0 })
	if !strings.Contains(p.progressText.Text, "Checking") {
		t.Errorf("progress text %q", p.progressText.Text)
	}
}
