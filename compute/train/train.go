// Package train runs the from-scratch CNN recipes: a network, a data set and a solver, stepped
// generation by generation, with progress published as typed events.
//
// A run is one goroutine, one Gorgonia graph per batch size, and no shared state: everything a
// run needs lives in its State, which a checkpoint saves and restores.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/data"
	"convas/compute/models"
	"convas/compute/nn"
	"convas/compute/optim"
)

// Event is a progress report from a run: Step, Eval or Done.
type Event interface{ isEvent() }

// Step reports one finished generation.
type Step struct {
	Gen, Of int
	Loss    float64
	LR      float64
	Elapsed time.Duration // since the run (or the resumed run) started
}

// Eval reports an evaluation, the recipe's log line: training loss and accuracy on the latest
// batch, test accuracy on a random sample of the test set. Accuracies are percentages.
type Eval struct {
	Gen, Of   int
	TrainLoss float64
	TrainAcc  float64
	TestAcc   float64
	Samples   []Sample // the first six pictures of the latest batch with their predictions
}

// Sample is one picture with its true and predicted class.
type Sample struct {
	Pixels        []float32 // H x W (first channel), in [0, 1]
	H, W          int
	Actual, Pred  int
	Probabilities []float32
}

// Done reports the end of a run with the accuracy on the whole test set (a percentage).
type Done struct {
	Gen     int
	TestAcc float64
	Correct int
	Total   int
}

func (Step) isEvent() {}
func (Eval) isEvent() {}
func (Done) isEvent() {}

// LogLine formats an evaluation as the recipe prints it.
func (e Eval) LogLine() string {
	return fmt.Sprintf("Generation # %d. Train Loss: %.2f. Train Acc (Test Acc): %.2f (%.2f)", e.Gen, e.TrainLoss, e.TrainAcc, e.TestAcc)
}

// Data is what a run trains and tests on.
type Data struct {
	Train, Test *data.Set
}

// State is everything a run needs to go on: the configuration, the weights, the solver's state,
// the random source, the generations done and the evaluations so far.
type State struct {
	Config  Config
	Model   *models.MNISTCNN
	Solver  optim.Solver
	RNG     *rand.PCG
	Gen     int
	History []Eval // without samples
}

// ErrDiverged reports a loss that became NaN or infinite.
var ErrDiverged = errors.New("train: loss is not a finite number (diverged); lower the learning rate")

// NewState starts a run from freshly initialised weights for a data set of the given picture
// shape and class count.
func NewState(cfg Config, h, w, c, classes int) (*State, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("train: %w", errs[0])
	}
	solver, err := optim.New(cfg.Optimizer, float32(cfg.Momentum))
	if err != nil {
		return nil, err
	}
	rng := rand.NewPCG(uint64(cfg.Seed), 0x636f6e766173) // "convas"
	shape := models.MNISTShape{Height: h, Width: w, Channels: c,
		Conv1: cfg.Conv1Features, Conv2: cfg.Conv2Features,
		Pool1: cfg.MaxPoolSize1, Pool2: cfg.MaxPoolSize2,
		Hidden: cfg.FullyConnectedSize1, Classes: classes}
	return &State{Config: cfg, Model: models.NewMNISTCNN(shape, rand.New(rng)), Solver: solver, RNG: rng}, nil
}

// LearningRate returns the rate at generation gen: the staircase decay of the configuration.
func (c Config) LearningRateAt(gen int) float64 {
	return c.LearningRate * math.Pow(c.LRDecay, float64(gen/c.LRDecayEvery))
}

// Gate blocks while a run is paused; it returns an error when the run must stop.
type Gate func(ctx context.Context) error

// Run trains st until st.Config.Generations, evaluating every EvalEvery generations and on the
// whole test set at the end. Progress goes to events: Step events are dropped when the receiver is
// behind, Eval and Done events are always delivered (or the run ends with ctx). gate, if not nil,
// is called before every generation. On cancellation st holds the last finished generation.
func Run(ctx context.Context, st *State, d Data, gate Gate, events chan<- Event) error {
	cfg := st.Config
	if err := checkData(st.Model.Shape, d); err != nil {
		return err
	}
	r := rand.New(st.RNG)
	tr, err := newTrainer(st.Model, cfg.BatchSize)
	if err != nil {
		return err
	}
	ev, err := newEvaluator(st.Model, cfg.EvaluationSize)
	if err != nil {
		return err
	}
	params := make([]optim.Param, len(st.Model.Params))
	for i, p := range st.Model.Params {
		params[i] = optim.Param{Name: p.Name, Value: p.Data}
	}
	idx := make([]int, cfg.BatchSize)
	start := time.Now()
	for st.Gen < cfg.Generations {
		if gate != nil {
			if err := gate(ctx); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// The recipe draws each batch with replacement (np.random.choice).
		for i := range idx {
			idx[i] = r.IntN(d.Train.N)
		}
		loss, grads, err := tr.step(d.Train, idx)
		if err != nil {
			return err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("%w (generation %d)", ErrDiverged, st.Gen+1)
		}
		// Train accuracy comes from the logits of this step's forward pass, before the update; the
		// recipe runs the batch once more after it. The difference is one step of learning.
		var trainAcc float64
		var samples []Sample
		evalNow := (st.Gen+1)%cfg.EvalEvery == 0
		if evalNow {
			trainAcc, samples = tr.accuracy(d.Train, idx)
		}
		for i := range params {
			params[i].Grad = grads[i]
		}
		lr := cfg.LearningRateAt(st.Gen)
		if err := st.Solver.Step(params, float32(lr)); err != nil {
			return err
		}
		tr.reset()
		st.Gen++
		select {
		case events <- Step{Gen: st.Gen, Of: cfg.Generations, Loss: loss, LR: lr, Elapsed: time.Since(start)}:
		default:
		}
		if evalNow {
			testIdx := make([]int, cfg.EvaluationSize)
			for i := range testIdx {
				testIdx[i] = r.IntN(d.Test.N)
			}
			correct, err := ev.correct(d.Test, testIdx)
			if err != nil {
				return err
			}
			e := Eval{Gen: st.Gen, Of: cfg.Generations, TrainLoss: loss, TrainAcc: trainAcc,
				TestAcc: 100 * float64(correct) / float64(len(testIdx))}
			st.History = append(st.History, e)
			e.Samples = samples
			if err := send(ctx, events, e); err != nil {
				return err
			}
		}
	}
	correct, err := ev.correctAll(d.Test)
	if err != nil {
		return err
	}
	return send(ctx, events, Done{Gen: st.Gen, Correct: correct, Total: d.Test.N,
		TestAcc: 100 * float64(correct) / float64(d.Test.N)})
}

func send(ctx context.Context, events chan<- Event, e Event) error {
	select {
	case events <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func checkData(s models.MNISTShape, d Data) error {
	for _, set := range []struct {
		name string
		s    *data.Set
	}{{"training", d.Train}, {"test", d.Test}} {
		if set.s == nil || set.s.N == 0 {
			return fmt.Errorf("train: the %s set is empty", set.name)
		}
		if set.s.H != s.Height || set.s.W != s.Width || set.s.C != s.Channels {
			return fmt.Errorf("train: the %s set holds %dx%dx%d pictures, the network takes %dx%dx%d",
				set.name, set.s.H, set.s.W, set.s.C, s.Height, s.Width, s.Channels)
		}
		if set.s.Classes > s.Classes {
			return fmt.Errorf("train: the %s set has %d classes, the network %d", set.name, set.s.Classes, s.Classes)
		}
	}
	return nil
}

// trainer is the training graph for one batch size: forward, loss and weight gradients.
type trainer struct {
	g      *models.Graph
	labels *G.Node
	loss   *G.Node
	grads  G.Nodes
	vm     G.VM
	x, y   *tensor.Dense
}

func newTrainer(m *models.MNISTCNN, batch int) (*trainer, error) {
	g, err := m.Build(batch)
	if err != nil {
		return nil, err
	}
	classes := m.Shape.Classes
	labels := G.NewMatrix(g.G, tensor.Float32, G.WithShape(batch, classes), G.WithName("labels"))
	loss, err := nn.SoftmaxCrossEntropy(g.Logits, labels)
	if err != nil {
		return nil, fmt.Errorf("train: loss: %w", err)
	}
	grads, err := G.Grad(loss, g.Weights...)
	if err != nil {
		return nil, fmt.Errorf("train: gradient: %w", err)
	}
	t := &trainer{g: g, labels: labels, loss: loss, grads: grads,
		x: tensor.New(tensor.WithShape(g.Input.Shape()...), tensor.Of(tensor.Float32)),
		y: tensor.New(tensor.WithShape(batch, classes), tensor.Of(tensor.Float32))}
	// Compile only what a step needs: the loss, the logits and the weight gradients. An unpruned
	// graph would also compute the gradient to the input pictures, which nothing uses.
	inputs := append(G.Nodes{g.Input, labels}, g.Weights...)
	outputs := append(G.Nodes{loss, g.Logits}, grads...)
	prog, locs, err := G.CompileFunction(g.G, inputs, outputs)
	if err != nil {
		return nil, fmt.Errorf("train: compile: %w", err)
	}
	t.vm = G.NewTapeMachine(g.G, G.WithPrecompiled(prog, locs))
	return t, nil
}

// step runs forward and backward on the pictures idx; the gradients are valid until reset.
func (t *trainer) step(set *data.Set, idx []int) (float64, [][]float32, error) {
	fill(t.x.Data().([]float32), t.y.Data().([]float32), set, idx, t.labels.Shape()[1])
	if err := G.Let(t.g.Input, t.x); err != nil {
		return 0, nil, err
	}
	if err := G.Let(t.labels, t.y); err != nil {
		return 0, nil, err
	}
	if err := t.vm.RunAll(); err != nil {
		return 0, nil, fmt.Errorf("train: run: %w", err)
	}
	grads := make([][]float32, len(t.grads))
	for i, n := range t.grads {
		grads[i] = n.Value().Data().([]float32)
	}
	return float64(t.loss.Value().Data().(float32)), grads, nil
}

func (t *trainer) reset() { t.vm.Reset() }

// accuracy returns the percentage of the batch the last step classified right, and six samples.
func (t *trainer) accuracy(set *data.Set, idx []int) (float64, []Sample) {
	logits := t.g.Logits.Value().Data().([]float32)
	k := t.g.Logits.Shape()[1]
	correct := 0
	var samples []Sample
	for i, j := range idx {
		row := logits[i*k : (i+1)*k]
		pred := argmax(row)
		if pred == int(set.Labels[j]) {
			correct++
		}
		if len(samples) < 6 {
			img := set.Image(j)
			samples = append(samples, Sample{Pixels: append([]float32(nil), img[:set.H*set.W]...), H: set.H, W: set.W,
				Actual: int(set.Labels[j]), Pred: pred, Probabilities: softmax(row)})
		}
	}
	return 100 * float64(correct) / float64(len(idx)), samples
}

// evaluator is the forward-only graph for the evaluation batch size.
type evaluator struct {
	g  *models.Graph
	vm G.VM
	x  *tensor.Dense
}

func newEvaluator(m *models.MNISTCNN, batch int) (*evaluator, error) {
	g, err := m.Build(batch)
	if err != nil {
		return nil, err
	}
	return &evaluator{g: g, vm: G.NewTapeMachine(g.G),
		x: tensor.New(tensor.WithShape(g.Input.Shape()...), tensor.Of(tensor.Float32))}, nil
}

// logits runs the network on the pictures idx (at most the graph's batch; the rest of the batch
// is zero) and calls f with each picture's logits.
func (e *evaluator) logits(set *data.Set, idx []int, f func(i int, row []float32)) error {
	x := e.x.Data().([]float32)
	clear(x)
	fill(x, nil, set, idx, 0)
	if err := G.Let(e.g.Input, e.x); err != nil {
		return err
	}
	defer e.vm.Reset()
	if err := e.vm.RunAll(); err != nil {
		return fmt.Errorf("train: evaluate: %w", err)
	}
	out := e.g.Logits.Value().Data().([]float32)
	k := e.g.Logits.Shape()[1]
	for i := range idx {
		f(i, out[i*k:(i+1)*k])
	}
	return nil
}

func (e *evaluator) correct(set *data.Set, idx []int) (int, error) {
	n := 0
	batch := e.g.Input.Shape()[0]
	for from := 0; from < len(idx); from += batch {
		chunk := idx[from:min(from+batch, len(idx))]
		err := e.logits(set, chunk, func(i int, row []float32) {
			if argmax(row) == int(set.Labels[chunk[i]]) {
				n++
			}
		})
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (e *evaluator) correctAll(set *data.Set) (int, error) {
	idx := make([]int, set.N)
	for i := range idx {
		idx[i] = i
	}
	return e.correct(set, idx)
}

// fill copies the pictures idx into x and, when y is not nil, their one-hot labels into y.
func fill(x, y []float32, set *data.Set, idx []int, classes int) {
	n := set.ImageLen()
	for i, j := range idx {
		copy(x[i*n:(i+1)*n], set.Image(j))
	}
	if y != nil {
		clear(y)
		for i, j := range idx {
			y[i*classes+int(set.Labels[j])] = 1
		}
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func softmax(v []float32) []float32 {
	m := v[argmax(v)]
	out := make([]float32, len(v))
	var sum float64
	for i, x := range v {
		e := math.Exp(float64(x - m))
		out[i] = float32(e)
		sum += e
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / sum)
	}
	return out
}

// Classify returns each picture's class probabilities under the model. Pictures are C x H x W
// values in [0, 1], the shape the model was built for.
func Classify(m *models.MNISTCNN, pictures [][]float32) ([][]float32, error) {
	s := m.Shape
	set := &data.Set{N: len(pictures), C: s.Channels, H: s.Height, W: s.Width, Classes: s.Classes,
		Labels: make([]uint8, len(pictures))}
	for i, p := range pictures {
		if len(p) != set.ImageLen() {
			return nil, fmt.Errorf("train: picture %d has %d values, the network takes %d", i, len(p), set.ImageLen())
		}
		set.Pixels = append(set.Pixels, p...)
	}
	ev, err := newEvaluator(m, max(1, min(len(pictures), 100)))
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(pictures))
	batch := ev.g.Input.Shape()[0]
	for from := 0; from < len(pictures); from += batch {
		idx := make([]int, 0, batch)
		for i := from; i < min(from+batch, len(pictures)); i++ {
			idx = append(idx, i)
		}
		err := ev.logits(set, idx, func(i int, row []float32) { out[idx[i]] = softmax(row) })
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
