package app

import (
	"os"
	"strings"
	"testing"
	"time"

	"convas/compute/dream"
)

// galleryLayer is the first layer of the embedded trunk, quick to draw.
func galleryLayer(t *testing.T, a *App) LayerInfo {
	t.Helper()
	layers, err := a.ModelLayers(dream.TrunkName)
	if err != nil {
		t.Fatal(err)
	}
	return layers[0]
}

// collect reads n thumbnails from the gallery, failing after a minute.
func collect(t *testing.T, g *Gallery, job *Job, n int) map[int]GalleryThumb {
	t.Helper()
	got := map[int]GalleryThumb{}
	deadline := time.After(60 * time.Second)
	for len(got) < n {
		select {
		case th := <-g.Thumbs:
			if _, dup := got[th.Channel]; dup {
				t.Fatalf("channel %d delivered twice", th.Channel)
			}
			got[th.Channel] = th
		case <-job.Done():
			t.Fatalf("the gallery ended after %d of %d thumbnails: %v", len(got), n, job.Wait())
		case <-deadline:
			t.Fatalf("%d of %d thumbnails after a minute", len(got), n)
		}
	}
	return got
}

// quiet checks that nothing more arrives for a while.
func quiet(t *testing.T, g *Gallery) {
	t.Helper()
	select {
	case th := <-g.Thumbs:
		t.Fatalf("channel %d delivered beyond what was asked", th.Channel)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestGalleryCache draws three thumbnails of the trunk's first layer, then opens the same
// gallery again: all three come from the disk cache, identical, and nothing is rendered. A
// damaged cache file is drawn again, and other settings have a cache of their own.
func TestGalleryCache(t *testing.T) {
	a := testApp(t)
	l := galleryLayer(t, a)
	s := GallerySettings{Side: 80, Iterations: 2, Step: 1.5}

	g, err := a.NewGallery(dream.TrunkName, l.Name, l.Channels, s)
	if err != nil {
		t.Fatal(err)
	}
	job := g.Start()
	g.RenderUpTo(3)
	first := collect(t, g, job, 3)
	quiet(t, g) // channel 3 waits for RenderUpTo(4)
	job.Cancel()
	job.Wait()
	if job.State() != Cancelled || g.Rendered() != 3 {
		t.Fatalf("state %v, %d rendered: want cancelled after 3", job.State(), g.Rendered())
	}
	for c := range 3 {
		th := first[c]
		if th.Cached || th.Image.Rect.Dx() != 80 || th.Image.Rect.Dy() != 80 {
			t.Errorf("channel %d: cached %v, %v", c, th.Cached, th.Image.Rect)
		}
	}
	if string(first[0].Image.Pix) == string(first[1].Image.Pix) {
		t.Error("channels 0 and 1 drew the same picture")
	}
	// A silent channel keeps its state in the cache.
	if err := writeThumb(thumbPath(g.Dir(), 2), first[2].Image, true); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(g.Dir() + "/key.txt")
	if err != nil || !strings.Contains(string(key), "layer "+l.Name+"\n") || !strings.Contains(string(key), "weights sha256:") {
		t.Errorf("key.txt %q, %v", key, err)
	}

	// The second time: everything at once from the cache, nothing rendered.
	g2, _ := a.NewGallery(dream.TrunkName, l.Name, l.Channels, s)
	job2 := g2.Start()
	second := collect(t, g2, job2, 3)
	quiet(t, g2)
	job2.Cancel()
	job2.Wait()
	if g2.Rendered() != 0 || g2.Dir() != g.Dir() {
		t.Errorf("the second gallery rendered %d, in %s (the first in %s)", g2.Rendered(), g2.Dir(), g.Dir())
	}
	for c := range 3 {
		if !second[c].Cached || string(second[c].Image.Pix) != string(first[c].Image.Pix) || second[c].Silent != (first[c].Silent || c == 2) {
			t.Errorf("channel %d: cached %v, silent %v, same pixels %v", c, second[c].Cached, second[c].Silent, string(second[c].Image.Pix) == string(first[c].Image.Pix))
		}
	}

	// A damaged file is drawn again; the others still come from the cache.
	os.WriteFile(thumbPath(g.Dir(), 1), []byte("not a png"), 0o644)
	g3, _ := a.NewGallery(dream.TrunkName, l.Name, l.Channels, s)
	job3 := g3.Start()
	g3.RenderUpTo(3)
	third := collect(t, g3, job3, 3)
	job3.Cancel()
	job3.Wait()
	if g3.Rendered() != 1 || third[1].Cached || !third[0].Cached || !third[2].Cached || string(third[1].Image.Pix) != string(first[1].Image.Pix) {
		t.Errorf("after damaging channel 1: %d rendered, cached %v %v %v", g3.Rendered(), third[0].Cached, third[1].Cached, third[2].Cached)
	}

	// Another seed is another cache.
	s.Seed = 1
	g4, _ := a.NewGallery(dream.TrunkName, l.Name, l.Channels, s)
	job4 := g4.Start()
	g4.RenderUpTo(1)
	fourth := collect(t, g4, job4, 1)
	job4.Cancel()
	job4.Wait()
	if fourth[0].Cached || g4.Dir() == g.Dir() {
		t.Errorf("seed 1: cached %v, folder %s", fourth[0].Cached, g4.Dir())
	}
}

// TestGalleryPause checks that a paused gallery renders nothing until it is resumed.
func TestGalleryPause(t *testing.T) {
	a := testApp(t)
	l := galleryLayer(t, a)
	g, err := a.NewGallery(dream.TrunkName, l.Name, l.Channels, GallerySettings{Side: 80, Iterations: 2, Step: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	job := g.Start()
	job.Pause()
	g.RenderUpTo(1)
	quiet(t, g)
	if g.Rendered() != 0 {
		t.Fatalf("a paused gallery rendered %d", g.Rendered())
	}
	job.Resume()
	collect(t, g, job, 1)
	job.Cancel()
	job.Wait()
}

// TestGalleryErrors checks the requests a gallery refuses, before its job and on it.
func TestGalleryErrors(t *testing.T) {
	a := testApp(t)
	l := galleryLayer(t, a)
	s := DefaultGallerySettings()
	bad := []struct {
		network, layer string
		channels       int
		s              GallerySettings
		want           string
	}{
		{"lenet", l.Name, 1, s, `gallery: unknown network "lenet"`},
		{dream.VGG19Name, "relu4_3", 512, s, "gallery: network vgg19: not downloaded (missing): fetch it"},
		{dream.TrunkName, l.Name, 0, s, "gallery: layer " + l.Name + " has no channels"},
		{dream.TrunkName, l.Name, l.Channels, GallerySettings{Side: 8, Iterations: 1, Step: 1}, "dream: side = 8"},
	}
	for _, c := range bad {
		if _, err := a.NewGallery(c.network, c.layer, c.channels, c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: got %v, want %q", c.network, c.layer, err, c.want)
		}
	}
	// The layer is checked once the network is loaded, on the job.
	for _, c := range []struct {
		layer    string
		channels int
		want     string
	}{
		{"mixed9", 10, `gallery of inceptionv3-trunk, layer mixed9: no layer "mixed9" in the network`},
		{l.Name, l.Channels + 1, "layer " + l.Name + ": the layer has"},
	} {
		g, err := a.NewGallery(dream.TrunkName, c.layer, c.channels, s)
		if err != nil {
			t.Fatal(err)
		}
		job := g.Start()
		g.RenderUpTo(1)
		if err := job.Wait(); err == nil || !strings.Contains(err.Error(), c.want) || job.State() != Failed {
			t.Errorf("%s: got %v (%v), want %q", c.layer, err, job.State(), c.want)
		}
	}
}
