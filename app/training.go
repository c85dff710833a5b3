package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"convas/compute/formats/checkpoint"
	"convas/compute/models"
	"convas/compute/train"
)

// The training recipe's types, for the front ends (ui/ talks to app/, never to compute/).
type (
	// TrainConfig is a training run's configuration (a preset's values).
	TrainConfig = train.Config
	// TrainEvent is a progress report of a run: TrainStep, TrainLog, TrainEval or TrainDone.
	TrainEvent = train.Event
	// TrainStep reports one finished generation.
	TrainStep = train.Step
	// TrainLog reports the loss line the recipe prints every log_every generations.
	TrainLog = train.Log
	// TrainEval reports an evaluation with sample predictions.
	TrainEval = train.Eval
	// TrainDone reports the end of a run with the accuracy on the whole test set.
	TrainDone = train.Done
	// TrainSample is one picture of the latest batch with its true and predicted class.
	TrainSample = train.Sample
)

// DefaultTrainConfig returns the MNIST recipe's configuration.
func DefaultTrainConfig() TrainConfig { return train.DefaultConfig() }

// CheckpointKind is the kind recorded in checkpoints of the MNIST-style CNN. A checkpoint of a
// from-scratch recipe records its recipe name as its kind: this, or CIFARCheckpointKind.
const CheckpointKind = train.RecipeMNIST

// CIFARCheckpointKind is the kind recorded in checkpoints of the CIFAR-10 recipe's CNN.
const CIFARCheckpointKind = train.RecipeCIFAR

// Training is one training run of a from-scratch recipe: its state, its data and, while it runs,
// its job. Events carries the run's progress; the front end drains it.
type Training struct {
	Title   string
	Dataset Dataset
	State   *train.State
	Data    train.Data
	Events  chan train.Event

	dev *deviceState // the App's; nil: the CPU

	mu     sync.Mutex
	job    *Job
	device DeviceUse
}

// NewTraining prepares a run of cfg from freshly initialised weights.
func (a *App) NewTraining(title string, cfg train.Config) (*Training, error) {
	d, err := a.LoadDataset(cfg.Dataset)
	if err != nil {
		return nil, err
	}
	c, h, w, classes := d.Shape()
	if (cfg.Recipe == train.RecipeCIFAR) != (d.RawTrain != nil) {
		return nil, fmt.Errorf("the %s recipe cannot train on the data set %s: pick %s", cfg.Recipe, cfg.Dataset, map[bool]string{
			true: "a CIFAR-10 data set (the store's copy or a folder of its binary batches)", false: "an MNIST-style data set"}[cfg.Recipe == train.RecipeCIFAR])
	}
	st, err := train.NewState(cfg, h, w, c, classes)
	if err != nil {
		return nil, err
	}
	return &Training{Title: title, Dataset: a.dataset(cfg.Dataset), State: st, Data: d, Events: make(chan train.Event, 64), dev: &a.dev}, nil
}

func (a *App) dataset(name string) Dataset { return a.DatasetInfo(name) }

// Start runs the training on its own goroutine. It is an error to start a run twice at once.
func (t *Training) Start() (*Job, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.job != nil && t.job.State() <= Paused {
		return nil, errors.New("training is already running")
	}
	var release func()
	t.State.Config.Accel, t.device, release = t.dev.acquire()
	t.job = StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		defer func() {
			t.State.Config.Accel = nil // the device may be closed once the run has ended
			release()
		}()
		return train.Run(ctx, t.State, t.Data, gate, t.Events)
	})
	return t.job, nil
}

// Device returns the device the training computes on, once started.
func (t *Training) Device() DeviceUse {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.device
}

// Snapshot runs f with the run's state consistent: between two generations while it runs, at
// once otherwise.
func (t *Training) Snapshot(f func()) {
	t.mu.Lock()
	j := t.job
	t.mu.Unlock()
	if j == nil {
		f()
		return
	}
	j.Between(f)
}

// checkpointMeta is the JSON metadata of a training checkpoint. Shape is the network's shape
// (models.MNISTShape or models.CIFAR10Shape); both hold the input and class count under the
// names of netInput.
type checkpointMeta struct {
	Title   string          `json:"title"`
	Config  train.Config    `json:"config"`
	Shape   json.RawMessage `json:"shape"`
	Gen     int             `json:"generation"`
	History []train.Eval    `json:"history"`
	Losses  []train.Log     `json:"losses,omitempty"`
	RNG     []byte          `json:"rng"`
}

// netInput is the part of a checkpoint's shape that rebuilding the network needs.
type netInput struct{ Height, Width, Channels, Classes int }

// netShape returns the shape record of a network.
func netShape(n train.Network) any {
	switch n := n.(type) {
	case train.MNIST:
		return n.Shape
	case *models.CIFAR10CNN:
		return n.Shape
	}
	c, h, w := n.InputShape()
	return netInput{Height: h, Width: w, Channels: c, Classes: n.NumClasses()}
}

// SaveCheckpoint writes the run's weights, solver state, random state, configuration and metrics
// to path, atomically. While the run goes on, the snapshot is taken between two generations.
func (t *Training) SaveCheckpoint(path string) error {
	var err error
	t.Snapshot(func() { err = writeCheckpoint(path, t.Title, t.State) })
	return err
}

func writeCheckpoint(path, title string, st *train.State) error {
	rng, err := st.RNG.MarshalBinary()
	if err != nil {
		return err
	}
	shape, err := json.Marshal(netShape(st.Net))
	if err != nil {
		return err
	}
	meta, err := json.Marshal(checkpointMeta{Title: title, Config: st.Config, Shape: shape,
		Gen: st.Gen, History: st.History, Losses: st.Losses, RNG: rng})
	if err != nil {
		return err
	}
	c := &checkpoint.Checkpoint{Kind: st.Config.Recipe, Meta: meta}
	for _, p := range st.Net.Parameters() {
		c.Tensors = append(c.Tensors, checkpoint.Tensor{Name: p.Name, Shape: p.Shape, Data: append([]float32(nil), p.Data...)})
	}
	for k, v := range st.Solver.State() {
		c.Tensors = append(c.Tensors, checkpoint.Tensor{Name: "solver/" + k, Shape: []int{len(v)}, Data: append([]float32(nil), v...)})
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return checkpoint.WriteFile(path, c)
}

// OpenCheckpoint reads a training checkpoint and prepares a run that goes on from it: same
// weights, solver state, random state and metrics. The data set is loaded as the checkpoint's
// configuration names it.
func (a *App) OpenCheckpoint(path string) (*Training, error) {
	title, st, err := ReadTrainingCheckpoint(path)
	if err != nil {
		return nil, err
	}
	d, err := a.LoadDataset(st.Config.Dataset)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Training{Title: title, Dataset: a.dataset(st.Config.Dataset), State: st, Data: d, Events: make(chan train.Event, 64), dev: &a.dev}, nil
}

// ReadTrainingCheckpoint decodes a checkpoint written by SaveCheckpoint. Any file that is not one,
// or whose tensors do not fit its configuration, is refused with an error naming the file.
func ReadTrainingCheckpoint(path string) (string, *train.State, error) {
	c, err := checkpoint.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	if c.Kind != CheckpointKind && c.Kind != CIFARCheckpointKind {
		return "", nil, fmt.Errorf("%s: a checkpoint of a %q model, not of the %s or %s", path, c.Kind, CheckpointKind, CIFARCheckpointKind)
	}
	var m checkpointMeta
	if err := json.Unmarshal(c.Meta, &m); err != nil {
		return "", nil, fmt.Errorf("%s: %w: metadata: %v", path, checkpoint.ErrDamaged, err)
	}
	if errs := m.Config.Validate(); len(errs) > 0 {
		return "", nil, fmt.Errorf("%s: configuration: %w", path, errs[0])
	}
	if m.Config.Recipe != c.Kind {
		return "", nil, fmt.Errorf("%s: %w: a %s checkpoint whose configuration is of the %s recipe", path, checkpoint.ErrDamaged, c.Kind, m.Config.Recipe)
	}
	var in netInput
	if err := json.Unmarshal(m.Shape, &in); err != nil {
		return "", nil, fmt.Errorf("%s: %w: shape: %v", path, checkpoint.ErrDamaged, err)
	}
	if in.Height <= 0 || in.Width <= 0 || in.Channels <= 0 || in.Classes <= 0 || in.Height*in.Width*in.Channels > 1<<24 || in.Classes > 1<<16 {
		return "", nil, fmt.Errorf("%s: %w: network input %dx%dx%d with %d classes", path, checkpoint.ErrDamaged, in.Height, in.Width, in.Channels, in.Classes)
	}
	solver, err := train.NewSolver(m.Config)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	rng := rand.NewPCG(0, 0)
	if err := rng.UnmarshalBinary(m.RNG); err != nil {
		return "", nil, fmt.Errorf("%s: %w: random state: %v", path, checkpoint.ErrDamaged, err)
	}
	model, err := train.NewNetwork(m.Config, in.Channels, in.Height, in.Width, in.Classes, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range model.Parameters() {
		t := c.Tensor(p.Name)
		if t == nil {
			return "", nil, fmt.Errorf("%s: tensor %s is missing", path, p.Name)
		}
		if len(t.Data) != len(p.Data) {
			return "", nil, fmt.Errorf("%s: tensor %s has shape %v, the configuration needs %v", path, p.Name, t.Shape, p.Shape)
		}
		copy(p.Data, t.Data)
	}
	state := map[string][]float32{}
	for _, t := range c.Tensors {
		if k, ok := strings.CutPrefix(t.Name, "solver/"); ok {
			state[k] = t.Data
		}
	}
	if err := solver.SetState(state); err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return m.Title, &train.State{Config: m.Config, Net: model, Solver: solver, RNG: rng, Gen: m.Gen, History: m.History, Losses: m.Losses}, nil
}
