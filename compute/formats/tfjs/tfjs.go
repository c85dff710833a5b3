// Package tfjs reads TensorFlow.js layers models: a model.json that holds a Keras model's
// topology and a manifest of its weights, and the binary weight shards the manifest lists.
//
// The format is TensorFlow.js's "layers-model" (tfjs-layers, ModelArtifacts and
// WeightsManifestConfig in tfjs-core/src/io/types.ts):
// https://www.tensorflow.org/js/guide/save_load and
// https://github.com/tensorflow/tfjs/blob/master/tfjs-core/src/io/types.ts; each layer's
// config is Keras's (https://keras.io/api/layers/). Weights are little-endian: float32, or
// quantized by the converter to uint8 or uint16 with a per-tensor min and scale
// (value = min + scale*q) or to float16.
//
// Besides plain JSON and binary shards, the package reads the variant that nsfwjs ships: the
// model file is a minified JavaScript module that exports the model.json object as a JavaScript
// literal (model.min.js), and each shard is a module that exports the shard's bytes as a
// base64 string (group1-shard1of6.min.js, for the manifest path group1-shard1of6).
//
// Supported layer classes: InputLayer, Conv2D, BatchNormalization, Activation, MaxPooling2D,
// AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Concatenate, Add, Dense,
// Flatten, ZeroPadding2D and Dropout, in channels_last layout, in Functional ("Model") and
// Sequential models, as Keras 2 or Keras 3 writes them. Limits: no graph models, nested models,
// shared layers (a layer called more than once), dilated convolutions, or activations other
// than linear, relu, relu6, sigmoid, tanh and softmax; such models give an [*UnsupportedError]
// naming what is missing. The whole model is held in memory; shards are limited to 2 GiB.
package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"math"
)

// Model is a decoded TensorFlow.js layers model.
type Model struct {
	// Format, GeneratedBy and ConvertedBy are the model file's fields of those names, if set
	// ("layers-model", "keras v2.2.4", "TensorFlow.js Converter v1.0.0").
	Format, GeneratedBy, ConvertedBy string
	// KerasVersion and Backend describe the Keras that saved the topology.
	KerasVersion, Backend string
	// Name is the Keras model's name.
	Name string
	// Layers are the layers in an order in which every layer comes after its inputs: the file's
	// order where it already is one.
	Layers []*Layer
	// Inputs and Outputs name the model's input and output layers.
	Inputs, Outputs []string
	// Weights are all the weights of the manifest, in its order.
	Weights []*Weight

	index map[string]*Layer
}

// Layer returns the layer with the given name, or nil.
func (m *Model) Layer(name string) *Layer { return m.index[name] }

// Layer is one Keras layer.
type Layer struct {
	// Name is the layer's unique name, such as "conv2d_1".
	Name string
	// Class is the Keras class name, such as "Conv2D".
	Class string
	// Trainable is the config's trainable flag (true where it is absent).
	Trainable bool
	// Config holds the options of the layer's class that this package understands, checked.
	Config Config
	// RawConfig is the layer's whole config object as JSON.
	RawConfig json.RawMessage
	// Inputs name the layers whose outputs this layer reads, in order.
	Inputs []string
	// Shape is the layer's output shape, channels last, with -1 where the size is not fixed
	// (the batch, or the spatial sizes of a model without a fixed input size).
	Shape []int
	// Weights are the layer's weights by their Keras names: "kernel" and "bias" for Conv2D and
	// Dense; "gamma", "beta", "moving_mean" and "moving_variance" for BatchNormalization (gamma
	// only with scale, beta only with center).
	Weights map[string]*Weight
}

// Config is the union of the layer options the supported classes use, named as in Keras. Each
// field says which classes set it; the others leave it zero.
type Config struct {
	// Filters is Conv2D's number of output channels.
	Filters int
	// KernelSize is Conv2D's kernel (height, width).
	KernelSize [2]int
	// PoolSize is the pooling window (height, width) of MaxPooling2D and AveragePooling2D.
	PoolSize [2]int
	// Strides are the (vertical, horizontal) strides of Conv2D and the pooling layers.
	Strides [2]int
	// Padding is "valid" or "same" for Conv2D and the pooling layers.
	Padding string
	// Activation is the activation of Conv2D, Dense and Activation: "linear", "relu",
	// "relu6", "sigmoid", "tanh" or "softmax".
	Activation string
	// UseBias tells whether Conv2D or Dense has a bias.
	UseBias bool
	// Units is Dense's number of outputs.
	Units int
	// Axis is the axis of BatchNormalization and Concatenate, as in the config (3 or -1 for
	// channels of an image).
	Axis int
	// Epsilon is BatchNormalization's variance epsilon (Keras's default 0.001).
	Epsilon float64
	// Center and Scale tell whether BatchNormalization has beta and gamma.
	Center, Scale bool
	// Rate is Dropout's drop rate.
	Rate float64
	// Pad is ZeroPadding2D's padding: top, bottom, left, right.
	Pad [4]int
	// BatchInputShape is InputLayer's shape, with -1 for null (the batch).
	BatchInputShape []int
	// DType is InputLayer's dtype, such as "float32".
	DType string
}

// Weight is one entry of the weights manifest and its data.
type Weight struct {
	// Name is the manifest's name, such as "conv2d_1/kernel".
	Name string
	// Shape is the weight's shape; Keras stores Conv2D kernels as (height, width, in, out) and
	// Dense kernels as (in, out).
	Shape []int
	// DType is the weight's type once dequantized: "float32".
	DType string
	// Quantization describes how Data is quantized, or is nil for plain float32 data.
	Quantization *Quantization
	// Data is the weight's bytes as the shards store them: float32, or the quantized values,
	// little-endian. It is nil in the models DecodeConfig returns.
	Data []byte
}

// Quantization is a weight's quantization, as in the manifest.
type Quantization struct {
	// DType is "uint8" or "uint16" (affine: value = Min + Scale*q) or "float16".
	DType string
	// Min and Scale map a quantized integer q to Min + Scale*q.
	Min, Scale float64
}

// Len returns the number of values of the weight.
func (w *Weight) Len() int { return numElems(w.Shape) }

// elemSize returns the number of bytes each value takes in the shards.
func (w *Weight) elemSize() int {
	if w.Quantization == nil {
		return 4
	}
	if w.Quantization.DType == "uint8" {
		return 1
	}
	return 2
}

// Float32 returns the weight's values, dequantized as TensorFlow.js does (min + scale*q in
// float64, rounded to float32), or nil if the weight has no data.
func (w *Weight) Float32() []float32 {
	if w.Data == nil {
		return nil
	}
	n := len(w.Data) / w.elemSize()
	out := make([]float32, n)
	q := w.Quantization
	switch {
	case q == nil:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(w.Data[4*i:]))
		}
	case q.DType == "uint8":
		for i, v := range w.Data {
			out[i] = float32(q.Min + q.Scale*float64(v))
		}
	case q.DType == "uint16":
		for i := range out {
			out[i] = float32(q.Min + q.Scale*float64(binary.LittleEndian.Uint16(w.Data[2*i:])))
		}
	default: // float16
		for i := range out {
			out[i] = Float16(binary.LittleEndian.Uint16(w.Data[2*i:]))
		}
	}
	return out
}

// Float16 converts an IEEE 754 half-precision value to float32, exactly.
func Float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0: // zero
		return math.Float32frombits(sign)
	}
	// Subnormal: frac * 2^-24.
	v := float32(frac) / (1 << 24)
	if sign != 0 {
		v = -v
	}
	return v
}

// numElems returns the product of the dimensions, or -1 if it overflows 2^40 or a dimension is
// negative.
func numElems(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > (1<<40)/d) {
			return -1
		}
		n *= d
	}
	return n
}
