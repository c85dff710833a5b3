package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/disintegration/imaging"

	"convas/app/modelstore"
	"convas/compute/dream"
	"convas/compute/models"
)

// NoisePicture is the picture name that starts a dream from the recipe's noise instead of a file.
const NoisePicture = "noise"

// DreamSettingsKey is the keyword of the PNG tEXt chunk that holds a dream's settings as JSON.
const DreamSettingsKey = "convas:dream"

// ErrNoDreamSettings reports a PNG file without Convas dream settings.
var ErrNoDreamSettings = errors.New("no Convas dream settings in the file")

// DreamNetwork is a network DeepDream can run on.
type DreamNetwork struct {
	Name         string // as the model store names it, such as "inceptionv3-trunk"
	Title        string
	DefaultLayer string // the layer a dream starts with
	Available    bool   // Convas can build it now
	Note         string // why it cannot, when it cannot
}

// DreamNetworks lists the networks of the Dream panel and `convas dream`: the embedded
// InceptionV3 trunk always; GoogLeNet (inception5h), the recipe's network, and VGG19 once the
// model store has their files (before that, listed as unavailable, with how to fetch them).
func (a *App) DreamNetworks() []DreamNetwork {
	stored := func(n DreamNetwork) DreamNetwork {
		e, err := a.Store().Lookup(n.Name)
		if err != nil {
			n.Available, n.Note = false, err.Error()
		} else if st := a.Store().Status(e); st.Kind != modelstore.Ready {
			n.Available, n.Note = false, "not downloaded ("+st.String()+"): fetch it in the Models tab or with convas models fetch "+n.Name
		}
		return n
	}
	return []DreamNetwork{
		{Name: dream.TrunkName, Title: "InceptionV3 trunk (embedded, up to mixed5)", DefaultLayer: dream.TrunkLayer, Available: true},
		stored(DreamNetwork{Name: dream.GoogLeNetName, Title: "GoogLeNet (TensorFlow inception5h), the recipe's network",
			DefaultLayer: dream.RecipeLayer, Available: true}),
		stored(DreamNetwork{Name: dream.VGG19Name, Title: "VGG-19 (MatConvNet), up to pool5",
			DefaultLayer: dream.VGG19Layer, Available: true}),
	}
}

// DefaultDreamConfig returns the recipe's configuration for a network: the recipe's exactly for
// its own network (inception5h), and for any other the network's default layer, whole.
func (a *App) DefaultDreamConfig(network string) dream.Config {
	cfg := dream.DefaultConfig()
	for _, n := range a.DreamNetworks() {
		if n.Name == network && n.DefaultLayer != cfg.Layer {
			cfg.Layer, cfg.Channel = n.DefaultLayer, -1
		}
	}
	return cfg
}

// DreamNetwork returns a network by name, ready to dream with, and its entry in DreamNetworks.
// VGG19 is read from the model store the first time (seconds for its 535 MB) and then shared.
func (a *App) DreamNetwork(name string) (dream.Network, DreamNetwork, error) {
	var names []string
	for _, n := range a.DreamNetworks() {
		names = append(names, n.Name)
		if n.Name != name {
			continue
		}
		if !n.Available {
			return nil, n, fmt.Errorf("network %s: %s", name, n.Note)
		}
		switch name {
		case dream.GoogLeNetName:
			m, err := a.GoogLeNet()
			if err != nil {
				return nil, n, err
			}
			return dream.GoogLeNet{M: m}, n, nil
		case dream.VGG19Name:
			m, err := a.storedVGG19()
			if err != nil {
				return nil, n, err
			}
			return dream.VGG19{M: m}, n, nil
		}
		m, err := a.Trunk()
		if err != nil {
			return nil, n, err
		}
		return dream.Trunk{M: m}, n, nil
	}
	return nil, DreamNetwork{}, fmt.Errorf("unknown network %q (have: %s)", name, strings.Join(names, ", "))
}

// DreamNetworkLoaded reports whether DreamNetwork(name) returns at once: the embedded trunk
// always does; GoogLeNet and VGG19 once they have been read (reading takes seconds), so that a
// front end can read them off its UI goroutine the first time.
func (a *App) DreamNetworkLoaded(name string) bool {
	switch name {
	case dream.GoogLeNetName:
		a.googleMu.Lock()
		defer a.googleMu.Unlock()
		return a.google != nil
	case dream.VGG19Name:
		a.vggMu.Lock()
		defer a.vggMu.Unlock()
		return a.vgg != nil
	}
	return true
}

// DreamLayers lists the layers of a dream network with their channels. It loads the network if
// it is not loaded yet (VGG19 takes seconds) and keeps it, so that the dream and the channel
// gallery that follow do not read it again.
func (a *App) DreamLayers(name string) ([]LayerInfo, error) {
	net, _, err := a.DreamNetwork(name)
	if err != nil {
		return nil, err
	}
	return net.Layers(), nil
}

// DreamSettings is everything a dream was made with; SaveDreamPNG stores it in the PNG, and
// ReadDreamSettings reads it back.
type DreamSettings struct {
	Network  string       `json:"network"`
	Picture  string       `json:"picture"`             // the picture's file name (without its folder), or "noise"
	LongSide int          `json:"long_side,omitempty"` // the picture was resized to this long side (0: as it was)
	Config   dream.Config `json:"config"`
}

// DreamRequest is what a dream starts from.
type DreamRequest struct {
	Network string // a DreamNetworks name
	Picture string // a picture file (PNG, JPEG, GIF, BMP or TIFF), or NoisePicture
	// LongSide resizes the picture so that its longer side has this many pixels (0: as it is;
	// the noise picture is square, dream.NoiseSide when 0).
	LongSide int
	Config   dream.Config
	// KeepFrames sizes the event buffer for every event of the run, so that no Iteration frame
	// is dropped however slowly they are read (for saving every frame).
	KeepFrames bool
}

// Dream is one DeepDream run: its picture, its network and, while it runs, its job. Events
// carries the run's progress (dream.Iteration, dream.OctaveDone, dream.Done); the front end
// drains it. SetLayer, SetChannel and SetStep change the run while it goes on.
type Dream struct {
	Input   *dream.Image // the starting picture
	Network DreamNetwork
	Events  chan dream.Event
	Need    int64 // the memory the run is estimated to need, in bytes
	// Budget is the memory budget the run was checked against and runs with: the user's on the
	// CPU, limited by the GPU's free memory on a GPU (Settings keep the user's).
	Budget MemoryBudget

	req     DreamRequest
	net     dream.Network
	control *DreamControl
	dev     *deviceState

	mu     sync.Mutex
	job    *Job
	result *dream.Image
	device DeviceUse
}

// NewDream prepares a dream: it loads the network and the picture and checks the settings
// against both (layer, channel, octave sizes), so that a bad request fails here, before a job
// starts.
func (a *App) NewDream(req DreamRequest) (*Dream, error) {
	net, info, err := a.DreamNetwork(req.Network)
	if err != nil {
		return nil, err
	}
	if err := req.Config.Validate(); err != nil {
		return nil, err
	}
	if req.LongSide < 0 {
		return nil, fmt.Errorf("long side %d: must be positive", req.LongSide)
	}
	img, err := OpenDreamPicture(req.Picture, req.LongSide, req.Config.Seed)
	if err != nil {
		return nil, err
	}
	budget := a.memoryBudget(req.Config.MemoryMiB, dream.DefaultMemoryMiB)
	cfg := req.Config
	cfg.MemoryMiB = budget.MiB
	need, err := dream.Estimate(cfg, net, img.H, img.W)
	if err != nil {
		return nil, err
	}
	if err := dream.Check(cfg, net, img.H, img.W); err != nil {
		return nil, budget.explain(err) // a picture too large for the budget, with the size that fits
	}
	size := 8
	if req.KeepFrames {
		size = req.Config.Octaves*(req.Config.Iterations+1) + 1
	}
	c := req.Config
	return &Dream{Input: img, Network: info, Events: make(chan dream.Event, size), Need: need, Budget: budget, req: req, net: net,
		dev: &a.dev, control: &DreamControl{s: dream.Settings{Layer: c.Layer, Channel: c.Channel, Step: c.Step}}}, nil
}

// OpenDreamPicture reads a picture file, or makes the noise picture for NoisePicture, and
// resizes it so that its longer side is longSide pixels (0: as it is). Errors name the file.
func OpenDreamPicture(path string, longSide int, seed int64) (*dream.Image, error) {
	if path == NoisePicture {
		side := longSide
		if side == 0 {
			side = dream.NoiseSide
		}
		return dream.Noise(side, side, seed), nil
	}
	m, err := imaging.Open(path, imaging.AutoOrientation(true))
	if err != nil {
		return nil, fmt.Errorf("picture %s: %s", path, unwrapPath(err))
	}
	b := m.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("picture %s: no pixels", path)
	}
	if longSide > 0 && max(b.Dx(), b.Dy()) != longSide {
		w, h := longSide, 0
		if b.Dy() > b.Dx() {
			w, h = 0, longSide
		}
		return dream.FromImage(imaging.Resize(m, w, h, imaging.Lanczos)), nil
	}
	return dream.FromImage(imaging.Clone(m)), nil // NRGBA, which FromImage reads fastest
}

// Start runs the dream on its own goroutine. It is an error to start a dream twice at once.
func (d *Dream) Start() (*Job, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.job != nil && d.job.State() <= Paused {
		return nil, errors.New("the dream is already running")
	}
	cfg := d.req.Config
	cfg.MemoryMiB = d.Budget.MiB
	var release func()
	cfg.Accel, d.device, release = d.dev.acquire()
	d.job = StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		defer release()
		out, err := dream.Run(ctx, cfg, d.net, d.Input, d.control, gate, d.Events)
		if err == nil {
			d.mu.Lock()
			d.result = out
			d.mu.Unlock()
		}
		return err
	})
	return d.job, nil
}

// Device returns the device the dream computes on, once started.
func (d *Dream) Device() DeviceUse {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.device
}

// Result returns the finished picture, or nil until the dream has finished.
func (d *Dream) Result() *dream.Image {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.result
}

// Layers lists the layers of the dream's network, for a layer and channel picker.
func (d *Dream) Layers() []models.LayerInfo { return d.net.Layers() }

// SetLayer makes the next iteration raise layer; the channel is kept if the layer has it, and
// becomes the whole layer (-1) otherwise.
func (d *Dream) SetLayer(layer string) error {
	l, ok := d.layer(layer)
	if !ok {
		return fmt.Errorf("network %s has no layer %q", d.Network.Name, layer)
	}
	d.control.update(func(s *dream.Settings) {
		s.Layer = layer
		if s.Channel >= l.Channels {
			s.Channel = -1
		}
	})
	return nil
}

// SetChannel makes the next iteration raise one channel of the current layer, or the whole
// layer for -1.
func (d *Dream) SetChannel(channel int) error {
	var err error
	d.control.update(func(s *dream.Settings) {
		l, _ := d.layer(s.Layer)
		if channel < -1 || channel >= l.Channels {
			err = fmt.Errorf("layer %s has channels 0 to %d (-1: all), not %d", s.Layer, l.Channels-1, channel)
			return
		}
		s.Channel = channel
	})
	return err
}

// SetStep sets the step of the next iterations, in pixel values (see dream.Config.Step).
func (d *Dream) SetStep(step float64) error {
	if !(step > 0 && step <= 255) {
		return fmt.Errorf("step %v: must be above 0 and at most 255", step)
	}
	d.control.update(func(s *dream.Settings) { s.Step = step })
	return nil
}

func (d *Dream) layer(name string) (models.LayerInfo, bool) {
	for _, l := range d.net.Layers() {
		if l.Name == name {
			return l, true
		}
	}
	return models.LayerInfo{}, false
}

// Settings returns the dream's settings, with the layer, channel and step as they are now.
func (d *Dream) Settings() DreamSettings {
	cfg := d.req.Config
	s := d.control.Current()
	cfg.Layer, cfg.Channel, cfg.Step = s.Layer, s.Channel, s.Step
	pic := d.req.Picture
	if pic != NoisePicture {
		pic = filepath.Base(pic)
	}
	return DreamSettings{Network: d.req.Network, Picture: pic, LongSide: d.req.LongSide, Config: cfg}
}

// DreamControl holds a running dream's live settings: the front end writes them, the run reads
// them at every iteration.
type DreamControl struct {
	mu sync.Mutex
	s  dream.Settings
}

// Current returns the settings of the next iteration.
func (c *DreamControl) Current() dream.Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

func (c *DreamControl) update(f func(s *dream.Settings)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.s)
}

// SaveDreamPNG writes img as a PNG file with the settings in a tEXt chunk (keyword
// DreamSettingsKey, JSON), atomically.
func SaveDreamPNG(path string, img *dream.Image, s DreamSettings) error {
	return savePNGWithSettings(path, img.ToNRGBA(), DreamSettingsKey, s)
}

// ReadDreamSettings reads the settings SaveDreamPNG stored in a PNG file. Keys the file lacks
// keep the recipe's defaults. A PNG without them gives ErrNoDreamSettings; errors name the file.
func ReadDreamSettings(path string) (DreamSettings, error) {
	s := DreamSettings{Config: dream.DefaultConfig()}
	if err := readPNGSettings(path, DreamSettingsKey, "dream settings", &s, ErrNoDreamSettings); err != nil {
		return DreamSettings{}, err
	}
	if err := s.Config.Validate(); err != nil {
		return DreamSettings{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// DreamPreset is a named DeepDream configuration read from presets/deepdream-*.toml or a file.
type DreamPreset struct {
	Name     string // file name without .toml
	Title    string
	Network  string // a DreamNetworks name
	LongSide int    // the picture's long side (0: as it is)
	Config   dream.Config
}

// dreamPresetFile is a dream preset's TOML document: the preset's keys and dream.Config's at the
// top level. Recipe is "deepdream", which tells it from a training preset.
type dreamPresetFile struct {
	Title    string `toml:"title"`
	Recipe   string `toml:"recipe"`
	Network  string `toml:"network"`
	LongSide int    `toml:"long_side"`
	dream.Config
}

// ParseDreamPreset decodes and checks a dream preset. Every key must be known; keys the file
// leaves out keep the recipe's defaults.
func ParseDreamPreset(file string, b []byte) (DreamPreset, error) {
	pf := dreamPresetFile{Network: dream.TrunkName, Config: dream.DefaultConfig()}
	md, err := toml.Decode(string(b), &pf)
	if err != nil {
		return DreamPreset{}, &PresetError{File: file, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return DreamPreset{}, &PresetError{File: file, Key: k, Value: rawValue(b, k), Msg: "unknown key"}
	}
	if pf.Recipe != "deepdream" {
		return DreamPreset{}, &PresetError{File: file, Key: "recipe", Value: fmt.Sprintf("%q", pf.Recipe), Msg: `a dream preset has recipe = "deepdream"`}
	}
	if err := pf.Config.Validate(); err != nil {
		var fe *dream.FieldError
		if errors.As(err, &fe) {
			return DreamPreset{}, &PresetError{File: file, Key: fe.Key, Value: fe.Value, Msg: fe.Reason}
		}
		return DreamPreset{}, &PresetError{File: file, Msg: err.Error()}
	}
	name := strings.TrimSuffix(filepath.Base(file), ".toml")
	title := pf.Title
	if title == "" {
		title = name
	}
	return DreamPreset{Name: name, Title: title, Network: pf.Network, LongSide: pf.LongSide, Config: pf.Config}, nil
}

// DreamPresets lists the built-in dream presets (presets/deepdream-*.toml), sorted by name.
func (a *App) DreamPresets() []DreamPreset {
	return builtinPresets("deepdream-*.toml", ParseDreamPreset)
}

// LoadDreamPreset returns the dream preset a user names: a TOML file, or a built-in preset by
// name, with or without "deepdream-".
func (a *App) LoadDreamPreset(nameOrFile string) (DreamPreset, error) {
	return findPreset("dream", "deepdream-", nameOrFile, a.DreamPresets(), func(p DreamPreset) string { return p.Name }, ParseDreamPreset)
}
