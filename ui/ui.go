// Package ui is Convas's window: Fyne only, one file per panel and small widgets. It talks to
// app/, never to compute/. Widgets are touched only through a panel's do function, which is
// fyne.Do in the running app and a direct call in tests.
package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"convas/app"
	"convas/assets"
)

// Options are the window's start-up flags.
type Options struct {
	Preset       string        // training preset selected at start
	Steps        int           // override of the preset's generations
	Train        bool          // start training at once
	Dream        bool          // open the Dream tab and start dreaming at once
	Stylize      bool          // open the Stylize tab and start at once
	Retrain      string        // open the Transfer tab on this folder and start at once
	QuitAfter    time.Duration // close after this long (smoke tests)
	QuitWhenDone bool          // close when the started training ends
}

// Run opens the Convas window and returns when it is closed.
func Run(o Options) error {
	core, err := app.New()
	if err != nil {
		return err
	}
	defer core.CloseDevice()
	fa := fyneapp.NewWithID("io.convas.studio")
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon()))
	w := fa.NewWindow("Convas")
	w.Resize(fyne.NewSize(1240, 780))

	trainPanel := NewTrainPanel(core, w, fyne.Do)
	transferPanel := NewTransferPanel(core, w, fyne.Do)
	dreamPanel := NewDreamPanel(core, w, fyne.Do)
	stylePanel := NewStylePanel(core, w, fyne.Do)
	modelsPanel := NewModelsPanel(core, w, fyne.Do)
	deviceBar := NewDeviceBar(core, fa.Preferences(), fyne.Do)
	deviceBar.OnChanged = stylePanel.requestEstimate
	tabs := container.NewAppTabs(
		container.NewTabItem("Train", trainPanel.View()),
		container.NewTabItem("Transfer", transferPanel.View()),
		container.NewTabItem("Dream", dreamPanel.View()),
		container.NewTabItem("Stylize", stylePanel.View()),
		container.NewTabItem("Models", modelsPanel.View()),
	)
	// A tab coming on screen relabels its pickers: a network or data set fetched in the Models
	// tab meanwhile becomes available there.
	tabs.OnSelected = func(*container.TabItem) {
		switch tabs.SelectedIndex() {
		case 0:
			trainPanel.RefreshChoices()
		case 2:
			dreamPanel.RefreshChoices()
		case 3:
			stylePanel.RefreshChoices()
		}
	}
	// The main actions go to the panel on screen.
	current := func() runner {
		switch tabs.SelectedIndex() {
		case 1:
			return transferPanel
		case 2:
			return dreamPanel
		case 3:
			return stylePanel
		}
		return trainPanel
	}
	// The device picker lies over the tab row's empty right end, for every tab at once.
	w.SetContent(container.NewStack(tabs, container.NewVBox(container.NewHBox(layout.NewSpacer(), deviceBar.View()))))
	w.SetMainMenu(mainMenu(w, trainPanel, current))
	addShortcuts(w, trainPanel, current)
	w.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) {
		if len(uris) > 0 && tabs.SelectedIndex() == 1 {
			transferPanel.Dropped(uris)
			return
		}
		if len(uris) > 0 && tabs.SelectedIndex() == 2 {
			dreamPanel.Open(uris[0].Path())
			return
		}
		if len(uris) > 0 && tabs.SelectedIndex() == 3 {
			stylePanel.Open(uris[0].Path())
			return
		}
		trainPanel.Dropped(uris)
	})
	w.SetCloseIntercept(func() {
		transferPanel.Shutdown()
		dreamPanel.Stop()
		stylePanel.Stop()
		modelsPanel.Cancel()
		trainPanel.Shutdown()
		w.Close()
	})

	if o.Preset != "" {
		if err := trainPanel.SelectPreset(o.Preset); err != nil {
			return err
		}
	}
	if o.Steps > 0 {
		trainPanel.SetField("generations", fmt.Sprint(o.Steps))
	}
	if o.Train {
		trainPanel.OnFinished = func() {
			if o.QuitWhenDone {
				fa.Quit()
			}
		}
		// Start once the window is up, so the first frames show the run beginning.
		go func() {
			time.Sleep(500 * time.Millisecond)
			fyne.Do(trainPanel.Start)
		}()
	}
	if o.Dream {
		tabs.SelectIndex(2)
		go func() {
			time.Sleep(500 * time.Millisecond)
			fyne.Do(dreamPanel.Start)
		}()
	}
	if o.Retrain != "" {
		tabs.SelectIndex(1)
		transferPanel.SetFolder(o.Retrain)
		go func() { // start once the folder has been read
			for {
				time.Sleep(300 * time.Millisecond)
				scanned := make(chan bool, 1)
				fyne.Do(func() { scanned <- !transferPanel.scanning })
				if <-scanned {
					fyne.Do(transferPanel.Start)
					return
				}
			}
		}()
	}
	if o.Stylize {
		tabs.SelectIndex(3)
		go func() {
			time.Sleep(500 * time.Millisecond)
			fyne.Do(stylePanel.Start)
		}()
	}
	if o.QuitAfter > 0 {
		go func() {
			time.Sleep(o.QuitAfter)
			fyne.Do(func() {
				trainPanel.Shutdown()
				fa.Quit()
			})
		}()
	}
	w.ShowAndRun()
	return nil
}

// runner is a panel with a main action and a way to stop it.
type runner interface {
	Start()
	Stop()
}

func mainMenu(w fyne.Window, tp *TrainPanel, current func() runner) *fyne.MainMenu {
	file := fyne.NewMenu("File",
		fyne.NewMenuItem("Open checkpoint...", tp.OpenCheckpointDialog),
		fyne.NewMenuItem("Save checkpoint as...", tp.SaveCheckpointDialog),
		fyne.NewMenuItem("Predict image...", tp.PredictDialog),
		fyne.NewMenuItem("Export CIFAR-10 to class folders...", tp.ExportCIFARDialog),
	)
	run := fyne.NewMenu("Run",
		fyne.NewMenuItem("Start (Train, Transfer, Dream or Stylize)", func() { current().Start() }),
		fyne.NewMenuItem("Pause / Resume training", tp.TogglePause),
		fyne.NewMenuItem("Stop", func() { current().Stop() }),
	)
	help := fyne.NewMenu("Help",
		fyne.NewMenuItem("Keyboard shortcuts", func() { dialog.ShowInformation("Keyboard shortcuts", shortcutHelp, w) }),
		fyne.NewMenuItem("About Convas", func() { showAbout(w) }),
	)
	return fyne.NewMainMenu(file, run, help)
}

const shortcutHelp = `Ctrl+Enter   Train, Transfer, Dream or Stylize (the tab on screen)
Ctrl+.       Stop
Ctrl+P       Pause / Resume training
Ctrl+S       Save checkpoint as...
Ctrl+O       Open checkpoint...
Ctrl+I       Predict image...`

func addShortcuts(w fyne.Window, tp *TrainPanel, current func() runner) {
	add := func(key fyne.KeyName, f func()) {
		w.Canvas().AddShortcut(&desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { f() })
	}
	add(fyne.KeyReturn, func() { current().Start() })
	add(fyne.KeyPeriod, func() { current().Stop() })
	add(fyne.KeyP, tp.TogglePause)
	add(fyne.KeyS, tp.SaveCheckpointDialog)
	add(fyne.KeyO, tp.OpenCheckpointDialog)
	add(fyne.KeyI, tp.PredictDialog)
}

// showAbout shows the version and the licence notice of everything the binary ships.
func showAbout(w fyne.Window) {
	text := widget.NewRichTextFromMarkdown("# Convas\n\nA desktop studio for convolutional networks.\n\n" + tablesAsLists(assets.Provenance()))
	text.Wrapping = fyne.TextWrapWord
	scroll := container.NewVScroll(text)
	scroll.SetMinSize(fyne.NewSize(760, 480))
	dialog.ShowCustom("About Convas", "Close", scroll, w)
}

// relabel gives a picker new option labels and selects the one that names the same choice as
// before (same reports it), without calling OnChanged: the choice itself has not changed.
func relabel(sel *widget.Select, labels []string, same func(label string) bool) {
	sel.Options = labels
	for _, l := range labels {
		if same(l) {
			sel.Selected = l
		}
	}
	sel.Refresh()
}

// savePictureDialog asks where to save a picture (name suggested), saves it with save and says
// where in status; an error shows in a dialog.
func savePictureDialog(win fyne.Window, name string, save func(path string) error, status *widget.Label) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		path := w.URI().Path()
		w.Close()
		if err := save(path); err != nil {
			showError(err, win)
			return
		}
		status.SetText("Saved " + path)
	}, win)
	d.SetFileName(name)
	d.Show()
}

// showError shows err in a dialog with its first line as the message.
func showError(err error, w fyne.Window) {
	if err == nil {
		return
	}
	msg := strings.TrimSpace(err.Error())
	dialog.ShowError(errors.New(msg), w)
}

// tablesAsLists rewrites Markdown table rows as list items, since Fyne's rich text draws no tables:
// "| a | b | c |" becomes "- **a**: b; c", the header and separator rows are dropped.
func tablesAsLists(md string) string {
	var out []string
	header := true
	for _, line := range strings.Split(md, "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "|") {
			header = true
			out = append(out, line)
			continue
		}
		cells := strings.Split(strings.Trim(t, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header || strings.Trim(cells[0], "-: ") == "" {
			header = false
			continue
		}
		out = append(out, "- **"+cells[0]+"**: "+strings.Join(cells[1:], "; "))
	}
	return strings.Join(out, "\n")
}
