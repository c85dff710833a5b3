// Package cnvm reads and writes Convas model files (.cnvm): a network as a graph of layers and
// its named weight tensors, stored compactly and checked.
//
// # File layout (version 1)
//
// All integers are little-endian. A file is an 8-byte header followed by chunks, as in PNG
// (https://www.w3.org/TR/png/#5Chunk-layout):
//
//	header   "CNVM" | version uint16 (1) | flags uint16 (0)
//	chunk    length uint32 | type [4]byte | data [length]byte | crc uint32
//
// The CRC is CRC-32 (IEEE, as in PNG and zlib) of the type and the data. A chunk's length is at
// most 2^31-1. The chunks come in this order: at most one META, exactly one GRPH, any number of
// TNSR, and IEND, which is empty and ends the file; nothing may follow it. Chunk types whose
// first letter is lower case are ancillary: a reader that does not know them skips them. An
// unknown upper-case type is an [*UnsupportedError].
//
// Inside chunks, uvarint and varint are encoding/binary's variable-length integers, a string
// is a uvarint length (at most 65535) and the bytes, and f64 is an IEEE 754 float64.
//
//	META  uvarint n, then n pairs (key string, value string), keys sorted and unique
//	GRPH  uvarint n, then n layers; then uvarint k and k output layer names (strings).
//	      layer: name string, kind string, uvarint i and i input layer names,
//	      uvarint a and a pairs (key string, uvarint c, c varint values)   integer lists
//	      uvarint f and f pairs (key string, f64)                          numbers
//	      uvarint s and s pairs (key string, value string)                 strings
//	      uvarint w and w pairs (role string, tensor name string)          weights
//	      each map's keys sorted and unique
//	TNSR  name string, dtype byte, uvarint rank (at most 8), rank uvarint dims,
//	      for dtype 2 and 3: min f64, scale f64; then the values, row-major, to the chunk's end
//
// Layers come in an order in which each follows the layers it reads. Layer and tensor names are
// unique and not empty. The dtypes are 1 float32, 2 uint8 and 3 uint16; uint8 and uint16 are
// affine-quantized: value = min + scale*q, per tensor, as TensorFlow.js quantizes weights, so
// a quantized source is stored bit for bit.
//
// # Layers
//
// A layer's Kind says what it computes; its attributes are named below. The layout is not part
// of the graph: a reader may compute in NHWC or NCHW. Tensors keep Keras's layout: a conv2d
// kernel is (height, width, in, out), a dense kernel (in, out).
//
//	input            ints shape (height, width, channels; -1 where not fixed)
//	conv2d           ints filters, kernel (h, w), strides (h, w); strings padding ("same" or
//	                 "valid", with TensorFlow's meaning), activation; weights kernel, bias (optional)
//	batchnorm        floats epsilon; weights mean, variance, gamma (optional: 1), beta (optional: 0):
//	                 y = gamma*(x-mean)/sqrt(variance+epsilon) + beta, per channel
//	activation       strings activation: linear, relu, relu6, sigmoid, tanh or softmax
//	maxpool2d        ints pool (h, w), strides (h, w); strings padding (padded cells never win)
//	avgpool2d        ints pool (h, w), strides (h, w); strings padding (padded cells not counted)
//	globalavgpool2d, globalmaxpool2d   (batch, channels) from an image
//	concat           joins its inputs along the channel axis, in order
//	add              sums its inputs
//	dense            ints units; strings activation; weights kernel, bias (optional)
//	flatten          (batch, features) in (height, width, channels) order
//	zeropad2d        ints padding (top, bottom, left, right)
//	dropout          floats rate; the identity at inference
//
// The package checks the file's structure, not the meaning of kinds and attributes: a model
// builder checks those it uses and rejects the rest.
package cnvm

import (
	"encoding/binary"
	"math"
	"strconv"
)

// Version is the file format version this package writes and reads.
const Version = 1

// The layer kinds of the graph vocabulary, documented in the package comment.
const (
	KindInput           = "input"
	KindConv2D          = "conv2d"
	KindBatchNorm       = "batchnorm"
	KindActivation      = "activation"
	KindMaxPool2D       = "maxpool2d"
	KindAvgPool2D       = "avgpool2d"
	KindGlobalAvgPool2D = "globalavgpool2d"
	KindGlobalMaxPool2D = "globalmaxpool2d"
	KindConcat          = "concat"
	KindAdd             = "add"
	KindDense           = "dense"
	KindFlatten         = "flatten"
	KindZeroPad2D       = "zeropad2d"
	KindDropout         = "dropout"
)

// DType is the type of a tensor's stored values.
type DType uint8

// The stored types of tensor values.
const (
	// Float32 values are IEEE 754 single precision.
	Float32 DType = 1
	// Uint8 values q stand for Min + Scale*q.
	Uint8 DType = 2
	// Uint16 values q stand for Min + Scale*q.
	Uint16 DType = 3
)

// Size returns the number of bytes of one value, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case Float32:
		return 4
	case Uint8:
		return 1
	case Uint16:
		return 2
	}
	return 0
}

// String returns the type's name, such as "uint8".
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Uint8:
		return "uint8"
	case Uint16:
		return "uint16"
	}
	return "dtype(" + strconv.Itoa(int(d)) + ")"
}

// affine tells whether values of the type are quantized with a min and a scale.
func (d DType) affine() bool { return d == Uint8 || d == Uint16 }

// Model is the content of a .cnvm file.
type Model struct {
	// Meta holds free-form facts about the model, such as its source and licence.
	Meta map[string]string
	// Layers are the graph's layers, each after the layers it reads.
	Layers []*Layer
	// Outputs name the layers whose outputs are the model's.
	Outputs []string
	// Tensors are the weights the layers use, and any others.
	Tensors []*Tensor
}

// Layer is one node of the graph.
type Layer struct {
	// Name is the layer's unique name, such as "conv2d_1".
	Name string
	// Kind is what the layer computes, one of the Kind constants (or a kind of a later
	// vocabulary).
	Kind string
	// Inputs name the layers whose outputs this layer reads, in order.
	Inputs []string
	// Ints, Floats and Strings are the layer's attributes.
	Ints    map[string][]int
	Floats  map[string]float64
	Strings map[string]string
	// Weights map a weight's role in the layer, such as "kernel", to a tensor's name.
	Weights map[string]string
}

// Tensor is a named array of values.
type Tensor struct {
	// Name is the tensor's unique name, such as "conv2d_1/kernel".
	Name string
	// DType is how Data stores the values.
	DType DType
	// Shape is the tensor's shape; Data holds its values in row-major order.
	Shape []int
	// Min and Scale dequantize Uint8 and Uint16 values: value = Min + Scale*q.
	Min, Scale float64
	// Data is the values as stored, little-endian.
	Data []byte
}

// NewFloat32 returns a Float32 tensor holding a copy of the values.
func NewFloat32(name string, shape []int, values []float32) *Tensor {
	t := &Tensor{Name: name, DType: Float32, Shape: append([]int(nil), shape...), Data: make([]byte, 4*len(values))}
	for i, v := range values {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(v))
	}
	return t
}

// Len returns the number of values the shape holds, or -1 if a dimension is negative or the
// product exceeds 2^40.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		if d < 0 || (d > 0 && n > (1<<40)/d) {
			return -1
		}
		n *= d
	}
	return n
}

// Float32 returns the tensor's values as float32, dequantized in float64 and rounded (the
// arithmetic of TensorFlow.js), or nil if Data does not hold Len values of DType.
func (t *Tensor) Float32() []float32 {
	n := t.Len()
	if n < 0 || t.DType.Size() == 0 || len(t.Data) != n*t.DType.Size() {
		return nil
	}
	out := make([]float32, n)
	switch t.DType {
	case Float32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
	case Uint8:
		for i, q := range t.Data {
			out[i] = float32(t.Min + t.Scale*float64(q))
		}
	case Uint16:
		for i := range out {
			out[i] = float32(t.Min + t.Scale*float64(binary.LittleEndian.Uint16(t.Data[2*i:])))
		}
	}
	return out
}

// Layer returns the layer with the given name, or nil.
func (m *Model) Layer(name string) *Layer {
	for _, l := range m.Layers {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Tensor returns the tensor with the given name, or nil.
func (m *Model) Tensor(name string) *Tensor {
	for _, t := range m.Tensors {
		if t.Name == name {
			return t
		}
	}
	return nil
}
