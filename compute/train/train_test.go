package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"convas/compute/data"
)

// patterns makes n 28x28 pictures of `classes` kinds: class k is a bright horizontal bar at row
// 2+2k with noise, so a network can learn them in a few dozen steps.
func patterns(n, classes int, seed uint64) *data.Set {
	r := rand.New(rand.NewPCG(seed, 7))
	s := &data.Set{N: n, C: 1, H: 28, W: 28, Classes: classes, Pixels: make([]float32, n*784), Labels: make([]uint8, n)}
	for i := 0; i < n; i++ {
		k := r.IntN(classes)
		s.Labels[i] = uint8(k)
		img := s.Image(i)
		for j := range img {
			img[j] = 0.2 * r.Float32()
		}
		row := 2 + 2*k
		for x := 4; x < 24; x++ {
			img[row*28+x] = 1
			img[(row+1)*28+x] = 1
		}
	}
	return s
}

func smallConfig() Config {
	c := DefaultConfig()
	c.BatchSize, c.EvaluationSize, c.Generations, c.EvalEvery = 20, 40, 40, 10
	c.Conv1Features, c.Conv2Features, c.FullyConnectedSize1 = 4, 8, 16
	c.LearningRate = 0.05
	return c
}

func run(t *testing.T, cfg Config, d Data) (*State, []float64, Done) {
	t.Helper()
	st, err := NewState(cfg, 28, 28, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan Event, 1000)
	if err := Run(context.Background(), st, d, nil, events); err != nil {
		t.Fatal(err)
	}
	close(events)
	var losses []float64
	var done Done
	for e := range events {
		switch e := e.(type) {
		case Step:
			losses = append(losses, e.Loss)
		case Done:
			done = e
		}
	}
	return st, losses, done
}

func TestLossFallsAndLearns(t *testing.T) {
	d := Data{Train: patterns(400, 10, 1), Test: patterns(100, 10, 2)}
	st, losses, done := run(t, smallConfig(), d)
	first := (losses[0] + losses[1] + losses[2]) / 3
	n := len(losses)
	last := (losses[n-1] + losses[n-2] + losses[n-3]) / 3
	if !(last < 0.5*first) {
		t.Errorf("loss went from %.3f to %.3f; want it at least halved", first, last)
	}
	if done.Total != 100 || done.TestAcc < 80 {
		t.Errorf("final test accuracy %.1f%% on %d pictures; want 80%% or more on 100", done.TestAcc, done.Total)
	}
	if len(st.History) != 4 || st.History[3].Gen != 40 {
		t.Errorf("history %+v", st.History)
	}
	// The first loss of an untrained 10-way classifier is near ln(10).
	if math.Abs(losses[0]-math.Log(10)) > 0.5 {
		t.Errorf("first loss %.3f, want near ln 10 = 2.303", losses[0])
	}
}

func TestSameSeedSameCurve(t *testing.T) {
	d := Data{Train: patterns(200, 10, 1), Test: patterns(50, 10, 2)}
	cfg := smallConfig()
	cfg.Generations = 12
	_, a, _ := run(t, cfg, d)
	_, b, _ := run(t, cfg, d)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("step %d: %v then %v with the same seed", i, a[i], b[i])
		}
	}
	cfg.Seed++
	_, c, _ := run(t, cfg, d)
	if c[0] == a[0] && c[1] == a[1] {
		t.Error("another seed gave the same curve")
	}
}

func TestDivergenceIsAnError(t *testing.T) {
	// A weight that overflowed in an earlier step makes every logit infinite.
	cfg := smallConfig()
	d := Data{Train: patterns(200, 10, 1), Test: patterns(50, 10, 2)}
	st, _ := NewState(cfg, 28, 28, 1, 10)
	st.Net.Parameters()[7].Data[3] = float32(math.Inf(1))
	events := make(chan Event, 1000)
	err := Run(context.Background(), st, d, nil, events)
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("got %v, want ErrDiverged", err)
	}
}

func TestCancelStopsBetweenSteps(t *testing.T) {
	cfg := smallConfig()
	d := Data{Train: patterns(200, 10, 1), Test: patterns(50, 10, 2)}
	st, _ := NewState(cfg, 28, 28, 1, 10)
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 1000)
	calls := 0
	gate := func(ctx context.Context) error {
		calls++
		if calls == 4 {
			cancel()
		}
		return ctx.Err()
	}
	if err := Run(ctx, st, d, gate, events); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if st.Gen != 3 {
		t.Errorf("stopped at generation %d, want 3", st.Gen)
	}
}

// TestNetworkGradient compares the gradient of the loss with respect to every weight tensor, along
// a random direction, with a central difference of the loss (float32, so the tolerance is loose).
func TestNetworkGradient(t *testing.T) {
	cfg := smallConfig()
	cfg.BatchSize = 4
	// A central difference in float32 across ReLU and max-pool kinks is only trustworthy where
	// no kink lies within the step; this seed's weights were checked to have none. The exact
	// checks are compute/nn's float64 gradient checks of every op.
	cfg.Seed = 42
	st, _ := NewState(cfg, 28, 28, 1, 10)
	d := patterns(8, 10, 3)
	tr, err := newTrainer(st.Net, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2, 3}
	loss := func() float64 {
		fill(tr.xData, tr.yData, d, idx, 10)
		l, _, err := tr.step()
		if err != nil {
			t.Fatal(err)
		}
		tr.reset()
		return l
	}
	r := rand.New(rand.NewPCG(5, 6))
	for pi, p := range st.Net.Parameters() {
		fill(tr.xData, tr.yData, d, idx, 10)
		_, grads, err := tr.step()
		if err != nil {
			t.Fatal(err)
		}
		g := append([]float32(nil), grads[pi]...)
		tr.reset()
		dir := make([]float32, len(p.Data))
		var analytic float64
		for i := range dir {
			dir[i] = float32(r.NormFloat64())
			analytic += float64(dir[i]) * float64(g[i])
		}
		const eps = 1e-4
		orig := append([]float32(nil), p.Data...)
		for i := range p.Data {
			p.Data[i] = orig[i] + eps*dir[i]
		}
		plus := loss()
		for i := range p.Data {
			p.Data[i] = orig[i] - eps*dir[i]
		}
		minus := loss()
		copy(p.Data, orig)
		numeric := (plus - minus) / (2 * eps)
		if math.Abs(numeric-analytic) > 0.02*math.Abs(analytic)+2e-3 {
			t.Errorf("%s: analytic directional derivative %.5f, numeric %.5f", p.Name, analytic, numeric)
		}
	}
}

func TestValidate(t *testing.T) {
	if errs := DefaultConfig().Validate(); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	c := DefaultConfig()
	c.BatchSize = -5
	c.Optimizer = "sgdx"
	errs := c.Validate()
	if len(errs) != 2 || errs[0].Key != "batch_size" || errs[1].Key != "optimizer" {
		t.Errorf("got %v", errs)
	}
}
