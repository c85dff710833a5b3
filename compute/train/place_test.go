package train

import (
	"context"
	"math"
	"testing"

	"convas/compute/device/devicetest"
	"convas/compute/nn"
)

// testAccel is the GPU that -device names, or else an nn.Emulator (returned twice: as the
// accelerator and to check what it holds), with the relative error a gradient may have against
// the CPU's (cuDNN's algorithms round otherwise than the CPU's direct convolutions).
func testAccel(t *testing.T) (nn.Accel, *nn.Emulator, float64) {
	a, emu := devicetest.AccelOrEmulator(t)
	if emu == nil {
		return a, nil, 1e-4
	}
	return a, emu, 1e-5
}

// TestPlacedSteps runs three training steps of the MNIST recipe's network on the CPU and placed
// on nn.Emulator, which poisons every host value it does not download, updating the shared
// weights between steps: the loss and every weight gradient must agree at each step, so the
// placement uploads the weights afresh each step (they are not fixed) and downloads every
// gradient.
func TestPlacedSteps(t *testing.T) {
	cfg := smallConfig()
	st, err := NewState(cfg, 28, 28, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	d := patterns(40, 10, 3)
	cpu, err := newTrainer(st.Net, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _, tol := testAccel(t)
	acc, err := newTrainer(st.Net, 8, a)
	if err != nil {
		t.Fatal(err)
	}
	defer acc.place.Close()
	if n := acc.place.Stats().Ops; n < 8 {
		t.Errorf("%d ops placed, want the two convolutions and pools and their gradients", n)
	}
	for step := range 3 {
		idx := []int{8 * step, 8*step + 1, 8*step + 2, 8*step + 3, 8*step + 4, 8*step + 5, 8*step + 6, 8*step + 7}
		fill(cpu.xData, cpu.yData, d, idx, 10)
		fill(acc.xData, acc.yData, d, idx, 10)
		l1, g1, err := cpu.step()
		if err != nil {
			t.Fatal(err)
		}
		l2, g2, err := acc.step()
		if err != nil {
			t.Fatal(err)
		}
		if !(math.Abs(l1-l2) <= tol*math.Abs(l1)) {
			t.Errorf("step %d: loss %g on the CPU, %g placed", step, l1, l2)
		}
		for i := range g1 {
			var diff, norm float64
			for j := range g1[i] {
				e := float64(g1[i][j] - g2[i][j])
				diff += e * e
				norm += float64(g1[i][j]) * float64(g1[i][j])
			}
			if rel := math.Sqrt(diff / max(norm, 1e-30)); !(rel <= tol) {
				t.Errorf("step %d: gradient of %s differs by %.2g relative", step, st.Net.Parameters()[i].Name, rel)
			}
		}
		// A plain gradient step on the weights both trainers share.
		for i, p := range st.Net.Parameters() {
			for j := range p.Data {
				p.Data[j] -= 0.05 * g1[i][j]
			}
		}
		cpu.reset()
		acc.reset()
	}
	t.Logf("placed: %+v", acc.place.Stats())
}

// TestPlacedRun trains the small MNIST network for a few generations through Run on
// nn.Emulator: it finishes and leaves nothing on the "device".
func TestPlacedRun(t *testing.T) {
	cfg := smallConfig()
	cfg.Generations, cfg.EvalEvery = 6, 3
	a, emu, _ := testAccel(t)
	cfg.Accel = a
	st, err := NewState(cfg, 28, 28, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan Event, 1000)
	if err := Run(context.Background(), st, Data{Train: patterns(200, 10, 1), Test: patterns(50, 10, 2)}, nil, events); err != nil {
		t.Fatal(err)
	}
	if st.Gen != 6 {
		t.Errorf("stopped at generation %d, want 6", st.Gen)
	}
	if emu != nil && emu.Calls == 0 {
		t.Error("nothing ran on the emulator")
	}
	if emu != nil && emu.Live() != 0 {
		t.Errorf("%d emulator buffers left after the run", emu.Live())
	}
}

// TestKeysSkipAccel: Keys lists the preset keys, which do not include the accelerator (its
// field is toml:"-"); a "-" among them made every preset's form invalid.
func TestKeysSkipAccel(t *testing.T) {
	keys := Keys()
	if len(keys) == 0 || keys[0] != "recipe" {
		t.Fatalf("Keys() = %v", keys)
	}
	for _, k := range keys {
		if k == "-" || k == "" {
			t.Fatalf("Keys() = %v holds %q", keys, k)
		}
	}
}
