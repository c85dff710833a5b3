package transfer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/models"
	"convas/compute/nn"
	"convas/compute/optim"
)

// FineTuneFrom is the trunk layer whose output feeds the block that fine-tuning trains: mixed5,
// the embedded trunk's last block, reads mixed4 only. mixed4's feature maps are extracted once
// (and cached, like bottlenecks); every step then runs its batch through mixed5, the global
// average pooling and the head, and backpropagates into both.
const FineTuneFrom = "mixed4"

// fineTuneBatch is how many pictures' mixed4 maps the evaluation graph runs through the tuned
// block at once.
const fineTuneBatch = 16

// blockPrefix prefixes the tuned block's weights in a model checkpoint: block/conv2d_N/w.
const blockPrefix = "block/"

// frozenTrunk is the trunk up to FineTuneFrom as a Backbone: its "bottleneck" is the whole
// feature map of mixed4, (channels x height x width) values per picture, not pooled. It keys the
// cache by its own layer, apart from the trunk's bottlenecks.
type frozenTrunk struct{ t Trunk }

func (f frozenTrunk) Name() string  { return TrunkName }
func (f frozenTrunk) Layer() string { return FineTuneFrom }
func (f frozenTrunk) Size() int     { return f.t.Size() }
func (f frozenTrunk) Build(batch int) (*G.ExprGraph, *G.Node, *G.Node, error) {
	s := f.t.Size()
	g, err := f.t.M.Build(batch, s, s, FineTuneFrom)
	if err != nil {
		return nil, nil, nil, err
	}
	return g.G, g.Input, g.Output, nil
}

// fineTunable returns the trunk a fine-tuning run trains, or an error naming the backbone that
// cannot be fine-tuned.
func fineTunable(b Backbone) (Trunk, error) {
	t, ok := b.(Trunk)
	if !ok || t.M == nil {
		return Trunk{}, fmt.Errorf("transfer: fine-tuning the last block is built for the InceptionV3 trunk (%s) only, not %s: train the head alone", TrunkName, b.Name())
	}
	return t, nil
}

// CanFineTune reports, as an error naming the backbone, when b's last block cannot be
// fine-tuned (only the embedded InceptionV3 trunk's can).
func CanFineTune(b Backbone) error {
	_, err := fineTunable(b)
	return err
}

// BlockLearningRate is the step size of the fine-tuned block: FineTuneLearningRate, or a tenth
// of LearningRate when it is 0.
func (c Config) BlockLearningRate() float64 {
	if c.FineTuneLearningRate > 0 {
		return c.FineTuneLearningRate
	}
	return c.LearningRate / 10
}

// blockParams returns m's weights of the block after FineTuneFrom, in graph order.
func blockParams(m *models.InceptionV3) ([]*models.Param, error) {
	ps, err := m.Params(FineTuneFrom, TrunkLayer)
	if err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: %w", err)
	}
	return ps, nil
}

// headNodes adds the head to a graph after its features (batch, In): the head's weights become
// nodes backed by its slices (an update to them is seen by the next run), and logits
// (batch, Classes) is returned with the weight nodes in params order.
func headNodes(g *G.ExprGraph, h *Head, feats *G.Node) (*G.Node, G.Nodes, error) {
	node := func(name string, data []float32, shape ...int) *G.Node {
		return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName("head/"+name),
			G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))))
	}
	var ws G.Nodes
	a, k := feats, h.In
	var err error
	if h.Hidden > 0 {
		w1, b1 := node("hidden/weights", h.W1, h.In, h.Hidden), node("hidden/biases", h.B1, h.Hidden)
		ws = append(ws, w1, b1)
		if a, err = nn.MatMul(a, w1); err == nil {
			if a, err = nn.AddBias(a, b1); err == nil {
				a, err = nn.ReLU(a)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("transfer: head: hidden layer: %w", err)
		}
		k = h.Hidden
	}
	w2, b2 := node("final/weights", h.W2, k, h.Classes), node("final/biases", h.B2, h.Classes)
	ws = append(ws, w2, b2)
	logits, err := nn.MatMul(a, w2)
	if err == nil {
		logits, err = nn.AddBias(logits, b2)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("transfer: head: final layer: %w", err)
	}
	return logits, ws, nil
}

// tuner is the training graph of a fine-tuning run: a batch of mixed4 maps through the block,
// the global average pooling and the head, the mean softmax cross-entropy, and its gradients
// with respect to the block's weights and the head's. Like every graph it belongs to one
// goroutine.
type tuner struct {
	place               *nn.Placement // nil: the CPU
	batch, per, classes int
	in, labels          *G.Node
	loss, logits        *G.Node
	grads               G.Nodes
	vm                  G.VM
	x, y                *tensor.Dense
	// ps are the block's weights then the head's (params order), their Value the slices the
	// graph reads, their Grad filled by step; nBlock counts the block's.
	ps     []optim.Param
	nBlock int
}

// newTuner builds the training graph of m's block (which it trains in place: pass a clone) and
// head h for batches of n pictures of size x size.
func newTuner(m *models.InceptionV3, size int, h *Head, n int, acc nn.Accel) (*tuner, error) {
	bg, err := m.BuildFrom(n, size, size, FineTuneFrom, TrunkLayer)
	if err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: %w", err)
	}
	feats, err := nn.GlobalAvgPool2D(bg.Output)
	if err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: pooling: %w", err)
	}
	if d := feats.Shape()[1]; d != h.In {
		return nil, fmt.Errorf("transfer: fine-tuning: the block gives %d features, the head takes %d", d, h.In)
	}
	block, err := blockParams(m)
	if err != nil {
		return nil, err
	}
	t := &tuner{batch: n, classes: h.Classes, in: bg.Input}
	var ws G.Nodes
	for _, p := range block {
		w := bg.Params[p.Name]
		if w == nil {
			return nil, fmt.Errorf("transfer: fine-tuning: the block graph has no weight %s", p.Name)
		}
		ws = append(ws, w)
		t.ps = append(t.ps, optim.Param{Name: blockPrefix + p.Name, Value: p.Data, Grad: make([]float32, len(p.Data))})
	}
	t.nBlock = len(t.ps)
	logits, hw, err := headNodes(bg.G, h, feats)
	if err != nil {
		return nil, err
	}
	ws = append(ws, hw...)
	t.ps = append(t.ps, h.params()...)
	t.labels = G.NewMatrix(bg.G, tensor.Float32, G.WithShape(n, h.Classes), G.WithName("labels"))
	if t.loss, err = nn.SoftmaxCrossEntropy(logits, t.labels); err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: loss: %w", err)
	}
	t.logits = logits
	if t.grads, err = G.Grad(t.loss, ws...); err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: gradient: %w", err)
	}
	// Only the loss, the logits and the weights' gradients: not the gradient to the mixed4 maps.
	prog, locs, err := G.CompileFunction(bg.G, append(G.Nodes{bg.Input, t.labels}, ws...), append(G.Nodes{t.loss, logits}, t.grads...))
	if err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: compile: %w", err)
	}
	t.vm = G.NewTapeMachine(bg.G, G.WithPrecompiled(prog, locs))
	nn.ReuseBuffers(bg.G)
	// The block's weights change every step: none is fixed.
	if t.place, err = nn.Place(bg.G, acc, append(G.Nodes{t.loss, logits}, t.grads...), nil); err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: %w", err)
	}
	s := bg.Input.Shape()
	t.per = s[1] * s[2] * s[3]
	t.x = tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
	t.y = tensor.New(tensor.WithShape(n, h.Classes), tensor.Of(tensor.Float32))
	return t, nil
}

// step runs forward and backward on a batch of mixed4 maps (batch x per values) and their
// labels: it fills the gradients of ps and returns the mean loss and how many it got right.
func (t *tuner) step(x []float32, labels []int) (float64, int, error) {
	if len(x) != t.batch*t.per || len(labels) != t.batch {
		return 0, 0, fmt.Errorf("transfer: fine-tuning: %d values and %d labels for a batch of %d maps of %d", len(x), len(labels), t.batch, t.per)
	}
	copy(t.x.Data().([]float32), x)
	y := t.y.Data().([]float32)
	clear(y)
	for i, l := range labels {
		y[i*t.classes+l] = 1
	}
	if err := G.Let(t.in, t.x); err != nil {
		return 0, 0, fmt.Errorf("transfer: fine-tuning: %w", err)
	}
	if err := G.Let(t.labels, t.y); err != nil {
		return 0, 0, fmt.Errorf("transfer: fine-tuning: %w", err)
	}
	defer t.vm.Reset()
	if err := t.vm.RunAll(); err != nil {
		err = t.place.Cause(err)
		return 0, 0, fmt.Errorf("transfer: fine-tuning: run: %w", err)
	}
	for i, g := range t.grads {
		copy(t.ps[i].Grad, g.Value().Data().([]float32))
	}
	logits := t.logits.Value().Data().([]float32)
	right := 0
	for i, l := range labels {
		if argmax(logits[i*t.classes:(i+1)*t.classes]) == l {
			right++
		}
	}
	return float64(t.loss.Value().Data().(float32)), right, nil
}

func (t *tuner) close() {
	t.vm.Close()
	t.place.Close()
}

// pooler runs mixed4 maps through a block and pools them: the bottlenecks of the tuned trunk.
type pooler struct {
	batch, per, dim int
	in, out         *G.Node
	vm              G.VM
	x               *tensor.Dense
	place           *nn.Placement // nil: the CPU
}

func newPooler(m *models.InceptionV3, size, n int, acc nn.Accel) (*pooler, error) {
	bg, err := m.BuildFrom(n, size, size, FineTuneFrom, TrunkLayer)
	if err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: %w", err)
	}
	f, err := nn.GlobalAvgPool2D(bg.Output)
	if err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: pooling: %w", err)
	}
	nn.ReuseBuffers(bg.G)
	prog, locs, err := G.CompileFunction(bg.G, G.Nodes{bg.Input}, G.Nodes{f})
	if err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: compile: %w", err)
	}
	// The block's weights are the tuner's, which change between calls: none is fixed.
	place, err := nn.Place(bg.G, acc, G.Nodes{f}, nil)
	if err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: %w", err)
	}
	s := bg.Input.Shape()
	return &pooler{batch: n, per: s[1] * s[2] * s[3], dim: f.Shape()[1], in: bg.Input, out: f, place: place,
		vm: G.NewTapeMachine(bg.G, G.WithPrecompiled(prog, locs)),
		x:  tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))}, nil
}

// features returns the pooled features (rows x dim) of rows maps laid out one after another.
func (p *pooler) features(ctx context.Context, maps []float32) ([]float32, error) {
	rows := len(maps) / p.per
	out := make([]float32, 0, rows*p.dim)
	x := p.x.Data().([]float32)
	for lo := 0; lo < rows; lo += p.batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+p.batch, rows)
		clear(x[copy(x, maps[lo*p.per:hi*p.per]):])
		if err := G.Let(p.in, p.x); err != nil {
			return nil, fmt.Errorf("transfer: fine-tuning: %w", err)
		}
		if err := p.vm.RunAll(); err != nil {
			err = p.place.Cause(err)
			p.vm.Reset()
			return nil, fmt.Errorf("transfer: fine-tuning: run: %w", err)
		}
		out = append(out, p.out.Value().Data().([]float32)[:(hi-lo)*p.dim]...)
		p.vm.Reset()
	}
	return out, nil
}

func (p *pooler) close() {
	p.vm.Close()
	p.place.Close()
}

// pooled returns a set's examples with their mixed4 maps replaced by the tuned block's pooled
// features.
func (p *pooler) pooled(ctx context.Context, e *examples) (*examples, error) {
	x, err := p.features(ctx, e.x)
	if err != nil {
		return nil, err
	}
	if err := checkFinite(x); err != nil {
		return nil, fmt.Errorf("transfer: fine-tuning: the tuned block's features: %w", err)
	}
	return &examples{x: x, labels: e.labels, index: e.index}, nil
}

// trainTuned is train with the block after FineTuneFrom fine-tuned: bn holds every picture's
// mixed4 map (its Features are cleared once copied into the sets); the result's head reads the
// tuned block's pooled features, and tuned is the trained copy of the trunk (t.M is left as it
// was). onStep (may be nil) hears of each step.
func trainTuned(ctx context.Context, cfg Config, t Trunk, d *DataSet, bn *Bottlenecks, gate func(context.Context) error,
	onEval func(Evaluation), onStep func(StepProgress)) (res *Result, tuned *models.InceptionV3, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	sets := [3]*examples{collect(d, bn, Training, false), collect(d, bn, Validation, false), collect(d, bn, Testing, false)}
	// The sets hold copies of the maps (888 KB a picture at 299x299): drop bn's.
	clear(bn.Features)
	tr := sets[Training]
	if tr.n() == 0 {
		return nil, nil, errNoTraining
	}
	shape, err := t.M.LayerShape(FineTuneFrom, t.Size(), t.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("transfer: fine-tuning: %w", err)
	}
	per := shape[0] * shape[1] * shape[2]
	for s, e := range sets {
		if len(e.x) != e.n()*per {
			return nil, nil, fmt.Errorf("transfer: fine-tuning: the %s set's %s maps have %d values for %d pictures, want %d each",
				Set(s), FineTuneFrom, len(e.x), e.n(), per)
		}
	}
	tuned = t.M.Clone()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7472616e73666572)) // "transfer", as train
	head, err := NewHead(inceptionV3Channels(tuned), cfg.Hidden, len(d.Classes), rng)
	if err != nil {
		return nil, nil, err
	}
	tn, err := newTuner(tuned, t.Size(), head, cfg.BatchSize, cfg.Accel)
	if err != nil {
		return nil, nil, err
	}
	defer tn.close()
	pl, err := newPooler(tuned, t.Size(), min(fineTuneBatch, cfg.BatchSize), cfg.Accel)
	if err != nil {
		return nil, nil, err
	}
	defer pl.close()
	newSolver := func() optim.Solver {
		if cfg.Optimizer == "adam" {
			return optim.NewAdam()
		}
		return optim.NewMomentum(0)
	}
	blockSolver, headSolver := newSolver(), newSolver()
	res = &Result{Head: head}
	for s := range sets {
		res.Counts[s] = sets[s].n()
	}
	x := make([]float32, cfg.BatchSize*per)
	labels := make([]int, cfg.BatchSize)
	for step := 1; step <= cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if gate != nil {
			if err := gate(ctx); err != nil {
				return nil, nil, err
			}
		}
		for i := range labels {
			j := rng.IntN(tr.n())
			copy(x[i*per:(i+1)*per], tr.x[j*per:(j+1)*per])
			labels[i] = tr.labels[j]
		}
		loss, right, err := tn.step(x, labels)
		if err != nil {
			return nil, nil, err
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, nil, fmt.Errorf("transfer: step %d: the loss is %v: lower the learning rates", step, loss)
		}
		if err := blockSolver.Step(tn.ps[:tn.nBlock], float32(cfg.BlockLearningRate())); err != nil {
			return nil, nil, fmt.Errorf("transfer: step %d: block: %w", step, err)
		}
		if err := headSolver.Step(tn.ps[tn.nBlock:], float32(cfg.LearningRate)); err != nil {
			return nil, nil, fmt.Errorf("transfer: step %d: head: %w", step, err)
		}
		if onStep != nil {
			onStep(StepProgress{Step: step, Steps: cfg.Steps, Pictures: cfg.BatchSize, Batch: cfg.BatchSize, FineTune: true})
		}
		if step%cfg.EvalEvery == 0 || step == cfg.Steps {
			ev := Evaluation{Step: step, Steps: cfg.Steps, TrainLoss: loss,
				TrainAccuracy: 100 * float64(right) / float64(cfg.BatchSize)}
			v, err := pl.pooled(ctx, sets[Validation])
			if err != nil {
				return nil, nil, err
			}
			var wrong []int
			ev.ValidationLoss, ev.ValidationAccuracy, ev.Confusion, wrong = head.score(v)
			ev.Misclassified = head.misclassified(v, wrong, d)
			res.History = append(res.History, ev.withoutPictures())
			if onEval != nil {
				onEval(ev)
			}
		}
	}
	res.ValidationAccuracy = res.History[len(res.History)-1].ValidationAccuracy
	final := [3]*examples{}
	for _, s := range []Set{Validation, Testing} {
		if final[s], err = pl.pooled(ctx, sets[s]); err != nil {
			return nil, nil, err
		}
	}
	_, res.TestAccuracy, _, _ = head.score(final[Testing])
	res.ConfusionSet = Testing
	if final[Testing].n() == 0 {
		res.ConfusionSet = Validation
	}
	e := final[res.ConfusionSet]
	var wrong []int
	_, _, res.Confusion, wrong = head.score(e)
	res.Misclassified = head.misclassified(e, wrong, d)
	return res, tuned, nil
}

// inceptionV3Channels is the number of channels of the trunk's bottleneck layer.
func inceptionV3Channels(m *models.InceptionV3) int {
	for _, l := range m.Layers() {
		if l.Name == TrunkLayer {
			return l.Channels
		}
	}
	return 0
}

// TunedBlock returns the trunk b with the model's fine-tuned block in place of its own: a copy
// of the trunk (b is not changed). A model without a tuned block returns b itself. It fails
// for another backbone, or when the block's weights do not match the trunk's.
func (m *Model) TunedBlock(b Backbone) (Backbone, error) {
	if len(m.Block) == 0 {
		return b, nil
	}
	t, err := fineTunable(b)
	if err != nil {
		return nil, err
	}
	c := t.M.Clone()
	ps, err := blockParams(c)
	if err != nil {
		return nil, err
	}
	if len(ps) != len(m.Block) {
		return nil, fmt.Errorf("transfer: the model's tuned block has %d weights, the trunk's has %d", len(m.Block), len(ps))
	}
	for i, p := range ps {
		q := m.Block[i]
		if q.Name != p.Name || !slices.Equal(q.Shape, p.Shape) || len(q.Data) != len(p.Data) {
			return nil, fmt.Errorf("transfer: the model's tuned weight %s %v does not match the trunk's %s %v", q.Name, q.Shape, p.Name, p.Shape)
		}
		copy(p.Data, q.Data)
	}
	return Trunk{M: c, InputSize: t.InputSize}, nil
}

// checkBlock checks the names and sizes of a tuned block's weights.
func checkBlock(block []*models.Param) error {
	for _, p := range block {
		if p == nil || !strings.HasPrefix(p.Name, "conv2d_") || p.Len() != len(p.Data) || len(p.Data) == 0 {
			return fmt.Errorf("transfer: a damaged tuned block weight %v", p)
		}
	}
	return nil
}
