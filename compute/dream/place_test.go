package dream

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"convas/compute/device/devicetest"
	"convas/compute/gpu"
	"convas/compute/models"
	"convas/compute/nn"
)

// testAccel is the GPU that -device names, or else an nn.Emulator (returned twice: as the
// accelerator and to check what it holds), with the relative error a gradient may have against
// the CPU's: the CPU's Winograd against the emulator's direct convolution, or against cuDNN's
// algorithms on a GPU.
func testAccel(t *testing.T) (nn.Accel, *nn.Emulator, float64) {
	a, emu := devicetest.AccelOrEmulator(t)
	if emu == nil {
		return a, nil, 1e-3
	}
	return a, emu, 1e-4
}

// TestPlacedTileGraph computes the recipe's objective (channel 139 of
// mixed4d_3x3_bottleneck_pre_relu on a random GoogLeNet) and its gradient for two tiles on the
// CPU and placed on nn.Emulator, which poisons every host value it does not download: both
// must agree within the rounding of the CPU's Winograd against the emulator's direct
// convolution: the objective's gradient as a whole within 1e-4. A stale or missing value
// would be off by its own size.
func TestPlacedTileGraph(t *testing.T) {
	net := GoogLeNet{M: models.NewGoogLeNetRandom(1)}
	cfg := DefaultConfig()
	build := func(acc nn.Accel) *tileGraph {
		tg, err := buildTileGraph(net, 96, 80, cfg.Layer, cfg.Channel)
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.compile(acc); err != nil {
			t.Fatal(err)
		}
		return tg
	}
	cpu := build(nil)
	defer cpu.close()
	a, emu, tol := testAccel(t)
	acc := build(a)
	if n := acc.place.Stats().Ops; n < 20 {
		t.Errorf("only %d ops placed", n)
	}
	pic := photo(t, 96, 80) // chelsea, or smooth waves in a test binary copied elsewhere
	negative := pic.Clone()
	for i, v := range negative.Pix {
		negative.Pix[i] = 255 - v
	}
	// Two photos. (On noise, whose many near-zero sums flip ReLUs on rounding, the two ways
	// differ by about 1e-3, as the CPU's Winograd and direct convolutions do.)
	for k, img := range []*Image{pic, negative} {
		var g1, g2 []float32
		o1, err := cpu.run(img.Pix, func(g []float32) { g1 = append(g1, g...) })
		if err != nil {
			t.Fatal(err)
		}
		o2, err := acc.run(img.Pix, func(g []float32) { g2 = append(g2, g...) })
		if err != nil {
			t.Fatal(err)
		}
		if !(math.Abs(o1-o2) <= tol*math.Abs(o1)) {
			t.Errorf("tile %d: objective %g on the CPU, %g placed", k, o1, o2)
		}
		var diff, norm float64
		for i := range g1 {
			d := float64(g1[i] - g2[i])
			diff += d * d
			norm += float64(g1[i]) * float64(g1[i])
		}
		rel := math.Sqrt(diff / norm)
		t.Logf("tile %d: objective %g, gradient relative error %.2g", k, o1, rel)
		if !(rel <= tol) {
			t.Errorf("tile %d: placed gradient differs from the CPU's by %.2g relative", k, rel)
		}
	}
	t.Logf("placed: %+v", acc.place.Stats())
	acc.close()
	if emu != nil && emu.Live() != 0 {
		t.Errorf("%d emulator buffers left after close", emu.Live())
	}
}

// TestPlacedDreamRuns runs the recipe end to end on nn.Emulator: two octaves of two steps; the
// objective rises and nothing is left on the "device".
func TestPlacedDreamRuns(t *testing.T) {
	net := GoogLeNet{M: models.NewGoogLeNetRandom(1)}
	cfg := DefaultConfig()
	cfg.Octaves, cfg.Iterations, cfg.Roll = 2, 2, 1
	a, emu, _ := testAccel(t)
	cfg.Accel = a
	events := make(chan Event, 64)
	if _, err := Run(t.Context(), cfg, net, photo(t, 112, 112), nil, nil, events); err != nil {
		t.Fatal(err)
	}
	close(events)
	var obj []float64
	for e := range events {
		if it, ok := e.(Iteration); ok {
			obj = append(obj, it.Objective)
		}
	}
	if len(obj) != 4 || !(obj[1] > obj[0]) || !(obj[3] > obj[2]) {
		t.Errorf("objective %v does not rise within each octave", obj)
	}
	if emu != nil && emu.Calls == 0 {
		t.Error("nothing ran on the emulator")
	}
	if emu != nil && emu.Live() != 0 {
		t.Errorf("%d emulator buffers left after the run", emu.Live())
	}
}

// TestPlacedDreamMatchesCPU dreams six steps with the recipe's random shifts on a random
// GoogLeNet that convolves directly, as the emulator does, on the CPU and placed on nn.Emulator:
// the pictures must agree to float32 rounding at every step. (With the CPU's Winograd on one
// side, two ways of rounding drift apart over the steps, as they would between any two
// implementations: the log shows by how much.)
func TestPlacedDreamMatchesCPU(t *testing.T) {
	if devicetest.Asked() {
		t.Skip("compares with the emulator, which rounds as the CPU's direct convolution does")
	}
	m := models.NewGoogLeNetRandom(1)
	cfg := DefaultConfig()
	cfg.Octaves, cfg.Iterations = 1, 6
	img := photo(t, 96, 96)
	dream := func(net Network, acc nn.Accel) *Image {
		c := cfg
		c.Accel = acc
		out, err := Run(t.Context(), c, net, img, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	maxDiff := func(a, b *Image) float64 {
		var d float64
		for i := range a.Pix {
			d = max(d, math.Abs(float64(a.Pix[i]-b.Pix[i])))
		}
		return d
	}
	winograd := dream(GoogLeNet{M: m}, nil)
	direct := *m
	direct.Direct = true
	cpu := dream(GoogLeNet{M: &direct}, nil)
	emu := nn.NewEmulator()
	placed := dream(GoogLeNet{M: &direct}, emu)
	t.Logf("after 6 steps, largest pixel difference: placed against the CPU %.3g; the CPU's Winograd against its direct convolution %.3g", maxDiff(placed, cpu), maxDiff(winograd, cpu))
	if d := maxDiff(placed, cpu); !(d <= 1e-3) {
		t.Errorf("placed dream differs from the CPU's by %g (pixel values 0..255)", d)
	}
	if emu.Live() != 0 {
		t.Errorf("%d emulator buffers left after the run", emu.Live())
	}
}

// failingAccel is nn.Emulator whose memory runs out after a number of buffers.
type failingAccel struct {
	*nn.Emulator
	left int
}

func (a *failingAccel) Alloc(n int) (nn.Buf, error) {
	if a.left == 0 {
		return nil, fmt.Errorf("%w: %d bytes", gpu.ErrOutOfMemory, 4*n)
	}
	a.left--
	return a.Emulator.Alloc(n)
}

// TestPlacedOutOfMemory: a device that runs out of memory in the middle of a dream ends the run
// with an error that says so (no panic, no hang), and what was allocated is freed.
func TestPlacedOutOfMemory(t *testing.T) {
	acc := &failingAccel{Emulator: nn.NewEmulator(), left: 40}
	cfg := DefaultConfig()
	cfg.Octaves, cfg.Iterations, cfg.Accel = 1, 2, acc
	_, err := Run(t.Context(), cfg, GoogLeNet{M: models.NewGoogLeNetRandom(1)}, photo(t, 96, 96), nil, nil, nil)
	if !errors.Is(err, gpu.ErrOutOfMemory) {
		t.Fatalf("got %v, want an error wrapping gpu.ErrOutOfMemory", err)
	}
	t.Logf("the error: %v", err)
	if acc.Live() != 0 {
		t.Errorf("%d buffers left after the failed run", acc.Live())
	}
}
