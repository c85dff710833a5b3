package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"sync"

	"convas/assets"
	"convas/compute/dream"
)

// GallerySettings is how the channel gallery renders its thumbnails (dream.ThumbnailConfig).
type GallerySettings = dream.ThumbnailConfig

// DefaultGallerySettings returns the gallery's settings: 96 pixels, 10 steps of 1.5 from noise.
func DefaultGallerySettings() GallerySettings { return dream.DefaultThumbnailConfig() }

// galleryVersion changes when the way thumbnails are rendered changes, so that the thumbnails
// cached by an older Convas are drawn again.
const galleryVersion = 3

// GalleryThumb is one finished thumbnail of a channel gallery.
type GalleryThumb struct {
	Channel int
	Image   *image.NRGBA // never written again
	Cached  bool         // read from the disk cache, not rendered
	// Silent is set for a channel that is zero on both noise pictures a thumbnail starts from
	// (see dream.Thumbnail): Image is then the noise, undreamed.
	Silent bool
}

// Gallery renders what each channel of one layer of a network responds to, channel by channel
// on its own job, and caches every thumbnail on disk (Dir): a second gallery of the same
// network, weights, layer and settings reads them back instead of rendering them.
//
// The cached thumbnails are read first, all of them and at once. Then the missing ones are
// rendered in channel order, but only up to the number the front end asks for (RenderUpTo), so
// that a layer of hundreds of channels costs only what is looked at. Pausing the job pauses the
// rendering at its next step (the cache is still read); cancelling it ends it.
type Gallery struct {
	Network, Layer string
	Channels       int
	Settings       GallerySettings
	// Thumbs delivers every thumbnail, cached or rendered, once; the front end drains it.
	Thumbs chan GalleryThumb

	a   *App
	job *Job

	mu       sync.Mutex
	limit    int           // render channels below this
	raised   chan struct{} // closed and replaced when limit rises
	dir      string
	rendered int
}

// NewGallery prepares the gallery of a layer of a dream network; Start runs it. It checks the
// network's availability and the settings, not the layer: Start's job loads the network (which
// may take seconds) when it first has a thumbnail to render, and checks the layer then.
// channels is the layer's channel count as the front end knows it (from DreamLayers).
func (a *App) NewGallery(network, layer string, channels int, s GallerySettings) (*Gallery, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if channels <= 0 {
		return nil, fmt.Errorf("gallery: layer %s has no channels", layer)
	}
	found := false
	for _, n := range a.DreamNetworks() {
		if n.Name == network {
			if !n.Available {
				return nil, fmt.Errorf("gallery: network %s: %s", network, n.Note)
			}
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("gallery: unknown network %q", network)
	}
	return &Gallery{Network: network, Layer: layer, Channels: channels, Settings: s,
		Thumbs: make(chan GalleryThumb, 64), a: a, raised: make(chan struct{})}, nil
}

// RenderUpTo lets the gallery render channels 0 to n-1 (it never lowers the number). It does not
// block; the front end calls it as thumbnails come into view.
func (g *Gallery) RenderUpTo(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n > g.limit {
		g.limit = n
		close(g.raised)
		g.raised = make(chan struct{})
	}
}

// Asked returns how many channels RenderUpTo allows so far.
func (g *Gallery) Asked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}

// Rendered returns how many thumbnails the gallery has rendered so far (not read from the cache).
func (g *Gallery) Rendered() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rendered
}

// Dir returns the gallery's cache folder once the job has found it ("" before).
func (g *Gallery) Dir() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dir
}

// Start runs the gallery on its own job, which ends when every channel is drawn, or with an
// error that names the network and the layer.
func (g *Gallery) Start() *Job {
	g.job = StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		if err := g.run(ctx, gate); err != nil {
			return fmt.Errorf("gallery of %s, layer %s: %w", g.Network, g.Layer, err)
		}
		return nil
	})
	return g.job
}

func (g *Gallery) run(ctx context.Context, gate func(context.Context) error) error {
	dir, err := g.a.galleryDir(g.Network, g.Layer, g.Settings)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.dir = dir
	g.mu.Unlock()

	// The cache first: every thumbnail already drawn appears at once, paused or not.
	have := make([]bool, g.Channels)
	for c := range g.Channels {
		img, silent, err := readThumb(thumbPath(dir, c))
		if err != nil {
			continue // not drawn yet, or damaged: drawn again below
		}
		have[c] = true
		if err := g.send(ctx, GalleryThumb{Channel: c, Image: img, Cached: true, Silent: silent}); err != nil {
			return err
		}
	}
	// Then the others, in channel order, as far as the front end asks. The network is loaded
	// for the first of them (seconds for VGG19), and like every step, not while paused; the
	// thumbnails compute on the App's device, held until the job ends.
	var net dream.Network
	s := g.Settings
	for c := range g.Channels {
		if have[c] {
			continue
		}
		if err := g.waitFor(ctx, c); err != nil {
			return err
		}
		if net == nil {
			if err := gate(ctx); err != nil {
				return err
			}
			if net, _, err = g.a.DreamNetwork(g.Network); err != nil {
				return err
			}
			if err := g.checkLayer(net); err != nil {
				return err
			}
			var release func()
			s.Accel, _, release = g.a.dev.acquire()
			defer release()
		}
		img, silent, err := dream.Thumbnail(ctx, s, net, g.Layer, c, gate)
		if err != nil {
			return err
		}
		if err := writeThumb(thumbPath(dir, c), img, silent); err != nil {
			return err
		}
		g.mu.Lock()
		g.rendered++
		g.mu.Unlock()
		if err := g.send(ctx, GalleryThumb{Channel: c, Image: img, Silent: silent}); err != nil {
			return err
		}
	}
	return nil
}

// checkLayer checks the layer and its channel count against the loaded network.
func (g *Gallery) checkLayer(net dream.Network) error {
	for _, l := range net.Layers() {
		if l.Name == g.Layer {
			if l.Channels != g.Channels {
				return fmt.Errorf("the layer has %d channels, not %d", l.Channels, g.Channels)
			}
			return nil
		}
	}
	return fmt.Errorf("no layer %q in the network", g.Layer)
}

// waitFor blocks until RenderUpTo allows channel c, or ctx is cancelled.
func (g *Gallery) waitFor(ctx context.Context, c int) error {
	for {
		g.mu.Lock()
		ok, raised := c < g.limit, g.raised
		g.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-raised:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *Gallery) send(ctx context.Context, t GalleryThumb) error {
	select {
	case g.Thumbs <- t:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// galleryDir returns the cache folder of a gallery: CacheDir/gallery/NETWORK/KEY, where KEY is a
// hash of the network's name, its weights' version (the embedded file's SHA-256, or a stored
// file's path, size and modification time), the layer, the settings and galleryVersion. The
// folder holds one PNG file per channel and key.txt, which says what the key was made of.
func (a *App) galleryDir(network, layer string, s GallerySettings) (string, error) {
	weights, err := a.weightsVersion(network)
	if err != nil {
		return "", err
	}
	desc := fmt.Sprintf("network %s\nweights %s\nlayer %s\nside %d\niterations %d\nstep %g\nseed %d\nversion %d\n",
		network, weights, layer, s.Side, s.Iterations, s.Step, s.Seed, galleryVersion)
	sum := sha256.Sum256([]byte(desc))
	dir := filepath.Join(a.CacheDir, "gallery", network, hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("gallery cache: %w", err)
	}
	key := filepath.Join(dir, "key.txt")
	if _, err := os.Stat(key); err != nil {
		if err := writeFileAtomic(key, []byte(desc)); err != nil {
			return "", fmt.Errorf("gallery cache: %w", err)
		}
	}
	return dir, nil
}

// embeddedTrunkSum is the SHA-256 of the embedded trunk's file, computed once.
var embeddedTrunkSum = sync.OnceValue(func() string {
	sum := sha256.Sum256(assets.InceptionV3())
	return hex.EncodeToString(sum[:])
})

// weightsVersion names the version of a dream network's weights.
func (a *App) weightsVersion(network string) (string, error) {
	if network == dream.TrunkName {
		return "sha256:" + embeddedTrunkSum(), nil
	}
	e, err := a.Store().Lookup(network)
	if err != nil {
		return "", err
	}
	return fileIdentity(a.Store().Path(e))
}

func thumbPath(dir string, channel int) string {
	return filepath.Join(dir, fmt.Sprintf("channel-%04d.png", channel))
}

// galleryKey is the keyword of the tEXt chunk of a cached thumbnail: "silent" or "drawn".
const galleryKey = "convas:gallery"

// readThumb reads a cached thumbnail and whether its channel is silent.
func readThumb(path string) (*image.NRGBA, bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	state, err := pngText(b, galleryKey)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	n, ok := m.(*image.NRGBA)
	if !ok {
		n = image.NewNRGBA(m.Bounds())
		draw.Draw(n, n.Rect, m, m.Bounds().Min, draw.Src)
	}
	return n, state == "silent", nil
}

// writeThumb caches a thumbnail as a PNG file with its state in a tEXt chunk, atomically.
func writeThumb(path string, img *image.NRGBA, silent bool) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	state := "drawn"
	if silent {
		state = "silent"
	}
	b, err := withTextChunks(buf.Bytes(), [][2]string{{galleryKey, state}})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeFileAtomic(path, b)
}
