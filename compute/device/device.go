// Package device is compute's device choice: it parses "cpu", "cuda" and "cuda:N", lists the
// devices a run can use with their memory, and resolves a choice to one that works here,
// falling back to the CPU with an error that says why when CUDA cannot be used (a build without
// the convas_cuda tag, no driver, no GPU, no such GPU index). It is the one seam where a GPU
// plugs in: the recipes take a Spec and never ask compute/gpu themselves.
package device

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"convas/compute/gpu"
)

// Kind is the kind of device a run computes on.
type Kind int

const (
	// CPU: compute/nn's kernels (oneDNN, OpenBLAS or pure Go).
	CPU Kind = iota
	// CUDA: an NVIDIA GPU through compute/gpu.
	CUDA
)

// Spec names one device: the CPU, or the CUDA device Index (as compute/gpu.Devices numbers
// them). The zero Spec is the CPU.
type Spec struct {
	Kind  Kind
	Index int
}

// String formats s as Parse reads it: "cpu" or "cuda:N".
func (s Spec) String() string {
	if s.Kind == CUDA {
		return "cuda:" + strconv.Itoa(s.Index)
	}
	return "cpu"
}

// Parse reads a device name: "cpu", "cuda" (device 0) or "cuda:N", in any case, with spaces
// around it ignored; "" is the CPU.
func Parse(name string) (Spec, error) {
	s := strings.ToLower(strings.TrimSpace(name))
	switch {
	case s == "" || s == "cpu":
		return Spec{}, nil
	case s == "cuda" || s == "gpu":
		return Spec{Kind: CUDA}, nil
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(s[len("cuda:"):])
		if err != nil || n < 0 {
			return Spec{}, fmt.Errorf("device: %q: the index after cuda: must be a number from 0 on", name)
		}
		return Spec{Kind: CUDA, Index: n}, nil
	}
	return Spec{}, fmt.Errorf("device: %q is not a device: use cpu, cuda or cuda:N", name)
}

// Choice is one device a run can use, for a picker or a listing.
type Choice struct {
	Spec Spec
	// Label describes it in one line: "CPU" or "cuda:0 NVIDIA H100 80GB HBM3 (79.2 GiB, 78.6
	// GiB free, sm_90)".
	Label string
	// TotalMem and FreeMem are the GPU's memory in bytes; zero for the CPU.
	TotalMem, FreeMem uint64
}

// List returns the CPU and then every CUDA device found. When none can be used it still
// returns the CPU, with an error that says why (errors.Is gpu.ErrNotBuilt, gpu.ErrNoDriver or
// gpu.ErrNoDevice): a message for the user, not a failure.
func List() ([]Choice, error) {
	choices := []Choice{{Spec: Spec{}, Label: "CPU"}}
	infos, err := gpu.Devices()
	if err != nil {
		return choices, err
	}
	for _, info := range infos {
		choices = append(choices, Choice{
			Spec:     Spec{Kind: CUDA, Index: info.Index},
			Label:    info.String(),
			TotalMem: info.TotalMem, FreeMem: info.FreeMem,
		})
	}
	return choices, nil
}

// ErrFallback marks the error Resolve returns with the CPU when the device asked for cannot be
// used.
var ErrFallback = errors.New("device: falling back to the CPU")

// Resolve checks that s can be used here. The CPU always can. A CUDA device that cannot (see
// List) resolves to the CPU with an error wrapping both ErrFallback and the reason, so that a
// caller can run on the CPU and tell the user why.
func Resolve(s Spec) (Spec, error) {
	if s.Kind != CUDA {
		return Spec{}, nil
	}
	infos, err := gpu.Devices()
	if err != nil {
		return Spec{}, fmt.Errorf("%w: %s asked for: %w", ErrFallback, s, err)
	}
	if s.Index < 0 || s.Index >= len(infos) {
		return Spec{}, fmt.Errorf("%w: %s asked for, but %d CUDA device(s) found: %w", ErrFallback, s, len(infos), gpu.ErrNoDevice)
	}
	return s, nil
}

// FreeMemory returns the free memory of the CUDA device s in bytes, for the memory estimates
// of style transfer and DeepDream; ok is false for the CPU or a device that cannot be asked.
func FreeMemory(s Spec) (free uint64, ok bool) {
	if s.Kind != CUDA {
		return 0, false
	}
	infos, err := gpu.Devices()
	if err != nil || s.Index < 0 || s.Index >= len(infos) {
		return 0, false
	}
	return infos[s.Index].FreeMem, true
}
