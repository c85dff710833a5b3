package ui

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"convas/app"
)

func newDreamPanel(t *testing.T) (*DreamPanel, queue) {
	t.Helper()
	return newDreamPanelIn(t, t.TempDir())
}

// newDreamPanelIn makes a Dream panel whose app keeps its files in dir; its gallery and dream
// are stopped when the test ends.
func newDreamPanelIn(t *testing.T, dir string) (*DreamPanel, queue) {
	t.Helper()
	a := test.NewTempApp(t)
	w := a.NewWindow("test")
	core := &app.App{ConfigDir: filepath.Join(dir, "config"), CacheDir: filepath.Join(dir, "cache"), DataDir: filepath.Join(dir, "data")}
	q := make(queue, 1000)
	p := NewDreamPanel(core, w, q.do)
	w.SetContent(p.View())
	w.Resize(fyne.NewSize(1240, 780))
	t.Cleanup(func() {
		job := p.gallery.job
		p.gallery.stop()
		p.Stop()
		if job != nil {
			<-job.Done()
		}
		if p.job != nil {
			<-p.job.Done()
		}
	})
	return p, q
}

func TestDreamPanelDefaultsAndRun(t *testing.T) {
	p, q := newDreamPanel(t)
	if !strings.HasPrefix(p.layerSel.Selected, "mixed3 ") || !p.wholeLayer.Checked {
		t.Fatalf("default layer %q, whole layer %v", p.layerSel.Selected, p.wholeLayer.Checked)
	}
	if !strings.HasSuffix(p.picture, "chelsea.png") {
		t.Fatalf("default picture %q", p.picture)
	}
	if p.startBtn.Disabled() {
		t.Fatal("Dream disabled with a picture, a network and a layer")
	}
	p.fields["long_side"].SetText("128")
	p.fields["octaves"].SetText("2")
	p.fields["iterations"].SetText("2")
	test.Tap(p.startBtn)
	q.pump(t, 60*time.Second, func() bool { return p.job != nil && p.job.State() > app.Paused && !p.startBtn.Disabled() })
	if p.result == nil || p.saveBtn.Disabled() {
		t.Fatalf("no result after the dream: status %q", p.status.Text)
	}
	if len(p.strip.Objects) != 2 {
		t.Errorf("%d finished octaves in the strip, want 2", len(p.strip.Objects))
	}
}

func TestDreamPanelBadEntry(t *testing.T) {
	p, q := newDreamPanel(t)
	p.fields["octaves"].SetText("many")
	p.Start()
	q.pump(t, 5*time.Second, func() bool { return len(p.win.Canvas().Overlays().List()) > 0 })
	if p.job != nil {
		t.Error("a dream started with octaves = many")
	}
}

// TestDreamGalleryDrawsAndCaches waits for the gallery of the default layer (the trunk's mixed3)
// to draw two thumbnails, then opens a second panel on the same cache folder: they are there at
// once, read from the cache.
func TestDreamGalleryDrawsAndCaches(t *testing.T) {
	dir := t.TempDir()
	p, q := newDreamPanelIn(t, dir)
	g := p.gallery
	if g.layer != "mixed3" || len(g.thumbs) != 768 || g.job == nil {
		t.Fatalf("gallery of %q with %d channels, job %v", g.layer, len(g.thumbs), g.job)
	}
	q.pump(t, 60*time.Second, func() bool { return g.drawn >= 2 })
	if g.thumbs[0] == nil || g.thumbs[1] == nil || !strings.HasPrefix(g.title.Text, "mixed3: ") || !strings.Contains(g.title.Text, " of 768 drawn") {
		t.Fatalf("after two thumbnails: title %q", g.title.Text)
	}
	if g.gallery.Asked() > 768 || g.gallery.Asked() < galleryAhead {
		t.Errorf("the gallery may draw %d channels", g.gallery.Asked())
	}
	job := g.job
	g.stop()
	<-job.Done()

	p2, q2 := newDreamPanelIn(t, dir)
	start := time.Now()
	q2.pump(t, 10*time.Second, func() bool { return p2.gallery.cached >= 2 })
	t.Logf("two cached thumbnails shown after %v", time.Since(start))
	for c := range 2 {
		a, _ := g.thumbs[c].(*image.NRGBA)
		b, ok := p2.gallery.thumbs[c].(*image.NRGBA)
		if !ok || a == nil || string(a.Pix) != string(b.Pix) {
			t.Errorf("channel %d differs in the second panel", c)
		}
	}
	if !strings.Contains(p2.gallery.title.Text, "from the cache") {
		t.Errorf("title %q", p2.gallery.title.Text)
	}
}

// TestDreamGalleryPick taps a thumbnail with no dream running: the channel is selected and a
// dream of it starts, with the gallery paused; a second tap while it runs changes its channel.
func TestDreamGalleryPick(t *testing.T) {
	p, q := newDreamPanel(t)
	p.fields["long_side"].SetText("96")
	p.fields["octaves"].SetText("1")
	p.fields["iterations"].SetText("200")
	p.gallery.grid.Select(5)
	if p.wholeLayer.Checked || p.channel.Value != 5 || p.channelText.Text != "5" {
		t.Fatalf("after tapping channel 5: whole layer %v, slider %v", p.wholeLayer.Checked, p.channel.Value)
	}
	q.pump(t, 30*time.Second, func() bool { return p.running() })
	if s := p.dream.Settings().Config; s.Layer != "mixed3" || s.Channel != 5 {
		t.Errorf("the dream raises %s channel %d, want mixed3 channel 5", s.Layer, s.Channel)
	}
	if p.gallery.job.State() != app.Paused || !strings.Contains(p.gallery.title.Text, "paused while dreaming") {
		t.Errorf("while dreaming the gallery is %v, titled %q", p.gallery.job.State(), p.gallery.title.Text)
	}
	first := p.job
	p.gallery.grid.Select(9)
	if p.job != first || p.dream.Settings().Config.Channel != 9 || p.channel.Value != 9 {
		t.Errorf("a tap while dreaming: channel %d, same job %v", p.dream.Settings().Config.Channel, p.job == first)
	}
	p.Stop()
	q.pump(t, 30*time.Second, func() bool { return !p.running() && !p.startBtn.Disabled() })
	if p.gallery.job.State() != app.Running {
		t.Errorf("after the dream the gallery is %v", p.gallery.job.State())
	}
}

// TestDreamGalleryFollowsLayer changes the layer: the old gallery's job is cancelled and one of
// the new layer starts; a network that is not there empties the gallery.
func TestDreamGalleryFollowsLayer(t *testing.T) {
	p, _ := newDreamPanel(t)
	old := p.gallery.job
	for _, o := range p.layerSel.Options {
		if strings.HasPrefix(o, "mixed2 ") {
			p.layerSel.SetSelected(o)
		}
	}
	select {
	case <-old.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the gallery of mixed3 still runs after choosing mixed2")
	}
	if old.State() != app.Cancelled {
		t.Errorf("the old gallery ended %v", old.State())
	}
	if p.gallery.layer != "mixed2" || len(p.gallery.thumbs) != 288 || p.gallery.job == nil || p.gallery.job == old {
		t.Errorf("gallery of %q with %d channels", p.gallery.layer, len(p.gallery.thumbs))
	}
	cur := p.gallery.job
	for title, n := range p.networks {
		if !n.Available {
			p.networkSel.SetSelected(title)
			break
		}
	}
	<-cur.Done()
	if p.gallery.job != nil || len(p.gallery.thumbs) != 0 || p.gallery.title.Text != "Channel gallery" {
		t.Errorf("with no network: job %v, %d thumbnails, title %q", p.gallery.job, len(p.gallery.thumbs), p.gallery.title.Text)
	}
}

// TestDreamChannelByNumber types channels into the channel entry: a number in range selects it,
// "all" the whole layer, and anything else puts back what was selected; the arrow keys step the
// slider.
func TestDreamChannelByNumber(t *testing.T) {
	p, _ := newDreamPanel(t)
	p.channelText.SetText("17")
	p.channelText.OnSubmitted(p.channelText.Text)
	if p.wholeLayer.Checked || p.channel.Value != 17 || p.cfg.Channel != 17 {
		t.Errorf("typed 17: whole layer %v, slider %v, channel %d", p.wholeLayer.Checked, p.channel.Value, p.cfg.Channel)
	}
	// The arrow keys step the slider, and the entry follows.
	p.win.Canvas().Focus(p.channel)
	p.win.Canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyRight})
	p.win.Canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyRight})
	p.win.Canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyLeft})
	if p.cfg.Channel != 18 || p.channelText.Text != "18" {
		t.Errorf("17, right, right, left: channel %d, entry %q", p.cfg.Channel, p.channelText.Text)
	}
	p.channelText.OnSubmitted("17")
	for _, bad := range []string{"768", "x", "-3"} { // mixed3 has 768 channels
		p.channelText.SetText(bad)
		p.channelText.OnSubmitted(bad)
		if p.cfg.Channel != 17 || p.channelText.Text != "17" {
			t.Errorf("typed %q: channel %d, entry %q", bad, p.cfg.Channel, p.channelText.Text)
		}
	}
	p.channelText.OnSubmitted("all")
	if !p.wholeLayer.Checked || p.cfg.Channel != -1 || p.channelText.Text != "all" {
		t.Errorf("typed all: whole layer %v, channel %d", p.wholeLayer.Checked, p.cfg.Channel)
	}
}

// TestDreamOpenRestoresSettings opens a PNG saved with dream settings: the network, layer,
// channel and numbers come back, and the status says which network it needs.
func TestDreamOpenRestoresSettings(t *testing.T) {
	p, _ := newDreamPanel(t)
	cfg := app.DreamConfig{Layer: "mixed1", Channel: 42, Octaves: 2, OctaveScale: 1.5, Iterations: 7, Step: 2.5, TileSize: 256, Roll: 8, Seed: 3}
	path := filepath.Join(t.TempDir(), "old-dream.png")
	img := &app.DreamImage{H: 8, W: 8, Pix: make([]float32, 3*64)}
	if err := app.SaveDreamPNG(path, img, app.DreamSettings{Network: "inceptionv3-trunk", Picture: "chelsea.png", LongSide: 150, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	p.Open(path)
	got, long, err := p.readConfig()
	if err != nil || got.Layer != "mixed1" || got.Channel != 42 || long != 150 || got.Octaves != 2 || got.OctaveScale != 1.5 ||
		got.Iterations != 7 || got.Step != 2.5 || got.TileSize != 256 || got.Roll != 8 || got.Seed != 3 {
		t.Errorf("restored %+v, long side %d, %v", got, long, err)
	}
	if !strings.HasPrefix(p.layerSel.Selected, "mixed1 ") || p.channelText.Text != "42" || p.picture != path {
		t.Errorf("layer %q, channel %q, picture %q", p.layerSel.Selected, p.channelText.Text, p.picture)
	}
	if !strings.Contains(p.status.Text, "network inceptionv3-trunk") {
		t.Errorf("status %q", p.status.Text)
	}
	if p.gallery.layer != "mixed1" {
		t.Errorf("the gallery shows %q", p.gallery.layer)
	}
}

// TestDreamGalleryScrollForMore: once every thumbnail the grid has asked for is drawn, the title
// says to scroll; showing a later item asks for more, and the title stops saying it.
func TestDreamGalleryScrollForMore(t *testing.T) {
	p, _ := newDreamPanel(t)
	g := p.gallery
	g.stop()
	gal, err := p.core.NewGallery("inceptionv3-trunk", "mixed3", 768, app.DefaultGallerySettings())
	if err != nil {
		t.Fatal(err)
	}
	g.gallery, g.paused = gal, false // not started: only the title's arithmetic is tested
	thumb := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for c := range galleryAhead {
		g.thumbs[c] = thumb
	}
	g.drawn, g.cached = galleryAhead, 0
	gal.RenderUpTo(galleryAhead)
	g.updateTitle()
	if want := fmt.Sprintf("mixed3: %d of 768 drawn · scroll for more", galleryAhead); g.title.Text != want {
		t.Fatalf("title %q, want %q", g.title.Text, want)
	}
	g.updateItem(galleryAhead+3, g.newItem())
	if gal.Asked() != 2*galleryAhead+4 || strings.Contains(g.title.Text, "scroll") {
		t.Errorf("after showing item %d: asked %d, title %q", galleryAhead+3, gal.Asked(), g.title.Text)
	}
}

// TestDreamPanelRefreshChoices: a network imported after the panel was built (as the Models tab
// does) loses its "see the Models tab" mark when the panel refreshes, and the chosen network stays
// chosen without the choice firing again.
func TestDreamPanelRefreshChoices(t *testing.T) {
	p, _ := newDreamPanel(t)
	chosen := p.networkSel.Selected
	vggTitle := func() string {
		for _, o := range p.networkSel.Options {
			if strings.HasPrefix(o, "VGG-19") {
				return o
			}
		}
		t.Fatalf("no VGG-19 among %q", p.networkSel.Options)
		return ""
	}
	if !strings.Contains(vggTitle(), "Models tab") {
		t.Fatalf("VGG-19 before the import: %q, want it marked as missing", vggTitle())
	}
	bogus := filepath.Join(t.TempDir(), "imagenet-vgg-verydeep-19.mat")
	if err := os.WriteFile(bogus, []byte("not really a MAT-file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.core.Store().ImportUnverified(bogus, "vgg19"); err != nil {
		t.Fatal(err)
	}
	p.RefreshChoices()
	if strings.Contains(vggTitle(), "Models tab") {
		t.Errorf("VGG-19 after the import and a refresh: %q, want it available", vggTitle())
	}
	if p.networkSel.Selected != chosen {
		t.Errorf("the chosen network became %q, want %q", p.networkSel.Selected, chosen)
	}
}

// TestDreamPanelReadsNetworkInBackground: choosing a network that is not read yet (here a
// damaged VGG19 file in the store) does not read it on the UI goroutine: Dream is disabled while
// it is read, and the error comes back through the panel's do function, leaving Dream enabled for
// the network that works once that one is chosen again.
func TestDreamPanelReadsNetworkInBackground(t *testing.T) {
	p, q := newDreamPanel(t)
	trunk := p.networkSel.Selected
	bogus := filepath.Join(t.TempDir(), "imagenet-vgg-verydeep-19.mat")
	if err := os.WriteFile(bogus, []byte("not really a MAT-file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.core.Store().ImportUnverified(bogus, "vgg19"); err != nil {
		t.Fatal(err)
	}
	p.RefreshChoices()
	var vgg string
	for _, o := range p.networkSel.Options {
		if strings.HasPrefix(o, "VGG-19") {
			vgg = o
		}
	}
	p.networkSel.SetSelected(vgg)
	if p.loading != "vgg19" || !p.startBtn.Disabled() || !strings.HasPrefix(p.status.Text, "Reading ") {
		t.Fatalf("while VGG-19 is read: loading %q, Dream disabled %v, status %q", p.loading, p.startBtn.Disabled(), p.status.Text)
	}
	q.pump(t, 30*time.Second, func() bool { return p.loading == "" })
	if p.status.Text != "" || !p.startBtn.Disabled() {
		t.Errorf("after the damaged file: status %q, Dream disabled %v", p.status.Text, p.startBtn.Disabled())
	}
	p.networkSel.SetSelected(trunk)
	if p.loading != "" || p.startBtn.Disabled() || !strings.HasPrefix(p.layerSel.Selected, "mixed3 ") {
		t.Errorf("back on the trunk: loading %q, Dream disabled %v, layer %q", p.loading, p.startBtn.Disabled(), p.layerSel.Selected)
	}
}
