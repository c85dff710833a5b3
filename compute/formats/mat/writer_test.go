package mat

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"math"
	"strings"
	"unicode/utf8"
)

// This file holds a small MAT-file level 5 writer that the tests use to make
// their fixtures in the real format, with the choices MATLAB makes switchable.

// wopts chooses how the test writer encodes a file.
type wopts struct {
	bo       binary.ByteOrder
	small    bool // use the small element form for data of 4 bytes or less, as MATLAB does
	compress bool // wrap each variable in a miCOMPRESSED element, as save -v7 does
	narrow   bool // store doubles that are whole numbers in 0..255 as miUINT8, as MATLAB does
	utf8     bool // store characters as miUTF8 rather than miUINT16
}

var le = wopts{bo: binary.LittleEndian}

// file returns a whole MAT-file holding vars.
func (o wopts) file(vars ...Array) []byte {
	var b bytes.Buffer
	text := "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2026"
	b.WriteString(text + strings.Repeat(" ", 116-len(text)))
	b.Write(make([]byte, 8)) // no subsystem data
	var v [4]byte
	o.bo.PutUint16(v[:2], 0x0100)
	o.bo.PutUint16(v[2:], 'M'<<8|'I')
	b.Write(v[:])
	for _, a := range vars {
		b.Write(o.variable(a))
	}
	return b.Bytes()
}

// variable returns the top-level element for a.
func (o wopts) variable(a Array) []byte {
	m := o.matrix(a)
	if !o.compress {
		return m
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(m)
	zw.Close()
	// A compressed element is not padded.
	tag := make([]byte, 8)
	o.bo.PutUint32(tag, miCOMPRESSED)
	o.bo.PutUint32(tag[4:], uint32(z.Len()))
	return append(tag, z.Bytes()...)
}

// element returns a data element: tag, data and padding.
func (o wopts) element(typ uint32, data []byte) []byte {
	if o.small && len(data) <= 4 && typ != miMATRIX {
		b := make([]byte, 8)
		o.bo.PutUint32(b, uint32(len(data))<<16|typ)
		copy(b[4:], data)
		return b
	}
	b := make([]byte, 8, 8+len(data)+7)
	o.bo.PutUint32(b, typ)
	o.bo.PutUint32(b[4:], uint32(len(data)))
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func (o wopts) u32s(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		o.bo.PutUint32(b[4*i:], x)
	}
	return b
}

// matrix returns the miMATRIX element for a.
func (o wopts) matrix(a Array) []byte {
	h := a.Header()
	if n, ok := a.(*Numeric); ok && h.Name == "" && len(h.Dims) == 2 && h.Dims[0] == 0 && h.Dims[1] == 0 &&
		h.Class == ClassDouble && !n.Logical {
		return o.element(miMATRIX, nil) // MATLAB writes [] inside cells and structs this way
	}
	flags := uint32(h.Class)
	if h.Global {
		flags |= flagGlobal
	}
	if n, ok := a.(*Numeric); ok && n.Logical {
		flags |= flagLogical
	}
	if r, ok := a.(*rawArray); ok {
		flags |= r.flags
	}
	dims := make([]uint32, len(h.Dims))
	for i, d := range h.Dims {
		dims[i] = uint32(d)
	}
	var body []byte
	body = append(body, o.element(miUINT32, o.u32s(flags, 0))...)
	body = append(body, o.element(miINT32, o.u32s(dims...))...)
	body = append(body, o.element(miINT8, []byte(h.Name))...)
	switch v := a.(type) {
	case *Numeric:
		typ, data := o.numeric(v)
		body = append(body, o.element(typ, data)...)
	case *Char:
		body = append(body, o.chars(v)...)
	case *Cell:
		for _, e := range v.Elems {
			body = append(body, o.matrix(e)...)
		}
	case *Struct:
		l := 1
		for _, f := range v.Fields {
			l = max(l, len(f)+1)
		}
		l = (l + 7) / 8 * 8
		names := make([]byte, l*len(v.Fields))
		for i, f := range v.Fields {
			copy(names[i*l:], f)
		}
		body = append(body, o.element(miINT32, o.u32s(uint32(l)))...)
		body = append(body, o.element(miINT8, names)...)
		for _, el := range v.Elems {
			for _, e := range el {
				body = append(body, o.matrix(e)...)
			}
		}
	case *rawArray:
		body = append(body, v.body...)
	}
	return o.element(miMATRIX, body)
}

// rawArray is an array whose class and content the test sets by hand, for
// classes the package does not decode.
type rawArray struct {
	ArrayHeader
	flags uint32 // extra flag bits
	body  []byte // subelements after the name
}

func (o wopts) numeric(n *Numeric) (uint32, []byte) {
	var b bytes.Buffer
	put := func(v any) { binary.Write(&b, o.bo, v) }
	switch d := n.Data.(type) {
	case []float64:
		whole := true
		for _, x := range d {
			whole = whole && x >= 0 && x <= 255 && x == math.Trunc(x)
		}
		if o.narrow && whole {
			for _, x := range d {
				b.WriteByte(byte(x))
			}
			return miUINT8, b.Bytes()
		}
		put(d)
		return miDOUBLE, b.Bytes()
	case []float32:
		put(d)
		return miSINGLE, b.Bytes()
	case []int8:
		put(d)
		return miINT8, b.Bytes()
	case []uint8:
		put(d)
		return miUINT8, b.Bytes()
	case []int16:
		put(d)
		return miINT16, b.Bytes()
	case []uint16:
		put(d)
		return miUINT16, b.Bytes()
	case []int32:
		put(d)
		return miINT32, b.Bytes()
	case []uint32:
		put(d)
		return miUINT32, b.Bytes()
	case []int64:
		put(d)
		return miINT64, b.Bytes()
	case []uint64:
		put(d)
		return miUINT64, b.Bytes()
	case []bool:
		for _, x := range d {
			if x {
				b.WriteByte(1)
			} else {
				b.WriteByte(0)
			}
		}
		return miUINT8, b.Bytes()
	}
	panic("test writer: unknown data")
}

// chars returns the character data of c in column-major order.
func (o wopts) chars(c *Char) []byte {
	var runes []rune
	rows := c.Rows()
	if len(rows) > 0 {
		cols := utf8.RuneCountInString(rows[0])
		rr := make([][]rune, len(rows))
		for i, r := range rows {
			rr[i] = []rune(r)
		}
		for k := range cols {
			for i := range rr {
				runes = append(runes, rr[i][k])
			}
		}
	}
	if o.utf8 {
		return o.element(miUTF8, []byte(string(runes)))
	}
	u := make([]byte, 2*len(runes))
	for i, r := range runes {
		o.bo.PutUint16(u[2*i:], uint16(r))
	}
	return o.element(miUINT16, u)
}

// Constructors for fixtures.

func double(name string, dims []int, v ...float64) *Numeric {
	return &Numeric{ArrayHeader: ArrayHeader{Name: name, Dims: dims, Class: ClassDouble}, Data: v}
}

func single(name string, dims []int, v ...float32) *Numeric {
	return &Numeric{ArrayHeader: ArrayHeader{Name: name, Dims: dims, Class: ClassSingle}, Data: v}
}

func str(name, v string) *Char {
	return &Char{ArrayHeader: ArrayHeader{Name: name, Dims: []int{1, utf8.RuneCountInString(v)}, Class: ClassChar}, Value: v}
}

func cell(name string, dims []int, elems ...Array) *Cell {
	return &Cell{ArrayHeader: ArrayHeader{Name: name, Dims: dims, Class: ClassCell}, Elems: elems}
}

func row(elems ...Array) *Cell { return cell("", []int{1, len(elems)}, elems...) }

// record returns a 1x1 struct; kv alternates field names and arrays.
func record(name string, kv ...any) *Struct {
	s := &Struct{ArrayHeader: ArrayHeader{Name: name, Dims: []int{1, 1}, Class: ClassStruct}}
	el := []Array{}
	for i := 0; i < len(kv); i += 2 {
		s.Fields = append(s.Fields, kv[i].(string))
		el = append(el, kv[i+1].(Array))
	}
	s.Elems = [][]Array{el}
	return s
}

func empty() *Numeric { return double("", []int{0, 0}, []float64{}...) }

func logical(name string, v ...bool) *Numeric {
	return &Numeric{ArrayHeader: ArrayHeader{Name: name, Dims: []int{1, len(v)}, Class: ClassUint8}, Logical: true, Data: v}
}
