package transfer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"convas/compute/nn"
	"convas/compute/optim"
)

// Config is the head's training, with retrain.py's defaults.
type Config struct {
	// Hidden is the size of a hidden ReLU layer before the softmax; 0 for none (retrain.py).
	Hidden int `json:"hidden" toml:"hidden"`
	// Optimizer is "sgd", plain gradient descent (retrain.py's GradientDescentOptimizer), or
	// "adam" (Kingma and Ba, with the paper's betas).
	Optimizer string `json:"optimizer" toml:"optimizer"`
	// LearningRate is the solver's step size (retrain.py: 0.01).
	LearningRate float64 `json:"learning_rate" toml:"learning_rate"`
	// BatchSize is how many training bottlenecks each step draws, at random with replacement
	// as retrain.py's get_random_cached_bottlenecks does (retrain.py: 100).
	BatchSize int `json:"batch_size" toml:"batch_size"`
	// Steps is the number of training steps (retrain.py: 4,000).
	Steps int `json:"steps" toml:"steps"`
	// EvalEvery is how often, in steps, the validation set is scored (retrain.py: 10). The last
	// step is always scored.
	EvalEvery int `json:"eval_every" toml:"eval_every"`
	// Seed draws the initial weights and the batches (and their distortions).
	Seed uint64 `json:"seed" toml:"seed"`
	// Distortions, when any is on, distort every training picture each time a step draws it,
	// and its bottleneck is computed afresh (the cache is bypassed for the training set).
	Distortions Distortions `json:"distortions" toml:"distortions"`
	// FineTune trains the backbone's last block (the embedded trunk's mixed5) with the head:
	// the frozen part's output (mixed4's maps) is cached instead of the bottlenecks, and every
	// step runs its batch through the block, which is much slower than a head alone.
	FineTune bool `json:"fine_tune" toml:"fine_tune"`
	// FineTuneLearningRate is the block's step size; 0 for a tenth of LearningRate.
	FineTuneLearningRate float64 `json:"fine_tune_learning_rate,omitempty" toml:"fine_tune_learning_rate"`
	// Accel is the GPU the run computes on (compute/device.Handle.Accel); nil, the default, is
	// the CPU. It is not part of a saved preset.
	Accel nn.Accel `toml:"-" json:"-"`
}

// DefaultConfig returns retrain.py's settings.
func DefaultConfig() Config {
	return Config{Optimizer: "sgd", LearningRate: 0.01, BatchSize: 100, Steps: 4000, EvalEvery: 10, Seed: 1}
}

// Validate checks every field; the error names the first bad one.
func (c Config) Validate() error {
	switch {
	case c.Hidden < 0:
		return fmt.Errorf("transfer: hidden %d: must be 0 (none) or more", c.Hidden)
	case c.Optimizer != "sgd" && c.Optimizer != "adam":
		return fmt.Errorf("transfer: optimizer %q: sgd or adam", c.Optimizer)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("transfer: learning rate %g: must be positive", c.LearningRate)
	case c.BatchSize <= 0:
		return fmt.Errorf("transfer: batch size %d: must be positive", c.BatchSize)
	case c.Steps <= 0:
		return fmt.Errorf("transfer: steps %d: must be positive", c.Steps)
	case c.EvalEvery <= 0:
		return fmt.Errorf("transfer: evaluation interval %d: must be positive", c.EvalEvery)
	case !(c.FineTuneLearningRate >= 0) || math.IsInf(c.FineTuneLearningRate, 0):
		return fmt.Errorf("transfer: fine-tuning learning rate %g: must be positive (0: a tenth of the learning rate)", c.FineTuneLearningRate)
	case c.FineTune && c.Distortions.Any():
		return errors.New("transfer: fine-tuning and distortions cannot be combined: the distorted pictures would need the whole trunk each step")
	}
	return c.Distortions.Validate()
}

// Event is a progress report of Run: ExtractProgress, Skipped, StepProgress (with distortions),
// Evaluation or Done.
type Event interface{ transferEvent() }

func (ExtractProgress) transferEvent() {}
func (Skipped) transferEvent()         {}
func (Evaluation) transferEvent()      {}
func (Done) transferEvent()            {}

// Evaluation is the state of training after a step: the loss and accuracy on that step's
// training batch (as retrain.py reports them), and on the whole validation set.
type Evaluation struct {
	Step, Steps        int
	TrainLoss          float64
	TrainAccuracy      float64 // percent
	ValidationLoss     float64 // NaN without validation pictures
	ValidationAccuracy float64 // percent; NaN without validation pictures
	// Confusion counts the validation pictures by true class (row) and predicted class
	// (column). It is a new matrix each time.
	Confusion [][]int
	// Misclassified lists the validation pictures the head got wrong at this evaluation (not
	// kept in Result.History).
	Misclassified []Misclassified
}

// Done ends a run that finished.
type Done struct{ Result *Result }

// Misclassified is a picture the head got wrong.
type Misclassified struct {
	Path            string
	True, Predicted int
	Probability     float64 // of the predicted class
}

// Result is a finished training.
type Result struct {
	Head *Head
	// History has every evaluation, in order.
	History []Evaluation
	// ValidationAccuracy is the last evaluation's, TestAccuracy the final head's on the test set,
	// in percent; NaN when the set is empty.
	ValidationAccuracy, TestAccuracy float64
	// Counts of the pictures with bottlenecks in each set, indexed by Set.
	Counts [3]int
	// Confusion is the final head's on ConfusionSet: the test set, or the validation set when
	// there is no test set. Rows are true classes, columns predictions.
	Confusion    [][]int
	ConfusionSet Set
	// Misclassified lists ConfusionSet's pictures the head got wrong.
	Misclassified []Misclassified
	// Extraction is what the bottleneck phase did.
	Extraction ExtractProgress
	Computed   int // distinct pictures run through the backbone (the rest came from the cache)
	// Distorted counts the distorted training pictures run through the backbone (Steps times
	// BatchSize with distortions on, 0 otherwise).
	Distorted int
}

// examples are the bottlenecks and labels of one set.
type examples struct {
	x      []float32 // n x dim
	labels []int
	index  []int // picture indices
}

func (e *examples) n() int { return len(e.labels) }

// collect gathers a set's pictures with bottlenecks; with noFeatures, every picture of the set,
// whose bottlenecks are computed later (x stays empty).
func collect(d *DataSet, bn *Bottlenecks, s Set, noFeatures bool) *examples {
	e := &examples{}
	for i, p := range d.Pictures {
		if p.Set != s || (!noFeatures && bn.Features[i] == nil) {
			continue
		}
		if !noFeatures {
			e.x = append(e.x, bn.Features[i]...)
		}
		e.labels = append(e.labels, p.Class)
		e.index = append(e.index, i)
	}
	return e
}

// Train fits a new head to the bottlenecks of d's training pictures and scores it on the
// validation set every cfg.EvalEvery steps (onEval, which may be nil, gets each evaluation) and
// on the test set at the end. gate (may be nil) is called before each step and ends training
// with its error. A loss that is not finite ends it with an error. Distortions need the
// backbone: use Run for them.
func Train(ctx context.Context, cfg Config, d *DataSet, bn *Bottlenecks, gate func(context.Context) error,
	onEval func(Evaluation)) (*Result, error) {
	if cfg.Distortions.Any() {
		return nil, errors.New("transfer: distortions need the backbone (Run), not only bottlenecks")
	}
	return train(ctx, cfg, d, bn, nil, gate, onEval)
}

// train is Train; with a distorter (cfg.Distortions on), the training bottlenecks are computed
// each step from distorted pictures instead of read from bn.
func train(ctx context.Context, cfg Config, d *DataSet, bn *Bottlenecks, dist *distorter, gate func(context.Context) error,
	onEval func(Evaluation)) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sets := [3]*examples{collect(d, bn, Training, dist != nil), collect(d, bn, Validation, false), collect(d, bn, Testing, false)}
	tr := sets[Training]
	if tr.n() == 0 {
		return nil, errNoTraining
	}
	var dim int
	if dist != nil {
		dim = dist.dim()
		if v := sets[Validation]; v.n() > 0 && len(v.x)/v.n() != dim {
			return nil, fmt.Errorf("transfer: %s gives %d features, the validation bottlenecks have %d", dist.b.Name(), dim, len(v.x)/v.n())
		}
	} else {
		dim = len(tr.x) / tr.n()
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7472616e73666572)) // "transfer"
	head, err := NewHead(dim, cfg.Hidden, len(d.Classes), rng)
	if err != nil {
		return nil, err
	}
	var solver optim.Solver = optim.NewMomentum(0) // momentum 0: plain gradient descent
	if cfg.Optimizer == "adam" {
		solver = optim.NewAdam()
	}
	ps := head.params()
	res := &Result{Head: head}
	for s := range sets {
		res.Counts[s] = sets[s].n()
	}
	x := make([]float32, cfg.BatchSize*dim)
	labels := make([]int, cfg.BatchSize)
	for step := 1; step <= cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if gate != nil {
			if err := gate(ctx); err != nil {
				return nil, err
			}
		}
		if dist != nil {
			if err := dist.batch(ctx, rng, tr, cfg.BatchSize, dim, x, labels, step, cfg.Steps); err != nil {
				return nil, err
			}
		} else {
			for i := range labels {
				j := rng.IntN(tr.n())
				copy(x[i*dim:(i+1)*dim], tr.x[j*dim:(j+1)*dim])
				labels[i] = tr.labels[j]
			}
		}
		p := head.forward(x, cfg.BatchSize)
		loss, right := p.loss(labels, head.Classes)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("transfer: step %d: the loss is %v: lower the learning rate", step, loss)
		}
		head.backward(p, labels, ps)
		if err := solver.Step(ps, float32(cfg.LearningRate)); err != nil {
			return nil, fmt.Errorf("transfer: step %d: %w", step, err)
		}
		if step%cfg.EvalEvery == 0 || step == cfg.Steps {
			// The scores after this step's update, as retrain.py's evaluation after train_step.
			ev := Evaluation{Step: step, Steps: cfg.Steps, TrainLoss: loss,
				TrainAccuracy: 100 * float64(right) / float64(cfg.BatchSize)}
			var wrong []int
			ev.ValidationLoss, ev.ValidationAccuracy, ev.Confusion, wrong = head.score(sets[Validation])
			ev.Misclassified = head.misclassified(sets[Validation], wrong, d)
			res.History = append(res.History, ev.withoutPictures())
			if onEval != nil {
				onEval(ev)
			}
		}
	}
	if dist != nil {
		res.Distorted = dist.ran
	}
	last := res.History[len(res.History)-1]
	res.ValidationAccuracy = last.ValidationAccuracy
	_, res.TestAccuracy, _, _ = head.score(sets[Testing])
	res.ConfusionSet = Testing
	if sets[Testing].n() == 0 {
		res.ConfusionSet = Validation
	}
	var wrong []int
	_, _, res.Confusion, wrong = head.score(sets[res.ConfusionSet])
	res.Misclassified = head.misclassified(sets[res.ConfusionSet], wrong, d)
	return res, nil
}

// withoutPictures returns the evaluation without its list of misclassified pictures, as a run's
// history keeps it.
func (ev Evaluation) withoutPictures() Evaluation {
	ev.Misclassified = nil
	return ev
}

// misclassified describes the examples of e at the positions wrong (which the head got wrong):
// each picture's path, true class, and the head's prediction with its probability.
func (h *Head) misclassified(e *examples, wrong []int, d *DataSet) []Misclassified {
	var out []Misclassified
	for _, w := range wrong {
		probs := h.forward(e.x[w*h.In:(w+1)*h.In], 1).probs
		pred := argmax(probs)
		out = append(out, Misclassified{Path: d.Pictures[e.index[w]].Path,
			True: e.labels[w], Predicted: pred, Probability: float64(probs[pred])})
	}
	return out
}

// score returns the head's mean loss, accuracy (percent) and confusion matrix on a set, and the
// positions in it of the examples it got wrong; NaN loss and accuracy for an empty set.
func (h *Head) score(e *examples) (loss, acc float64, confusion [][]int, wrong []int) {
	confusion = make([][]int, h.Classes)
	for i := range confusion {
		confusion[i] = make([]int, h.Classes)
	}
	if e.n() == 0 {
		return math.NaN(), math.NaN(), confusion, nil
	}
	const chunk = 512 // bounds the activations held at once
	right := 0
	for lo := 0; lo < e.n(); lo += chunk {
		hi := min(lo+chunk, e.n())
		p := h.forward(e.x[lo*h.In:hi*h.In], hi-lo)
		l, _ := p.loss(e.labels[lo:hi], h.Classes)
		loss += l * float64(hi-lo)
		for i := lo; i < hi; i++ {
			pred := argmax(p.probs[(i-lo)*h.Classes : (i-lo+1)*h.Classes])
			confusion[e.labels[i]][pred]++
			if pred == e.labels[i] {
				right++
			} else {
				wrong = append(wrong, i)
			}
		}
	}
	return loss / float64(e.n()), 100 * float64(right) / float64(e.n()), confusion, wrong
}

// Run is the whole recipe on a scanned data set: the bottlenecks (Extract, with cache, which may
// be nil), then the head (Train). It sends ExtractProgress, Skipped (pictures that could not be
// decoded), Evaluation and, at the end, Done on events, which it closes when it returns.
// Progress reports are dropped when the channel is full; evaluations wait for room (or ctx).
func Run(ctx context.Context, b Backbone, d *DataSet, cache *Cache, cfg Config, gate func(context.Context) error,
	events chan<- Event) (*Model, *Result, error) {
	defer close(events)
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	send := func(e Event) { // waits for room: evaluations, skips and the end
		select {
		case events <- e:
		case <-ctx.Done():
		}
	}
	offer := func(e Event) { // progress, dropped when the channel is full
		select {
		case events <- e:
		default:
		}
	}
	if cfg.FineTune {
		return runTuned(ctx, b, d, cache, cfg, gate, send, offer)
	}
	var last ExtractProgress
	distort := cfg.Distortions.Any()
	// With distortions the training pictures' bottlenecks are computed each step: only the
	// validation and test sets are extracted (and cached).
	keep := func(p Picture) bool { return !distort || p.Set != Training }
	bn, err := extract(ctx, b, d, cache, DefaultBatch, keep, cfg.Accel, gate, func(p ExtractProgress) { last = p; offer(p) })
	if err != nil {
		return nil, nil, err
	}
	send(last) // the last report is never dropped
	for _, s := range bn.Failed {
		send(s)
	}
	var dist *distorter
	if distort {
		paths := make([]string, len(d.Pictures))
		for i, p := range d.Pictures {
			paths[i] = p.Path
		}
		if dist, err = newDistorter(b, cfg.Distortions, paths, cfg.BatchSize, cfg.Accel); err != nil {
			return nil, nil, err
		}
		defer dist.close()
		dist.onSkip = func(s Skipped) { send(s) }
		dist.onProgress = func(p StepProgress) { offer(p) }
	}
	res, err := train(ctx, cfg, d, bn, dist, gate, func(e Evaluation) { send(e) })
	if err != nil {
		return nil, nil, err
	}
	res.Extraction, res.Computed = last, bn.Computed
	m := &Model{Backbone: b.Name(), Layer: b.Layer(), InputSize: b.Size(), Labels: d.Classes, Head: res.Head,
		ValidationAccuracy: res.ValidationAccuracy, TestAccuracy: res.TestAccuracy, Config: cfg}
	send(Done{Result: res})
	return m, res, nil
}

// runTuned is Run with cfg.FineTune: the frozen part's maps are extracted (and cached), then the
// block and the head are trained together.
func runTuned(ctx context.Context, b Backbone, d *DataSet, cache *Cache, cfg Config, gate func(context.Context) error,
	send, offer func(Event)) (*Model, *Result, error) {
	t, err := fineTunable(b)
	if err != nil {
		return nil, nil, err
	}
	var last ExtractProgress
	bn, err := extract(ctx, frozenTrunk{t}, d, cache, DefaultBatch, nil, cfg.Accel, gate, func(p ExtractProgress) { last = p; offer(p) })
	if err != nil {
		return nil, nil, err
	}
	send(last)
	for _, s := range bn.Failed {
		send(s)
	}
	res, tuned, err := trainTuned(ctx, cfg, t, d, bn, gate, func(e Evaluation) { send(e) }, func(p StepProgress) { offer(p) })
	if err != nil {
		return nil, nil, err
	}
	block, err := blockParams(tuned)
	if err != nil {
		return nil, nil, err
	}
	res.Extraction, res.Computed = last, bn.Computed
	m := &Model{Backbone: b.Name(), Layer: b.Layer(), InputSize: b.Size(), Labels: d.Classes, Head: res.Head,
		ValidationAccuracy: res.ValidationAccuracy, TestAccuracy: res.TestAccuracy, Config: cfg, Block: block}
	send(Done{Result: res})
	return m, res, nil
}
