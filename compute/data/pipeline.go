package data

import (
	"context"
	"fmt"
	"math/rand/v2"
)

// PipelineConfig is a randomly distorted training input pipeline in the manner of TensorFlow's
// cifar10_input.distorted_inputs: each picture is cropped at a random place, flipped left to right
// half the time, its brightness and contrast changed by random amounts, and standardised; the
// pictures come out of a shuffle buffer in batches.
type PipelineConfig struct {
	// Batch is the number of pictures per batch (128).
	Batch int
	// CropH and CropW are the size of the random window (24x24).
	CropH, CropW int
	// Flip flips a picture left to right with probability 1/2 (true).
	Flip bool
	// MaxBrightness bounds the delta added to every value, on the 0..255 scale (63).
	MaxBrightness float32
	// ContrastLower and ContrastUpper bound the contrast factor ([0.2, 1.8)).
	ContrastLower, ContrastUpper float32
	// ShuffleBuffer is the number of pictures the pipeline draws each one from at random (5000,
	// the recipe's min_after_dequeue; at least 1000).
	ShuffleBuffer int
	// Ahead is the number of batches prepared before training asks for them (4).
	Ahead int
	// Seed makes the stream of batches reproducible.
	Seed uint64
}

// CIFARPipeline returns the recipe's pipeline for the given batch size and seed.
func CIFARPipeline(batch int, seed uint64) PipelineConfig {
	return PipelineConfig{Batch: batch, CropH: 24, CropW: 24, Flip: true, MaxBrightness: 63,
		ContrastLower: 0.2, ContrastUpper: 1.8, ShuffleBuffer: 5000, Ahead: 4, Seed: seed}
}

// Distortion is what the pipeline did to one picture.
type Distortion struct {
	Y0, X0     int     // top left corner of the crop
	Flip       bool    // flipped left to right
	Brightness float32 // delta added
	Contrast   float32 // contrast factor
}

// Batch is one batch of pipeline output: Batch pictures of C x H x W float32 values and their
// labels, with the index in the set and the distortion of each.
type Batch struct {
	C, H, W     int
	Pixels      []float32
	Labels      []uint8
	Index       []int
	Distortions []Distortion
}

// Pipeline turns a ByteSet into an endless, reproducible stream of distorted batches. It is not
// safe for concurrent use; Run hands it to a goroutine of its own.
type Pipeline struct {
	set     *ByteSet
	cfg     PipelineConfig
	buf     []int // picture indices waiting in the shuffle buffer
	next    int   // position in the reading order of the next picture to enter the buffer
	emitted int   // pictures handed out so far
	rng     *rand.Rand
}

// NewPipeline checks cfg against set and fills the shuffle buffer. Pictures enter it in the
// set's order, epoch after epoch.
func NewPipeline(set *ByteSet, cfg PipelineConfig) (*Pipeline, error) {
	if err := set.Check(); err != nil {
		return nil, err
	}
	switch {
	case cfg.Batch <= 0:
		return nil, fmt.Errorf("data: pipeline batch %d", cfg.Batch)
	case cfg.CropH <= 0 || cfg.CropW <= 0 || cfg.CropH > set.H || cfg.CropW > set.W:
		return nil, fmt.Errorf("data: a %dx%d crop of %dx%d pictures", cfg.CropH, cfg.CropW, set.H, set.W)
	case cfg.ShuffleBuffer < 1:
		return nil, fmt.Errorf("data: shuffle buffer of %d pictures", cfg.ShuffleBuffer)
	case cfg.MaxBrightness < 0 || !(cfg.ContrastLower > 0 && cfg.ContrastLower <= cfg.ContrastUpper):
		return nil, fmt.Errorf("data: brightness delta %v, contrast [%v, %v]", cfg.MaxBrightness, cfg.ContrastLower, cfg.ContrastUpper)
	}
	p := &Pipeline{set: set, cfg: cfg, buf: make([]int, cfg.ShuffleBuffer),
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x73687566666c65))} // "shuffle"
	for i := range p.buf {
		p.buf[i] = p.next % set.N
		p.next++
	}
	return p, nil
}

// draw takes the next picture out of the shuffle buffer and puts the next one in.
func (p *Pipeline) draw() int {
	j := p.rng.IntN(len(p.buf))
	out := p.buf[j]
	p.buf[j] = p.next % p.set.N
	p.next++
	p.emitted++
	return out
}

// Skip discards the next n pictures without distorting them: a resumed run skips what the run
// before it consumed and then sees the same batches as an uninterrupted one.
func (p *Pipeline) Skip(n int) {
	for range n {
		p.draw()
	}
}

// distortion returns picture k's random changes. Each picture has a random source of its own,
// seeded from the pipeline's seed and k, so the draws do not depend on the shuffle.
func (p *Pipeline) distortion(k int) Distortion {
	r := rand.New(rand.NewPCG(p.cfg.Seed, splitmix(uint64(k))))
	c := p.cfg
	d := Distortion{Y0: r.IntN(p.set.H - c.CropH + 1), X0: r.IntN(p.set.W - c.CropW + 1)}
	flip := r.IntN(2) == 1
	d.Flip = c.Flip && flip
	d.Brightness = (2*r.Float32() - 1) * c.MaxBrightness
	d.Contrast = c.ContrastLower + r.Float32()*(c.ContrastUpper-c.ContrastLower)
	return d
}

// Apply writes picture src (C x H x W bytes) distorted by d into dst (C x CropH x CropW):
// crop and flip, brightness, contrast, standardisation, in the order of cifar10_input.
func (c PipelineConfig) Apply(dst []float32, src []uint8, ch, h, w int, d Distortion) {
	Crop(dst, src, ch, h, w, d.Y0, d.X0, c.CropH, c.CropW, d.Flip)
	AdjustBrightness(dst, d.Brightness)
	AdjustContrast(dst, ch, d.Contrast)
	Standardize(dst)
}

// Next returns the next batch.
func (p *Pipeline) Next() *Batch {
	c, s := p.cfg, p.set
	n := s.C * c.CropH * c.CropW
	b := &Batch{C: s.C, H: c.CropH, W: c.CropW, Pixels: make([]float32, c.Batch*n),
		Labels: make([]uint8, c.Batch), Index: make([]int, c.Batch), Distortions: make([]Distortion, c.Batch)}
	for i := range c.Batch {
		k := p.emitted
		j := p.draw()
		d := p.distortion(k)
		c.Apply(b.Pixels[i*n:(i+1)*n], s.Image(j), s.C, s.H, s.W, d)
		b.Labels[i], b.Index[i], b.Distortions[i] = s.Labels[j], j, d
	}
	return b
}

// Run prepares batches on a goroutine of its own, up to Ahead of them before they are taken,
// until ctx ends; then it closes the channel. The pipeline must not be used otherwise once Run
// is called.
func (p *Pipeline) Run(ctx context.Context) <-chan *Batch {
	ch := make(chan *Batch, max(p.cfg.Ahead, 0))
	go func() {
		defer close(ch)
		for ctx.Err() == nil {
			b := p.Next()
			select {
			case ch <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// splitmix is SplitMix64's finaliser: it spreads consecutive k over the whole 64-bit range.
func splitmix(k uint64) uint64 {
	k += 0x9e3779b97f4a7c15
	k = (k ^ (k >> 30)) * 0xbf58476d1ce4e5b9
	k = (k ^ (k >> 27)) * 0x94d049bb133111eb
	return k ^ (k >> 31)
}
