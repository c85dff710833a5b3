package train

import (
	"fmt"
	"reflect"

	"convas/compute/nn"
)

// Config is one training run of a from-scratch CNN recipe. The defaults are the MNIST recipe's
// (TensorFlow Machine Learning Cookbook, "Implementing a Simple CNN"); CIFARConfig gives the
// CIFAR-10 recipe's ("Implementing an Advanced CNN"). presets/ holds them as TOML under the same
// keys, and the Training panel's form and the CLI read them from here.
type Config struct {
	// Recipe names the network: "mnist-cnn" or "cifar10-cnn".
	Recipe string `toml:"recipe"`
	// Dataset names the data: "mnist" (built in), "fashion-mnist", "cifar10" (the model store's
	// copy), or a folder holding an IDX pair or CIFAR-10 binary batches.
	Dataset string `toml:"dataset"`
	// BatchSize is the number of training images per generation (MNIST 100, drawn with
	// replacement; CIFAR-10 128, from the input pipeline's shuffle buffer).
	BatchSize int `toml:"batch_size"`
	// LearningRate is the solver's step size (0.005).
	LearningRate float64 `toml:"learning_rate"`
	// Momentum is the momentum solver's decay of its accumulator (0.9).
	Momentum float64 `toml:"momentum"`
	// Optimizer is "momentum" (the MNIST recipe), "sgd" (plain gradient descent, the CIFAR-10
	// recipe) or "adam".
	Optimizer string `toml:"optimizer"`
	// LRDecay multiplies the learning rate every LRDecayEvery generations, as a staircase (1: no
	// decay; CIFAR-10 0.9).
	LRDecay float64 `toml:"lr_decay"`
	// LRDecayEvery is the staircase period of LRDecay in generations (CIFAR-10 250).
	LRDecayEvery int `toml:"lr_decay_every"`
	// EvaluationSize is the number of test images drawn for each evaluation (MNIST 500; CIFAR-10
	// 128, one test batch).
	EvaluationSize int `toml:"evaluation_size"`
	// Generations is the number of training steps (MNIST 500, CIFAR-10 20,000).
	Generations int `toml:"generations"`
	// EvalEvery is the number of generations between evaluations (MNIST 5, CIFAR-10 500).
	EvalEvery int `toml:"eval_every"`
	// LogEvery is the number of generations between log lines of the training loss alone (0:
	// none, the MNIST recipe logs at its evaluations; CIFAR-10 50).
	LogEvery int `toml:"log_every"`
	// Conv1Features is the number of filters of the first convolution (MNIST 25 of 4x4,
	// CIFAR-10 64 of 5x5).
	Conv1Features int `toml:"conv1_features"`
	// Conv2Features is the number of filters of the second convolution (MNIST 50, CIFAR-10 64).
	Conv2Features int `toml:"conv2_features"`
	// MaxPoolSize1 is the window and stride of the first max-pool (MNIST 2; the CIFAR-10 network's
	// pools are 3x3 at stride 2, and this must be 2).
	MaxPoolSize1 int `toml:"max_pool_size1"`
	// MaxPoolSize2 is the window and stride of the second max-pool (as MaxPoolSize1).
	MaxPoolSize2 int `toml:"max_pool_size2"`
	// FullyConnectedSize1 is the width of the first hidden dense layer (MNIST 100, CIFAR-10 384).
	FullyConnectedSize1 int `toml:"fully_connected_size1"`
	// FullyConnectedSize2 is the width of the second hidden dense layer, CIFAR-10 only (192).
	FullyConnectedSize2 int `toml:"fully_connected_size2"`
	// Seed makes a run reproducible: initial weights, batches and evaluation samples (5; the
	// recipe draws unseeded, see presets/mnist-simple.toml for the spread over seeds).
	Seed int64 `toml:"seed"`
	// Accel is the GPU the run computes on (compute/device.Handle.Accel); nil, the default, is
	// the CPU. It is not part of a saved preset.
	Accel nn.Accel `toml:"-" json:"-"`
}

// DefaultConfig returns the MNIST recipe exactly.
func DefaultConfig() Config {
	return Config{
		Recipe: "mnist-cnn", Dataset: "mnist",
		BatchSize: 100, LearningRate: 0.005, Momentum: 0.9, Optimizer: "momentum",
		LRDecay: 1, LRDecayEvery: 1000,
		EvaluationSize: 500, Generations: 500, EvalEvery: 5,
		Conv1Features: 25, Conv2Features: 50, MaxPoolSize1: 2, MaxPoolSize2: 2,
		FullyConnectedSize1: 100, Seed: 5,
	}
}

// The recipes Config.Recipe names.
const (
	RecipeMNIST = "mnist-cnn"
	RecipeCIFAR = "cifar10-cnn"
)

// Recipes lists the recipe names in the order pickers show them.
func Recipes() []string { return []string{RecipeMNIST, RecipeCIFAR} }

// CIFARConfig returns the CIFAR-10 recipe exactly: plain SGD at 0.1, times 0.9 every 250
// generations as a staircase, batch 128, 20,000 generations, a loss line every 50 and a test
// batch's accuracy every 500.
func CIFARConfig() Config {
	return Config{
		Recipe: RecipeCIFAR, Dataset: "cifar10",
		BatchSize: 128, LearningRate: 0.1, Momentum: 0, Optimizer: "sgd",
		LRDecay: 0.9, LRDecayEvery: 250,
		EvaluationSize: 128, Generations: 20000, EvalEvery: 500, LogEvery: 50,
		Conv1Features: 64, Conv2Features: 64, MaxPoolSize1: 2, MaxPoolSize2: 2,
		FullyConnectedSize1: 384, FullyConnectedSize2: 192, Seed: 5,
	}
}

// DefaultConfigFor returns the defaults of a recipe by name, and false for an unknown one.
func DefaultConfigFor(recipe string) (Config, bool) {
	switch recipe {
	case RecipeMNIST:
		return DefaultConfig(), true
	case RecipeCIFAR:
		return CIFARConfig(), true
	}
	return Config{}, false
}

// FieldError names the configuration key whose value is not acceptable.
type FieldError struct {
	Key    string
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s = %v: %s", e.Key, e.Value, e.Reason)
}

// Validate checks every field and returns one *FieldError per bad field, in declaration order.
func (c Config) Validate() []*FieldError {
	var errs []*FieldError
	bad := func(key string, v any, reason string) { errs = append(errs, &FieldError{key, v, reason}) }
	if _, ok := DefaultConfigFor(c.Recipe); !ok {
		bad("recipe", c.Recipe, `unknown recipe (want "mnist-cnn" or "cifar10-cnn")`)
	}
	if c.Dataset == "" {
		bad("dataset", c.Dataset, "empty")
	}
	positive := []struct {
		key string
		v   int
	}{
		{"batch_size", c.BatchSize}, {"lr_decay_every", c.LRDecayEvery}, {"evaluation_size", c.EvaluationSize},
		{"generations", c.Generations}, {"eval_every", c.EvalEvery},
		{"conv1_features", c.Conv1Features}, {"conv2_features", c.Conv2Features},
		{"max_pool_size1", c.MaxPoolSize1}, {"max_pool_size2", c.MaxPoolSize2},
		{"fully_connected_size1", c.FullyConnectedSize1},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad(p.key, p.v, "must be a positive whole number")
		}
	}
	if c.BatchSize > 10000 {
		bad("batch_size", c.BatchSize, "too large (at most 10000)")
	}
	if c.EvaluationSize > 10000 {
		bad("evaluation_size", c.EvaluationSize, "too large (at most 10000, the size of the test set)")
	}
	if c.Conv1Features > 1024 || c.Conv2Features > 1024 || c.FullyConnectedSize1 > 16384 {
		bad("conv1_features", c.Conv1Features, "layer widths are capped at 1024 filters and 16384 units")
	}
	if c.Recipe == RecipeCIFAR {
		if c.MaxPoolSize1 != 2 || c.MaxPoolSize2 != 2 {
			bad("max_pool_size1", c.MaxPoolSize1, "the CIFAR-10 network's pools are 3x3 at stride 2: both sizes must be 2")
		}
		if c.FullyConnectedSize2 <= 0 || c.FullyConnectedSize2 > 16384 {
			bad("fully_connected_size2", c.FullyConnectedSize2, "must be a positive whole number, at most 16384")
		}
	} else if c.MaxPoolSize1*c.MaxPoolSize2 > 28 {
		bad("max_pool_size2", c.MaxPoolSize2, "the two pools shrink 28 pixels below one")
	}
	if c.LogEvery < 0 {
		bad("log_every", c.LogEvery, "must be 0 (no loss lines) or a positive whole number")
	}
	if !(c.LearningRate > 0 && c.LearningRate < 100) {
		bad("learning_rate", c.LearningRate, "must be above 0 and below 100")
	}
	if !(c.Momentum >= 0 && c.Momentum < 1) {
		bad("momentum", c.Momentum, "must be at least 0 and below 1")
	}
	if !(c.LRDecay > 0 && c.LRDecay <= 1) {
		bad("lr_decay", c.LRDecay, "must be above 0 and at most 1")
	}
	if c.Optimizer != "momentum" && c.Optimizer != "adam" && c.Optimizer != "sgd" {
		bad("optimizer", c.Optimizer, `want "momentum", "sgd" or "adam"`)
	}
	return errs
}

// Keys returns the TOML keys of Config in declaration order, for forms and error messages; a
// field not saved in presets (toml:"-", Accel) has none.
func Keys() []string {
	t := reflect.TypeOf(Config{})
	var keys []string
	for i := range t.NumField() {
		if k := t.Field(i).Tag.Get("toml"); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}
