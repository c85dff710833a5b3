package ui

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"convas/app"
	"convas/internal/testpics"
)

func newTransferPanel(t *testing.T) (*TransferPanel, queue, fyne.Window) {
	t.Helper()
	a := test.NewTempApp(t)
	w := a.NewWindow("test")
	dir := t.TempDir()
	core := &app.App{ConfigDir: filepath.Join(dir, "config"), CacheDir: filepath.Join(dir, "cache"), DataDir: filepath.Join(dir, "data")}
	q := make(queue, 1000)
	p := NewTransferPanel(core, w, q.do)
	w.SetContent(p.View())
	w.Resize(fyne.NewSize(1240, 780))
	return p, q, w
}

func TestTransferPanelBackbones(t *testing.T) {
	p, _, _ := newTransferPanel(t)
	if len(p.backboneSelect.Options) != 3 || !strings.Contains(p.backboneSelect.Selected, "InceptionV3 trunk") {
		t.Fatalf("backbones %v, selected %q", p.backboneSelect.Options, p.backboneSelect.Selected)
	}
	if !p.startBtn.Disabled() || !p.saveBtn.Disabled() || !p.classifyBtn.Disabled() {
		t.Error("Start, Save or Classify enabled without a folder or a model")
	}
	// GoogLeNet is not in the empty store: chosen, it says where to get it.
	p.backboneSelect.SetSelectedIndex(1)
	if !strings.Contains(p.backboneSelect.Selected, "not downloaded") || !strings.Contains(p.status.Text, "Models tab") {
		t.Errorf("selected %q, status %q", p.backboneSelect.Selected, p.status.Text)
	}
}

func TestTransferPanelScan(t *testing.T) {
	p, q, _ := newTransferPanel(t)
	dir := t.TempDir()
	patternPictures(t, dir, 4)
	os.WriteFile(filepath.Join(dir, "checks", "broken.jpg"), []byte("no jpeg"), 0o644)
	dup, _ := os.ReadFile(filepath.Join(dir, "vertical", "vertical_aa.png"))
	os.WriteFile(filepath.Join(dir, "horizontal", "odd.png"), dup, 0o644)
	p.SetFolder(dir)
	q.pump(t, 10*time.Second, func() bool { return p.data != nil })
	info := p.dataInfo.Text
	for _, want := range []string{"checks: ", "horizontal: ", "vertical: ", "3 classes, 13 pictures"} {
		if !strings.Contains(info, want) {
			t.Errorf("data %q lacks %q", info, want)
		}
	}
	probs := p.problems.Text
	if !strings.Contains(probs, filepath.Join("checks", "broken.jpg")+": cannot decode") ||
		!strings.Contains(probs, "under different classes") {
		t.Errorf("problems %q", probs)
	}
	if p.startBtn.Disabled() {
		t.Error("Start disabled with a scanned folder and the trunk")
	}
	// A bad value disables Start and names the field.
	test.Type(p.stepsEntry, "x")
	if !p.startBtn.Disabled() || !strings.Contains(p.status.Text, "steps") {
		t.Errorf("steps %q: Start enabled %v, status %q", p.stepsEntry.Text, !p.startBtn.Disabled(), p.status.Text)
	}
	// A folder with one class is refused with the reason.
	one := t.TempDir()
	patternPictures(t, one, 1)
	os.RemoveAll(filepath.Join(one, "checks"))
	os.RemoveAll(filepath.Join(one, "vertical"))
	p.stepsEntry.SetText("100")
	p.SetFolder(one)
	q.pump(t, 10*time.Second, func() bool { return !p.scanning })
	if p.data != nil || !strings.Contains(p.dataInfo.Text, "at least two") || !p.startBtn.Disabled() {
		t.Errorf("one class: data %v, info %q", p.data != nil, p.dataInfo.Text)
	}
	// A folder of train_dir and validation_dir is read as two trees.
	two := t.TempDir()
	patternPictures(t, filepath.Join(two, "train_dir"), 2)
	patternPictures(t, filepath.Join(two, "validation_dir"), 1)
	p.SetFolder(two)
	q.pump(t, 10*time.Second, func() bool { return !p.scanning })
	if info := p.dataInfo.Text; !strings.HasPrefix(info, "Two trees") || !strings.Contains(info, "checks: 2 training · 1 validation · 0 test") {
		t.Errorf("two trees: info %q", info)
	}
}

// TestTransferPanelRun retrains the embedded trunk (at 96 pixels) on generated patterns from the
// panel: the charts and the confusion matrix fill in, the model saves and classifies a picture.
func TestTransferPanelRun(t *testing.T) {
	p, q, _ := newTransferPanel(t)
	dir := t.TempDir()
	patternPictures(t, dir, 12)
	p.valEntry.SetText("25")
	p.testEntry.SetText("20")
	p.stepsEntry.SetText("150")
	p.lrEntry.SetText("0.01")
	p.optimizerSelect.SetSelected("adam")
	p.sizeEntry.SetText("96")
	p.SetFolder(dir)
	q.pump(t, 10*time.Second, func() bool { return p.data != nil })
	test.Tap(p.startBtn)
	q.pump(t, 60*time.Second, func() bool { return p.job != nil && p.job.State() > app.Paused && p.model != nil })
	if !strings.HasPrefix(p.status.Text, "Finished: validation accuracy 100.0%") {
		t.Errorf("status %q", p.status.Text)
	}
	if len(p.history) != 15 || p.history[14].Step != 150 {
		t.Errorf("%d evaluations in the charts", len(p.history))
	}
	if b := p.lossImg.Image.Bounds(); b.Dx() < 100 || p.accImg.Image.Bounds().Dx() < 100 {
		t.Errorf("charts of %v", b)
	}
	// The matrix: a header row and a row per class, 5 columns (name, 3 classes, accuracy); the
	// diagonal highlighted; the counts add up to the test set, the accuracies to the diagonal.
	var cells []fyne.CanvasObject // row by row
	cols := p.confusion.Objects
	if len(cols) != 5 {
		t.Fatalf("%d columns in the confusion matrix", len(cols))
	}
	for r := 0; r < 4; r++ {
		for _, c := range cols {
			cells = append(cells, c.(*fyne.Container).Objects[r])
		}
	}
	if !strings.Contains(p.confusionCap.Text, "test set") {
		t.Errorf("caption %q", p.confusionCap.Text)
	}
	total := 0
	for i := 1; i < 4; i++ {
		if name, _ := cellText(cells[5*i]); name != p.data.Classes[i-1] {
			t.Errorf("row %d named %q", i, name)
		}
		row, right := 0, 0
		for j := 1; j < 4; j++ {
			text, bg := cellText(cells[5*i+j])
			var n int
			for _, c := range text {
				n = 10*n + int(c-'0')
			}
			total += n
			row += n
			if i == j {
				right = n
			}
			if _, _, _, a := bg.RGBA(); (i == j) != (a > 0) && n > 0 {
				t.Errorf("cell %d,%d (%d): highlight alpha %d", i, j, n, a)
			}
		}
		want := "-"
		if row > 0 {
			want = fmt.Sprintf("%.0f%%", 100*float64(right)/float64(row))
		}
		if got, _ := cellText(cells[5*i+4]); got != want {
			t.Errorf("row %d: accuracy %q, want %q", i, got, want)
		}
	}
	if want := p.run.Result().Counts[app.TransferTesting]; total != want || want == 0 {
		t.Errorf("matrix counts %d pictures, the test set has %d", total, want)
	}
	if got := p.bottomTabs.Items[1].Text; got != "Misclassified (0, test set)" {
		t.Errorf("gallery tab %q", got)
	}
	if p.saveBtn.Disabled() || p.classifyBtn.Disabled() {
		t.Error("Save or Classify disabled after a run")
	}

	path := filepath.Join(t.TempDir(), "m.ckpt")
	p.SaveModel(path)
	q.pump(t, 10*time.Second, func() bool { return strings.HasPrefix(p.status.Text, "Saved the model") })
	if m, err := app.LoadTransferModel(path); err != nil || len(m.Labels) != 3 {
		t.Fatalf("saved model: %v", err)
	}
	pic := filepath.Join(dir, "vertical", "vertical_ab.png")
	p.Dropped([]fyne.URI{storage.NewFileURI(pic)})
	q.pump(t, 20*time.Second, func() bool { return p.LastPredictions != nil })
	if len(p.LastPredictions) != 3 || p.LastPredictions[0].Label != "vertical" {
		t.Errorf("predictions %v", p.LastPredictions)
	}
}

// TestTransferPanelGallery shows misclassified pictures with their true and predicted classes;
// one that cannot be read any more is marked so.
func TestTransferPanelGallery(t *testing.T) {
	p, _, _ := newTransferPanel(t)
	dir := t.TempDir()
	patternPictures(t, dir, 1)
	ms := []app.TransferMisclassified{
		{Path: filepath.Join(dir, "checks", "checks_aa.png"), True: 0, Predicted: 2, Probability: 0.7},
		{Path: filepath.Join(dir, "gone.png"), True: 1, Predicted: 0, Probability: 0.6},
	}
	cache := thumbCache{}
	thumbs := cache.of(ms)
	if thumbs[0] == nil || thumbs[1] != nil || thumbs[0].Bounds().Dx() != 120 {
		t.Fatalf("thumbnails %v", thumbs)
	}
	// A picture is read once a run: removed from disk, it still shows from the cache.
	os.Remove(ms[0].Path)
	if again := cache.of(ms); again[0] != thumbs[0] {
		t.Errorf("the second gallery read the picture again")
	}
	p.showMisclassified(ms, thumbs, "validation")
	if len(p.gallery.Objects) != 2 || p.bottomTabs.Items[1].Text != "Misclassified (2, validation set)" {
		t.Fatalf("%d in the gallery, tab %q", len(p.gallery.Objects), p.bottomTabs.Items[1].Text)
	}
	first := p.gallery.Objects[0].(*fyne.Container).Objects
	if _, ok := first[0].(*canvas.Image); !ok {
		t.Errorf("first cell shows a %T", first[0])
	}
	var captions []string
	for _, o := range p.gallery.Objects {
		for _, c := range o.(*fyne.Container).Objects {
			if l, ok := c.(*widget.Label); ok {
				captions = append(captions, l.Text)
			}
		}
	}
	want := []string{"0 → 2", "(unreadable)", "1 → 0"}
	if strings.Join(captions, "|") != strings.Join(want, "|") {
		t.Errorf("captions %q, want %q", captions, want)
	}
	// Only maxGallery pictures are read.
	many := make([]app.TransferMisclassified, maxGallery+5)
	if n := len(thumbCache{}.of(many)); n != maxGallery {
		t.Errorf("%d thumbnails for %d pictures", n, len(many))
	}
}

// TestTransferPanelStop stops a long run: the panel says so and Start is enabled again.
func TestTransferPanelStop(t *testing.T) {
	p, q, _ := newTransferPanel(t)
	dir := t.TempDir()
	patternPictures(t, dir, 2)
	p.stepsEntry.SetText("10000000")
	p.sizeEntry.SetText("80")
	p.SetFolder(dir)
	q.pump(t, 10*time.Second, func() bool { return p.data != nil })
	p.Start()
	q.pump(t, 30*time.Second, func() bool { return p.progressText.Text != "Ready" })
	p.TogglePause()
	if p.job.State() != app.Paused || p.pauseBtn.Text != "Resume" {
		t.Errorf("after pause: %v, %q", p.job.State(), p.pauseBtn.Text)
	}
	p.TogglePause()
	p.Stop()
	q.pump(t, 10*time.Second, func() bool { return p.status.Text == "Stopped." })
	if p.startBtn.Disabled() || p.model != nil {
		t.Errorf("after stop: Start disabled %v, model %v", p.startBtn.Disabled(), p.model)
	}
}

// cellText returns the text and the background of a confusion matrix cell.
func cellText(o fyne.CanvasObject) (string, color.Color) {
	st := o.(*fyne.Container)
	return st.Objects[1].(*fyne.Container).Objects[0].(*canvas.Text).Text, st.Objects[0].(*canvas.Rectangle).FillColor
}

// TestTransferPanelDistortions reads the distortion fields (a blank field is off; a bad one
// blocks Start with its name), shows the hint, and runs a step on distorted pictures: the
// progress line counts the step's pictures through the backbone as they go.
func TestTransferPanelDistortions(t *testing.T) {
	p, q, _ := newTransferPanel(t)
	dir := t.TempDir()
	patternPictures(t, dir, 4)
	p.valEntry.SetText("30")
	p.testEntry.SetText("0")
	p.stepsEntry.SetText("1")
	p.sizeEntry.SetText("75")
	p.SetFolder(dir)
	q.pump(t, 10*time.Second, func() bool { return p.data != nil })
	for _, c := range []struct {
		entry *widget.Entry
		text  string
		want  string
	}{
		{p.cropEntry, "-5", "random crop -5%: must be 0 to 100"},
		{p.scaleEntry, "abc", `random scale % "abc" is not a number`},
		{p.brightEntry, "120", "random brightness 120%: must be 0 to 100"},
	} {
		c.entry.SetText(c.text)
		if !p.startBtn.Disabled() || !strings.Contains(p.status.Text, c.want) {
			t.Errorf("%q: start enabled %v, status %q, want %q", c.text, !p.startBtn.Disabled(), p.status.Text, c.want)
		}
		c.entry.SetText("")
	}
	if req, err := p.request(); err != nil || req.Config.Distortions.Any() {
		t.Errorf("blank distortions: %+v, %v", req.Config.Distortions, err)
	}
	p.cropEntry.SetText("10")
	p.scaleEntry.SetText("5")
	p.brightEntry.SetText("12.5")
	test.Tap(p.flipCheck)
	want := app.TransferDistortions{Crop: 10, Scale: 5, Flip: true, Brightness: 12.5}
	if req, err := p.request(); err != nil || req.Config.Distortions != want {
		t.Errorf("distortions %+v, %v; want %+v", req.Config.Distortions, err, want)
	}
	if p.startBtn.Disabled() {
		t.Fatalf("start disabled: %q", p.status.Text)
	}
	var hint bool
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case *container.Scroll:
			walk(o.Content)
		case *widget.Accordion:
			for _, it := range o.Items {
				if it.Title == "Distortions" {
					walk(it.Detail)
				}
			}
		case *widget.Label:
			hint = hint || o.Text == distortHint
		}
	}
	walk(p.View().(*container.Split).Leading)
	if !hint {
		t.Error("no Distortions group with the hint")
	}

	test.Tap(p.startBtn)
	var saw string
	q.pump(t, 120*time.Second, func() bool {
		if strings.Contains(p.progressText.Text, "distorted pictures through the backbone") {
			saw = p.progressText.Text
		}
		return p.job != nil && p.job.State() > app.Paused && p.model != nil
	})
	if saw == "" || !strings.Contains(saw, "ETA") {
		t.Errorf("the progress line never counted distorted pictures (last %q)", p.progressText.Text)
	}
	if res := p.run.Result(); res.Distorted != app.DefaultTransferConfig().BatchSize {
		t.Errorf("%d distorted pictures for one step of %d", res.Distorted, app.DefaultTransferConfig().BatchSize)
	}
	if p.model.Config.Distortions != want {
		t.Errorf("model's distortions %+v", p.model.Config.Distortions)
	}
}

// TestTransferPanelFineTune reads the fine-tuning check box into the request, refuses it with
// another backbone than the trunk, shows its hint, and fine-tunes a step: the model carries the
// tuned block.
func TestTransferPanelFineTune(t *testing.T) {
	p, q, _ := newTransferPanel(t)
	dir := t.TempDir()
	patternPictures(t, dir, 4)
	p.valEntry.SetText("30")
	p.testEntry.SetText("0")
	p.stepsEntry.SetText("1")
	p.sizeEntry.SetText("75")
	p.SetFolder(dir)
	q.pump(t, 10*time.Second, func() bool { return p.data != nil })
	if req, err := p.request(); err != nil || req.Config.FineTune {
		t.Errorf("unchecked: fine-tune %v, %v", req.Config.FineTune, err)
	}
	test.Tap(p.fineTuneCheck)
	req, err := p.request()
	if err != nil || !req.Config.FineTune || req.Backbone != app.TransferTrunkName {
		t.Fatalf("checked: fine-tune %v on %s, %v", req.Config.FineTune, req.Backbone, err)
	}
	p.flipCheck.SetChecked(true)
	if !p.startBtn.Disabled() || !strings.Contains(p.status.Text, "fine-tuning and distortions") {
		t.Errorf("with a distortion: start enabled %v, status %q", !p.startBtn.Disabled(), p.status.Text)
	}
	p.flipCheck.SetChecked(false)
	for label, b := range p.backbones {
		if b.Name != app.TransferTrunkName {
			p.backboneSelect.SetSelected(label)
			if _, err := p.request(); err == nil || !strings.Contains(err.Error(), "only the InceptionV3 trunk") {
				t.Errorf("fine-tuning %s: %v", b.Name, err)
			}
		}
	}
	for label, b := range p.backbones {
		if b.Name == app.TransferTrunkName {
			p.backboneSelect.SetSelected(label)
		}
	}
	var hint bool
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case *container.Scroll:
			walk(o.Content)
		case *widget.Label:
			hint = hint || o.Text == fineTuneHint
		}
	}
	walk(p.View().(*container.Split).Leading)
	if !hint || !strings.Contains(fineTuneHint, "slower") {
		t.Error("no fine-tuning hint saying it is slow")
	}
	if p.startBtn.Disabled() {
		t.Fatalf("start disabled: %q", p.status.Text)
	}
	test.Tap(p.startBtn)
	q.pump(t, 120*time.Second, func() bool { return p.job != nil && p.job.State() > app.Paused && p.model != nil })
	if len(p.model.Block) != 20 || !p.model.Config.FineTune {
		t.Errorf("model with %d tuned weights, fine-tune %v", len(p.model.Block), p.model.Config.FineTune)
	}
}

// TestPhaseETA checks the progress and ETA by hand: 2.5 steps of 10 in 10 seconds is 4 s a
// step, so 7.5 steps, 30 s, are left; cached work is left out of the rate.
func TestPhaseETA(t *testing.T) {
	now := time.Now()
	frac, eta := phase{done: 2, part: 0.5, of: 10, began: now.Add(-10 * time.Second)}.eta(now)
	if frac != 0.25 || eta != "30s" {
		t.Errorf("2.5 of 10 in 10 s: %v, ETA %s; want 0.25, 30s", frac, eta)
	}
	// 60 of 100 done, 50 of them from the cache in no time: 10 in 5 s, 40 left, 20 s.
	frac, eta = phase{done: 60, skip: 50, of: 100, began: now.Add(-5 * time.Second)}.eta(now)
	if frac != 0.6 || eta != "20s" {
		t.Errorf("cached: %v, ETA %s; want 0.6, 20s", frac, eta)
	}
	if _, eta := (phase{done: 5, skip: 5, of: 10, began: now}).eta(now); eta != "?" {
		t.Errorf("nothing timed yet: ETA %s", eta)
	}
}

// patternPictures writes perClass pictures of three generated patterns under dir/<class>/.
func patternPictures(t *testing.T, dir string, perClass int) {
	t.Helper()
	if err := testpics.WritePatterns(dir, perClass, 41); err != nil {
		t.Fatal(err)
	}
}
