// Package checkpoint reads and writes Convas checkpoints: named float32 tensors and a JSON
// document of metadata (the recipe's configuration, metrics, solver state), in one file.
//
// Layout, version 1 (all integers little-endian):
//
//	offset 0   8 bytes  magic "CONVASCK"
//	offset 8   uint32   format version (1)
//	offset 12  uint32   header length H
//	offset 16  H bytes  header, JSON: {"kind": string, "meta": any, "tensors": [{"name", "shape"}]}
//	then, for each tensor in header order, its values as float32, row-major
//	last 4     uint32   CRC-32 (IEEE) of every byte before it
//
// A file with another magic is refused as not a checkpoint, a newer version as unsupported, and a
// file whose length or checksum does not match as damaged.
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Magic starts every checkpoint file.
const Magic = "CONVASCK"

// Version is the format version this package writes.
const Version = 1

// Errors a caller can test for with errors.Is.
var (
	ErrNotCheckpoint = errors.New("checkpoint: not a Convas checkpoint")
	ErrDamaged       = errors.New("checkpoint: damaged file")
	ErrVersion       = errors.New("checkpoint: unsupported version")
)

// maxHeader and maxValues bound what a header may ask for.
const (
	maxHeader = 64 << 20
	maxValues = 1 << 31
)

// Tensor is one named float32 array.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Checkpoint is the content of a file: what kind of model it holds, free-form metadata and the
// tensors.
type Checkpoint struct {
	Kind    string
	Meta    json.RawMessage
	Tensors []Tensor
}

type header struct {
	Kind    string          `json:"kind"`
	Meta    json.RawMessage `json:"meta"`
	Tensors []tensorHeader  `json:"tensors"`
}

type tensorHeader struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// Encode writes c to w.
func Encode(w io.Writer, c *Checkpoint) error {
	h := header{Kind: c.Kind, Meta: c.Meta}
	for _, t := range c.Tensors {
		if n := count(t.Shape); n != len(t.Data) {
			return fmt.Errorf("checkpoint: tensor %s: shape %v holds %d values, data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		h.Tensors = append(h.Tensors, tensorHeader{t.Name, t.Shape})
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("checkpoint: header: %w", err)
	}
	crc := crc32.NewIEEE()
	out := io.MultiWriter(w, crc)
	var buf bytes.Buffer
	buf.WriteString(Magic)
	binary.Write(&buf, binary.LittleEndian, uint32(Version))
	binary.Write(&buf, binary.LittleEndian, uint32(len(hb)))
	buf.Write(hb)
	if _, err := out.Write(buf.Bytes()); err != nil {
		return err
	}
	b := make([]byte, 0, 1<<16)
	for _, t := range c.Tensors {
		for _, v := range t.Data {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			if len(b) == cap(b) {
				if _, err := out.Write(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
	}
	if _, err := out.Write(b); err != nil {
		return err
	}
	return binary.Write(w, binary.LittleEndian, crc.Sum32())
}

// Decode reads a checkpoint from r, checking its checksum.
func Decode(r io.Reader) (*Checkpoint, error) {
	crc := crc32.NewIEEE()
	tr := io.TeeReader(r, crc)
	var off int64
	read := func(b []byte, what string) error {
		n, err := io.ReadFull(tr, b)
		off += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: truncated in the %s at offset %d: %w", ErrDamaged, what, off, io.ErrUnexpectedEOF)
			}
			return err
		}
		return nil
	}
	pre := make([]byte, 16)
	if err := read(pre[:8], "magic"); err != nil {
		if off < 8 {
			return nil, ErrNotCheckpoint
		}
		return nil, err
	}
	if string(pre[:8]) != Magic {
		return nil, ErrNotCheckpoint
	}
	if err := read(pre[8:], "header"); err != nil {
		return nil, err
	}
	if v := binary.LittleEndian.Uint32(pre[8:]); v != Version {
		return nil, fmt.Errorf("%w %d (this Convas reads version %d)", ErrVersion, v, Version)
	}
	hl := binary.LittleEndian.Uint32(pre[12:])
	if hl > maxHeader {
		return nil, fmt.Errorf("%w: header length %d at offset 12 is too large", ErrDamaged, hl)
	}
	hb := make([]byte, hl)
	if err := read(hb, "header"); err != nil {
		return nil, err
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header at offset 16: %v", ErrDamaged, err)
	}
	c := &Checkpoint{Kind: h.Kind, Meta: h.Meta}
	total := 0
	for _, th := range h.Tensors {
		n := count(th.Shape)
		if n < 0 || total+n > maxValues {
			return nil, fmt.Errorf("%w: tensor %s has an impossible shape %v", ErrDamaged, th.Name, th.Shape)
		}
		total += n
	}
	raw := make([]byte, 4*1024)
	for _, th := range h.Tensors {
		t := Tensor{Name: th.Name, Shape: th.Shape, Data: make([]float32, 0, min(count(th.Shape), 1<<20))}
		for left := count(th.Shape); left > 0; {
			k := min(left, len(raw)/4)
			if err := read(raw[:4*k], "tensor "+th.Name); err != nil {
				return nil, err
			}
			for i := 0; i < k; i++ {
				t.Data = append(t.Data, math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
			}
			left -= k
		}
		c.Tensors = append(c.Tensors, t)
	}
	want := crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil {
		return nil, fmt.Errorf("%w: truncated before the checksum at offset %d: %w", ErrDamaged, off, io.ErrUnexpectedEOF)
	}
	if got := binary.LittleEndian.Uint32(sum[:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, contents give %08x", ErrDamaged, got, want)
	}
	if n, _ := io.Copy(io.Discard, io.LimitReader(r, 1)); n > 0 {
		return nil, fmt.Errorf("%w: data after the checksum at offset %d", ErrDamaged, off+4)
	}
	return c, nil
}

// Tensor returns the tensor with the given name, or nil.
func (c *Checkpoint) Tensor(name string) *Tensor {
	for i := range c.Tensors {
		if c.Tensors[i].Name == name {
			return &c.Tensors[i]
		}
	}
	return nil
}

// WriteFile writes c to path atomically: into a temporary file beside it, then renamed.
func WriteFile(path string, c *Checkpoint) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := Encode(f, c); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadFile reads a checkpoint from path; errors name the file.
func ReadFile(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := Decode(bufio(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func count(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxValues/d) {
			return -1
		}
		n *= d
	}
	return n
}
