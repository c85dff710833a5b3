package nn

import (
	"math"
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// BenchmarkMaxPool2D times the float32 max-pooling kernels, forward and backward, on the MNIST
// recipe's two pools at batch 100 (2x2 at stride 2), a VGG19 pool at 512 and GoogLeNet's 3x3
// pool at stride 2 and at stride 1. "forward-mask" and "backward-mask" are the pair the op runs
// when it keeps the argmax for its backward pass (training, input gradients). best-ms is the fastest iteration and cpu-ms/op the CPU time of the
// process per iteration, the figures least disturbed by other work on a shared machine.
func BenchmarkMaxPool2D(b *testing.B) {
	cases := []struct {
		name       string
		n, c, h, w int
		k, s       int
	}{
		{"mnist1_100x25x28x28_2x2s2", 100, 25, 28, 28, 2, 2},
		{"mnist2_100x50x14x14_2x2s2", 100, 50, 14, 14, 2, 2},
		{"vgg_1x64x512x512_2x2s2", 1, 64, 512, 512, 2, 2},
		{"googlenet_1x192x128x128_3x3s2", 1, 192, 128, 128, 3, 2},
		{"googlenet_1x256x64x64_3x3s1", 1, 256, 64, 64, 3, 1},
	}
	for _, c := range cases {
		g, err := poolParams{kh: c.k, kw: c.k, sh: c.s, sw: c.s, pad: Same(c.h, c.w, c.k, c.k, c.s, c.s)}.geom(tensor.Shape{c.n, c.c, c.h, c.w})
		if err != nil {
			b.Fatal(err)
		}
		r := newRand(3)
		x := toDtype(tensor.Float32, randData(r, c.n*c.c*c.h*c.w)).([]float32)
		dy := toDtype(tensor.Float32, randData(r, c.n*c.c*g.oh*g.ow)).([]float32)
		y, dx := make([]float32, len(dy)), make([]float32, len(x))
		mask := make([]int32, len(dy))
		var scratch []int32
		for _, pass := range []string{"forward", "backward", "forward-mask", "backward-mask"} {
			b.Run(c.name+"/"+pass, func(b *testing.B) {
				best, cpu0 := time.Duration(math.MaxInt64), processCPU()
				for b.Loop() {
					t0 := time.Now()
					switch pass {
					case "forward":
						maxPoolForward(&g, x, y, &scratch)
					case "backward":
						maxPoolBackward(&g, x, dy, dx)
					case "forward-mask":
						maxPoolForwardMask(&g, x, y, mask, &scratch)
					case "backward-mask":
						maxPoolRoute(&g, mask, dy, dx)
					}
					best = min(best, time.Since(t0))
				}
				b.ReportMetric(float64(best.Microseconds())/1e3, "best-ms")
				b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
			})
		}
	}
}
