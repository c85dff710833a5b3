package style

import (
	"math"
	"testing"

	"convas/compute/device/devicetest"
	"convas/compute/models"
	"convas/compute/nn"
)

// testAccel is the GPU that -device names, or else an nn.Emulator (returned twice: as the
// accelerator and to check what it holds), with the relative error the comparison of a
// gradient with the CPU's allows: none on the emulator, which runs the CPU's direct kernels;
// on a GPU, cuDNN's own algorithms, whose rounding the style term's Gram differences amplify
// as they do the CPU's Winograd's (1e-3 to 1e-2 at the style picture itself).
func testAccel(t *testing.T) (nn.Accel, *nn.Emulator, float64) {
	a, emu := devicetest.AccelOrEmulator(t)
	if emu == nil {
		return a, nil, 5e-2
	}
	return a, emu, 1e-6
}

// TestPlacedProblem evaluates the recipe's loss and its gradient on VGG19 (random weights) at
// two pictures on the CPU and with the network placed on nn.Emulator, which runs the
// accelerated ops in memory of its own and poisons every host value it does not download: the
// losses and the gradient must agree, so everything the loss terms and the gradient read came
// back from the "device". The network computes its convolutions directly, as the emulator
// does, so that the two agree to the bit: with the CPU's Winograd the style term, a difference
// of Gram matrices, turns its rounding into gradients 1e-3 to 1e-2 apart (measured at the
// second picture, which is the style picture itself).
func TestPlacedProblem(t *testing.T) {
	m := models.NewVGG19Random(3)
	m.Direct = true
	net := VGG{m}
	cfg := DefaultConfig()
	l := &level{content: pattern(24, 32, 1), styles: []*Image{stripes(24, 32)}, weights: []float64{1}}
	cpu, err := newProblem(net, cfg, l)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.close()
	a, emu, tol := testAccel(t)
	cfg.Accel = a
	acc, err := newProblem(net, cfg, l)
	if err != nil {
		t.Fatal(err)
	}
	if got := acc.place.Stats().Ops; got < 3*16 {
		t.Errorf("%d ops placed; VGG19 to relu5_2 has 16 convolutions with ReLUs, each with its gradients", got)
	}
	w := WeightsOf(DefaultConfig())
	for k, x := range []*Image{pattern(24, 32, 2), stripes(24, 32)} {
		xs := make([]float64, len(x.Pix))
		for i, v := range x.Pix {
			xs[i] = float64(v)
		}
		g1, g2 := make([]float64, len(xs)), make([]float64, len(xs))
		l1, err := cpu.eval(xs, w, g1)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := acc.eval(xs, w, g2)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range [][2]float64{{l1.Content, l2.Content}, {l1.Style, l2.Style}, {l1.TV, l2.TV}, {l1.Total, l2.Total}} {
			if !(math.Abs(c[0]-c[1]) <= max(1e-4, tol)*math.Abs(c[0])) {
				t.Errorf("picture %d: losses %+v on the CPU, %+v placed", k, l1, l2)
				break
			}
		}
		// The gradient as a whole (the fused bias and ReLU of the CPU against the emulator's
		// separate ones may round apart); a wrong or stale value would be off by its own size.
		var diff, norm, worst float64
		for i := range g1 {
			d := g1[i] - g2[i]
			diff += d * d
			norm += g1[i] * g1[i]
			worst = max(worst, math.Abs(d))
		}
		rel := math.Sqrt(diff / norm)
		t.Logf("picture %d: gradient relative error %.2g (worst element %.3g of an RMS %.3g)", k, rel, worst, math.Sqrt(norm/float64(len(g1))))
		if !(rel <= tol) {
			t.Errorf("picture %d: placed gradient differs from the CPU's by %.2g relative", k, rel)
		}
	}
	s := acc.place.Stats()
	t.Logf("placed: %+v", s)
	acc.close()
	if emu != nil && emu.Live() != 0 {
		t.Errorf("%d emulator buffers left after close", emu.Live())
	}
}

// TestPlacedRun runs the recipe end to end on nn.Emulator: it finishes, the loss falls, and
// nothing is left allocated on the "device".
func TestPlacedRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Iterations, cfg.Every = 4, 0
	a, emu, _ := testAccel(t)
	cfg.Accel = a
	_, events := collect(t, cfg, VGG{models.NewVGG19Random(3)}, pattern(24, 32, 1), []*Image{stripes(24, 32)}, nil)
	its := iterations(events)
	if len(its) != cfg.Iterations {
		t.Fatalf("%d iterations", len(its))
	}
	if first, last := its[0].Losses.Total, its[len(its)-1].Losses.Total; !(last < first) {
		t.Errorf("total loss %g -> %g", first, last)
	}
	if emu != nil && emu.Calls == 0 {
		t.Error("nothing ran on the emulator")
	}
	if emu != nil && emu.Live() != 0 {
		t.Errorf("%d emulator buffers left after the run", emu.Live())
	}
}
