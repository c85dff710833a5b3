package style

import (
	"context"
	"fmt"
	"math"
	"time"

	"convas/compute/dream"
)

// Losses are the weighted terms of the loss and their sum.
type Losses struct {
	Content, Style, TV, Total float64
}

// Event is a progress report from a run: Iteration, Frame, Saved or Done.
type Event interface{ isEvent() }

// Iteration reports one optimiser step: the losses of the picture the step started from, under
// the weights of that step. It is always delivered.
type Iteration struct {
	Step, Of int // 1 .. Of, counted over every size of a coarse-to-fine run
	Losses   Losses
	Elapsed  time.Duration // since the run started
}

// Frame is the picture after a step, for a live preview. It is dropped rather than sent when
// the receiver has no room (the next one is newer).
type Frame struct {
	Step int
	Img  *Image // a copy of its own, never written again
}

// Saved is the picture every Config.Every steps, as the recipe's temp_output files. It is
// always delivered.
type Saved struct {
	Step int
	Img  *Image // a copy of its own, never written again
}

// Done is the finished picture. It is always delivered.
type Done struct {
	Img *Image // a copy of its own, never written again
}

func (Iteration) isEvent() {}
func (Frame) isEvent()     {}
func (Saved) isEvent()     {}
func (Done) isEvent()      {}

// Run transfers the style of styles (in the order of cfg.Styles, which give their blend weights;
// equal weights when cfg.Styles is empty) onto content with net, and returns the result at
// cfg.Size. Pictures are not changed. Run publishes progress on events (which may be nil), reads
// its weights from control at every step (nil: cfg's, throughout), and calls gate before every
// step (nil: none): a gate that blocks pauses the run, and one that returns an error ends it with
// that error. Run returns ctx's error once ctx is cancelled, and an error if the loss becomes
// NaN or infinite.
func Run(ctx context.Context, cfg Config, net Network, content *Image, styles []*Image, gate func(context.Context) error, control Control, events chan<- Event) (*Image, error) {
	// Check the settings, the pictures, the layers and the memory before any work.
	pics, sizes, err := check(cfg, net, content, styles)
	if err != nil {
		return nil, err
	}
	if control == nil {
		control = fixed{WeightsOf(cfg)}
	}
	if err := control.Current().Check(cfg); err != nil {
		return nil, err
	}

	// Size by size: the targets and the loss graph, the starting picture (or the last size's
	// picture enlarged), then the steps.
	r := &session{ctx: ctx, cfg: cfg, gate: gate, control: control, events: events,
		start: time.Now(), of: cfg.Iterations * len(sizes)}
	var img *Image
	var at *level
	for li, sz := range sizes {
		prev := at
		at = pics.at(cfg, sz[0], sz[1])
		p, err := newProblem(net, cfg, at)
		if err != nil {
			return nil, err
		}
		if li == 0 {
			img = initial(cfg, net, at)
		} else {
			img = reflectPad(dream.Resize(crop(img, prev.margin), sz[0], sz[1]), at.margin)
		}
		err = r.optimise(p, at, img)
		p.close()
		if err != nil {
			return nil, err
		}
	}
	out := at.output(img)
	if err := send(ctx, events, Done{Img: out.Clone()}); err != nil {
		return nil, err
	}
	return out, nil
}

// session is what the steps of every size of a run share.
type session struct {
	ctx     context.Context
	cfg     Config
	gate    func(context.Context) error
	control Control
	events  chan<- Event
	start   time.Time
	step    int // the steps made so far
	of      int // the steps of the whole run
}

// optimise makes cfg.Iterations steps on img (in place) down the loss p of one size, reporting
// each: the weights are read before every step, and a NaN or infinite loss ends the run.
func (r *session) optimise(p *problem, at *level, img *Image) error {
	opt := newOptimizer(r.cfg, len(img.Pix))
	for range r.cfg.Iterations {
		if err := pause(r.ctx, r.gate); err != nil {
			return err
		}
		w := r.control.Current()
		if err := w.Check(r.cfg); err != nil {
			return err
		}
		losses, err := opt.step(p, img, w)
		if err != nil {
			return err
		}
		r.step++
		if math.IsNaN(losses.Total) || math.IsInf(losses.Total, 0) {
			return fmt.Errorf("style: the loss is %v at step %d (content %v, style %v, tv %v): lower the learning rate or the weights",
				losses.Total, r.step, losses.Content, losses.Style, losses.TV)
		}
		if err := send(r.ctx, r.events, Iteration{Step: r.step, Of: r.of, Losses: losses, Elapsed: time.Since(r.start)}); err != nil {
			return err
		}
		offer(r.events, func() Event { return Frame{Step: r.step, Img: at.output(img)} })
		if r.cfg.Every > 0 && r.step%r.cfg.Every == 0 {
			if err := send(r.ctx, r.events, Saved{Step: r.step, Img: at.output(img)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Check does what Run does before any work: it checks the settings, the pictures and the layers
// against the network, and refuses a run that does not fit the memory budget, naming the largest
// size that does. A front end calls it to refuse a run before it starts a job.
func Check(cfg Config, net Network, content *Image, styles []*Image) error {
	_, _, err := check(cfg, net, content, styles)
	return err
}

// check is Check, returning the pictures at the result's size and the sizes of the run.
func check(cfg Config, net Network, content *Image, styles []*Image) (*pictures, [][2]int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	pics, err := prepare(cfg, content, styles)
	if err != nil {
		return nil, nil, err
	}
	if _, err := lastLayer(net.Layers(), cfg.layerNames(), cfg.Model); err != nil {
		return nil, nil, err
	}
	sizes := levels(cfg, pics.content.H, pics.content.W)
	if err := preflight(cfg, net, pics, sizes); err != nil {
		return nil, nil, err
	}
	return pics, sizes, nil
}

// pause calls the gate and then checks the context.
func pause(ctx context.Context, gate func(context.Context) error) error {
	if gate != nil {
		if err := gate(ctx); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// offer sends the event made by mk if the receiver has room for it, and drops it otherwise: a
// run never waits for a slow receiver of frames. Half the channel is kept free for the events
// that must be delivered. The frame is only copied when it can be sent.
func offer(events chan<- Event, mk func() Event) {
	if events == nil || (cap(events) > 0 && len(events) >= (cap(events)+1)/2) {
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
