package graphdef

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Tensor is a TensorProto: a constant tensor, such as the value of a Const node.
// Its elements are in Content (raw little-endian bytes) or in the typed value
// slice that matches DType; [Tensor.Float32] and [Tensor.Int64] read either.
type Tensor struct {
	DType DataType
	// Shape holds the dimensions, outermost first; nil for a scalar.
	Shape         []int64
	VersionNumber int32
	// Content is tensor_content: the elements in row-major order, little-endian.
	Content []byte

	// The typed values (float_val and so on). Where there are fewer values than
	// elements, the last is repeated: a single value fills the tensor.
	HalfVal   []int32 // DT_HALF and DT_BFLOAT16, as bits
	FloatVal  []float32
	DoubleVal []float64
	IntVal    []int32 // DT_INT32, DT_INT16, DT_UINT16, DT_INT8, DT_UINT8 and the quantised types
	StringVal [][]byte
	Int64Val  []int64
	BoolVal   []bool
	Uint32Val []uint32
	Uint64Val []uint64
}

// maxFill bounds the elements an accessor creates from fewer stored values.
const maxFill = 1 << 28

// NumElements returns the product of the dimensions, 1 for a scalar.
func (t *Tensor) NumElements() (int64, error) {
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return 0, fmt.Errorf("graphdef: tensor of shape %v has a dimension of unknown size", t.Shape)
		}
		if d > 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("%w: tensor of shape %v is too large", ErrFormat, t.Shape)
		}
		n *= d
	}
	return n, nil
}

// NewFloat32Tensor returns a DT_FLOAT tensor of the given shape holding v in
// tensor_content, as TensorFlow writes weights.
func NewFloat32Tensor(shape []int64, v []float32) *Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return &Tensor{DType: DTFloat, Shape: shape, Content: b}
}

// Float32 returns the elements converted to float32 in row-major order. It reads
// tensor_content or the typed values of every numeric and bool type.
func (t *Tensor) Float32() ([]float32, error) {
	n, err := t.count()
	if err != nil {
		return nil, err
	}
	if len(t.Content) > 0 {
		return fromContent[float32](t, n)
	}
	switch t.DType {
	case DTFloat:
		return fill(t.FloatVal, n), nil
	case DTDouble:
		return convertFill[float32](t.DoubleVal, n)
	case DTHalf:
		return halfFill(t.HalfVal, n, halfToFloat32)
	case DTBfloat16:
		return halfFill(t.HalfVal, n, bfloat16ToFloat32)
	}
	i, err := t.Int64()
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(i))
	for k, v := range i {
		out[k] = float32(v)
	}
	return out, nil
}

// Int64 returns the elements of an integer or bool tensor converted to int64 in
// row-major order, such as the shape operand of a Reshape.
func (t *Tensor) Int64() ([]int64, error) {
	n, err := t.count()
	if err != nil {
		return nil, err
	}
	switch t.DType {
	case DTFloat, DTDouble, DTHalf, DTBfloat16:
		return nil, fmt.Errorf("graphdef: Int64 of a %v tensor", t.DType)
	}
	if len(t.Content) > 0 {
		return fromContent[int64](t, n)
	}
	switch t.DType {
	case DTInt32, DTInt16, DTInt8, DTUint8, DTUint16, DTQint8, DTQuint8, DTQint16, DTQuint16, DTQint32:
		return convertFill[int64](t.IntVal, n)
	case DTInt64:
		return fill(t.Int64Val, n), nil
	case DTUint32:
		return convertFill[int64](t.Uint32Val, n)
	case DTUint64:
		return convertFill[int64](t.Uint64Val, n)
	case DTBool:
		b := fill(t.BoolVal, n)
		out := make([]int64, len(b))
		for i, x := range b {
			if x {
				out[i] = 1
			}
		}
		return out, nil
	}
	return nil, &UnsupportedError{Feature: "numbers from a " + t.DType.String() + " tensor"}
}

// count returns the number of elements and checks it is sane to allocate.
func (t *Tensor) count() (int, error) {
	n, err := t.NumElements()
	if err != nil {
		return 0, err
	}
	if len(t.Content) > 0 {
		size := int64(t.DType.Size())
		if size == 0 || t.DType.Base() == DTComplex64 || t.DType.Base() == DTComplex128 {
			return 0, &UnsupportedError{Feature: "numbers from a " + t.DType.String() + " tensor"}
		}
		if n > int64(len(t.Content))/size || n*size != int64(len(t.Content)) {
			return 0, fmt.Errorf("%w: %v tensor of shape %v has %d bytes of content, want %d",
				ErrFormat, t.DType, t.Shape, len(t.Content), n*size)
		}
		return int(n), nil
	}
	if n > maxFill {
		return 0, &UnsupportedError{Feature: fmt.Sprintf("a tensor of %d elements (more than %d) without tensor_content", n, maxFill)}
	}
	return int(n), nil
}

type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// fromContent decodes the n elements of t.Content.
func fromContent[T number](t *Tensor, n int) ([]T, error) {
	c := t.Content
	out := make([]T, n)
	le := binary.LittleEndian
	switch t.DType.Base() {
	case DTFloat:
		for i := range out {
			out[i] = T(math.Float32frombits(le.Uint32(c[4*i:])))
		}
	case DTDouble:
		for i := range out {
			out[i] = T(math.Float64frombits(le.Uint64(c[8*i:])))
		}
	case DTHalf:
		for i := range out {
			out[i] = T(halfToFloat32(le.Uint16(c[2*i:])))
		}
	case DTBfloat16:
		for i := range out {
			out[i] = T(bfloat16ToFloat32(le.Uint16(c[2*i:])))
		}
	case DTInt32, DTQint32:
		for i := range out {
			out[i] = T(int32(le.Uint32(c[4*i:])))
		}
	case DTUint32:
		for i := range out {
			out[i] = T(le.Uint32(c[4*i:]))
		}
	case DTInt64:
		for i := range out {
			out[i] = T(int64(le.Uint64(c[8*i:])))
		}
	case DTUint64:
		for i := range out {
			out[i] = T(le.Uint64(c[8*i:]))
		}
	case DTInt16, DTQint16:
		for i := range out {
			out[i] = T(int16(le.Uint16(c[2*i:])))
		}
	case DTUint16, DTQuint16:
		for i := range out {
			out[i] = T(le.Uint16(c[2*i:]))
		}
	case DTInt8, DTQint8:
		for i := range out {
			out[i] = T(int8(c[i]))
		}
	case DTUint8, DTQuint8, DTBool:
		for i := range out {
			out[i] = T(c[i])
		}
	default:
		return nil, &UnsupportedError{Feature: "numbers from a " + t.DType.String() + " tensor"}
	}
	return out, nil
}

// fill returns n elements from vals: all of them, or the first n if there are
// more, or, if there are fewer, vals followed by copies of its last value (zeros
// if it is empty), as TensorFlow's Tensor::FromProto does.
func fill[T any](vals []T, n int) []T {
	out := make([]T, n)
	k := copy(out, vals)
	if k > 0 {
		last := vals[k-1]
		for i := k; i < n; i++ {
			out[i] = last
		}
	}
	return out
}

func convertFill[T, S number](vals []S, n int) ([]T, error) {
	out := make([]T, n)
	for i, v := range vals[:min(n, len(vals))] {
		out[i] = T(v)
	}
	if k := len(vals); k > 0 && k < n {
		for i := k; i < n; i++ {
			out[i] = out[k-1]
		}
	}
	return out, nil
}

func halfFill(vals []int32, n int, conv func(uint16) float32) ([]float32, error) {
	out := make([]float32, n)
	for i, v := range vals[:min(n, len(vals))] {
		out[i] = conv(uint16(v))
	}
	if k := len(vals); k > 0 && k < n {
		for i := k; i < n; i++ {
			out[i] = out[k-1]
		}
	}
	return out, nil
}

// halfToFloat32 converts IEEE 754 half-precision bits to a float32.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac * 2^-24
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// bfloat16ToFloat32 converts bfloat16 bits, the top half of a float32, to a float32.
func bfloat16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }
