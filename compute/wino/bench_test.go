//go:build cgo && !purego

package wino

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"convas/compute/dnnl"
)

// vggLayers are the 3x3 layers of VGG19 at batch 1 (SAME padding), at 224x224 and 512x512
// inputs: channels in = out, except the first layer of each block, whose input has half as many
// channels (the shapes of the block's other layers are timed: they are the most of its work).
// Then the edges that Faster's rule rests on: VGG's first layer (3 channels in), a 7x7 image
// with 512 channels, and few channels on small images.
var vggLayers = []struct{ c, o, hw int }{
	{64, 64, 224}, {128, 128, 112}, {256, 256, 56}, {512, 512, 28}, {512, 512, 14},
	{64, 64, 512}, {128, 128, 256}, {256, 256, 128}, {512, 512, 64}, {512, 512, 32},
	{3, 64, 224}, {512, 512, 7}, {64, 64, 14}, {64, 64, 28}, {16, 16, 56}, {256, 256, 14},
	{32, 32, 56}, {32, 32, 112},
}

// BenchmarkVGG times Forward, Forward with a pre-transformed Filter and BackwardData on the VGG
// layers, and in the same run oneDNN's direct convolution (compute/dnnl, the kernels compute/nn
// uses) on the same shapes and passes. GFLOP/s counts the direct convolution's 2·N·O·C·9·OH·OW
// FLOPs for every backend; best-ms is the fastest iteration, the figure least disturbed by other
// processes on a shared machine.
func BenchmarkVGG(b *testing.B) {
	eng, engErr := dnnl.Default()
	for _, l := range vggLayers {
		b.Run(fmt.Sprintf("%dx%dx%d-%d", l.c, l.hw, l.hw, l.o), func(b *testing.B) { benchLayer(b, eng, engErr, l.c, l.o, l.hw) })
	}
}

// benchLayer runs BenchmarkVGG's passes on one layer of ch channels in, o out and hw x hw pixels.
func benchLayer(b *testing.B, eng *dnnl.Engine, engErr error, ch, o, hw int) {
	c := Conv{N: 1, C: ch, O: o, H: hw, W: hw, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	x, w := vggData(rand.New(rand.NewPCG(5, uint64(ch))), c)
	y := make([]float32, c.N*c.O*hw*hw)
	dc := dnnl.Conv{N: 1, C: ch, H: hw, W: hw, O: o, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	var ws Workspace
	var ff, fb Filter
	if err := ws.SetForward(&ff, c, w); err != nil {
		b.Fatal(err)
	}
	if err := ws.SetBackwardData(&fb, c, w); err != nil {
		b.Fatal(err)
	}
	runs := []struct {
		name   string
		onednn bool
		f      func() error
	}{
		{"forward/wino", false, func() error { return ws.Forward(c, x, w, nil, y) }},
		{"forward/wino-filter", false, func() error { return ws.ForwardFilter(c, x, &ff, nil, y) }},
		{"forward/onednn", true, func() error { return eng.Run(dc, dnnl.Forward, x, w, y) }},
		{"backdata/wino", false, func() error { return ws.BackwardData(c, y, w, x) }},
		{"backdata/wino-filter", false, func() error { return ws.BackwardDataFilter(c, y, &fb, x) }},
		{"backdata/onednn", true, func() error { return eng.Run(dc, dnnl.BackwardData, x, w, y) }},
	}
	for _, run := range runs {
		b.Run(run.name, func(b *testing.B) {
			if run.onednn && engErr != nil {
				b.Skip(engErr)
			}
			if err := run.f(); err != nil { // warm up: buffers, primitives
				b.Fatal(err)
			}
			best := time.Duration(1 << 62)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := run.f(); err != nil {
					b.Fatal(err)
				}
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(c.FLOPs()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(float64(best.Microseconds())/1e3, "best-ms")
			b.ReportMetric(c.FLOPs()/best.Seconds()/1e9, "best-GFLOP/s")
		})
	}
}

// BenchmarkChunking times ForwardFilter on three VGG layers with chunk budgets from 256 KiB to
// 8 MiB (V and M of one chunk) and both schedules (whole chunks a goroutine, or each stage split
// between the goroutines), the measurements behind defaultChunkBytes and modeAuto.
func BenchmarkChunking(b *testing.B) {
	for _, l := range []struct{ c, hw int }{{64, 224}, {256, 56}, {512, 28}, {128, 256}} {
		c := Conv{N: 1, C: l.c, O: l.c, H: l.hw, W: l.hw, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
		r := rand.New(rand.NewPCG(5, uint64(l.c)))
		x, w := vggData(r, c)
		y := make([]float32, len(x))
		for _, kib := range []int{256, 512, 1024, 2048, 4096, 8192} {
			for _, mode := range []struct {
				name string
				mode int
			}{{"chunks", modeChunks}, {"stages", modeStages}} {
				b.Run(fmt.Sprintf("%dx%dx%d/%dKiB/%s", l.c, l.hw, l.hw, kib, mode.name), func(b *testing.B) {
					ws := Workspace{chunkBytes: kib << 10, mode: mode.mode}
					var f Filter
					if err := ws.SetForward(&f, c, w); err != nil {
						b.Fatal(err)
					}
					best := time.Duration(1 << 62)
					for i := 0; i < b.N; i++ {
						t0 := time.Now()
						if err := ws.ForwardFilter(c, x, &f, nil, y); err != nil {
							b.Fatal(err)
						}
						best = min(best, time.Since(t0))
					}
					b.ReportMetric(float64(best.Microseconds())/1e3, "best-ms")
				})
			}
		}
	}
}

// vgg19Convs are the 16 convolutions of VGG19 (channels in and out, and the image size as a
// fraction of the input's: 1, 1/2, ... 1/16).
var vgg19Convs = []struct{ c, o, div int }{
	{3, 64, 1}, {64, 64, 1},
	{64, 128, 2}, {128, 128, 2},
	{128, 256, 4}, {256, 256, 4}, {256, 256, 4}, {256, 256, 4},
	{256, 512, 8}, {512, 512, 8}, {512, 512, 8}, {512, 512, 8},
	{512, 512, 16}, {512, 512, 16}, {512, 512, 16}, {512, 512, 16},
}

// BenchmarkVGG19Convs runs the 16 convolutions of VGG19 at batch 1 (forward, then backward-data
// in reverse order: one step of style transfer without pooling, ReLU and losses) with oneDNN's
// direct kernels for every layer ("onednn"), and with Winograd with kept Filters where Faster
// says so and oneDNN elsewhere ("faster"), in the same run. GFLOP/s counts the direct FLOPs of
// all 32 passes.
func BenchmarkVGG19Convs(b *testing.B) {
	eng, err := dnnl.Default()
	if err != nil {
		b.Skip(err)
	}
	for _, size := range []int{224, 512} {
		type layer struct {
			c      Conv
			dc     dnnl.Conv
			x, w   []float32
			y      []float32
			ff, fb Filter
			wino   bool
		}
		var layers []*layer
		var flops float64
		var ws Workspace
		for i, v := range vgg19Convs {
			hw := size / v.div
			c := Conv{N: 1, C: v.c, O: v.o, H: hw, W: hw, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
			x, w := vggData(rand.New(rand.NewPCG(7, uint64(i))), c)
			l := &layer{c: c, x: x, w: w, y: make([]float32, c.N*c.O*hw*hw), wino: Faster(c, true),
				dc: dnnl.Conv{N: 1, C: v.c, H: hw, W: hw, O: v.o, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
					PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}}
			if err := ws.SetForward(&l.ff, c, w); err != nil {
				b.Fatal(err)
			}
			if err := ws.SetBackwardData(&l.fb, c, w); err != nil {
				b.Fatal(err)
			}
			layers = append(layers, l)
			flops += 2 * c.FLOPs()
		}
		for _, mode := range []string{"onednn", "faster"} {
			b.Run(fmt.Sprintf("%d/%s", size, mode), func(b *testing.B) {
				step := func() error {
					for _, l := range layers {
						var err error
						if mode == "faster" && l.wino {
							err = ws.ForwardFilter(l.c, l.x, &l.ff, nil, l.y)
						} else {
							err = eng.Run(l.dc, dnnl.Forward, l.x, l.w, l.y)
						}
						if err != nil {
							return err
						}
					}
					for i := len(layers) - 1; i >= 0; i-- {
						l := layers[i]
						var err error
						if mode == "faster" && l.wino {
							err = ws.BackwardDataFilter(l.c, l.y, &l.fb, l.x)
						} else {
							err = eng.Run(l.dc, dnnl.BackwardData, l.x, l.w, l.y)
						}
						if err != nil {
							return err
						}
					}
					return nil
				}
				if err := step(); err != nil {
					b.Fatal(err)
				}
				best := time.Duration(1 << 62)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					if err := step(); err != nil {
						b.Fatal(err)
					}
					best = min(best, time.Since(t0))
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(float64(best.Microseconds())/1e3, "best-ms")
			})
		}
	}
}
