package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"convas/app"
)

// DevicePref is the preference key that remembers the device picked, by name ("cpu", "cuda:0").
const DevicePref = "device"

// DeviceBar is the window's device picker, at the right of the tab row: the CPU and each GPU
// found with its memory, and beside it a note that says why only the CPU can be used when that
// is so, or that a GPU picked could not be opened. The choice applies to every run started
// after it, in every tab; it is remembered in the preferences.
type DeviceBar struct {
	// OnChanged, when set, runs on the UI goroutine after the device has changed (the Stylize
	// tab estimates again: its budget and its timing depend on the device).
	OnChanged func()

	core  *app.App
	do    func(func())
	prefs fyne.Preferences // nil: nothing is remembered

	picker   *widget.Select
	note     *widget.Label
	choices  []app.DeviceChoice // the picker's options, in order
	listNote string             // why only the CPU is listed, when it is
	seq      int                // counts choices, so that a slow opening reports only if still current
	listed   bool               // the GPUs have been looked for
}

// NewDeviceBar builds the picker with the CPU alone, and looks for GPUs on a goroutine of its
// own (asking the driver can take a moment); the device remembered in prefs is chosen once they
// are listed. do runs a function on the UI goroutine (fyne.Do in the app).
func NewDeviceBar(core *app.App, prefs fyne.Preferences, do func(func())) *DeviceBar {
	b := &DeviceBar{core: core, do: do, prefs: prefs}
	b.choices = []app.DeviceChoice{{Name: "cpu", Label: "CPU"}}
	b.picker = widget.NewSelect([]string{"CPU"}, nil)
	b.picker.Selected = "CPU"
	b.picker.OnChanged = b.picked
	b.note = widget.NewLabel("Looking for GPUs...")
	b.note.Wrapping = fyne.TextWrapWord
	b.note.SizeName = theme.SizeNameCaptionText
	b.note.Alignment = fyne.TextAlignTrailing
	want := "cpu"
	if prefs != nil {
		want = prefs.StringWithFallback(DevicePref, "cpu")
	}
	go func() {
		choices, listNote := app.DeviceChoices()
		note, err := core.SetDevice(want)
		if err != nil { // a preference written by hand, or by another version
			note, _ = core.SetDevice("cpu")
		}
		b.do(func() { b.listed = true; b.show(choices, listNote, note) })
	}()
	return b
}

// The bar's sizes: it sits at the right of the tab row, so it adds no height to the window.
const (
	deviceNoteWidth   = 440 // two lines of caption text: the longest notes are about 150 characters
	devicePickerWidth = 300 // a GPU's label is about 60 characters: the end may be cut, the name is not
)

// View is the bar: the note, "Device:" and the picker, one row as high as the tab row.
func (b *DeviceBar) View() fyne.CanvasObject {
	h := b.picker.MinSize().Height
	return container.NewHBox(
		container.NewGridWrap(fyne.NewSize(deviceNoteWidth, h), b.note),
		widget.NewLabel("Device:"),
		container.NewGridWrap(fyne.NewSize(devicePickerWidth, h), b.picker))
}

// show lists choices in the picker, selects the App's device without calling OnChanged, and
// shows the note; a GPU is then opened (see open).
func (b *DeviceBar) show(choices []app.DeviceChoice, listNote, setNote string) {
	b.choices, b.listNote = choices, listNote
	labels := make([]string, len(choices))
	for i, c := range choices {
		labels[i] = c.Label
	}
	name, _ := b.core.Device()
	relabel(b.picker, labels, func(l string) bool { return b.nameOf(l) == name })
	note := listNote // why only the CPU is listed
	if setNote != "" {
		note = setNote // why the device remembered is not used, which says more
	}
	b.note.SetText(note)
	b.open(name, setNote)
}

// picked applies the user's choice: the App's device, the preference, and the note.
func (b *DeviceBar) picked(label string) {
	name := b.nameOf(label)
	if name == "" {
		return
	}
	if b.prefs != nil {
		b.prefs.SetString(DevicePref, name)
	}
	note, err := b.core.SetDevice(name)
	if err != nil {
		note = err.Error() // a listed name always parses; said rather than hidden
	}
	if note == "" {
		b.note.SetText(b.listNote)
	} else {
		b.note.SetText(note)
	}
	b.open(name, note)
	if b.OnChanged != nil {
		b.OnChanged()
	}
}

// open opens a GPU chosen without a note on a goroutine (seconds: a CUDA context, cuBLAS,
// cuDNN), so that the first run does not wait for it and a failure shows here at once.
func (b *DeviceBar) open(name, note string) {
	b.seq++
	if name == "cpu" || note != "" {
		return
	}
	seq := b.seq
	b.note.SetText("Opening " + name + " (CUDA, cuBLAS, cuDNN)...")
	go func() {
		fail := b.core.OpenDevice()
		b.do(func() {
			if seq != b.seq {
				return // chosen otherwise meanwhile
			}
			if fail != "" {
				b.note.SetText(fail)
				return
			}
			b.note.SetText(name + " is ready: runs started from now on compute on it.")
		})
	}()
}

// nameOf returns the device name of a picker label, "" for none.
func (b *DeviceBar) nameOf(label string) string {
	for _, c := range b.choices {
		if c.Label == label {
			return c.Name
		}
	}
	return ""
}

// deviceStatus is what a panel's status adds about the device a run computes on: nothing on
// the CPU chosen, " on cuda:0" on a GPU, and why when the GPU chosen could not be used.
func deviceStatus(use app.DeviceUse) string {
	switch {
	case use.Note != "":
		return " (" + use.Note + ")"
	case use.Name != "" && use.Name != "cpu":
		return " on " + use.Name
	}
	return ""
}
