// Package idx reads the IDX file format of the MNIST and Fashion-MNIST data sets, plain or
// gzip-compressed.
//
// The format (http://yann.lecun.com/exdb/mnist/) is a big-endian header: two zero bytes, a type
// code, the number of dimensions, then one uint32 per dimension, followed by the data in
// row-major order. This package reads the unsigned-byte type (0x08), which is what the data sets
// use; the other types are reported as unsupported.
package idx

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrFormat is wrapped by every error about input that is not a valid IDX file.
var ErrFormat = errors.New("idx: invalid format")

// FormatError reports malformed input and the byte offset where it was found.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("idx: invalid format at offset %d: %s", e.Offset, e.Msg)
}

// Unwrap lets errors.Is(err, ErrFormat) match.
func (e *FormatError) Unwrap() error { return ErrFormat }

// UnsupportedError reports a valid IDX file this package does not read.
type UnsupportedError string

func (e UnsupportedError) Error() string { return "idx: unsupported " + string(e) }

// maxElements caps what a header may ask for (the MNIST training images hold 47 million bytes).
const maxElements = 1 << 30

// Header is the type code and dimensions of an IDX file.
type Header struct {
	Type byte
	Dims []int
}

// Len returns the number of elements the header describes.
func (h Header) Len() int {
	n := 1
	for _, d := range h.Dims {
		n *= d
	}
	return n
}

// Array is the content of an IDX file of unsigned bytes.
type Array struct {
	Dims []int
	Data []byte
}

// DecodeConfig reads only the header.
func DecodeConfig(r io.Reader) (Header, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Header{}, truncated(0, err)
	}
	if b[0] != 0 || b[1] != 0 {
		return Header{}, &FormatError{0, fmt.Sprintf("bad magic % x (want 00 00 followed by type and rank)", b[:])}
	}
	h := Header{Type: b[2]}
	rank := int(b[3])
	if rank == 0 {
		return Header{}, &FormatError{3, "rank 0"}
	}
	n := 1
	for i := 0; i < rank; i++ {
		off := int64(4 + 4*i)
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Header{}, truncated(off, err)
		}
		d := binary.BigEndian.Uint32(b[:])
		if d == 0 || d > maxElements || n*int(d) > maxElements {
			return Header{}, &FormatError{off, fmt.Sprintf("dimension %d of size %d is out of range", i, d)}
		}
		n *= int(d)
		h.Dims = append(h.Dims, int(d))
	}
	if h.Type != 0x08 {
		return h, UnsupportedError(fmt.Sprintf("element type 0x%02x (only unsigned bytes, 0x08)", h.Type))
	}
	return h, nil
}

// Decode reads a whole IDX file of unsigned bytes.
func Decode(r io.Reader) (*Array, error) {
	h, err := DecodeConfig(r)
	if err != nil {
		return nil, err
	}
	data := make([]byte, h.Len())
	n, err := io.ReadFull(r, data)
	if err != nil {
		return nil, truncated(int64(4+4*len(h.Dims)+n), fmt.Errorf("header promises %d bytes of data, found %d: %w", len(data), n, err))
	}
	return &Array{Dims: h.Dims, Data: data}, nil
}

// DecodeFile reads an IDX file from disk, decompressing it first when it is gzip-compressed.
// Errors name the file.
func DecodeFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := DecodeMaybeGzip(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// DecodeMaybeGzip reads an IDX file that may be gzip-compressed (detected by its magic bytes).
func DecodeMaybeGzip(r io.Reader) (*Array, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		a, err := Decode(zr)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		return a, nil
	}
	return Decode(br)
}

// truncated wraps an early end of input as io.ErrUnexpectedEOF with the offset.
func truncated(off int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("idx: truncated at offset %d: %w", off, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("idx: read at offset %d: %w", off, err)
}
