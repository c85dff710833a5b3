package ui

import (
	"fmt"
	"image"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"convas/app"
)

// galleryThumbSide is the side a thumbnail is shown at, in Fyne units.
const galleryThumbSide = 64

// galleryAhead is how many thumbnails past the last one on screen the gallery draws, so that
// scrolling a little finds them ready: about two rows of the gallery's column.
const galleryAhead = 8

// channelGallery is the Dream panel's channel gallery: a thumbnail of what each channel of the
// chosen layer responds to, drawn by an app.Gallery job in channel order as far as the grid has
// been scrolled (plus galleryAhead), or read at once from the disk cache. Tapping a thumbnail
// calls pick with its channel. Its widgets are touched only inside do.
type channelGallery struct {
	core *app.App
	do   func(func())
	pick func(channel int)

	title *widget.Label
	grid  *widget.GridWrap

	gallery        *app.Gallery // nil when no layer is shown
	job            *app.Job
	network, layer string
	thumbs         []image.Image // by channel; nil until drawn
	silent         []bool        // by channel: zero on every noise, so nothing was drawn
	drawn, cached  int
	paused         bool // a dream runs: the job renders nothing until resume
	err            error
}

func newChannelGallery(core *app.App, do func(func()), pick func(channel int)) *channelGallery {
	g := &channelGallery{core: core, do: do, pick: pick}
	g.title = widget.NewLabel("Channel gallery")
	g.title.Wrapping = fyne.TextWrapWord
	g.grid = widget.NewGridWrap(func() int { return len(g.thumbs) }, g.newItem, g.updateItem)
	g.grid.OnSelected = func(id widget.GridWrapItemID) {
		g.grid.UnselectAll() // a thumbnail is a button: tapping it again picks it again
		if id >= 0 && id < len(g.thumbs) {
			g.pick(id)
		}
	}
	return g
}

// view is the gallery with its title; the title says which layer it shows and how far it is.
func (g *channelGallery) view() fyne.CanvasObject {
	hint := widget.NewLabel("Tap one to dream with it.")
	hint.Truncation = fyne.TextTruncateEllipsis
	return container.NewBorder(container.NewVBox(g.title, hint), nil, nil, nil, g.grid)
}

func (g *channelGallery) newItem() fyne.CanvasObject {
	img := canvas.NewImageFromImage(nil)
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScaleSmooth
	img.SetMinSize(fyne.NewSize(galleryThumbSide, galleryThumbSide))
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	label := canvas.NewText("", theme.Color(theme.ColorNameForeground))
	label.TextSize = theme.CaptionTextSize()
	label.Alignment = fyne.TextAlignCenter
	return container.NewBorder(nil, label, nil, nil, container.NewStack(bg, img))
}

// updateItem shows channel id, and lets the gallery draw up to a little past it: the grid asks
// for the items on screen, so the job draws what the user scrolls to, in channel order.
func (g *channelGallery) updateItem(id widget.GridWrapItemID, o fyne.CanvasObject) {
	if id < 0 || id >= len(g.thumbs) {
		return
	}
	c := o.(*fyne.Container)
	label := c.Objects[1].(*canvas.Text) // the Border's bottom
	img := c.Objects[0].(*fyne.Container).Objects[1].(*canvas.Image)
	label.Text = strconv.Itoa(id)
	if g.silent[id] {
		label.Text += " · silent"
	}
	if g.thumbs[id] == nil || g.silent[id] {
		label.Color = theme.Color(theme.ColorNamePlaceHolder)
	} else {
		label.Color = theme.Color(theme.ColorNameForeground)
	}
	img.Image = g.thumbs[id]
	label.Refresh()
	img.Refresh()
	if g.gallery != nil && g.gallery.Asked() < id+1+galleryAhead {
		g.gallery.RenderUpTo(id + 1 + galleryAhead)
		g.updateTitle() // no longer "scroll for more"
	}
}

// show makes the gallery show one layer: a new job unless it shows that layer already; the old
// job is cancelled. A layer of 0 channels (no network) empties it.
func (g *channelGallery) show(network, layer string, channels int) {
	if g.gallery != nil && g.network == network && g.layer == layer && len(g.thumbs) == channels && g.err == nil {
		return
	}
	g.stop()
	g.network, g.layer, g.err = network, layer, nil
	g.thumbs = make([]image.Image, max(channels, 0))
	g.silent = make([]bool, len(g.thumbs))
	g.drawn, g.cached = 0, 0
	g.grid.Refresh()
	g.grid.ScrollToTop()
	if channels <= 0 {
		g.title.SetText("Channel gallery")
		return
	}
	gal, err := g.core.NewGallery(network, layer, channels, app.DefaultGallerySettings())
	if err != nil {
		g.err = err
		g.updateTitle()
		return
	}
	g.gallery = gal
	g.job = gal.Start()
	if g.paused {
		g.job.Pause()
	}
	gal.RenderUpTo(galleryAhead) // the grid raises it as its items show
	g.updateTitle()
	go g.drain(gal, g.job)
}

// stop cancels the gallery's job; the thumbnails on screen stay until show.
func (g *channelGallery) stop() {
	if g.job != nil {
		g.job.Cancel()
	}
	g.gallery, g.job = nil, nil
}

// pause holds the gallery's rendering while a dream runs (cached thumbnails still appear), so
// that it takes nothing from the dream; resume lets it go on.
func (g *channelGallery) pause() {
	g.paused = true
	if g.job != nil {
		g.job.Pause()
	}
	g.updateTitle()
}

func (g *channelGallery) resume() {
	g.paused = false
	if g.job != nil {
		g.job.Resume()
	}
	g.updateTitle()
}

// drain hands the thumbnails to the UI, gathered over a tenth of a second.
func (g *channelGallery) drain(gal *app.Gallery, job *app.Job) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var batch []app.GalleryThumb
	flush := func() {
		if len(batch) == 0 {
			return
		}
		b := batch
		batch = nil
		g.do(func() { g.apply(gal, b) })
	}
	for {
		select {
		case th := <-gal.Thumbs:
			batch = append(batch, th)
		case <-tick.C:
			flush()
		case <-job.Done():
			for len(gal.Thumbs) > 0 {
				batch = append(batch, <-gal.Thumbs)
			}
			flush()
			err := job.Wait()
			g.do(func() { g.finished(gal, job, err) })
			return
		}
	}
}

// apply shows a batch of thumbnails, unless the gallery has moved on to another layer.
func (g *channelGallery) apply(gal *app.Gallery, batch []app.GalleryThumb) {
	if g.gallery != gal {
		return
	}
	for _, th := range batch {
		if th.Channel < 0 || th.Channel >= len(g.thumbs) || g.thumbs[th.Channel] != nil {
			continue
		}
		g.thumbs[th.Channel], g.silent[th.Channel] = th.Image, th.Silent
		g.drawn++
		if th.Cached {
			g.cached++
		}
		g.grid.RefreshItem(th.Channel)
	}
	g.updateTitle()
}

func (g *channelGallery) finished(gal *app.Gallery, job *app.Job, err error) {
	if g.gallery != gal || job.State() == app.Cancelled {
		return
	}
	g.err = err
	g.updateTitle()
}

// updateTitle says which layer the gallery shows and how far it has come: "k of n".
func (g *channelGallery) updateTitle() {
	n := len(g.thumbs)
	switch {
	case g.err != nil:
		g.title.SetText("Channel gallery: " + g.err.Error())
		return
	case n == 0:
		g.title.SetText("Channel gallery")
		return
	}
	text := fmt.Sprintf("%s: %d of %d drawn", g.layer, g.drawn, n)
	if g.cached > 0 {
		text += fmt.Sprintf(" (%d from the cache)", g.cached)
	}
	switch {
	case g.drawn == n:
	case g.paused:
		text += " · paused while dreaming"
	case g.gallery != nil && g.nextMissing() >= g.gallery.Asked():
		text += " · scroll for more"
	}
	g.title.SetText(text)
}

// nextMissing is the first channel not drawn yet: the next the job renders, since it renders in
// channel order once the cache is read.
func (g *channelGallery) nextMissing() int {
	for i, t := range g.thumbs {
		if t == nil {
			return i
		}
	}
	return len(g.thumbs)
}
