//go:build convas_cuda && cgo

package gpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"convas/compute/gpu"
)

// Benchmarks on the GPU: ms per call and GFLOP/s, each iteration ending in Sync so that the
// time is the device's. Transfers are not timed except in BenchmarkTransfer.

func benchDevice(b *testing.B, tf32 bool) *gpu.Device {
	return device(b, gpu.Options{TF32: tf32})
}

func mustAlloc(b *testing.B, d *gpu.Device, data []float32) *gpu.Buffer {
	buf, err := d.AllocFrom(data)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Free(buf) })
	return buf
}

func report(b *testing.B, flops float64) {
	s := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(s*1e3, "ms/op")
	b.ReportMetric(flops/s/1e9, "GFLOP/s")
}

// BenchmarkConv: VGG19's 3x3 layers at a 512x512 input (conv1_2, conv3_1, conv5_1 sizes), each
// pass, in float32 and TF32.
func BenchmarkConv(b *testing.B) {
	layers := []struct {
		name       string
		c, o, h, w int
	}{
		{"conv1_2_512", 64, 64, 512, 512},
		{"conv3_1_512", 128, 256, 128, 128},
		{"conv5_1_512", 512, 512, 32, 32},
	}
	for _, tf32 := range []bool{false, true} {
		for _, l := range layers {
			for _, pass := range []gpu.Pass{gpu.Forward, gpu.BackwardData, gpu.BackwardFilter} {
				name := fmt.Sprintf("%s/%v/tf32=%v", l.name, pass, tf32)
				b.Run(name, func(b *testing.B) {
					d := benchDevice(b, tf32)
					r := rand.New(rand.NewPCG(1, 1))
					c := gpu.Conv{N: 1, C: l.c, H: l.h, W: l.w, O: l.o, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
					x := mustAlloc(b, d, randSlice(r, l.c*l.h*l.w))
					w := mustAlloc(b, d, randSlice(r, l.o*l.c*9))
					y := mustAlloc(b, d, randSlice(r, l.o*l.h*l.w))
					if err := d.Conv(c, pass, x, w, y); err != nil { // picks the algorithm
						b.Fatal(err)
					}
					d.Sync()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := d.Conv(c, pass, x, w, y); err != nil {
							b.Fatal(err)
						}
					}
					if err := d.Sync(); err != nil {
						b.Fatal(err)
					}
					report(b, 2*float64(l.o*l.c*9*l.h*l.w))
				})
			}
		}
	}
}

// BenchmarkGemm: square float32 GEMM.
func BenchmarkGemm(b *testing.B) {
	for _, tf32 := range []bool{false, true} {
		for _, n := range []int{1024, 4096} {
			b.Run(fmt.Sprintf("%d/tf32=%v", n, tf32), func(b *testing.B) {
				d := benchDevice(b, tf32)
				r := rand.New(rand.NewPCG(2, 2))
				a := mustAlloc(b, d, randSlice(r, n*n))
				bb := mustAlloc(b, d, randSlice(r, n*n))
				c := mustAlloc(b, d, make([]float32, n*n))
				d.Gemm(false, false, n, n, n, 1, a, bb, 0, c)
				d.Sync()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := d.Gemm(false, false, n, n, n, 1, a, bb, 0, c); err != nil {
						b.Fatal(err)
					}
				}
				d.Sync()
				report(b, 2*float64(n)*float64(n)*float64(n))
			})
		}
	}
}

// BenchmarkPoolLRN: GoogLeNet's first max pooling and LRN at 1024x1024 input sizes (64
// channels at 512x512 before the pool).
func BenchmarkPoolLRN(b *testing.B) {
	b.Run("maxpool_3x3s2_64x512x512", func(b *testing.B) {
		d := benchDevice(b, false)
		r := rand.New(rand.NewPCG(3, 3))
		p := gpu.Pool{N: 1, C: 64, H: 512, W: 512, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadBottom: 1, PadRight: 1}
		oh, ow := p.OutSize()
		x := mustAlloc(b, d, randSlice(r, 64*512*512))
		y := mustAlloc(b, d, make([]float32, 64*oh*ow))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := d.PoolForward(p, x, y); err != nil {
				b.Fatal(err)
			}
		}
		d.Sync()
		report(b, float64(64*oh*ow*9))
	})
	b.Run("lrn_r2_64x256x256", func(b *testing.B) {
		d := benchDevice(b, false)
		r := rand.New(rand.NewPCG(4, 4))
		l := gpu.LRN{N: 1, C: 64, H: 256, W: 256, Radius: 2, Bias: 1, Alpha: 1e-4, Beta: 0.75}
		x := mustAlloc(b, d, randSlice(r, 64*256*256))
		y := mustAlloc(b, d, make([]float32, 64*256*256))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := d.LRNForward(l, x, y); err != nil {
				b.Fatal(err)
			}
		}
		d.Sync()
		report(b, float64(64*256*256*7))
	})
}

// BenchmarkTransfer: host to device and back, 64 MiB (the activations of one VGG layer at 512).
func BenchmarkTransfer(b *testing.B) {
	const n = 16 << 20
	d := benchDevice(b, false)
	host := make([]float32, n)
	buf := mustAlloc(b, d, host)
	b.Run("upload_64MiB", func(b *testing.B) {
		b.SetBytes(4 * n)
		for i := 0; i < b.N; i++ {
			if err := d.Upload(buf, host); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("download_64MiB", func(b *testing.B) {
		b.SetBytes(4 * n)
		for i := 0; i < b.N; i++ {
			if err := d.Download(host, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
