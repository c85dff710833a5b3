// Package style is neural style transfer (Gatys, Ecker and Bethge, "A Neural Algorithm of
// Artistic Style", arXiv:1508.06576) as the TensorFlow Machine Learning Cookbook's StyleNet
// recipe ("Applying StyleNet and the Neural-Style Project") runs it: a picture is optimised, pixel
// by pixel, so that a trained network's responses to it match the content picture's responses at
// the content layers and the style picture's feature correlations (Gram matrices) at the style
// layers, with a total-variation term to keep it smooth.
//
// The recipe does not know which network it runs: a Network builds a Gorgonia graph of a fixed
// input size with the outputs of named layers (VGG19's relu4_2 in the recipe), and Run
// differentiates the total loss through it with respect to the picture alone. Pictures are planar
// float32 RGB in 0..255 (Image). The losses, one function each, are in losses.go.
package style

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"convas/compute/nn"
)

// Config is one style transfer run. The defaults are the StyleNet recipe's (DefaultConfig);
// presets/style-stylenet.toml holds them as TOML under the same keys, and the command line and
// the Style panel read them from here.
type Config struct {
	// Model names the network: "vgg19" in the recipe (MatConvNet's imagenet-vgg-verydeep-19),
	// or "inceptionv3-trunk", the embedded one. The layer names below are that network's.
	Model string `toml:"model" json:"model"`
	// Content is the content picture's file: the recipe's original_image_file. Run does not read
	// it (it takes the picture decoded); it is kept so that a saved result names its inputs.
	Content string `toml:"content" json:"content,omitempty"`
	// Styles are the style pictures and their weights in the blend: their Gram matrices are
	// averaged with the weights (normalised to sum to 1) into one target per layer, as
	// neural-style's -style_blend_weights does. The recipe has one, style_image_file.
	Styles []StyleImage `toml:"styles" json:"styles,omitempty"`

	// ContentLayers are the layers whose responses are matched to the content picture's, each
	// with its weight: relu4_2 0.5 and relu5_2 0.5 in the recipe (original_layers_w).
	ContentLayers map[string]float64 `toml:"content_layers" json:"content_layers"`
	// StyleLayers are the layers whose Gram matrices are matched to the style's, each with its
	// weight: relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1, 1/5 each, in the recipe
	// (style_weights).
	StyleLayers map[string]float64 `toml:"style_layers" json:"style_layers"`
	// ContentWeight scales the content loss: 5 in the recipe (original_image_weight).
	ContentWeight float64 `toml:"content_weight" json:"content_weight"`
	// StyleWeight scales the style loss: 500 in the recipe (style_image_weight).
	StyleWeight float64 `toml:"style_weight" json:"style_weight"`
	// TVWeight scales the total-variation loss: 100 in the recipe (regularization_weight).
	TVWeight float64 `toml:"tv_weight" json:"tv_weight"`

	// Optimizer is "adam" (the recipe) or "lbfgs" (neural-style's default, the paper's).
	Optimizer string `toml:"optimizer" json:"optimizer"`
	// LearningRate is Adam's step size in pixel values 0..255: 10 in the recipe. For L-BFGS it
	// is the largest change of any pixel on the first iteration, before L-BFGS has an estimate
	// of the curvature; later steps are L-BFGS's own.
	LearningRate float64 `toml:"learning_rate" json:"learning_rate"`
	// Beta1 and Beta2 are Adam's moment decay rates: 0.9 and 0.999 in the recipe.
	Beta1 float64 `toml:"beta1" json:"beta1"`
	Beta2 float64 `toml:"beta2" json:"beta2"`
	// Iterations is the number of optimiser steps: 100 in the recipe (generations). With
	// CoarseToFine it is the number of steps at each size.
	Iterations int `toml:"iterations" json:"iterations"`
	// Every is how often, in steps, a Saved event carries the picture: 25 in the recipe
	// (output_generations, which writes temp_output_N.jpg); 0 for never.
	Every int `toml:"every" json:"every"`

	// Init is the starting picture: "noise" (the recipe: a normal sample times 0.256 around
	// the network's mean pixel, tf.random_normal(shape) * 0.256), "content" (the content
	// picture, neural-style's -init image), or a picture's file, which the caller decodes into
	// InitImage.
	Init string `toml:"init" json:"init"`
	// InitImage is the decoded picture of an Init that names a file; it is resized to the
	// picture's size. It is not part of the saved settings.
	InitImage *Image `toml:"-" json:"-"`
	// Seed seeds the noise of Init "noise": 0. The recipe draws from TensorFlow's unseeded
	// generator.
	Seed int64 `toml:"seed" json:"seed"`
	// Size is the long side of the result in pixels; the content picture is resized to it.
	// 0 keeps the content picture's size, as the recipe does.
	Size int `toml:"size" json:"size"`
	// StyleScale sizes the style pictures: each is resized to StyleScale times the width of the
	// content picture (as resized). The recipe resizes the style to the content's width: 1.
	StyleScale float64 `toml:"style_scale" json:"style_scale"`
	// PreserveColors keeps the content picture's colours: the transfer runs on luminance only
	// (the content's, and the style's matched to its mean and deviation), and the result's
	// luminance is joined with the content's chroma (YIQ), as in Gatys et al., "Preserving
	// Color in Neural Artistic Style Transfer" (arXiv:1606.05897). The recipe does not: false.
	PreserveColors bool `toml:"preserve_colors" json:"preserve_colors"`
	// CoarseToFine runs the transfer at a series of sizes, from a long side of 256 pixels up by
	// a factor of sqrt(2) to Size, each size starting from the last one's picture enlarged; each
	// size takes Iterations steps. The recipe runs at one size: false.
	CoarseToFine bool `toml:"coarse_to_fine" json:"coarse_to_fine"`
	// Margin is a border of this many pixels, mirroring the picture, that is optimised with it
	// and cut off the result: a network whose first convolutions pad nothing (the embedded
	// trunk's stem is 'VALID') sees the edge pixels through fewer windows than the middle ones,
	// and leaves them dark and smeared. The recipe's VGG19 pads its convolutions: 0.
	Margin int `toml:"margin" json:"margin,omitempty"`
	// MemoryMiB is the memory a run may use, in MiB; 0 means DefaultMemoryMiB. A run that would
	// need more is refused before it starts, with the largest size that fits.
	MemoryMiB int `toml:"memory_mib" json:"memory_mib,omitempty"`
	// Accel is the GPU the run computes on (compute/device.Handle.Accel); nil, the default, is
	// the CPU. It is not part of a saved preset.
	Accel nn.Accel `toml:"-" json:"-"`
}

// StyleImage is one style picture of a blend.
type StyleImage struct {
	// Image is the picture's file.
	Image string `toml:"image" json:"image"`
	// Weight is its share of the blend (1).
	Weight float64 `toml:"weight" json:"weight"`
}

// DefaultMemoryMiB is the memory budget of a run whose Config.MemoryMiB is 0.
const DefaultMemoryMiB = 4096

// Network names used by Config.Model.
const (
	VGG19Name = "vgg19"
	TrunkName = "inceptionv3-trunk"
)

// CoarseStart is the long side of the first size of a coarse-to-fine run.
const CoarseStart = 256

// DefaultConfig returns the StyleNet recipe's settings exactly (presets/style-stylenet.toml),
// without pictures.
func DefaultConfig() Config {
	return Config{
		Model:         VGG19Name,
		ContentLayers: map[string]float64{"relu4_2": 0.5, "relu5_2": 0.5},
		StyleLayers:   map[string]float64{"relu1_1": 0.2, "relu2_1": 0.2, "relu3_1": 0.2, "relu4_1": 0.2, "relu5_1": 0.2},
		ContentWeight: 5, StyleWeight: 500, TVWeight: 100,
		Optimizer: "adam", LearningRate: 10, Beta1: 0.9, Beta2: 0.999,
		Iterations: 100, Every: 25,
		Init: "noise", StyleScale: 1,
	}
}

// Clone returns a copy of c that shares no map or slice with it (InitImage is shared: it is
// never written).
func (c Config) Clone() Config {
	c.ContentLayers = maps.Clone(c.ContentLayers)
	c.StyleLayers = maps.Clone(c.StyleLayers)
	c.Styles = slices.Clone(c.Styles)
	return c
}

// FieldError names the configuration key whose value is not acceptable.
type FieldError struct {
	Key    string
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("style: %s = %v: %s", e.Key, e.Value, e.Reason)
}

// Validate checks every field that does not depend on the network or the pictures and returns
// the first bad one as a *FieldError; Run checks the layers against the network.
func (c Config) Validate() error {
	switch {
	case c.Model == "":
		return &FieldError{"model", `""`, "empty (vgg19 or " + TrunkName + ")"}
	case len(c.ContentLayers) == 0:
		return &FieldError{"content_layers", "{}", "needs at least one layer"}
	case len(c.StyleLayers) == 0:
		return &FieldError{"style_layers", "{}", "needs at least one layer"}
	case !nonNegative(c.ContentWeight):
		return &FieldError{"content_weight", c.ContentWeight, "must be 0 or more"}
	case !nonNegative(c.StyleWeight):
		return &FieldError{"style_weight", c.StyleWeight, "must be 0 or more"}
	case !nonNegative(c.TVWeight):
		return &FieldError{"tv_weight", c.TVWeight, "must be 0 or more"}
	case c.Optimizer != "adam" && c.Optimizer != "lbfgs":
		return &FieldError{"optimizer", c.Optimizer, "must be adam or lbfgs"}
	case !(c.LearningRate > 0 && c.LearningRate <= 1000):
		return &FieldError{"learning_rate", c.LearningRate, "must be above 0 and at most 1000"}
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return &FieldError{"beta1", c.Beta1, "must be 0 or more and below 1"}
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return &FieldError{"beta2", c.Beta2, "must be 0 or more and below 1"}
	case c.Iterations < 0 || c.Iterations > 100000:
		return &FieldError{"iterations", c.Iterations, "must be 0 to 100000"}
	case c.Every < 0:
		return &FieldError{"every", c.Every, "must be 0 (never) or a number of steps"}
	case c.Init == "":
		return &FieldError{"init", `""`, "must be noise, content or a picture's file"}
	case c.Size != 0 && (c.Size < 16 || c.Size > 8192):
		return &FieldError{"size", c.Size, "must be 0 (the content's size) or 16 to 8192"}
	case !(c.StyleScale >= 0.05 && c.StyleScale <= 20):
		return &FieldError{"style_scale", c.StyleScale, "must be 0.05 to 20"}
	case c.Margin < 0 || c.Margin > 256:
		return &FieldError{"margin", c.Margin, "must be 0 to 256"}
	case c.MemoryMiB < 0:
		return &FieldError{"memory_mib", c.MemoryMiB, "must be 0 (the default) or a number of MiB"}
	}
	if err := checkLayerWeights("content_layers", c.ContentLayers, c.ContentLayers); err != nil {
		return err
	}
	if err := checkLayerWeights("style_layers", c.StyleLayers, c.StyleLayers); err != nil {
		return err
	}
	for i, s := range c.Styles {
		if !(s.Weight > 0 && s.Weight < 1e30) {
			return &FieldError{fmt.Sprintf("styles[%d].weight", i), s.Weight, "must be above 0"}
		}
	}
	return nil
}

// layerNames returns the content and style layers, sorted, each once.
func (c Config) layerNames() []string {
	all := maps.Clone(c.ContentLayers)
	maps.Copy(all, c.StyleLayers)
	return slices.Sorted(maps.Keys(all))
}

// Weights are what a front end may change while a run goes on: the three loss weights and the
// weight of every content and style layer of the run. A layer the run does not have cannot be
// added (its graph would have to be rebuilt); a layer left out of a map keeps weight 0.
type Weights struct {
	Content, Style, TV float64
	ContentLayers      map[string]float64
	StyleLayers        map[string]float64
}

// WeightsOf returns cfg's weights.
func WeightsOf(cfg Config) Weights {
	return Weights{Content: cfg.ContentWeight, Style: cfg.StyleWeight, TV: cfg.TVWeight,
		ContentLayers: maps.Clone(cfg.ContentLayers), StyleLayers: maps.Clone(cfg.StyleLayers)}
}

// Check reports weights that a run of cfg cannot take: negative or not finite, or naming a
// layer the run does not have.
func (w Weights) Check(cfg Config) error {
	for _, f := range []struct {
		key string
		v   float64
	}{{"content_weight", w.Content}, {"style_weight", w.Style}, {"tv_weight", w.TV}} {
		if !nonNegative(f.v) {
			return &FieldError{f.key, f.v, "must be 0 or more"}
		}
	}
	if err := checkLayerWeights("content_layers", w.ContentLayers, cfg.ContentLayers); err != nil {
		return err
	}
	return checkLayerWeights("style_layers", w.StyleLayers, cfg.StyleLayers)
}

// checkLayerWeights checks that every layer of set is one of have and its weight acceptable.
func checkLayerWeights(key string, set, have map[string]float64) error {
	for _, l := range slices.Sorted(maps.Keys(set)) {
		if _, ok := have[l]; !ok {
			return &FieldError{key, l, fmt.Sprintf("not a layer of this run (%s)", strings.Join(slices.Sorted(maps.Keys(have)), ", "))}
		}
		if !nonNegative(set[l]) {
			return &FieldError{key + "." + l, set[l], "must be 0 or more"}
		}
	}
	return nil
}

// nonNegative reports whether v is a finite number, 0 or more.
func nonNegative(v float64) bool { return v >= 0 && v < 1e300 }

// Control gives a running transfer its live weights. Run calls Current at the start of every
// step, so a change takes effect at the next step and goes on from the picture as it is. Current
// is called on the run's goroutine and must be safe against the front end's writes.
type Control interface {
	Current() Weights
}

// fixed is the Control of a run without live changes: cfg's weights throughout.
type fixed struct{ w Weights }

func (f fixed) Current() Weights { return f.w }
