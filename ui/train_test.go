package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"convas/app"
)

// queue is the panel's do function in tests: background goroutines hand it functions, and the
// test goroutine runs them, as the Fyne main loop would.
type queue chan func()

func (q queue) do(f func()) { q <- f }

// pump runs queued functions until cond holds or the timeout passes.
func (q queue) pump(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case f := <-q:
			f()
		case <-deadline:
			t.Fatalf("timed out after %v", timeout)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func newPanel(t *testing.T) (*TrainPanel, queue) {
	t.Helper()
	a := test.NewTempApp(t)
	w := a.NewWindow("test")
	dir := t.TempDir()
	core := &app.App{ConfigDir: filepath.Join(dir, "config"), CacheDir: filepath.Join(dir, "cache"), DataDir: filepath.Join(dir, "data")}
	q := make(queue, 1000)
	p := NewTrainPanel(core, w, q.do)
	w.SetContent(p.View())
	w.Resize(fyne.NewSize(1200, 800))
	return p, q
}

func TestPresetFillsForm(t *testing.T) {
	p, _ := newPanel(t)
	if got := p.form.entries["batch_size"].Text; got != "100" {
		t.Fatalf("mnist-simple batch_size shows %q", got)
	}
	if err := p.SelectPreset("mnist-tuned"); err != nil {
		t.Fatal(err)
	}
	if got := p.form.entries["optimizer"].Text; got != "adam" {
		t.Errorf("mnist-tuned optimizer shows %q", got)
	}
	if got := p.form.entries["generations"].Text; got != "4000" {
		t.Errorf("mnist-tuned generations shows %q", got)
	}
	if p.cfg.Optimizer != "adam" || p.cfg.Generations != 4000 {
		t.Errorf("form value %+v", p.cfg)
	}
}

func TestBadValueDisablesTrain(t *testing.T) {
	p, _ := newPanel(t)
	if p.trainBtn.Disabled() {
		t.Fatal("Train disabled with a valid preset")
	}
	test.Type(p.form.entries["batch_size"], "x")
	if !p.trainBtn.Disabled() {
		t.Fatal("Train enabled with batch_size " + p.form.entries["batch_size"].Text)
	}
	if !strings.Contains(p.status.Text, "batch_size") {
		t.Errorf("status %q does not name the field", p.status.Text)
	}
	p.SetField("batch_size", "-100")
	if !p.trainBtn.Disabled() || !strings.Contains(p.status.Text, "batch_size: must be a positive") {
		t.Fatal("a negative batch size is accepted")
	}
	p.SetField("batch_size", "50")
	if p.trainBtn.Disabled() {
		t.Fatal("Train still disabled after the fix")
	}
}

// tinyIDX writes a small data set in the MNIST file layout.
func tinyIDX(t *testing.T) string {
	dir := t.TempDir()
	names := []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}
	for i, n := range []int{300, 50} {
		px := make([]byte, n*784)
		lb := make([]byte, n)
		for j := range lb {
			lb[j] = byte(j % 10)
			for x := 4; x < 24; x++ {
				px[j*784+(2+2*(j%10))*28+x] = 255
			}
		}
		hdr := func(dims ...int) []byte {
			b := []byte{0, 0, 8, byte(len(dims))}
			for _, d := range dims {
				b = append(b, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
			}
			return b
		}
		os.WriteFile(filepath.Join(dir, names[2*i]), append(hdr(n, 28, 28), px...), 0o644)
		os.WriteFile(filepath.Join(dir, names[2*i+1]), append(hdr(n), lb...), 0o644)
	}
	return dir
}

func TestTrainShowsProgressAndStopStops(t *testing.T) {
	p, q := newPanel(t)
	p.selectDataset(tinyIDX(t))
	p.SetField("generations", "100000")
	p.SetField("eval_every", "2")
	p.SetField("batch_size", "10")
	p.SetField("evaluation_size", "20")
	p.Start()
	q.pump(t, 30*time.Second, func() bool { return len(p.logLines) >= 2 })
	if !strings.HasPrefix(p.logLines[0], "Generation # 2. Train Loss:") {
		t.Errorf("log line %q", p.logLines[0])
	}
	if !p.trainBtn.Disabled() || p.stopBtn.Disabled() || p.pauseBtn.Disabled() {
		t.Error("buttons while running: Train should be off, Stop and Pause on")
	}
	if !strings.Contains(p.progressText.Text, "of 100000") {
		t.Errorf("progress %q", p.progressText.Text)
	}
	if !strings.HasPrefix(p.digitText[0].Text, "Actual: ") {
		t.Errorf("digit caption %q", p.digitText[0].Text)
	}
	p.TogglePause()
	if p.pauseBtn.Text != "Resume" {
		t.Errorf("pause button says %q while paused", p.pauseBtn.Text)
	}
	test.Tap(p.stopBtn)
	q.pump(t, 30*time.Second, func() bool { return p.job.State() == app.Cancelled && !p.trainBtn.Disabled() })
	if !strings.Contains(p.status.Text, "Stopped at generation") {
		t.Errorf("status %q", p.status.Text)
	}
	if p.continueBtn.Disabled() {
		t.Error("Continue disabled after Stop")
	}
	// The run was saved where the user can find it.
	q.pump(t, 10*time.Second, func() bool { return len(p.logLines) > 0 && strings.HasPrefix(p.logLines[len(p.logLines)-1], "Saved ") })
	saved := strings.TrimPrefix(p.logLines[len(p.logLines)-1], "Saved ")
	if _, err := os.Stat(saved); err != nil {
		t.Errorf("autosaved checkpoint: %v", err)
	}
}

func TestDamagedCheckpointShowsErrorAndPanelWorks(t *testing.T) {
	p, q := newPanel(t)
	bad := filepath.Join(t.TempDir(), "bad.convas")
	os.WriteFile(bad, []byte("CONVASCK\x01\x00\x00\x00\xff\xff"), 0o644)
	p.OpenCheckpoint(bad)
	q.pump(t, 10*time.Second, func() bool { return len(p.win.Canvas().Overlays().List()) > 0 })
	if p.training != nil {
		t.Error("a damaged checkpoint was loaded")
	}
	if p.trainBtn.Disabled() {
		t.Error("Train disabled after the error")
	}
}
