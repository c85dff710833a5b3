package ui

import (
	"context"
	"fmt"
	"image"
	"math"
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
	if !strings.Contains(p.credit.Text, "scream.jpg: Edvard Munch, The Scream (1893): public domain") || !strings.Contains(p.credit.Text, "chelsea.png: CC0") {
		t.Errorf("credit %q", p.credit.Text)
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
	// Pause holds the run at its next step: no generation is made until Resume.
	test.Tap(p.pauseBtn)
	if p.job.State() != app.Paused || p.pauseBtn.Text != "Resume" {
		t.Fatalf("after Pause: state %v, button %q", p.job.State(), p.pauseBtn.Text)
	}
	time.Sleep(300 * time.Millisecond) // the step in flight, if any, ends
	q.pump(t, 5*time.Second, func() bool { return len(q) == 0 })
	held := p.progressText.Text
	time.Sleep(700 * time.Millisecond)
	q.pump(t, 5*time.Second, func() bool { return len(q) == 0 })
	if p.progressText.Text != held || p.job.State() != app.Paused {
		t.Errorf("paused, yet the progress moved from %q to %q", held, p.progressText.Text)
	}
	test.Tap(p.pauseBtn)
	if p.job.State() != app.Running || p.pauseBtn.Text != "Pause" {
		t.Fatalf("after Resume: state %v, button %q", p.job.State(), p.pauseBtn.Text)
	}
	// Until the drain's last word: "Done." once it has applied every event, or a failure.
	q.pump(t, 120*time.Second, func() bool {
		return p.job.State() > app.Paused && (p.job.State() != app.Finished || strings.HasPrefix(p.status.Text, "Done."))
	})
	if p.job.State() != app.Finished || p.saveBtn.Disabled() {
		t.Fatalf("state %v, status %q", p.job.State(), p.status.Text)
	}
	estimateSettled(t, p, q) // asked again when the run ended
	if !strings.Contains(p.estimate.Text, "MiB of the 4096 MiB budget") || !strings.Contains(p.estimate.Text, "an iteration") {
		t.Errorf("estimate %q", p.estimate.Text)
	}
	if p.framesShown < 2 {
		t.Errorf("%d frames shown", p.framesShown)
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

// estimateSettled pumps the queue until the estimate of the settings as they are is shown.
func estimateSettled(t *testing.T, p *StylePanel, q queue) {
	t.Helper()
	q.pump(t, 120*time.Second, func() bool { return p.estimateShown == p.estimateSeq && p.estimateTimer != nil })
}

// TestStylePanelLiveEstimate edits the settings as a user would: the estimate follows them,
// debounced (several quick edits, one estimate of the last), with a time measured here; a size
// that does not fit names the largest that does, and Stylize refuses it with those words.
func TestStylePanelLiveEstimate(t *testing.T) {
	p, q := newStylePanel(t)
	p.fields["size"].SetText("64")
	estimateSettled(t, p, q)
	if p.estimated == nil || p.estimated.W != 64 || p.estimated.Step <= 0 || !strings.Contains(p.estimate.Text, "timed here at 64 and 128 px") {
		t.Fatalf("estimate %+v: %q", p.estimated, p.estimate.Text)
	}
	first := p.estimated.Step
	runs := p.estimateRuns.Load()
	for _, v := range []string{"9", "96", "960", "160"} {
		p.fields["size"].SetText(v)
	}
	estimateSettled(t, p, q)
	if p.estimated == nil || p.estimated.W != 160 || !(p.estimated.Step > first) {
		t.Fatalf("after editing to 160: %+v: %q", p.estimated, p.estimate.Text)
	}
	if n := p.estimateRuns.Load() - runs; n != 1 {
		t.Errorf("%d estimates for one burst of edits, want 1", n)
	}
	p.fields["size"].SetText("1e3")
	if !strings.Contains(p.estimate.Text, "not a whole number") {
		t.Errorf("a bad size: %q", p.estimate.Text)
	}
	p.fields["size"].SetText("8000")
	estimateSettled(t, p, q)
	if p.estimated == nil || p.estimated.Fits() || !strings.HasPrefix(p.estimate.Text, "Too large: ") ||
		!strings.Contains(p.estimate.Text, fmt.Sprintf("size = %d", p.estimated.Largest)) {
		t.Fatalf("8000 px: %+v: %q", p.estimated, p.estimate.Text)
	}
	test.Tap(p.startBtn)
	if p.job != nil || !strings.Contains(p.status.Text, fmt.Sprintf("size = %d", p.estimated.Largest)) {
		t.Errorf("Stylize at 8000 px: job %v, status %q", p.job, p.status.Text)
	}
}

// TestStylePanelPreviewCadence feeds the panel's drain made-up events: generations slower than
// 60 a second each reach the preview; a burst of quick ones is coalesced, the last one shown.
func TestStylePanelPreviewCadence(t *testing.T) {
	p, q := newStylePanel(t)
	estimateSettled(t, p, q)
	frame := func(step int) app.StyleFrame {
		img := &app.StyleImage{H: 4, W: 5, Pix: make([]float32, 60)}
		img.Pix[0] = float32(step)
		return app.StyleFrame{Step: step, Img: img}
	}
	for _, c := range []struct {
		name  string
		n     int
		pause time.Duration
	}{{"slow", 8, 150 * time.Millisecond}, {"quick", 200, 0}} {
		r := &app.StyleRun{Events: make(chan app.StyleEvent, 64)}
		job := app.StartJob(func(ctx context.Context, _ func(context.Context) error) error {
			for i := 1; i <= c.n; i++ {
				r.Events <- app.StyleIteration{Step: i, Of: c.n, Elapsed: time.Duration(i) * time.Millisecond}
				r.Events <- frame(i)
				time.Sleep(c.pause)
			}
			return nil
		})
		p.job, p.framesShown = job, 0
		p.status.SetText("")
		go p.drain(r, job)
		q.pump(t, 30*time.Second, func() bool { return strings.HasPrefix(p.status.Text, "Done.") }) // the drain's last word
		shown := p.result.Image.(*image.NRGBA).Pix[0]
		t.Logf("%s: %d generations, %d frames shown", c.name, c.n, p.framesShown)
		switch {
		case shown != uint8(c.n):
			t.Errorf("%s: the preview shows generation %d, want the last, %d", c.name, shown, c.n)
		case c.pause > 0 && p.framesShown != c.n:
			t.Errorf("%s: %d frames shown of %d generations, want every one", c.name, p.framesShown, c.n)
		case c.pause == 0 && p.framesShown >= c.n:
			t.Errorf("%s: %d frames shown of %d generations made at once, want them coalesced", c.name, p.framesShown, c.n)
		}
	}
}

// TestStylePanelInitAndCoarseToFine: the starting picture and coarse-to-fine reach the
// configuration, and a preset's starting picture comes back into the form.
func TestStylePanelInitAndCoarseToFine(t *testing.T) {
	p, _ := newStylePanel(t)
	p.initSel.SetSelected(initContent)
	p.coarse.SetChecked(true)
	cfg, err := p.readConfig()
	if err != nil || cfg.Init != "content" || !cfg.CoarseToFine {
		t.Fatalf("%+v, %v", cfg, err)
	}
	p.SetInitPicture(p.stylePath)
	if cfg, err = p.readConfig(); err != nil || cfg.Init != p.stylePath {
		t.Errorf("init %q, %v; want %q", cfg.Init, err, p.stylePath)
	}
	restored := cfg.Clone()
	restored.Init = p.contentPath
	p.applyPreset(app.StylePreset{Title: "x", Config: restored})
	if p.initSel.Selected != initPicture || p.initPath != p.contentPath || p.initLabel.Text != filepath.Base(p.contentPath) {
		t.Errorf("restored init: %q %q %q", p.initSel.Selected, p.initPath, p.initLabel.Text)
	}
}

// TestLossChartAllZero: losses that are all 0 (every weight set to 0) draw an empty chart
// rather than panicking on a log scale with no positive value.
func TestLossChartAllZero(t *testing.T) {
	img := lossChart([]app.StyleIteration{{Step: 1}, {Step: 2}})
	if img == nil || img.Bounds().Dx() == 0 {
		t.Fatal("no chart")
	}
}

// TestStylePanelAddLayer adds a layer of the network to the style layers: it gets a check box
// and weight 1, reaches the configuration, and the estimate of the bigger graph follows; adding
// it twice is refused.
func TestStylePanelAddLayer(t *testing.T) {
	p, q := newStylePanel(t)
	q.pump(t, 60*time.Second, func() bool { return len(p.layerSel.Options) > 0 })
	var name string
	for _, n := range p.layerSel.Options {
		if _, ok := p.cfg.StyleLayers[n]; !ok && strings.HasPrefix(n, "conv2d_") {
			name = n
			break
		}
	}
	if name == "" {
		t.Fatalf("no conv2d layer to add among %v", p.layerSel.Options)
	}
	before := len(p.layerChecks.Objects)
	if err := p.AddLayer("style", name); err != nil {
		t.Fatal(err)
	}
	if len(p.layerChecks.Objects) != before+1 || p.layerOn["style:"+name] == nil {
		t.Errorf("%d layer rows, want %d", len(p.layerChecks.Objects), before+1)
	}
	cfg, err := p.readConfig()
	if err != nil || cfg.StyleLayers[name] != 1 {
		t.Fatalf("style layers %v, %v", cfg.StyleLayers, err)
	}
	if err := p.AddLayer("style", name); err == nil {
		t.Error("a layer added twice")
	}
	estimateSettled(t, p, q)
	if p.estimated == nil {
		t.Errorf("no estimate with %s: %q", name, p.estimate.Text)
	}
}

// TestStylePanelRestoresSavedSettings opens a PNG that Save PNG wrote: the panel takes back the
// settings it was made with.
func TestStylePanelRestoresSavedSettings(t *testing.T) {
	p, q := newStylePanel(t)
	cfg, err := p.readConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.StyleWeight, cfg.Iterations, cfg.Init, cfg.CoarseToFine = 123, 17, "content", true
	path := filepath.Join(t.TempDir(), "made.png")
	img := &app.StyleImage{H: 8, W: 8, Pix: make([]float32, 3*64)}
	if err := app.SaveStylePNG(path, img, cfg); err != nil {
		t.Fatal(err)
	}
	p.Open(path)
	q.pump(t, 10*time.Second, func() bool { return p.contentPath == path && strings.HasPrefix(p.status.Text, "Restored") })
	got, err := p.readConfig()
	if err != nil {
		t.Fatal(err)
	}
	// Exactly: the slider's steps of 0.05 in log10 would make 123 into 125.9, and 0.2 into 0.1995.
	if got.StyleWeight != 123 || got.TVWeight != cfg.TVWeight || got.Iterations != 17 || got.Init != "content" || !got.CoarseToFine {
		t.Errorf("restored %+v", got)
	}
	p.weights["style"].SetValue(3) // moved by the user: the slider's value
	if w := p.weight("style"); math.Abs(w-1000) > 1e-9 {
		t.Errorf("style weight after moving the slider to 3: %v, want 1000", w)
	}
}

// TestStylePanelHeartbeat: a generation slower than heartbeatAfter is shown in the making,
// second by second, after the last one's progress.
func TestStylePanelHeartbeat(t *testing.T) {
	p, q := newStylePanel(t)
	r := &app.StyleRun{Events: make(chan app.StyleEvent, 64)}
	release := make(chan struct{})
	job := app.StartJob(func(ctx context.Context, _ func(context.Context) error) error {
		r.Events <- app.StyleIteration{Step: 1, Of: 2, Elapsed: time.Second}
		<-release
		r.Events <- app.StyleIteration{Step: 2, Of: 2, Elapsed: 5 * time.Second}
		return nil
	})
	p.job = job
	p.status.SetText("")
	go p.drain(r, job)
	q.pump(t, 20*time.Second, func() bool { return strings.Contains(p.progressText.Text, "generation 2 in the making") })
	if !strings.HasPrefix(p.progressText.Text, "Generation 1 of 2 · ") || !strings.Contains(p.progressText.Text, "s so far") {
		t.Errorf("progress %q", p.progressText.Text)
	}
	close(release)
	q.pump(t, 20*time.Second, func() bool { return strings.HasPrefix(p.status.Text, "Done.") })
	if !strings.HasPrefix(p.progressText.Text, "Generation 2 of 2") || strings.Contains(p.progressText.Text, "in the making") {
		t.Errorf("progress when done %q", p.progressText.Text)
	}
}
