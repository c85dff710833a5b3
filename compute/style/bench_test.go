package style

import (
	"runtime"
	"strconv"
	"testing"

	"convas/compute/device/devicetest"
	"convas/compute/models"
)

// BenchmarkStyleIteration times one step of the recipe (Adam, the recipe's layers and weights)
// on a square picture with VGG19's shapes up to relu5_1 and random weights: the loss, its
// gradient with respect to the picture and the update. It reports the operations per second the
// step reached (graphCost's count) and the heap's peak during the steps next to Estimate's figure.
// With -device cuda the network runs on the GPU (compute/device/devicetest) and the benchmark
// reports what each step moves to and from it.
func BenchmarkStyleIteration(b *testing.B) {
	net := VGG{models.NewVGG19Random(1)}
	for _, side := range []int{256, 512} {
		b.Run(strconv.Itoa(side), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Accel = devicetest.Accel(b)
			l := &level{content: pattern(side, side, 1), styles: []*Image{stripes(side, side)}, weights: []float64{1}}
			p, err := newProblem(net, cfg, l)
			if err != nil {
				b.Fatal(err)
			}
			defer p.close()
			img := l.content.Clone()
			opt := newOptimizer(cfg, len(img.Pix))
			w := WeightsOf(cfg)
			var ms runtime.MemStats
			var peak uint64
			// One iteration before the timed ones: the first creates oneDNN's primitives and the
			// Winograd kernels' buffers and transformed weights, which later ones reuse.
			if _, err := opt.step(p, img, w); err != nil {
				b.Fatal(err)
			}
			before := p.place.Stats()
			for b.Loop() {
				if _, err := opt.step(p, img, w); err != nil {
					b.Fatal(err)
				}
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
			b.ReportMetric(float64(p.flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(p.bytes)/(1<<20), "estimated-MiB")
			devicetest.Report(b, before, p.place.Stats(), b.N)
		})
	}
}
