package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/disintegration/imaging"

	"convas/app/modelstore"
	"convas/assets"
	"convas/compute/models"
	"convas/compute/style"
)

// The style recipe's types, for the front ends (ui/ talks to app/, never to compute/).
type (
	// StyleConfig is a style transfer's configuration.
	StyleConfig = style.Config
	// StyleWeights are the weights a running transfer can change.
	StyleWeights = style.Weights
	// StyleEvent is a progress report: StyleIteration, StyleFrame, StyleSaved or StyleDone.
	StyleEvent = style.Event
	// StyleIteration reports one step with its losses.
	StyleIteration = style.Iteration
	// StyleFrame carries the picture after a step, for a live preview.
	StyleFrame = style.Frame
	// StyleSaved carries the picture every Config.Every steps.
	StyleSaved = style.Saved
	// StyleDone carries the finished picture.
	StyleDone = style.Done
	// StyleLosses are the weighted loss terms of a step.
	StyleLosses = style.Losses
	// StyleImage is a planar RGB picture of float32 pixel values.
	StyleImage = style.Image
)

// StyleCoarseStart is the long side of the first size of a coarse-to-fine transfer.
const StyleCoarseStart = style.CoarseStart

// StyleSettingsKey is the keyword of the PNG tEXt chunk that holds a transfer's settings as JSON.
const StyleSettingsKey = "convas:style"

// ErrNoStyleSettings reports a PNG file without Convas style settings.
var ErrNoStyleSettings = errors.New("no Convas style settings in the file")

// The built-in style presets: the recipe exactly (VGG19), and the embedded trunk's tuning.
const (
	StyleRecipePreset = "stylenet"
	StyleTrunkPreset  = "inceptionv3"
)

// StyleNetwork is a network style transfer can run on.
type StyleNetwork struct {
	Name      string // as the model store names it: "vgg19" or "inceptionv3-trunk"
	Title     string
	Preset    string // the built-in preset written for its layers
	Available bool   // Convas can build it now
	Note      string // why it cannot, when it cannot
}

// StyleNetworks lists the networks of the Style panel and `convas style`: the embedded
// InceptionV3 trunk always, VGG-19 (the recipe's) once the model store holds it.
func (a *App) StyleNetworks() []StyleNetwork {
	vgg := StyleNetwork{Name: style.VGG19Name, Title: "VGG-19 (MatConvNet), the recipe's network", Preset: StyleRecipePreset}
	if e, err := a.Store().Lookup(style.VGG19Name); err != nil {
		vgg.Note = err.Error()
	} else if st := a.Store().Status(e); st.Kind != modelstore.Ready {
		vgg.Note = fmt.Sprintf("%s is %s: fetch it first (convas models fetch %s)", style.VGG19Name, st, style.VGG19Name)
	} else {
		vgg.Available = true
	}
	return []StyleNetwork{
		{Name: style.TrunkName, Title: "InceptionV3 trunk (embedded, up to mixed5)", Preset: StyleTrunkPreset, Available: true},
		vgg,
	}
}

// DefaultStylePreset names the preset a transfer starts from when the user names none: the
// recipe's when VGG-19 is there, the embedded trunk's otherwise.
func (a *App) DefaultStylePreset() string {
	for _, n := range a.StyleNetworks() {
		if n.Name == style.VGG19Name && n.Available {
			return StyleRecipePreset
		}
	}
	return StyleTrunkPreset
}

// LoadStyleNetwork returns a network by name, ready to transfer with. VGG-19 is read from the
// model store (a few seconds for its 550 MB).
func (a *App) LoadStyleNetwork(name string) (style.Network, error) {
	var names []string
	for _, n := range a.StyleNetworks() {
		names = append(names, n.Name)
		if n.Name != name {
			continue
		}
		if !n.Available {
			return nil, fmt.Errorf("network %s: %s", name, n.Note)
		}
		if name == style.TrunkName {
			m, err := a.Trunk()
			if err != nil {
				return nil, err
			}
			return style.Trunk{M: m}, nil
		}
		m, err := a.storedVGG19()
		if err != nil {
			return nil, err
		}
		return style.VGG{M: m}, nil
	}
	return nil, fmt.Errorf("unknown network %q (have: %s)", name, strings.Join(names, ", "))
}

// StyleRun is one style transfer: its settings, pictures and network, and, while it runs, its
// job. Events carries the run's progress; the front end drains it. SetWeights changes the
// weights while it runs.
type StyleRun struct {
	Config  style.Config // as started; Settings has the weights as they are now
	Content *style.Image
	Styles  []*style.Image
	Events  chan style.Event

	// Budget is the memory budget the run was checked against and runs with: the user's on the
	// CPU, limited by the GPU's free memory on a GPU (Config keeps the user's, as saved).
	Budget MemoryBudget

	net     style.Network
	control *StyleControl
	dev     *deviceState // the App's; nil: the CPU

	mu     sync.Mutex
	job    *Job
	result *style.Image
	device DeviceUse
}

// NewStyle prepares a transfer of cfg: it loads the network cfg.Model names, opens the content
// picture, the style pictures and a starting picture cfg.Init names (errors name the file), and
// checks the settings against them and the memory budget, so that a bad request fails here,
// before a job starts.
func (a *App) NewStyle(cfg style.Config) (*StyleRun, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Content == "" || len(cfg.Styles) == 0 {
		return nil, errors.New("style: a content picture and at least one style picture are needed")
	}
	net, err := a.LoadStyleNetwork(cfg.Model)
	if err != nil {
		return nil, err
	}
	r, err := newStyleRun(cfg, net, a.memoryBudget(cfg.MemoryMiB, style.DefaultMemoryMiB))
	if err != nil {
		return nil, err
	}
	r.dev = &a.dev
	return r, nil
}

// newStyleRun is NewStyle once the network is loaded: it opens the pictures and checks the run
// against budget.
func newStyleRun(cfg style.Config, net style.Network, budget MemoryBudget) (*StyleRun, error) {
	cfg = cfg.Clone()
	r := &StyleRun{Config: cfg, net: net, Events: make(chan style.Event, 64), Budget: budget}
	var err error
	if r.Content, err = OpenStylePicture(cfg.Content); err != nil {
		return nil, err
	}
	for _, s := range cfg.Styles {
		img, err := OpenStylePicture(s.Image)
		if err != nil {
			return nil, err
		}
		r.Styles = append(r.Styles, img)
	}
	if cfg.Init != "noise" && cfg.Init != "content" {
		if r.Config.InitImage, err = OpenStylePicture(cfg.Init); err != nil {
			return nil, err
		}
	}
	if err := style.Check(r.budgeted(), net, r.Content, r.Styles); err != nil {
		return nil, budget.explain(err)
	}
	r.control = &StyleControl{w: style.WeightsOf(cfg)}
	return r, nil
}

// SampleCredit returns the author and licence of a built-in sample picture as
// assets/PROVENANCE.md lists them ("Edvard Munch, The Scream (1893): public domain"), without the
// licence of the package it was taken from; "" for a name it does not list.
func SampleCredit(name string) string {
	for _, line := range strings.Split(assets.Provenance(), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || strings.TrimSpace(cells[1]) != "samples/"+name {
			continue
		}
		credit, _, _ := strings.Cut(cells[3], ";") // the picture's own, before the package's
		return strings.TrimSpace(credit)
	}
	return ""
}

// OpenStylePicture reads a picture file (PNG, JPEG, GIF, BMP or TIFF), turned upright as its
// EXIF orientation says. Errors name the file.
func OpenStylePicture(path string) (*style.Image, error) {
	m, err := imaging.Open(path, imaging.AutoOrientation(true))
	if err != nil {
		return nil, fmt.Errorf("picture %s: %s", path, unwrapPath(err))
	}
	if m.Bounds().Empty() {
		return nil, fmt.Errorf("picture %s: no pixels", path)
	}
	return style.FromImage(m), nil
}

// Start runs the transfer on its own goroutine. It is an error to start it twice at once.
func (r *StyleRun) Start() (*Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.job != nil && r.job.State() <= Paused {
		return nil, errors.New("the style transfer is already running")
	}
	cfg := r.budgeted()
	var release func()
	cfg.Accel, r.device, release = r.dev.acquire()
	r.job = StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		defer release()
		out, err := style.Run(ctx, cfg, r.net, r.Content, r.Styles, gate, r.control, r.Events)
		if err == nil {
			r.mu.Lock()
			r.result = out
			r.mu.Unlock()
		}
		return err
	})
	return r.job, nil
}

// budgeted is the run's configuration with its memory budget.
func (r *StyleRun) budgeted() style.Config {
	cfg := r.Config.Clone()
	cfg.MemoryMiB = r.Budget.MiB
	return cfg
}

// Device returns the device the run computes on, once started.
func (r *StyleRun) Device() DeviceUse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.device
}

// Result returns the finished picture, or nil until the transfer has finished.
func (r *StyleRun) Result() *style.Image {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result
}

// Layers lists the layers of the transfer's network.
func (r *StyleRun) Layers() []models.LayerInfo { return r.net.Layers() }

// SetWeights changes the weights from the next step on; the picture goes on from where it is.
// Layers w leaves out of its maps keep their weight; a layer the run does not have is refused,
// as are negative weights.
func (r *StyleRun) SetWeights(w style.Weights) error {
	return r.control.update(func(cur *style.Weights) error {
		next := style.Weights{Content: w.Content, Style: w.Style, TV: w.TV,
			ContentLayers: maps.Clone(cur.ContentLayers), StyleLayers: maps.Clone(cur.StyleLayers)}
		maps.Copy(next.ContentLayers, w.ContentLayers)
		maps.Copy(next.StyleLayers, w.StyleLayers)
		if err := next.Check(r.Config); err != nil {
			return err
		}
		*cur = next
		return nil
	})
}

// Weights returns the weights of the next step.
func (r *StyleRun) Weights() style.Weights { return r.control.Current() }

// Settings returns the transfer's configuration with the weights as they are now: what
// SaveStylePNG records.
func (r *StyleRun) Settings() style.Config {
	cfg := r.Config.Clone()
	w := r.control.Current()
	cfg.ContentWeight, cfg.StyleWeight, cfg.TVWeight = w.Content, w.Style, w.TV
	cfg.ContentLayers, cfg.StyleLayers = w.ContentLayers, w.StyleLayers
	return cfg
}

// StyleControl holds a running transfer's live weights: the front end writes them, the run
// reads them at every step.
type StyleControl struct {
	mu sync.Mutex
	w  style.Weights
}

// Current returns a copy of the weights of the next step.
func (c *StyleControl) Current() style.Weights {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.w
	w.ContentLayers, w.StyleLayers = maps.Clone(w.ContentLayers), maps.Clone(w.StyleLayers)
	return w
}

func (c *StyleControl) update(f func(w *style.Weights) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return f(&c.w)
}

// SaveStylePNG writes img as a PNG file with the settings cfg in a tEXt chunk (keyword
// StyleSettingsKey, JSON), atomically.
func SaveStylePNG(path string, img *style.Image, cfg style.Config) error {
	return savePNGWithSettings(path, img.ToNRGBA(), StyleSettingsKey, cfg)
}

// ReadStyleSettings reads the settings SaveStylePNG stored in a PNG file. A PNG without them
// gives ErrNoStyleSettings; errors name the file.
func ReadStyleSettings(path string) (style.Config, error) {
	var cfg style.Config
	if err := readPNGSettings(path, StyleSettingsKey, "style settings", &cfg, ErrNoStyleSettings); err != nil {
		return style.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return style.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// StylePreset is a named style configuration read from presets/style-*.toml or a file.
type StylePreset struct {
	Name   string // file name without .toml
	Title  string
	Config style.Config
}

// stylePresetFile is a style preset's TOML document: a title, recipe = "style" (which tells it
// from the other recipes' presets), and style.Config's keys at the top level.
type stylePresetFile struct {
	Title  string `toml:"title"`
	Recipe string `toml:"recipe"`
	style.Config
}

// ParseStylePreset decodes and checks a style preset. Every key must be known; keys the file
// leaves out keep the recipe's defaults, except the layer tables, which a file that has them
// gives whole.
func ParseStylePreset(file string, b []byte) (StylePreset, error) {
	pf := stylePresetFile{Config: style.DefaultConfig()}
	pf.ContentLayers, pf.StyleLayers = nil, nil // decoded tables are merged into maps, not replaced
	md, err := toml.Decode(string(b), &pf)
	if err != nil {
		return StylePreset{}, &PresetError{File: file, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return StylePreset{}, &PresetError{File: file, Key: k, Value: rawValue(b, k), Msg: "unknown key"}
	}
	if pf.Recipe != "style" {
		return StylePreset{}, &PresetError{File: file, Key: "recipe", Value: fmt.Sprintf("%q", pf.Recipe), Msg: `a style preset has recipe = "style"`}
	}
	def := style.DefaultConfig()
	if pf.ContentLayers == nil {
		pf.ContentLayers = def.ContentLayers
	}
	if pf.StyleLayers == nil {
		pf.StyleLayers = def.StyleLayers
	}
	if err := pf.Config.Validate(); err != nil {
		var fe *style.FieldError
		if errors.As(err, &fe) {
			return StylePreset{}, &PresetError{File: file, Key: fe.Key, Value: fe.Value, Msg: fe.Reason}
		}
		return StylePreset{}, &PresetError{File: file, Msg: err.Error()}
	}
	name := strings.TrimSuffix(filepath.Base(file), ".toml")
	title := pf.Title
	if title == "" {
		title = name
	}
	return StylePreset{Name: name, Title: title, Config: pf.Config}, nil
}

// StylePresets lists the built-in style presets (presets/style-*.toml), sorted by name.
func (a *App) StylePresets() []StylePreset { return builtinPresets("style-*.toml", ParseStylePreset) }

// LoadStylePreset returns the style preset a user names: a TOML file, or a built-in preset by
// name, with or without "style-".
func (a *App) LoadStylePreset(nameOrFile string) (StylePreset, error) {
	return findPreset("style", "style-", nameOrFile, a.StylePresets(), func(p StylePreset) string { return p.Name }, ParseStylePreset)
}

// StyleEstimate is what a transfer needs before it starts, and where its time comes from.
type StyleEstimate struct {
	style.Estimation
	// Timing is the model of a step's time measured on this machine for the network and the
	// layers (style.MeasureTiming); its zero value when none was measured yet, and Step is 0.
	Timing style.Timing
	// Device is the device chosen for the runs ("cpu" or "cuda:N"), which the estimate is for:
	// its step was timed there (on the CPU if that GPU could not be opened), and on a GPU the
	// budget is limited by its free memory.
	Device string
	// BudgetNote says where the budget comes from when the GPU's free memory set it ("cuda:0
	// has 7820 MiB free, less a margin of 782 MiB"); empty otherwise.
	BudgetNote string
}

// StyleEstimator estimates transfers while their settings are edited: the memory and, once
// measured, the time of an iteration. It keeps the networks it loaded and one measured Timing
// per network and layer set, so that only the first estimate of a set times steps (a second or
// two). It is safe for concurrent use; its estimates run one at a time.
type StyleEstimator struct {
	a       *App
	mu      sync.Mutex
	nets    map[string]style.Network
	timings map[string]style.Timing
}

// NewStyleEstimator returns an estimator with nothing measured yet.
func (a *App) NewStyleEstimator() *StyleEstimator {
	return &StyleEstimator{a: a, nets: map[string]style.Network{}, timings: map[string]style.Timing{}}
}

// Estimate estimates a transfer of cfg on the network cfg.Model names, for a square picture of
// cfg.Size pixels, or, when cfg.Size is 0, of the long side of the content picture (read from
// its header), on the device the App has chosen: on a GPU the budget is the smaller of
// cfg.MemoryMiB (or the default) and the GPU's free memory less GPUMemoryMargin. With
// measure, a network, layer set and device without a Timing yet has one measured first (a
// front end passes false while a transfer runs: the measurement would slow it and be slowed by
// it); without, the estimate's Step is 0 until one is. ctx stops a measurement.
func (e *StyleEstimator) Estimate(ctx context.Context, cfg style.Config, measure bool) (StyleEstimate, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cfg.Size == 0 && cfg.Content != "" {
		side, err := longSide(cfg.Content)
		if err != nil {
			return StyleEstimate{}, err
		}
		cfg.Size = max(side, 16)
	}
	net, err := e.network(cfg.Model)
	if err != nil {
		return StyleEstimate{}, err
	}
	budget := e.a.memoryBudget(cfg.MemoryMiB, style.DefaultMemoryMiB)
	cfg.MemoryMiB = budget.MiB
	dev, _ := e.a.Device()
	key := timingKey(cfg) + "|" + dev
	t, ok := e.timings[key]
	if !ok && measure {
		if err := cfg.Validate(); err != nil {
			return StyleEstimate{}, err
		}
		// Timed on the device the runs use (the CPU when the GPU chosen cannot be opened, as
		// for the runs).
		accel, use, release := e.a.dev.acquire()
		cfg.Accel = accel
		t, err = style.MeasureTiming(ctx, cfg, net)
		release()
		cfg.Accel = nil
		if err != nil {
			return StyleEstimate{}, err
		}
		e.timings[key] = t
		_ = use // a GPU that could not be opened: the runs will say so
	}
	est, err := style.Estimate(cfg, net, t)
	return StyleEstimate{Estimation: est, Timing: t, Device: dev, BudgetNote: budget.Note}, err
}

// Layers lists the layers of the network named model, in graph order (loading it once).
func (e *StyleEstimator) Layers(model string) ([]LayerInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	net, err := e.network(model)
	if err != nil {
		return nil, err
	}
	return net.Layers(), nil
}

// network returns the network named model, loaded once; e.mu is held.
func (e *StyleEstimator) network(model string) (style.Network, error) {
	if net := e.nets[model]; net != nil {
		return net, nil
	}
	net, err := e.a.LoadStyleNetwork(model)
	if err != nil {
		return nil, err
	}
	e.nets[model] = net
	return net, nil
}

// timingKey names the network and the layer set of cfg: what a Timing belongs to.
func timingKey(cfg style.Config) string {
	return cfg.Model + "|" + strings.Join(slices.Sorted(maps.Keys(cfg.ContentLayers)), ",") + "|" +
		strings.Join(slices.Sorted(maps.Keys(cfg.StyleLayers)), ",")
}

// longSide returns the long side in pixels of a picture file, from its header.
func longSide(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("picture %s: %s", path, unwrapPath(err))
	}
	defer f.Close()
	c, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, fmt.Errorf("picture %s: %v", path, err)
	}
	return max(c.Width, c.Height), nil
}
