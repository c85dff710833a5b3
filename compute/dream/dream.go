// Package dream is DeepDream (Mordvintsev, Olah and Tyka, "Inceptionism: Going Deeper into Neural
// Networks", Google Research blog, 2015) as the TensorFlow DeepDream notebook's render_deepdream
// runs it (tensorflow/examples/tutorials/deepdream, retold in the TensorFlow Machine Learning
// Cookbook's "Implementing DeepDream"): gradient ascent on the picture itself, to raise the mean
// activation of one layer of a trained network, or of one channel of it. The picture is dreamed
// on octave by octave, from a small copy up to its full size, and every step takes the gradient
// over tiles of a randomly shifted copy and divides it by its mean absolute value.
//
// The recipe does not know which network it runs: a Network builds a Gorgonia graph of a fixed
// input size up to a named layer, and Run differentiates the objective through it with respect
// to the input alone. Pictures are planar float32 RGB in 0..255 (Image).
package dream

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/gorgonia"

	"convas/compute/models"
	"convas/compute/nn"
)

// Config is one DeepDream run. The defaults are the recipe's (render_deepdream with GoogLeNet,
// TensorFlow's inception5h); presets/deepdream-*.toml hold them as TOML under the same keys, and
// the CLI and the Dream panel read them from here.
type Config struct {
	// Layer is the layer whose activation the dream raises: "mixed4d_3x3_bottleneck_pre_relu" in
	// the recipe (inception5h); "mixed3" for the embedded InceptionV3 trunk (TrunkLayer), whose
	// dreams are clearest there at a few hundred pixels.
	Layer string `toml:"layer" json:"layer"`
	// Channel is the one channel of Layer to raise, or -1 for the whole layer (the recipe's last
	// example raises channel 139; the embedded trunk's reference dream the whole of mixed3).
	Channel int `toml:"channel" json:"channel"`
	// Octaves is the number of scales: the picture and Octaves-1 copies, each OctaveScale times
	// smaller than the one before (4).
	Octaves int `toml:"octaves" json:"octaves"`
	// OctaveScale is the ratio of the sides of two successive octaves (1.4).
	OctaveScale float64 `toml:"octave_scale" json:"octave_scale"`
	// Iterations is the number of gradient steps per octave (10).
	Iterations int `toml:"iterations" json:"iterations"`
	// Step is how far each step moves a pixel on average, in pixel values 0..255: the gradient
	// is divided by its mean absolute value before it is scaled by Step (1.5). The recipe's
	// network takes pixels in 0..255, and so does every Network here: the embedded trunk scales
	// them to [-1, 1] inside, so a step of s in [-1, 1] units is 127.5·s pixel values. The
	// reference dream's 0.01 is 1.275; the recipe's 1.5 is 0.0118 in [-1, 1] units.
	Step float64 `toml:"step" json:"step"`
	// TileSize is the side of the square tiles the gradient is computed over (512): a large
	// picture then needs the memory of one tile's graph, not of a graph of its own size. A
	// picture narrower or shorter than a tile is one tile across that side.
	TileSize int `toml:"tile_size" json:"tile_size"`
	// Roll is the largest random shift of the picture before each step, in pixels; 0 means
	// TileSize, the recipe's np.random.randint(tile_size). The shift moves the tile seams from
	// step to step. The embedded trunk's reference dream rolled by less than 16.
	Roll int `toml:"roll" json:"roll"`
	// Seed seeds the random shifts and the noise picture (0). The recipe draws from numpy's
	// unseeded generator.
	Seed int64 `toml:"seed" json:"seed"`
	// MemoryMiB is the memory a run may use for one tile's graph and its copies of the picture,
	// in MiB; 0 means DefaultMemoryMiB. A picture or tile that needs more is refused before the
	// run starts, with the largest tile that fits.
	MemoryMiB int `toml:"memory_mib" json:"memory_mib,omitempty"`
	// Accel is the GPU the run computes on (compute/device.Handle.Accel); nil, the default, is
	// the CPU. It is not part of a saved preset.
	Accel nn.Accel `toml:"-" json:"-"`
}

// DefaultMemoryMiB is the memory budget of a run whose Config.MemoryMiB is 0.
const DefaultMemoryMiB = 4096

// The recipe's objective: layer mixed4d_3x3_bottleneck_pre_relu of inception5h, channel 139.
const (
	RecipeLayer   = "mixed4d_3x3_bottleneck_pre_relu"
	RecipeChannel = 139
)

// NoiseSide is the side of the recipe's noise picture, img_noise (224).
const NoiseSide = 224

// DefaultConfig returns the recipe's settings exactly.
func DefaultConfig() Config {
	return Config{Layer: RecipeLayer, Channel: RecipeChannel, Octaves: 4, OctaveScale: 1.4,
		Iterations: 10, Step: 1.5, TileSize: 512}
}

// FieldError names the configuration key whose value is not acceptable.
type FieldError struct {
	Key    string
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("dream: %s = %v: %s", e.Key, e.Value, e.Reason)
}

// Validate checks every field that does not depend on the network and returns the first bad
// one as a *FieldError; Run checks Layer and Channel against the network.
func (c Config) Validate() error {
	switch {
	case c.Layer == "":
		return &FieldError{"layer", `""`, "empty"}
	case c.Channel < -1:
		return &FieldError{"channel", c.Channel, "must be -1 (the whole layer) or a channel number"}
	case c.Octaves < 1 || c.Octaves > 20:
		return &FieldError{"octaves", c.Octaves, "must be 1 to 20"}
	case !(c.OctaveScale > 1 && c.OctaveScale <= 8):
		return &FieldError{"octave_scale", c.OctaveScale, "must be above 1 and at most 8"}
	case c.Iterations < 0 || c.Iterations > 100000:
		return &FieldError{"iterations", c.Iterations, "must be 0 to 100000"}
	case !(c.Step > 0 && c.Step <= 255):
		return &FieldError{"step", c.Step, "must be above 0 and at most 255"}
	case c.TileSize < 16 || c.TileSize > 8192:
		return &FieldError{"tile_size", c.TileSize, "must be 16 to 8192"}
	case c.Roll < 0:
		return &FieldError{"roll", c.Roll, "must be 0 (the tile size) or a number of pixels"}
	case c.MemoryMiB < 0:
		return &FieldError{"memory_mib", c.MemoryMiB, "must be 0 (the default) or a number of MiB"}
	}
	return nil
}

// Network is what the recipe dreams with: a trained network that can be built for any input
// size up to a named layer.
type Network interface {
	// Build makes a new graph for one picture of h x w pixels: input is (1, 3, h, w), RGB in
	// 0..255 (the network scales it as it was trained), and layerOut is the output
	// (1, C, h', w') of layer. Graphs may share their weights but no node or op.
	Build(h, w int, layer string) (g *gorgonia.ExprGraph, input, layerOut *gorgonia.Node, err error)
	// Layers lists the layers Build accepts and their channels.
	Layers() []models.LayerInfo
}

// Settings are what a front end may change while a dream runs.
type Settings struct {
	Layer   string
	Channel int     // -1: the whole layer
	Step    float64 // in pixel values, as Config.Step
}

// Control gives a running dream its live settings. Run calls Current at the start of every
// iteration, so a change takes effect at the next iteration and goes on from the picture as it
// is. Current is called on the run's goroutine and must be safe against the front end's writes.
type Control interface {
	Current() Settings
}

// Event is a progress report from a run: Iteration, OctaveDone or Done.
type Event interface{ isEvent() }

// Iteration reports one gradient step. It is dropped rather than sent when the receiver is
// behind (the next one carries a newer frame).
type Iteration struct {
	Octave, Octaves int // 1 is the smallest octave, Octaves the picture's own size
	Iter, Iters     int // 1 .. Iters within the octave
	Layer           string
	Channel         int
	Objective       float64 // the mean activation before the step, averaged over the tiles
	Frame           *Image  // the picture after the step: a copy of its own, never written again
}

// OctaveDone reports the end of an octave; it is always delivered.
type OctaveDone struct {
	Octave, Octaves int
	Frame           *Image // a copy of its own, never written again
}

// Done reports the end of the run with the finished picture; it is always delivered.
type Done struct {
	Frame *Image // a copy of its own, never written again
}

func (Iteration) isEvent()  {}
func (OctaveDone) isEvent() {}
func (Done) isEvent()       {}

// Run dreams on img with net and returns the dreamed picture; img itself is not changed. It
// publishes progress on events (which may be nil), reads its layer, channel and step from
// control at every iteration (nil: cfg's, throughout), and calls gate before every iteration
// (nil: none): a gate that blocks pauses the run, and one that returns an error ends it with
// that error. Run returns ctx's error once ctx is cancelled.
func Run(ctx context.Context, cfg Config, net Network, img *Image, control Control, gate func(context.Context) error, events chan<- Event) (*Image, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := img.check(); err != nil {
		return nil, err
	}
	if control == nil {
		control = fixed{cfg}
	}
	s, err := checkSettings(net, control.Current())
	if err != nil {
		return nil, err
	}

	// Preflight: every tile size of every octave builds, and fits the memory budget.
	sizes := octaveSizes(img.H, img.W, cfg.Octaves, cfg.OctaveScale)
	budget := budgetOf(cfg)
	built, err := preflight(net, s, sizes, cfg.TileSize, budget)
	if err != nil {
		return nil, err
	}

	// Split the picture into octaves: a low-frequency copy OctaveScale times smaller, and the
	// high-frequency detail that the smaller copy lost, Octaves-1 times.
	base, details := splitOctaves(img.Clone(), cfg.Octaves, cfg.OctaveScale)

	tiles := newGraphCache(net, budget, picturePlaneBytes(img.H, img.W))
	tiles.acc = cfg.Accel
	tiles.prebuilt, tiles.prebuiltFor = built, s
	defer tiles.close()
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), rollStream))
	maxRoll := cfg.Roll
	if maxRoll == 0 {
		maxRoll = cfg.TileSize
	}

	// Dream octave by octave, from the smallest; on the way up, enlarge the dreamed picture and
	// add back the detail of the next octave.
	cur := base
	for octave := 1; octave <= cfg.Octaves; octave++ {
		if octave > 1 {
			cur = mergeOctave(cur, details[len(details)-(octave-1)])
		}
		for it := 1; it <= cfg.Iterations; it++ {
			if gate != nil {
				if err := gate(ctx); err != nil {
					return nil, err
				}
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if s, err = checkSettings(net, control.Current()); err != nil {
				return nil, err
			}
			obj, err := step(ctx, cur, s, tiles, rng, maxRoll, cfg.TileSize)
			if err != nil {
				return nil, err
			}
			if math.IsNaN(obj) || math.IsInf(obj, 0) {
				return nil, fmt.Errorf("dream: the objective is %v at octave %d, iteration %d", obj, octave, it)
			}
			offer(events, func() Event {
				return Iteration{Octave: octave, Octaves: cfg.Octaves, Iter: it, Iters: cfg.Iterations,
					Layer: s.Layer, Channel: s.Channel, Objective: obj, Frame: cur.Clone()}
			})
		}
		if err := send(ctx, events, OctaveDone{Octave: octave, Octaves: cfg.Octaves, Frame: cur.Clone()}); err != nil {
			return nil, err
		}
	}
	if err := send(ctx, events, Done{Frame: cur.Clone()}); err != nil {
		return nil, err
	}
	return cur, nil
}

// rollStream is the PCG stream of the random shifts ("roll").
const rollStream = 0x726f6c6c

// step makes one gradient step on img in place: shift the picture by a random amount, take the
// gradient of the objective over its tiles, shift the gradient back, and move the picture along
// it, img += g · step / mean |g| (see ascend). It returns the objective before the step.
func step(ctx context.Context, img *Image, s Settings, tiles *graphCache, rng *rand.Rand, maxRoll, tile int) (float64, error) {
	dx, dy := rng.IntN(maxRoll), rng.IntN(maxRoll)
	tiles.setObjective(s.Layer, s.Channel)
	rolled := buffer(&tiles.rolled, img.H, img.W)
	rollInto(rolled, img, dy, dx)
	g, obj, err := tiles.gradient(ctx, rolled, tile)
	if err != nil {
		return 0, err
	}
	ascendRolled(img, g, dy, dx, s.Step)
	return obj, nil
}

// ascendRolled is ascend with the gradient of the picture rolled by (dy, dx), as step computes
// it: the gradient of img's pixel (y, x) is g's pixel ((y+dy) mod H, (x+dx) mod W). It reads g
// in place of rolling it back, as the recipe's np.roll(g, -sx, 1), np.roll(g, -sy, 0) does.
func ascendRolled(img, g *Image, dy, dx int, step float64) {
	var sum float64
	for _, v := range g.Pix {
		sum += math.Abs(float64(v))
	}
	if sum == 0 {
		return
	}
	scale := float32(step / (sum / float64(len(g.Pix))))
	h, w := img.H, img.W
	dy, dx = ((dy%h)+h)%h, ((dx%w)+w)%w
	plane := h * w
	for c := range 3 {
		for y := range h {
			src := g.Pix[c*plane+((y+dy)%h)*w:][:w]
			dst := img.Pix[c*plane+y*w:][:w]
			for x, v := range src[dx:] {
				dst[x] += v * scale
			}
			for x, v := range src[:dx] {
				dst[w-dx+x] += v * scale
			}
		}
	}
}

// ascend adds the gradient g, divided by its mean absolute value, times step to img; a zero
// gradient leaves img as it is.
//
// The recipe divides by mean |g| + 1e-7, the 1e-7 against a zero gradient. With the recipe's
// network, which takes 0..255 pixels unscaled, that is negligible; the embedded trunk scales its
// input by 1/127.5, and its gradient with respect to 0..255 pixels has a mean of about 5e-7
// (mixed3 on a 299-pixel photo), so 1e-7 would shorten every step by a sixth or more. The
// reference dream normalised in the trunk's [-1, 1] units, where 1e-7 is again negligible. Here
// the gradient is divided by its mean alone, which is the same for every unit of the input.
func ascend(img, g *Image, step float64) { ascendRolled(img, g, 0, 0, step) }

// splitOctaves returns the smallest octave of img and the detail of every larger one, the
// largest first: each octave is the one before resized down by scale (the sides rounded down,
// as the recipe's np.int32 does), and its detail what resizing it back up does not restore.
func splitOctaves(img *Image, n int, scale float64) (base *Image, details []*Image) {
	base = img
	for range n - 1 {
		lo := Resize(base, octaveSide(base.H, scale), octaveSide(base.W, scale))
		hi := Resize(lo, base.H, base.W)
		for i, v := range base.Pix {
			hi.Pix[i] = v - hi.Pix[i]
		}
		details = append(details, hi)
		base = lo
	}
	return base, details
}

// mergeOctave resizes img up to the size of the next octave's detail and adds the detail.
func mergeOctave(img, detail *Image) *Image {
	up := Resize(img, detail.H, detail.W)
	for i, v := range detail.Pix {
		up.Pix[i] += v
	}
	return up
}

// octaveSide is the side of the next smaller octave: side/scale rounded down, at least 1.
func octaveSide(side int, scale float64) int {
	return max(1, int(math.Floor(float64(side)/scale+1e-9)))
}

// octaveSizes returns the sizes of the octaves of an h x w picture, the smallest first.
func octaveSizes(h, w, n int, scale float64) [][2]int {
	sizes := [][2]int{{h, w}}
	for range n - 1 {
		h, w = octaveSide(h, scale), octaveSide(w, scale)
		sizes = append([][2]int{{h, w}}, sizes...)
	}
	return sizes
}

// checkSettings checks live settings against the network: the layer must be one of its layers
// and the channel one of that layer's.
func checkSettings(net Network, s Settings) (Settings, error) {
	if !(s.Step > 0 && s.Step <= 255) {
		return s, &FieldError{"step", s.Step, "must be above 0 and at most 255"}
	}
	layers := net.Layers()
	for _, l := range layers {
		if l.Name != s.Layer {
			continue
		}
		if s.Channel < -1 || s.Channel >= l.Channels {
			return s, &FieldError{"channel", s.Channel, fmt.Sprintf("layer %s has channels 0 to %d (-1: all)", l.Name, l.Channels-1)}
		}
		return s, nil
	}
	names := make([]string, 0, len(layers))
	for _, l := range layers {
		names = append(names, l.Name)
	}
	return s, &FieldError{"layer", fmt.Sprintf("%q", s.Layer), fmt.Sprintf("not a layer of the network (%s)", summarise(names))}
}

// summarise lists names, eliding the middle of a long list.
func summarise(names []string) string {
	const most = 12
	if len(names) <= most {
		return fmt.Sprint(names)
	}
	return fmt.Sprintf("%v ... %v, %d in all", names[:most/2], names[len(names)-most/2:], len(names))
}

// fixed is the Control of a run without live changes: cfg's settings throughout.
type fixed struct{ cfg Config }

func (f fixed) Current() Settings {
	return Settings{Layer: f.cfg.Layer, Channel: f.cfg.Channel, Step: f.cfg.Step}
}

// offer sends the event made by mk if the receiver has room for it, and drops it otherwise: a
// run never waits for a slow receiver of frames. The frame is only copied when it can be sent.
func offer(events chan<- Event, mk func() Event) {
	if events == nil || (cap(events) > 0 && len(events) == cap(events)) {
		return
	}
	select {
	case events <- mk():
	default:
	}
}

// send delivers an event that must not be lost, or returns ctx's error.
func send(ctx context.Context, events chan<- Event, e Event) error {
	if events == nil {
		return nil
	}
	select {
	case events <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
