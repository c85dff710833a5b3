package mat

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Data types of data elements (miINT8 and so on).
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

var typeNames = map[uint32]string{
	miINT8: "miINT8", miUINT8: "miUINT8", miINT16: "miINT16", miUINT16: "miUINT16",
	miINT32: "miINT32", miUINT32: "miUINT32", miSINGLE: "miSINGLE", miDOUBLE: "miDOUBLE",
	miINT64: "miINT64", miUINT64: "miUINT64", miMATRIX: "miMATRIX", miCOMPRESSED: "miCOMPRESSED",
	miUTF8: "miUTF8", miUTF16: "miUTF16", miUTF32: "miUTF32",
}

func typeName(t uint32) string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return "type " + strconv.FormatUint(uint64(t), 10)
}

// typeSize returns the size of one value of a numeric data type, or 0 for the others.
func typeSize(t uint32) int64 {
	switch t {
	case miINT8, miUINT8:
		return 1
	case miINT16, miUINT16:
		return 2
	case miINT32, miUINT32, miSINGLE:
		return 4
	case miDOUBLE, miINT64, miUINT64:
		return 8
	}
	return 0
}

const (
	headerSize = 128
	// maxDepth bounds how deeply cells and structs may nest.
	maxDepth = 64
	// maxRatio is the most that deflate can expand its input (258 bytes from
	// 2 bits, about 1032:1); it bounds what a compressed element can hold.
	maxRatio = 1032
	// growStart is how much is allocated up front for data whose length is only
	// claimed by the file, when the reader cannot tell how much input remains.
	growStart = 16 << 20
	chunkSize = 64 << 10
	// maxNumel bounds the product of an array's dimensions.
	maxNumel = 1 << 50
	// maxEmptyStruct bounds the elements of a struct array without fields,
	// which take no room in the file.
	maxEmptyStruct = 1 << 20
)

// DecodeConfig reads only the 128-byte header of a MAT-file.
func DecodeConfig(r io.Reader) (Header, error) {
	var b [headerSize]byte
	n, err := io.ReadFull(r, b[:])
	if err != nil {
		s := &stream{off: int64(n), zbase: -1}
		return Header{}, s.readErr("header", err)
	}
	return parseHeader(b[:])
}

func parseHeader(b []byte) (Header, error) {
	var bo binary.ByteOrder
	switch string(b[126:128]) {
	case "IM":
		bo = binary.LittleEndian
	case "MI":
		bo = binary.BigEndian
	default:
		return Header{}, &FormatError{Offset: 126,
			Msg: fmt.Sprintf("endian indicator %q is neither \"IM\" nor \"MI\" (not a level 5 MAT-file)", b[126:128])}
	}
	h := Header{
		Text:      strings.TrimRight(string(b[:116]), " \x00"),
		Version:   bo.Uint16(b[124:126]),
		ByteOrder: bo,
	}
	switch h.Version {
	case 0x0100:
	case 0x0200:
		return h, &UnsupportedError{Offset: 124, Feature: "MAT-file version 7.3 (HDF5)"}
	default:
		return h, &FormatError{Offset: 124, Msg: fmt.Sprintf("version 0x%04x, want 0x0100", h.Version)}
	}
	// All zeros or all spaces mean there is no subsystem data.
	if sub := bo.Uint64(b[116:124]); sub != 0 && sub != 0x2020202020202020 && sub < math.MaxInt64 {
		h.SubsystemOffset = int64(sub)
	}
	return h, nil
}

// DecodeFile reads the MAT-file at path. Errors name the file.
func DecodeFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Decode reads a whole MAT-file: the header and every variable.
//
// When r is an [io.Seeker] (an *os.File, a *bytes.Reader), Decode first asks it
// how much input remains, which lets it reject lengths that run past the end
// before allocating anything and report truncation early.
func Decode(r io.Reader) (*File, error) {
	rem, err := remaining(r)
	if err != nil {
		return nil, fmt.Errorf("mat: %w", err)
	}
	bufSize := chunkSize
	if rem >= 0 && rem < chunkSize {
		bufSize = max(int(rem), 64) // a small input needs no large buffers
	}
	br := bufio.NewReaderSize(r, bufSize)
	var hb [headerSize]byte
	if n, err := io.ReadFull(br, hb[:]); err != nil {
		s := &stream{off: int64(n), zbase: -1}
		return nil, s.readErr("header", err)
	}
	h, err := parseHeader(hb[:])
	if err != nil {
		return nil, err
	}
	s := &stream{r: br, off: headerSize, limit: -1, zbase: -1, bo: h.ByteOrder, chunk: make([]byte, bufSize)}
	if rem >= 0 {
		s.limit, s.exact = rem, true
	}
	f := &File{Header: h}
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return f, nil
		} else if err != nil {
			return nil, s.readErr("next element", err)
		}
		a, err := s.topLevel(br, h.SubsystemOffset)
		if err != nil {
			return nil, err
		}
		if a != nil {
			f.Vars = append(f.Vars, a)
		}
	}
}

// remaining returns how many bytes r holds from its current position, or -1 if
// it cannot tell. It leaves the position where it was.
func remaining(r io.Reader) (int64, error) {
	sk, ok := r.(io.Seeker)
	if !ok {
		return -1, nil
	}
	cur, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return -1, nil // a pipe or terminal: read it as a stream
	}
	end, err := sk.Seek(0, io.SeekEnd)
	if err != nil {
		return -1, nil
	}
	if _, err := sk.Seek(cur, io.SeekStart); err != nil {
		return -1, err
	}
	if end < cur {
		return -1, nil
	}
	return end - cur, nil
}

// stream reads data elements and keeps track of where it is.
type stream struct {
	r   io.Reader
	off int64 // bytes consumed from r; for the top-level stream, the file offset
	// limit is an offset r cannot go beyond (the end of the input or what a
	// compressed element can expand to), or -1 if unknown.
	limit int64
	exact bool  // limit is the true end of the input
	zbase int64 // offset of the compressed element that r decompresses, or -1
	bo    binary.ByteOrder
	chunk []byte // buffer for converting numeric data
}

// formatErr returns a *FormatError at offset off of this stream.
func (s *stream) formatErr(off int64, cause error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if s.zbase >= 0 {
		return &FormatError{Offset: s.zbase, Msg: fmt.Sprintf("compressed element, decompressed offset %d: %s", off, msg), Err: cause}
	}
	return &FormatError{Offset: off, Msg: msg, Err: cause}
}

func (s *stream) unsupported(off int64, path, feature string) error {
	if s.zbase >= 0 {
		off = s.zbase
	}
	return &UnsupportedError{Offset: off, Path: path, Feature: feature}
}

// readErr turns an error from reading what into the error Decode returns.
func (s *stream) readErr(what string, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return s.formatErr(s.off, io.ErrUnexpectedEOF, "truncated in %s", what)
	case errors.As(err, &corrupt) || errors.Is(err, zlib.ErrChecksum) ||
		errors.Is(err, zlib.ErrHeader) || errors.Is(err, zlib.ErrDictionary):
		return s.formatErr(s.off, err, "in %s", what)
	}
	return fmt.Errorf("mat: reading %s at offset %d: %w", what, s.off, err)
}

func (s *stream) read(p []byte, what string) error {
	n, err := io.ReadFull(s.r, p)
	s.off += int64(n)
	if err != nil {
		return s.readErr(what, err)
	}
	return nil
}

func (s *stream) skip(n int64, what string) error {
	if n <= 0 {
		return nil
	}
	m, err := io.CopyN(io.Discard, s.r, n)
	s.off += m
	if err != nil {
		return s.readErr(what, err)
	}
	return nil
}

// tag is a data element tag.
type tag struct {
	typ   uint32
	n     int64 // bytes of data
	start int64 // offset of the tag
	small bool  // the data sits in the tag's last 4 bytes
	data  [4]byte
}

// end returns the offset just past the element's data, padding excluded.
func (t tag) end() int64 {
	if t.small {
		return t.start + 8
	}
	return t.start + 8 + t.n
}

// readTag reads a data element tag and checks that the element ends by end.
func (s *stream) readTag(end int64, what string) (tag, error) {
	t := tag{start: s.off}
	if end-s.off < 8 {
		return t, s.formatErr(s.off, nil, "%s: no room for a tag (%d bytes left in the enclosing element)", what, end-s.off)
	}
	var b [8]byte
	if err := s.read(b[:], what); err != nil {
		return t, err
	}
	w := s.bo.Uint32(b[:4])
	if w>>16 != 0 {
		t.small, t.typ, t.n = true, w&0xffff, int64(w>>16)
		if t.n > 4 {
			return t, s.formatErr(t.start, nil, "%s: small element claims %d bytes (at most 4)", what, t.n)
		}
		copy(t.data[:], b[4:])
		return t, nil
	}
	t.typ, t.n = w, int64(s.bo.Uint32(b[4:]))
	if left := end - s.off; t.n > left {
		return t, s.formatErr(t.start, nil, "%s: element of %d bytes overruns its enclosing element (%d bytes left)", what, t.n, left)
	}
	return t, nil
}

// skipPad skips the padding after a normal element, up to end.
func (s *stream) skipPad(t tag, end int64) error {
	if t.small {
		return nil
	}
	pad := (8 - t.n%8) % 8
	return s.skip(min(pad, end-s.off), "padding")
}

// bounded reports whether claimed lengths are known to fit what the input can
// hold, so that they can be allocated up front.
func (s *stream) bounded(n int64) bool { return s.limit >= 0 || n <= growStart }

// readRaw returns an element's data bytes and skips its padding.
func (s *stream) readRaw(t tag, end int64, what string) ([]byte, error) {
	if t.small {
		return slices.Clone(t.data[:t.n]), nil
	}
	var b []byte
	if s.bounded(t.n) {
		b = make([]byte, t.n)
		if err := s.read(b, what); err != nil {
			return nil, err
		}
	} else {
		var buf bytes.Buffer // grows as the data arrives
		m, err := io.CopyN(&buf, s.r, t.n)
		s.off += m
		if err != nil {
			return nil, s.readErr(what, err)
		}
		b = buf.Bytes()
	}
	return b, s.skipPad(t, end)
}

// number is the set of Go types numeric data is converted to.
type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// readData reads an element of numeric data, converting each value to T, and
// skips its padding.
func readData[T number](s *stream, t tag, end int64, what string) ([]T, error) {
	size := typeSize(t.typ)
	if size == 0 {
		return nil, s.formatErr(t.start, nil, "%s: data type %s, want a numeric type", what, typeName(t.typ))
	}
	if t.n%size != 0 {
		return nil, s.formatErr(t.start, nil, "%s: %d bytes is not a whole number of %s values", what, t.n, typeName(t.typ))
	}
	count := t.n / size
	if t.small {
		out := make([]T, count)
		decodeInto(out, t.data[:t.n], t.typ, s.bo)
		return out, nil
	}
	var out []T
	if s.bounded(t.n) {
		out = make([]T, count)
	} else {
		out = make([]T, 0, growStart/size)
	}
	per := int64(len(s.chunk)) / size
	for done := int64(0); done < count; {
		k := min(per, count-done)
		buf := s.chunk[:k*size]
		if err := s.read(buf, what); err != nil {
			return nil, err
		}
		if int64(len(out)) < done+k {
			out = slices.Grow(out, int(k))[:done+k]
		}
		decodeInto(out[done:done+k], buf, t.typ, s.bo)
		done += k
	}
	return out, s.skipPad(t, end)
}

// decodeInto converts the values in src, of data type typ, into dst.
func decodeInto[T number](dst []T, src []byte, typ uint32, bo binary.ByteOrder) {
	le := bo == binary.LittleEndian
	switch typ {
	case miINT8:
		for i := range dst {
			dst[i] = T(int8(src[i]))
		}
	case miUINT8:
		for i := range dst {
			dst[i] = T(src[i])
		}
	case miINT16:
		for i := range dst {
			dst[i] = T(int16(bo.Uint16(src[2*i:])))
		}
	case miUINT16:
		for i := range dst {
			dst[i] = T(bo.Uint16(src[2*i:]))
		}
	case miINT32:
		for i := range dst {
			dst[i] = T(int32(bo.Uint32(src[4*i:])))
		}
	case miUINT32:
		for i := range dst {
			dst[i] = T(bo.Uint32(src[4*i:]))
		}
	case miINT64:
		for i := range dst {
			dst[i] = T(int64(bo.Uint64(src[8*i:])))
		}
	case miUINT64:
		for i := range dst {
			dst[i] = T(bo.Uint64(src[8*i:]))
		}
	case miSINGLE:
		if le { // the common case, with the byte order inlined
			for i := range dst {
				dst[i] = T(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:])))
			}
			return
		}
		for i := range dst {
			dst[i] = T(math.Float32frombits(bo.Uint32(src[4*i:])))
		}
	case miDOUBLE:
		if le {
			for i := range dst {
				dst[i] = T(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
			}
			return
		}
		for i := range dst {
			dst[i] = T(math.Float64frombits(bo.Uint64(src[8*i:])))
		}
	}
}

// topLevel reads one top-level element. It returns nil, nil for subsystem data.
func (s *stream) topLevel(br *bufio.Reader, subsystem int64) (Array, error) {
	t, err := s.readTag(math.MaxInt64, "top-level element")
	if err != nil {
		return nil, err
	}
	if t.small {
		return nil, s.formatErr(t.start, nil, "small data element (%s) at top level", typeName(t.typ))
	}
	if left := s.limit - s.off; s.exact && t.n > left {
		return nil, s.formatErr(t.start, io.ErrUnexpectedEOF, "top-level element of %d bytes runs past the end of the input (%d bytes left)", t.n, left)
	}
	if subsystem != 0 && t.start == subsystem {
		return nil, s.skip(t.n, "subsystem data")
	}
	switch t.typ {
	case miMATRIX:
		return s.readMatrix(t, "", 0)
	case miCOMPRESSED:
		return s.readCompressed(br, t)
	}
	return nil, s.formatErr(t.start, nil, "top-level element of %s, want miMATRIX or miCOMPRESSED", typeName(t.typ))
}

// readCompressed decompresses a miCOMPRESSED element as it reads the array inside.
func (s *stream) readCompressed(br *bufio.Reader, t tag) (Array, error) {
	lr := &limitedReader{br: br, n: t.n, off: &s.off}
	zr, err := zlib.NewReader(lr)
	if err != nil {
		return nil, s.readErr("zlib header of compressed element", err)
	}
	in := &stream{r: zr, limit: t.n*maxRatio + 64, zbase: t.start, bo: s.bo, chunk: s.chunk}
	it, err := in.readTag(math.MaxInt64, "compressed element")
	if err != nil {
		return nil, err
	}
	if it.small || it.typ != miMATRIX {
		return nil, in.formatErr(it.start, nil, "compressed element holds %s, want miMATRIX", typeName(it.typ))
	}
	if it.n > in.limit-in.off {
		return nil, in.formatErr(it.start, nil, "array of %d bytes is more than %d compressed bytes can hold", it.n, t.n)
	}
	a, err := in.readMatrix(it, "", 0)
	if err != nil {
		return nil, err
	}
	// Read to the end of the zlib stream, which checks its checksum.
	m, err := io.Copy(io.Discard, zr)
	in.off += m
	if err != nil {
		return nil, in.readErr("end of compressed data", err)
	}
	if err := zr.Close(); err != nil {
		return nil, in.readErr("end of compressed data", err)
	}
	if lr.n > 0 {
		if _, err := io.CopyN(io.Discard, lr, lr.n); err != nil {
			return nil, s.readErr("compressed element", err)
		}
	}
	return a, nil
}

// limitedReader reads the n bytes of a compressed element and counts them in
// *off. It is an io.ByteReader, so flate reads from it without a buffer of its own
// and never past the element.
type limitedReader struct {
	br  *bufio.Reader
	n   int64
	off *int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.br.Read(p)
	l.n -= int64(n)
	*l.off += int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the input ended inside the element
	}
	return n, err
}

func (l *limitedReader) ReadByte() (byte, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	b, err := l.br.ReadByte()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	l.n--
	*l.off++
	return b, nil
}
