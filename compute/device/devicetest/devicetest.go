// Package devicetest gives the tests and benchmarks of compute's recipes a -device flag: the
// same test binary then checks and times a recipe on the CPU (the default) or on a GPU
// ("-device cuda" or "cuda:N", in a build with the convas_cuda tag), as scripts/gpu-check.sh
// does on a GPU machine. "-device emulator" runs the benchmarks placed on nn.Emulator: slow,
// but what they report of the transfers is what a GPU would move.
package devicetest

import (
	"flag"
	"testing"

	"convas/compute/device"
	"convas/compute/gpu"
	"convas/compute/nn"
)

var name = flag.String("device", "", "run the placed tests and the benchmarks on this device: cpu, cuda, cuda:N or emulator")

// emulator is the -device value that places the benchmarks on nn.Emulator.
const emulator = "emulator"

// Asked reports whether -device names anything but the CPU (Accel then opens it, or fails the
// test on a name it cannot read).
func Asked() bool {
	if *name == emulator {
		return false // the placed tests use the emulator anyway
	}
	s, err := device.Parse(*name)
	return err != nil || s.Kind == device.CUDA
}

// Accel opens the device -device names and returns its accelerator, nil for the CPU, closing
// it when tb ends. A GPU that was asked for and cannot be opened fails tb: a run on a GPU
// machine must not pass on the CPU unnoticed.
func Accel(tb testing.TB) nn.Accel {
	tb.Helper()
	if *name == emulator {
		return nn.NewEmulator()
	}
	s, err := device.Parse(*name)
	if err != nil {
		tb.Fatalf("-device: %v", err)
	}
	if s.Kind != device.CUDA {
		return nil
	}
	h, err := device.Open(s, gpu.Options{})
	if err != nil {
		tb.Fatalf("-device %s: %v", *name, err)
	}
	tb.Cleanup(h.Close)
	if info, ok := h.Info(); ok {
		tb.Logf("on %s", info)
	}
	return h.Accel()
}

// AccelOrEmulator is Accel where -device names a GPU, and otherwise a new nn.Emulator, which it
// also returns (nil on a GPU) so that a test can check what the emulator holds.
func AccelOrEmulator(tb testing.TB) (nn.Accel, *nn.Emulator) {
	tb.Helper()
	if Asked() {
		return Accel(tb), nil
	}
	e := nn.NewEmulator()
	return e, e
}

// Moved returns what acc has moved between host and device so far, for ReportMoved; zero for
// the CPU.
func Moved(acc nn.Accel) gpu.Stats {
	if s, ok := acc.(interface{ Stats() gpu.Stats }); ok {
		return s.Stats()
	}
	return gpu.Stats{}
}

// ReportMoved adds what acc moved since before, per op, to a benchmark's figures (MB each
// way), for a benchmark whose graphs are placed out of its sight (a whole recipe's Run).
func ReportMoved(b *testing.B, acc nn.Accel, before gpu.Stats, ops int) {
	if acc == nil || ops <= 0 {
		return
	}
	after := Moved(acc)
	b.ReportMetric(float64(after.BytesUp-before.BytesUp)/1e6/float64(ops), "MB-up/op")
	b.ReportMetric(float64(after.BytesDown-before.BytesDown)/1e6/float64(ops), "MB-down/op")
}

// Report adds a placement's transfers per op to a benchmark's figures: MB moved each way.
func Report(b *testing.B, before, after nn.PlaceStats, ops int) {
	if ops <= 0 || after.Ops == 0 {
		return
	}
	b.ReportMetric(float64(after.BytesUp-before.BytesUp)/1e6/float64(ops), "MB-up/op")
	b.ReportMetric(float64(after.BytesDown-before.BytesDown)/1e6/float64(ops), "MB-down/op")
}
