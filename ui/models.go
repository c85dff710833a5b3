package ui

import (
	"errors"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"convas/app"
	"convas/app/modelstore"
)

// ModelsPanel lists the pretrained networks and data sets: their state, download with progress
// and cancel, import from a file, delete, and the layer table of the selected network.
type ModelsPanel struct {
	core *app.App
	win  fyne.Window
	do   func(func())

	rows     []app.ModelRow
	list     *widget.List
	selected int

	fetchBtn, cancelBtn, importBtn, deleteBtn *widget.Button
	progress                                  *widget.ProgressBar
	progressText                              *widget.Label
	detail                                    *widget.Label
	layers                                    []app.LayerInfo
	layerTable                                *widget.Table
	job                                       *app.Job
}

// NewModelsPanel builds the panel; do runs a function on the UI goroutine.
func NewModelsPanel(core *app.App, win fyne.Window, do func(func())) *ModelsPanel {
	p := &ModelsPanel{core: core, win: win, do: do, selected: -1}
	p.list = widget.NewList(func() int { return len(p.rows) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil, widget.NewLabel("ready (embedded)"), widget.NewLabel("inceptionv3-trunk"))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			c := o.(*fyne.Container)
			r := p.rows[i]
			c.Objects[0].(*widget.Label).SetText(r.Entry.Name + ": " + r.Entry.Title)
			state := c.Objects[1].(*widget.Label)
			state.SetText(stateText(r))
			if r.State.Kind == modelstore.Damaged {
				state.Importance = widget.DangerImportance
			} else if r.Usable() {
				state.Importance = widget.SuccessImportance
			} else {
				state.Importance = widget.MediumImportance
			}
			state.Refresh()
		})
	p.list.OnSelected = p.selectRow
	p.fetchBtn = widget.NewButtonWithIcon("Download", theme.DownloadIcon(), p.Fetch)
	p.cancelBtn = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), p.Cancel)
	p.importBtn = widget.NewButtonWithIcon("Import from file...", theme.FolderOpenIcon(), p.ImportDialog)
	p.deleteBtn = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), p.Delete)
	p.progress = widget.NewProgressBar()
	p.progressText = widget.NewLabel("")
	p.detail = widget.NewLabel("Select a model to see its source, licence and layers.")
	p.detail.Wrapping = fyne.TextWrapWord
	p.layerTable = widget.NewTable(
		func() (int, int) { return len(p.layers) + 1, 3 },
		func() fyne.CanvasObject { return widget.NewLabel("mixed4d_3x3_bottleneck_pre_relu") },
		func(id widget.TableCellID, o fyne.CanvasObject) {
			l := o.(*widget.Label)
			if id.Row == 0 {
				l.TextStyle.Bold = true
				l.SetText([]string{"Layer", "Kind", "Channels"}[id.Col])
				return
			}
			l.TextStyle.Bold = false
			li := p.layers[id.Row-1]
			l.SetText([]string{li.Name, li.Kind, fmt.Sprint(li.Channels)}[id.Col])
		})
	p.layerTable.SetColumnWidth(0, 300)
	p.layerTable.SetColumnWidth(1, 120)
	p.refresh()
	return p
}

func stateText(r app.ModelRow) string {
	if r.State.Kind == modelstore.Embedded {
		return "ready (embedded)"
	}
	return r.State.String()
}

// View returns the panel's content.
func (p *ModelsPanel) View() fyne.CanvasObject {
	buttons := container.NewHBox(p.fetchBtn, p.cancelBtn, p.importBtn, p.deleteBtn)
	left := container.NewBorder(nil, container.NewVBox(buttons, p.progress, p.progressText), nil, nil, p.list)
	right := container.NewBorder(p.detail, nil, nil, nil, p.layerTable)
	split := container.NewHSplit(left, right)
	split.Offset = 0.5
	return split
}

// refresh reads the store again and updates the list and buttons.
func (p *ModelsPanel) refresh() {
	p.rows = p.core.ModelRows()
	p.list.Refresh()
	p.updateButtons()
}

func (p *ModelsPanel) current() (app.ModelRow, bool) {
	if p.selected < 0 || p.selected >= len(p.rows) {
		return app.ModelRow{}, false
	}
	return p.rows[p.selected], true
}

func (p *ModelsPanel) updateButtons() {
	r, ok := p.current()
	busy := p.job != nil && p.job.State() <= app.Paused
	downloadable := ok && r.Entry.Format != modelstore.FormatEmbedded
	setEnabled(p.fetchBtn, downloadable && !busy && !r.Usable())
	setEnabled(p.cancelBtn, busy)
	setEnabled(p.importBtn, !busy)
	setEnabled(p.deleteBtn, downloadable && !busy && r.State.Kind != modelstore.Missing)
}

func (p *ModelsPanel) selectRow(i widget.ListItemID) {
	p.selected = i
	r := p.rows[i]
	size := "embedded in Convas"
	if r.Entry.Size > 0 {
		size = fmt.Sprintf("%.1f MB", float64(r.Entry.Size)/1e6)
	}
	p.detail.SetText(fmt.Sprintf("%s\nState: %s\nSize: %s\nSource: %s\nLicence: %s", r.Entry.Title, stateText(r), size, r.Entry.URL, r.Entry.Licence))
	p.layers = nil
	p.layerTable.Refresh()
	p.updateButtons()
	name := r.Entry.Name
	go func() {
		layers, err := p.core.ModelLayers(name)
		p.do(func() {
			if p.selected != i {
				return
			}
			if err != nil {
				p.detail.SetText(p.detail.Text + "\nLayers: " + err.Error())
				return
			}
			p.layers = layers
			p.layerTable.Refresh()
		})
	}()
}

// Fetch downloads the selected entry with progress; Cancel keeps the partial file for resuming.
func (p *ModelsPanel) Fetch() {
	r, ok := p.current()
	if !ok || (p.job != nil && p.job.State() <= app.Paused) {
		return
	}
	var latest modelstore.Progress
	var fresh bool
	updates := make(chan modelstore.Progress, 1)
	job, err := p.core.FetchModel(r.Entry.Name, func(pr modelstore.Progress) {
		select {
		case updates <- pr:
		default: // the UI is behind: drop this report, a newer one follows
		}
	})
	if err != nil {
		showError(err, p.win)
		return
	}
	p.job = job
	p.progressText.SetText("Connecting to " + r.Entry.URL)
	p.updateButtons()
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case pr := <-updates:
				latest, fresh = pr, true
			case <-tick.C:
				if fresh {
					pr := latest
					p.do(func() { p.showProgress(r.Entry.Name, pr) })
					fresh = false
				}
			case <-job.Done():
				err := job.Wait()
				p.do(func() { p.fetched(r.Entry.Name, job, err) })
				return
			}
		}
	}()
}

func (p *ModelsPanel) showProgress(name string, pr modelstore.Progress) {
	if pr.Total > 0 {
		p.progress.SetValue(float64(pr.Done) / float64(pr.Total))
	}
	p.progressText.SetText(fmt.Sprintf("%s: %.1f of %.1f MB, %.1f MB/s, ETA %s", name,
		float64(pr.Done)/1e6, float64(pr.Total)/1e6, pr.BytesPerSec/1e6, pr.ETA.Round(time.Second)))
}

func (p *ModelsPanel) fetched(name string, job *app.Job, err error) {
	switch {
	case job.State() == app.Cancelled:
		p.progressText.SetText(name + ": cancelled; Download resumes where it stopped")
	case err != nil:
		p.progressText.SetText(name + ": failed")
		showError(err, p.win)
	default:
		p.progress.SetValue(1)
		p.progressText.SetText(name + ": downloaded and verified")
	}
	p.refresh()
}

// Cancel stops a running download.
func (p *ModelsPanel) Cancel() {
	if p.job != nil {
		p.job.Cancel()
	}
}

// ImportDialog asks for a local file and puts it into the store, checked by size and checksum.
func (p *ModelsPanel) ImportDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		p.Import(path)
	}, p.win)
	d.Show()
}

// Import identifies and stores the file at path; an unknown file can still be used after a warning.
func (p *ModelsPanel) Import(path string) {
	p.progressText.SetText("Checking " + path + "...")
	go func() {
		e, err := p.core.Store().Import(path)
		p.do(func() {
			var unknown *modelstore.UnknownFileError
			switch {
			case errors.As(err, &unknown):
				p.askUnverified(path, err)
			case err != nil:
				p.progressText.SetText("")
				showError(err, p.win)
			default:
				p.progressText.SetText(fmt.Sprintf("Imported %s as %s (verified)", path, e.Name))
			}
			p.refresh()
		})
	}()
}

// askUnverified warns that a file matches nothing in the catalog and offers to use it anyway
// as the selected entry.
func (p *ModelsPanel) askUnverified(path string, why error) {
	r, ok := p.current()
	if !ok || r.Entry.Format == modelstore.FormatEmbedded {
		showError(fmt.Errorf("%v; select the model it stands for in the list and import it again to use it anyway", why), p.win)
		return
	}
	msg := fmt.Sprintf("%v\n\nUse it anyway as %s? Results may be wrong if it is not that file.", why, r.Entry.Title)
	dialog.ShowConfirm("Unknown file", msg, func(yes bool) {
		if !yes {
			return
		}
		if _, err := p.core.Store().ImportUnverified(path, r.Entry.Name); err != nil {
			showError(err, p.win)
		}
		p.refresh()
	}, p.win)
}

// Delete removes the selected entry from the store after confirmation.
func (p *ModelsPanel) Delete() {
	r, ok := p.current()
	if !ok {
		return
	}
	dialog.ShowConfirm("Delete "+r.Entry.Name, "Remove "+r.Entry.Title+" from "+p.core.Store().Dir+"?", func(yes bool) {
		if !yes {
			return
		}
		if err := p.core.Store().Delete(r.Entry); err != nil {
			showError(err, p.win)
		}
		p.refresh()
	}, p.win)
}
