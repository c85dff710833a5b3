package app

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"convas/compute/formats/checkpoint"
	"convas/compute/train"
)

func testApp(t *testing.T) *App {
	d := t.TempDir()
	return &App{ConfigDir: filepath.Join(d, "config"), CacheDir: filepath.Join(d, "cache"), DataDir: filepath.Join(d, "data")}
}

func TestBuiltInPresets(t *testing.T) {
	a := testApp(t)
	ps := a.Presets()
	byName := map[string]Preset{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	s, ok := byName["mnist-simple"]
	if !ok {
		t.Fatalf("mnist-simple missing from %v", ps)
	}
	// The recipe's values exactly.
	want := train.DefaultConfig()
	if s.Config != want {
		t.Errorf("mnist-simple = %+v\nwant %+v", s.Config, want)
	}
	if _, ok := byName["mnist-tuned"]; !ok {
		t.Error("mnist-tuned missing")
	}
}

func TestPresetErrors(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"malformed", "batch_size = = 3\n", "bad.toml"},
		{"unknown key", "batch_sise = 100\n", "batch_sise"},
		{"negative", "batch_size = -100\n", "batch_size = -100"},
		{"wrong type", "batch_size = \"many\"\n", "batch_size"},
		{"float for int", "generations = 1.5\n", "generations"},
		{"bad optimizer", "optimizer = \"sgdx\"\n", "optimizer = sgdx"},
	}
	for _, c := range cases {
		_, err := ParsePreset("bad.toml", []byte(c.body))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var pe *PresetError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.toml") {
			t.Errorf("%s: %v (want it to name the file and %q)", c.name, err, c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error has several lines: %q", c.name, err)
		}
	}
	a := testApp(t)
	if _, err := a.LoadPreset("no-such-preset"); err == nil || !strings.Contains(err.Error(), "mnist-simple") {
		t.Errorf("missing preset: %v", err)
	}
	if _, err := a.LoadPreset("/nonexistent/x.toml"); err == nil || !strings.Contains(err.Error(), "/nonexistent/x.toml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestUserPresets(t *testing.T) {
	a := testApp(t)
	cfg := train.DefaultConfig()
	cfg.Generations = 77
	path, err := a.SavePreset("mine", "My run", cfg)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(a.PresetDir(), "broken.toml"), []byte("eval_every = -1\n"), 0o644)
	p, err := a.LoadPreset("mine")
	if err != nil || p.Config.Generations != 77 || p.Title != "My run" || p.Source != path {
		t.Fatalf("got %+v, %v", p, err)
	}
	if probs := a.PresetProblems(); len(probs) != 1 || !strings.Contains(probs[0].Error(), "eval_every") {
		t.Errorf("problems: %v", probs)
	}
}

func TestJobPauseResumeCancel(t *testing.T) {
	var steps atomic.Int64
	j := StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		for {
			if err := gate(ctx); err != nil {
				return err
			}
			steps.Add(1)
			time.Sleep(time.Millisecond)
		}
	})
	time.Sleep(20 * time.Millisecond)
	j.Pause()
	time.Sleep(10 * time.Millisecond)
	at := steps.Load()
	time.Sleep(30 * time.Millisecond)
	if steps.Load() > at+1 || j.State() != Paused {
		t.Fatalf("paused job went on: %d then %d, state %v", at, steps.Load(), j.State())
	}
	ran := false
	j.Between(func() { ran = true })
	if !ran {
		t.Fatal("Between did not run while paused")
	}
	j.Resume()
	time.Sleep(20 * time.Millisecond)
	if steps.Load() <= at+1 {
		t.Fatal("resumed job did not go on")
	}
	if got := j.TogglePause(); got != Paused || j.State() != Paused {
		t.Fatalf("TogglePause on a running job asked for %v, state %v", got, j.State())
	}
	if got := j.TogglePause(); got != Running || j.State() != Running {
		t.Fatalf("TogglePause on a paused job asked for %v, state %v", got, j.State())
	}
	j.Pause()
	j.Cancel() // cancelling a paused job ends it
	if err := j.Wait(); err != nil || j.State() != Cancelled {
		t.Fatalf("err %v state %v", err, j.State())
	}
	j.Between(func() { ran = false }) // runs at once on an ended job
	if ran {
		t.Fatal("Between on an ended job did not run")
	}
}

func TestJobFailure(t *testing.T) {
	boom := errors.New("boom")
	j := StartJob(func(context.Context, func(context.Context) error) error { return boom })
	if err := j.Wait(); !errors.Is(err, boom) || j.State() != Failed {
		t.Fatalf("err %v state %v", err, j.State())
	}
}

func TestMNISTDataset(t *testing.T) {
	a := testApp(t)
	d, err := a.LoadDataset("mnist")
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.N != 55000 || d.Test.N != 10000 || d.Train.H != 28 || d.Train.Classes != 10 {
		t.Fatalf("train %d test %d", d.Train.N, d.Test.N)
	}
	// The canonical first test label is 7 and the first training label (after the 5,000 held out) is 7 too.
	if d.Test.Labels[0] != 7 {
		t.Errorf("first test label %d, want 7", d.Test.Labels[0])
	}
	if _, err := a.LoadDataset(t.TempDir()); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestTruncatedIDXFolder(t *testing.T) {
	dir := t.TempDir()
	for _, n := range idxNames {
		os.WriteFile(filepath.Join(dir, n), []byte{0, 0, 8, 1, 0, 0, 0, 9, 1, 2}, 0o644)
	}
	a := testApp(t)
	_, err := a.LoadDataset(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, idxNames[0])) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("got %v", err)
	}
}

// idxFolder writes a small data set in the MNIST file layout: n pictures of 28x28 whose class k
// is a bright bar at row 2+2k.
func idxFolder(t *testing.T, train, test int) string {
	dir := t.TempDir()
	write := func(name string, dims []int, data []byte) {
		b := []byte{0, 0, 8, byte(len(dims))}
		for _, d := range dims {
			b = append(b, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, data...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range []int{train, test} {
		px := make([]byte, n*784)
		lb := make([]byte, n)
		for j := 0; j < n; j++ {
			k := (j * 7) % 10
			lb[j] = byte(k)
			for x := 4; x < 24; x++ {
				px[j*784+(2+2*k)*28+x] = 255
			}
		}
		write(idxNames[2*i], []int{n, 28, 28}, px)
		write(idxNames[2*i+1], []int{n}, lb)
	}
	return dir
}

func TestCheckpointRoundTrip(t *testing.T) {
	a := testApp(t)
	cfg := train.DefaultConfig()
	cfg.Dataset = idxFolder(t, 200, 100)
	cfg.Generations, cfg.EvalEvery, cfg.BatchSize, cfg.EvaluationSize = 6, 3, 20, 50
	tr, err := a.NewTraining("test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	job, _ := tr.Start()
	go func() {
		for range tr.Events {
		}
	}()
	if err := job.Wait(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(a.RunsDir(), "x", "a.convas")
	if err := tr.SaveCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	back, err := a.OpenCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.State.Gen != 6 || len(back.State.History) != 2 || back.Title != "test" {
		t.Fatalf("gen %d history %d", back.State.Gen, len(back.State.History))
	}
	img := image.NewGray(image.Rect(0, 0, 40, 40))
	for y := 5; y < 35; y++ {
		img.SetGray(20, y, color.Gray{255})
	}
	p1, _, err1 := tr.Predict(img)
	p2, _, err2 := back.Predict(img)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for i := range p1 {
		if p1[i] != p2[i] {
			t.Fatalf("predictions differ after a round trip: %v vs %v", p1, p2)
		}
	}
	// Going on from the checkpoint continues the same random sequence as going on in memory.
	tr.State.Config.Generations, back.State.Config.Generations = 9, 9
	for _, x := range []*Training{tr, back} {
		j, _ := x.Start()
		go func() {
			for range x.Events {
			}
		}()
		if err := j.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range tr.State.Net.Parameters() {
		q := back.State.Net.Parameters()[i]
		for k := range p.Data {
			if p.Data[k] != q.Data[k] {
				t.Fatalf("%s[%d] differs after resuming: %v vs %v", p.Name, k, p.Data[k], q.Data[k])
			}
		}
	}
}

func TestDamagedCheckpoint(t *testing.T) {
	a := testApp(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.convas")
	os.WriteFile(junk, []byte("hello, not a checkpoint"), 0o644)
	if _, err := a.OpenCheckpoint(junk); !errors.Is(err, checkpoint.ErrNotCheckpoint) || !strings.Contains(err.Error(), junk) {
		t.Errorf("junk: %v", err)
	}
	cfg := train.DefaultConfig()
	cfg.Generations = 1
	cfg.Dataset = idxFolder(t, 20, 10)
	tr, err := a.NewTraining("t", cfg)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.convas")
	if err := tr.SaveCheckpoint(good); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	cut := filepath.Join(dir, "cut.convas")
	os.WriteFile(cut, b[:len(b)/2], 0o644)
	if _, err := a.OpenCheckpoint(cut); !errors.Is(err, checkpoint.ErrDamaged) || !strings.Contains(err.Error(), cut) {
		t.Errorf("truncated: %v", err)
	}
}

func TestPrepareDigit(t *testing.T) {
	// A dark stroke on a light page comes out light on dark, centred, inside the 20x20 box.
	img := image.NewGray(image.Rect(0, 0, 100, 60))
	for i := range img.Pix {
		img.Pix[i] = 250
	}
	for y := 10; y < 50; y++ {
		for x := 70; x < 76; x++ {
			img.SetGray(x, y, color.Gray{0})
		}
	}
	px := PrepareDigit(img, 28)
	if px[0] != 0 || px[27] != 0 {
		t.Errorf("corners not dark: %v %v", px[0], px[27])
	}
	if px[14*28+14] < 0.9 {
		t.Errorf("centre not bright: %v", px[14*28+14])
	}
	for y := 0; y < 28; y++ {
		if px[y*28+1] > 0.01 {
			t.Fatalf("ink outside the 20x20 box at row %d", y)
		}
	}
}
