package transfer

import (
	"image"
	"math"
	"testing"

	"convas/compute/device/devicetest"
	"convas/compute/models"
)

// TestPlacedExtractor computes the bottlenecks of two batches of pictures on a random GoogLeNet
// on the CPU and placed on nn.Emulator (or the GPU -device names), which poisons every host
// value it does not download: the features agree within the rounding of the CPU's Winograd
// against the emulator's direct convolution, and the weights go up once.
func TestPlacedExtractor(t *testing.T) {
	bb := GoogLeNet{M: models.NewGoogLeNetRandom(2)}
	acc, emu := devicetest.AccelOrEmulator(t)
	tol := 1e-4
	if emu == nil { // on a GPU: cuDNN's algorithms against the CPU's
		tol = 1e-3
	}
	cpu, err := NewExtractor(bb, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	on, err := NewExtractorOn(bb, 2, acc)
	if err != nil {
		t.Fatal(err)
	}
	var ups []int64
	for k := range 2 {
		pics := []*image.NRGBA{Resize(noise(bb.Size(), bb.Size(), uint64(2*k)), bb.Size()), Resize(noise(bb.Size(), bb.Size(), uint64(2*k+1)), bb.Size())}
		want, err := cpu.Features(pics)
		if err != nil {
			t.Fatal(err)
		}
		got, err := on.Features(pics)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			var diff, norm float64
			for j := range want[i] {
				d := float64(got[i][j] - want[i][j])
				diff += d * d
				norm += float64(want[i][j]) * float64(want[i][j])
			}
			if rel := math.Sqrt(diff / norm); !(rel <= tol) {
				t.Errorf("batch %d, picture %d: features differ by %.2g relative", k, i, rel)
			}
		}
		ups = append(ups, on.place.Stats().Uploads)
	}
	// The second batch uploads only its pictures: one upload.
	if ups[1]-ups[0] != 1 {
		t.Errorf("the second batch made %d uploads, want 1 (the pictures)", ups[1]-ups[0])
	}
	on.Close()
	if emu != nil && emu.Live() != 0 {
		t.Errorf("%d emulator buffers left after Close", emu.Live())
	}
}
