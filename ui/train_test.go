package ui

import (
	"fmt"
	"image"
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

// tinyCIFAR writes a small folder in the CIFAR-10 binary layout (records of a label byte and
// 3,072 channels-first pixel bytes): class k has a bright square in colour plane k%3. It writes
// the bytes itself, as ui/ does not import compute/.
func tinyCIFAR(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	os.MkdirAll(dir, 0o755)
	record := func(j int) []byte {
		k := j % 10
		rec := make([]byte, 3073)
		rec[0] = byte(k)
		for y := 6; y < 26; y++ {
			for x := 6; x < 26; x++ {
				rec[1+(k%3)*1024+y*32+x] = 220
			}
		}
		return rec
	}
	write := func(name string, n int) {
		var b []byte
		for j := 0; j < n; j++ {
			b = append(b, record(j)...)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	for i := 1; i <= 5; i++ {
		write(fmt.Sprintf("data_batch_%d.bin", i), 20)
	}
	write("test_batch.bin", 12)
	return dir
}

func TestCIFARPresetAndDatasetPicker(t *testing.T) {
	p, _ := newPanel(t)
	found := ""
	for _, o := range p.presetSelect.Options {
		if strings.HasSuffix(o, "[cifar10-advanced]") {
			found = o
		}
	}
	if found == "" {
		t.Fatalf("cifar10-advanced not among %v", p.presetSelect.Options)
	}
	p.presetSelect.SetSelected(found)
	if p.form.entries["batch_size"].Text != "128" || p.form.entries["optimizer"].Text != "sgd" || p.form.entries["log_every"].Text != "50" {
		t.Errorf("form: batch_size %q optimizer %q log_every %q", p.form.entries["batch_size"].Text,
			p.form.entries["optimizer"].Text, p.form.entries["log_every"].Text)
	}
	// The store's copy is offered, marked as missing until fetched.
	if !strings.HasPrefix(p.datasetSelect.Selected, "CIFAR-10 (model store)") || !strings.Contains(p.datasetSelect.Selected, "not fetched") {
		t.Errorf("data set shows %q", p.datasetSelect.Selected)
	}
	if p.cfg.Dataset != "cifar10" {
		t.Errorf("data set %q", p.cfg.Dataset)
	}
}

func TestCIFARTrainShowsColourSamples(t *testing.T) {
	p, q := newPanel(t)
	if err := p.SelectPreset("cifar10-advanced"); err != nil {
		t.Fatal(err)
	}
	p.selectDataset(tinyCIFAR(t))
	for k, v := range map[string]string{"generations": "4", "eval_every": "2", "log_every": "1", "batch_size": "8",
		"evaluation_size": "8", "conv1_features": "8", "conv2_features": "8", "fully_connected_size1": "16", "fully_connected_size2": "8"} {
		p.SetField(k, v)
	}
	p.Start()
	q.pump(t, 60*time.Second, func() bool { return p.job != nil && p.job.State() == app.Finished && !p.trainBtn.Disabled() })
	q.pump(t, 10*time.Second, func() bool { return len(p.logLines) > 0 && strings.HasPrefix(p.logLines[len(p.logLines)-1], "Saved ") })
	if !strings.HasPrefix(p.logLines[0], "Generation 1: Loss = ") || !strings.HasPrefix(p.logLines[2], "Generation # 2.") {
		t.Errorf("log %q", p.logLines)
	}
	img, ok := p.digits[0].Image.(*image.NRGBA)
	if !ok || img.Bounds().Dx() != 24 {
		t.Fatalf("sample picture %T %v, want a 24x24 colour picture", p.digits[0].Image, p.digits[0].Image.Bounds())
	}
	// The picture is in colour: some pixel's channels differ.
	colour := false
	for j := 0; j < len(img.Pix); j += 4 {
		if img.Pix[j] != img.Pix[j+1] || img.Pix[j+1] != img.Pix[j+2] {
			colour = true
		}
	}
	if !colour {
		t.Error("the sample is grey")
	}
	if !strings.Contains(p.digitText[0].Text, "Actual: ") || !strings.ContainsAny(p.digitText[0].Text, "abcdefghijklmnopqrstuvwxyz") {
		t.Errorf("caption %q should name CIFAR classes", p.digitText[0].Text)
	}
	if len(p.losses) != 4 {
		t.Errorf("%d loss lines for the chart", len(p.losses))
	}
}

func TestExportCIFARShowsProgress(t *testing.T) {
	p, q := newPanel(t)
	p.selectDataset(tinyCIFAR(t))
	out := t.TempDir()
	p.ExportCIFAR(out)
	if !p.exportBtn.Disabled() {
		t.Error("export button enabled while exporting")
	}
	q.pump(t, 30*time.Second, func() bool { return p.exportJob == nil })
	if !strings.HasPrefix(p.status.Text, "Exported CIFAR-10") {
		t.Errorf("status %q", p.status.Text)
	}
	n := 0
	filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".png") {
			n++
		}
		return nil
	})
	if n != 112 {
		t.Errorf("%d pictures exported, want 112", n)
	}
	// Without a CIFAR-10 data set, the export says how to get one.
	p.selectDataset("mnist")
	p.ExportCIFAR(t.TempDir())
	q.pump(t, 10*time.Second, func() bool { return p.exportJob == nil && len(p.win.Canvas().Overlays().List()) > 0 })
}

// TestTrainPanelRefreshChoices: refreshing the data set picker keeps a folder the user picked
// and the current choice, and still lists every data set and the folder choice.
func TestTrainPanelRefreshChoices(t *testing.T) {
	p, _ := newPanel(t)
	dir := t.TempDir()
	p.selectDataset(dir)
	before := len(p.datasetSelect.Options)
	p.RefreshChoices()
	if got := p.datasetSelect.Selected; got != "Folder: "+dir {
		t.Errorf("selected %q after a refresh, want the folder", got)
	}
	if p.datasetNames[p.datasetSelect.Selected] != dir || p.cfg.Dataset != dir {
		t.Errorf("the folder choice lost its path: %q, config %q", p.datasetNames[p.datasetSelect.Selected], p.cfg.Dataset)
	}
	if got := len(p.datasetSelect.Options); got != before {
		t.Errorf("%d choices after a refresh, want %d: %q", got, before, p.datasetSelect.Options)
	}
}
