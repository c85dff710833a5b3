// Package mat reads MATLAB MAT-files of level 5, the format MATLAB writes with
// save -v6 and save -v7, and the one MatConvNet's pretrained models use
// (imagenet-vgg-verydeep-19.mat, and the older beta16 files).
//
// The format is specified in "MAT-File Format", MathWorks, version 7 and later:
// https://www.mathworks.com/help/pdf_doc/matlab/matfile_format.pdf
//
// [Decode] reads the 128-byte header, then the top-level data elements one after
// the other from the stream, decompressing miCOMPRESSED elements as it goes, so a
// 500 MB file is never held twice: numeric data is converted from a small buffer
// straight into the slice that is returned. Both byte orders are read, as are the
// small (4-byte) data element form and numeric data stored in a smaller type than
// its class (MATLAB stores a double array of small integers as miUINT8, for
// example); such data is converted to the class's type.
//
// Arrays come back as [*Numeric], [*Char], [*Cell] and [*Struct]. Their data is
// column-major, as MATLAB stores it; [Lookup] walks MATLAB-style paths such as
// layers{1}.weights{1}, and [Permute] and [ConvFilters] turn column-major data
// into row-major order.
//
// Limits: MAT-file version 7.3 (HDF5), level 4 files, complex numbers, sparse
// arrays, objects, function handles and opaque (MCOS) values are not read; an
// [*UnsupportedError] names the variable and path that holds them. Subsystem data
// is skipped. Arrays nested deeper than 64 levels are refused. Every length read
// from the file is checked against what the enclosing element, the rest of the
// input (when the reader can seek) or the compressed data (at most 1032 times its
// size) can hold before anything is allocated.
package mat

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Class is the MATLAB class of an array (mxCELL_CLASS and so on).
type Class uint8

// The classes a MAT-file names in its array flags.
const (
	ClassCell     Class = 1
	ClassStruct   Class = 2
	ClassObject   Class = 3
	ClassChar     Class = 4
	ClassSparse   Class = 5
	ClassDouble   Class = 6
	ClassSingle   Class = 7
	ClassInt8     Class = 8
	ClassUint8    Class = 9
	ClassInt16    Class = 10
	ClassUint16   Class = 11
	ClassInt32    Class = 12
	ClassUint32   Class = 13
	ClassInt64    Class = 14
	ClassUint64   Class = 15
	ClassFunction Class = 16
	ClassOpaque   Class = 17
)

var classNames = [...]string{
	ClassCell: "cell", ClassStruct: "struct", ClassObject: "object", ClassChar: "char",
	ClassSparse: "sparse", ClassDouble: "double", ClassSingle: "single", ClassInt8: "int8",
	ClassUint8: "uint8", ClassInt16: "int16", ClassUint16: "uint16", ClassInt32: "int32",
	ClassUint32: "uint32", ClassInt64: "int64", ClassUint64: "uint64",
	ClassFunction: "function_handle", ClassOpaque: "opaque",
}

// String returns the MATLAB name of the class, such as "single".
func (c Class) String() string {
	if int(c) < len(classNames) && classNames[c] != "" {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// numeric reports whether arrays of the class hold numbers.
func (c Class) numeric() bool { return c >= ClassDouble && c <= ClassUint64 }

// Header is the 128-byte header at the start of every level 5 MAT-file.
type Header struct {
	// Text is the descriptive text, such as "MATLAB 5.0 MAT-file, Platform: ...",
	// with trailing spaces and NULs removed.
	Text string
	// SubsystemOffset is the file offset of the subsystem data, or 0 if there is none.
	SubsystemOffset int64
	// Version is the MAT-file version, 0x0100 for level 5 files.
	Version uint16
	// ByteOrder is the byte order the file was written in.
	ByteOrder binary.ByteOrder
}

// File is a decoded MAT-file: its header and its variables in file order.
type File struct {
	Header Header
	Vars   []Array
}

// Var returns the variable with the given name, or nil if the file has none.
func (f *File) Var(name string) Array {
	for _, v := range f.Vars {
		if v.Header().Name == name {
			return v
		}
	}
	return nil
}

// Array is one MATLAB array: a [*Numeric], [*Char], [*Cell] or [*Struct].
type Array interface {
	// Header returns the name, dimensions and class the array shares with every other.
	Header() *ArrayHeader
}

// ArrayHeader is what every array has. It is embedded in each array type, so its
// fields read as the array's own (n.Dims, c.Name).
type ArrayHeader struct {
	// Name is the variable name for a top-level array and empty for arrays inside
	// cells and structs.
	Name string
	// Dims are the dimensions, at least two, as MATLAB reports them with size().
	Dims []int
	// Class is the MATLAB class.
	Class Class
	// Global is the array's global flag.
	Global bool
}

// Header returns h itself; it makes every type that embeds an ArrayHeader an [Array].
func (h *ArrayHeader) Header() *ArrayHeader { return h }

// Numel returns the number of elements, the product of the dimensions.
func (h *ArrayHeader) Numel() int {
	n := 1
	for _, d := range h.Dims {
		n *= d
	}
	return n
}

// describe returns a short text such as "1x37 cell" for messages.
func describe(a Array) string {
	h := a.Header()
	kind := h.Class.String()
	if n, ok := a.(*Numeric); ok && n.Logical {
		kind = "logical"
	}
	return dimsString(h.Dims) + " " + kind
}

func dimsString(dims []int) string {
	var b strings.Builder
	for i, d := range dims {
		if i > 0 {
			b.WriteByte('x')
		}
		b.WriteString(strconv.Itoa(d))
	}
	return b.String()
}

// Numeric is a real numeric or logical array.
type Numeric struct {
	ArrayHeader
	// Logical is set for MATLAB logical arrays; their Data is a []bool.
	Logical bool
	// Data holds the elements in column-major order, in the Go type of the class:
	// []float64 for double, []float32 for single, []int8, []uint8, []int16,
	// []uint16, []int32, []uint32, []int64 or []uint64 for the integer classes,
	// and []bool for logical arrays.
	Data any
}

// Char is a character array. MATLAB strings are 1xN char arrays.
type Char struct {
	ArrayHeader
	// Value is the text. For an array of several rows it holds the rows in order,
	// separated by newlines; see [Char.Rows].
	Value string
}

// Rows returns the rows of the character array.
func (c *Char) Rows() []string {
	if len(c.Dims) > 0 && c.Dims[0] == 0 {
		return nil
	}
	return strings.Split(c.Value, "\n")
}

// Cell is a cell array.
type Cell struct {
	ArrayHeader
	// Elems holds the elements in column-major order.
	Elems []Array
}

// At returns element i, counting from 0 in column-major order (MATLAB's c{i+1}).
func (c *Cell) At(i int) (Array, error) {
	if i < 0 || i >= len(c.Elems) {
		return nil, fmt.Errorf("%w: index %d out of range for %s", ErrNotFound, i, describe(c))
	}
	return c.Elems[i], nil
}

// Struct is a struct array.
type Struct struct {
	ArrayHeader
	// Fields are the field names in file order.
	Fields []string
	// Elems holds one slice per element, in column-major order; Elems[i][j] is
	// field Fields[j] of element i.
	Elems [][]Array
}

// Field returns a field of a 1x1 struct.
func (s *Struct) Field(name string) (Array, error) {
	if len(s.Elems) != 1 {
		return nil, fmt.Errorf("%w: field %q of a %s needs an element index", ErrNotFound, name, describe(s))
	}
	return s.FieldAt(0, name)
}

// FieldAt returns a field of element i, counting from 0 in column-major order
// (MATLAB's s(i+1).name).
func (s *Struct) FieldAt(i int, name string) (Array, error) {
	if i < 0 || i >= len(s.Elems) {
		return nil, fmt.Errorf("%w: index %d out of range for %s", ErrNotFound, i, describe(s))
	}
	for j, f := range s.Fields {
		if f == name {
			return s.Elems[i][j], nil
		}
	}
	return nil, fmt.Errorf("%w: no field %q (fields: %s)", ErrNotFound, name, strings.Join(s.Fields, ", "))
}

// HasField reports whether the struct has the named field.
func (s *Struct) HasField(name string) bool {
	for _, f := range s.Fields {
		if f == name {
			return true
		}
	}
	return false
}
