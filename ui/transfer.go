package ui

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"gonum.org/v1/plot/vg"

	"github.com/disintegration/imaging"

	"convas/app"
)

// pictureExts are the picture files the dialogs offer.
var pictureExts = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff"}

// TransferPanel retrains a pretrained network's head on a folder of class folders: the folder
// and what is in it, the backbone and the head's settings, run controls with progress and ETA
// (bottlenecks, then steps), the loss and accuracy charts, the confusion matrix, and the model:
// save it, classify pictures with it.
type TransferPanel struct {
	core *app.App
	win  fyne.Window
	do   func(func())

	folder                         *widget.Entry
	browseBtn                      *widget.Button
	backboneSelect                 *widget.Select
	backbones                      map[string]app.TransferBackbone // select label -> backbone
	valEntry, testEntry            *widget.Entry
	stepsEntry, lrEntry, sizeEntry *widget.Entry
	optimizerSelect                *widget.Select
	hiddenCheck                    *widget.Check
	hiddenEntry                    *widget.Entry
	// The distortions of the training pictures (retrain.py's).
	cropEntry, scaleEntry, brightEntry *widget.Entry
	flipCheck                          *widget.Check
	// fineTuneCheck trains the trunk's last block with the head.
	fineTuneCheck *widget.Check

	dataInfo     *widget.Label // class counts
	problems     *widget.Label // skipped files and duplicates
	startBtn     *widget.Button
	pauseBtn     *widget.Button
	stopBtn      *widget.Button
	saveBtn      *widget.Button
	classifyBtn  *widget.Button
	progress     *widget.ProgressBar
	progressText *widget.Label
	status       *widget.Label
	lossImg      *canvas.Image
	accImg       *canvas.Image
	confusion    *fyne.Container // the matrix grid
	confusionCap *widget.Label
	logList      *widget.List
	gallery      *fyne.Container // thumbnails of the misclassified pictures
	bottomTabs   *container.AppTabs
	logLines     []string

	data     *app.TransferData // the scanned folder
	scanning bool
	run      *app.TransferRun
	job      *app.Job
	model    *app.TransferModel
	history  []app.TransferEvaluation // what the charts show, owned by the UI goroutine
	drained  chan struct{}

	// LastPredictions is what the last classification showed, for tests.
	LastPredictions []app.TransferPrediction
}

// NewTransferPanel builds the panel. do runs a function on the UI goroutine (fyne.Do in the app).
func NewTransferPanel(core *app.App, win fyne.Window, do func(func())) *TransferPanel {
	p := &TransferPanel{core: core, win: win, do: do, backbones: map[string]app.TransferBackbone{}}
	def := app.DefaultTransferConfig()
	scan := app.DefaultTransferScan("")

	p.folder = widget.NewEntry()
	p.folder.SetPlaceHolder("a folder with one sub-folder of pictures per class")
	p.folder.OnSubmitted = func(s string) { p.SetFolder(s) }
	p.browseBtn = widget.NewButtonWithIcon("", theme.FolderOpenIcon(), p.FolderDialog)
	var labels []string
	for _, b := range core.TransferBackbones() {
		label := b.Title
		if !b.Available {
			label += " (not downloaded)"
		}
		p.backbones[label] = b
		labels = append(labels, label)
	}
	p.backboneSelect = widget.NewSelect(labels, func(label string) {
		b := p.backbones[label]
		if !b.Available {
			p.setStatus(b.Name + ": " + b.Note)
		} else if strings.Contains(p.status.Text, "not downloaded") {
			p.setStatus("")
		}
		p.sizeEntry.SetPlaceHolder(fmt.Sprintf("%d (the backbone's)", b.Size))
		p.updateButtons()
	})
	num := func(v string) *widget.Entry {
		e := widget.NewEntry()
		e.SetText(v)
		e.OnChanged = func(string) { p.updateButtons() }
		return e
	}
	p.valEntry = num(fmt.Sprint(scan.ValidationPercent))
	p.testEntry = num(fmt.Sprint(scan.TestPercent))
	p.stepsEntry = num(fmt.Sprint(def.Steps))
	p.lrEntry = num(fmt.Sprint(def.LearningRate))
	p.sizeEntry = num("")
	p.optimizerSelect = widget.NewSelect([]string{"sgd", "adam"}, func(string) { p.updateButtons() })
	p.optimizerSelect.SetSelected(def.Optimizer)
	p.hiddenEntry = num("1024")
	p.hiddenEntry.Disable()
	p.hiddenCheck = widget.NewCheck("Hidden layer of", func(on bool) {
		if on {
			p.hiddenEntry.Enable()
		} else {
			p.hiddenEntry.Disable()
		}
		p.updateButtons()
	})

	p.cropEntry = num("0")
	p.scaleEntry = num("0")
	p.brightEntry = num("0")
	p.flipCheck = widget.NewCheck("Flip left-right at random", func(bool) { p.updateButtons() })
	p.fineTuneCheck = widget.NewCheck("Fine-tune the last block (mixed5)", func(bool) { p.updateButtons() })

	p.dataInfo = widget.NewLabel("No folder yet: choose one, or drop it on the window.")
	p.dataInfo.Wrapping = fyne.TextWrapWord
	p.problems = widget.NewLabel("")
	p.problems.Wrapping = fyne.TextWrapWord
	p.startBtn = widget.NewButtonWithIcon("Start", theme.MediaPlayIcon(), p.Start)
	p.startBtn.Importance = widget.HighImportance
	p.pauseBtn = widget.NewButtonWithIcon("Pause", theme.MediaPauseIcon(), p.TogglePause)
	p.stopBtn = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), p.Stop)
	p.saveBtn = widget.NewButtonWithIcon("Save model...", theme.DocumentSaveIcon(), p.SaveModelDialog)
	p.classifyBtn = widget.NewButtonWithIcon("Classify pictures...", theme.SearchIcon(), p.ClassifyDialog)
	p.progress = widget.NewProgressBar()
	p.progressText = widget.NewLabel("Ready")
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord
	p.lossImg = chartImage()
	p.accImg = chartImage()
	p.confusion = container.NewHBox()
	p.confusionCap = widget.NewLabel("The confusion matrix appears at the first evaluation.")
	p.confusionCap.Wrapping = fyne.TextWrapWord
	p.gallery = container.NewGridWrap(fyne.NewSize(132, 170))
	p.logList = widget.NewList(func() int { return len(p.logLines) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("Step 4000: train 100.0%")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(p.logLines[i]) })

	if len(labels) > 0 {
		p.backboneSelect.SetSelectedIndex(0)
	}
	p.renderCharts()
	p.updateButtons()
	return p
}

// View returns the panel's content.
func (p *TransferPanel) View() fyne.CanvasObject {
	bold := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	form := widget.NewForm(
		widget.NewFormItem("Validation %", p.valEntry),
		widget.NewFormItem("Test %", p.testEntry),
		widget.NewFormItem("Steps", p.stepsEntry),
		widget.NewFormItem("Learning rate", p.lrEntry),
		widget.NewFormItem("Optimizer", p.optimizerSelect),
		widget.NewFormItem("Input size", p.sizeEntry),
		widget.NewFormItem("", container.NewBorder(nil, nil, p.hiddenCheck, widget.NewLabel("units"), p.hiddenEntry)),
	)
	distortions := widget.NewForm(
		widget.NewFormItem("Random crop %", p.cropEntry),
		widget.NewFormItem("Random scale %", p.scaleEntry),
		widget.NewFormItem("Random brightness %", p.brightEntry),
		widget.NewFormItem("", p.flipCheck),
	)
	hint := widget.NewLabel(distortHint)
	hint.Wrapping = fyne.TextWrapWord
	hint.Importance = widget.LowImportance
	fineHint := widget.NewLabel(fineTuneHint)
	fineHint.Wrapping = fyne.TextWrapWord
	fineHint.Importance = widget.LowImportance
	top := container.NewVBox(
		bold("Pictures"),
		container.NewBorder(nil, nil, nil, p.browseBtn, p.folder),
		bold("Backbone (frozen)"),
		p.backboneSelect,
		bold("New head"),
		form,
		p.fineTuneCheck,
		fineHint,
		widget.NewAccordion(widget.NewAccordionItem("Distortions", container.NewVBox(distortions, hint))),
		bold("Data"),
		p.dataInfo,
		p.problems,
	)
	// The settings scroll as one column above the buttons: fixed, they made this tab, and so
	// the window, taller than a 1280x800 screen (814 px).
	left := container.NewBorder(nil,
		container.NewVBox(p.status, container.NewGridWithColumns(2, p.saveBtn, p.classifyBtn)),
		nil, nil,
		container.NewVScroll(top))
	controls := container.NewVBox(
		container.NewHBox(p.startBtn, p.pauseBtn, p.stopBtn, p.progressText),
		p.progress,
	)
	charts := container.NewGridWithColumns(2, p.lossImg, p.accImg)
	matrix := container.NewBorder(p.confusionCap, nil, nil, nil, container.NewScroll(container.NewVBox(p.confusion)))
	p.bottomTabs = container.NewAppTabs(container.NewTabItem("Log", p.logList),
		container.NewTabItem("Misclassified", container.NewVScroll(p.gallery)))
	bottom := container.NewHSplit(widget.NewCard("", "Confusion matrix", matrix), p.bottomTabs)
	bottom.Offset = 0.62
	right := container.NewBorder(controls, nil, nil, nil, container.NewVSplit(charts, bottom))
	split := container.NewHSplit(left, right)
	split.Offset = 0.3
	return split
}

// fineTuneHint is shown under the fine-tuning check box.
const fineTuneHint = "Fine-tuning trains the InceptionV3 trunk's last block (mixed5) with the head, at a tenth of " +
	"its learning rate: mixed4's maps are cached instead of the bottlenecks, and every step runs its batch through " +
	"the block, which is much slower than training the head alone. No distortions with it."

// distortHint is shown under the distortions.
const distortHint = "Each step distorts its batch of training pictures afresh, so their bottlenecks cannot be " +
	"cached: every step runs the whole batch through the backbone, which is much slower (validation and test " +
	"pictures still use the cache). 0 turns a distortion off."

func (p *TransferPanel) setStatus(s string) { p.status.SetText(s) }

// running reports whether a run is live (running or paused).
func (p *TransferPanel) running() bool { return p.job != nil && p.job.State() <= app.Paused }

// request reads the form; the error names the first bad field.
func (p *TransferPanel) request() (app.TransferRequest, error) {
	cfg := app.DefaultTransferConfig()
	req := app.TransferRequest{Data: p.data}
	b, ok := p.backbones[p.backboneSelect.Selected]
	if !ok {
		return req, fmt.Errorf("choose a backbone")
	}
	req.Backbone = b.Name
	var err error
	f := func(e *widget.Entry, name string, dst *float64) {
		if err != nil {
			return
		}
		v, perr := strconv.ParseFloat(strings.TrimSpace(e.Text), 64)
		if perr != nil || math.IsNaN(v) {
			err = fmt.Errorf("%s %q is not a number", name, e.Text)
			return
		}
		*dst = v
	}
	i := func(e *widget.Entry, name string, dst *int, blank int) {
		if err != nil {
			return
		}
		s := strings.TrimSpace(e.Text)
		if s == "" && blank >= 0 {
			*dst = blank
			return
		}
		v, perr := strconv.Atoi(s)
		if perr != nil {
			err = fmt.Errorf("%s %q is not a whole number", name, e.Text)
			return
		}
		*dst = v
	}
	var val, test float64
	f(p.valEntry, "validation %", &val)
	f(p.testEntry, "test %", &test)
	i(p.stepsEntry, "steps", &cfg.Steps, -1)
	f(p.lrEntry, "learning rate", &cfg.LearningRate)
	i(p.sizeEntry, "input size", &req.InputSize, 0)
	if p.hiddenCheck.Checked {
		i(p.hiddenEntry, "hidden units", &cfg.Hidden, -1)
	}
	pct := func(e *widget.Entry, name string, dst *float64) {
		if strings.TrimSpace(e.Text) == "" {
			*dst = 0 // blank: off
			return
		}
		f(e, name, dst)
	}
	pct(p.cropEntry, "random crop %", &cfg.Distortions.Crop)
	pct(p.scaleEntry, "random scale %", &cfg.Distortions.Scale)
	pct(p.brightEntry, "random brightness %", &cfg.Distortions.Brightness)
	cfg.Distortions.Flip = p.flipCheck.Checked
	cfg.FineTune = p.fineTuneCheck.Checked
	if err != nil {
		return req, err
	}
	if cfg.FineTune && b.Name != app.TransferTrunkName {
		return req, fmt.Errorf("fine-tuning: only the InceptionV3 trunk's last block can be fine-tuned, not %s's", b.Name)
	}
	cfg.Optimizer = p.optimizerSelect.Selected
	cfg.EvalEvery = max(cfg.EvalEvery, cfg.Steps/400) // at most about 400 points on the charts
	req.Config = cfg
	if err := cfg.Validate(); err != nil {
		return req, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "transfer: "))
	}
	switch {
	case val < 0 || test < 0 || val+test >= 100:
		return req, fmt.Errorf("validation %g%% and test %g%%: each at least 0, together below 100", val, test)
	case req.InputSize != 0 && req.InputSize < 75:
		return req, fmt.Errorf("input size %d: at least 75 pixels, or empty for the backbone's", req.InputSize)
	case p.hiddenCheck.Checked && cfg.Hidden <= 0:
		return req, fmt.Errorf("hidden units %d: must be positive", cfg.Hidden)
	}
	req.Scan = app.TransferScan{Dir: strings.TrimSpace(p.folder.Text), ValidationPercent: val, TestPercent: test}
	return req, nil
}

func (p *TransferPanel) updateButtons() {
	if p.startBtn == nil || p.pauseBtn == nil || p.stopBtn == nil {
		return // still being built
	}
	_, err := p.request()
	b := p.backbones[p.backboneSelect.Selected]
	run := p.running()
	setEnabled(p.startBtn, err == nil && b.Available && p.data != nil && !p.scanning && !run)
	setEnabled(p.pauseBtn, run)
	setEnabled(p.stopBtn, run)
	setEnabled(p.saveBtn, p.model != nil)
	setEnabled(p.classifyBtn, p.model != nil)
	setEnabled(p.browseBtn, !run)
	if p.job != nil && p.job.State() == app.Paused {
		p.pauseBtn.SetText("Resume")
		p.pauseBtn.SetIcon(theme.MediaPlayIcon())
	} else {
		p.pauseBtn.SetText("Pause")
		p.pauseBtn.SetIcon(theme.MediaPauseIcon())
	}
	if err != nil && !run {
		p.setStatus("Fix before starting: " + err.Error())
	} else if strings.HasPrefix(p.status.Text, "Fix before starting") {
		p.setStatus("")
	}
}

// FolderDialog asks for the folder of pictures.
func (p *TransferPanel) FolderDialog() {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil || u == nil {
			return
		}
		p.SetFolder(u.Path())
	}, p.win)
	d.Show()
}

// SetFolder scans a folder of class folders on a background goroutine and shows its classes,
// counts, skipped files and duplicates.
func (p *TransferPanel) SetFolder(dir string) {
	if p.running() {
		return
	}
	req, err := p.request()
	if err != nil {
		p.setStatus("Fix before scanning: " + err.Error())
		return
	}
	p.folder.SetText(dir)
	p.scanning = true
	p.dataInfo.SetText("Reading " + dir + "...")
	p.problems.SetText("")
	p.updateButtons()
	scan := req.Scan
	scan.Dir = dir
	go func() {
		d, err := app.ScanPictures(scan)
		p.do(func() {
			p.scanning = false
			if err != nil {
				p.data = nil
				p.dataInfo.SetText(err.Error())
				p.problems.SetText(problemsText(d))
				p.updateButtons()
				return
			}
			p.data = d
			p.dataInfo.SetText(countsText(d))
			p.problems.SetText(problemsText(d))
			p.updateButtons()
		})
	}()
}

// countsText lists the classes with their pictures per set.
func countsText(d *app.TransferData) string {
	var b strings.Builder
	if d.Config.ValidationDir != "" {
		fmt.Fprintf(&b, "Two trees: %s for training, %s for validation.\n", d.Config.Dir, d.Config.ValidationDir)
	}
	counts := d.Counts()
	var total [3]int
	for i, c := range d.Classes {
		n := counts[i]
		fmt.Fprintf(&b, "%s: %d training · %d validation · %d test\n", c, n[0], n[1], n[2])
		for s := range total {
			total[s] += n[s]
		}
	}
	fmt.Fprintf(&b, "%d classes, %d pictures: %d training, %d validation, %d test", len(d.Classes),
		total[0]+total[1]+total[2], total[0], total[1], total[2])
	return b.String()
}

// problemsText lists the skipped files with their reasons and the duplicates.
func problemsText(d *app.TransferData) string {
	if d == nil {
		return ""
	}
	var lines []string
	if len(d.Skipped) > 0 {
		lines = append(lines, fmt.Sprintf("Skipped %d files:", len(d.Skipped)))
		for _, s := range d.Skipped {
			lines = append(lines, "  "+relTo(d.Config.Dir, s.Path)+": "+s.Reason)
		}
	}
	if len(d.Duplicates) > 0 {
		lines = append(lines, fmt.Sprintf("%d groups of identical pictures:", len(d.Duplicates)))
		for _, g := range d.Duplicates {
			var names []string
			for _, path := range g.Paths {
				names = append(names, relTo(d.Config.Dir, path))
			}
			note := ""
			if g.Classes {
				note = " (under different classes!)"
			} else if g.Sets {
				note = " (in different sets)"
			}
			lines = append(lines, "  "+strings.Join(names, " = ")+note)
		}
	}
	return strings.Join(lines, "\n")
}

func relTo(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// Start begins a run with the form's settings on the scanned folder.
func (p *TransferPanel) Start() {
	if p.running() || p.scanning || p.data == nil {
		return
	}
	req, err := p.request()
	if err != nil {
		showError(err, p.win)
		return
	}
	// New split percentages: the run scans the folder again.
	req.Scan.Dir, req.Scan.ValidationDir = p.data.Config.Dir, p.data.Config.ValidationDir
	if req.Scan.ValidationPercent != p.data.Config.ValidationPercent || req.Scan.TestPercent != p.data.Config.TestPercent {
		req.Data = nil
	}
	setEnabled(p.startBtn, false)
	p.setStatus("Loading " + req.Backbone + "...")
	go func() {
		r, err := p.core.NewTransfer(req)
		var job *app.Job
		if err == nil {
			job, err = r.Start()
		}
		p.do(func() {
			if err != nil {
				p.setStatus("")
				p.updateButtons()
				showError(err, p.win)
				return
			}
			p.run, p.job, p.model = r, job, nil
			if r.Data != p.data {
				p.data = r.Data
				p.dataInfo.SetText(countsText(r.Data))
				p.problems.SetText(problemsText(r.Data))
			}
			p.history, p.logLines = nil, nil
			if use := r.Device(); use.Note != "" {
				p.logLines = append(p.logLines, use.Note)
			}
			p.logList.Refresh()
			p.renderCharts()
			name, layer, size := r.Backbone()
			if r.Request.Config.FineTune {
				p.setStatus(fmt.Sprintf("Computing the bottlenecks: %s's %s maps, which feed the tuned block, at %dx%d%s", name, app.TransferFineTuneFrom, size, size, deviceStatus(r.Device())))
			} else {
				p.setStatus(fmt.Sprintf("Computing the bottlenecks: %s, %s pooled, at %dx%d%s", name, layer, size, size, deviceStatus(r.Device())))
			}
			p.drained = make(chan struct{})
			p.updateButtons()
			go p.drain(r, job, p.drained)
		})
	}()
}

// phase is the progress of the phase under way, with the time it began.
type phase struct {
	name     string
	done, of int
	skip     int // work that took no time (cached bottlenecks), left out of the rate
	// part is how much of the unit after done is done, in [0, 1): the pictures of a distorted
	// step already run through the backbone, for steps that take seconds each.
	part      float64
	began     time.Time
	note      string
	extracted bool
}

// eta returns the share of the phase done and the time left at the rate so far ("?" before any
// timed work): the work done counts the part of the unit under way, and the skipped (cached)
// work is left out of the rate.
func (ph phase) eta(now time.Time) (float64, string) {
	done := float64(ph.done) + ph.part
	if ph.of <= 0 {
		return 0, "?"
	}
	n := done - float64(ph.skip)
	if n <= 0 {
		return done / float64(ph.of), "?"
	}
	left := time.Duration(float64(now.Sub(ph.began)) / n * (float64(ph.of) - done))
	return done / float64(ph.of), left.Round(time.Second).String()
}

// drain reads a run's events, renders charts off the UI goroutine, and hands the latest state to
// the UI at most five times a second.
func (p *TransferPanel) drain(r *app.TransferRun, job *app.Job, drained chan struct{}) {
	defer close(drained)
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	var history []app.TransferEvaluation
	var fresh []app.TransferEvaluation
	var skipped []app.TransferSkipped
	var ph, shown *phase
	var done *app.TransferResult
	start := time.Now()
	// trainFrom is when the bottleneck phase last reported: training starts then, so the steps'
	// rate counts the time before the first report of a step.
	var trainFrom time.Time
	stepPhase := func() time.Time {
		if ph != nil && ph.extracted {
			return ph.began
		}
		if !trainFrom.IsZero() {
			return trainFrom
		}
		return time.Now()
	}
	seen := thumbCache{}
	flush := func() {
		if ph == shown && len(fresh) == 0 && len(skipped) == 0 && done == nil {
			return
		}
		var loss, acc image.Image
		if len(fresh) > 0 {
			loss, acc = renderTransferCharts(history)
		}
		var cur phase
		if ph != nil {
			cur = *ph
		}
		var thumbs []image.Image
		switch {
		case done != nil:
			thumbs = seen.of(done.Misclassified)
		case len(fresh) > 0:
			thumbs = seen.of(fresh[len(fresh)-1].Misclassified)
		}
		f, s, d := fresh, skipped, done
		p.do(func() { p.apply(cur, f, s, d, loss, acc, thumbs) })
		shown, fresh, skipped, done = ph, nil, nil, nil
	}
	handle := func(ev app.TransferEvent) {
		switch e := ev.(type) {
		case app.TransferProgress:
			trainFrom = time.Now()
			if ph == nil {
				ph = &phase{name: "Bottlenecks", began: time.Now(), skip: e.Cached}
			}
			ph = &phase{name: "Bottlenecks", done: e.Done, of: e.Of, skip: max(ph.skip, e.Cached), began: ph.began,
				note: fmt.Sprintf("%d from the cache", e.Cached)}
		case app.TransferSkipped:
			skipped = append(skipped, e)
		case app.TransferStepProgress:
			ph = &phase{name: "Step", done: e.Step - 1, of: e.Steps, began: stepPhase(), extracted: true,
				part: float64(e.Pictures) / float64(max(e.Batch, 1)),
				note: fmt.Sprintf("%d of %d distorted pictures through the backbone", e.Pictures, e.Batch)}
			if e.FineTune {
				ph.note = "fine-tuning the last block"
			}
			if e.Pictures >= e.Batch {
				ph.done, ph.part = e.Step, 0
			}
		case app.TransferEvaluation:
			ph = &phase{name: "Step", done: e.Step, of: e.Steps, began: stepPhase(), extracted: true,
				note: "validation " + pctText(e.ValidationAccuracy)}
			history = append(history, e)
			fresh = append(fresh, e)
		case app.TransferDone:
			done = e.Result
		}
	}
	for open := true; open; {
		select {
		case ev, ok := <-r.Events: // the recipe closes Events when it ends
			if open = ok; ok {
				handle(ev)
			}
		case <-ticker.C:
			flush()
		}
	}
	flush()
	err := job.Wait()
	elapsed := time.Since(start)
	p.do(func() { p.finished(r, job, err, elapsed) })
}

func pctText(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", v)
}

func renderTransferCharts(h []app.TransferEvaluation) (image.Image, image.Image) {
	loss, err1 := app.TransferLossPlot(h, 5*vg.Inch, 3.2*vg.Inch)
	acc, err2 := app.TransferAccuracyPlot(h, 5*vg.Inch, 3.2*vg.Inch)
	if err1 != nil || err2 != nil {
		return nil, nil
	}
	return loss, acc
}

func (p *TransferPanel) renderCharts() {
	loss, acc := renderTransferCharts(p.history)
	if loss != nil {
		p.lossImg.Image, p.accImg.Image = loss, acc
		p.lossImg.Refresh()
		p.accImg.Refresh()
	}
}

// apply shows coalesced progress; it runs on the UI goroutine.
func (p *TransferPanel) apply(ph phase, fresh []app.TransferEvaluation, skipped []app.TransferSkipped,
	done *app.TransferResult, loss, acc image.Image, thumbs []image.Image) {
	if ph.of > 0 {
		frac, eta := ph.eta(time.Now())
		p.progress.SetValue(frac)
		p.progressText.SetText(fmt.Sprintf("%s %d of %d · %s · ETA %s", ph.name, ph.done, ph.of, ph.note, eta))
		if ph.extracted && strings.HasPrefix(p.status.Text, "Computing the bottlenecks") {
			if p.run != nil && p.run.Request.Config.Distortions.Any() {
				p.setStatus("Training the new head on distorted pictures: every step runs its batch through the backbone")
			} else if p.run != nil && p.run.Request.Config.FineTune {
				p.setStatus("Training the new head and fine-tuning mixed5: every step runs its batch through the block")
			} else {
				p.setStatus("Training the new head")
			}
		}
	}
	for _, s := range skipped {
		p.logLines = append(p.logLines, "Skipped "+s.Path+": "+s.Reason)
	}
	if len(fresh) > 0 {
		p.history = append(p.history, fresh...)
		for _, e := range fresh {
			p.logLines = append(p.logLines, fmt.Sprintf("Step %d: train %.1f%%, cross-entropy %.4f, validation %s",
				e.Step, e.TrainAccuracy, e.TrainLoss, pctText(e.ValidationAccuracy)))
		}
		if loss != nil {
			p.lossImg.Image, p.accImg.Image = loss, acc
			p.lossImg.Refresh()
			p.accImg.Refresh()
		}
		last := fresh[len(fresh)-1]
		p.showConfusion(last.Confusion, fmt.Sprintf("Validation set at step %d (rows: true class, columns: predicted)", last.Step))
		if done == nil {
			p.showMisclassified(last.Misclassified, thumbs, "validation")
		}
	}
	if len(fresh) > 0 || len(skipped) > 0 {
		p.logList.Refresh()
		p.logList.ScrollToBottom()
	}
	if done != nil {
		set := "test"
		if done.ConfusionSet == app.TransferValidation {
			set = "validation"
		}
		p.showConfusion(done.Confusion, fmt.Sprintf("Final model on the %s set (rows: true class, columns: predicted)", set))
		for _, m := range done.Misclassified {
			p.logLines = append(p.logLines, fmt.Sprintf("Misclassified (%s set): %s: %s taken for %s (%.0f%%)", set,
				filepath.Base(m.Path), p.className(m.True), p.className(m.Predicted), 100*m.Probability))
		}
		p.logLines = append(p.logLines, fmt.Sprintf("Final validation accuracy %s (N=%d), test accuracy %s (N=%d)",
			pctText(done.ValidationAccuracy), done.Counts[app.TransferValidation], pctText(done.TestAccuracy), done.Counts[app.TransferTesting]))
		p.logList.Refresh()
		p.logList.ScrollToBottom()
		p.showMisclassified(done.Misclassified, thumbs, set)
	}
}

// maxGallery bounds the misclassified pictures shown.
const maxGallery = 48

// thumbCache keeps the thumbnails of the misclassified pictures read so far in a run, so that the
// gallery refreshed at every evaluation reads each picture once. It lives on the drain goroutine.
type thumbCache map[string]image.Image

// of returns thumbnails of up to maxGallery of the misclassified pictures, nil where one cannot
// be read; it runs off the UI goroutine.
func (c thumbCache) of(ms []app.TransferMisclassified) []image.Image {
	out := make([]image.Image, min(maxGallery, len(ms)))
	for i := range out {
		path := ms[i].Path
		img, ok := c[path]
		if !ok {
			if full, err := imaging.Open(path, imaging.AutoOrientation(true)); err == nil {
				img = imaging.Thumbnail(full, 120, 120, imaging.Linear)
			}
			c[path] = img
		}
		out[i] = img
	}
	return out
}

// showMisclassified fills the gallery: each picture of set the head got wrong (the validation set
// at the latest evaluation while it trains, the final model's confusion set at the end), with its
// true and predicted classes.
func (p *TransferPanel) showMisclassified(ms []app.TransferMisclassified, thumbs []image.Image, set string) {
	p.gallery.Objects = nil
	for i, m := range ms {
		if i >= len(thumbs) {
			break
		}
		var pic fyne.CanvasObject = widget.NewLabel("(unreadable)")
		if thumbs[i] != nil {
			img := canvas.NewImageFromImage(thumbs[i])
			img.FillMode = canvas.ImageFillContain
			img.SetMinSize(fyne.NewSize(120, 120))
			pic = img
		}
		caption := widget.NewLabel(fmt.Sprintf("%s → %s", shorten(p.className(m.True), 9), shorten(p.className(m.Predicted), 9)))
		caption.Alignment = fyne.TextAlignCenter
		caption.SizeName = theme.SizeNameCaptionText
		p.gallery.Add(container.NewBorder(nil, caption, nil, nil, pic))
	}
	p.gallery.Refresh()
	title := fmt.Sprintf("Misclassified (%d, %s set)", len(ms), set)
	if len(ms) > len(thumbs) {
		title = fmt.Sprintf("Misclassified (%d shown of %d, %s set)", len(thumbs), len(ms), set)
	}
	p.bottomTabs.Items[1].Text = title
	p.bottomTabs.Refresh()
}

func (p *TransferPanel) className(i int) string {
	if p.run != nil && i < len(p.run.Data.Classes) {
		return p.run.Data.Classes[i]
	}
	return fmt.Sprint(i)
}

// showConfusion draws the matrix as a grid: class names on the left and on top, the counts, the
// diagonal (the pictures classified right) highlighted, and each class's accuracy on the right.
// Cells are plain text on a rectangle (labels' padding would make ten classes too wide).
func (p *TransferPanel) showConfusion(m [][]int, caption string) {
	p.confusionCap.SetText(caption)
	n := len(m)
	fg := theme.Color(theme.ColorNameForeground)
	cell := func(s string, bold, italic bool, bg color.Color, align fyne.TextAlign) fyne.CanvasObject {
		t := canvas.NewText(s, fg)
		t.Alignment = align
		t.TextStyle = fyne.TextStyle{Bold: bold, Italic: italic}
		r := canvas.NewRectangle(bg)
		r.SetMinSize(fyne.NewSize(max(t.MinSize().Width+12, 44), t.MinSize().Height+10))
		return container.NewStack(r, container.NewCenter(t))
	}
	none := color.Transparent
	cells := make([]fyne.CanvasObject, 0, (n+1)*(n+2))
	cells = append(cells, cell("", false, false, none, fyne.TextAlignLeading))
	for j := 0; j < n; j++ {
		cells = append(cells, cell(shorten(p.className(j), 10), true, false, none, fyne.TextAlignCenter))
	}
	cells = append(cells, cell("right", false, true, none, fyne.TextAlignCenter))
	for i, row := range m {
		cells = append(cells, cell(shorten(p.className(i), 12), true, false, none, fyne.TextAlignLeading))
		total := 0
		for _, v := range row {
			total += v
		}
		for j, v := range row {
			var bg color.Color = none
			switch {
			case i == j:
				bg = withAlpha(theme.Color(theme.ColorNameSuccess), 0x70)
			case v > 0:
				bg = withAlpha(theme.Color(theme.ColorNameError), uint8(0x20+0x60*v/max(total, 1)))
			}
			cells = append(cells, cell(strconv.Itoa(v), i == j, false, bg, fyne.TextAlignCenter))
		}
		acc := "-"
		if total > 0 {
			acc = fmt.Sprintf("%.0f%%", 100*float64(row[i])/float64(total))
		}
		cells = append(cells, cell(acc, false, true, none, fyne.TextAlignCenter))
	}
	// One column after another, each as wide as its widest cell.
	cols := make([]fyne.CanvasObject, n+2)
	for c := range cols {
		col := container.NewVBox()
		for r := 0; r <= n; r++ {
			col.Add(cells[r*(n+2)+c])
		}
		cols[c] = col
	}
	p.confusion.Objects = cols
	p.confusion.Layout = container.NewHBox().Layout
	p.confusion.Refresh()
}

func withAlpha(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// finished shows how a run ended; it runs on the UI goroutine.
func (p *TransferPanel) finished(r *app.TransferRun, job *app.Job, err error, elapsed time.Duration) {
	if job != p.job {
		return
	}
	switch {
	case err != nil:
		p.setStatus("Failed: " + err.Error())
		showError(err, p.win)
	case job.State() == app.Cancelled:
		p.setStatus("Stopped.")
	default:
		res := r.Result()
		p.model = r.Model()
		p.progress.SetValue(1)
		p.progressText.SetText(fmt.Sprintf("Done in %s", elapsed.Round(100*time.Millisecond)))
		p.setStatus(fmt.Sprintf("Finished: validation accuracy %s (N=%d), test accuracy %s (N=%d); %d bottlenecks computed, %d from the cache.",
			pctText(res.ValidationAccuracy), res.Counts[app.TransferValidation], pctText(res.TestAccuracy),
			res.Counts[app.TransferTesting], res.Computed, res.Extraction.Cached))
	}
	p.updateButtons()
}

// TogglePause pauses or resumes the run.
func (p *TransferPanel) TogglePause() {
	if !p.running() {
		return
	}
	p.job.TogglePause()
	p.updateButtons()
}

// Stop cancels the run; the drain goroutine reports it.
func (p *TransferPanel) Stop() {
	if p.running() {
		p.job.Cancel()
	}
}

// SaveModelDialog asks where to save the retrained model.
func (p *TransferPanel) SaveModelDialog() {
	if p.model == nil {
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		path := w.URI().Path()
		w.Close()
		p.SaveModel(path)
	}, p.win)
	d.SetFileName("retrained.ckpt")
	d.SetFilter(storage.NewExtensionFileFilter([]string{".ckpt"}))
	d.Show()
}

// SaveModel writes the retrained model to path on a background goroutine.
func (p *TransferPanel) SaveModel(path string) {
	m := p.model
	if m == nil {
		return
	}
	go func() {
		err := app.SaveTransferModel(path, m)
		p.do(func() {
			if err != nil {
				showError(err, p.win)
				return
			}
			p.setStatus("Saved the model to " + path + " (convas classify --model " + path + " PICTURE... uses it)")
		})
	}()
}

// ClassifyDialog asks for a picture and shows the model's top 5 classes for it.
func (p *TransferPanel) ClassifyDialog() {
	if p.model == nil {
		return
	}
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		p.Classify(path)
	}, p.win)
	d.SetFilter(storage.NewExtensionFileFilter(pictureExts))
	d.Show()
}

// Classify runs the model on a picture on a background goroutine and shows the top 5 with their
// probabilities.
func (p *TransferPanel) Classify(path string) {
	m := p.model
	if m == nil {
		return
	}
	go func() {
		c, err := p.core.NewClassifier(m)
		var preds []app.TransferPrediction
		var thumb image.Image
		if err == nil {
			defer c.Close()
			preds, err = c.Classify(path, 5)
		}
		if err == nil {
			if img, err := imaging.Open(path, imaging.AutoOrientation(true)); err == nil {
				thumb = imaging.Fit(img, 224, 224, imaging.Linear)
			}
		}
		p.do(func() {
			if err != nil {
				showError(err, p.win)
				return
			}
			p.LastPredictions = preds
			p.showPredictions(path, preds, thumb)
		})
	}()
}

func (p *TransferPanel) showPredictions(path string, preds []app.TransferPrediction, thumb image.Image) {
	rows := container.New(layout.NewFormLayout()) // names in one column, bars aligned in the next
	for _, pr := range preds {
		bar := widget.NewProgressBar()
		bar.SetValue(pr.Probability)
		bar.TextFormatter = func() string { return fmt.Sprintf("%.1f%%", 100*pr.Probability) }
		rows.Add(widget.NewLabel(shorten(pr.Label, 24)))
		rows.Add(container.NewGridWrap(fyne.NewSize(260, 30), bar))
	}
	head := widget.NewLabelWithStyle(fmt.Sprintf("%s: %s (%.1f%%)", filepath.Base(path), preds[0].Label, 100*preds[0].Probability),
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	var left fyne.CanvasObject = widget.NewLabel("")
	if thumb != nil {
		img := canvas.NewImageFromImage(thumb)
		img.FillMode = canvas.ImageFillContain
		img.SetMinSize(fyne.NewSize(160, 160))
		left = img
	}
	p.setStatus(head.Text)
	dialog.ShowCustom("Top 5", "Close", container.NewBorder(head, nil, left, nil, rows), p.win)
}

// Dropped handles files dropped on the window while the panel is on screen: a folder becomes
// the data, a picture is classified by the retrained model.
func (p *TransferPanel) Dropped(uris []fyne.URI) {
	for _, u := range uris {
		path := u.Path()
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			p.SetFolder(path)
			return
		}
		if p.model != nil {
			p.Classify(path)
			return
		}
	}
}

// Shutdown stops a run and waits until its events are drained.
func (p *TransferPanel) Shutdown() {
	p.Stop()
	if p.job != nil {
		<-p.job.Done()
	}
}
