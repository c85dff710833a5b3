package app

import (
	"strings"
	"testing"
)

func TestDeviceChoices(t *testing.T) {
	choices, note := DeviceChoices()
	if len(choices) == 0 || choices[0] != (DeviceChoice{Name: "cpu", Label: "CPU"}) {
		t.Fatalf("DeviceChoices = %v, want the CPU first", choices)
	}
	if len(choices) == 1 && !strings.HasPrefix(note, "Only the CPU can be used: ") {
		t.Errorf("no GPU listed but the note is %q", note)
	}
	if len(choices) > 1 && (note != "" || choices[1].Name != "cuda:0" || !strings.Contains(choices[1].Label, "GiB")) {
		t.Errorf("GPUs listed as %v with note %q", choices[1:], note)
	}
	for _, c := range choices {
		spec, n, err := SelectDevice(c.Name)
		if err != nil || spec.String() != c.Name || n != "" {
			t.Errorf("SelectDevice(%q) = %v, %q, %v; a listed device must select as itself", c.Name, spec, n, err)
		}
	}
}

func TestSelectDevice(t *testing.T) {
	if _, _, err := SelectDevice("tpu:0"); err == nil {
		t.Error("SelectDevice(tpu:0) accepted")
	}
	spec, note, err := SelectDevice("cpu")
	if err != nil || spec.String() != "cpu" || note != "" {
		t.Errorf("SelectDevice(cpu) = %v, %q, %v", spec, note, err)
	}
	// cuda:99 exists nowhere: the CPU, and a note saying why.
	spec, note, err = SelectDevice("cuda:99")
	if err != nil || spec.String() != "cpu" || !strings.Contains(note, "cuda:99") || !strings.Contains(note, "CPU") {
		t.Errorf("SelectDevice(cuda:99) = %v, %q, %v; want the CPU and a note naming cuda:99", spec, note, err)
	}
}
