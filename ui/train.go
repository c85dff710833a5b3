package ui

import (
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"gonum.org/v1/plot/vg"

	"github.com/disintegration/imaging"

	"convas/app"
)

// TrainPanel trains the from-scratch recipes (the MNIST and CIFAR-10 CNNs): preset and form, data
// set, run controls, progress, the recipe's two charts, the latest batch's pictures and the log.
// It also exports CIFAR-10 to class folders for retraining.
type TrainPanel struct {
	core *app.App
	win  fyne.Window
	do   func(func())

	// OnFinished, if set, runs (through do) when a started run ends.
	OnFinished func()

	presetSelect  *widget.Select
	presets       map[string]app.Preset
	datasetSelect *widget.Select
	datasetNames  map[string]string // select label -> data set name
	form          *configForm
	cfg           app.TrainConfig // the form's value

	trainBtn, pauseBtn, stopBtn, continueBtn *widget.Button
	saveBtn, openBtn, predictBtn             *widget.Button
	exportBtn                                *widget.Button
	progress                                 *widget.ProgressBar
	progressText                             *widget.Label
	status                                   *widget.Label
	lossImg, accImg                          *canvas.Image
	digits                                   [6]*canvas.Image
	digitText                                [6]*widget.Label
	logList                                  *widget.List
	logLines                                 []string

	training *app.Training
	job      *app.Job
	history  []app.TrainEval // what the charts show, owned by the UI goroutine
	losses   []app.TrainLog  // the loss lines the loss chart shows, owned by the UI goroutine
	drained  chan struct{}
	title    string
	runDir   string

	exportJob *app.Job // the CIFAR-10 export, while it runs
}

// folderChoice is the data set picker's entry that asks for a folder.
const folderChoice = "Folder (IDX or CIFAR-10)..."

// NewTrainPanel builds the panel. do runs a function on the UI goroutine (fyne.Do in the app).
func NewTrainPanel(core *app.App, win fyne.Window, do func(func())) *TrainPanel {
	p := &TrainPanel{core: core, win: win, do: do}
	p.cfg = app.DefaultTrainConfig()
	p.form = newConfigForm(&p.cfg, map[string]bool{"recipe": true, "dataset": true}, validateConfig, p.formChanged)

	titles, by := presetTitles(core.Presets())
	p.presets = by
	p.presetSelect = widget.NewSelect(titles, func(s string) {
		if pr, ok := p.presets[s]; ok {
			p.form.set(pr.Config)
			p.selectDataset(pr.Config.Dataset)
			p.title = pr.Title
		}
	})
	p.datasetNames = map[string]string{}
	p.datasetSelect = widget.NewSelect(p.datasetLabels(), p.datasetChosen)

	p.trainBtn = widget.NewButtonWithIcon("Train", theme.MediaPlayIcon(), p.Start)
	p.trainBtn.Importance = widget.HighImportance
	p.pauseBtn = widget.NewButtonWithIcon("Pause", theme.MediaPauseIcon(), p.TogglePause)
	p.stopBtn = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), p.Stop)
	p.continueBtn = widget.NewButtonWithIcon("Continue", theme.MediaFastForwardIcon(), p.Continue)
	p.saveBtn = widget.NewButtonWithIcon("Save checkpoint...", theme.DocumentSaveIcon(), p.SaveCheckpointDialog)
	p.openBtn = widget.NewButtonWithIcon("Open checkpoint...", theme.FolderOpenIcon(), p.OpenCheckpointDialog)
	p.predictBtn = widget.NewButtonWithIcon("Predict image...", theme.SearchIcon(), p.PredictDialog)
	p.exportBtn = widget.NewButtonWithIcon("Export CIFAR-10 to class folders...", theme.DownloadIcon(), p.ExportCIFARDialog)
	p.progress = widget.NewProgressBar()
	p.progressText = widget.NewLabel("Ready")
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord

	p.lossImg = chartImage()
	p.accImg = chartImage()
	for i := range p.digits {
		p.digits[i] = canvas.NewImageFromImage(image.NewGray(image.Rect(0, 0, 28, 28)))
		p.digits[i].ScaleMode = canvas.ImageScalePixels
		p.digits[i].FillMode = canvas.ImageFillContain
		p.digits[i].SetMinSize(fyne.NewSize(72, 72))
		p.digitText[i] = widget.NewLabel("Actual: -  Pred: -")
		p.digitText[i].Alignment = fyne.TextAlignCenter
		p.digitText[i].SizeName = theme.SizeNameCaptionText
		// CIFAR-10's class names make captions longer than a cell: wrap them rather than let
		// them widen the window.
		p.digitText[i].Wrapping = fyne.TextWrapWord
	}
	p.logList = widget.NewList(func() int { return len(p.logLines) },
		func() fyne.CanvasObject {
			return widget.NewLabel("Generation # 500. Train Loss: 0.00. Train Acc (Test Acc): 100.00 (100.00)")
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(p.logLines[i]) })

	if len(titles) > 0 {
		p.presetSelect.SetSelectedIndex(indexOf(titles, "mnist-simple"))
	}
	p.updateButtons()
	p.renderCharts(nil)
	return p
}

func indexOf(titles []string, name string) int {
	for i, t := range titles {
		if strings.HasSuffix(t, "["+name+"]") {
			return i
		}
	}
	return 0
}

func chartImage() *canvas.Image {
	img := canvas.NewImageFromImage(image.NewRGBA(image.Rect(0, 0, 1, 1)))
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSize(330, 220))
	return img
}

func validateConfig(v any) map[string]string {
	out := map[string]string{}
	for _, e := range v.(app.TrainConfig).Validate() {
		if _, seen := out[e.Key]; !seen {
			out[e.Key] = e.Reason
		}
	}
	return out
}

// View returns the panel's content.
func (p *TrainPanel) View() fyne.CanvasObject {
	left := container.NewBorder(
		container.NewVBox(
			widget.NewLabelWithStyle("Preset", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			p.presetSelect,
			widget.NewLabelWithStyle("Data set", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			p.datasetSelect,
			widget.NewLabelWithStyle("Hyperparameters", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		),
		container.NewVBox(p.status, container.NewGridWithColumns(2, p.openBtn, p.saveBtn), p.predictBtn, p.exportBtn),
		nil, nil,
		container.NewVScroll(p.form.form),
	)
	controls := container.NewVBox(
		container.NewHBox(p.trainBtn, p.pauseBtn, p.stopBtn, p.continueBtn, p.progressText),
		p.progress,
	)
	charts := container.NewGridWithColumns(2, p.lossImg, p.accImg)
	var cells []fyne.CanvasObject
	for i := range p.digits {
		cells = append(cells, container.NewBorder(nil, p.digitText[i], nil, nil, p.digits[i]))
	}
	digits := container.NewGridWithColumns(3, cells...)
	bottom := container.NewHSplit(
		widget.NewCard("", "Latest batch", digits),
		widget.NewCard("", "Log", p.logList))
	bottom.Offset = 0.45
	right := container.NewBorder(controls, nil, nil, nil, container.NewVSplit(charts, bottom))
	split := container.NewHSplit(left, right)
	split.Offset = 0.27
	return split
}

func (p *TrainPanel) formChanged(valid bool) {
	p.updateButtons()
	if !valid {
		p.status.SetText("Fix before training: " + strings.Join(p.form.problems(), "; "))
	} else if strings.HasPrefix(p.status.Text, "Fix before training") {
		p.status.SetText("")
	}
}

// running reports whether a job is live (running or paused).
func (p *TrainPanel) running() bool { return p.job != nil && p.job.State() <= app.Paused }

func (p *TrainPanel) updateButtons() {
	valid := len(p.form.problems()) == 0
	run := p.running()
	setEnabled(p.trainBtn, valid && !run)
	setEnabled(p.pauseBtn, run)
	setEnabled(p.stopBtn, run)
	setEnabled(p.continueBtn, valid && !run && p.training != nil)
	setEnabled(p.saveBtn, p.training != nil)
	setEnabled(p.predictBtn, p.training != nil)
	setEnabled(p.openBtn, !run)
	if p.job != nil && p.job.State() == app.Paused {
		p.pauseBtn.SetText("Resume")
		p.pauseBtn.SetIcon(theme.MediaPlayIcon())
	} else {
		p.pauseBtn.SetText("Pause")
		p.pauseBtn.SetIcon(theme.MediaPauseIcon())
	}
}

func setEnabled(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// SelectPreset selects a preset by name.
func (p *TrainPanel) SelectPreset(name string) error {
	for i, t := range p.presetSelect.Options {
		if strings.HasSuffix(t, "["+name+"]") {
			p.presetSelect.SetSelectedIndex(i)
			return nil
		}
	}
	pr, err := p.core.LoadPreset(name)
	if err != nil {
		return err
	}
	p.form.set(pr.Config)
	p.selectDataset(pr.Config.Dataset)
	p.title = pr.Title
	return nil
}

// SetField types text into the form entry of key.
func (p *TrainPanel) SetField(key, text string) {
	if e, ok := p.form.entries[key]; ok {
		e.SetText(text)
	}
}

// datasetLabels fills p.datasetNames from the data sets as they are now and returns the picker's
// labels: each data set (marked when it is missing), then the folder choice.
func (p *TrainPanel) datasetLabels() []string {
	var labels []string
	for _, d := range p.core.Datasets() {
		label := d.Title
		switch {
		case !d.Available && d.Name == app.CIFAR10Name:
			label += " (not fetched: see Models)"
		case !d.Available:
			label += " (not installed)"
		}
		p.datasetNames[label] = d.Name
		labels = append(labels, label)
	}
	return append(labels, folderChoice)
}

// RefreshChoices relabels the data set picker from the data sets as they are now (one fetched in
// the Models tab loses its "not fetched" mark), keeping the choice and any folders picked.
func (p *TrainPanel) RefreshChoices() {
	chosen := p.datasetNames[p.datasetSelect.Selected]
	old := p.datasetNames
	p.datasetNames = map[string]string{}
	labels := p.datasetLabels()
	for label, name := range old {
		if strings.HasPrefix(label, "Folder: ") {
			p.datasetNames[label] = name
			labels = append(labels, label)
		}
	}
	relabel(p.datasetSelect, labels, func(l string) bool { return p.datasetNames[l] == chosen })
}

func (p *TrainPanel) selectDataset(name string) {
	for label, n := range p.datasetNames {
		if n == name {
			p.datasetSelect.SetSelected(label)
			return
		}
	}
	label := "Folder: " + name
	p.datasetNames[label] = name
	p.datasetSelect.Options = append(p.datasetSelect.Options, label)
	p.datasetSelect.SetSelected(label)
}

func (p *TrainPanel) datasetChosen(label string) {
	if label != folderChoice {
		if n, ok := p.datasetNames[label]; ok {
			p.cfg.Dataset = n
		}
		return
	}
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil || u == nil {
			p.selectDataset(p.cfg.Dataset)
			return
		}
		p.cfg.Dataset = u.Path()
		p.selectDataset(u.Path())
	}, p.win)
	d.Show()
}

// Start begins a new run from fresh weights with the form's configuration.
func (p *TrainPanel) Start() {
	if p.running() || len(p.form.problems()) > 0 {
		return
	}
	cfg := p.cfg
	title := p.title
	p.setStatus("Loading the data set " + cfg.Dataset + "...")
	setEnabled(p.trainBtn, false)
	go func() {
		t, err := p.core.NewTraining(title, cfg)
		p.do(func() {
			if err != nil {
				p.setStatus("")
				p.updateButtons()
				showError(err, p.win)
				return
			}
			p.training = t
			p.history, p.losses = nil, nil
			p.logLines = nil
			p.runDir = filepath.Join(p.core.RunsDir(), time.Now().Format("20060102-150405"))
			p.launch()
		})
	}()
}

// Continue goes on with the current run (after Stop, at its end, or from an opened checkpoint)
// with the form's generations and learning rate.
func (p *TrainPanel) Continue() {
	if p.running() || p.training == nil {
		return
	}
	st := p.training.State
	if p.cfg.Generations <= st.Gen {
		p.cfg.Generations = st.Gen + st.Config.EvalEvery*100
		p.form.entries["generations"].SetText(fmt.Sprint(p.cfg.Generations))
	}
	st.Config.Generations = p.cfg.Generations
	st.Config.LearningRate = p.cfg.LearningRate
	st.Config.EvalEvery = p.cfg.EvalEvery
	if p.runDir == "" {
		p.runDir = filepath.Join(p.core.RunsDir(), time.Now().Format("20060102-150405"))
	}
	p.launch()
}

// launch starts the job of p.training and the goroutine that drains its events.
func (p *TrainPanel) launch() {
	startGen := p.training.State.Gen // read before the job owns the state
	job, err := p.training.Start()
	if err != nil {
		showError(err, p.win)
		return
	}
	p.job = job
	p.drained = make(chan struct{})
	use := p.training.Device()
	p.setStatus(fmt.Sprintf("Training %s on %s%s", p.training.Title, p.training.Dataset.Title, deviceStatus(use)))
	if use.Note != "" {
		p.logLines = append(p.logLines, use.Note)
		p.logList.Refresh()
	}
	p.updateButtons()
	go p.drain(p.training, job, startGen, p.drained)
}

// drain reads a run's events, renders charts off the UI goroutine, and hands the latest state to
// the UI at most five times a second.
func (p *TrainPanel) drain(t *app.Training, job *app.Job, startGen int, drained chan struct{}) {
	defer close(drained)
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	history := append([]app.TrainEval(nil), p.history...)
	losses := append([]app.TrainLog(nil), p.losses...)
	var step *app.TrainStep
	var fresh []app.TrainEval
	var freshLosses []app.TrainLog
	var lines []string // log lines in the order of their events
	var done *app.TrainDone
	flush := func() {
		if step == nil && len(lines) == 0 && done == nil {
			return
		}
		var loss, acc image.Image
		if len(fresh) > 0 || len(freshLosses) > 0 {
			loss, acc = renderCharts(history, losses)
		}
		u := update{step: step, evals: fresh, losses: freshLosses, lines: lines, done: done, loss: loss, acc: acc}
		p.do(func() { p.apply(u, startGen) })
		step, fresh, freshLosses, lines, done = nil, nil, nil, nil, nil
	}
	handle := func(ev app.TrainEvent) {
		switch e := ev.(type) {
		case app.TrainStep:
			step = &e
		case app.TrainLog:
			losses = append(losses, e)
			freshLosses = append(freshLosses, e)
			lines = append(lines, e.LogLine())
		case app.TrainEval:
			history = append(history, e)
			fresh = append(fresh, e)
			lines = append(lines, e.LogLine())
		case app.TrainDone:
			done = &e
		}
	}
	for {
		select {
		case ev := <-t.Events:
			handle(ev)
		case <-ticker.C:
			flush()
		case <-job.Done():
			for len(t.Events) > 0 {
				handle(<-t.Events)
			}
			flush()
			err := job.Wait()
			saved, saveErr := p.autosave(t)
			p.do(func() { p.finished(job, err, saved, saveErr) })
			return
		}
	}
}

func renderCharts(h []app.TrainEval, losses []app.TrainLog) (image.Image, image.Image) {
	loss, err1 := app.LossPlot(h, losses, 5*vg.Inch, 3.2*vg.Inch)
	acc, err2 := app.AccuracyPlot(h, 5*vg.Inch, 3.2*vg.Inch)
	if err1 != nil || err2 != nil {
		return nil, nil
	}
	return loss, acc
}

func (p *TrainPanel) renderCharts(h []app.TrainEval) {
	loss, acc := renderCharts(h, nil)
	if loss != nil {
		p.lossImg.Image, p.accImg.Image = loss, acc
		p.lossImg.Refresh()
		p.accImg.Refresh()
	}
}

// update is the progress drain hands to the UI at once: the latest step, the evaluations and
// loss lines since the last update, their log lines in order, the end, and fresh charts.
type update struct {
	step      *app.TrainStep
	evals     []app.TrainEval
	losses    []app.TrainLog
	lines     []string
	done      *app.TrainDone
	loss, acc image.Image
}

// apply shows coalesced progress; it runs on the UI goroutine.
func (p *TrainPanel) apply(u update, startGen int) {
	step, fresh, done := u.step, u.evals, u.done
	if step != nil {
		p.progress.SetValue(float64(step.Gen) / float64(step.Of))
		eta := "?"
		if n := step.Gen - startGen; n > 0 {
			eta = (time.Duration(float64(step.Elapsed) / float64(n) * float64(step.Of-step.Gen))).Round(time.Second).String()
		}
		p.progressText.SetText(fmt.Sprintf("Generation %d of %d · ETA %s", step.Gen, step.Of, eta))
	}
	p.history = append(p.history, fresh...)
	p.losses = append(p.losses, u.losses...)
	if len(u.lines) > 0 {
		p.logLines = append(p.logLines, u.lines...)
		p.logList.Refresh()
		p.logList.ScrollToBottom()
	}
	if u.loss != nil {
		p.lossImg.Image, p.accImg.Image = u.loss, u.acc
		p.lossImg.Refresh()
		p.accImg.Refresh()
	}
	if len(fresh) > 0 {
		p.showSamples(fresh[len(fresh)-1].Samples)
	}
	if done != nil {
		line := fmt.Sprintf("Test accuracy on all %d test pictures: %.2f%% (%d correct)", done.Total, done.TestAcc, done.Correct)
		p.logLines = append(p.logLines, line)
		p.logList.Refresh()
		p.logList.ScrollToBottom()
		p.setStatus(line)
	}
}

func (p *TrainPanel) showSamples(samples []app.TrainSample) {
	classes := p.training.Dataset.Classes
	name := func(c int) string {
		if c < len(classes) {
			return classes[c]
		}
		return fmt.Sprint(c)
	}
	for i := range p.digits {
		if i >= len(samples) {
			continue
		}
		p.digits[i].Image = sampleImage(samples[i])
		s := samples[i]
		p.digits[i].Refresh()
		p.digitText[i].SetText(fmt.Sprintf("Actual: %s Pred: %s", name(s.Actual), name(s.Pred)))
		if s.Actual != s.Pred {
			p.digitText[i].Importance = widget.DangerImportance
		} else {
			p.digitText[i].Importance = widget.MediumImportance
		}
		p.digitText[i].Refresh()
	}
}

// sampleImage draws a sample: grey for one channel, colour for three (CIFAR-10).
func sampleImage(s app.TrainSample) image.Image {
	px := func(v float32) uint8 { return uint8(min(max(v, 0), 1)*255 + 0.5) }
	plane := s.H * s.W
	if s.C == 3 && len(s.Pixels) == 3*plane {
		img := image.NewNRGBA(image.Rect(0, 0, s.W, s.H))
		for j := 0; j < plane; j++ {
			img.Pix[4*j], img.Pix[4*j+1], img.Pix[4*j+2], img.Pix[4*j+3] = px(s.Pixels[j]), px(s.Pixels[plane+j]), px(s.Pixels[2*plane+j]), 255
		}
		return img
	}
	g := image.NewGray(image.Rect(0, 0, s.W, s.H))
	for j := 0; j < plane && j < len(s.Pixels); j++ {
		g.Pix[j] = px(s.Pixels[j])
	}
	return g
}

// autosave keeps what a run made: its checkpoint, metrics and plots, in the run's folder.
func (p *TrainPanel) autosave(t *app.Training) (string, error) {
	dir := p.runDir
	path := filepath.Join(dir, "checkpoint.convas")
	if err := t.SaveCheckpoint(path); err != nil {
		return "", err
	}
	var h []app.TrainEval
	var losses []app.TrainLog
	t.Snapshot(func() {
		h = append(h, t.State.History...)
		losses = append(losses, t.State.Losses...)
	})
	if err := app.WriteMetricsCSV(filepath.Join(dir, "metrics.csv"), h); err != nil {
		return "", err
	}
	if len(losses) > 0 {
		if err := app.WriteLossCSV(filepath.Join(dir, "losses.csv"), losses); err != nil {
			return "", err
		}
	}
	return path, app.WritePlots(dir, h, losses)
}

func (p *TrainPanel) finished(job *app.Job, err error, saved string, saveErr error) {
	if p.job != job {
		return
	}
	switch job.State() {
	case app.Cancelled:
		p.setStatus(fmt.Sprintf("Stopped at generation %d. Continue goes on from here.", p.training.State.Gen))
	case app.Failed:
		p.setStatus("Training failed: " + err.Error())
		showError(err, p.win)
	}
	if saveErr != nil {
		showError(fmt.Errorf("could not save the run: %w", saveErr), p.win)
	} else if saved != "" {
		p.logLines = append(p.logLines, "Saved "+saved)
		p.logList.Refresh()
		p.logList.ScrollToBottom()
	}
	p.updateButtons()
	if p.OnFinished != nil {
		p.OnFinished()
	}
}

func (p *TrainPanel) setStatus(s string) { p.status.SetText(s) }

// TogglePause pauses a running job or resumes a paused one.
func (p *TrainPanel) TogglePause() {
	if !p.running() {
		return
	}
	if p.job.TogglePause() == app.Running {
		p.setStatus("Resumed")
	} else {
		p.setStatus("Paused (Resume goes on; Save checkpoint keeps this state)")
	}
	p.updateButtons()
}

// Stop cancels the running job; its state is kept, saved, and can be continued.
func (p *TrainPanel) Stop() {
	if p.running() {
		p.job.Cancel()
		p.setStatus("Stopping...")
	}
}

// Shutdown stops the job and waits (up to a few seconds) for its run to be saved.
func (p *TrainPanel) Shutdown() {
	p.Stop()
	if p.drained != nil {
		select {
		case <-p.drained:
		case <-time.After(5 * time.Second):
		}
	}
}

// SaveCheckpointDialog asks where to save the current run's checkpoint.
func (p *TrainPanel) SaveCheckpointDialog() {
	if p.training == nil {
		return
	}
	t := p.training
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		path := w.URI().Path()
		w.Close()
		go func() {
			err := t.SaveCheckpoint(path)
			p.do(func() {
				if err != nil {
					showError(err, p.win)
					return
				}
				p.setStatus("Saved checkpoint " + path)
			})
		}()
	}, p.win)
	d.SetFileName(t.State.Config.Recipe + ".convas")
	d.SetFilter(storage.NewExtensionFileFilter([]string{".convas"}))
	d.Show()
}

// OpenCheckpointDialog asks for a checkpoint and loads it; Continue then goes on from it.
func (p *TrainPanel) OpenCheckpointDialog() {
	if p.running() {
		return
	}
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		p.OpenCheckpoint(path)
	}, p.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".convas"}))
	d.Show()
}

// OpenCheckpoint loads a checkpoint file (on a background goroutine) and shows its metrics.
func (p *TrainPanel) OpenCheckpoint(path string) {
	go func() {
		t, err := p.core.OpenCheckpoint(path)
		var loss, acc image.Image
		if err == nil {
			loss, acc = renderCharts(t.State.History, t.State.Losses)
		}
		p.do(func() {
			if err != nil {
				showError(err, p.win)
				return
			}
			p.training, p.job = t, nil
			p.title = t.Title
			p.form.set(t.State.Config)
			p.selectDataset(t.State.Config.Dataset)
			p.history = append([]app.TrainEval(nil), t.State.History...)
			p.losses = append([]app.TrainLog(nil), t.State.Losses...)
			p.logLines = nil
			for _, e := range p.history {
				p.logLines = append(p.logLines, e.LogLine())
			}
			p.logList.Refresh()
			if loss != nil {
				p.lossImg.Image, p.accImg.Image = loss, acc
				p.lossImg.Refresh()
				p.accImg.Refresh()
			}
			p.runDir = filepath.Dir(path)
			p.progress.SetValue(float64(t.State.Gen) / float64(t.State.Config.Generations))
			p.progressText.SetText(fmt.Sprintf("Generation %d of %d", t.State.Gen, t.State.Config.Generations))
			p.setStatus(fmt.Sprintf("Opened %s at generation %d. Continue goes on from it; Predict image uses it.", filepath.Base(path), t.State.Gen))
			p.updateButtons()
		})
	}()
}

// PredictDialog asks for a picture and classifies it with the current weights.
func (p *TrainPanel) PredictDialog() {
	if p.training == nil {
		showError(fmt.Errorf("train a network or open a checkpoint first"), p.win)
		return
	}
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		p.Predict(path)
	}, p.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff"}))
	d.Show()
}

// Predict classifies the picture at path and shows the probabilities.
func (p *TrainPanel) Predict(path string) {
	t := p.training
	go func() {
		img, err := imaging.Open(path)
		if err != nil {
			err = fmt.Errorf("%s: not a picture Convas can read (%v)", path, err)
		}
		var preds []app.Prediction
		var view image.Image
		if err == nil {
			preds, view, err = t.Predict(img)
		}
		p.do(func() {
			if err != nil {
				showError(err, p.win)
				return
			}
			p.showPrediction(path, preds, view)
		})
	}()
}

func (p *TrainPanel) showPrediction(path string, preds []app.Prediction, view image.Image) {
	in := canvas.NewImageFromImage(view)
	in.ScaleMode = canvas.ImageScalePixels
	in.FillMode = canvas.ImageFillContain
	in.SetMinSize(fyne.NewSize(112, 112))
	rows := container.NewVBox()
	for _, pr := range preds {
		bar := widget.NewProgressBar()
		bar.SetValue(pr.Probability)
		rows.Add(container.NewBorder(nil, nil, widget.NewLabel(pr.Label), nil,
			container.NewGridWrap(fyne.NewSize(260, 30), bar)))
	}
	head := widget.NewLabelWithStyle(fmt.Sprintf("%s: %s (%.1f%%)", filepath.Base(path), preds[0].Label, 100*preds[0].Probability),
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	content := container.NewBorder(head, nil, container.NewVBox(in, widget.NewLabel("as the network sees it")), nil, rows)
	dialog.ShowCustom("Prediction", "Close", content, p.win)
}

// Dropped handles files dropped on the window: a checkpoint opens, a preset loads, a picture is
// classified.
func (p *TrainPanel) Dropped(uris []fyne.URI) {
	for _, u := range uris {
		path := u.Path()
		switch strings.ToLower(filepath.Ext(path)) {
		case ".convas":
			if !p.running() {
				p.OpenCheckpoint(path)
			}
		case ".toml":
			pr, err := p.core.LoadPreset(path)
			if err != nil {
				showError(err, p.win)
				continue
			}
			p.form.set(pr.Config)
			p.selectDataset(pr.Config.Dataset)
			p.title = pr.Title
		default:
			if p.training != nil {
				p.Predict(path)
			}
		}
	}
}

// ExportCIFARDialog asks for a folder and writes CIFAR-10 into it as class folders: the data set
// chosen in the picker when it is CIFAR-10, the model store's copy otherwise.
func (p *TrainPanel) ExportCIFARDialog() {
	if p.exportJob != nil {
		return
	}
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil || u == nil {
			return
		}
		p.ExportCIFAR(u.Path())
	}, p.win)
	d.Show()
}

// ExportCIFAR writes CIFAR-10 as class folders into out on a job, with a progress dialog that
// can cancel it.
func (p *TrainPanel) ExportCIFAR(out string) {
	if p.exportJob != nil {
		return
	}
	src := app.CIFAR10Name
	if p.core.DatasetInfo(p.cfg.Dataset).Colour {
		src = p.cfg.Dataset
	}
	bar := widget.NewProgressBar()
	text := widget.NewLabel("Reading CIFAR-10...")
	var prog dialog.Dialog
	job := p.core.StartExportCIFAR10(src, out, func(e app.ExportProgress) {
		p.do(func() {
			bar.SetValue(float64(e.Done) / float64(max(e.Total, 1)))
			text.SetText(fmt.Sprintf("%d of %d pictures", e.Done, e.Total))
		})
	})
	p.exportJob = job
	setEnabled(p.exportBtn, false)
	prog = dialog.NewCustom("Export CIFAR-10 to class folders", "Cancel",
		container.NewVBox(widget.NewLabel("Writing train_dir and validation_dir in "+out), bar, text), p.win)
	prog.SetOnClosed(job.Cancel)
	prog.Show()
	p.setStatus("Exporting CIFAR-10 to " + out + "...")
	go func() {
		err := job.Wait()
		p.do(func() {
			p.exportJob = nil
			setEnabled(p.exportBtn, true)
			prog.Hide()
			switch {
			case job.State() == app.Cancelled:
				p.setStatus("Export cancelled; the pictures written so far are in " + out)
			case err != nil:
				p.setStatus("")
				showError(err, p.win)
			default:
				p.setStatus("Exported CIFAR-10 to " + out + " (train_dir, validation_dir, cifar10_labels.txt)")
			}
		})
	}()
}
