package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"convas/app"
)

func newDreamPanel(t *testing.T) (*DreamPanel, queue) {
	t.Helper()
	a := test.NewTempApp(t)
	w := a.NewWindow("test")
	dir := t.TempDir()
	core := &app.App{ConfigDir: filepath.Join(dir, "config"), CacheDir: filepath.Join(dir, "cache"), DataDir: filepath.Join(dir, "data")}
	q := make(queue, 1000)
	p := NewDreamPanel(core, w, q.do)
	w.SetContent(p.View())
	return p, q
}

func TestDreamPanelDefaultsAndRun(t *testing.T) {
	p, q := newDreamPanel(t)
	if !strings.HasPrefix(p.layerSel.Selected, "mixed3 ") || !p.wholeLayer.Checked {
		t.Fatalf("default layer %q, whole layer %v", p.layerSel.Selected, p.wholeLayer.Checked)
	}
	if !strings.HasSuffix(p.picture, "chelsea.png") {
		t.Fatalf("default picture %q", p.picture)
	}
	if p.startBtn.Disabled() {
		t.Fatal("Dream disabled with a picture, a network and a layer")
	}
	p.fields["long_side"].SetText("128")
	p.fields["octaves"].SetText("2")
	p.fields["iterations"].SetText("2")
	test.Tap(p.startBtn)
	q.pump(t, 60*time.Second, func() bool { return p.job != nil && p.job.State() > app.Paused && !p.startBtn.Disabled() })
	if p.result == nil || p.saveBtn.Disabled() {
		t.Fatalf("no result after the dream: status %q", p.status.Text)
	}
	if len(p.strip.Objects) != 2 {
		t.Errorf("%d finished octaves in the strip, want 2", len(p.strip.Objects))
	}
}

func TestDreamPanelBadEntry(t *testing.T) {
	p, q := newDreamPanel(t)
	p.fields["octaves"].SetText("many")
	p.Start()
	q.pump(t, 5*time.Second, func() bool { return len(p.win.Canvas().Overlays().List()) > 0 })
	if p.job != nil {
		t.Error("a dream started with octaves = many")
	}
}
