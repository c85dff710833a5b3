package nn

import (
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// resizeOnce runs ResizeBilinear on one (N,C,H,W) input and returns the output values and the
// gradient of Σ y ⊙ w for the given weights w (nil: all ones).
func resizeOnce(t *testing.T, dt tensor.Dtype, xd []float64, shape tensor.Shape, oh, ow int, w []float64) (y, dx []float64) {
	t.Helper()
	g := gorgonia.NewGraph()
	x := leaf(g, dt, "x", xd, shape...)
	out := must(t)(ResizeBilinear(x, oh, ow))
	if want := (tensor.Shape{shape[0], shape[1], oh, ow}); !out.Shape().Eq(want) {
		t.Fatalf("shape %v, want %v", out.Shape(), want)
	}
	if w == nil {
		w = make([]float64, out.Shape().TotalSize())
		for i := range w {
			w[i] = 1
		}
	}
	wn := leaf(g, dt, "w", w, out.Shape()...)
	cost := must(t)(gorgonia.Sum(must(t)(gorgonia.HadamardProd(out, wn))))
	grads, err := gorgonia.Grad(cost, x)
	if err != nil {
		t.Fatal(err)
	}
	runGraph(t, g)
	return valuesOf(t, out), valuesOf(t, grads[0])
}

func TestResizeBilinearHand(t *testing.T) {
	// 2x2 → 4x4 (TensorFlow 2 and ONNX half_pixel agree): output cell o samples
	// (o + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to 0, 0.25, 0.75, 1.
	//	1 2      1    1.25 1.75 2
	//	3 4  →   1.5  1.75 2.25 2.5
	//	         2.5  2.75 3.25 3.5
	//	         3    3.25 3.75 4
	// The gradient of the sum: every input cell gets 4 (the weights of each output sum to 1
	// and the picture is symmetric).
	want := []float64{1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		y, dx := resizeOnce(t, dt, []float64{1, 2, 3, 4}, tensor.Shape{1, 1, 2, 2}, 4, 4, nil)
		if !allClose(y, want, 1e-15) {
			t.Errorf("%v: y = %v, want %v", dt, y, want)
		}
		if !allClose(dx, []float64{4, 4, 4, 4}, 1e-15) {
			t.Errorf("%v: dx = %v, want all 4", dt, dx)
		}
	}
	// 1x3 → 1x2 along the width: src = (o + 0.5)·1.5 - 0.5 = 0.25, 1.75.
	// (10, 20, 40) → (12.5, 35); weights (1, 2) give dx = (0.75, 0.25 + 0.5, 1.5).
	y, dx := resizeOnce(t, tensor.Float64, []float64{10, 20, 40}, tensor.Shape{1, 1, 1, 3}, 1, 2, []float64{1, 2})
	if !allClose(y, []float64{12.5, 35}, 1e-15) || !allClose(dx, []float64{0.75, 0.75, 1.5}, 1e-15) {
		t.Errorf("1x3 → 1x2: y = %v, dx = %v; want (12.5, 35), (0.75, 0.75, 1.5)", y, dx)
	}
}

func TestResizeBilinearHalvesByBlockAverage(t *testing.T) {
	// Halving an even size samples the centre of each 2x2 block: src = 2o + 0.5.
	r := newRand(500)
	shape := tensor.Shape{2, 3, 6, 8}
	xd := randData(r, shape.TotalSize())
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		tol := 1e-15
		if dt == tensor.Float32 {
			tol = 1e-6
		}
		y, dx := resizeOnce(t, dt, xd, shape, 3, 4, nil)
		for pl := 0; pl < 6; pl++ {
			for i := 0; i < 3; i++ {
				for j := 0; j < 4; j++ {
					at := func(a, b int) float64 { return xd[(pl*6+a)*8+b] }
					want := (at(2*i, 2*j) + at(2*i, 2*j+1) + at(2*i+1, 2*j) + at(2*i+1, 2*j+1)) / 4
					if got := y[(pl*3+i)*4+j]; !closeTo(got, want, tol) {
						t.Fatalf("%v: y[%d, %d, %d] = %g, want the block average %g", dt, pl, i, j, got, want)
					}
				}
			}
		}
		for i, v := range dx {
			if !closeTo(v, 0.25, tol) {
				t.Fatalf("%v: dx[%d] = %g, want 0.25", dt, i, v)
			}
		}
	}
}

func TestResizeBilinearSameSizeIsIdentity(t *testing.T) {
	r := newRand(501)
	shape := tensor.Shape{1, 2, 5, 7}
	xd := randData(r, shape.TotalSize())
	y, dx := resizeOnce(t, tensor.Float64, xd, shape, 5, 7, nil)
	if !equal(y, xd) {
		t.Error("resizing to the same size changed the values")
	}
	for i, v := range dx {
		if v != 1 {
			t.Fatalf("dx[%d] = %g, want 1", i, v)
		}
	}
}

func TestResizeBilinearGradients(t *testing.T) {
	sizes := []struct{ h, w, oh, ow int }{
		{3, 4, 7, 9},  // up, non-integer ratios
		{7, 9, 3, 4},  // down, non-integer ratios
		{6, 4, 3, 8},  // down and up
		{5, 5, 12, 1}, // to a single column
		{1, 1, 3, 2},  // from a single cell
		{8, 8, 2, 2},  // by 4: cells skipped
	}
	for i, s := range sizes {
		t.Run(name("%dx%d_to_%dx%d", s.h, s.w, s.oh, s.ow), func(t *testing.T) {
			checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
				r := newRand(uint64(510 + i))
				x := randLeaf(g, r, tensor.Float64, "x", 2, 2, s.h, s.w)
				y := must(t)(ResizeBilinear(x, s.oh, s.ow))
				return probe(t, r, y, "probe"), gorgonia.Nodes{x}
			})
		})
	}
}

func TestResizeBilinearRejectsBadArguments(t *testing.T) {
	g := gorgonia.NewGraph()
	x := randLeaf(g, newRand(502), tensor.Float64, "x", 1, 1, 4, 4)
	v := randLeaf(g, newRand(503), tensor.Float64, "v", 4, 4)
	for _, c := range []struct {
		name   string
		x      *gorgonia.Node
		oh, ow int
	}{
		{"zero height", x, 0, 3},
		{"negative width", x, 3, -1},
		{"rank 2 input", v, 3, 3},
		{"nil input", nil, 3, 3},
	} {
		_, err := ResizeBilinear(c.x, c.oh, c.ow)
		if err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(err.Error(), "nn: ResizeBilinear: ") {
			t.Errorf("%s: error %q lacks the prefix", c.name, err)
		}
	}
}
