package train

import (
	"context"
	"fmt"
	"math/rand/v2"

	"convas/compute/data"
)

// source feeds the training loop its batches.
type source interface {
	// fill writes the next batch's pictures into x and one-hot labels into y, and returns the
	// labels.
	fill(ctx context.Context, x, y []float32) ([]uint8, error)
	// sample returns picture i of the batch last filled into x, for display.
	sample(i int, x []float32) Sample
}

// newSource returns the recipe's source of training batches and its test set.
func newSource(ctx context.Context, st *State, d Data, r *rand.Rand) (source, *data.Set, error) {
	if st.Config.Recipe != RecipeCIFAR {
		return &drawSource{set: d.Train, r: r, idx: make([]int, st.Config.BatchSize), classes: st.Net.NumClasses()}, d.Test, nil
	}
	_, h, w := st.Net.InputShape()
	test, err := data.CenterCropStandardized(d.RawTest, h, w)
	if err != nil {
		return nil, nil, fmt.Errorf("train: test set: %w", err)
	}
	cfg := data.CIFARPipeline(st.Config.BatchSize, uint64(st.Config.Seed)^0x706970656c696e65) // "pipeline"
	cfg.CropH, cfg.CropW = h, w
	p, err := data.NewPipeline(d.RawTrain, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	// A resumed run skips what the generations before it consumed, so it sees the batches an
	// uninterrupted run would have.
	p.Skip(st.Gen * st.Config.BatchSize)
	return &pipelineSource{batches: p.Run(ctx), classes: st.Net.NumClasses()}, test, nil
}

// drawSource is the MNIST recipe's: each batch drawn with replacement (np.random.choice).
type drawSource struct {
	set     *data.Set
	r       *rand.Rand
	idx     []int
	classes int
}

func (s *drawSource) fill(_ context.Context, x, y []float32) ([]uint8, error) {
	labels := make([]uint8, len(s.idx))
	for i := range s.idx {
		s.idx[i] = s.r.IntN(s.set.N)
		labels[i] = s.set.Labels[s.idx[i]]
	}
	fill(x, y, s.set, s.idx, s.classes)
	return labels, nil
}

func (s *drawSource) sample(i int, _ []float32) Sample {
	return Sample{Pixels: append([]float32(nil), s.set.Image(s.idx[i])...), C: s.set.C, H: s.set.H, W: s.set.W}
}

// pipelineSource is the CIFAR-10 recipe's: batches from the input pipeline's goroutine.
type pipelineSource struct {
	batches <-chan *data.Batch
	last    *data.Batch
	classes int
}

func (s *pipelineSource) fill(ctx context.Context, x, y []float32) ([]uint8, error) {
	select {
	case b, ok := <-s.batches:
		if !ok {
			return nil, ctx.Err()
		}
		s.last = b
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	copy(x, s.last.Pixels)
	clear(y)
	for i, l := range s.last.Labels {
		y[i*s.classes+int(l)] = 1
	}
	return s.last.Labels, nil
}

// sample rescales the standardised picture to [0, 1] by its own minimum and maximum, so it can
// be shown as the network sees it.
func (s *pipelineSource) sample(i int, x []float32) Sample {
	b := s.last
	n := b.C * b.H * b.W
	px := append([]float32(nil), x[i*n:(i+1)*n]...)
	lo, hi := px[0], px[0]
	for _, v := range px {
		lo, hi = min(lo, v), max(hi, v)
	}
	for j, v := range px {
		if hi > lo {
			px[j] = (v - lo) / (hi - lo)
		} else {
			px[j] = 0.5
		}
	}
	return Sample{Pixels: px, C: b.C, H: b.H, W: b.W}
}
