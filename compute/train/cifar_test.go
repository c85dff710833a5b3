package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"convas/compute/data"
	"convas/compute/models"
	"convas/compute/optim"
)

// cifarPatterns makes n 3x32x32 byte pictures of three classes: noise with a bright square in
// the red, green or blue channel at a random place.
func cifarPatterns(n int, seed uint64) *data.ByteSet {
	r := rand.New(rand.NewPCG(seed, 11))
	s := &data.ByteSet{N: n, C: 3, H: 32, W: 32, Classes: 10, Pixels: make([]uint8, n*3072), Labels: make([]uint8, n)}
	for i := range n {
		k := r.IntN(3)
		s.Labels[i] = uint8(k)
		img := s.Image(i)
		for j := range img {
			img[j] = uint8(r.IntN(80))
		}
		y0, x0 := r.IntN(20), r.IntN(20)
		for y := y0; y < y0+12; y++ {
			for x := x0; x < x0+12; x++ {
				img[k*1024+y*32+x] = 255
			}
		}
	}
	return s
}

func smallCIFAR() Config {
	c := CIFARConfig()
	c.BatchSize, c.EvaluationSize, c.Generations, c.EvalEvery, c.LogEvery = 8, 16, 6, 3, 2
	c.Conv1Features, c.Conv2Features, c.FullyConnectedSize1, c.FullyConnectedSize2 = 8, 8, 16, 8
	return c
}

func cifarData() Data {
	return Data{RawTrain: cifarPatterns(60, 1), RawTest: cifarPatterns(20, 2)}
}

// runAll runs st and returns the Step losses and the other events.
func runAll(t *testing.T, st *State, d Data) ([]float64, []Event) {
	t.Helper()
	events := make(chan Event, 1000)
	if err := Run(context.Background(), st, d, nil, events); err != nil {
		t.Fatal(err)
	}
	close(events)
	var losses []float64
	var other []Event
	for e := range events {
		if s, ok := e.(Step); ok {
			losses = append(losses, s.Loss)
		} else {
			other = append(other, e)
		}
	}
	return losses, other
}

func TestCIFARRunEvents(t *testing.T) {
	cfg := smallCIFAR()
	st, err := NewState(cfg, 32, 32, 3, 10)
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := st.Net.InputShape(); c != 3 || h != 24 || w != 24 {
		t.Fatalf("network takes %dx%dx%d, want the 3x24x24 crop", c, h, w)
	}
	losses, other := runAll(t, st, cifarData())
	if len(losses) != 6 {
		t.Errorf("%d steps", len(losses))
	}
	// Loss lines at 2, 4, 6; evaluations at 3 and 6; then Done on all 20 test pictures.
	var kinds string
	for _, e := range other {
		switch e := e.(type) {
		case Log:
			kinds += "L"
		case Eval:
			kinds += "E"
			if len(e.Samples) != 6 || e.Samples[0].C != 3 || e.Samples[0].H != 24 || len(e.Samples[0].Pixels) != 3*24*24 {
				t.Errorf("samples %d", len(e.Samples))
			}
			for _, v := range e.Samples[0].Pixels {
				if v < 0 || v > 1 {
					t.Fatalf("sample value %v outside [0, 1]", v)
				}
			}
		case Done:
			kinds += "D"
			if e.Total != 20 || e.Gen != 6 {
				t.Errorf("done %+v", e)
			}
		}
	}
	if kinds != "LELLED" {
		t.Errorf("events %s, want LELLED", kinds)
	}
	if len(st.Losses) != 3 || st.Losses[2].Gen != 6 || len(st.History) != 2 {
		t.Errorf("losses %+v history %d", st.Losses, len(st.History))
	}
	// Generation 0's rate is the recipe's 0.1; the staircase is tested in TestStaircase.
	if st.Losses[0].LR != 0.1 {
		t.Errorf("rate %v", st.Losses[0].LR)
	}
}

// TestCIFARResume checks that a run stopped at generation 3 and resumed gives the losses of an
// uninterrupted run: the pipeline skips what was consumed, the random state goes on.
func TestCIFARResume(t *testing.T) {
	d := cifarData()
	cfg := smallCIFAR()
	a, _ := NewState(cfg, 32, 32, 3, 10)
	want, _ := runAll(t, a, d)
	again, _ := NewState(cfg, 32, 32, 3, 10)
	same, _ := runAll(t, again, d)
	for i := range want {
		if want[i] != same[i] {
			t.Fatalf("step %d: %v then %v with the same seed", i+1, want[i], same[i])
		}
	}
	cfg.Generations = 3
	b, _ := NewState(cfg, 32, 32, 3, 10)
	first, _ := runAll(t, b, d)
	b.Config.Generations = 6
	rest, _ := runAll(t, b, d)
	got := append(first, rest...)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("step %d: %v resumed, %v uninterrupted", i+1, got[i], want[i])
		}
	}
}

func TestCIFARNeedsCIFARData(t *testing.T) {
	st, _ := NewState(smallCIFAR(), 32, 32, 3, 10)
	err := Run(context.Background(), st, Data{Train: patterns(10, 10, 1), Test: patterns(10, 10, 2)}, nil, make(chan Event, 100))
	if err == nil {
		t.Fatal("trained the CIFAR-10 network on MNIST-shaped data")
	}
	if _, err := NewState(smallCIFAR(), 20, 20, 3, 10); err == nil {
		t.Error("accepted 20x20 pictures for a 24x24 crop")
	}
}

func TestStaircase(t *testing.T) {
	c := CIFARConfig()
	for _, tc := range []struct {
		gen  int
		want float64
	}{{0, 0.1}, {249, 0.1}, {250, 0.09}, {499, 0.09}, {500, 0.081}, {19999, 0.1 * math.Pow(0.9, 79)}} {
		if got := c.LearningRateAt(tc.gen); got < tc.want*(1-1e-9) || got > tc.want*(1+1e-9) {
			t.Errorf("generation %d: rate %v, want %v", tc.gen, got, tc.want)
		}
	}
}

func TestSGD(t *testing.T) {
	p := []optim.Param{{Name: "w", Value: []float32{1, 2}, Grad: []float32{0.5, -1}}}
	if err := (SGD{}).Step(p, 0.1); err != nil {
		t.Fatal(err)
	}
	if p[0].Value[0] != 0.95 || p[0].Value[1] != 2.1 {
		t.Errorf("%v, want [0.95 2.1]", p[0].Value)
	}
	if (SGD{}).SetState(map[string][]float32{"w/accum": {1}}) == nil {
		t.Error("plain SGD accepted a momentum accumulator")
	}
}

// BenchmarkCIFARStep is one training step of the CIFAR-10 recipe's network at batch 128:
// forward, loss, gradients and the SGD update (the pipeline runs on its own goroutine and is
// not timed).
func BenchmarkCIFARStep(b *testing.B) {
	cfg := CIFARConfig()
	st, err := NewState(cfg, 32, 32, 3, 10)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := newTrainer(st.Net, cfg.BatchSize, nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := data.NewPipeline(cifarPatterns(256, 1), data.CIFARPipeline(cfg.BatchSize, 1))
	if err != nil {
		b.Fatal(err)
	}
	batch := p.Next()
	copy(tr.xData, batch.Pixels)
	for i, l := range batch.Labels {
		tr.yData[i*10+int(l)] = 1
	}
	params := make([]optim.Param, len(st.Net.Parameters()))
	for i, q := range st.Net.Parameters() {
		params[i] = optim.Param{Name: q.Name, Value: q.Data}
	}
	// One step before the timed ones: the first creates oneDNN's primitives and the buffers
	// later steps reuse.
	if _, _, err := tr.step(); err != nil {
		b.Fatal(err)
	}
	tr.reset()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, grads, err := tr.step()
		if err != nil {
			b.Fatal(err)
		}
		for j := range params {
			params[j].Grad = grads[j]
		}
		if err := st.Solver.Step(params, 0.1); err != nil {
			b.Fatal(err)
		}
		tr.reset()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1e3, "ms/op")
	b.ReportMetric(models.CIFAR10Recipe().StepFLOPs(cfg.BatchSize)/sec/1e9, "GFLOP/s")
}
