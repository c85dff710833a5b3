package nn

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkConv2D times the convolution's forward pass, input gradient and filter gradient in
// float32 for the two layers of the MNIST recipe at batch 100, and reports GFLOP/s counting a
// multiply-add as 2 FLOPs (2·N·O·C·KH·KW·OH·OW per pass).
func BenchmarkConv2D(b *testing.B) {
	layers := []struct {
		name       string
		n, c, h, w int
		o, k       int
	}{
		{"mnist1_1x28x28_25x4x4", 100, 1, 28, 28, 25, 4},
		{"mnist2_25x14x14_50x4x4", 100, 25, 14, 14, 50, 4},
	}
	for _, l := range layers {
		r := newRand(60)
		dense := func(shape ...int) *tensor.Dense {
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(toDtype(tensor.Float32, randData(r, tensor.Shape(shape).TotalSize()))))
		}
		cp := convParams{pad: Same(l.h, l.w, l.k, l.k, 1, 1), sh: 1, sw: 1}
		x, w := dense(l.n, l.c, l.h, l.w), dense(l.o, l.c, l.k, l.k)
		g, err := cp.geom(x.Shape(), w.Shape())
		if err != nil {
			b.Fatal(err)
		}
		dy := dense(g.outShape()...)
		flops := 2 * float64(g.n*g.o*g.k()*g.p())
		passes := []struct {
			name   string
			op     gorgonia.Op
			inputs []gorgonia.Value
		}{
			{"forward", &conv2DOp{convParams: cp}, []gorgonia.Value{x, w}},
			{"backdata", &conv2DBackDataOp{convParams: cp}, []gorgonia.Value{x, w, dy}},
			{"backfilter", &conv2DBackFilterOp{convParams: cp}, []gorgonia.Value{x, w, dy}},
		}
		for _, p := range passes {
			b.Run(l.name+"/"+p.name+"/"+blasName, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.op.Do(p.inputs...); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		b.Run(l.name+"/all/"+blasName, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range passes {
					if _, err := p.op.Do(p.inputs...); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(3*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
