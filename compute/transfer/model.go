package transfer

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"

	"convas/compute/formats/checkpoint"
	"convas/compute/models"
)

// Kind is the checkpoint kind of a retrained model.
const Kind = "transfer"

// Model is a retrained classifier: the head, its labels, and the backbone layer and input size
// its bottlenecks come from.
type Model struct {
	Backbone  string
	Layer     string
	InputSize int
	Labels    []string
	Head      *Head
	// ValidationAccuracy and TestAccuracy are the training's final scores in percent, NaN when
	// the set was empty; Config its settings. Informational.
	ValidationAccuracy, TestAccuracy float64
	Config                           Config
	// Block holds the fine-tuned weights of the trunk's last block (the convolutions after
	// FineTuneFrom, in graph order), which replace the trunk's own when it classifies (see
	// TunedBlock); nil when only the head was trained.
	Block []*models.Param
}

// meta is a model checkpoint's metadata.
type meta struct {
	Backbone           string   `json:"backbone"`
	Layer              string   `json:"layer"`
	InputSize          int      `json:"input_size"`
	Labels             []string `json:"labels"`
	Features           int      `json:"features"`
	Hidden             int      `json:"hidden"`
	ValidationAccuracy *float64 `json:"validation_accuracy,omitempty"`
	TestAccuracy       *float64 `json:"test_accuracy,omitempty"`
	Config             Config   `json:"config"`
	// TunedFrom is FineTuneFrom when the checkpoint holds a tuned block.
	TunedFrom string   `json:"tuned_from,omitempty"`
	Block     []string `json:"block,omitempty"` // the block's weights' names, in order
}

// The names of a model checkpoint's tensors.
const (
	tensorW1 = "head/hidden/weights"
	tensorB1 = "head/hidden/biases"
	tensorW2 = "head/final/weights"
	tensorB2 = "head/final/biases"
)

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Checkpoint returns the model as a checkpoint of Kind "transfer".
func (m *Model) Checkpoint() (*checkpoint.Checkpoint, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	h := m.Head
	md := meta{Backbone: m.Backbone, Layer: m.Layer, InputSize: m.InputSize, Labels: m.Labels,
		Features: h.In, Hidden: h.Hidden, ValidationAccuracy: finite(m.ValidationAccuracy),
		TestAccuracy: finite(m.TestAccuracy), Config: m.Config}
	if len(m.Block) > 0 {
		md.TunedFrom = FineTuneFrom
		for _, p := range m.Block {
			md.Block = append(md.Block, p.Name)
		}
	}
	js, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("transfer: model metadata: %w", err)
	}
	c := &checkpoint.Checkpoint{Kind: Kind, Meta: js}
	last := h.In
	if h.Hidden > 0 {
		c.Tensors = append(c.Tensors, checkpoint.Tensor{Name: tensorW1, Shape: []int{h.In, h.Hidden}, Data: h.W1},
			checkpoint.Tensor{Name: tensorB1, Shape: []int{h.Hidden}, Data: h.B1})
		last = h.Hidden
	}
	c.Tensors = append(c.Tensors, checkpoint.Tensor{Name: tensorW2, Shape: []int{last, h.Classes}, Data: h.W2},
		checkpoint.Tensor{Name: tensorB2, Shape: []int{h.Classes}, Data: h.B2})
	for _, p := range m.Block {
		c.Tensors = append(c.Tensors, checkpoint.Tensor{Name: blockPrefix + p.Name, Shape: p.Shape, Data: p.Data})
	}
	return c, nil
}

func (m *Model) check() error {
	if m.Head == nil {
		return fmt.Errorf("transfer: model without a head")
	}
	if err := m.Head.check(); err != nil {
		return err
	}
	if len(m.Labels) != m.Head.Classes {
		return fmt.Errorf("transfer: %d labels for a head of %d classes", len(m.Labels), m.Head.Classes)
	}
	if m.Backbone == "" || m.Layer == "" || m.InputSize <= 0 {
		return fmt.Errorf("transfer: model names no backbone, layer or input size (%q, %q, %d)", m.Backbone, m.Layer, m.InputSize)
	}
	if len(m.Block) > 0 && m.Backbone != TrunkName {
		return fmt.Errorf("transfer: a tuned block for %s: only %s's can be tuned", m.Backbone, TrunkName)
	}
	return checkBlock(m.Block)
}

// Encode writes the model as a checkpoint.
func (m *Model) Encode(w io.Writer) error {
	c, err := m.Checkpoint()
	if err != nil {
		return err
	}
	return checkpoint.Encode(w, c)
}

// WriteFile writes the model as a checkpoint file, atomically.
func (m *Model) WriteFile(path string) error {
	c, err := m.Checkpoint()
	if err != nil {
		return err
	}
	return checkpoint.WriteFile(path, c)
}

// FromCheckpoint reads a model out of a checkpoint of Kind "transfer", checking that its tensors
// match its metadata.
func FromCheckpoint(c *checkpoint.Checkpoint) (*Model, error) {
	if c.Kind != Kind {
		return nil, fmt.Errorf("transfer: a checkpoint of kind %q, not a retrained model (%q)", c.Kind, Kind)
	}
	var md meta
	if err := json.Unmarshal(c.Meta, &md); err != nil {
		return nil, fmt.Errorf("transfer: model metadata: %w", err)
	}
	m := &Model{Backbone: md.Backbone, Layer: md.Layer, InputSize: md.InputSize, Labels: md.Labels, Config: md.Config,
		ValidationAccuracy: math.NaN(), TestAccuracy: math.NaN()}
	if md.ValidationAccuracy != nil {
		m.ValidationAccuracy = *md.ValidationAccuracy
	}
	if md.TestAccuracy != nil {
		m.TestAccuracy = *md.TestAccuracy
	}
	h := &Head{In: md.Features, Hidden: md.Hidden, Classes: len(md.Labels)}
	last := h.In
	if h.Hidden > 0 {
		last = h.Hidden
	}
	get := func(name string, shape ...int) ([]float32, error) {
		t := c.Tensor(name)
		if t == nil {
			return nil, fmt.Errorf("transfer: model has no tensor %s", name)
		}
		if !slices.Equal(t.Shape, shape) {
			return nil, fmt.Errorf("transfer: tensor %s is %v, the metadata says %v", name, t.Shape, shape)
		}
		return t.Data, nil
	}
	var err error
	if h.Hidden > 0 {
		if h.W1, err = get(tensorW1, h.In, h.Hidden); err != nil {
			return nil, err
		}
		if h.B1, err = get(tensorB1, h.Hidden); err != nil {
			return nil, err
		}
	}
	if h.W2, err = get(tensorW2, last, h.Classes); err != nil {
		return nil, err
	}
	if h.B2, err = get(tensorB2, h.Classes); err != nil {
		return nil, err
	}
	m.Head = h
	if len(md.Block) > 0 && md.TunedFrom != FineTuneFrom {
		return nil, fmt.Errorf("transfer: the model's block is tuned after %q; this build tunes the block after %s", md.TunedFrom, FineTuneFrom)
	}
	for _, name := range md.Block {
		t := c.Tensor(blockPrefix + name)
		if t == nil {
			return nil, fmt.Errorf("transfer: model has no tensor %s%s", blockPrefix, name)
		}
		m.Block = append(m.Block, &models.Param{Name: name, Shape: t.Shape, Data: t.Data})
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// Decode reads a model checkpoint.
func Decode(r io.Reader) (*Model, error) {
	c, err := checkpoint.Decode(r)
	if err != nil {
		return nil, err
	}
	return FromCheckpoint(c)
}

// ReadFile reads a model checkpoint file; errors name the file.
func ReadFile(path string) (*Model, error) {
	c, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := FromCheckpoint(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Prediction is one class with its probability.
type Prediction struct {
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// Top returns the k most probable classes of a bottleneck (fewer when there are fewer classes),
// most probable first.
func (m *Model) Top(features []float32, k int) ([]Prediction, error) {
	p, err := m.Head.Probabilities(features)
	if err != nil {
		return nil, err
	}
	out := make([]Prediction, len(p))
	for i, v := range p {
		out[i] = Prediction{Label: m.Labels[i], Probability: float64(v)}
	}
	slices.SortStableFunc(out, func(a, b Prediction) int {
		switch {
		case a.Probability > b.Probability:
			return -1
		case a.Probability < b.Probability:
			return 1
		}
		return 0
	})
	return out[:min(k, len(out))], nil
}
