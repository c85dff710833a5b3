package nn

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestConv2DAlgo(t *testing.T) {
	// Winograd (where oneDNN has it; the direct convolution elsewhere) matches the direct
	// definition within 1e-4, forward and through the gradients; the choice is part of the op's
	// identity, so Gorgonia keeps both nodes apart.
	r := newRand(31)
	cc := convCase{n: 2, c: 16, h: 12, w: 12, o: 16, kh: 3, kw: 3, sh: 1, sw: 1, pad: Padding{1, 1, 1, 1}}
	xs, ws := tensor.Shape{cc.n, cc.c, cc.h, cc.w}, tensor.Shape{cc.o, cc.c, cc.kh, cc.kw}
	xd, wd := randData(r, xs.TotalSize()), randData(r, ws.TotalSize())
	want, _ := naiveConv(xd, xs, wd, ws, cc.pad, cc.sh, cc.sw)

	g := gorgonia.NewGraph()
	x := leaf(g, tensor.Float32, "x", xd, xs...)
	w := leaf(g, tensor.Float32, "w", wd, ws...)
	direct := must(t)(Conv2D(x, w, cc.pad, cc.sh, cc.sw))
	wino := must(t)(Conv2DAlgo(x, w, cc.pad, cc.sh, cc.sw, ConvWinograd))
	if direct == wino {
		t.Fatal("direct and Winograd convolutions were merged into one node")
	}
	cost := must(t)(gorgonia.Sum(must(t)(gorgonia.Add(direct, wino))))
	if _, err := gorgonia.Grad(cost, x, w); err != nil {
		t.Fatal(err)
	}
	runGraph(t, g)
	got := valuesOf(t, wino)
	for j := range want {
		if !closeTo(got[j], want[j], 1e-4) {
			t.Fatalf("winograd y[%d] = %g, want %g", j, got[j], want[j])
		}
	}
	g2 := gorgonia.NewGraph()
	if _, err := Conv2DAlgo(leaf(g2, tensor.Float32, "x", xd, xs...), leaf(g2, tensor.Float32, "w", wd, ws...), cc.pad, 1, 1, ConvAlgorithm(7)); err == nil {
		t.Error("an unknown algorithm was accepted")
	}
}
