package ui

import (
	"fmt"
	"image"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"convas/app"
)

// DreamPanel is DeepDream: a picture, a network, a layer and a channel, and the picture changing
// iteration by iteration. Layer and channel can be changed while it runs.
type DreamPanel struct {
	core *app.App
	win  fyne.Window
	do   func(func())

	picture     string // a file path or app.NoisePicture
	pictureText *widget.Label
	sampleSel   *widget.Select
	networkSel  *widget.Select
	networks    map[string]app.DreamNetwork
	loading     string      // the network being read off the UI goroutine ("" when none)
	wantLayer   wantedLayer // the layer to select when the network's layers are listed
	layerSel    *widget.Select
	layers      []app.LayerInfo
	wholeLayer  *widget.Check
	channel     *widget.Slider
	channelText *widget.Entry // the channel by number ("all": the whole layer)
	fields      map[string]*widget.Entry
	presetSel   *widget.Select
	presets     map[string]app.DreamPreset

	startBtn, stopBtn, saveBtn, openBtn *widget.Button
	preview                             *canvas.Image
	previewText                         *widget.Label
	progress                            *widget.ProgressBar
	strip                               *fyne.Container
	status                              *widget.Label
	gallery                             *channelGallery

	dream    *app.Dream
	job      *app.Job
	starting bool // Start is loading the network and the picture
	result   image.Image
	cfg      app.DreamConfig
}

// dreamFields are the numeric settings shown as entries, in order.
var dreamFields = []string{"octaves", "octave_scale", "iterations", "step", "tile_size", "roll", "seed", "long_side"}

// NewDreamPanel builds the panel; do runs a function on the UI goroutine.
func NewDreamPanel(core *app.App, win fyne.Window, do func(func())) *DreamPanel {
	p := &DreamPanel{core: core, win: win, do: do, fields: map[string]*widget.Entry{}, networks: map[string]app.DreamNetwork{}}
	p.gallery = newChannelGallery(core, do, p.pickChannel)
	p.pictureText = widget.NewLabel("")
	p.pictureText.Truncation = fyne.TextTruncateEllipsis
	samples := append([]string{"noise"}, core.Samples()...)
	p.sampleSel = widget.NewSelect(samples, func(s string) {
		if s == "noise" {
			p.setPicture(app.NoisePicture)
			return
		}
		path, err := core.SamplePath(s)
		if err != nil {
			showError(err, p.win)
			return
		}
		p.setPicture(path)
	})
	p.networkSel = widget.NewSelect(p.networkTitles(), func(t string) { p.networkChosen(p.networks[t]) })
	p.layerSel = widget.NewSelect(nil, func(s string) { p.layerChosen(strings.Fields(s)[0]) })
	p.wholeLayer = widget.NewCheck("Whole layer", func(on bool) { p.channelChanged() })
	p.channel = widget.NewSlider(0, 1)
	p.channel.Step = 1
	p.channel.OnChanged = func(float64) { p.channelChanged() }
	p.channelText = widget.NewEntry()
	p.channelText.OnSubmitted = p.channelTyped
	for _, k := range dreamFields {
		p.fields[k] = widget.NewEntry()
	}
	p.presets = map[string]app.DreamPreset{}
	var presetTitles []string
	for _, pr := range core.DreamPresets() {
		presetTitles = append(presetTitles, pr.Title)
		p.presets[pr.Title] = pr
	}
	p.presetSel = widget.NewSelect(presetTitles, func(t string) { p.applyPreset(p.presets[t]) })

	p.startBtn = widget.NewButtonWithIcon("Dream", theme.MediaPlayIcon(), p.Start)
	p.startBtn.Importance = widget.HighImportance
	p.stopBtn = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), p.Stop)
	p.saveBtn = widget.NewButtonWithIcon("Save PNG...", theme.DocumentSaveIcon(), p.SaveDialog)
	p.openBtn = widget.NewButtonWithIcon("Open picture...", theme.FolderOpenIcon(), p.OpenDialog)
	p.preview = canvas.NewImageFromImage(image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	p.preview.FillMode = canvas.ImageFillContain
	p.preview.SetMinSize(fyne.NewSize(420, 320))
	p.previewText = widget.NewLabel("Pick a picture (or noise), a layer and a channel, then Dream.")
	p.progress = widget.NewProgressBar()
	p.strip = container.NewHBox()
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord

	for _, pr := range core.DreamPresets() {
		if pr.Name == "deepdream-trunk-mixed3" { // works offline, out of the box
			p.presetSel.SetSelected(pr.Title)
		}
	}
	if p.presetSel.Selected == "" && len(presetTitles) > 0 {
		p.presetSel.SetSelectedIndex(0)
	}
	if len(samples) > 1 {
		p.sampleSel.SetSelected(sampleDefault(samples))
	}
	p.updateButtons()
	return p
}

func sampleDefault(samples []string) string {
	for _, s := range samples {
		if strings.HasPrefix(s, "chelsea") {
			return s
		}
	}
	return samples[0]
}

// View returns the panel's content.
func (p *DreamPanel) View() fyne.CanvasObject {
	form := widget.NewForm()
	form.Append("Preset", p.presetSel)
	form.Append("Picture", container.NewBorder(nil, nil, nil, p.openBtn, p.sampleSel))
	form.Append("", p.pictureText)
	form.Append("Network", p.networkSel)
	form.Append("Layer", p.layerSel)
	number := container.NewGridWrap(fyne.NewSize(72, p.channelText.MinSize().Height), p.channelText)
	form.Append("Channel", container.NewBorder(nil, nil, p.wholeLayer, number, p.channel))
	for _, k := range dreamFields {
		form.Append(k, p.fields[k])
	}
	left := container.NewBorder(nil, container.NewVBox(container.NewHBox(p.startBtn, p.stopBtn, p.saveBtn), p.status), nil, nil,
		container.NewVScroll(form))
	pictures := container.NewHSplit(p.preview, p.gallery.view())
	pictures.Offset = 0.68
	right := container.NewBorder(container.NewVBox(p.previewText, p.progress), container.NewHScroll(p.strip), nil, nil, pictures)
	split := container.NewHSplit(left, right)
	split.Offset = 0.36
	return split
}

func (p *DreamPanel) running() bool { return p.job != nil && p.job.State() <= app.Paused }

func (p *DreamPanel) updateButtons() {
	setEnabled(p.startBtn, p.canStart())
	setEnabled(p.stopBtn, p.running())
	setEnabled(p.saveBtn, p.result != nil)
}

// canStart reports whether Dream can start: nothing runs, a picture is chosen and the chosen
// network's layers are listed.
func (p *DreamPanel) canStart() bool {
	return !p.running() && p.picture != "" && len(p.layers) > 0 && p.loading == ""
}

func (p *DreamPanel) setPicture(path string) {
	p.picture = path
	if path == app.NoisePicture {
		p.pictureText.SetText("noise (uniform, plus 100)")
	} else {
		p.pictureText.SetText(path)
	}
	p.updateButtons()
}

func (p *DreamPanel) applyPreset(pr app.DreamPreset) {
	p.cfg = pr.Config
	p.wantLayer = wantedLayer{pr.Config.Layer, pr.Config.Channel}
	for t, n := range p.networks {
		if n.Name == pr.Network {
			p.networkSel.SetSelected(t)
		}
	}
	vals := map[string]string{
		"octaves": fmt.Sprint(pr.Config.Octaves), "octave_scale": fmt.Sprint(pr.Config.OctaveScale),
		"iterations": fmt.Sprint(pr.Config.Iterations), "step": fmt.Sprint(pr.Config.Step),
		"tile_size": fmt.Sprint(pr.Config.TileSize), "roll": fmt.Sprint(pr.Config.Roll),
		"seed": fmt.Sprint(pr.Config.Seed), "long_side": fmt.Sprint(pr.LongSide),
	}
	for k, v := range vals {
		p.fields[k].SetText(v)
	}
	if p.loading == "" { // the network's layers are listed: select the preset's now
		p.wantLayer = wantedLayer{}
		p.selectLayer(pr.Config.Layer, pr.Config.Channel)
	}
}

// wantedLayer is the layer and channel (-1: the whole layer) a preset or a saved picture asks
// for, selected once its network's layers are listed.
type wantedLayer struct {
	name    string
	channel int
}

func (p *DreamPanel) networkChosen(n app.DreamNetwork) {
	if !n.Available {
		p.status.SetText(n.Title + ": " + n.Note + ". The Models tab downloads and imports networks.")
		p.layers = nil
		p.layerSel.Options = nil
		p.layerSel.Refresh()
		p.gallery.show("", "", 0)
		p.updateButtons()
		return
	}
	if !p.core.DreamNetworkLoaded(n.Name) {
		// Reading GoogLeNet or VGG19 takes seconds: read it off the UI goroutine, with the
		// pickers and Dream disabled meanwhile, and apply it if it is still the chosen one.
		p.loading = n.Name
		p.status.SetText("Reading " + n.Title + "...")
		p.layerSel.Disable()
		p.updateButtons()
		go func() {
			layers, err := p.core.DreamLayers(n.Name)
			p.do(func() {
				if p.loading != n.Name {
					return // another network was chosen meanwhile
				}
				p.loading = ""
				p.layerSel.Enable()
				p.networkLoaded(n, layers, err)
			})
		}()
		return
	}
	p.loading = ""
	p.layerSel.Enable()
	layers, err := p.core.DreamLayers(n.Name)
	p.networkLoaded(n, layers, err)
}

// networkLoaded lists the layers of the chosen network and selects the layer a preset asked for
// (p.wantLayer) or the network's default.
func (p *DreamPanel) networkLoaded(n app.DreamNetwork, layers []app.LayerInfo, err error) {
	if err != nil {
		p.layers = nil // the chosen network has none to dream with
		p.layerSel.Options = nil
		p.layerSel.Refresh()
		p.status.SetText("")
		p.updateButtons()
		showError(err, p.win)
		return
	}
	p.layers = layers
	var opts []string
	for _, l := range layers {
		opts = append(opts, fmt.Sprintf("%s  (%s, %d channels)", l.Name, l.Kind, l.Channels))
	}
	p.layerSel.Options = opts
	p.layerSel.Refresh()
	if w := p.wantLayer; w.name != "" {
		p.wantLayer = wantedLayer{}
		p.selectLayer(w.name, w.channel)
	} else {
		p.selectLayer(n.DefaultLayer, -1)
	}
	p.status.SetText("")
	p.updateButtons()
}

func (p *DreamPanel) selectLayer(name string, channel int) {
	for _, o := range p.layerSel.Options {
		if strings.Fields(o)[0] == name {
			p.layerSel.SetSelected(o)
		}
	}
	if channel < 0 {
		p.wholeLayer.SetChecked(true)
	} else {
		p.wholeLayer.SetChecked(false)
		p.channel.SetValue(float64(channel))
	}
	p.channelChanged()
}

func (p *DreamPanel) layerInfo(name string) (app.LayerInfo, bool) {
	for _, l := range p.layers {
		if l.Name == name {
			return l, true
		}
	}
	return app.LayerInfo{}, false
}

// layerChosen updates the channel slider's range and, while dreaming, the running dream.
func (p *DreamPanel) layerChosen(name string) {
	l, ok := p.layerInfo(name)
	if !ok {
		return
	}
	p.cfg.Layer = name
	p.channel.Max = float64(max(l.Channels-1, 0))
	if p.channel.Value > p.channel.Max {
		p.channel.SetValue(p.channel.Max)
	}
	p.channel.Refresh()
	if p.running() {
		if err := p.dream.SetLayer(name); err != nil {
			showError(err, p.win)
		}
	}
	p.gallery.show(p.networkName(), name, l.Channels)
	p.channelChanged()
}

// pickChannel is a tap on the gallery's thumbnail of a channel: the dream raises that channel
// from its next iteration, or, when none runs, a dream of it starts.
func (p *DreamPanel) pickChannel(channel int) {
	p.wholeLayer.SetChecked(false)
	p.channel.SetValue(float64(channel))
	p.channelChanged()
	if !p.running() {
		p.Start()
	}
}

// channelTyped takes a channel typed by number, or "all" (or -1) for the whole layer; anything
// else puts back the channel as it was.
func (p *DreamPanel) channelTyped(text string) {
	text = strings.TrimSpace(text)
	if text == "all" || text == "-1" {
		p.wholeLayer.SetChecked(true)
		p.channelChanged()
		return
	}
	ch, err := strconv.Atoi(text)
	if err != nil || ch < 0 || float64(ch) > p.channel.Max {
		p.channelChanged() // shows the channel as it is
		return
	}
	p.wholeLayer.SetChecked(false)
	p.channel.SetValue(float64(ch))
	p.channelChanged()
}

// channelChanged applies the slider and the whole-layer box; while dreaming, from the next
// iteration on.
func (p *DreamPanel) channelChanged() {
	ch := int(p.channel.Value)
	if p.wholeLayer.Checked {
		ch = -1
		p.channel.Disable()
		p.channelText.SetText("all")
	} else {
		p.channel.Enable()
		p.channelText.SetText(strconv.Itoa(ch))
	}
	p.cfg.Channel = ch
	if p.running() {
		if err := p.dream.SetChannel(ch); err != nil {
			showError(err, p.win)
		}
	}
}

// readConfig reads the entries into a configuration.
func (p *DreamPanel) readConfig() (app.DreamConfig, int, error) {
	cfg := p.cfg
	ints := map[string]*int{"octaves": &cfg.Octaves, "iterations": &cfg.Iterations, "tile_size": &cfg.TileSize, "roll": &cfg.Roll}
	for k, dst := range ints {
		v, err := strconv.Atoi(strings.TrimSpace(p.fields[k].Text))
		if err != nil {
			return cfg, 0, fmt.Errorf("%s: %q is not a whole number", k, p.fields[k].Text)
		}
		*dst = v
	}
	floats := map[string]*float64{"octave_scale": &cfg.OctaveScale, "step": &cfg.Step}
	for k, dst := range floats {
		v, err := strconv.ParseFloat(strings.TrimSpace(p.fields[k].Text), 64)
		if err != nil {
			return cfg, 0, fmt.Errorf("%s: %q is not a number", k, p.fields[k].Text)
		}
		*dst = v
	}
	seed, err := strconv.ParseInt(strings.TrimSpace(p.fields["seed"].Text), 10, 64)
	if err != nil {
		return cfg, 0, fmt.Errorf("seed: %q is not a whole number", p.fields["seed"].Text)
	}
	cfg.Seed = seed
	long, err := strconv.Atoi(strings.TrimSpace(p.fields["long_side"].Text))
	if err != nil || long < 0 {
		return cfg, 0, fmt.Errorf("long_side: %q is not a whole number of pixels (0: the picture's own size)", p.fields["long_side"].Text)
	}
	return cfg, long, cfg.Validate()
}

func (p *DreamPanel) networkName() string {
	return p.networks[p.networkSel.Selected].Name
}

// Start begins a dream with the panel's settings.
func (p *DreamPanel) Start() {
	if p.starting || !p.canStart() {
		return
	}
	cfg, long, err := p.readConfig()
	if err != nil {
		showError(err, p.win)
		return
	}
	req := app.DreamRequest{Network: p.networkName(), Picture: p.picture, LongSide: long, Config: cfg}
	p.status.SetText("Loading the network and the picture...")
	setEnabled(p.startBtn, false)
	p.gallery.pause() // the dream has the processor to itself
	p.starting = true
	go func() {
		d, err := p.core.NewDream(req)
		var job *app.Job
		if err == nil {
			job, err = d.Start()
		}
		p.do(func() {
			p.starting = false
			if err != nil {
				p.status.SetText("")
				p.gallery.resume()
				p.updateButtons()
				showError(err, p.win)
				return
			}
			p.dream, p.job, p.result = d, job, nil
			// A layer or channel picked while the network loaded applies from the first step.
			if s := d.Settings().Config; s.Layer != p.cfg.Layer || s.Channel != p.cfg.Channel {
				if err := d.SetLayer(p.cfg.Layer); err == nil {
					d.SetChannel(p.cfg.Channel)
				}
			}
			p.strip.Objects = nil
			p.strip.Refresh()
			p.showFrame(d.Input.ToNRGBA(), "the starting picture")
			p.status.SetText(dreamStatus(d))
			p.updateButtons()
			go p.drain(d, job)
		})
	}()
}

// dreamStatus says what a dream that has just started computes: the network, the memory it
// needs against a budget a GPU's memory set, and the device.
func dreamStatus(d *app.Dream) string {
	need := fmt.Sprintf("about %d MiB", d.Need>>20)
	if d.Budget.Note != "" {
		need += fmt.Sprintf(" of the %d MiB budget: %s", d.Budget.MiB, d.Budget.Note)
	}
	return fmt.Sprintf("Dreaming on %s (%s)%s", d.Network.Title, need, deviceStatus(d.Device()))
}

// drain hands the newest frame to the UI at most 30 times a second, and every finished octave.
func (p *DreamPanel) drain(d *app.Dream, job *app.Job) {
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	var latest *app.DreamIteration
	var octaves []app.DreamOctaveDone
	var done *app.DreamDone
	start := time.Now()
	flush := func() {
		if latest == nil && len(octaves) == 0 && done == nil {
			return
		}
		it, oct, dn := latest, octaves, done
		var frame image.Image
		if it != nil {
			frame = it.Frame.ToNRGBA()
		}
		var thumbs []image.Image
		for _, o := range oct {
			thumbs = append(thumbs, o.Frame.ToNRGBA())
		}
		var final image.Image
		if dn != nil {
			final = dn.Frame.ToNRGBA()
		}
		elapsed := time.Since(start)
		p.do(func() { p.apply(it, frame, thumbs, final, elapsed) })
		latest, octaves, done = nil, nil, nil
	}
	handle := func(e app.DreamEvent) {
		switch e := e.(type) {
		case app.DreamIteration:
			latest = &e
		case app.DreamOctaveDone:
			octaves = append(octaves, e)
		case app.DreamDone:
			done = &e
		}
	}
	for {
		select {
		case e := <-d.Events:
			handle(e)
		case <-tick.C:
			flush()
		case <-job.Done():
			for len(d.Events) > 0 {
				handle(<-d.Events)
			}
			flush()
			err := job.Wait()
			p.do(func() { p.finished(job, err) })
			return
		}
	}
}

func (p *DreamPanel) apply(it *app.DreamIteration, frame image.Image, thumbs []image.Image, final image.Image, elapsed time.Duration) {
	if it != nil {
		ch := "whole layer"
		if it.Channel >= 0 {
			ch = fmt.Sprintf("channel %d", it.Channel)
		}
		p.showFrame(frame, fmt.Sprintf("octave %d of %d, iteration %d of %d · %s, %s · objective %.3f",
			it.Octave, it.Octaves, it.Iter, it.Iters, it.Layer, ch, it.Objective))
		done := float64((it.Octave-1)*it.Iters+it.Iter) / float64(it.Octaves*it.Iters)
		p.progress.SetValue(done)
		if done > 0 {
			eta := time.Duration(float64(elapsed) * (1 - done) / done).Round(time.Second)
			p.status.SetText(fmt.Sprintf("Dreaming%s · ETA %s", deviceStatus(p.dream.Device()), eta))
		}
	}
	for _, t := range thumbs {
		img := canvas.NewImageFromImage(t)
		img.FillMode = canvas.ImageFillContain
		img.SetMinSize(fyne.NewSize(96, 96))
		p.strip.Add(img)
	}
	if final != nil {
		p.result = final
		p.showFrame(final, "finished")
		p.progress.SetValue(1)
	}
}

func (p *DreamPanel) showFrame(img image.Image, text string) {
	p.preview.Image = img
	p.preview.Refresh()
	p.previewText.SetText(text)
}

func (p *DreamPanel) finished(job *app.Job, err error) {
	if p.job != job {
		return
	}
	p.gallery.resume()
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
}

// Stop ends the dream at its next iteration.
func (p *DreamPanel) Stop() {
	if p.running() {
		p.job.Cancel()
		p.status.SetText("Stopping...")
	}
}

// OpenDialog picks a picture to dream on; a PNG saved by Convas also restores its settings.
func (p *DreamPanel) OpenDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		p.Open(path)
	}, p.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff"}))
	d.Show()
}

// Open takes a picture file; when it carries Convas dream settings, they are restored.
func (p *DreamPanel) Open(path string) {
	p.setPicture(path)
	s, err := app.ReadDreamSettings(path)
	if err != nil {
		return // an ordinary picture
	}
	p.applyPreset(app.DreamPreset{Network: s.Network, LongSide: s.LongSide, Config: s.Config})
	p.status.SetText(fmt.Sprintf("Restored the settings this picture was dreamed with (network %s, layer %s).", s.Network, s.Config.Layer))
}

// networkTitles fills p.networks from the dream networks as they are now and returns the
// picker's titles, a missing network marked with where to get it.
func (p *DreamPanel) networkTitles() []string {
	p.networks = map[string]app.DreamNetwork{}
	var titles []string
	for _, n := range p.core.DreamNetworks() {
		t := n.Title
		if !n.Available {
			t += " (" + n.Note + "; see the Models tab)"
		}
		titles = append(titles, t)
		p.networks[t] = n
	}
	return titles
}

// RefreshChoices relabels the network picker from the networks as they are now (one fetched in
// the Models tab becomes available), keeping the choice.
func (p *DreamPanel) RefreshChoices() {
	chosen := p.networks[p.networkSel.Selected].Name
	relabel(p.networkSel, p.networkTitles(), func(t string) bool { return p.networks[t].Name == chosen })
}

// SaveDialog saves the finished dream as PNG with its settings.
func (p *DreamPanel) SaveDialog() {
	if p.dream == nil || p.dream.Result() == nil {
		return
	}
	name := "dream.png"
	if p.picture != app.NoisePicture {
		name = strings.TrimSuffix(filepath.Base(p.picture), filepath.Ext(p.picture)) + "-dream.png"
	}
	res, settings := p.dream.Result(), p.dream.Settings()
	savePictureDialog(p.win, name, func(path string) error { return app.SaveDreamPNG(path, res, settings) }, p.status)
}
