package app

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"convas/internal/testpics"
)

func TestTransferBackbones(t *testing.T) {
	a := testApp(t)
	bs := a.TransferBackbones()
	if len(bs) != 3 || bs[0].Name != "inceptionv3-trunk" || !bs[0].Available || bs[0].Size != 299 {
		t.Fatalf("backbones %+v", bs)
	}
	for _, b := range bs[1:] {
		if b.Available || !strings.Contains(b.Note, "Models tab") || !strings.Contains(b.Note, "convas models fetch "+b.Name) {
			t.Errorf("%s in an empty store: available %v, note %q", b.Name, b.Available, b.Note)
		}
	}
	if _, err := a.transferBackbone("vgg19", 0); err == nil || !strings.Contains(err.Error(), "not downloaded") {
		t.Errorf("vgg19 missing: %v", err)
	}
	if _, err := a.transferBackbone("resnet", 0); err == nil || !strings.Contains(err.Error(), "inceptionv3-trunk") {
		t.Errorf("unknown backbone: %v", err)
	}
}

func TestNewTransferErrors(t *testing.T) {
	a := testApp(t)
	dir := patternFolder(t, 2)
	cfg := DefaultTransferConfig()
	for _, c := range []struct {
		req  TransferRequest
		want string
	}{
		{TransferRequest{Scan: DefaultTransferScan(filepath.Join(dir, "nope")), Backbone: "inceptionv3-trunk", Config: cfg}, "nope"},
		{TransferRequest{Scan: DefaultTransferScan(dir), Backbone: "alexnet", Config: cfg}, "unknown backbone"},
		{TransferRequest{Scan: DefaultTransferScan(dir), Backbone: "inceptionv3-trunk", Config: TransferConfig{}}, "optimizer"},
		{TransferRequest{Scan: DefaultTransferScan(dir), Backbone: "inceptionv3-trunk", Config: cfg, InputSize: -1}, "input size"},
		{TransferRequest{Scan: DefaultTransferScan(dir), Backbone: "inceptionv3-trunk", Config: func() TransferConfig {
			c := cfg
			c.Distortions.Brightness = 150
			return c
		}()}, "random brightness"},
	} {
		if _, err := a.NewTransfer(c.req); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one with %q", c.req, err, c.want)
		}
	}
}

// runTransfer runs a request to its end and returns the run and its evaluations.
func runTransfer(t *testing.T, a *App, req TransferRequest) (*TransferRun, []TransferEvaluation) {
	t.Helper()
	r, err := a.NewTransfer(req)
	if err != nil {
		t.Fatal(err)
	}
	job, err := r.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(); err == nil {
		t.Error("a run started twice")
	}
	var evals []TransferEvaluation
	var done bool
	for ev := range r.Events {
		switch e := ev.(type) {
		case TransferEvaluation:
			evals = append(evals, e)
		case TransferDone:
			done = e.Result != nil
		}
	}
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	if !done || job.State() != Finished || r.Model() == nil {
		t.Fatalf("done %v, state %v, model %v", done, job.State(), r.Model())
	}
	return r, evals
}

// TestTransferRunSaveClassify retrains the embedded trunk on generated patterns, saves the model
// and its run folder, reads the model back and classifies pictures of each class; a second run
// reads every bottleneck from the cache.
func TestTransferRunSaveClassify(t *testing.T) {
	a := testApp(t)
	dir := patternFolder(t, 12)
	cfg := DefaultTransferConfig()
	cfg.Steps, cfg.EvalEvery, cfg.Optimizer, cfg.LearningRate = 150, 25, "adam", 0.01
	req := TransferRequest{Scan: TransferScan{Dir: dir, ValidationPercent: 30, TestPercent: 0}, Backbone: "inceptionv3-trunk",
		InputSize: 96, Config: cfg}
	r, evals := runTransfer(t, a, req)
	res := r.Result()
	if len(evals) != 6 || res.ValidationAccuracy < 95 || res.Computed != 36 || res.ConfusionSet != TransferValidation {
		t.Errorf("%d evaluations, validation %.1f%%, computed %d, confusion on %v", len(evals), res.ValidationAccuracy, res.Computed, res.ConfusionSet)
	}
	if name, layer, size := r.Backbone(); name != "inceptionv3-trunk" || layer != "mixed5" || size != 96 {
		t.Errorf("backbone %s %s %d", name, layer, size)
	}

	out := filepath.Join(t.TempDir(), "run")
	if err := WriteTransferRun(out, r.Model(), res); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{TransferModelFile, "labels.txt", "metrics.csv", "loss.png", "accuracy.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	labels, _ := os.ReadFile(filepath.Join(out, "labels.txt"))
	if string(labels) != "checks\nhorizontal\nvertical\n" {
		t.Errorf("labels.txt %q", labels)
	}
	m, err := LoadTransferModel(filepath.Join(out, TransferModelFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.NewClassifier(m)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, class := range m.Labels {
		pic := filepath.Join(dir, class, class+"_aa.png")
		top, err := c.Classify(pic, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(top) != 3 || top[0].Label != class || top[0].Probability < top[1].Probability {
			t.Errorf("%s: top %v", pic, top)
		}
	}
	if _, err := c.Classify(filepath.Join(dir, "missing.png"), 5); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing picture: %v", err)
	}

	r2, _ := runTransfer(t, a, req)
	if r2.Result().Computed != 0 || r2.Result().Extraction.Cached != 36 {
		t.Errorf("second run computed %d, cached %d", r2.Result().Computed, r2.Result().Extraction.Cached)
	}
}

// TestTransferRunDistorted retrains the embedded trunk with every distortion on: each step's
// batch goes through the trunk (a step progress report per trunk batch, Distorted = steps x
// batch), while only the validation pictures are extracted.
func TestTransferRunDistorted(t *testing.T) {
	a := testApp(t)
	dir := patternFolder(t, 4)
	cfg := DefaultTransferConfig()
	cfg.Steps, cfg.EvalEvery, cfg.BatchSize = 2, 1, 5
	cfg.Distortions = TransferDistortions{Crop: 10, Scale: 10, Flip: true, Brightness: 10}
	r, err := a.NewTransfer(TransferRequest{Scan: TransferScan{Dir: dir, ValidationPercent: 30}, Backbone: "inceptionv3-trunk",
		InputSize: 75, Config: cfg, NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	job, err := r.Start()
	if err != nil {
		t.Fatal(err)
	}
	var progress []TransferStepProgress
	for ev := range r.Events {
		if e, ok := ev.(TransferStepProgress); ok {
			progress = append(progress, e)
		}
	}
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	res := r.Result()
	if res.Distorted != 10 || res.Computed != res.Counts[TransferValidation] {
		t.Errorf("distorted %d, computed %d with %d validation pictures", res.Distorted, res.Computed, res.Counts[TransferValidation])
	}
	// Batches of 5 through a trunk that takes 4 at once: 4 then 1 pictures, twice.
	var want []TransferStepProgress
	for step := 1; step <= 2; step++ {
		for _, n := range []int{4, 5} {
			want = append(want, TransferStepProgress{Step: step, Steps: 2, Pictures: n, Batch: 5})
		}
	}
	if !slices.Equal(progress, want) {
		t.Errorf("step progress %v, want %v", progress, want)
	}
	if r.Model().Config.Distortions != cfg.Distortions {
		t.Errorf("the model's config has distortions %+v", r.Model().Config.Distortions)
	}
}

// TestTransferPauseCancel pauses a run, resumes it, then cancels it.
func TestTransferPauseCancel(t *testing.T) {
	a := testApp(t)
	cfg := DefaultTransferConfig()
	cfg.Steps = 1 << 30
	r, err := a.NewTransfer(TransferRequest{Scan: TransferScan{Dir: patternFolder(t, 3)}, Backbone: "inceptionv3-trunk",
		InputSize: 80, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	job, _ := r.Start()
	go func() {
		for range r.Events {
		}
	}()
	job.Pause()
	if job.State() != Paused {
		t.Errorf("state %v", job.State())
	}
	job.Resume()
	time.Sleep(50 * time.Millisecond)
	job.Cancel()
	if err := job.Wait(); err != nil || job.State() != Cancelled {
		t.Errorf("after cancel: %v, %v", err, job.State())
	}
	if r.Model() != nil {
		t.Error("a cancelled run has a model")
	}
}

func TestLoadTransferModelErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadTransferModel(filepath.Join(dir, "none.ckpt")); err == nil || !strings.Contains(err.Error(), "none.ckpt") {
		t.Errorf("missing: %v", err)
	}
	bad := filepath.Join(dir, "bad.ckpt")
	os.WriteFile(bad, []byte("CONVASCK garbage"), 0o644)
	_, err := LoadTransferModel(bad)
	if err == nil || !strings.Contains(err.Error(), "bad.ckpt") {
		t.Errorf("damaged: %v", err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		t.Errorf("damaged file reported as a path error: %v", err)
	}
}

// TestTransferFineTuneClassify fine-tunes the trunk's last block: the saved model carries the
// tuned block, and a classifier built from the file gives the probabilities that one built from
// the in-memory model gives, and other ones than the same head through the untuned trunk.
func TestTransferFineTuneClassify(t *testing.T) {
	a := testApp(t)
	dir := patternFolder(t, 4)
	cfg := DefaultTransferConfig()
	cfg.Steps, cfg.EvalEvery, cfg.BatchSize, cfg.FineTune = 3, 3, 4, true
	req := TransferRequest{Scan: TransferScan{Dir: dir, ValidationPercent: 30}, Backbone: TransferTrunkName, InputSize: 75, Config: cfg}
	r, _ := runTransfer(t, a, req)
	mem := r.Model()
	if len(mem.Block) != 20 || !mem.Config.FineTune {
		t.Fatalf("model with %d tuned weights, fine-tune %v", len(mem.Block), mem.Config.FineTune)
	}
	path := filepath.Join(t.TempDir(), TransferModelFile)
	if err := SaveTransferModel(path, mem); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadTransferModel(path)
	if err != nil {
		t.Fatal(err)
	}
	pic := filepath.Join(dir, "checks", "checks_aa.png")
	classify := func(m *TransferModel) []TransferPrediction {
		c, err := a.NewClassifier(m)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		top, err := c.Classify(pic, 3)
		if err != nil {
			t.Fatal(err)
		}
		return top
	}
	want := classify(mem)
	if got := classify(loaded); !slices.Equal(got, want) {
		t.Errorf("from the file %v, in memory %v", got, want)
	}
	plain := *loaded
	plain.Block = nil
	if got := classify(&plain); slices.Equal(got, want) {
		t.Errorf("without the tuned block the same probabilities %v", got)
	}
}

// patternFolder writes perClass pictures of three generated patterns into a new temporary folder.
func patternFolder(t *testing.T, perClass int) string {
	t.Helper()
	dir := t.TempDir()
	if err := testpics.WritePatterns(dir, perClass, 21); err != nil {
		t.Fatal(err)
	}
	return dir
}
