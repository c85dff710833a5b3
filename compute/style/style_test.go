package style

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// newFakeProblem builds the compiled problem of the fake network at h x w with targets from
// the pattern and stripes pictures.
func newFakeProblem(t *testing.T, net fakeNet, cfg Config, h, w int) *problem {
	t.Helper()
	l := &level{content: pattern(h, w, 1), styles: []*Image{stripes(h+2, w)}, weights: []float64{1}}
	p, err := newProblem(net, cfg, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

// TestGradientNumeric checks the gradient of the total loss with respect to the picture
// against central differences, in float64, at pixels chosen at random.
func TestGradientNumeric(t *testing.T) {
	const h, w = 8, 10
	cfg := fakeConfig()
	cfg.TVWeight = 0.5
	p := newFakeProblem(t, newFakeNet(tensor.Float64), cfg, h, w)
	wts := WeightsOf(cfg)
	x := make([]float64, 3*h*w)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = 128 + 60*rng.NormFloat64()
	}
	grad := make([]float64, len(x))
	l, err := p.eval(x, wts, grad)
	if err != nil {
		t.Fatal(err)
	}
	if !(l.Content > 0 && l.Style > 0 && l.TV > 0) || math.Abs(l.Total-(l.Content+l.Style+l.TV)) > 1e-9*l.Total {
		t.Fatalf("losses %+v", l)
	}
	scratch := make([]float64, len(x))
	f := func(i int, d float64) float64 {
		x[i] += d
		defer func() { x[i] -= d }()
		l, err := p.eval(x, wts, scratch)
		if err != nil {
			t.Fatal(err)
		}
		return l.Total
	}
	const eps = 1e-3
	var worst float64
	for range 25 {
		i := rng.IntN(len(x))
		num := (f(i, eps) - f(i, -eps)) / (2 * eps)
		rel := math.Abs(num-grad[i]) / max(math.Abs(num), math.Abs(grad[i]), 1e-6)
		worst = max(worst, rel)
		if rel > 1e-5 {
			t.Errorf("pixel %d: gradient %.9g, central difference %.9g", i, grad[i], num)
		}
	}
	t.Logf("worst relative error %.2g", worst)
}

// collect runs a transfer and returns its result and every event.
func collect(t *testing.T, cfg Config, net Network, content *Image, styles []*Image, control Control) (*Image, []Event) {
	t.Helper()
	events := make(chan Event, 1024)
	out, err := Run(context.Background(), cfg, net, content, styles, nil, control, events)
	if err != nil {
		t.Fatal(err)
	}
	close(events)
	var all []Event
	for e := range events {
		all = append(all, e)
	}
	return out, all
}

func iterations(events []Event) []Iteration {
	var out []Iteration
	for _, e := range events {
		if it, ok := e.(Iteration); ok {
			out = append(out, it)
		}
	}
	return out
}

func TestStyleLossFalls(t *testing.T) {
	for _, opt := range []string{"adam", "lbfgs"} {
		cfg := fakeConfig()
		cfg.Optimizer, cfg.Iterations, cfg.Every = opt, 12, 5
		cfg.LearningRate = 5
		out, events := collect(t, cfg, newFakeNet(tensor.Float32), pattern(16, 20, 1), []*Image{stripes(16, 20)}, nil)
		its := iterations(events)
		if len(its) != cfg.Iterations || its[len(its)-1].Step != cfg.Iterations || its[0].Of != cfg.Iterations {
			t.Fatalf("%s: %d iterations: %+v", opt, len(its), its)
		}
		first, last := its[0].Losses, its[len(its)-1].Losses
		t.Logf("%s: style %.4g -> %.4g, total %.4g -> %.4g", opt, first.Style, last.Style, first.Total, last.Total)
		if !(last.Style < 0.7*first.Style) || !(last.Total < first.Total) {
			t.Errorf("%s: style loss %v -> %v, total %v -> %v", opt, first.Style, last.Style, first.Total, last.Total)
		}
		var saved []int
		var done *Done
		for _, e := range events {
			switch e := e.(type) {
			case Saved:
				saved = append(saved, e.Step)
			case Done:
				done = &e
			}
		}
		if len(saved) != 2 || saved[0] != 5 || saved[1] != 10 {
			t.Errorf("%s: saved at %v, want 5 and 10", opt, saved)
		}
		if done == nil || done.Img.H != 16 || done.Img.W != 20 || out.H != 16 || &done.Img.Pix[0] == &out.Pix[0] {
			t.Errorf("%s: done %v, result %dx%d", opt, done, out.W, out.H)
		}
	}
}

// switchAt is a Control whose weights change from a given call on.
type switchAt struct {
	calls        int
	at           int
	before, then Weights
}

func (s *switchAt) Current() Weights {
	s.calls++
	if s.calls >= s.at {
		return s.then
	}
	return s.before
}

// TestWeightChangeMidRun changes the weights from step 4 on: the losses reported from then on
// are those of the new weights, while the picture goes on from where it was.
func TestWeightChangeMidRun(t *testing.T) {
	cfg := fakeConfig()
	cfg.Iterations = 6
	net := newFakeNet(tensor.Float64)
	content, styles := pattern(12, 12, 1), []*Image{stripes(12, 12)}
	w := WeightsOf(cfg)
	changed := WeightsOf(cfg)
	changed.Content *= 2
	changed.Style = 0
	changed.StyleLayers["relu1"] = 3
	// Run calls Current once before the first step to check the weights, then once per step:
	// call 5 is step 4.
	_, ref := collect(t, cfg, net, content, styles, &switchAt{at: 1 << 30, before: w})
	_, got := collect(t, cfg, net, content, styles, &switchAt{at: 5, before: w, then: changed})
	a, b := iterations(ref), iterations(got)
	for i := range 3 {
		if a[i].Losses != b[i].Losses {
			t.Errorf("step %d: %+v before the change, want %+v", i+1, b[i].Losses, a[i].Losses)
		}
	}
	// Step 4 starts from the same picture under the new weights.
	if r := b[3].Losses.Content / a[3].Losses.Content; math.Abs(r-2) > 1e-9 {
		t.Errorf("step 4: content loss %v, %v times the unchanged run's %v; want twice", b[3].Losses.Content, r, a[3].Losses.Content)
	}
	for _, it := range b[3:] {
		if it.Losses.Style != 0 || math.Abs(it.Losses.Total-it.Losses.Content-it.Losses.TV) > 1e-9*it.Losses.Total {
			t.Errorf("step %d: %+v, want no style loss", it.Step, it.Losses)
		}
	}
}

// TestPreserveColorsKeepsChroma: the result's chroma (YIQ's I and Q) is the content's.
func TestPreserveColorsKeepsChroma(t *testing.T) {
	cfg := fakeConfig()
	cfg.PreserveColors, cfg.Iterations = true, 4
	content := pattern(12, 14, 1.3)
	out, _ := collect(t, cfg, newFakeNet(tensor.Float32), content, []*Image{stripes(12, 14)}, nil)
	got, want := toYIQ(out), toYIQ(content)
	var worst, lum float64
	for k := 1; k < 3; k++ {
		for i := range got[k] {
			worst = max(worst, math.Abs(float64(got[k][i]-want[k][i])))
		}
	}
	for i := range got[0] {
		lum = max(lum, math.Abs(float64(got[0][i]-want[0][i])))
	}
	if worst > 1e-3 {
		t.Errorf("chroma differs from the content's by up to %v", worst)
	}
	if lum < 1 {
		t.Errorf("luminance differs from the content's by at most %v: nothing was transferred", lum)
	}
}

func TestYIQRoundTrip(t *testing.T) {
	img := pattern(5, 7, 2)
	back := fromYIQ(toYIQ(img), img.H, img.W)
	for i, v := range img.Pix {
		if math.Abs(float64(back.Pix[i]-v)) > 1e-3 {
			t.Fatalf("value %d: %v, came back %v", i, v, back.Pix[i])
		}
	}
}

func TestLevels(t *testing.T) {
	cfg := fakeConfig()
	cfg.CoarseToFine = true
	got := levels(cfg, 384, 512)
	want := [][2]int{{192, 256}, {272, 362}, {384, 512}}
	if len(got) != len(want) {
		t.Fatalf("levels %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("levels %v, want %v", got, want)
		}
	}
	if got := levels(cfg, 100, 200); len(got) != 1 || got[0] != [2]int{100, 200} {
		t.Errorf("a small picture: levels %v", got)
	}
}

// TestCoarseToFineWithMargin runs two sizes with a mirrored margin: the steps count over both,
// the frames have the picture's sizes without the margin, and the result its full size.
func TestCoarseToFineWithMargin(t *testing.T) {
	cfg := fakeConfig()
	cfg.CoarseToFine, cfg.Iterations, cfg.Margin, cfg.Init = true, 2, 3, "content"
	out, events := collect(t, cfg, newFakeNet(tensor.Float32), pattern(200, 300, 1), []*Image{stripes(60, 80)}, nil)
	its := iterations(events)
	if len(its) != 4 || its[3].Step != 4 || its[0].Of != 4 {
		t.Fatalf("iterations %+v", its)
	}
	sizes := map[[2]int]bool{}
	for _, e := range events {
		if f, ok := e.(Frame); ok {
			sizes[[2]int{f.Img.H, f.Img.W}] = true
		}
	}
	if !sizes[[2]int{171, 256}] || !sizes[[2]int{200, 300}] || len(sizes) != 2 {
		t.Errorf("frame sizes %v, want 171x256 and 200x300 (h x w)", sizes)
	}
	if out.H != 200 || out.W != 300 {
		t.Errorf("result %dx%d, want 300x200", out.W, out.H)
	}
}

func TestReflectPadAndCrop(t *testing.T) {
	img := pattern(4, 5, 1)
	p := reflectPad(img, 2)
	if p.H != 8 || p.W != 9 {
		t.Fatalf("padded to %dx%d", p.W, p.H)
	}
	// Row -1 mirrors row 1, column -2 mirrors column 2 (numpy's "reflect").
	at := func(m *Image, c, y, x int) float32 { return m.Pix[(c*m.H+y)*m.W+x] }
	if at(p, 1, 1, 0) != at(img, 1, 1, 2) || at(p, 2, 7, 8) != at(img, 2, 1, 2) {
		t.Error("the margin does not mirror the picture")
	}
	back := crop(p, 2)
	for i, v := range img.Pix {
		if back.Pix[i] != v {
			t.Fatalf("crop(pad(img)) differs at %d", i)
		}
	}
}

func TestEstimateAndBudget(t *testing.T) {
	net := newFakeNet(tensor.Float32)
	cfg := fakeConfig()
	cfg.Size = 64
	timing := Timing{Fixed: 10 * time.Millisecond, PerGFLOP: 2 * time.Second}
	e, err := Estimate(cfg, net, timing)
	if err != nil || e.Bytes <= 0 || e.FLOPs <= 0 || !e.Fits() || e.Err() != nil || e.Largest != 64 || e.H != 64 || e.W != 64 {
		t.Fatalf("Estimate: %+v, %v", e, err)
	}
	if want := 10*time.Millisecond + time.Duration(float64(e.FLOPs)*2); e.Step != want {
		t.Errorf("step %v, want Fixed + FLOPs·PerGFLOP = %v", e.Step, want)
	}
	if e0, _ := Estimate(cfg, net, Timing{}); e0.Step != 0 {
		t.Errorf("a step without a measured timing: %v, want 0 (unknown)", e0.Step)
	}
	big := cfg
	big.Size = 128
	e2, _ := Estimate(big, net, timing)
	if !(e2.Bytes > 3*e.Bytes) || !(e2.FLOPs > 3*e.FLOPs) {
		t.Errorf("128 pixels need %d bytes and %d operations, 64 pixels %d and %d: want about 4 times", e2.Bytes, e2.FLOPs, e.Bytes, e.FLOPs)
	}
	cfg.Size = 0
	var fe *FieldError
	if _, err := Estimate(cfg, net, timing); !errors.As(err, &fe) || fe.Key != "size" {
		t.Errorf("Estimate of size 0: %v", err)
	}
	// A budget a quarter of what 128 pixels need: refused, with a smaller size that fits, and
	// Estimate and Check refuse in the same words.
	big.MemoryMiB = max(1, int(e.Bytes>>20))
	eb, err := Estimate(big, net, timing)
	if err != nil || eb.Fits() || eb.Largest <= 16 || eb.Largest >= 128 {
		t.Fatalf("over budget: %+v, %v", eb, err)
	}
	fit := big
	fit.Size = eb.Largest
	if ef, _ := Estimate(fit, net, timing); !ef.Fits() {
		t.Errorf("the largest size that fits, %d, needs %d bytes of %d", eb.Largest, ef.Bytes, ef.Budget)
	}
	fit.Size = eb.Largest * 11 / 10
	if ef, _ := Estimate(fit, net, timing); ef.Fits() {
		t.Errorf("%d fits as well as %d: the largest is not the largest", fit.Size, eb.Largest)
	}
	err = Check(big, net, pattern(128, 128, 1), []*Image{stripes(128, 128)})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("size = %d", eb.Largest)) || !strings.Contains(err.Error(), "128x128") ||
		err.Error() != eb.Err().Error() {
		t.Errorf("over budget: Check says %v, Estimate %v", err, eb.Err())
	}
}

// TestFitTiming checks the fit of the time of a step against two steps made up from a known
// model, and the fallback for a pair that no model with positive parts fits.
func TestFitTiming(t *testing.T) {
	model := func(f int64) time.Duration { return 50*time.Millisecond + time.Duration(f)/4 } // 0.25 ns an operation
	flops := [2]int64{1e9, 4e9}
	fixed, per := fitTiming(flops, [2]time.Duration{model(flops[0]), model(flops[1])})
	if d := fixed - 50*time.Millisecond; d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("fixed %v, want 50ms", fixed)
	}
	if d := per - 250*time.Millisecond; d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("per GFLOP %v, want 250ms", per)
	}
	// The larger step faster than the smaller: no positive slope; the larger one's rate.
	fixed, per = fitTiming(flops, [2]time.Duration{2 * time.Second, time.Second})
	if fixed != 0 || per != 250*time.Millisecond {
		t.Errorf("noisy pair: fixed %v, per GFLOP %v; want 0 and 250ms", fixed, per)
	}
}

// TestMeasureTiming times the fake network: the timing is positive, predicts the steps it was
// fitted to, and grows with the operations.
func TestMeasureTiming(t *testing.T) {
	cfg := fakeConfig()
	tm, err := MeasureTiming(context.Background(), cfg, newFakeNet(tensor.Float32))
	if err != nil {
		t.Fatal(err)
	}
	if tm.PerGFLOP <= 0 || tm.Fixed < 0 || tm.Times[0] <= 0 || tm.Times[1] <= 0 || tm.Sides != [2]int{TimingSmall, TimingLarge} {
		t.Fatalf("timing %+v", tm)
	}
	small, big := cfg, cfg
	small.Size, big.Size = TimingSmall, TimingLarge
	es, _ := Estimate(small, newFakeNet(tensor.Float32), tm)
	eb, _ := Estimate(big, newFakeNet(tensor.Float32), tm)
	if !(eb.Step > es.Step) {
		t.Errorf("step at %d: %v, at %d: %v", big.Size, eb.Step, small.Size, es.Step)
	}
	// The fit goes through the larger step (exactly, or as its rate alone).
	if d := eb.Step - tm.Times[1]; d < -tm.Times[1]/100 || d > tm.Times[1]/100 {
		t.Errorf("predicted %v at %d pixels, timed %v", eb.Step, big.Size, tm.Times[1])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := MeasureTiming(ctx, cfg, newFakeNet(tensor.Float32)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	cfg.StyleLayers = map[string]float64{"relu9": 1}
	if _, err := MeasureTiming(context.Background(), cfg, newFakeNet(tensor.Float32)); err == nil || !strings.Contains(err.Error(), "relu9") {
		t.Errorf("an unknown layer: %v", err)
	}
}

func TestNaNLossEndsTheRun(t *testing.T) {
	content := pattern(12, 12, 1)
	content.Pix[5] = float32(math.NaN())
	cfg := fakeConfig()
	_, err := Run(context.Background(), cfg, newFakeNet(tensor.Float32), content, []*Image{stripes(12, 12)}, nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "NaN") || !strings.Contains(err.Error(), "step 1") {
		t.Errorf("got %v, want an error about a NaN loss at step 1", err)
	}
}

func TestCancelAndGate(t *testing.T) {
	cfg := fakeConfig()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	gate := func(context.Context) error {
		if calls++; calls == 3 {
			cancel()
		}
		return nil
	}
	_, err := Run(ctx, cfg, newFakeNet(tensor.Float32), pattern(12, 12, 1), []*Image{stripes(12, 12)}, gate, nil, make(chan Event, 64))
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Errorf("got %v after %d gates, want context.Canceled after 3", err, calls)
	}
	stop := errors.New("stop")
	_, err = Run(context.Background(), cfg, newFakeNet(tensor.Float32), pattern(12, 12, 1), []*Image{stripes(12, 12)},
		func(context.Context) error { return stop }, nil, nil)
	if !errors.Is(err, stop) {
		t.Errorf("a gate's error: got %v", err)
	}
}
