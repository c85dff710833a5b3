package cnvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// magic starts every .cnvm file.
const magic = "CNVM"

// maxChunk is the largest chunk length, as in PNG.
const maxChunk = 1<<31 - 1

// Chunk types.
const (
	chunkMeta   = "META"
	chunkGraph  = "GRPH"
	chunkTensor = "TNSR"
	chunkEnd    = "IEND"
)

// Decode reads a whole .cnvm file from r and checks it: the CRC of every chunk, the graph's
// structure, and that every weight a layer names is a tensor of the file.
func Decode(r io.Reader) (*Model, error) { return decode(r, false) }

// DecodeConfig reads a .cnvm file's header, metadata and graph, and stops before the tensors:
// the model it returns has no Tensors, and the layers' weights are not looked up.
func DecodeConfig(r io.Reader) (*Model, error) { return decode(r, true) }

// reader reads a file and counts the bytes it has read, for error offsets.
type reader struct {
	r   io.Reader
	off int64
}

// read reads n bytes, or fails with io.ErrUnexpectedEOF if the file ends first. It grows its
// buffer as data arrives, so a corrupt length cannot make it allocate much more than the file.
func (d *reader) read(n int) ([]byte, error) {
	if n <= 1<<24 {
		b := make([]byte, n)
		k, err := io.ReadFull(d.r, b)
		d.off += int64(k)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return b, err
	}
	var buf bytes.Buffer
	buf.Grow(1 << 24)
	k, err := buf.ReadFrom(io.LimitReader(d.r, int64(n)))
	d.off += k
	if err == nil && k < int64(n) {
		err = io.ErrUnexpectedEOF
	}
	return buf.Bytes(), err
}

// decode reads a file; configOnly stops after the graph.
func decode(r io.Reader, configOnly bool) (*Model, error) {
	d := &reader{r: r}
	hdr, err := d.read(8)
	if err != nil {
		return nil, &FormatError{Offset: d.off, Msg: "file ends inside the header", Err: err}
	}
	if string(hdr[:4]) != magic {
		return nil, &FormatError{Offset: 0, Msg: "not a cnvm file (bad magic number)"}
	}
	switch v := binary.LittleEndian.Uint16(hdr[4:]); {
	case v == 0:
		return nil, &FormatError{Offset: 4, Msg: "version 0"}
	case v > Version:
		return nil, &UnsupportedError{Feature: fmt.Sprintf("version %d (this reader knows %d)", v, Version)}
	}
	if f := binary.LittleEndian.Uint16(hdr[6:]); f != 0 {
		return nil, &UnsupportedError{Feature: fmt.Sprintf("flags %#04x", f)}
	}
	m := &Model{}
	const (
		wantMeta    = iota // before META or GRPH
		wantGraph          // after META
		wantTensors        // after GRPH
	)
	state := wantMeta
	tensors := map[string]bool{}
	for {
		start := d.off
		typ, data, err := d.chunk()
		if err != nil {
			return nil, err
		}
		c := &cursor{b: data, base: start + 8, chunk: typ}
		order := func(ok bool) error {
			if !ok {
				return &FormatError{Offset: start, Msg: "chunk " + typ + " out of order"}
			}
			return nil
		}
		switch typ {
		case chunkMeta:
			if err := order(state == wantMeta); err != nil {
				return nil, err
			}
			if m.Meta, err = c.meta(); err != nil {
				return nil, err
			}
			state = wantGraph
		case chunkGraph:
			if err := order(state != wantTensors); err != nil {
				return nil, err
			}
			if m.Layers, m.Outputs, err = c.graph(); err != nil {
				return nil, err
			}
			if configOnly {
				return m, nil
			}
			state = wantTensors
		case chunkTensor:
			if err := order(state == wantTensors); err != nil {
				return nil, err
			}
			t, err := c.tensor()
			if err != nil {
				return nil, err
			}
			if tensors[t.Name] {
				return nil, &FormatError{Offset: start, Msg: fmt.Sprintf("tensor %q stored twice", t.Name)}
			}
			tensors[t.Name] = true
			m.Tensors = append(m.Tensors, t)
		case chunkEnd:
			if err := order(state == wantTensors); err != nil {
				return nil, err
			}
			if len(data) != 0 {
				return nil, &FormatError{Offset: start, Msg: "IEND chunk is not empty"}
			}
			if n, _ := io.ReadFull(d.r, make([]byte, 1)); n > 0 {
				return nil, &FormatError{Offset: d.off, Msg: "data after the IEND chunk"}
			}
			if msg := checkWeights(m.Layers, tensors); msg != "" {
				return nil, &FormatError{Offset: -1, Msg: msg}
			}
			return m, nil
		default:
			if typ[0] >= 'a' && typ[0] <= 'z' {
				continue // ancillary: skip
			}
			return nil, &UnsupportedError{Feature: fmt.Sprintf("chunk type %q at offset %d", typ, start)}
		}
	}
}

// chunk reads one chunk and checks its CRC.
func (d *reader) chunk() (typ string, data []byte, err error) {
	start := d.off
	hdr, err := d.read(8)
	if err != nil {
		return "", nil, &FormatError{Offset: d.off, Msg: "file ends before its IEND chunk", Err: io.ErrUnexpectedEOF}
	}
	n := binary.LittleEndian.Uint32(hdr)
	typ = string(hdr[4:])
	for _, c := range []byte(typ) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", nil, &FormatError{Offset: start + 4, Msg: fmt.Sprintf("chunk type %q is not four letters", typ)}
		}
	}
	if n > maxChunk {
		return "", nil, &FormatError{Offset: start, Msg: fmt.Sprintf("chunk %s: length %d out of range", typ, n)}
	}
	data, err = d.read(int(n))
	if err != nil {
		return "", nil, &FormatError{Offset: d.off, Msg: "file ends inside chunk " + typ, Err: err}
	}
	sum, err := d.read(4)
	if err != nil {
		return "", nil, &FormatError{Offset: d.off, Msg: "file ends inside chunk " + typ, Err: err}
	}
	crc := crc32.Update(crc32.ChecksumIEEE(hdr[4:]), crc32.IEEETable, data)
	if binary.LittleEndian.Uint32(sum) != crc {
		return "", nil, &FormatError{Offset: start, Msg: "chunk " + typ, Err: ErrChecksum}
	}
	return typ, data, nil
}

// cursor decodes the data of one chunk.
type cursor struct {
	b     []byte
	pos   int
	base  int64 // the file offset of b[0]
	chunk string
}

// fail returns a *FormatError at the cursor.
func (c *cursor) fail(format string, args ...any) error {
	return &FormatError{Offset: c.base + int64(c.pos), Msg: "chunk " + c.chunk + ": " + fmt.Sprintf(format, args...)}
}

// uvarint reads an unsigned varint.
func (c *cursor) uvarint() (uint64, error) {
	v, n := binary.Uvarint(c.b[c.pos:])
	if n <= 0 {
		return 0, c.fail("malformed or truncated varint")
	}
	c.pos += n
	return v, nil
}

// count reads a uvarint count of items that take at least one byte each.
func (c *cursor) count(what string) (int, error) {
	v, err := c.uvarint()
	if err != nil {
		return 0, err
	}
	if v > uint64(len(c.b)-c.pos) {
		return 0, c.fail("%d %s do not fit in the chunk", v, what)
	}
	return int(v), nil
}

// str reads a string.
func (c *cursor) str() (string, error) {
	n, err := c.count("string bytes")
	if err != nil {
		return "", err
	}
	if n > maxString {
		return "", c.fail("string of %d bytes", n)
	}
	s := string(c.b[c.pos : c.pos+n])
	c.pos += n
	return s, nil
}

// f64 reads a float64.
func (c *cursor) f64() (float64, error) {
	if len(c.b)-c.pos < 8 {
		return 0, c.fail("truncated number")
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(c.b[c.pos:]))
	c.pos += 8
	return v, nil
}

// keys reads the count of a sorted map and returns a function that reads and checks each key.
func (c *cursor) keys(what string) (n int, next func() (string, error), err error) {
	if n, err = c.count(what); err != nil {
		return 0, nil, err
	}
	prev, first := "", true
	return n, func() (string, error) {
		at := c.pos
		k, err := c.str()
		if err != nil {
			return "", err
		}
		if !first && k <= prev {
			c.pos = at
			return "", c.fail("%s key %q not after %q: keys must be sorted and unique", what, k, prev)
		}
		prev, first = k, false
		return k, nil
	}, nil
}

// done checks that the chunk has been read to its end.
func (c *cursor) done() error {
	if c.pos != len(c.b) {
		return c.fail("%d bytes left over", len(c.b)-c.pos)
	}
	return nil
}

// meta reads a META chunk.
func (c *cursor) meta() (map[string]string, error) {
	n, key, err := c.keys("metadata")
	if err != nil {
		return nil, err
	}
	meta := make(map[string]string, n)
	for range n {
		k, err := key()
		if err != nil {
			return nil, err
		}
		if meta[k], err = c.str(); err != nil {
			return nil, err
		}
	}
	return meta, c.done()
}

// graph reads a GRPH chunk.
func (c *cursor) graph() ([]*Layer, []string, error) {
	n, err := c.count("layers")
	if err != nil {
		return nil, nil, err
	}
	layers := make([]*Layer, 0, n)
	seen := map[string]bool{}
	for range n {
		at := c.pos
		l, err := c.layer()
		if err != nil {
			return nil, nil, err
		}
		if msg := checkLayer(l, seen); msg != "" {
			c.pos = at
			return nil, nil, c.fail("%s", msg)
		}
		seen[l.Name] = true
		layers = append(layers, l)
	}
	at := c.pos
	k, err := c.count("outputs")
	if err != nil {
		return nil, nil, err
	}
	outputs := make([]string, k)
	for i := range outputs {
		if outputs[i], err = c.str(); err != nil {
			return nil, nil, err
		}
	}
	if msg := checkOutputs(layers, outputs, seen); msg != "" {
		c.pos = at
		return nil, nil, c.fail("%s", msg)
	}
	return layers, outputs, c.done()
}

// layer reads one layer of a GRPH chunk.
func (c *cursor) layer() (*Layer, error) {
	l := &Layer{}
	var err error
	if l.Name, err = c.str(); err != nil {
		return nil, err
	}
	if l.Kind, err = c.str(); err != nil {
		return nil, err
	}
	n, err := c.count("inputs")
	if err != nil {
		return nil, err
	}
	if n > 0 {
		l.Inputs = make([]string, n)
	}
	for i := range l.Inputs {
		if l.Inputs[i], err = c.str(); err != nil {
			return nil, err
		}
	}
	if n, key, err := c.keys("integer attribute"); err != nil {
		return nil, err
	} else if n > 0 {
		l.Ints = make(map[string][]int, n)
		for range n {
			k, err := key()
			if err != nil {
				return nil, err
			}
			cnt, err := c.count("integers")
			if err != nil {
				return nil, err
			}
			vals := make([]int, cnt)
			for i := range vals {
				v, w := binary.Varint(c.b[c.pos:])
				if w <= 0 {
					return nil, c.fail("malformed or truncated varint")
				}
				c.pos += w
				vals[i] = int(v)
			}
			l.Ints[k] = vals
		}
	}
	if n, key, err := c.keys("number attribute"); err != nil {
		return nil, err
	} else if n > 0 {
		l.Floats = make(map[string]float64, n)
		for range n {
			k, err := key()
			if err != nil {
				return nil, err
			}
			if l.Floats[k], err = c.f64(); err != nil {
				return nil, err
			}
		}
	}
	strs := func(what string) (map[string]string, error) {
		n, key, err := c.keys(what)
		if err != nil || n == 0 {
			return nil, err
		}
		m := make(map[string]string, n)
		for range n {
			k, err := key()
			if err != nil {
				return nil, err
			}
			if m[k], err = c.str(); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	if l.Strings, err = strs("string attribute"); err != nil {
		return nil, err
	}
	if l.Weights, err = strs("weight"); err != nil {
		return nil, err
	}
	return l, nil
}

// tensor reads a TNSR chunk.
func (c *cursor) tensor() (*Tensor, error) {
	t := &Tensor{}
	var err error
	if t.Name, err = c.str(); err != nil {
		return nil, err
	}
	if t.Name == "" {
		return nil, c.fail("tensor without a name")
	}
	if c.pos >= len(c.b) {
		return nil, c.fail("truncated tensor header")
	}
	t.DType = DType(c.b[c.pos])
	if t.DType.Size() == 0 {
		return nil, &UnsupportedError{Feature: fmt.Sprintf("tensor %q of %v at offset %d", t.Name, t.DType, c.base+int64(c.pos))}
	}
	c.pos++
	rank, err := c.count("dimensions")
	if err != nil {
		return nil, err
	}
	if rank > maxRank {
		return nil, c.fail("tensor %q has rank %d", t.Name, rank)
	}
	t.Shape = make([]int, rank)
	for i := range t.Shape {
		v, err := c.uvarint()
		if err != nil {
			return nil, err
		}
		if v > maxDim {
			return nil, c.fail("tensor %q: dimension %d out of range", t.Name, v)
		}
		t.Shape[i] = int(v)
	}
	if t.DType.affine() {
		if t.Min, err = c.f64(); err != nil {
			return nil, err
		}
		if t.Scale, err = c.f64(); err != nil {
			return nil, err
		}
	}
	if msg := checkTensorHeader(t); msg != "" {
		return nil, c.fail("%s", msg)
	}
	if n := t.Len(); n < 0 || n*t.DType.Size() != len(c.b)-c.pos {
		return nil, c.fail("tensor %q of shape %v needs %d bytes of %v, the chunk has %d", t.Name, t.Shape, n*t.DType.Size(), t.DType, len(c.b)-c.pos)
	}
	t.Data = c.b[c.pos:len(c.b):len(c.b)]
	return t, nil
}
