package transfer

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"

	"convas/compute/device/devicetest"
	"convas/compute/models"
	"convas/compute/optim"
)

// BenchmarkExtract runs batches of DefaultBatch pictures (already resized) through each
// backbone at its own input size and reports pictures per second. GoogLeNet and VGG19 have
// random weights of the real shapes (the time does not depend on the values). With -device
// cuda the backbones run on the GPU (compute/device/devicetest).
func BenchmarkExtract(b *testing.B) {
	for _, c := range []struct {
		name string
		bb   func(testing.TB) Backbone
	}{
		{"trunk-299", func(tb testing.TB) Backbone { return Trunk{M: loadTrunk(tb)} }},
		{"googlenet-224", func(testing.TB) Backbone { return GoogLeNet{M: models.NewGoogLeNetRandom(1)} }},
		{"vgg19-224", func(testing.TB) Backbone { return VGG19{M: models.NewVGG19Random(1)} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			bb := c.bb(b)
			ex, err := NewExtractorOn(bb, DefaultBatch, devicetest.Accel(b))
			if err != nil {
				b.Fatal(err)
			}
			defer ex.Close()
			pics := make([]*image.NRGBA, DefaultBatch)
			for i := range pics {
				pics[i] = Resize(noise(bb.Size(), bb.Size(), uint64(i)), bb.Size())
			}
			if _, err := ex.Features(pics); err != nil { // warm the primitive caches
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := ex.Features(pics); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*DefaultBatch)/b.Elapsed().Seconds(), "pictures/s")
		})
	}
}

// BenchmarkHeadStep times training steps of retrain.py's shape (batch 100) on bottlenecks of
// each backbone's width, with and without a hidden layer of 1,024 units, and reports steps per
// second.
func BenchmarkHeadStep(b *testing.B) {
	for _, c := range []struct{ dim, hidden int }{{768, 0}, {768, 1024}, {1024, 0}, {2048, 0}} {
		b.Run(fmt.Sprintf("features-%d/hidden-%d", c.dim, c.hidden), func(b *testing.B) {
			const classes, pictures = 5, 500
			rng := rand.New(rand.NewPCG(1, 1))
			d := &DataSet{Classes: make([]string, classes)}
			bn := &Bottlenecks{}
			for i := 0; i < pictures; i++ {
				f := make([]float32, c.dim)
				for j := range f {
					f[j] = float32(rng.Float64())
				}
				d.Pictures = append(d.Pictures, Picture{Class: i % classes})
				bn.Features = append(bn.Features, f)
			}
			cfg := DefaultConfig()
			cfg.Hidden, cfg.Steps, cfg.EvalEvery = c.hidden, 100, 1000
			b.ResetTimer()
			for b.Loop() {
				if _, err := Train(context.Background(), cfg, d, bn, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*cfg.Steps)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

// BenchmarkFineTuneStep times one fine-tuning step on the embedded trunk at 299x299: a batch of
// mixed4 maps through mixed5, the pooling and a 5-class head, forward and backward, and the two
// solvers' updates; it reports seconds per step.
func BenchmarkFineTuneStep(b *testing.B) {
	for _, batch := range []int{8, 100} {
		b.Run(fmt.Sprintf("batch-%d", batch), func(b *testing.B) {
			m := loadTrunk(b).Clone()
			rng := rand.New(rand.NewPCG(1, 1))
			h, err := NewHead(768, 0, 5, rng)
			if err != nil {
				b.Fatal(err)
			}
			tn, err := newTuner(m, TrunkSize, h, batch, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tn.close()
			x := make([]float32, batch*tn.per)
			for i := range x {
				x[i] = rng.Float32()
			}
			labels := make([]int, batch)
			for i := range labels {
				labels[i] = i % 5
			}
			block, head := optim.NewMomentum(0), optim.NewMomentum(0)
			step := func() {
				if _, _, err := tn.step(x, labels); err != nil {
					b.Fatal(err)
				}
				if err := block.Step(tn.ps[:tn.nBlock], 0.001); err != nil {
					b.Fatal(err)
				}
				if err := head.Step(tn.ps[tn.nBlock:], 0.01); err != nil {
					b.Fatal(err)
				}
			}
			step() // warm the primitive caches
			b.ResetTimer()
			for b.Loop() {
				step()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/step")
		})
	}
}
