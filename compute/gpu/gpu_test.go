package gpu

import (
	"errors"
	"strings"
	"testing"
)

// TestNoGPUHere: on a machine without a usable GPU (this one, CI) Devices and Open fail with a
// clear error of the right kind and nothing panics: ErrNotBuilt without the cuda tag, ErrNoDriver
// or ErrNoDevice with it.
func TestNoGPUHere(t *testing.T) {
	infos, err := Devices()
	if err == nil {
		t.Skipf("this machine has CUDA devices: %v", infos)
	}
	want := ErrNotBuilt
	if Built {
		want = ErrNoDriver
		if errors.Is(err, ErrNoDevice) {
			want = ErrNoDevice
		}
	}
	if !errors.Is(err, want) {
		t.Fatalf("Devices: %v, want an error wrapping %v", err, want)
	}
	t.Logf("Devices: %v", err)
	d, err := Open(0, Options{})
	if d != nil || !errors.Is(err, want) {
		t.Fatalf("Open(0) = %v, %v; want nil and an error wrapping %v", d, err, want)
	}
}

// TestCheckShapes: malformed shapes are refused before anything reaches CUDA, with the shape
// in the message.
func TestCheckShapes(t *testing.T) {
	good := Conv{N: 1, C: 3, H: 8, W: 8, O: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	if err := good.check(); err != nil {
		t.Fatalf("valid convolution refused: %v", err)
	}
	if oh, ow := good.OutSize(); oh != 8 || ow != 8 {
		t.Errorf("OutSize = %d, %d; want 8, 8", oh, ow)
	}
	bad := []Conv{
		{N: 1, C: 3, H: 8, W: 8, O: 4, KH: 3, KW: 3, StrideH: 0, StrideW: 1},
		{N: 1, C: 3, H: 8, W: 8, O: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: -1},
		{N: 1, C: 3, H: 2, W: 8, O: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
		{C: 3, H: 8, W: 8, O: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1},
	}
	for _, c := range bad {
		if err := c.check(); err == nil || !strings.Contains(err.Error(), "gpu:") {
			t.Errorf("%+v: check = %v, want an error", c, err)
		}
	}
	pools := []Pool{
		{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadBottom: 2},
		{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2, Mode: 7},
		{N: 1, C: 1, H: 1, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	}
	for _, p := range pools {
		if err := p.check(); err == nil {
			t.Errorf("%+v: check accepted it", p)
		}
	}
	if err := (Pool{N: 1, C: 1, H: 7, W: 7, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadBottom: 1, PadRight: 1, Mode: PoolAverage}).check(); err != nil {
		t.Errorf("valid pooling refused: %v", err)
	}
	wide := LRN{N: 1, C: 32, H: 4, W: 4, Radius: 8, Bias: 1, Alpha: 1e-4, Beta: 0.75}
	if err := wide.check(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("LRN radius 8: %v, want ErrUnsupported (cuDNN's window is at most 15)", err)
	}
	if err := (LRN{N: 1, C: 8, H: 4, W: 4, Radius: 20, Bias: 1, Alpha: 1e-4, Beta: 0.75}).check(); err != nil {
		t.Errorf("LRN radius 20 over 8 channels (a window of 15 once clamped) refused: %v", err)
	}
	if err := (LRN{N: 1, C: 32, H: 4, W: 4, Radius: 2, Bias: 1, Alpha: 1e-4, Beta: 0.75}).check(); err != nil {
		t.Errorf("GoogLeNet's LRN refused: %v", err)
	}
}

// TestBufferChecks: a Device refuses buffers of the wrong length or of another device before
// it calls CUDA (here on Devices that were never opened, so any call reaching CUDA would fail
// differently).
func TestBufferChecks(t *testing.T) {
	d, other := &Device{}, &Device{}
	a := &Buffer{dev: d, ptr: 1, n: 6}
	b := &Buffer{dev: d, ptr: 2, n: 6}
	c := &Buffer{dev: other, ptr: 3, n: 4}
	if err := d.Gemm(false, false, 2, 2, 3, 1, a, b, 0, c); err == nil || !strings.Contains(err.Error(), "another device") {
		t.Errorf("Gemm with another device's buffer: %v", err)
	}
	if err := d.Gemm(false, false, 2, 2, 3, 1, a, b, 0, &Buffer{dev: d, ptr: 4, n: 5}); err == nil || !strings.Contains(err.Error(), "holds 5 elements, want 4") {
		t.Errorf("Gemm with a short output: %v", err)
	}
	if err := d.Upload(a, make([]float32, 5)); err == nil {
		t.Error("Upload of 5 floats into 6 accepted")
	}
	if err := d.Axpy(1, a, nil); err == nil {
		t.Error("Axpy into nil accepted")
	}
	if _, err := d.Alloc(0); err == nil {
		t.Error("Alloc(0) accepted")
	}
}

func TestInfoString(t *testing.T) {
	i := Info{Index: 1, Name: "NVIDIA H100 80GB HBM3", TotalMem: 80 << 30, FreeMem: 79 << 30, Major: 9, Minor: 0}
	if got, want := i.String(), "cuda:1 NVIDIA H100 80GB HBM3 (80.0 GiB, 79.0 GiB free, sm_90)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}
