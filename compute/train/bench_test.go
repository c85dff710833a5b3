package train

import (
	"context"
	"testing"

	"convas/compute/device/devicetest"
	"convas/compute/optim"
)

// mnistStepFLOPs counts one training step of the recipe network at batch n, 2 FLOPs per
// multiply-add: the forward pass, the gradient to every weight, and the gradient to the input of
// every layer but the first.
func mnistStepFLOPs(n int) float64 {
	conv1 := 2.0 * float64(n) * 25 * 28 * 28 * (1 * 4 * 4)
	conv2 := 2.0 * float64(n) * 50 * 14 * 14 * (25 * 4 * 4)
	fc1 := 2.0 * float64(n) * (7 * 7 * 50) * 100
	fc2 := 2.0 * float64(n) * 100 * 10
	fwd := conv1 + conv2 + fc1 + fc2
	return fwd + fwd + (fwd - conv1)
}

// BenchmarkMNISTStep is one training step of the recipe's network at batch 100: forward, loss,
// gradients and the momentum update. With -device cuda the network's convolutions, pooling and
// their gradients run on the GPU (compute/device/devicetest).
func BenchmarkMNISTStep(b *testing.B) {
	cfg := DefaultConfig()
	st, err := NewState(cfg, 28, 28, 1, 10)
	if err != nil {
		b.Fatal(err)
	}
	d := patterns(1000, 10, 1)
	tr, err := newTrainer(st.Net, cfg.BatchSize, devicetest.Accel(b))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.place.Close()
	idx := make([]int, cfg.BatchSize)
	for i := range idx {
		idx[i] = i
	}
	params := make([]optim.Param, len(st.Net.Parameters()))
	for i, p := range st.Net.Parameters() {
		params[i] = optim.Param{Name: p.Name, Value: p.Data}
	}
	// One step before the timed ones: the first creates oneDNN's primitives and the buffers
	// later steps reuse.
	if _, _, err := tr.step(); err != nil {
		b.Fatal(err)
	}
	tr.reset()
	before := tr.place.Stats()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fill(tr.xData, tr.yData, d, idx, 10)
		_, grads, err := tr.step()
		if err != nil {
			b.Fatal(err)
		}
		for j := range params {
			params[j].Grad = grads[j]
		}
		if err := st.Solver.Step(params, 0.005); err != nil {
			b.Fatal(err)
		}
		tr.reset()
	}
	b.ReportMetric(mnistStepFLOPs(cfg.BatchSize)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	devicetest.Report(b, before, tr.place.Stats(), b.N)
}

// BenchmarkMNISTRecipe is the MNIST recipe's whole run through Run: 500 steps at batch 100 with
// an evaluation of 500 test pictures every 5 steps, on data of MNIST's shape (synthetic: the
// compute is the same). Issue 8's target on an H100 is 5 s; run it with -device cuda
// -benchtime 1x.
func BenchmarkMNISTRecipe(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Accel = devicetest.Accel(b)
	before := devicetest.Moved(cfg.Accel)
	d := Data{Train: patterns(2000, 10, 1), Test: patterns(1000, 10, 2)}
	for b.Loop() {
		st, err := NewState(cfg, 28, 28, 1, 10)
		if err != nil {
			b.Fatal(err)
		}
		events := make(chan Event, 1)
		go func() {
			for range events {
			}
		}()
		err = Run(context.Background(), st, d, nil, events)
		close(events)
		if err != nil {
			b.Fatal(err)
		}
	}
	devicetest.ReportMoved(b, cfg.Accel, before, b.N)
}
