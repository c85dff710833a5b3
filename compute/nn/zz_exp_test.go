package nn

import (
	"testing"
)

func perImageForward[T float](g *convGeom, x, w, y []T) {
	k, p, in := g.k(), g.p(), g.inSize()
	parallelFor(g.n, func(_, lo, hi int) {
		col := make([]T, k*p)
		for n := lo; n < hi; n++ {
			im2col(g, x[n*in:(n+1)*in], col, p)
			gemm(false, false, g.o, p, k, w, k, col, p, 0, y[n*g.o*p:(n+1)*g.o*p], p)
		}
	})
}

func perImageBackFilter[T float](g *convGeom, x, dy, dw []T) {
	k, p, in := g.k(), g.p(), g.inSize()
	parts := make([][]T, workersFor(g.n))
	parallelFor(g.n, func(worker, lo, hi int) {
		acc := dw
		if worker > 0 {
			acc = make([]T, len(dw))
		}
		col := make([]T, k*p)
		var beta T
		for n := lo; n < hi; n++ {
			im2col(g, x[n*in:(n+1)*in], col, p)
			gemm(false, true, g.o, k, p, dy[n*g.o*p:(n+1)*g.o*p], p, col, p, beta, acc, k)
			beta = 1
		}
		parts[worker] = acc
	})
	for _, part := range parts[1:] {
		addTo(dw, part)
	}
}

func BenchmarkExp(b *testing.B) {
	layers := []struct {
		name       string
		n, c, h, w int
		o, k       int
	}{
		{"m1", 100, 1, 28, 28, 25, 4},
		{"m2", 100, 25, 14, 14, 50, 4},
	}
	for _, l := range layers {
		r := newRand(60)
		xs := make([]float32, l.n*l.c*l.h*l.w)
		ws := make([]float32, l.o*l.c*l.k*l.k)
		for i := range xs { xs[i] = float32(r.Float64()) }
		for i := range ws { ws[i] = float32(r.Float64()) }
		g, _ := newConvGeom([]int{l.n, l.c, l.h, l.w}, []int{l.o, l.c, l.k, l.k}, Same(l.h, l.w, l.k, l.k, 1, 1), 1, 1)
		y := make([]float32, l.n*l.o*g.p())
		dw := make([]float32, len(ws))
		for _, tc := range []int{0, 1024, 4096, 16384, 1 << 30} {
			b.Run(l.name+"/fwd/"+name("%d", tc), func(b *testing.B) {
				for b.Loop() {
					if tc == 0 {
						perImageForward(&g, xs, ws, y)
					} else {
						g2 := g
						g2.targetCols = tc
						convForward(&g2, xs, ws, y)
					}
				}
				b.ReportMetric(2*float64(g.n*g.o*g.k()*g.p())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run(l.name+"/bfilt/"+name("%d", tc), func(b *testing.B) {
				for b.Loop() {
					if tc == 0 {
						perImageBackFilter(&g, xs, y, dw)
					} else {
						g2 := g
						g2.targetCols = tc
						convBackFilter(&g2, xs, y, dw)
					}
				}
				b.ReportMetric(2*float64(g.n*g.o*g.k()*g.p())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
