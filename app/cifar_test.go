package app

import (
	"context"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"convas/compute/formats/cifar"
	"convas/compute/train"
)

// cifarFolder writes a small CIFAR-10 folder: noise with a bright square in the red, green or
// blue plane by class (labels 0, 1, 2).
func cifarFolder(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	make := func(n int) *cifar.Batch {
		b := &cifar.Batch{N: n, Pixels: make([]uint8, n*cifar.PixelLen), Labels: make([]uint8, n)}
		for i := 0; i < n; i++ {
			k := r.IntN(3)
			b.Labels[i] = uint8(k)
			img := b.Image(i)
			for j := range img {
				img[j] = uint8(r.IntN(60))
			}
			for y := 8; y < 24; y++ {
				for x := 8; x < 24; x++ {
					img[k*1024+y*32+x] = 250
				}
			}
		}
		return b
	}
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	if err := cifar.WriteDir(dir, make(nTrain), make(nTest), cifar.DefaultLabels); err != nil {
		t.Fatal(err)
	}
	return dir
}

func smallCIFARConfig(dir string) train.Config {
	cfg := train.CIFARConfig()
	cfg.Dataset = dir
	cfg.BatchSize, cfg.EvaluationSize, cfg.Generations, cfg.EvalEvery, cfg.LogEvery = 8, 16, 4, 2, 2
	cfg.Conv1Features, cfg.Conv2Features, cfg.FullyConnectedSize1, cfg.FullyConnectedSize2 = 8, 8, 16, 8
	return cfg
}

func TestCIFARPreset(t *testing.T) {
	a := testApp(t)
	p, err := a.LoadPreset("cifar10-advanced")
	if err != nil {
		t.Fatal(err)
	}
	// The recipe's values exactly, as train.CIFARConfig holds them.
	if p.Config != train.CIFARConfig() {
		t.Errorf("cifar10-advanced = %+v\nwant %+v", p.Config, train.CIFARConfig())
	}
	c := p.Config
	if c.Optimizer != "sgd" || c.LearningRate != 0.1 || c.LRDecay != 0.9 || c.LRDecayEvery != 250 || c.BatchSize != 128 ||
		c.Generations != 20000 || c.LogEvery != 50 || c.EvalEvery != 500 {
		t.Errorf("not the recipe: %+v", c)
	}
	// A preset that names the CIFAR recipe starts from its defaults, not the MNIST recipe's.
	q, err := ParsePreset("c.toml", []byte("recipe = \"cifar10-cnn\"\ngenerations = 10\n"))
	if err != nil || q.Config.BatchSize != 128 || q.Config.Generations != 10 {
		t.Errorf("%+v %v", q.Config, err)
	}
	if _, err := ParsePreset("c.toml", []byte("recipe = \"cifar10-cnn\"\nmax_pool_size1 = 3\n")); err == nil || !strings.Contains(err.Error(), "max_pool_size1") {
		t.Errorf("pool size 3: %v", err)
	}
}

func TestCIFARTrainCheckpointResume(t *testing.T) {
	a := testApp(t)
	dir := cifarFolder(t, 40, 12)
	tr, err := a.NewTraining("cifar", smallCIFARConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Dataset.Colour || tr.Dataset.Classes[3] != "cat" {
		t.Errorf("data set %+v", tr.Dataset)
	}
	run := func(x *Training) {
		j, err := x.Start()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range x.Events {
			}
		}()
		if err := j.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	run(tr)
	path := filepath.Join(t.TempDir(), "c.convas")
	if err := tr.SaveCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	back, err := a.OpenCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.State.Gen != 4 || len(back.State.Losses) != 2 || back.State.Config.Recipe != train.RecipeCIFAR {
		t.Fatalf("gen %d losses %d", back.State.Gen, len(back.State.Losses))
	}
	img := imaging.New(50, 40, color.NRGBA{200, 30, 30, 255})
	p1, v1, err1 := tr.Predict(img)
	p2, _, err2 := back.Predict(img)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if v1.Bounds().Dx() != 24 || p1[0] != p2[0] {
		t.Errorf("view %v, predictions %v vs %v", v1.Bounds(), p1[0], p2[0])
	}
	// Going on from the checkpoint gives the weights of going on in memory.
	tr.State.Config.Generations, back.State.Config.Generations = 7, 7
	run(tr)
	run(back)
	for i, p := range tr.State.Net.Parameters() {
		q := back.State.Net.Parameters()[i]
		for k := range p.Data {
			if p.Data[k] != q.Data[k] {
				t.Fatalf("%s[%d] differs after resuming: %v vs %v", p.Name, k, p.Data[k], q.Data[k])
			}
		}
	}
}

func TestCIFARDataErrors(t *testing.T) {
	a := testApp(t)
	// The store's copy, not fetched: the error says how to get it.
	if _, err := a.NewTraining("x", train.CIFARConfig()); err == nil || !strings.Contains(err.Error(), "convas models fetch cifar10") {
		t.Errorf("store copy missing: %v", err)
	}
	// The CIFAR recipe on MNIST data, and the MNIST recipe on CIFAR data.
	cfg := train.CIFARConfig()
	cfg.Dataset = "mnist"
	if _, err := a.NewTraining("x", cfg); err == nil || !strings.Contains(err.Error(), "CIFAR-10") {
		t.Errorf("cifar on mnist: %v", err)
	}
	dir := cifarFolder(t, 10, 5)
	m := train.DefaultConfig()
	m.Dataset = dir
	if _, err := a.NewTraining("x", m); err == nil {
		t.Error("the MNIST recipe trained on CIFAR-10")
	}
	// A truncated batch is named (a fresh folder: the app keeps loaded data sets).
	dir = cifarFolder(t, 10, 5)
	f := filepath.Join(dir, "data_batch_2.bin")
	b, _ := os.ReadFile(f)
	os.WriteFile(f, b[:len(b)-5], 0o644)
	if _, err := a.LoadDataset(dir); err == nil || !strings.Contains(err.Error(), "data_batch_2.bin") {
		t.Errorf("truncated: %v", err)
	}
}

func TestExportCIFAR10(t *testing.T) {
	a := testApp(t)
	dir := cifarFolder(t, 11, 4)
	src, err := cifar.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var last ExportProgress
	if err := a.ExportCIFAR10(context.Background(), dir, out, func(p ExportProgress) { last = p }); err != nil {
		t.Fatal(err)
	}
	if last.Done != 15 || last.Total != 15 {
		t.Errorf("progress %+v", last)
	}
	labels, _ := os.ReadFile(filepath.Join(out, "cifar10_labels.txt"))
	if strings.Join(strings.Fields(string(labels)), ",") != strings.Join(cifar.DefaultLabels, ",") {
		t.Errorf("labels file %q", labels)
	}
	count := func(split string) int {
		n := 0
		filepath.WalkDir(filepath.Join(out, split), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".png") {
				n++
			}
			return nil
		})
		return n
	}
	if count("train_dir") != 11 || count("validation_dir") != 4 {
		t.Errorf("%d training and %d validation pictures", count("train_dir"), count("validation_dir"))
	}
	// Test picture 2 sits under its class's name and holds the record's pixels, red, green and
	// blue planes in place.
	k := src.Test.Labels[2]
	img, err := imaging.Open(filepath.Join(out, "validation_dir", cifar.DefaultLabels[k], "test_batch_00002.png"))
	if err != nil {
		t.Fatal(err)
	}
	px := src.Test.Image(2)
	for _, pt := range []image.Point{{0, 0}, {10, 12}, {31, 5}} {
		r, g, b, _ := img.At(pt.X, pt.Y).RGBA()
		i := pt.Y*32 + pt.X
		if uint8(r>>8) != px[i] || uint8(g>>8) != px[1024+i] || uint8(b>>8) != px[2048+i] {
			t.Errorf("pixel %v: %d %d %d, want %d %d %d", pt, r>>8, g>>8, b>>8, px[i], px[1024+i], px[2048+i])
		}
	}
	// Cancelled, it stops.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.ExportCIFAR10(ctx, dir, t.TempDir(), nil); err == nil {
		t.Error("a cancelled export finished")
	}
}

func TestPrepareCIFAR(t *testing.T) {
	// A picture red on the left half and blue on the right: the red plane of the 24x24 crop is
	// high on its left half, the blue plane on its right half, and the whole is standardised.
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			if x < 32 {
				img.Set(x, y, color.NRGBA{255, 0, 0, 255})
			} else {
				img.Set(x, y, color.NRGBA{0, 0, 255, 255})
			}
		}
	}
	px, view := PrepareCIFAR(img)
	if len(px) != 3*24*24 || view.Bounds().Dx() != 24 {
		t.Fatalf("%d values, view %v", len(px), view.Bounds())
	}
	var sum float64
	for _, v := range px {
		sum += float64(v)
	}
	if sum > 1e-2 || sum < -1e-2 {
		t.Errorf("mean %v, want 0", sum/float64(len(px)))
	}
	if !(px[5*24+2] > px[5*24+21]) || !(px[2*576+5*24+21] > px[2*576+5*24+2]) {
		t.Error("the crop's halves are not where they were")
	}
}
