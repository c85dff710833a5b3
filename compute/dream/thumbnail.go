package dream

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"convas/compute/nn"
)

// ThumbnailConfig is how a channel gallery renders what one channel of a layer responds to: the
// recipe's noise picture at a small size, dreamed on in one octave for a few steps, with the
// channel as the objective. The TensorFlow DeepDream notebook does the same at 224 pixels
// (render_naive: 20 steps of 1.0 from img_noise, the gradient divided by its standard deviation)
// before it turns to octaves; a gallery wants many of them quickly, so it takes the recipe's own
// step (1.5, the gradient divided by its mean absolute value as in every step here) and fewer,
// smaller pictures.
type ThumbnailConfig struct {
	// Side is the side of the square noise picture, in pixels (96). The embedded InceptionV3
	// trunk needs at least 75 to reach mixed5, and a deeper layer sees little at 64.
	Side int `toml:"side" json:"side"`
	// Iterations is the number of gradient steps (10, the recipe's steps per octave).
	Iterations int `toml:"iterations" json:"iterations"`
	// Step is the mean change of a pixel per step, in pixel values 0..255 (1.5, the recipe's).
	Step float64 `toml:"step" json:"step"`
	// Seed seeds the noise picture and the random shifts (0); every channel starts from the
	// same noise, so that the thumbnails differ by their channel alone.
	Seed int64 `toml:"seed" json:"seed"`
	// Accel is the GPU the thumbnails compute on (compute/device.Handle.Accel); nil is the CPU.
	Accel nn.Accel `toml:"-" json:"-"`
}

// DefaultThumbnailConfig returns the gallery's settings: 96 pixels, 10 steps of 1.5.
func DefaultThumbnailConfig() ThumbnailConfig {
	return ThumbnailConfig{Side: 96, Iterations: 10, Step: 1.5}
}

// Validate checks the settings and returns the first bad one as a *FieldError.
func (c ThumbnailConfig) Validate() error {
	switch {
	case c.Side < 16 || c.Side > 512:
		return &FieldError{"side", c.Side, "must be 16 to 512"}
	case c.Iterations < 1 || c.Iterations > 1000:
		return &FieldError{"iterations", c.Iterations, "must be 1 to 1000"}
	case !(c.Step > 0 && c.Step <= 255):
		return &FieldError{"step", c.Step, "must be above 0 and at most 255"}
	}
	return nil
}

// Thumbnail renders what channel of layer responds to (see ThumbnailConfig) and returns what
// the steps added to the noise, as VisStd shows it (the notebook shows the dreamed noise itself,
// which is the same but for the noise's own 0.3 levels; here the start may be full-range noise). gate is called before every step, as Run calls it (nil: none): a gate that
// blocks pauses the rendering.
//
// A channel after a ReLU may be zero everywhere on the recipe's grey noise, and then so is its
// gradient and nothing is drawn: a quarter of the embedded trunk's mixed3 at 96 pixels. Such a
// channel is drawn again from noise over the whole range 0..255, which wakes most of them (44
// of mixed3's 768 stay silent on both). A channel silent on both is returned flat mid-grey, with
// silent set.
func Thumbnail(ctx context.Context, tc ThumbnailConfig, net Network, layer string, channel int, gate func(context.Context) error) (img *image.NRGBA, silent bool, err error) {
	if err := tc.Validate(); err != nil {
		return nil, false, err
	}
	if channel < 0 {
		return nil, false, &FieldError{"channel", channel, "a thumbnail shows one channel"}
	}
	// One octave, one tile of the whole picture, shifted by up to its side at every step (the
	// recipe's roll, which here wraps the noise around and so leaves no edge to favour).
	side := thumbnailSide(net, layer, channel, tc.Side)
	cfg := Config{Layer: layer, Channel: channel, Octaves: 1, OctaveScale: 2, Iterations: tc.Iterations,
		Step: tc.Step, TileSize: side, Seed: tc.Seed, Accel: tc.Accel}
	var out *Image
	for _, start := range []*Image{Noise(side, side, tc.Seed), fullNoise(side, side, tc.Seed)} {
		if out, err = Run(ctx, cfg, net, start, nil, gate, nil); err != nil {
			return nil, false, fmt.Errorf("dream: thumbnail of %s channel %d: %w", layer, channel, err)
		}
		for i, v := range start.Pix {
			out.Pix[i] -= v
		}
		if maxDelta(out, NewImage(out.H, out.W)) > 0 {
			return VisStd(out), false, nil
		}
	}
	return VisStd(out), true, nil
}

// thumbnailSide returns the side a thumbnail of layer is drawn at: side, or the recipe's
// NoiseSide (224) for a layer the network cannot be built up to at side but can at 224, such as
// GoogLeNet's avgpool0 (a 7x7 window over the 7x7 cells a 224-pixel picture leaves).
func thumbnailSide(net Network, layer string, channel, side int) int {
	if _, err := buildTileGraph(net, side, side, layer, channel); err != nil && side < NoiseSide {
		if _, err := buildTileGraph(net, NoiseSide, NoiseSide, layer, channel); err == nil {
			return NoiseSide
		}
	}
	return side
}

// fullNoise returns a picture of values uniform in [0, 255).
func fullNoise(h, w int, seed int64) *Image {
	rng := rand.New(rand.NewPCG(uint64(seed), fullNoiseStream))
	m := NewImage(h, w)
	for i := range m.Pix {
		m.Pix[i] = 255 * rng.Float32()
	}
	return m
}

// fullNoiseStream is the PCG stream of fullNoise ("full").
const fullNoiseStream = 0x66756c6c

// maxDelta returns the largest absolute difference of two pictures of one size.
func maxDelta(a, b *Image) float64 {
	var d float64
	for i, v := range a.Pix {
		d = max(d, math.Abs(float64(v-b.Pix[i])))
	}
	return d
}

// VisStd shows a picture as the DeepDream notebook's visstd does: every value's distance from
// the mean of all values, in standard deviations, times 0.1, around mid-grey, clipped:
// (v - mean) / max(std, 1e-4) · 0.1 + 0.5 of the full range. A dream from grey noise moves its
// pixels by a few tens of levels; this stretches what it drew to the range of the screen, the
// same way for every channel.
func VisStd(m *Image) *image.NRGBA {
	var sum, sq float64
	for _, v := range m.Pix {
		sum += float64(v)
	}
	mean := sum / float64(len(m.Pix))
	for _, v := range m.Pix {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	std := math.Max(math.Sqrt(sq/float64(len(m.Pix))), 1e-4)
	out := &Image{H: m.H, W: m.W, Pix: make([]float32, len(m.Pix))}
	for i, v := range m.Pix {
		out.Pix[i] = float32(255 * ((float64(v)-mean)/std*0.1 + 0.5))
	}
	return out.ToNRGBA()
}
