package device

import (
	"errors"
	"strings"
	"testing"

	"convas/compute/gpu"
)

func TestParse(t *testing.T) {
	good := []struct {
		in   string
		want Spec
	}{
		{"cpu", Spec{}},
		{"", Spec{}},
		{" CPU ", Spec{}},
		{"cuda", Spec{Kind: CUDA}},
		{"gpu", Spec{Kind: CUDA}},
		{"cuda:0", Spec{Kind: CUDA}},
		{"CUDA:3", Spec{Kind: CUDA, Index: 3}},
	}
	for _, c := range good {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if again, err := Parse(got.String()); err != nil || again != got {
			t.Errorf("Parse(%q.String() = %q) = %v, %v", c.in, got.String(), again, err)
		}
	}
	for _, bad := range []string{"cuda:", "cuda:-1", "cuda:x", "cuda0", "tpu", "cuda:1:2"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "device:") {
			t.Errorf("Parse(%q) = %v, want an error", bad, err)
		}
	}
}

// TestWithoutGPU: on a machine without a usable GPU (this one, CI) the CPU is listed with the
// reason, and a CUDA choice resolves to the CPU with an error wrapping ErrFallback and the
// reason.
func TestWithoutGPU(t *testing.T) {
	choices, err := List()
	if err == nil {
		t.Skipf("this machine has CUDA devices: %v", choices)
	}
	if len(choices) != 1 || choices[0].Spec != (Spec{}) || choices[0].Label != "CPU" {
		t.Fatalf("List = %v, want the CPU alone", choices)
	}
	if !errors.Is(err, gpu.ErrNotBuilt) && !errors.Is(err, gpu.ErrNoDriver) && !errors.Is(err, gpu.ErrNoDevice) {
		t.Errorf("List's reason %v is none of ErrNotBuilt, ErrNoDriver, ErrNoDevice", err)
	}
	got, err := Resolve(Spec{Kind: CUDA, Index: 1})
	if got != (Spec{}) || !errors.Is(err, ErrFallback) || !strings.Contains(err.Error(), "cuda:1") {
		t.Errorf("Resolve(cuda:1) = %v, %v; want the CPU and a fallback error naming cuda:1", got, err)
	}
	if _, ok := FreeMemory(Spec{Kind: CUDA}); ok {
		t.Error("FreeMemory of an absent GPU reported ok")
	}
	if got, err := Resolve(Spec{}); got != (Spec{}) || err != nil {
		t.Errorf("Resolve(cpu) = %v, %v", got, err)
	}
}

// TestWithGPU: where a GPU is present (a convas_cuda build on a GPU machine), it is listed
// after the CPU with its memory and resolves to itself; an index past the last falls back.
func TestWithGPU(t *testing.T) {
	choices, err := List()
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	if len(choices) < 2 || choices[1].Spec != (Spec{Kind: CUDA}) || choices[1].TotalMem == 0 {
		t.Fatalf("List = %+v, want the CPU then cuda:0 with its memory", choices)
	}
	if got, err := Resolve(Spec{Kind: CUDA}); err != nil || got != (Spec{Kind: CUDA}) {
		t.Errorf("Resolve(cuda:0) = %v, %v", got, err)
	}
	past := Spec{Kind: CUDA, Index: len(choices) - 1}
	if got, err := Resolve(past); got != (Spec{}) || !errors.Is(err, ErrFallback) || !errors.Is(err, gpu.ErrNoDevice) {
		t.Errorf("Resolve(%v) = %v, %v; want the CPU, ErrFallback and ErrNoDevice", past, got, err)
	}
	if free, ok := FreeMemory(Spec{Kind: CUDA}); !ok || free == 0 || free > choices[1].TotalMem {
		t.Errorf("FreeMemory(cuda:0) = %d, %v", free, ok)
	}
}
