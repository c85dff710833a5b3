package ui

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"convas/app"
)

// StylePanel is neural style transfer: a content picture and a style picture side by side with
// the result forming step by step, the losses charted, and the weights adjustable while it runs.
type StylePanel struct {
	core *app.App
	win  fyne.Window
	do   func(func())

	presetSel              *widget.Select
	presets                map[string]app.StylePreset
	networkSel             *widget.Select
	networks               map[string]app.StyleNetwork
	contentSel, styleSel   *widget.Select
	contentPath, stylePath string
	contentImg, styleImg   *canvas.Image
	credit                 *widget.Label             // where the built-in pictures chosen come from
	weights                map[string]*widget.Slider // content, style, tv: log10 of the weight
	weightText             map[string]*widget.Label
	exactWeight            map[string][2]float64 // slider value and the exact weight set there
	layerChecks            *fyne.Container
	layerOn                map[string]*widget.Check
	layerWeight            map[string]*widget.Entry
	layerKind, layerSel    *widget.Select // a layer to add, and whether for content or style
	extraStyles            []*styleRow
	extraBox               *fyne.Container
	estimate               *widget.Label
	optimizerSel           *widget.Select
	fields                 map[string]*widget.Entry
	preserve, coarse       *widget.Check
	initSel                *widget.Select
	initPath               string // the starting picture of init "picture"
	initLabel              *widget.Label

	startBtn, pauseBtn, stopBtn, saveBtn *widget.Button
	result                               *canvas.Image
	chart                                *canvas.Image
	progress                             *widget.ProgressBar
	progressText                         *widget.Label
	progressBase                         string // the progress of the last generation
	strip                                *fyne.Container
	status                               *widget.Label

	cfg app.StyleConfig // the preset as chosen, before the form's changes
	run *app.StyleRun
	job *app.Job

	// The live estimate: every change of the settings asks for one (estimateSeq counts the
	// asks, on the UI goroutine); after estimateDelay without another, it is computed off the UI
	// goroutine; a result is shown only if no newer ask came meanwhile.
	estimator     *app.StyleEstimator
	estimateSeq   int64
	estimateAsked atomic.Int64 // estimateSeq, for the estimating goroutines
	estimateTimer *time.Timer
	estimateStop  context.CancelFunc // stops the estimate being computed (a step being timed)
	estimated     *app.StyleEstimate // the estimate shown, of the settings as they are when estimateShown == estimateSeq
	estimateShown int64
	estimateRuns  atomic.Int32 // estimates computed, for tests

	framesShown int  // frames put on the result preview during the current run
	starting    bool // Start is loading a run: no step is timed for the estimate meanwhile
}

// estimateDelay is how long the settings must rest before they are estimated.
const estimateDelay = 300 * time.Millisecond

// frameInterval is the shortest time between two frames on the preview (60 Hz): every
// generation is shown when generations take longer.
const frameInterval = time.Second / 60

// Init choices of the panel: the recipe's noise, the content picture, or a picture of the
// user's.
const (
	initNoise   = "noise"
	initContent = "content"
	initPicture = "picture"
)

// styleRow is one more style picture of a blend, with its weight.
type styleRow struct {
	path   string
	weight *widget.Entry
	row    fyne.CanvasObject
}

// styleFields are the numeric settings shown as entries.
var styleFields = []string{"iterations", "size", "seed", "learning_rate", "style_scale", "every"}

// NewStylePanel builds the panel; do runs a function on the UI goroutine.
func NewStylePanel(core *app.App, win fyne.Window, do func(func())) *StylePanel {
	p := &StylePanel{core: core, win: win, do: do, presets: map[string]app.StylePreset{}, networks: map[string]app.StyleNetwork{},
		weights: map[string]*widget.Slider{}, weightText: map[string]*widget.Label{}, layerOn: map[string]*widget.Check{},
		exactWeight: map[string][2]float64{},
		fields:      map[string]*widget.Entry{}}
	samples := core.Samples()
	p.contentImg, p.styleImg = thumb(), thumb()
	p.credit = widget.NewLabel("")
	p.credit.Wrapping = fyne.TextWrapWord
	p.credit.TextStyle.Italic = true
	p.contentSel = widget.NewSelect(samples, func(s string) { p.setPicture(&p.contentPath, p.contentImg, p.samplePath(s)) })
	p.styleSel = widget.NewSelect(samples, func(s string) { p.setPicture(&p.stylePath, p.styleImg, p.samplePath(s)) })
	p.networkSel = widget.NewSelect(p.networkTitles(), func(t string) {
		if n := p.networks[t]; n.Available {
			p.selectPreset(n.Preset)
		}
		p.requestEstimate()
	})
	for _, k := range []string{"content", "style", "tv"} {
		k := k
		s := widget.NewSlider(-3, 4)
		s.Step = 0.05
		s.OnChanged = func(float64) { p.weightChanged(k) }
		p.weights[k] = s
		p.weightText[k] = widget.NewLabel("")
	}
	p.layerChecks = container.NewVBox()
	p.layerKind = widget.NewSelect([]string{"style", "content"}, nil)
	p.layerKind.SetSelected("style")
	p.layerSel = widget.NewSelect(nil, nil)
	p.layerSel.PlaceHolder = "(a layer)"
	p.layerWeight = map[string]*widget.Entry{}
	p.extraBox = container.NewVBox()
	p.estimate = widget.NewLabel("")
	p.estimate.Wrapping = fyne.TextWrapWord
	p.optimizerSel = widget.NewSelect([]string{"adam", "lbfgs"}, nil)
	for _, k := range styleFields {
		p.fields[k] = widget.NewEntry()
	}
	p.preserve = widget.NewCheck("Keep the content's colours", nil)
	p.coarse = widget.NewCheck(fmt.Sprintf("Coarse to fine (from %d px up by √2)", app.StyleCoarseStart), func(bool) { p.requestEstimate() })
	p.initSel = widget.NewSelect([]string{initNoise, initContent, initPicture}, func(s string) {
		if s == initPicture && p.initPath == "" {
			p.InitDialog()
		}
	})
	p.initLabel = widget.NewLabel("")
	p.optimizerSel.OnChanged = func(string) { p.requestEstimate() }
	for _, k := range []string{"iterations", "size", "style_scale"} {
		p.fields[k].OnChanged = func(string) { p.requestEstimate() }
	}
	p.estimator = core.NewStyleEstimator()
	var titles []string
	for _, pr := range core.StylePresets() {
		titles = append(titles, pr.Title)
		p.presets[pr.Title] = pr
	}
	p.presetSel = widget.NewSelect(titles, func(t string) { p.applyPreset(p.presets[t]); p.requestEstimate() })

	p.startBtn = widget.NewButtonWithIcon("Stylize", theme.MediaPlayIcon(), p.Start)
	p.startBtn.Importance = widget.HighImportance
	p.pauseBtn = widget.NewButtonWithIcon("Pause", theme.MediaPauseIcon(), p.TogglePause)
	p.stopBtn = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), p.Stop)
	p.saveBtn = widget.NewButtonWithIcon("Save PNG...", theme.DocumentSaveIcon(), p.SaveDialog)
	p.result = canvas.NewImageFromImage(image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	p.result.FillMode = canvas.ImageFillContain
	p.result.SetMinSize(fyne.NewSize(300, 220))
	p.chart = canvas.NewImageFromImage(image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	p.chart.FillMode = canvas.ImageFillContain
	p.chart.SetMinSize(fyne.NewSize(250, 190))
	p.progress = widget.NewProgressBar()
	p.progressText = widget.NewLabel("Pick a content and a style picture, then Stylize.")
	p.strip = container.NewHBox()
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord

	p.selectPreset(core.DefaultStylePreset())
	for _, s := range samples {
		if strings.HasPrefix(s, "chelsea") {
			p.contentSel.SetSelected(s)
		}
		if strings.HasPrefix(s, "scream") {
			p.styleSel.SetSelected(s)
		}
	}
	p.updateButtons()
	return p
}

func thumb() *canvas.Image {
	img := canvas.NewImageFromImage(image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSize(150, 110))
	return img
}

func (p *StylePanel) samplePath(name string) string {
	path, err := p.core.SamplePath(name)
	if err != nil {
		showError(err, p.win)
	}
	return path
}

// View returns the panel's content.
func (p *StylePanel) View() fyne.CanvasObject {
	open := func(dst *string, img *canvas.Image) *widget.Button {
		return widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() { p.openDialog(dst, img) })
	}
	form := widget.NewForm()
	form.Append("Preset", p.presetSel)
	form.Append("Network", p.networkSel)
	form.Append("Content", container.NewBorder(nil, nil, nil, open(&p.contentPath, p.contentImg), p.contentSel))
	form.Append("Style", container.NewBorder(nil, nil, nil, open(&p.stylePath, p.styleImg), p.styleSel))
	form.Append("", p.credit)
	form.Append("", container.NewVBox(p.extraBox, widget.NewButtonWithIcon("Blend in another style...", theme.ContentAddIcon(), p.AddStyleDialog)))
	for _, k := range []string{"content", "style", "tv"} {
		form.Append(k+" weight", container.NewBorder(nil, nil, nil, p.weightText[k], p.weights[k]))
	}
	form.Append("Optimizer", p.optimizerSel)
	for _, k := range styleFields {
		form.Append(k, p.fields[k])
	}
	form.Append("Start from", container.NewBorder(nil, nil, nil,
		container.NewHBox(p.initLabel, widget.NewButtonWithIcon("", theme.FolderOpenIcon(), p.InitDialog)), p.initSel))
	form.Append("", p.preserve)
	form.Append("", p.coarse)
	form.Append("Layers", p.layerChecks)
	addLayer := widget.NewButtonWithIcon("", theme.ContentAddIcon(), func() {
		if err := p.AddLayer(p.layerKind.Selected, p.layerSel.Selected); err != nil {
			p.status.SetText(err.Error())
		}
	})
	form.Append("Add layer", container.NewBorder(nil, nil, p.layerKind, addLayer, p.layerSel))
	left := container.NewBorder(nil, container.NewVBox(p.estimate, container.NewHBox(p.startBtn, p.pauseBtn, p.stopBtn, p.saveBtn), p.status),
		nil, nil, container.NewVScroll(form))
	pictures := container.NewGridWithColumns(2, p.contentImg, p.styleImg)
	right := container.NewBorder(container.NewVBox(p.progressText, p.progress), container.NewHScroll(p.strip), nil, nil,
		container.NewBorder(pictures, nil, nil, p.chart, p.result))
	split := container.NewHSplit(left, right)
	split.Offset = 0.34
	return split
}

func (p *StylePanel) running() bool { return p.job != nil && p.job.State() <= app.Paused }

func (p *StylePanel) updateButtons() {
	setEnabled(p.startBtn, !p.running() && p.contentPath != "" && p.stylePath != "")
	setEnabled(p.pauseBtn, p.running())
	setEnabled(p.stopBtn, p.running())
	setEnabled(p.saveBtn, p.run != nil && p.run.Result() != nil)
	if p.job != nil && p.job.State() == app.Paused {
		p.pauseBtn.SetText("Resume")
	} else {
		p.pauseBtn.SetText("Pause")
	}
}

func (p *StylePanel) setPicture(dst *string, img *canvas.Image, path string) {
	if path == "" {
		return
	}
	*dst = path
	p.showCredit()
	go func() {
		m, err := app.OpenStylePicture(path)
		p.do(func() {
			if err != nil {
				showError(err, p.win)
				return
			}
			img.Image = m.ToNRGBA()
			img.Refresh()
			p.updateButtons()
			p.requestEstimate()
		})
	}()
}

func (p *StylePanel) openDialog(dst *string, img *canvas.Image) {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		p.setPicture(dst, img, path)
		if dst == &p.contentPath {
			p.restoreFrom(path)
		}
	}, p.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff"}))
	d.Show()
}

// Open takes a dropped picture as the content; a PNG saved by Convas restores its settings.
func (p *StylePanel) Open(path string) {
	p.setPicture(&p.contentPath, p.contentImg, path)
	p.restoreFrom(path)
}

func (p *StylePanel) restoreFrom(path string) {
	cfg, err := app.ReadStyleSettings(path)
	if err != nil {
		return
	}
	p.applyPreset(app.StylePreset{Title: "from " + filepath.Base(path), Config: cfg})
	p.status.SetText(fmt.Sprintf("Restored the settings %s was made with (network %s).", filepath.Base(path), cfg.Model))
}

func (p *StylePanel) selectPreset(name string) {
	for t, pr := range p.presets {
		if pr.Name == name || pr.Name == "style-"+name {
			p.presetSel.SetSelected(t)
			return
		}
	}
}

func (p *StylePanel) applyPreset(pr app.StylePreset) {
	p.cfg = pr.Config.Clone()
	c := p.cfg
	for t, n := range p.networks {
		if n.Name == c.Model && p.networkSel.Selected != t {
			p.networkSel.Selected = t
			p.networkSel.Refresh()
		}
	}
	p.setWeight("content", c.ContentWeight)
	p.setWeight("style", c.StyleWeight)
	p.setWeight("tv", c.TVWeight)
	p.optimizerSel.SetSelected(c.Optimizer)
	vals := map[string]string{"iterations": fmt.Sprint(c.Iterations), "size": fmt.Sprint(c.Size), "seed": fmt.Sprint(c.Seed),
		"learning_rate": fmt.Sprint(c.LearningRate), "style_scale": fmt.Sprint(c.StyleScale), "every": fmt.Sprint(c.Every)}
	for k, v := range vals {
		p.fields[k].SetText(v)
	}
	p.preserve.SetChecked(c.PreserveColors)
	p.coarse.SetChecked(c.CoarseToFine)
	switch c.Init {
	case initNoise, initContent:
		p.initSel.SetSelected(c.Init)
	default:
		p.initPath = c.Init
		p.initLabel.SetText(filepath.Base(c.Init))
		p.initSel.SetSelected(initPicture)
	}
	p.layerChecks.Objects = nil
	p.layerOn = map[string]*widget.Check{}
	p.layerWeight = map[string]*widget.Entry{}
	add := func(kind string, layers map[string]float64) {
		names := make([]string, 0, len(layers))
		for n := range layers {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p.addLayerRow(kind, n, layers[n])
		}
	}
	add("content", c.ContentLayers)
	add("style", c.StyleLayers)
	p.layerChecks.Refresh()
	p.loadLayerChoices(c.Model)
}

// addLayerRow adds a layer's check box and weight to the form.
func (p *StylePanel) addLayerRow(kind, name string, weight float64) {
	key := kind + ":" + name
	chk := widget.NewCheck(kind+" "+name, func(bool) { p.weightChanged("") })
	chk.SetChecked(true)
	e := widget.NewEntry()
	e.SetText(strconv.FormatFloat(weight, 'g', 4, 64))
	e.OnChanged = func(string) { p.weightChanged("") }
	p.layerOn[key], p.layerWeight[key] = chk, e
	p.layerChecks.Add(container.NewGridWithColumns(2, chk, e))
}

// loadLayerChoices lists the layers of a network in the add-a-layer picker, off the UI
// goroutine (VGG-19 takes seconds to load the first time).
func (p *StylePanel) loadLayerChoices(model string) {
	if p.layerSel == nil {
		return
	}
	go func() {
		layers, err := p.estimator.Layers(model)
		p.do(func() {
			if err != nil || p.cfg.Model != model {
				return
			}
			names := make([]string, 0, len(layers))
			for _, l := range layers {
				names = append(names, l.Name)
			}
			p.layerSel.SetOptions(names)
		})
	}()
}

// AddLayer adds a layer of the network to the content or style layers (kind "content" or
// "style") with weight 1. The run's graph holds its layers, so a layer is added between runs.
func (p *StylePanel) AddLayer(kind, name string) error {
	if p.running() {
		return fmt.Errorf("a layer is added between runs (Stop first); a running transfer's layer weights can change")
	}
	layers := p.cfg.StyleLayers
	if kind == "content" {
		layers = p.cfg.ContentLayers
	}
	if name == "" || layers == nil {
		return fmt.Errorf("pick a layer")
	}
	if _, ok := layers[name]; ok {
		return fmt.Errorf("%s is a %s layer already", name, kind)
	}
	layers[name] = 1
	p.addLayerRow(kind, name, 1)
	p.layerChecks.Refresh()
	p.requestEstimate()
	return nil
}

// setWeight puts a weight on its slider (log10 scale) without applying it to a run.
func (p *StylePanel) setWeight(k string, w float64) {
	s := p.weights[k]
	on := s.OnChanged
	s.OnChanged = nil
	if w > 0 {
		s.SetValue(math.Log10(w))
	} else {
		s.SetValue(s.Min)
	}
	s.OnChanged = on
	p.exactWeight[k] = [2]float64{s.Value, w}
	p.weightText[k].SetText(fmt.Sprintf("%.3g", w))
}

// weight returns a slider's weight: the one a preset or a saved picture set, exactly, until the
// slider is moved (its steps of 0.05 in log10 and its range would round it), then 10^value.
func (p *StylePanel) weight(k string) float64 {
	v := p.weights[k].Value
	if e, ok := p.exactWeight[k]; ok && e[0] == v {
		return e[1]
	}
	if v <= p.weights[k].Min {
		return 0
	}
	return math.Pow(10, v)
}

// currentWeights reads the sliders and layer boxes.
func (p *StylePanel) currentWeights() app.StyleWeights {
	w := app.StyleWeights{Content: p.weight("content"), Style: p.weight("style"), TV: p.weight("tv"),
		ContentLayers: map[string]float64{}, StyleLayers: map[string]float64{}}
	layer := func(key string, preset float64) float64 {
		if chk := p.layerOn[key]; chk != nil && !chk.Checked {
			return 0
		}
		if e := p.layerWeight[key]; e != nil {
			if v, err := strconv.ParseFloat(strings.TrimSpace(e.Text), 64); err == nil && v >= 0 {
				return v
			}
		}
		return preset
	}
	for n, v := range p.cfg.ContentLayers {
		w.ContentLayers[n] = layer("content:"+n, v)
	}
	for n, v := range p.cfg.StyleLayers {
		w.StyleLayers[n] = layer("style:"+n, v)
	}
	return w
}

// weightChanged shows a slider's value and, while a run goes on, applies every weight from the
// next iteration.
func (p *StylePanel) weightChanged(k string) {
	if k != "" {
		p.weightText[k].SetText(fmt.Sprintf("%.3g", p.weight(k)))
	}
	if p.running() {
		if err := p.run.SetWeights(p.currentWeights()); err != nil {
			p.status.SetText(err.Error())
		} else {
			p.status.SetText("Weights changed: they apply from the next iteration.")
		}
	}
}

// readConfig gathers the form into a configuration.
func (p *StylePanel) readConfig() (app.StyleConfig, error) {
	cfg := p.cfg.Clone()
	cfg.Model = p.networks[p.networkSel.Selected].Name
	cfg.Content = p.contentPath
	cfg.Styles = []app.StylePicture{{Image: p.stylePath, Weight: 1}}
	for _, r := range p.extraStyles {
		v, err := strconv.ParseFloat(strings.TrimSpace(r.weight.Text), 64)
		if err != nil || v < 0 {
			return cfg, fmt.Errorf("style %s: weight %q is not a number of 0 or more", filepath.Base(r.path), r.weight.Text)
		}
		cfg.Styles = append(cfg.Styles, app.StylePicture{Image: r.path, Weight: v})
	}
	w := p.currentWeights()
	cfg.ContentWeight, cfg.StyleWeight, cfg.TVWeight = w.Content, w.Style, w.TV
	cfg.ContentLayers, cfg.StyleLayers = w.ContentLayers, w.StyleLayers
	cfg.Optimizer = p.optimizerSel.Selected
	cfg.PreserveColors = p.preserve.Checked
	cfg.CoarseToFine = p.coarse.Checked
	switch p.initSel.Selected {
	case initNoise, initContent:
		cfg.Init = p.initSel.Selected
	case initPicture:
		if p.initPath == "" {
			return cfg, fmt.Errorf("start from: choose the starting picture")
		}
		cfg.Init = p.initPath
	}
	ints := map[string]*int{"iterations": &cfg.Iterations, "size": &cfg.Size, "every": &cfg.Every}
	for k, dst := range ints {
		v, err := strconv.Atoi(strings.TrimSpace(p.fields[k].Text))
		if err != nil {
			return cfg, fmt.Errorf("%s: %q is not a whole number", k, p.fields[k].Text)
		}
		*dst = v
	}
	floats := map[string]*float64{"learning_rate": &cfg.LearningRate, "style_scale": &cfg.StyleScale}
	for k, dst := range floats {
		v, err := strconv.ParseFloat(strings.TrimSpace(p.fields[k].Text), 64)
		if err != nil {
			return cfg, fmt.Errorf("%s: %q is not a number", k, p.fields[k].Text)
		}
		*dst = v
	}
	seed, err := strconv.ParseInt(strings.TrimSpace(p.fields["seed"].Text), 10, 64)
	if err != nil {
		return cfg, fmt.Errorf("seed: %q is not a whole number", p.fields["seed"].Text)
	}
	cfg.Seed = seed
	return cfg, cfg.Validate()
}

// Start begins a transfer with the panel's settings.
func (p *StylePanel) Start() {
	if p.running() {
		return
	}
	cfg, err := p.readConfig()
	if err != nil {
		showError(err, p.win)
		return
	}
	// The estimate of these very settings says they do not fit: refuse at once, with the largest
	// size that does (NewStyle checks the real pictures again).
	if e := p.estimated; e != nil && p.estimateShown == p.estimateSeq && !e.Fits() {
		p.status.SetText(e.Err().Error())
		showError(e.Err(), p.win)
		return
	}
	// A step being timed for the estimate would slow the run's start and be slowed by it: stop
	// it; the estimate is asked again once the run is going (without timing).
	if p.estimateStop != nil {
		p.estimateStop()
	}
	p.starting = true
	p.status.SetText("Loading the network and the pictures...")
	setEnabled(p.startBtn, false)
	go func() {
		r, err := p.core.NewStyle(cfg)
		var job *app.Job
		if err == nil {
			job, err = r.Start()
		}
		p.do(func() {
			p.starting = false
			if err != nil {
				p.status.SetText("")
				p.updateButtons()
				showError(err, p.win)
				p.requestEstimate()
				return
			}
			p.run, p.job = r, job
			p.framesShown, p.progressBase = 0, ""
			p.requestEstimate()
			p.strip.Objects = nil
			p.strip.Refresh()
			p.status.SetText("Stylizing with " + cfg.Model + deviceStatus(r.Device()))
			p.updateButtons()
			go p.drain(r, job)
		})
	}()
}

// drain coalesces a run's events: every frame, or the newest at most 60 times a second, the
// chart at most 4 times a second, every saved generation, and the rest 10 times a second.
func (p *StylePanel) drain(r *app.StyleRun, job *app.Job) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var losses []app.StyleIteration
	var frame image.Image
	var last *app.StyleIteration
	var saved []image.Image
	var final image.Image
	lastChart, lastFrame := time.Time{}, time.Time{}
	var frameDue <-chan time.Time // when the frame held back may be shown
	chartStale := false           // iterations came since the chart was drawn
	// A generation that takes longer than heartbeatAfter is shown in progress every second.
	lastIteration, step, beat := time.Now(), 0, 0
	flush := func(force bool) {
		var chart image.Image
		if chartStale && (force || time.Since(lastChart) > 250*time.Millisecond) {
			chart = lossChart(losses)
			lastChart, chartStale = time.Now(), false
		}
		if frame == nil && chart == nil && len(saved) == 0 && final == nil && last == nil {
			return
		}
		f, c, s, fin, it := frame, chart, saved, final, last
		p.do(func() { p.apply(f, c, s, fin, it) })
		if frame != nil {
			lastFrame, frameDue = time.Now(), nil
		}
		frame, saved, final, last = nil, nil, nil, nil
	}
	handle := func(e app.StyleEvent) {
		switch e := e.(type) {
		case app.StyleIteration:
			losses = append(losses, e)
			last, chartStale = &e, true
			lastIteration, step, beat = time.Now(), e.Step, 0
		case app.StyleFrame:
			frame = e.Img.ToNRGBA()
			// Every generation when they come slower than 60 a second; the newest otherwise, as
			// soon as 1/60 s has passed since the last.
			if wait := frameInterval - time.Since(lastFrame); wait <= 0 {
				flush(false)
			} else if frameDue == nil {
				frameDue = time.After(wait)
			}
		case app.StyleSaved:
			saved = append(saved, e.Img.ToNRGBA())
		case app.StyleDone:
			final = e.Img.ToNRGBA()
		}
	}
	for {
		select {
		case e := <-r.Events:
			handle(e)
		case <-tick.C:
			flush(false)
			if s := int(time.Since(lastIteration) / time.Second); time.Since(lastIteration) >= heartbeatAfter && s != beat && job.State() == app.Running {
				beat = s
				n := step + 1
				p.do(func() { p.heartbeat(n, s) })
			}
		case <-frameDue:
			flush(false)
		case <-job.Done():
			for len(r.Events) > 0 {
				handle(<-r.Events)
			}
			flush(true)
			err := job.Wait()
			p.do(func() { p.finished(job, err) })
			return
		}
	}
}

// heartbeatAfter is how long a generation may take before the panel shows it in progress.
const heartbeatAfter = 3 * time.Second

// heartbeat shows that generation n has been in the making for s seconds (a generation of a
// large picture takes tens of seconds; the preview changes only when it is done).
func (p *StylePanel) heartbeat(n, s int) {
	if p.progressBase == "" { // the targets and the first step
		p.progressText.SetText(fmt.Sprintf("Generation %d in the making, %ds so far", n, s))
		return
	}
	p.progressText.SetText(fmt.Sprintf("%s · generation %d in the making, %ds so far", p.progressBase, n, s))
}

func (p *StylePanel) apply(frame, chart image.Image, saved []image.Image, final image.Image, it *app.StyleIteration) {
	if frame != nil {
		p.result.Image = frame
		p.result.Refresh()
		p.framesShown++
	}
	if final != nil {
		p.result.Image = final
		p.result.Refresh()
	}
	if chart != nil {
		p.chart.Image = chart
		p.chart.Refresh()
	}
	for _, s := range saved {
		img := canvas.NewImageFromImage(s)
		img.FillMode = canvas.ImageFillContain
		img.SetMinSize(fyne.NewSize(96, 72))
		p.strip.Add(img)
	}
	if it != nil {
		p.progress.SetValue(float64(it.Step) / float64(it.Of))
		eta := time.Duration(float64(it.Elapsed) / float64(it.Step) * float64(it.Of-it.Step)).Round(time.Second)
		p.progressBase = fmt.Sprintf("Generation %d of %d · total loss %.4g (content %.3g, style %.3g, TV %.3g) · ETA %s",
			it.Step, it.Of, it.Losses.Total, it.Losses.Content, it.Losses.Style, it.Losses.TV, eta)
		p.progressText.SetText(p.progressBase)
	}
}

func (p *StylePanel) finished(job *app.Job, err error) {
	if p.job != job {
		return
	}
	switch job.State() {
	case app.Cancelled:
		p.status.SetText("Stopped.")
	case app.Failed:
		p.status.SetText("")
		showError(err, p.win)
	default:
		p.status.SetText("Done. Save PNG keeps the picture with its settings.")
	}
	p.updateButtons()
	p.requestEstimate() // the time may not have been measured while it ran
}

// TogglePause pauses or resumes the transfer.
func (p *StylePanel) TogglePause() {
	if !p.running() {
		return
	}
	p.job.TogglePause()
	p.updateButtons()
}

// Stop ends the transfer at its next iteration.
func (p *StylePanel) Stop() {
	if p.running() {
		p.job.Cancel()
		p.status.SetText("Stopping...")
	}
}

// networkTitles fills p.networks from the style networks as they are now and returns the
// picker's titles, a missing network marked with where to get it.
func (p *StylePanel) networkTitles() []string {
	p.networks = map[string]app.StyleNetwork{}
	var titles []string
	for _, n := range p.core.StyleNetworks() {
		t := n.Title
		if !n.Available {
			t += " (not downloaded: Models tab)"
		}
		titles = append(titles, t)
		p.networks[t] = n
	}
	return titles
}

// RefreshChoices relabels the network picker from the networks as they are now (one fetched in
// the Models tab becomes available), keeping the choice.
func (p *StylePanel) RefreshChoices() {
	chosen := p.networks[p.networkSel.Selected].Name
	relabel(p.networkSel, p.networkTitles(), func(t string) bool { return p.networks[t].Name == chosen })
}

// SaveDialog saves the result as PNG with the settings in its text chunks.
func (p *StylePanel) SaveDialog() {
	if p.run == nil || p.run.Result() == nil {
		return
	}
	name := strings.TrimSuffix(filepath.Base(p.contentPath), filepath.Ext(p.contentPath)) + "-styled.png"
	res, settings := p.run.Result(), p.run.Settings()
	savePictureDialog(p.win, name, func(path string) error { return app.SaveStylePNG(path, res, settings) }, p.status)
}

// lossChart draws the content, style, TV and total losses against the generation.
func lossChart(its []app.StyleIteration) image.Image {
	pl := plot.New()
	pl.Title.Text = "Losses"
	pl.X.Label.Text = "Generation"
	series := []struct {
		name string
		get  func(app.StyleLosses) float64
	}{
		{"total", func(l app.StyleLosses) float64 { return l.Total }},
		{"content", func(l app.StyleLosses) float64 { return l.Content }},
		{"style", func(l app.StyleLosses) float64 { return l.Style }},
		{"TV", func(l app.StyleLosses) float64 { return l.TV }},
	}
	lines := 0
	for i, s := range series {
		pts := plotter.XYs{}
		for _, it := range its {
			if v := s.get(it.Losses); v > 0 {
				pts = append(pts, plotter.XY{X: float64(it.Step), Y: v})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			continue
		}
		l.Color = chartColours[i%len(chartColours)]
		pl.Add(l)
		pl.Legend.Add(s.name, l)
		lines++
	}
	// A log scale needs a positive value: all-zero losses (every weight 0) keep a linear axis.
	if lines > 0 {
		pl.Y.Scale = plot.LogScale{}
		pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	c := vgimg.New(4*vg.Inch, 3*vg.Inch)
	pl.Draw(draw.New(c))
	return c.Image()
}

var chartColours = []color.Color{
	color.RGBA{R: 0x20, G: 0x20, B: 0x20, A: 0xff},
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x8c, B: 0x00, A: 0xff},
	color.RGBA{R: 0x6a, G: 0x0d, B: 0xad, A: 0xff},
}

// AddStyleDialog picks one more style picture for the blend; its weight is set beside it.
func (p *StylePanel) AddStyleDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		p.AddStyle(path, 1)
	}, p.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff"}))
	d.Show()
}

// AddStyle adds a style picture with a weight to the blend (the first style has weight 1).
func (p *StylePanel) AddStyle(path string, weight float64) {
	r := &styleRow{path: path, weight: widget.NewEntry()}
	r.weight.SetText(strconv.FormatFloat(weight, 'g', 4, 64))
	remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), nil)
	r.row = container.NewBorder(nil, nil, widget.NewLabel(filepath.Base(path)), remove, r.weight)
	remove.OnTapped = func() {
		for i, x := range p.extraStyles {
			if x == r {
				p.extraStyles = append(p.extraStyles[:i], p.extraStyles[i+1:]...)
			}
		}
		p.extraBox.Remove(r.row)
		p.requestEstimate()
	}
	p.extraStyles = append(p.extraStyles, r)
	p.extraBox.Add(r.row)
	p.requestEstimate()
}

// showCredit names the source and licence of the built-in pictures chosen.
func (p *StylePanel) showCredit() {
	if p.credit == nil {
		return
	}
	var lines []string
	for _, path := range []string{p.contentPath, p.stylePath} {
		name := filepath.Base(path)
		if sample, err := p.core.SamplePath(name); err == nil && sample == path {
			if c := app.SampleCredit(name); c != "" {
				lines = append(lines, name+": "+c)
			}
		}
	}
	p.credit.SetText(strings.Join(lines, "\n"))
	p.credit.Hidden = len(lines) == 0
}

// InitDialog picks the picture a transfer starts from.
func (p *StylePanel) InitDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			if p.initPath == "" {
				p.initSel.SetSelected(initNoise)
			}
			return
		}
		p.SetInitPicture(r.URI().Path())
		r.Close()
	}, p.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff"}))
	d.Show()
}

// SetInitPicture makes the transfer start from the picture at path.
func (p *StylePanel) SetInitPicture(path string) {
	p.initPath = path
	p.initLabel.SetText(filepath.Base(path))
	p.initSel.SetSelected(initPicture)
}

// requestEstimate asks for an estimate of the settings as they are now. It runs on the UI
// goroutine: it reads the form, and after estimateDelay without another request the estimate
// is computed on a goroutine of its own (the first of a network and layer set also times a
// step, unless a transfer is running); the result is shown only if it is still the latest.
func (p *StylePanel) requestEstimate() {
	if p.estimator == nil || p.estimate == nil {
		return // still being built
	}
	p.estimateSeq++
	seq := p.estimateSeq
	p.estimateAsked.Store(seq)
	if p.estimateTimer != nil {
		p.estimateTimer.Stop()
	}
	cfg, err := p.readConfig()
	if err != nil {
		p.estimated, p.estimateShown = nil, seq
		p.estimate.SetText("Estimate: " + err.Error())
		return
	}
	measure := !p.running() && !p.starting
	if p.estimateStop != nil {
		p.estimateStop()
	}
	ctx, stop := context.WithCancel(context.Background())
	p.estimateStop = stop
	p.estimateTimer = time.AfterFunc(estimateDelay, func() {
		if p.estimateAsked.Load() != seq {
			return // a newer request is on its way
		}
		if measure {
			p.do(func() {
				if seq == p.estimateSeq && p.estimated == nil {
					p.estimate.SetText("Estimating: timing a step of this network...")
				}
			})
		}
		e, err := p.estimator.Estimate(ctx, cfg, measure)
		p.estimateRuns.Add(1)
		if errors.Is(err, context.Canceled) {
			return // stopped for a run or a newer request
		}
		p.do(func() {
			if seq != p.estimateSeq {
				return // stale: the settings changed meanwhile
			}
			p.estimateShown = seq
			if err != nil {
				p.estimated = nil
				p.estimate.SetText("Estimate: " + err.Error())
				return
			}
			p.estimated = &e
			p.estimate.SetText(estimateText(e, cfg.Iterations, p.running()))
		})
	})
}

// estimateText describes what a transfer needs and where the time comes from.
func estimateText(e app.StyleEstimate, iterations int, running bool) string {
	if !e.Fits() {
		return "Too large: " + strings.TrimPrefix(e.Err().Error(), "style: ") + "."
	}
	text := fmt.Sprintf("Up to %dx%d px: about %d MiB of the %d MiB budget", e.W, e.H, (e.Bytes+1<<20-1)>>20, e.Budget>>20)
	if e.BudgetNote != "" {
		text += " (" + e.BudgetNote + ")"
	}
	if e.Step <= 0 {
		if running {
			return text + "; the time of an iteration is timed once no transfer runs."
		}
		return text + "."
	}
	t := e.Timing
	return text + fmt.Sprintf("; about %s an iteration, %s for %d. (Time: one step timed here at %d and %d px, %s and %s, fitted as a fixed part plus a time per operation and scaled to this size's %.3g GFLOP.)",
		roundDuration(e.Step), roundDuration(time.Duration(iterations)*e.Step), iterations,
		t.Sides[0], t.Sides[1], roundDuration(t.Times[0]), roundDuration(t.Times[1]), float64(e.FLOPs)/1e9)
}

// roundDuration rounds a duration to about two significant figures.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}
