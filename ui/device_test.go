package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"convas/app"
)

// newDeviceBar makes a device bar in a window of a test app whose preferences hold pref under
// DevicePref (none when pref is ""), and waits until it has looked for GPUs.
func newDeviceBar(t *testing.T, pref string) (*DeviceBar, *app.App, fyne.Preferences, queue) {
	t.Helper()
	a := test.NewTempApp(t)
	if pref != "" {
		a.Preferences().SetString(DevicePref, pref)
	}
	w := a.NewWindow("test")
	dir := t.TempDir()
	core := &app.App{ConfigDir: filepath.Join(dir, "config"), CacheDir: filepath.Join(dir, "cache"), DataDir: filepath.Join(dir, "data")}
	q := make(queue, 100)
	b := NewDeviceBar(core, a.Preferences(), q.do)
	w.SetContent(b.View())
	w.Resize(fyne.NewSize(1240, 60))
	q.pump(t, 10*time.Second, func() bool { return b.listed })
	t.Cleanup(core.CloseDevice)
	return b, core, a.Preferences(), q
}

// TestDeviceBarListsDevices: the picker lists the CPU first and every GPU found, with the
// labels app.DeviceChoices gives; where only the CPU can be used, the note saying why is on
// screen beside it.
func TestDeviceBarListsDevices(t *testing.T) {
	b, core, _, _ := newDeviceBar(t, "")
	choices, note := app.DeviceChoices()
	if len(b.picker.Options) != len(choices) || b.picker.Options[0] != "CPU" {
		t.Fatalf("picker options %q, want the labels of %v", b.picker.Options, choices)
	}
	for i, c := range choices {
		if b.picker.Options[i] != c.Label {
			t.Errorf("option %d: %q, want %q", i, b.picker.Options[i], c.Label)
		}
	}
	if b.picker.Selected != "CPU" {
		t.Errorf("selected %q, want CPU", b.picker.Selected)
	}
	if name, _ := core.Device(); name != "cpu" {
		t.Errorf("the app computes on %s", name)
	}
	if len(choices) == 1 {
		if !strings.HasPrefix(note, "Only the CPU can be used: ") || b.note.Text != note {
			t.Errorf("note %q, want %q", b.note.Text, note)
		}
		if !b.note.Visible() || b.note.Size().Width < 200 || b.note.Size().Height <= 0 {
			t.Errorf("the note is not on screen: visible %v, size %v", b.note.Visible(), b.note.Size())
		}
		// Nothing to pick but the CPU: picking it again keeps the note.
		b.picker.SetSelected("CPU")
		if b.note.Text != note {
			t.Errorf("CPU picked: note %q", b.note.Text)
		}
	}
}

// TestDeviceBarRemembers: the device picked is written to the preferences; a GPU remembered
// that cannot be used here selects the CPU, and the note says why; a malformed preference is
// the CPU.
func TestDeviceBarRemembers(t *testing.T) {
	if choices, _ := app.DeviceChoices(); len(choices) > 1 {
		t.Skip("a GPU is usable here: the remembered cuda:7 may be too")
	}
	b, core, prefs, _ := newDeviceBar(t, "cuda:7")
	if b.picker.Selected != "CPU" || !strings.HasPrefix(b.note.Text, "cuda:7 asked for, running on the CPU: ") {
		t.Errorf("cuda:7 remembered: selected %q, note %q", b.picker.Selected, b.note.Text)
	}
	if name, note := core.Device(); name != "cpu" || !strings.HasPrefix(note, "cuda:7 asked for") {
		t.Errorf("the app: %s, %q", name, note)
	}
	if got := prefs.String(DevicePref); got != "cuda:7" {
		t.Errorf("the preference became %q before anything was picked", got)
	}
	changed := 0
	b.OnChanged = func() { changed++ }
	b.picker.SetSelected("") // not an option: nothing happens
	b.picker.SetSelected("CPU")
	if got := prefs.String(DevicePref); got != "cpu" || changed != 1 {
		t.Errorf("CPU picked: preference %q, OnChanged called %d times", got, changed)
	}

	b2, _, _, _ := newDeviceBar(t, "tpu")
	if _, note := app.DeviceChoices(); b2.picker.Selected != "CPU" || b2.note.Text != note {
		t.Errorf("tpu remembered: selected %q, note %q", b2.picker.Selected, b2.note.Text)
	}
}

func TestDeviceStatus(t *testing.T) {
	for _, c := range []struct {
		use  app.DeviceUse
		want string
	}{
		{app.DeviceUse{Name: "cpu"}, ""},
		{app.DeviceUse{}, ""},
		{app.DeviceUse{Name: "cuda:1"}, " on cuda:1"},
		{app.DeviceUse{Name: "cpu", Note: "cuda:0 could not be opened, running on the CPU: no usable NVIDIA driver"},
			" (cuda:0 could not be opened, running on the CPU: no usable NVIDIA driver)"},
	} {
		if got := deviceStatus(c.use); got != c.want {
			t.Errorf("deviceStatus(%+v) = %q, want %q", c.use, got, c.want)
		}
	}
}

// TestEstimateTextBudgetNote: a budget the GPU's free memory set says so.
func TestEstimateTextBudgetNote(t *testing.T) {
	var e app.StyleEstimate
	e.H, e.W, e.Bytes, e.Budget, e.Largest = 256, 256, 100<<20, 150<<20, 256
	if got := estimateText(e, 10, false); got != "Up to 256x256 px: about 100 MiB of the 150 MiB budget." {
		t.Errorf("on the CPU: %q", got)
	}
	e.BudgetNote = "cuda:0 has 662 MiB free, less a margin of 512 MiB"
	if got := estimateText(e, 10, false); got != "Up to 256x256 px: about 100 MiB of the 150 MiB budget (cuda:0 has 662 MiB free, less a margin of 512 MiB)." {
		t.Errorf("on a GPU: %q", got)
	}
}
