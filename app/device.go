package app

import (
	"convas/compute/device"
)

// DeviceChoice is one entry of the device picker, and what --device accepts.
type DeviceChoice struct {
	// Name is what --device takes and SelectDevice reads: "cpu" or "cuda:N".
	Name string
	// Label describes the device for the picker: "CPU" or "cuda:0 NVIDIA H100 80GB HBM3
	// (79.2 GiB, 78.6 GiB free, sm_90)".
	Label string
}

// DeviceChoices lists the CPU and every usable GPU with its memory. When no GPU can be used,
// note says why in a sentence for the user (this build has no CUDA support; no NVIDIA driver;
// no GPU); it is empty otherwise.
func DeviceChoices() (choices []DeviceChoice, note string) {
	list, err := device.List()
	for _, c := range list {
		choices = append(choices, DeviceChoice{Name: c.Spec.String(), Label: c.Label})
	}
	if err != nil {
		note = "Only the CPU can be used: " + err.Error()
	}
	return choices, note
}

// SelectDevice reads a device name ("cpu", "cuda", "cuda:N", as --device and the picker give
// it) and resolves it. A malformed name is an error. A GPU that cannot be used here resolves to
// the CPU, with note telling the user why; the run then goes ahead on the CPU.
func SelectDevice(name string) (spec device.Spec, note string, err error) {
	s, err := device.Parse(name)
	if err != nil {
		return device.Spec{}, "", err
	}
	got, ferr := device.Resolve(s)
	if ferr != nil {
		note = ferr.Error()
	}
	return got, note, nil
}
