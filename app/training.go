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
	"convas/compute/optim"
	"convas/compute/train"
)

// CheckpointKind is the kind recorded in checkpoints of the MNIST-style CNN.
const CheckpointKind = "mnist-cnn"

// Training is one training run of a from-scratch recipe: its state, its data and, while it runs,
// its job. Events carries the run's progress; the front end drains it.
type Training struct {
	Title   string
	Dataset Dataset
	State   *train.State
	Data    train.Data
	Events  chan train.Event

	mu  sync.Mutex
	job *Job
}

// NewTraining prepares a run of cfg from freshly initialised weights.
func (a *App) NewTraining(title string, cfg train.Config) (*Training, error) {
	d, err := a.LoadDataset(cfg.Dataset)
	if err != nil {
		return nil, err
	}
	st, err := train.NewState(cfg, d.Train.H, d.Train.W, d.Train.C, d.Train.Classes)
	if err != nil {
		return nil, err
	}
	return &Training{Title: title, Dataset: a.dataset(cfg.Dataset), State: st, Data: d, Events: make(chan train.Event, 64)}, nil
}

func (a *App) dataset(name string) Dataset {
	for _, d := range a.Datasets() {
		if d.Name == name {
			return d
		}
	}
	return Dataset{Name: name, Title: name, Available: true, Classes: digitNames}
}

// Start runs the training on its own goroutine. It is an error to start a run twice at once.
func (t *Training) Start() (*Job, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.job != nil && t.job.State() <= Paused {
		return nil, errors.New("training is already running")
	}
	t.job = StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		return train.Run(ctx, t.State, t.Data, gate, t.Events)
	})
	return t.job, nil
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

// checkpointMeta is the JSON metadata of a training checkpoint.
type checkpointMeta struct {
	Title   string            `json:"title"`
	Config  train.Config      `json:"config"`
	Shape   models.MNISTShape `json:"shape"`
	Gen     int               `json:"generation"`
	History []train.Eval      `json:"history"`
	RNG     []byte            `json:"rng"`
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
	meta, err := json.Marshal(checkpointMeta{Title: title, Config: st.Config, Shape: st.Model.Shape,
		Gen: st.Gen, History: st.History, RNG: rng})
	if err != nil {
		return err
	}
	c := &checkpoint.Checkpoint{Kind: CheckpointKind, Meta: meta}
	for _, p := range st.Model.Params {
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
	return &Training{Title: title, Dataset: a.dataset(st.Config.Dataset), State: st, Data: d, Events: make(chan train.Event, 64)}, nil
}

// ReadTrainingCheckpoint decodes a checkpoint written by SaveCheckpoint. Any file that is not one,
// or whose tensors do not fit its configuration, is refused with an error naming the file.
func ReadTrainingCheckpoint(path string) (string, *train.State, error) {
	c, err := checkpoint.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	if c.Kind != CheckpointKind {
		return "", nil, fmt.Errorf("%s: a checkpoint of a %q model, not of the %s", path, c.Kind, CheckpointKind)
	}
	var m checkpointMeta
	if err := json.Unmarshal(c.Meta, &m); err != nil {
		return "", nil, fmt.Errorf("%s: %w: metadata: %v", path, checkpoint.ErrDamaged, err)
	}
	if errs := m.Config.Validate(); len(errs) > 0 {
		return "", nil, fmt.Errorf("%s: configuration: %w", path, errs[0])
	}
	solver, err := optim.New(m.Config.Optimizer, float32(m.Config.Momentum))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	rng := rand.NewPCG(0, 0)
	if err := rng.UnmarshalBinary(m.RNG); err != nil {
		return "", nil, fmt.Errorf("%s: %w: random state: %v", path, checkpoint.ErrDamaged, err)
	}
	model := models.NewMNISTCNN(m.Shape, rand.New(rand.NewPCG(0, 0)))
	for _, p := range model.Params {
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
	return m.Title, &train.State{Config: m.Config, Model: model, Solver: solver, RNG: rng, Gen: m.Gen, History: m.History}, nil
}
