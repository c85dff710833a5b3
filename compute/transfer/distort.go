package transfer

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/disintegration/imaging"

	"convas/compute/nn"
)

// Distortions are retrain.py's random input distortions (add_input_distortions), applied to
// every training picture each time a step draws it. A distorted picture has a bottleneck of its
// own, so when any is set the training set bypasses the bottleneck cache: every step runs its
// batch through the frozen backbone, which is much slower than training on cached bottlenecks.
// The validation and test sets are never distorted and keep using the cache.
type Distortions struct {
	// Crop is retrain.py's --random_crop: a margin, in percent, around the part of the picture
	// that is kept. The picture is resized to (1 + Crop/100) times the input size (times the
	// random scale) and a window of the input size is cut out of it at a random place.
	Crop float64 `json:"random_crop" toml:"random_crop"`
	// Scale is retrain.py's --random_scale: the picture is further enlarged by a random factor
	// in [1, 1 + Scale/100) before the crop.
	Scale float64 `json:"random_scale" toml:"random_scale"`
	// Flip is retrain.py's --flip_left_right: mirror the picture left to right with probability
	// one half.
	Flip bool `json:"flip_left_right" toml:"flip_left_right"`
	// Brightness is retrain.py's --random_brightness: the pixel values are multiplied by a
	// random factor in [1 - Brightness/100, 1 + Brightness/100), without clipping (as
	// retrain.py's tf.multiply).
	Brightness float64 `json:"random_brightness" toml:"random_brightness"`
}

// maxDistortPercent bounds the three percentages: a crop margin or scale of 100% already doubles
// the picture's side before the crop (so a quarter of it is kept), and a brightness of 100% may
// black a picture out.
const maxDistortPercent = 100

// Any reports whether any distortion is on.
func (d Distortions) Any() bool { return d.Crop > 0 || d.Scale > 0 || d.Flip || d.Brightness > 0 }

// Validate checks the three percentages: each in [0, 100].
func (d Distortions) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"random crop", d.Crop}, {"random scale", d.Scale}, {"random brightness", d.Brightness}} {
		if !(f.v >= 0 && f.v <= maxDistortPercent) {
			return fmt.Errorf("transfer: %s %g%%: must be 0 to %d", f.name, f.v, maxDistortPercent)
		}
	}
	return nil
}

// Distortion is one picture's random draw of Distortions.
type Distortion struct {
	// Scale is the crop margin times the random scale, at least 1: the picture is resized to
	// Side(size) pixels square before the crop.
	Scale float64
	// X and Y are the crop window's top left corner in the resized picture, each in
	// [0, Side(size) - size].
	X, Y int
	// Flip mirrors the cropped window left to right.
	Flip bool
	// Brightness multiplies every value.
	Brightness float64
}

// Side is the side of the resized picture the window is cut from: Scale times size truncated, as
// retrain.py's tf.cast of precrop_shape to int32, and never smaller than size.
func (d Distortion) Side(size int) int {
	return max(size, int(d.Scale*float64(size)))
}

// Draw draws one picture's distortion for a backbone taking size x size pictures, as
// add_input_distortions does: a scale uniform in [1, 1 + Scale/100) times the margin 1 + Crop/100,
// a crop window uniform over the places it fits (tf.random_crop), a flip with probability 1/2,
// a brightness factor uniform in [1 - b, 1 + b). It always draws the same number of values from
// rng, whichever distortions are on.
func (d Distortions) Draw(rng *rand.Rand, size int) Distortion {
	resize := 1 + rng.Float64()*d.Scale/100
	out := Distortion{Scale: (1 + d.Crop/100) * resize, Brightness: 1}
	slack := out.Side(size) - size
	out.X, out.Y = rng.IntN(slack+1), rng.IntN(slack+1)
	flip := rng.Float64() < 0.5
	out.Flip = d.Flip && flip
	b := rng.Float64()
	if d.Brightness > 0 {
		out.Brightness = 1 - d.Brightness/100 + b*2*d.Brightness/100
	}
	return out
}

// Apply distorts a decoded picture (at its own size, as retrain.py distorts the decoded JPEG)
// into dst, size x size planar RGB values in 0..255 times the brightness (3*size*size values):
// the picture is resized to Side(size) square with bilinear interpolation (ignoring its aspect
// ratio, as Resize), the window at (X, Y) cut out, mirrored when Flip, and multiplied by
// Brightness.
func (d Distortion) Apply(img image.Image, size int, dst []float32) error {
	side := d.Side(size)
	if d.X < 0 || d.Y < 0 || d.X+size > side || d.Y+size > side {
		return fmt.Errorf("transfer: crop window at (%d, %d) does not fit a %dx%d picture", d.X, d.Y, side, side)
	}
	if len(dst) != 3*size*size {
		return fmt.Errorf("transfer: %d values for a %dx%d picture", len(dst), size, size)
	}
	p := imaging.Resize(img, side, side, imaging.Linear)
	plane := size * size
	br := float32(d.Brightness)
	for y := 0; y < size; y++ {
		row := p.Pix[(d.Y+y)*p.Stride:]
		for x := 0; x < size; x++ {
			sx := d.X + x
			if d.Flip {
				sx = d.X + size - 1 - x
			}
			j := y*size + x
			dst[j] = float32(row[4*sx]) * br
			dst[plane+j] = float32(row[4*sx+1]) * br
			dst[2*plane+j] = float32(row[4*sx+2]) * br
		}
	}
	return nil
}

// StepProgress reports a training step that distorts its batch: Pictures of Batch run through
// the backbone so far for step Step (1-based) of Steps. It is sent after every backbone batch,
// so that progress and ETA follow steps that take seconds each.
//
// A fine-tuning run sends one after each step too (FineTune set, Pictures = Batch): its steps
// take seconds as well.
type StepProgress struct {
	Step, Steps     int
	Pictures, Batch int
	// FineTune is set when the step trained the tuned block on cached maps rather than
	// distorted pictures.
	FineTune bool
}

func (StepProgress) transferEvent() {}

// distorter makes fresh bottlenecks of distorted training pictures for each step.
type distorter struct {
	b     Backbone
	d     Distortions
	ex    *Extractor
	x     []float32 // the extractor's batch, planar
	paths []string  // by picture index
	// bad marks training pictures that could not be decoded; they are drawn no more.
	bad map[int]bool
	// onSkip (may be nil) hears of each picture that could not be decoded.
	onSkip func(Skipped)
	// onProgress (may be nil) hears of each backbone batch run.
	onProgress func(StepProgress)
	ran        int // pictures run through the backbone
}

func newDistorter(b Backbone, d Distortions, paths []string, batch int, acc nn.Accel) (*distorter, error) {
	ex, err := NewExtractorOn(b, min(batch, DefaultBatch), acc)
	if err != nil {
		return nil, err
	}
	s := b.Size()
	return &distorter{b: b, d: d, ex: ex, x: make([]float32, ex.Batch()*3*s*s), paths: paths, bad: map[int]bool{}}, nil
}

func (t *distorter) close() { t.ex.Close() }

// dim is the backbone's number of features.
func (t *distorter) dim() int {
	s := t.ex.features.Shape()
	return s[len(s)-1]
}

// batch fills x (n x dim) and labels with the bottlenecks of n training pictures drawn at random
// with replacement from tr, each distorted by its own draw; step and steps are for progress.
// A picture that cannot be decoded is reported, dropped from tr, and another is drawn.
func (t *distorter) batch(ctx context.Context, rng *rand.Rand, tr *examples, n, dim int, x []float32, labels []int,
	step, steps int) error {
	s := t.b.Size()
	chunk := t.ex.Batch()
	per := 3 * s * s
	for lo := 0; lo < n; lo += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+chunk, n)
		for i := lo; i < hi; i++ {
			for {
				if tr.n() == 0 {
					return errNoTraining
				}
				j := rng.IntN(tr.n())
				dist := t.d.Draw(rng, s)
				idx := tr.index[j]
				err := t.load(idx, dist, t.x[(i-lo)*per:(i-lo+1)*per])
				if err == nil {
					labels[i] = tr.labels[j]
					break
				}
				if t.onSkip != nil {
					t.onSkip(Skipped{Path: t.paths[idx], Reason: reasonOf(err, t.paths[idx])})
				}
				tr.remove(j)
			}
		}
		clear(t.x[(hi-lo)*per:])
		f, err := t.ex.run(t.x, hi-lo)
		if err != nil {
			return err
		}
		if len(f) != (hi-lo)*dim {
			return fmt.Errorf("transfer: %s: %d features for %d pictures, want %d each", t.b.Name(), len(f), hi-lo, dim)
		}
		if err := checkFinite(f); err != nil {
			return fmt.Errorf("transfer: %s: bottleneck of a distorted picture: %w", t.b.Name(), err)
		}
		copy(x[lo*dim:hi*dim], f)
		t.ran += hi - lo
		if t.onProgress != nil {
			t.onProgress(StepProgress{Step: step, Steps: steps, Pictures: hi, Batch: n})
		}
	}
	return nil
}

// load decodes one training picture and distorts it into dst.
func (t *distorter) load(idx int, d Distortion, dst []float32) error {
	path := t.paths[idx]
	img, err := imaging.Open(path, imaging.AutoOrientation(true))
	if err != nil {
		return fmt.Errorf("transfer: picture %s: cannot decode: %w", path, err)
	}
	if img.Bounds().Empty() {
		return fmt.Errorf("transfer: picture %s: no pixels", path)
	}
	return d.Apply(img, t.b.Size(), dst)
}

// remove drops the j-th example (order is not kept).
func (e *examples) remove(j int) {
	last := e.n() - 1
	e.labels[j], e.index[j] = e.labels[last], e.index[last]
	e.labels, e.index = e.labels[:last], e.index[:last]
	if dim := len(e.x) / max(last+1, 1); len(e.x) > 0 {
		copy(e.x[j*dim:(j+1)*dim], e.x[last*dim:])
		e.x = e.x[:last*dim]
	}
}
