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
	Pixels        []float32 // C x H x W, in [0, 1] (the CIFAR-10 pipeline's output rescaled to it)
	C, H, W       int
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

// Log reports the training loss at a LogEvery generation, the CIFAR-10 recipe's log line.
type Log struct {
	Gen, Of int
	Loss    float64
	LR      float64
}

func (Step) isEvent() {}
func (Eval) isEvent() {}
func (Done) isEvent() {}
func (Log) isEvent()  {}

// LogLine formats the line as the CIFAR-10 recipe prints it.
func (l Log) LogLine() string { return fmt.Sprintf("Generation %d: Loss = %.5f", l.Gen, l.Loss) }

// LogLine formats an evaluation as the recipe prints it.
func (e Eval) LogLine() string {
	return fmt.Sprintf("Generation # %d. Train Loss: %.2f. Train Acc (Test Acc): %.2f (%.2f)", e.Gen, e.TrainLoss, e.TrainAcc, e.TestAcc)
}

// Data is what a run trains and tests on: float32 pictures as the network takes them (MNIST),
// or bytes that the CIFAR-10 input pipeline crops, distorts and standardises.
type Data struct {
	Train, Test       *data.Set
	RawTrain, RawTest *data.ByteSet
}

// Shape returns the pictures' channels, height and width and the class count of the training set.
func (d Data) Shape() (c, h, w, classes int) {
	if d.RawTrain != nil {
		return d.RawTrain.C, d.RawTrain.H, d.RawTrain.W, d.RawTrain.Classes
	}
	if d.Train != nil {
		return d.Train.C, d.Train.H, d.Train.W, d.Train.Classes
	}
	return 0, 0, 0, 0
}

// State is everything a run needs to go on: the configuration, the weights, the solver's state,
// the random source, the generations done and the evaluations and loss lines so far. The CIFAR-10
// pipeline's position follows from the seed and Gen.
type State struct {
	Config  Config
	Net     Network
	Solver  optim.Solver
	RNG     *rand.PCG
	Gen     int
	History []Eval // without samples
	Losses  []Log  // the LogEvery lines
}

// ErrDiverged reports a loss that became NaN or infinite.
var ErrDiverged = errors.New("train: loss is not a finite number (diverged); lower the learning rate")

// NewState starts a run from freshly initialised weights for a data set of the given picture
// shape and class count. The CIFAR-10 network takes the pipeline's 24x24 crops of the pictures.
func NewState(cfg Config, h, w, c, classes int) (*State, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("train: %w", errs[0])
	}
	solver, err := NewSolver(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Recipe == RecipeCIFAR {
		if h < CIFARCrop || w < CIFARCrop {
			return nil, fmt.Errorf("train: the CIFAR-10 recipe crops %dx%d out of each picture; these are %dx%d", CIFARCrop, CIFARCrop, h, w)
		}
		h, w = CIFARCrop, CIFARCrop
	}
	rng := rand.NewPCG(uint64(cfg.Seed), 0x636f6e766173) // "convas"
	net, err := NewNetwork(cfg, c, h, w, classes, rand.New(rng))
	if err != nil {
		return nil, err
	}
	return &State{Config: cfg, Net: net, Solver: solver, RNG: rng}, nil
}

// LearningRateAt returns the rate at generation gen: the staircase decay of the configuration.
func (c Config) LearningRateAt(gen int) float64 {
	return c.LearningRate * math.Pow(c.LRDecay, float64(gen/c.LRDecayEvery))
}

// Gate blocks while a run is paused; it returns an error when the run must stop.
type Gate func(ctx context.Context) error

// Run trains st until st.Config.Generations, evaluating every EvalEvery generations and on the
// whole test set at the end. Progress goes to events: Step events are dropped when the receiver is
// behind, Log, Eval and Done events are always delivered (or the run ends with ctx). gate, if not
// nil, is called before every generation. On cancellation st holds the last finished generation.
//
// The MNIST recipe draws each batch with replacement from d.Train. The CIFAR-10 recipe takes its
// batches from the input pipeline, which runs ahead on a goroutine of its own, and tests on the
// centre crops of d.RawTest.
func Run(ctx context.Context, st *State, d Data, gate Gate, events chan<- Event) error {
	cfg := st.Config
	if err := checkData(st.Net, cfg, d); err != nil {
		return err
	}
	r := rand.New(st.RNG)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the pipeline
	src, test, err := newSource(ctx, st, d, r)
	if err != nil {
		return err
	}
	tr, err := newTrainer(st.Net, cfg.BatchSize, cfg.Accel)
	if err != nil {
		return err
	}
	defer tr.place.Close()
	ev, err := newEvaluator(st.Net, cfg.EvaluationSize, cfg.Accel)
	if err != nil {
		return err
	}
	defer ev.place.Close()
	params := make([]optim.Param, len(st.Net.Parameters()))
	for i, p := range st.Net.Parameters() {
		params[i] = optim.Param{Name: p.Name, Value: p.Data}
	}
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
		labels, err := src.fill(ctx, tr.xData, tr.yData)
		if err != nil {
			return err
		}
		loss, grads, err := tr.step()
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
			trainAcc, samples = tr.accuracy(labels, src)
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
		if cfg.LogEvery > 0 && st.Gen%cfg.LogEvery == 0 {
			l := Log{Gen: st.Gen, Of: cfg.Generations, Loss: loss, LR: lr}
			st.Losses = append(st.Losses, l)
			if err := send(ctx, events, l); err != nil {
				return err
			}
		}
		if evalNow {
			testIdx := make([]int, cfg.EvaluationSize)
			for i := range testIdx {
				testIdx[i] = r.IntN(test.N)
			}
			correct, err := ev.correct(test, testIdx)
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
	correct, err := ev.correctAll(test)
	if err != nil {
		return err
	}
	return send(ctx, events, Done{Gen: st.Gen, Correct: correct, Total: test.N,
		TestAcc: 100 * float64(correct) / float64(test.N)})
}

func send(ctx context.Context, events chan<- Event, e Event) error {
	select {
	case events <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func checkData(net Network, cfg Config, d Data) error {
	c, h, w := net.InputShape()
	classes := net.NumClasses()
	type named struct {
		name       string
		n          int
		c, h, w, k int
	}
	var sets []named
	if cfg.Recipe == RecipeCIFAR {
		for _, s := range []struct {
			name string
			s    *data.ByteSet
		}{{"training", d.RawTrain}, {"test", d.RawTest}} {
			if s.s == nil {
				return fmt.Errorf("train: the CIFAR-10 recipe needs a CIFAR-10 data set (its %s set is missing)", s.name)
			}
			if err := s.s.Check(); err != nil {
				return fmt.Errorf("train: the %s set: %w", s.name, err)
			}
			if s.s.H < h || s.s.W < w {
				return fmt.Errorf("train: the %s set holds %dx%d pictures, smaller than the %dx%d crop", s.name, s.s.H, s.s.W, h, w)
			}
			sets = append(sets, named{s.name, s.s.N, s.s.C, h, w, s.s.Classes})
		}
	} else {
		for _, s := range []struct {
			name string
			s    *data.Set
		}{{"training", d.Train}, {"test", d.Test}} {
			if s.s == nil {
				return fmt.Errorf("train: the %s set is empty", s.name)
			}
			sets = append(sets, named{s.name, s.s.N, s.s.C, s.s.H, s.s.W, s.s.Classes})
		}
	}
	for _, s := range sets {
		if s.n == 0 {
			return fmt.Errorf("train: the %s set is empty", s.name)
		}
		if s.h != h || s.w != w || s.c != c {
			return fmt.Errorf("train: the %s set holds %dx%dx%d pictures, the network takes %dx%dx%d",
				s.name, s.h, s.w, s.c, h, w, c)
		}
		if s.k > classes {
			return fmt.Errorf("train: the %s set has %d classes, the network %d", s.name, s.k, classes)
		}
	}
	return nil
}

// trainer is the training graph for one batch size: forward, loss and weight gradients.
type trainer struct {
	place   *nn.Placement // the ops on an accelerator; nil: the CPU
	g       *models.Graph
	labels  *G.Node
	loss    *G.Node
	grads   G.Nodes
	vm      G.VM
	x, y    *tensor.Dense
	classes int
	// xData and yData are x's and y's storage, which a source fills before each step.
	xData, yData []float32
}

// newTrainer builds and compiles one training step of net at batch. With an accelerator (acc
// not nil) the convolutions, their bias and ReLU and the pooling run on
// it; the weights change every step, so each step uploads them with the batch and downloads
// their gradients.
func newTrainer(net Network, batch int, acc nn.Accel) (*trainer, error) {
	g, err := net.Build(batch)
	if err != nil {
		return nil, err
	}
	classes := net.NumClasses()
	labels := G.NewMatrix(g.G, tensor.Float32, G.WithShape(batch, classes), G.WithName("labels"))
	loss, err := nn.SoftmaxCrossEntropy(g.Logits, labels)
	if err != nil {
		return nil, fmt.Errorf("train: loss: %w", err)
	}
	grads, err := G.Grad(loss, g.Weights...)
	if err != nil {
		return nil, fmt.Errorf("train: gradient: %w", err)
	}
	t := &trainer{g: g, labels: labels, loss: loss, grads: grads, classes: classes,
		x: tensor.New(tensor.WithShape(g.Input.Shape()...), tensor.Of(tensor.Float32)),
		y: tensor.New(tensor.WithShape(batch, classes), tensor.Of(tensor.Float32))}
	t.xData, t.yData = t.x.Data().([]float32), t.y.Data().([]float32)
	// Compile only what a step needs: the loss, the logits and the weight gradients. An unpruned
	// graph would also compute the gradient to the input pictures, which nothing uses.
	inputs := append(G.Nodes{g.Input, labels}, g.Weights...)
	outputs := append(G.Nodes{loss, g.Logits}, grads...)
	prog, locs, err := G.CompileFunction(g.G, inputs, outputs)
	if err != nil {
		return nil, fmt.Errorf("train: compile: %w", err)
	}
	t.vm = G.NewTapeMachine(g.G, G.WithPrecompiled(prog, locs))
	// Every step runs the same graph: its ops write into the tensors of the last step instead of
	// allocating them again. The gradients and logits a step gives are used before the next.
	nn.ReuseBuffers(g.G)
	if t.place, err = nn.Place(g.G, acc, outputs, nil); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return t, nil
}

// step runs forward and backward on the batch in xData and yData; the gradients are valid until
// reset.
func (t *trainer) step() (float64, [][]float32, error) {
	if err := G.Let(t.g.Input, t.x); err != nil {
		return 0, nil, err
	}
	if err := G.Let(t.labels, t.y); err != nil {
		return 0, nil, err
	}
	if err := t.vm.RunAll(); err != nil {
		err = t.place.Cause(err)
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
func (t *trainer) accuracy(labels []uint8, src source) (float64, []Sample) {
	logits := t.g.Logits.Value().Data().([]float32)
	k := t.g.Logits.Shape()[1]
	correct := 0
	var samples []Sample
	for i, l := range labels {
		row := logits[i*k : (i+1)*k]
		pred := argmax(row)
		if pred == int(l) {
			correct++
		}
		if len(samples) < 6 {
			s := src.sample(i, t.xData)
			s.Actual, s.Pred, s.Probabilities = int(l), pred, softmax(row)
			samples = append(samples, s)
		}
	}
	return 100 * float64(correct) / float64(len(labels)), samples
}

// evaluator is the forward-only graph for the evaluation batch size.
type evaluator struct {
	g     *models.Graph
	vm    G.VM
	x     *tensor.Dense
	place *nn.Placement // nil: the CPU
}

func newEvaluator(net Network, batch int, acc nn.Accel) (*evaluator, error) {
	g, err := net.Build(batch)
	if err != nil {
		return nil, err
	}
	nn.ReuseBuffers(g.G) // logits reads each run's output before the next
	place, err := nn.Place(g.G, acc, G.Nodes{g.Logits}, nil)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return &evaluator{g: g, vm: G.NewTapeMachine(g.G), place: place,
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
		err = e.place.Cause(err)
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

// Classify returns each picture's class probabilities under the network. Pictures are C x H x W
// values as the network takes them (MNIST: in [0, 1]; CIFAR-10: a standardised 24x24 crop).
func Classify(net Network, pictures [][]float32) ([][]float32, error) {
	return ClassifyOn(net, pictures, nil)
}

// ClassifyOn is Classify with the network's convolutions and pooling on acc (nil: the CPU).
func ClassifyOn(net Network, pictures [][]float32, acc nn.Accel) ([][]float32, error) {
	c, h, w := net.InputShape()
	set := &data.Set{N: len(pictures), C: c, H: h, W: w, Classes: net.NumClasses(),
		Labels: make([]uint8, len(pictures))}
	for i, p := range pictures {
		if len(p) != set.ImageLen() {
			return nil, fmt.Errorf("train: picture %d has %d values, the network takes %d", i, len(p), set.ImageLen())
		}
		set.Pixels = append(set.Pixels, p...)
	}
	ev, err := newEvaluator(net, max(1, min(len(pictures), 100)), acc)
	if err != nil {
		return nil, err
	}
	defer ev.place.Close()
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
