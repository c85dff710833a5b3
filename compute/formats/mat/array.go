package mat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Array flag bits, in the first word of the array flags subelement.
const (
	flagComplex = 0x0800
	flagGlobal  = 0x0400
	flagLogical = 0x0200
)

// readMatrix reads the array in miMATRIX element t, whose tag has been read.
// path names the array in messages; it is empty for a top-level array, whose
// name is read from the file. On return the stream is at the end of t's data.
func (s *stream) readMatrix(t tag, path string, depth int) (Array, error) {
	end := t.end()
	if depth > maxDepth {
		return nil, s.unsupported(t.start, path, fmt.Sprintf("arrays nested more than %d deep", maxDepth))
	}
	if t.n == 0 { // MATLAB writes [] in a cell or struct as an empty element
		return &Numeric{ArrayHeader: ArrayHeader{Dims: []int{0, 0}, Class: ClassDouble}, Data: []float64{}}, nil
	}
	where := path
	if where == "" {
		where = "array"
	}

	// Array flags.
	ft, err := s.readTag(end, where+": array flags")
	if err != nil {
		return nil, err
	}
	if ft.small || ft.typ != miUINT32 || ft.n != 8 {
		return nil, s.formatErr(ft.start, nil, "%s: array flags of %d bytes of %s, want 8 bytes of miUINT32", where, ft.n, typeName(ft.typ))
	}
	fb, err := s.readRaw(ft, end, where+": array flags")
	if err != nil {
		return nil, err
	}
	flags := s.bo.Uint32(fb)
	h := ArrayHeader{Class: Class(flags & 0xff), Global: flags&flagGlobal != 0}
	if h.Class == ClassOpaque {
		return nil, s.unsupported(t.start, path, "opaque (MCOS) object")
	}

	// Dimensions.
	dt, err := s.readTag(end, where+": dimensions")
	if err != nil {
		return nil, err
	}
	if dt.typ != miINT32 || dt.n < 8 {
		return nil, s.formatErr(dt.start, nil, "%s: dimensions of %d bytes of %s, want 2 or more miINT32", where, dt.n, typeName(dt.typ))
	}
	dims, err := readData[int32](s, dt, end, where+": dimensions")
	if err != nil {
		return nil, err
	}
	h.Dims = make([]int, len(dims))
	numel := int64(1)
	for i, d := range dims {
		if d < 0 {
			return nil, s.formatErr(dt.start, nil, "%s: negative dimension %d", where, d)
		}
		if d > 0 && numel > maxNumel/int64(d) {
			return nil, s.formatErr(dt.start, nil, "%s: dimensions %v hold too many elements", where, dims)
		}
		numel *= int64(d)
		h.Dims[i] = int(d)
	}

	// Name.
	nt, err := s.readTag(end, where+": array name")
	if err != nil {
		return nil, err
	}
	if typeSize(nt.typ) != 1 && nt.typ != miUTF8 {
		return nil, s.formatErr(nt.start, nil, "%s: array name of %s, want miINT8", where, typeName(nt.typ))
	}
	name, err := s.readRaw(nt, end, where+": array name")
	if err != nil {
		return nil, err
	}
	h.Name = string(name)
	if path == "" && h.Name != "" {
		path = h.Name
		where = path
	}

	if flags&flagComplex != 0 && (h.Class.numeric() || h.Class == ClassSparse) {
		return nil, s.unsupported(t.start, path, "complex "+h.Class.String()+" array")
	}
	var a Array
	switch {
	case h.Class == ClassCell:
		a, err = s.readCell(h, numel, end, path, depth)
	case h.Class == ClassStruct:
		a, err = s.readStruct(h, numel, end, path, depth)
	case h.Class == ClassChar:
		a, err = s.readChar(h, numel, end, where)
	case h.Class.numeric():
		a, err = s.readNumeric(h, flags&flagLogical != 0, numel, end, where)
	case h.Class == ClassObject:
		err = s.unsupported(t.start, path, "object array")
	case h.Class == ClassSparse:
		err = s.unsupported(t.start, path, "sparse array")
	case h.Class == ClassFunction:
		err = s.unsupported(t.start, path, "function handle")
	default:
		err = s.formatErr(t.start, nil, "%s: unknown array class %d", where, h.Class)
	}
	if err != nil {
		return nil, err
	}
	return a, s.skip(end-s.off, where)
}

// readElement reads the miMATRIX element of a cell or struct field.
func (s *stream) readElement(end int64, path string, depth int) (Array, error) {
	t, err := s.readTag(end, path)
	if err != nil {
		return nil, err
	}
	if t.small || t.typ != miMATRIX {
		return nil, s.formatErr(t.start, nil, "%s: element of %s, want miMATRIX", path, typeName(t.typ))
	}
	a, err := s.readMatrix(t, path, depth+1)
	if err != nil {
		return nil, err
	}
	return a, s.skipPad(t, end)
}

func (s *stream) readCell(h ArrayHeader, numel, end int64, path string, depth int) (Array, error) {
	if numel > (end-s.off)/8 { // every element takes at least a tag
		return nil, s.formatErr(s.off, nil, "%s: %d cell elements cannot fit in %d bytes", path, numel, end-s.off)
	}
	c := &Cell{ArrayHeader: h, Elems: make([]Array, numel)}
	for i := range c.Elems {
		a, err := s.readElement(end, path+"{"+strconv.Itoa(i+1)+"}", depth)
		if err != nil {
			return nil, err
		}
		c.Elems[i] = a
	}
	return c, nil
}

func (s *stream) readStruct(h ArrayHeader, numel, end int64, path string, depth int) (Array, error) {
	lt, err := s.readTag(end, path+": field name length")
	if err != nil {
		return nil, err
	}
	if lt.typ != miINT32 || lt.n != 4 {
		return nil, s.formatErr(lt.start, nil, "%s: field name length of %d bytes of %s, want one miINT32", path, lt.n, typeName(lt.typ))
	}
	ln, err := readData[int32](s, lt, end, path+": field name length")
	if err != nil {
		return nil, err
	}
	nameLen := int(ln[0])
	nt, err := s.readTag(end, path+": field names")
	if err != nil {
		return nil, err
	}
	if typeSize(nt.typ) != 1 && nt.typ != miUTF8 {
		return nil, s.formatErr(nt.start, nil, "%s: field names of %s, want miINT8", path, typeName(nt.typ))
	}
	raw, err := s.readRaw(nt, end, path+": field names")
	if err != nil {
		return nil, err
	}
	if nameLen < 0 || (nameLen == 0 && len(raw) > 0) || (nameLen > 0 && len(raw)%nameLen != 0) {
		return nil, s.formatErr(nt.start, nil, "%s: %d bytes of field names do not split into names of %d bytes", path, len(raw), nameLen)
	}
	st := &Struct{ArrayHeader: h}
	for i := 0; nameLen > 0 && i < len(raw); i += nameLen {
		b := raw[i : i+nameLen]
		if j := slices.Index(b, 0); j >= 0 {
			b = b[:j]
		}
		st.Fields = append(st.Fields, string(b))
	}
	nf := int64(len(st.Fields))
	if nf == 0 && numel > maxEmptyStruct {
		return nil, s.unsupported(s.off, path, fmt.Sprintf("struct array of %d elements without fields", numel))
	}
	if nf > 0 && numel > (end-s.off)/8/nf {
		return nil, s.formatErr(s.off, nil, "%s: %d elements of %d fields cannot fit in %d bytes", path, numel, nf, end-s.off)
	}
	st.Elems = make([][]Array, numel)
	all := make([]Array, numel*nf)
	for i := range st.Elems {
		st.Elems[i] = all[int64(i)*nf : int64(i+1)*nf : int64(i+1)*nf]
		prefix := path
		if numel > 1 {
			prefix += "(" + strconv.Itoa(i+1) + ")"
		}
		for j, f := range st.Fields {
			a, err := s.readElement(end, prefix+"."+f, depth)
			if err != nil {
				return nil, err
			}
			st.Elems[i][j] = a
		}
	}
	return st, nil
}

func (s *stream) readChar(h ArrayHeader, numel, end int64, where string) (Array, error) {
	c := &Char{ArrayHeader: h}
	if numel == 0 && s.off == end {
		return c, nil
	}
	t, err := s.readTag(end, where+": characters")
	if err != nil {
		return nil, err
	}
	var runes []rune
	switch t.typ {
	case miUTF8:
		b, err := s.readRaw(t, end, where+": characters")
		if err != nil {
			return nil, err
		}
		runes = []rune(string(b))
	case miINT8, miUINT8: // one byte per character
		b, err := s.readRaw(t, end, where+": characters")
		if err != nil {
			return nil, err
		}
		runes = make([]rune, len(b))
		for i, x := range b {
			runes[i] = rune(x)
		}
	case miUINT16, miUTF16, miINT16:
		u, err := readData[uint16](s, t, end, where+": characters")
		if err != nil {
			return nil, err
		}
		if int64(len(u)) == numel { // one code unit per element, as MATLAB counts them
			runes = make([]rune, len(u))
			for i, x := range u {
				runes[i] = rune(x)
			}
		} else {
			runes = utf16.Decode(u)
		}
	case miUINT32, miUTF32, miINT32:
		u, err := readData[int32](s, t, end, where+": characters")
		if err != nil {
			return nil, err
		}
		runes = make([]rune, len(u))
		for i, x := range u {
			runes[i] = x
		}
	default:
		return nil, s.formatErr(t.start, nil, "%s: characters of %s", where, typeName(t.typ))
	}
	rows := 1
	if len(h.Dims) > 0 {
		rows = h.Dims[0]
	}
	switch {
	case int64(len(runes)) == numel && rows > 1:
		cols := int(numel) / rows
		var b strings.Builder
		for r := range rows {
			if r > 0 {
				b.WriteByte('\n')
			}
			for k := range cols {
				b.WriteRune(runes[r+rows*k])
			}
		}
		c.Value = b.String()
	case int64(len(runes)) == numel || (t.typ == miUTF8 && rows <= 1):
		c.Value = string(runes)
	default:
		return nil, s.formatErr(t.start, nil, "%s: %d characters for %d elements", where, len(runes), numel)
	}
	return c, nil
}

func (s *stream) readNumeric(h ArrayHeader, logical bool, numel, end int64, where string) (Array, error) {
	n := &Numeric{ArrayHeader: h, Logical: logical}
	if numel == 0 && s.off == end {
		n.Data = emptyData(h.Class, logical)
		return n, nil
	}
	t, err := s.readTag(end, where+": data")
	if err != nil {
		return nil, err
	}
	if size := typeSize(t.typ); size == 0 || t.n != numel*size {
		return nil, s.formatErr(t.start, nil, "%s: %d bytes of %s for %d elements", where, t.n, typeName(t.typ), numel)
	}
	what := where + ": data"
	switch {
	case logical:
		v, err := readData[float64](s, t, end, what)
		if err != nil {
			return nil, err
		}
		b := make([]bool, len(v))
		for i, x := range v {
			b[i] = x != 0
		}
		n.Data = b
	case h.Class == ClassDouble:
		n.Data, err = readData[float64](s, t, end, what)
	case h.Class == ClassSingle:
		n.Data, err = readData[float32](s, t, end, what)
	case h.Class == ClassInt8:
		n.Data, err = readData[int8](s, t, end, what)
	case h.Class == ClassUint8:
		n.Data, err = readData[uint8](s, t, end, what)
	case h.Class == ClassInt16:
		n.Data, err = readData[int16](s, t, end, what)
	case h.Class == ClassUint16:
		n.Data, err = readData[uint16](s, t, end, what)
	case h.Class == ClassInt32:
		n.Data, err = readData[int32](s, t, end, what)
	case h.Class == ClassUint32:
		n.Data, err = readData[uint32](s, t, end, what)
	case h.Class == ClassInt64:
		n.Data, err = readData[int64](s, t, end, what)
	case h.Class == ClassUint64:
		n.Data, err = readData[uint64](s, t, end, what)
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

// emptyData returns an empty slice of the Go type of class.
func emptyData(c Class, logical bool) any {
	if logical {
		return []bool{}
	}
	switch c {
	case ClassSingle:
		return []float32{}
	case ClassInt8:
		return []int8{}
	case ClassUint8:
		return []uint8{}
	case ClassInt16:
		return []int16{}
	case ClassUint16:
		return []uint16{}
	case ClassInt32:
		return []int32{}
	case ClassUint32:
		return []uint32{}
	case ClassInt64:
		return []int64{}
	case ClassUint64:
		return []uint64{}
	}
	return []float64{}
}
