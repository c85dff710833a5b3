package transfer

import (
	"context"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// coords returns a w x h picture whose red is 10 x, green 10 y and blue 7: every pixel names
// its place.
func coords(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(10 * x), uint8(10 * y), 7, 255})
		}
	}
	return img
}

// TestDistortionApply checks the crop window, the flip and the brightness by hand on pictures
// already at the resized side (so the bilinear resize keeps them as they are).
func TestDistortionApply(t *testing.T) {
	const size = 4
	dst := make([]float32, 3*size*size)
	plane := size * size
	// Crop geometry: a 6x6 picture, scale 1.5 (side 6), window at (2, 1): pixel (x, y) of the
	// window is (x+2, y+1) of the picture.
	d := Distortion{Scale: 1.5, X: 2, Y: 1, Brightness: 1}
	if d.Side(size) != 6 {
		t.Fatalf("side %d, want 6", d.Side(size))
	}
	if err := d.Apply(coords(6, 6), size, dst); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			j := y*size + x
			if r, g, b := dst[j], dst[plane+j], dst[2*plane+j]; r != float32(10*(x+2)) || g != float32(10*(y+1)) || b != 7 {
				t.Errorf("crop (%d, %d): %v %v %v, want %d %d 7", x, y, r, g, b, 10*(x+2), 10*(y+1))
			}
		}
	}
	// Flip: the window's column x is the picture's column X + 3 - x; with brightness 1.5 every
	// value times 1.5, without clipping (10*5*1.5 = 75, 7*1.5 = 10.5, 50*1.5 = 75).
	d = Distortion{Scale: 1.5, X: 2, Y: 0, Flip: true, Brightness: 1.5}
	if err := d.Apply(coords(6, 6), size, dst); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			j := y*size + x
			wantR, wantG := 1.5*float32(10*(2+3-x)), 1.5*float32(10*y)
			if r, g, b := dst[j], dst[plane+j], dst[2*plane+j]; r != wantR || g != wantG || b != 10.5 {
				t.Errorf("flip (%d, %d): %v %v %v, want %v %v 10.5", x, y, r, g, b, wantR, wantG)
			}
		}
	}
	// Brightness beyond 255 is not clipped, as retrain.py's tf.multiply: 250 * 1.25 = 312.5.
	d = Distortion{Scale: 1, Brightness: 1.25}
	if err := d.Apply(solid(size, size, color.NRGBA{250, 100, 0, 255}), size, dst); err != nil {
		t.Fatal(err)
	}
	if dst[0] != 312.5 || dst[plane] != 125 || dst[2*plane] != 0 {
		t.Errorf("brightness 1.25: %v %v %v, want 312.5 125 0", dst[0], dst[plane], dst[2*plane])
	}
	// A bigger picture is resized to the side first: a solid colour stays that colour.
	d = Distortion{Scale: 1.25, X: 1, Y: 0, Brightness: 0.5}
	if err := d.Apply(solid(37, 11, color.NRGBA{200, 100, 50, 255}), size, dst); err != nil {
		t.Fatal(err)
	}
	for j := 0; j < plane; j++ {
		if dst[j] != 100 || dst[plane+j] != 50 || dst[2*plane+j] != 25 {
			t.Fatalf("resized solid: %v %v %v, want 100 50 25", dst[j], dst[plane+j], dst[2*plane+j])
		}
	}
	// A window that does not fit, or a buffer of the wrong size, is an error.
	if err := (Distortion{Scale: 1.25, X: 2, Brightness: 1}).Apply(coords(5, 5), size, dst); err == nil {
		t.Error("window at x 2 of 5 for 4 pixels: no error")
	}
	if err := (Distortion{Scale: 1, Brightness: 1}).Apply(coords(4, 4), size, dst[1:]); err == nil {
		t.Error("short buffer: no error")
	}
}

// TestDistortionsDraw checks the draws' ranges against add_input_distortions: the side is the
// margin times a scale in [1, 1 + s) truncated, the window anywhere it fits (both ends reached),
// a flip about half the time and only when asked, a brightness in [1 - b, 1 + b).
func TestDistortionsDraw(t *testing.T) {
	const size = 299
	// retrain.py's precrop for --random_crop 10 and no scale: int(1.1 * 299) = int(328.9) = 328.
	if s := (Distortion{Scale: 1.1}).Side(size); s != 328 {
		t.Errorf("side at 1.1 x 299: %d, want 328", s)
	}
	d := Distortions{Crop: 10, Scale: 20, Flip: true, Brightness: 30}
	rng := rand.New(rand.NewPCG(1, 2))
	flips, minX, maxX := 0, size, -1
	const n = 4000
	for i := 0; i < n; i++ {
		v := d.Draw(rng, size)
		if v.Scale < 1.1-1e-12 || v.Scale >= 1.1*1.2 {
			t.Fatalf("scale %g outside [1.1, 1.32)", v.Scale)
		}
		slack := v.Side(size) - size
		if v.X < 0 || v.X > slack || v.Y < 0 || v.Y > slack {
			t.Fatalf("window (%d, %d) outside [0, %d]", v.X, v.Y, slack)
		}
		if v.Brightness < 0.7 || v.Brightness >= 1.3 {
			t.Fatalf("brightness %g outside [0.7, 1.3)", v.Brightness)
		}
		minX, maxX = min(minX, v.X), max(maxX, v.X)
		if v.Flip {
			flips++
		}
	}
	// The side is at least int(1.1 * 299) = 328, so the window's slack is at least 29.
	if minX != 0 || maxX < 29 {
		t.Errorf("window x in [%d, %d], want from 0 to at least 29", minX, maxX)
	}
	// Binomial(4000, 1/2): the standard deviation is about 32.
	if flips < n/2-160 || flips > n/2+160 {
		t.Errorf("%d flips of %d", flips, n)
	}
	// Nothing on: the picture as it is.
	none := Distortions{}.Draw(rng, size)
	if none != (Distortion{Scale: 1, Brightness: 1}) {
		t.Errorf("no distortions drew %+v", none)
	}
	for _, bad := range []Distortions{{Crop: -1}, {Scale: 101}, {Brightness: math.NaN()}, {Brightness: math.Inf(1)}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	cfg := DefaultConfig()
	cfg.Distortions.Crop = -5
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "random crop") {
		t.Errorf("config with crop -5: %v", err)
	}
}

// pixels is a backbone whose bottleneck is the picture itself (its 3 x size x size planar
// values): what the distortions did is seen whole.
type pixels struct{ size int }

func (p pixels) Name() string  { return "pixels" }
func (p pixels) Layer() string { return "input" }
func (p pixels) Size() int     { return p.size }
func (p pixels) Build(batch int) (*G.ExprGraph, *G.Node, *G.Node, error) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, 3, p.size, p.size), G.WithName("input"))
	f, err := G.Reshape(x, tensor.Shape{batch, 3 * p.size * p.size})
	if err != nil {
		return nil, nil, nil, err
	}
	f, err = G.Mul(f, G.NewConstant(float32(1))) // a node to compute, not the input itself
	return g, x, f, err
}

// TestDistortedBatchSeeded draws distorted batches through a backbone that returns the pixels:
// the same seed gives the same batch, another seed another, and each picture of the batch is its
// source picture distorted by the draw (the labels match the classes).
func TestDistortedBatchSeeded(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	tr := &examples{}
	for i := 0; i < 5; i++ {
		p := filepath.Join(dir, "c", string(rune('a'+i))+".png")
		writePNG(t, p, noise(9+i, 7+i, uint64(i)))
		paths = append(paths, p)
		tr.labels, tr.index = append(tr.labels, i%2), append(tr.index, i)
	}
	const size, n = 6, 7
	d := Distortions{Crop: 20, Scale: 30, Flip: true, Brightness: 25}
	draw := func(seed uint64) ([]float32, []int) {
		dist, err := newDistorter(pixels{size}, d, paths, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dist.close()
		dim := dist.dim()
		if dim != 3*size*size {
			t.Fatalf("dim %d", dim)
		}
		x, labels := make([]float32, n*dim), make([]int, n)
		e := &examples{labels: slices.Clone(tr.labels), index: slices.Clone(tr.index)}
		if err := dist.batch(context.Background(), rand.New(rand.NewPCG(seed, 0)), e, n, dim, x, labels, 1, 1); err != nil {
			t.Fatal(err)
		}
		if dist.ran != n {
			t.Errorf("ran %d pictures, want %d", dist.ran, n)
		}
		return x, labels
	}
	x1, l1 := draw(3)
	x2, l2 := draw(3)
	if !slices.Equal(x1, x2) || !slices.Equal(l1, l2) {
		t.Error("the same seed gave another batch")
	}
	x3, _ := draw(4)
	if slices.Equal(x1, x3) {
		t.Error("another seed gave the same batch")
	}
	// Replay the draws by hand: the same random stream picks a picture then its distortion.
	rng := rand.New(rand.NewPCG(3, 0))
	want := make([]float32, 3*size*size)
	for i := 0; i < n; i++ {
		j := rng.IntN(len(paths))
		v := d.Draw(rng, size)
		f, err := os.Open(paths[j])
		if err != nil {
			t.Fatal(err)
		}
		src, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Apply(src, size, want); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(x1[i*len(want):(i+1)*len(want)], want) || l1[i] != j%2 {
			t.Errorf("picture %d of the batch is not %s distorted by %+v", i, filepath.Base(paths[j]), v)
		}
	}
}

// tinted returns a noisy picture around a colour.
func tinted(w, h int, c color.NRGBA, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, 7))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		for k, v := range []uint8{c.R, c.G, c.B} {
			img.Pix[i+k] = uint8(max(0, min(255, int(v)+rng.IntN(61)-30)))
		}
		img.Pix[i+3] = 255
	}
	return img
}

// TestRunDistorted retrains on two colours with every distortion on: each step runs its whole
// batch of distorted training pictures through the backbone (StepProgress after each backbone
// batch, Distorted = steps x batch), only the validation and test pictures are extracted and
// cached, a damaged training picture is reported and left out, the validation loss falls and the
// same seed gives the same head.
func TestRunDistorted(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 14; i++ {
		writePNG(t, filepath.Join(dir, "red", "r"+string(rune('a'+i))+".png"), tinted(12, 10, color.NRGBA{190, 60, 50, 255}, uint64(i)))
		writePNG(t, filepath.Join(dir, "blue", "b"+string(rune('a'+i))+".png"), tinted(10, 12, color.NRGBA{40, 70, 200, 255}, uint64(100+i)))
	}
	big := writePNG(t, filepath.Join(dir, "tmp.png"), noise(64, 64, 3))
	os.Remove(filepath.Join(dir, "tmp.png"))
	os.WriteFile(filepath.Join(dir, "red", "truncated.png"), big[:len(big)/2], 0o644)
	d, err := Scan(ScanConfig{Dir: dir, ValidationPercent: 25, TestPercent: 15})
	if err != nil {
		t.Fatal(err)
	}
	var truncSet Set = -1
	for _, p := range d.Pictures {
		if filepath.Base(p.Path) == "truncated.png" {
			truncSet = p.Set
		}
	}
	counts := d.Counts()
	if truncSet != Training || counts[0][Validation] == 0 || counts[1][Validation] == 0 {
		t.Fatalf("split %v, truncated.png in %v: the test needs it in training and both classes in validation", counts, truncSet)
	}
	cfg := Config{Optimizer: "adam", LearningRate: 0.01, BatchSize: 6, Steps: 40, EvalEvery: 5, Seed: 5,
		Distortions: Distortions{Crop: 10, Scale: 10, Flip: true, Brightness: 20}}
	cache := &Cache{Dir: t.TempDir()}
	run := func() (*Result, []Event) {
		builds := 0
		events := make(chan Event, 16)
		var got []Event
		done := make(chan struct{})
		go func() {
			for e := range events {
				got = append(got, e)
			}
			close(done)
		}()
		_, res, err := Run(context.Background(), meanRGB{size: 8, builds: &builds}, d, cache, cfg, nil, events)
		<-done
		if err != nil {
			t.Fatal(err)
		}
		return res, got
	}
	res, events := run()
	if res.Distorted != cfg.Steps*cfg.BatchSize {
		t.Errorf("%d distorted pictures run, want %d", res.Distorted, cfg.Steps*cfg.BatchSize)
	}
	steps, skips := map[int]int{}, 0
	var evals []Evaluation
	for _, e := range events {
		switch e := e.(type) {
		case StepProgress:
			if e.Steps != cfg.Steps || e.Batch != cfg.BatchSize || e.Pictures > e.Batch {
				t.Errorf("step progress %+v", e)
			}
			steps[e.Step] = max(steps[e.Step], e.Pictures)
		case Skipped:
			if filepath.Base(e.Path) != "truncated.png" {
				t.Errorf("skipped %+v", e)
			}
			skips++
		case Evaluation:
			evals = append(evals, e)
		}
	}
	// Progress is dropped only when the channel is full, and the drain keeps up.
	if len(steps) < cfg.Steps/2 {
		t.Errorf("step progress for %d of %d steps", len(steps), cfg.Steps)
	}
	if skips != 1 {
		t.Errorf("truncated.png reported %d times, want once", skips)
	}
	// Extraction: the validation and test pictures only, computed once and cached.
	want := res.Counts[Validation] + res.Counts[Testing]
	if res.Computed != want || res.Extraction.Of != want {
		t.Errorf("extracted %d (of %d), want the %d validation and test pictures", res.Computed, res.Extraction.Of, want)
	}
	b := meanRGB{size: 8}
	for _, p := range d.Pictures {
		if _, ok := cache.Load(b, p.SHA256); ok != (p.Set != Training) {
			t.Errorf("%s (%v): cached %v", filepath.Base(p.Path), p.Set, ok)
		}
	}
	if len(evals) != cfg.Steps/cfg.EvalEvery {
		t.Fatalf("%d evaluations", len(evals))
	}
	first, last := evals[0], evals[len(evals)-1]
	if !(last.ValidationLoss < 0.5*first.ValidationLoss) || last.ValidationAccuracy != 100 {
		t.Errorf("validation loss %g to %g, accuracy %.1f%%: it did not learn", first.ValidationLoss, last.ValidationLoss, last.ValidationAccuracy)
	}
	again, _ := run()
	if !slices.Equal(again.Head.W2, res.Head.W2) {
		t.Error("the same seed gave another head")
	}
	// Train alone has no backbone to distort with.
	if _, err := Train(context.Background(), cfg, d, &Bottlenecks{Features: make([][]float32, len(d.Pictures))}, nil, nil); err == nil {
		t.Error("Train with distortions: no error")
	}
}
