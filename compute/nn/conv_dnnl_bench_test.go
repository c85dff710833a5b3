package nn

import (
	"math"
	"strings"
	"testing"
	"time"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// reportConv reports GFLOP/s over all iterations and, for machines shared with other work, the
// fastest single iteration (best-ms, best-GFLOP/s) and the CPU time of all the process's
// threads per iteration (cpu-ms/op; 0 where not measured), which counts work, not waiting.
func reportConv(b *testing.B, flops float64, best, cpu time.Duration) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(best.Microseconds())/1e3, "best-ms")
	b.ReportMetric(flops/best.Seconds()/1e9, "best-GFLOP/s")
}

// BenchmarkConv2DBackends times the three float32 passes of the convolution ops on this build's
// backend (convBackend: oneDNN in the default build) and, in the same run, the im2col+GEMM
// kernels they replace ("gemm", with this build's BLAS), for the MNIST recipe's two layers at
// batch 100, the CIFAR-10 recipe's first layer at batch 128, three VGG-sized 3x3 layers at
// batch 1 and two of GoogLeNet's at 512x512 (its 7x7 first layer at stride 2 and a 1x1 layer).
// GFLOP/s counts a multiply-add as 2 FLOPs (2·N·O·C·KH·KW·OH·OW per pass); best-ms is the
// fastest iteration, the figure least disturbed by other processes on a shared machine.
// ConvWinograd runs as a third backend where a Winograd kernel takes the shape (oneDNN's, or
// compute/wino's).
func BenchmarkConv2DBackends(b *testing.B) {
	layers := []struct {
		name       string
		n, c, h, w int
		o, k, s    int
	}{
		{"mnist1_100x1x28x28_25x4x4", 100, 1, 28, 28, 25, 4, 1},
		{"mnist2_100x25x14x14_50x4x4", 100, 25, 14, 14, 50, 4, 1},
		{"cifar1_128x3x24x24_64x5x5", 128, 3, 24, 24, 64, 5, 1},
		{"vgg_1x64x224x224_64x3x3", 1, 64, 224, 224, 64, 3, 1},
		{"vgg_1x256x56x56_256x3x3", 1, 256, 56, 56, 256, 3, 1},
		{"vgg_1x512x28x28_512x3x3", 1, 512, 28, 28, 512, 3, 1},
		{"googlenet0_1x3x512x512_64x7x7s2", 1, 3, 512, 512, 64, 7, 2},
		{"googlenet1x1_1x480x64x64_192x1x1", 1, 480, 64, 64, 192, 1, 1},
	}
	for _, l := range layers {
		r := newRand(61)
		data := func(shape ...int) []float32 {
			return toDtype(tensor.Float32, randData(r, tensor.Shape(shape).TotalSize())).([]float32)
		}
		pad := Same(l.h, l.w, l.k, l.k, l.s, l.s)
		xs, ws := tensor.Shape{l.n, l.c, l.h, l.w}, tensor.Shape{l.o, l.c, l.k, l.k}
		g, err := newConvGeom(xs, ws, pad, l.s, l.s)
		if err != nil {
			b.Fatal(err)
		}
		xd, wd, dyd := data(xs...), data(ws...), data(g.outShape()...)
		dense := func(d []float32, s tensor.Shape) *tensor.Dense {
			return tensor.New(tensor.WithShape(s...), tensor.WithBacking(d))
		}
		x, w, dy := dense(xd, xs), dense(wd, ws), dense(dyd, g.outShape())
		flops := 2 * float64(g.n*g.o*g.k()*g.p())
		algos := []ConvAlgorithm{ConvDirect}
		if convBackend == "onednn" && strings.Contains(convImpl(ConvWinograd, passForward, &g), "wino") {
			algos = append(algos, ConvWinograd)
		}
		for _, pass := range []convPass{passForward, passBackData, passBackFilter} {
			for _, algo := range algos {
				cp := convParams{pad: pad, sh: l.s, sw: l.s, algo: algo}
				var op gorgonia.Op
				inputs := []gorgonia.Value{x, w, dy}
				switch pass {
				case passForward:
					op, inputs = &conv2DOp{convParams: cp}, inputs[:2]
				case passBackData:
					op = &conv2DBackDataOp{convParams: cp}
				case passBackFilter:
					op = &conv2DBackFilterOp{convParams: cp}
				}
				backend := convBackend
				if algo == ConvWinograd {
					backend += "-winograd"
				}
				b.Run(l.name+"/"+pass.String()+"/"+backend, func(b *testing.B) {
					b.Logf("%s", convImpl(algo, pass, &g))
					b.ReportAllocs()
					best, cpu0 := time.Duration(math.MaxInt64), processCPU()
					for b.Loop() {
						t0 := time.Now()
						if _, err := op.Do(inputs...); err != nil {
							b.Fatal(err)
						}
						best = min(best, time.Since(t0))
					}
					reportConv(b, flops, best, processCPU()-cpu0)
				})
			}
			if convBackend == "gemm" {
				continue // the op above already ran the GEMM kernels
			}
			b.Run(l.name+"/"+pass.String()+"/gemm-"+blasName, func(b *testing.B) {
				dx, dw, y := make([]float32, len(xd)), make([]float32, len(wd)), make([]float32, len(dyd))
				args := map[convPass][3][]float32{
					passForward:    {xd, wd, y},
					passBackData:   {dx, wd, dyd},
					passBackFilter: {xd, dw, dyd},
				}[pass]
				b.ReportAllocs()
				best, cpu0 := time.Duration(math.MaxInt64), processCPU()
				for b.Loop() {
					t0 := time.Now()
					convGEMM(pass, &g, args[0], args[1], args[2])
					best = min(best, time.Since(t0))
				}
				reportConv(b, flops, best, processCPU()-cpu0)
			})
		}
	}
}
