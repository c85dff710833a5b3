package cnvm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"maps"
	"math"
	"slices"
	"strconv"
)

// Limits of the format.
const (
	maxString = 1<<16 - 1 // bytes of a string
	maxRank   = 8         // dimensions of a tensor
	maxDim    = 1 << 31   // size of one dimension
)

// Encode writes m to w as a .cnvm file, after checking it as Decode would: names unique and not
// empty, every input a layer before, every output a layer, every weight a tensor, and every
// tensor's data the size its shape and dtype call for. Maps are written in sorted order, so equal
// models give equal files.
func Encode(w io.Writer, m *Model) error {
	if err := check(m); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	hdr := []byte(magic + "\x00\x00\x00\x00")
	binary.LittleEndian.PutUint16(hdr[4:], Version)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	var b []byte
	if len(m.Meta) > 0 {
		b = appendUvarint(b[:0], len(m.Meta))
		for _, k := range slices.Sorted(maps.Keys(m.Meta)) {
			b = appendString(appendString(b, k), m.Meta[k])
		}
		if err := writeChunk(bw, chunkMeta, b); err != nil {
			return err
		}
	}
	b = appendUvarint(b[:0], len(m.Layers))
	for _, l := range m.Layers {
		b = appendLayer(b, l)
	}
	b = appendUvarint(b, len(m.Outputs))
	for _, o := range m.Outputs {
		b = appendString(b, o)
	}
	if err := writeChunk(bw, chunkGraph, b); err != nil {
		return err
	}
	for _, t := range m.Tensors {
		b = appendString(b[:0], t.Name)
		b = append(b, byte(t.DType))
		b = appendUvarint(b, len(t.Shape))
		for _, d := range t.Shape {
			b = appendUvarint(b, d)
		}
		if t.DType.affine() {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t.Min))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t.Scale))
		}
		b = append(b, t.Data...)
		if err := writeChunk(bw, chunkTensor, b); err != nil {
			return err
		}
	}
	if err := writeChunk(bw, chunkEnd, nil); err != nil {
		return err
	}
	return bw.Flush()
}

// appendLayer appends one layer of a GRPH chunk.
func appendLayer(b []byte, l *Layer) []byte {
	b = appendString(appendString(b, l.Name), l.Kind)
	b = appendUvarint(b, len(l.Inputs))
	for _, in := range l.Inputs {
		b = appendString(b, in)
	}
	b = appendUvarint(b, len(l.Ints))
	for _, k := range slices.Sorted(maps.Keys(l.Ints)) {
		b = appendUvarint(appendString(b, k), len(l.Ints[k]))
		for _, v := range l.Ints[k] {
			b = binary.AppendVarint(b, int64(v))
		}
	}
	b = appendUvarint(b, len(l.Floats))
	for _, k := range slices.Sorted(maps.Keys(l.Floats)) {
		b = binary.LittleEndian.AppendUint64(appendString(b, k), math.Float64bits(l.Floats[k]))
	}
	for _, m := range []map[string]string{l.Strings, l.Weights} {
		b = appendUvarint(b, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			b = appendString(appendString(b, k), m[k])
		}
	}
	return b
}

// writeChunk writes a chunk: length, type, data and CRC.
func writeChunk(w io.Writer, typ string, data []byte) error {
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(data)))
	copy(hdr[4:], typ)
	crc := crc32.Update(crc32.ChecksumIEEE(hdr[4:]), crc32.IEEETable, data)
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc))
	return err
}

// appendUvarint appends a non-negative int as a uvarint.
func appendUvarint(b []byte, v int) []byte { return binary.AppendUvarint(b, uint64(v)) }

// appendString appends a length-prefixed string.
func appendString(b []byte, s string) []byte { return append(appendUvarint(b, len(s)), s...) }

// check checks a model before it is written.
func check(m *Model) error {
	fail := func(format string, args ...any) error {
		return errors.New("cnvm: encode: " + fmt.Sprintf(format, args...))
	}
	for k, v := range m.Meta {
		if len(k) > maxString || len(v) > maxString {
			return fail("metadata %.40q longer than %d bytes", k, maxString)
		}
	}
	seen := map[string]bool{}
	for _, l := range m.Layers {
		if msg := checkLayer(l, seen); msg != "" {
			return fail("%s", msg)
		}
		seen[l.Name] = true
	}
	if msg := checkOutputs(m.Layers, m.Outputs, seen); msg != "" {
		return fail("%s", msg)
	}
	tensors := map[string]bool{}
	for _, t := range m.Tensors {
		if msg := checkTensorHeader(t); msg != "" {
			return fail("%s", msg)
		}
		if tensors[t.Name] {
			return fail("tensor %q listed twice", t.Name)
		}
		tensors[t.Name] = true
		if n := t.Len(); n < 0 || len(t.Data) != n*t.DType.Size() {
			return fail("tensor %q of shape %v and dtype %v has %d bytes of data", t.Name, t.Shape, t.DType, len(t.Data))
		}
		if 8+len(t.Name)+8*len(t.Shape)+32+len(t.Data) > maxChunk {
			return fail("tensor %q larger than 2 GiB", t.Name)
		}
	}
	if msg := checkWeights(m.Layers, tensors); msg != "" {
		return fail("%s", msg)
	}
	return nil
}

// checkLayer checks a layer against the layers before it (seen), and returns what is wrong, or
// "".
func checkLayer(l *Layer, seen map[string]bool) string {
	switch {
	case l.Name == "":
		return "layer without a name"
	case len(l.Name) > maxString:
		return fmt.Sprintf("layer name %.40q too long", l.Name)
	case seen[l.Name]:
		return fmt.Sprintf("layer %q listed twice", l.Name)
	case l.Kind == "" || len(l.Kind) > maxString:
		return fmt.Sprintf("layer %q has no kind", l.Name)
	}
	for _, in := range l.Inputs {
		if !seen[in] {
			return fmt.Sprintf("layer %q reads %q, which is not a layer before it", l.Name, in)
		}
	}
	for _, keys := range []iter.Seq[string]{maps.Keys(l.Ints), maps.Keys(l.Floats), maps.Keys(l.Strings), maps.Keys(l.Weights)} {
		for k := range keys {
			if k == "" || len(k) > maxString {
				return fmt.Sprintf("layer %q has an attribute without a name", l.Name)
			}
		}
	}
	for k, v := range l.Floats {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("layer %q: attribute %s is %v", l.Name, k, v)
		}
	}
	for k, v := range l.Strings {
		if len(v) > maxString {
			return fmt.Sprintf("layer %q: attribute %s too long", l.Name, k)
		}
	}
	for k, v := range l.Weights {
		if v == "" || len(v) > maxString {
			return fmt.Sprintf("layer %q: weight %s names no tensor", l.Name, k)
		}
	}
	return ""
}

// checkOutputs checks that the graph has layers and outputs and that the outputs are layers.
func checkOutputs(layers []*Layer, outputs []string, seen map[string]bool) string {
	if len(layers) == 0 {
		return "graph without layers"
	}
	if len(outputs) == 0 {
		return "graph without outputs"
	}
	for _, o := range outputs {
		if !seen[o] {
			return fmt.Sprintf("output %q is not a layer", o)
		}
	}
	return ""
}

// checkTensorHeader checks a tensor's name, dtype, shape, min and scale.
func checkTensorHeader(t *Tensor) string {
	switch {
	case t.Name == "" || len(t.Name) > maxString:
		return "tensor without a name, or with a name too long"
	case t.DType.Size() == 0:
		return fmt.Sprintf("tensor %q of %v", t.Name, t.DType)
	case len(t.Shape) > maxRank:
		return fmt.Sprintf("tensor %q has rank %d, more than %d", t.Name, len(t.Shape), maxRank)
	case t.Len() < 0:
		return fmt.Sprintf("tensor %q has shape %v", t.Name, t.Shape)
	}
	for _, d := range t.Shape {
		if d > maxDim {
			return fmt.Sprintf("tensor %q has shape %v", t.Name, t.Shape)
		}
	}
	if t.DType.affine() {
		for _, v := range []float64{t.Min, t.Scale} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Sprintf("tensor %q has min %v and scale %v", t.Name, t.Min, t.Scale)
			}
		}
	} else if t.Min != 0 || t.Scale != 0 {
		return fmt.Sprintf("tensor %q of %v has a min or a scale", t.Name, t.DType)
	}
	return ""
}

// checkWeights checks that every weight of every layer names a tensor.
func checkWeights(layers []*Layer, tensors map[string]bool) string {
	for _, l := range layers {
		for _, role := range slices.Sorted(maps.Keys(l.Weights)) {
			if !tensors[l.Weights[role]] {
				return "layer " + strconv.Quote(l.Name) + ": weight " + role + " is tensor " + strconv.Quote(l.Weights[role]) + ", which the file does not have"
			}
		}
	}
	return ""
}
