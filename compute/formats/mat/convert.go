package mat

import (
	"fmt"
	"math"
	"slices"
)

// convert returns data, one of the slice types of [Numeric.Data], as a []T.
// It returns data itself when it already is a []T.
func convert[T number](data any) ([]T, bool) {
	switch d := data.(type) {
	case []T:
		return d, true
	case []float64:
		return convertSlice[T](d), true
	case []float32:
		return convertSlice[T](d), true
	case []int8:
		return convertSlice[T](d), true
	case []uint8:
		return convertSlice[T](d), true
	case []int16:
		return convertSlice[T](d), true
	case []uint16:
		return convertSlice[T](d), true
	case []int32:
		return convertSlice[T](d), true
	case []uint32:
		return convertSlice[T](d), true
	case []int64:
		return convertSlice[T](d), true
	case []uint64:
		return convertSlice[T](d), true
	case []bool:
		out := make([]T, len(d))
		for i, b := range d {
			if b {
				out[i] = 1
			}
		}
		return out, true
	}
	return nil, false
}

func convertSlice[T, S number](s []S) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = T(v)
	}
	return out
}

// Float32s returns the elements as float32 in column-major order. For a single
// array it returns Data itself, not a copy.
func (n *Numeric) Float32s() ([]float32, error) {
	v, ok := convert[float32](n.Data)
	if !ok {
		return nil, fmt.Errorf("mat: %s holds %T, not numbers", describe(n), n.Data)
	}
	return v, nil
}

// Float64s returns the elements as float64 in column-major order. For a double
// array it returns Data itself, not a copy.
func (n *Numeric) Float64s() ([]float64, error) {
	v, ok := convert[float64](n.Data)
	if !ok {
		return nil, fmt.Errorf("mat: %s holds %T, not numbers", describe(n), n.Data)
	}
	return v, nil
}

// Scalar returns the value of an array of one element.
func (n *Numeric) Scalar() (float64, error) {
	v, err := n.Float64s()
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("mat: want a scalar, have a %s", describe(n))
	}
	return v[0], nil
}

// Ints returns the elements as ints in column-major order, such as the
// [top bottom left right] padding of a MatConvNet layer. It fails if an element
// is not a whole number.
func (n *Numeric) Ints() ([]int, error) {
	v, err := n.Float64s()
	if err != nil {
		return nil, err
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return nil, fmt.Errorf("mat: element %d of a %s is %v, not a whole number", i, describe(n), x)
		}
		out[i] = int(x)
	}
	return out, nil
}

// Permute returns the elements of n as float32 in row-major order with the axes
// reordered: axis k of the result is axis order[k] of n, counting from 0, so
// Permute(img, 2, 0, 1) turns a MATLAB HxWxC image into a CxHxW one. It also
// returns the dimensions of the result. The trailing singleton dimensions that
// MATLAB drops are restored, so a 3x3x64 array may be permuted as 3x3x64x1.
// The result is a new slice.
func Permute(n *Numeric, order ...int) ([]float32, []int, error) {
	r := len(order)
	seen := make([]bool, r)
	for _, a := range order {
		if a < 0 || a >= r || seen[a] {
			return nil, nil, fmt.Errorf("mat: permutation %v is not an order of 0..%d", order, r-1)
		}
		seen[a] = true
	}
	d := make([]int, r)
	for i := range d {
		d[i] = 1
	}
	for i, x := range n.Dims {
		if i >= r {
			if x != 1 {
				return nil, nil, fmt.Errorf("mat: cannot permute a %s into %d dimensions", describe(n), r)
			}
			continue
		}
		d[i] = x
	}
	src, err := n.Float32s()
	if err != nil {
		return nil, nil, err
	}
	numel := 1
	for _, x := range d {
		numel *= x
	}
	if numel != len(src) {
		return nil, nil, fmt.Errorf("mat: %s holds %d elements", describe(n), len(src))
	}
	outDims := make([]int, r)
	for k, a := range order {
		outDims[k] = d[a]
	}
	out := make([]float32, numel)
	if numel == 0 {
		return out, outDims, nil
	}
	// stride[a] is the step in out for one step along axis a of the source.
	stride := make([]int, r)
	step := 1
	for k := r - 1; k >= 0; k-- {
		stride[order[k]] = step
		step *= outDims[k]
	}
	// Walk the source in column-major order: axis 0 innermost.
	idx := make([]int, r)
	off := 0
	for base := 0; base < numel; base += d[0] {
		o := off
		for _, v := range src[base : base+d[0]] {
			out[o] = v
			o += stride[0]
		}
		for a := 1; a < r; a++ {
			idx[a]++
			off += stride[a]
			if idx[a] < d[a] {
				break
			}
			off -= stride[a] * d[a]
			idx[a] = 0
		}
	}
	return out, outDims, nil
}

// ConvFilters converts MatConvNet convolution filters, a column-major
// H x W x Cin x Cout array, into a row-major (Cout, Cin, H, W) slice, the
// layout of NCHW convolution. H is MATLAB's first dimension, the image rows, and
// MatConvNet correlates (it does not flip the filters), so the result can be used
// as it is for a cross-correlation. It also returns the shape
// [Cout, Cin, H, W].
func ConvFilters(n *Numeric) ([]float32, [4]int, error) {
	var shape [4]int
	data, dims, err := Permute(n, 3, 2, 0, 1)
	if err != nil {
		return nil, shape, err
	}
	copy(shape[:], dims)
	return data, shape, nil
}

// Dims4 returns the dimensions of n as H, W, Cin, Cout, restoring the
// trailing singleton dimensions MATLAB drops.
func Dims4(n *Numeric) ([4]int, error) {
	d := [4]int{1, 1, 1, 1}
	dims := slices.Clone(n.Dims)
	for len(dims) > 4 && dims[len(dims)-1] == 1 {
		dims = dims[:len(dims)-1]
	}
	if len(dims) > 4 {
		return d, fmt.Errorf("mat: %s has more than 4 dimensions", describe(n))
	}
	copy(d[:], dims)
	return d, nil
}
