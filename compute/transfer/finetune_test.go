package transfer

import (
	"bytes"
	"cmp"
	"context"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// tunerLoss runs one forward and backward step and returns the loss in float64.
func tunerLoss(t *testing.T, tn *tuner, x []float32, labels []int) float64 {
	t.Helper()
	l, _, err := tn.step(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestTunerGradient checks the fine-tuning graph's gradients with respect to the mixed5
// block's weights and the head's, through the whole head loss, against float32 central
// differences of the loss on single weights; and its loss against the head written with BLAS on
// the block's pooled features.
func TestTunerGradient(t *testing.T) {
	trunk := loadTrunk(t).Clone()
	const size, batch = 75, 3
	rng := rand.New(rand.NewPCG(21, 22))
	h, err := NewHead(768, 6, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h.W2 { // retrain.py's 0.001 makes the block's gradients too small to check
		h.W2[i] = float32(rng.NormFloat64() * 0.3)
	}
	tn, err := newTuner(trunk, size, h, batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tn.close()
	x := make([]float32, batch*tn.per)
	for i := range x {
		x[i] = 2 * rng.Float32() // mixed4 is after ReLUs: not negative
	}
	labels := []int{0, 2, 1}
	loss := tunerLoss(t, tn, x, labels)

	pl, err := newPooler(trunk, size, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.close()
	f, err := pl.features(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := h.forward(f, batch).loss(labels, 3)
	if math.Abs(loss-want) > 1e-5*(1+want) {
		t.Fatalf("graph loss %v, BLAS head on the pooled features %v", loss, want)
	}

	grads := make([][]float32, len(tn.ps))
	for i, p := range tn.ps {
		grads[i] = slices.Clone(p.Grad)
	}
	// The first and last convolutions of the block (kernel and bias), one in the middle, and the
	// head's weights.
	check := []int{0, 1, 8, 9, tn.nBlock - 2, tn.nBlock - 1, tn.nBlock, tn.nBlock + 2}
	for _, k := range check {
		p := tn.ps[k]
		// The three weights with the largest gradients, one at a time: a single weight moves
		// few units across their ReLU's kink, and its loss change is well above float32's
		// rounding of the loss.
		idx := make([]int, len(p.Value))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(math.Abs(float64(grads[k][b])), math.Abs(float64(grads[k][a]))) })
		for _, i := range idx[:3] {
			orig := p.Value[i]
			const eps = 3e-3
			p.Value[i] = orig + eps
			up := tunerLoss(t, tn, x, labels)
			p.Value[i] = orig - eps
			down := tunerLoss(t, tn, x, labels)
			p.Value[i] = orig
			numeric, analytic := (up-down)/(2*eps), float64(grads[k][i])
			t.Logf("%s[%d]: analytic %.6g, numeric %.6g", p.Name, i, analytic, numeric)
			if math.Abs(analytic-numeric) > 0.03*math.Abs(analytic)+2e-5 || analytic == 0 {
				t.Errorf("%s[%d]: gradient %v, central difference %v", p.Name, i, analytic, numeric)
			}
		}
	}
}

// TestFineTuneRun fine-tunes mixed5 on crops of three sample photos: its validation loss after
// the same steps is not worse than the frozen head's; the trunk it was given is unchanged; the
// checkpoint round trip classifies a picture as the in-memory model does; a second run reads
// every mixed4 map from the cache; another backbone is refused.
func TestFineTuneRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains through the trunk's last block")
	}
	trunk := Trunk{M: loadTrunk(t), InputSize: 96}
	dir := t.TempDir()
	makeCrops(t, dir, 8, map[string]string{"cat": "chelsea.png", "coffee": "coffee.png", "space": "hubble_deep_field.jpg"})
	d, err := Scan(ScanConfig{Dir: dir, ValidationPercent: 30, TestPercent: 10})
	if err != nil {
		t.Fatal(err)
	}
	before, err := blockParams(trunk.M)
	if err != nil {
		t.Fatal(err)
	}
	orig := slices.Clone(before[0].Data)
	cfg := DefaultConfig()
	cfg.Steps, cfg.EvalEvery, cfg.BatchSize = 20, 10, 8
	_, frozen, err := Run(context.Background(), trunk, d, nil, cfg, nil, make(chan Event, 1024))
	if err != nil {
		t.Fatal(err)
	}
	cfg.FineTune = true
	cache := &Cache{Dir: t.TempDir()}
	start := time.Now()
	events := make(chan Event, 1024)
	m, res, err := Run(context.Background(), trunk, d, cache, cfg, nil, events)
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	for e := range events {
		if p, ok := e.(StepProgress); ok && p.FineTune && p.Pictures == p.Batch && p.Step == steps+1 {
			steps++
		}
	}
	if steps != cfg.Steps {
		t.Errorf("%d step reports in order, want %d", steps, cfg.Steps)
	}
	fl, tl := frozen.History[len(frozen.History)-1].ValidationLoss, res.History[len(res.History)-1].ValidationLoss
	t.Logf("counts %v in %v: validation loss frozen %.4f, tuned %.4f; accuracy %.1f%%, %.1f%%", res.Counts, time.Since(start), fl, tl,
		frozen.ValidationAccuracy, res.ValidationAccuracy)
	if res.Counts[Validation] == 0 || !(tl <= fl) {
		t.Errorf("tuned validation loss %v, frozen %v (%d validation pictures)", tl, fl, res.Counts[Validation])
	}
	if !slices.Equal(before[0].Data, orig) {
		t.Error("fine-tuning changed the trunk it was given")
	}
	if len(m.Block) != 20 || slices.Equal(m.Block[0].Data, orig) {
		t.Errorf("model has %d tuned weights (want 20); first unchanged: %v", len(m.Block), len(m.Block) > 0 && slices.Equal(m.Block[0].Data, orig))
	}

	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	v := d.Pictures[d.Of(Validation)[0]]
	img, err := LoadPicture(v.Path, 96)
	if err != nil {
		t.Fatal(err)
	}
	classify := func(m *Model) []Prediction {
		b, err := m.TunedBlock(trunk)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := NewExtractor(b, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer ex.Close()
		f, err := ex.Features([]*image.NRGBA{img})
		if err != nil {
			t.Fatal(err)
		}
		top, err := m.Top(f[0], 3)
		if err != nil {
			t.Fatal(err)
		}
		return top
	}
	if a, b := classify(m), classify(m2); !slices.Equal(a, b) {
		t.Errorf("in memory %v, from the checkpoint %v", a, b)
	}
	// Through the untuned trunk the same head gives other probabilities.
	plain := &Model{Backbone: m.Backbone, Layer: m.Layer, InputSize: 96, Labels: m.Labels, Head: m.Head}
	if a, b := classify(m), classify(plain); slices.Equal(a, b) {
		t.Errorf("the tuned block changes nothing: %v", a)
	}

	_, res2, err := Run(context.Background(), trunk, d, cache, cfg, nil, make(chan Event, 1024))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Computed != 0 || res2.Extraction.Cached != 24 || res2.ValidationAccuracy != res.ValidationAccuracy {
		t.Errorf("second run computed %d, cached %d, validation %v then %v", res2.Computed, res2.Extraction.Cached,
			res.ValidationAccuracy, res2.ValidationAccuracy)
	}

	builds := 0
	if _, _, err := Run(context.Background(), meanRGB{size: 8, builds: &builds}, d, nil, cfg, nil, make(chan Event, 8)); err == nil ||
		!strings.Contains(err.Error(), "InceptionV3 trunk") {
		t.Errorf("mean-rgb backbone: %v, want a refusal", err)
	}
}

// TestFineTuneConfig checks the block's learning rate and the settings Validate refuses.
func TestFineTuneConfig(t *testing.T) {
	c := DefaultConfig()
	c.FineTune = true
	if c.BlockLearningRate() != 0.001 || c.Validate() != nil {
		t.Errorf("default block learning rate %v, %v", c.BlockLearningRate(), c.Validate())
	}
	c.FineTuneLearningRate = 0.05
	if c.BlockLearningRate() != 0.05 {
		t.Errorf("block learning rate %v, want 0.05", c.BlockLearningRate())
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		c.FineTuneLearningRate = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "fine-tuning learning rate") {
			t.Errorf("rate %v: %v", bad, err)
		}
	}
	c.FineTuneLearningRate = 0
	c.Distortions.Flip = true
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "distortions") {
		t.Errorf("fine-tuning with distortions: %v", err)
	}
}
