package tfjs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of objects and arrays, so that hostile input cannot exhaust the
// stack. Keras topologies nest about 10 deep.
const maxDepth = 256

// relaxed rewrites one JavaScript literal value, as a minifier writes it, into strict JSON:
// unquoted and single-quoted keys, single-quoted strings, !0 and !1 for true and false, void 0
// for null, numbers such as .5 or 1. and trailing commas. Strict JSON is accepted as it is.
//
// It reads the value starting at src[start] (after white space) and returns the JSON, the offset
// just past the value, and a table that maps offsets in the JSON back to offsets in src, for error
// messages. Errors are *FormatError values with the offset in src and an empty File.
func relaxed(src []byte, start int) (out []byte, end int, m offsetMap, err error) {
	p := &jsParser{src: src, pos: start}
	p.out.Grow(len(src) - start)
	if err := p.value(0); err != nil {
		return nil, 0, nil, err
	}
	return p.out.Bytes(), p.pos, p.marks, nil
}

// offsetMap records, at each token of the JSON written by relaxed, the offset of the same token in
// the source. Both columns grow monotonically.
type offsetMap []struct{ out, src int }

// source maps an offset in the JSON, such as the end of a value that encoding/json reports, back
// to the source offset of the last token that starts before it.
func (m offsetMap) source(out int64) int64 {
	i := sort.Search(len(m), func(i int) bool { return int64(m[i].out) >= out })
	if i == 0 {
		return 0
	}
	return int64(m[i-1].src)
}

// jsParser is the state of relaxed.
type jsParser struct {
	src   []byte
	pos   int
	out   bytes.Buffer
	marks offsetMap
}

// errorf returns a *FormatError at the current offset.
func (p *jsParser) errorf(format string, args ...any) error {
	return &FormatError{Offset: int64(p.pos), Msg: fmt.Sprintf(format, args...)}
}

// eof returns the error for input that ends inside a value.
func (p *jsParser) eof() error {
	return &FormatError{Offset: int64(p.pos), Msg: "input ends inside a value", Err: io.ErrUnexpectedEOF}
}

// mark records that the token written next starts at the current source offset.
func (p *jsParser) mark() {
	p.marks = append(p.marks, struct{ out, src int }{p.out.Len(), p.pos})
}

// space skips white space and JavaScript comments.
func (p *jsParser) space() {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case c == '/' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '/':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		case c == '/' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '*':
			end := bytes.Index(p.src[p.pos+2:], []byte("*/"))
			if end < 0 {
				p.pos = len(p.src)
				return
			}
			p.pos += end + 4
		default:
			return
		}
	}
}

// value rewrites one value.
func (p *jsParser) value(depth int) error {
	if depth > maxDepth {
		return p.errorf("values nest more than %d deep", maxDepth)
	}
	p.space()
	if p.pos >= len(p.src) {
		return p.eof()
	}
	p.mark()
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"' || c == '\'':
		s, err := p.str()
		if err != nil {
			return err
		}
		p.writeString(s)
		return nil
	case c == '-' || c == '+' || c == '.' || ('0' <= c && c <= '9'):
		return p.number()
	case c == '!':
		// A minifier writes true as !0 and false as !1.
		p.pos++
		p.space()
		if p.pos >= len(p.src) {
			return p.eof()
		}
		switch p.src[p.pos] {
		case '0':
			p.out.WriteString("true")
		case '1':
			p.out.WriteString("false")
		default:
			return p.errorf("unexpected %q after '!': only !0 and !1 are understood", p.src[p.pos])
		}
		p.pos++
		return nil
	}
	id := p.ident()
	switch id {
	case "true", "false", "null":
		p.out.WriteString(id)
		return nil
	case "void":
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == '0' {
			p.pos++
			p.out.WriteString("null")
			return nil
		}
		return p.errorf("only void 0 is understood")
	case "":
		return p.errorf("unexpected %q where a value should start", p.src[p.pos])
	}
	return p.errorf("unexpected identifier %q where a value should start", id)
}

// ident reads a JavaScript identifier made of ASCII letters, digits, '_' and '$'.
func (p *jsParser) ident() string {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '_' || c == '$' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (p.pos > start && '0' <= c && c <= '9') {
			p.pos++
			continue
		}
		break
	}
	return string(p.src[start:p.pos])
}

// object rewrites an object literal; p.pos is at '{'.
func (p *jsParser) object(depth int) error {
	p.pos++
	p.out.WriteByte('{')
	for n := 0; ; n++ {
		p.space()
		if p.pos >= len(p.src) {
			return p.eof()
		}
		if p.src[p.pos] == '}' {
			p.pos++
			p.out.WriteByte('}')
			return nil
		}
		if n > 0 {
			if p.src[p.pos] != ',' {
				return p.errorf("expected ',' or '}' in object, found %q", p.src[p.pos])
			}
			p.pos++
			p.space()
			if p.pos < len(p.src) && p.src[p.pos] == '}' { // trailing comma
				continue
			}
			p.out.WriteByte(',')
		}
		if err := p.key(); err != nil {
			return err
		}
		p.space()
		if p.pos >= len(p.src) {
			return p.eof()
		}
		if p.src[p.pos] != ':' {
			return p.errorf("expected ':' after object key, found %q", p.src[p.pos])
		}
		p.pos++
		p.out.WriteByte(':')
		if err := p.value(depth + 1); err != nil {
			return err
		}
	}
}

// key rewrites an object key: a string, an identifier or a number.
func (p *jsParser) key() error {
	if p.pos >= len(p.src) {
		return p.eof()
	}
	p.mark()
	c := p.src[p.pos]
	switch {
	case c == '"' || c == '\'':
		s, err := p.str()
		if err != nil {
			return err
		}
		p.writeString(s)
	case '0' <= c && c <= '9':
		start := p.pos
		for p.pos < len(p.src) && '0' <= p.src[p.pos] && p.src[p.pos] <= '9' {
			p.pos++
		}
		p.writeString(string(p.src[start:p.pos]))
	default:
		id := p.ident()
		if id == "" {
			return p.errorf("unexpected %q where an object key should start", c)
		}
		p.writeString(id)
	}
	return nil
}

// array rewrites an array literal; p.pos is at '['.
func (p *jsParser) array(depth int) error {
	p.pos++
	p.out.WriteByte('[')
	for n := 0; ; n++ {
		p.space()
		if p.pos >= len(p.src) {
			return p.eof()
		}
		if p.src[p.pos] == ']' {
			p.pos++
			p.out.WriteByte(']')
			return nil
		}
		if n > 0 {
			if p.src[p.pos] != ',' {
				return p.errorf("expected ',' or ']' in array, found %q", p.src[p.pos])
			}
			p.pos++
			p.space()
			if p.pos < len(p.src) && p.src[p.pos] == ']' { // trailing comma
				continue
			}
			p.out.WriteByte(',')
		}
		if err := p.value(depth + 1); err != nil {
			return err
		}
	}
}

// number rewrites a numeric literal. Integers keep their digits; other numbers are written in the
// shortest form that reads back as the same float64.
func (p *jsParser) number() error {
	start := p.pos
	if c := p.src[p.pos]; c == '-' || c == '+' {
		p.pos++
	}
	digits := 0
	intOnly := true
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case '0' <= c && c <= '9':
			digits++
		case c == '.':
			intOnly = false
		case c == 'e' || c == 'E':
			intOnly = false
			if p.pos+1 < len(p.src) && (p.src[p.pos+1] == '-' || p.src[p.pos+1] == '+') {
				p.pos++
			}
		default:
			goto done
		}
		p.pos++
	}
done:
	lit := string(p.src[start:p.pos])
	if digits == 0 {
		p.pos = start
		return p.errorf("malformed number %q", lit)
	}
	if intOnly {
		if lit[0] == '+' {
			lit = lit[1:]
		}
		if _, err := strconv.ParseInt(lit, 10, 64); err == nil {
			p.out.WriteString(lit)
			return nil
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		p.pos = start
		return p.errorf("malformed number %q", lit)
	}
	p.out.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	return nil
}

// str reads a string literal quoted with " or ' and returns its value.
func (p *jsParser) str() (string, error) {
	q := p.src[p.pos]
	p.pos++
	var b []byte
	for {
		if p.pos >= len(p.src) {
			return "", p.eof()
		}
		c := p.src[p.pos]
		switch {
		case c == q:
			p.pos++
			return string(b), nil
		case c == '\n' || c == '\r':
			return "", p.errorf("line break inside a string")
		case c != '\\':
			b = append(b, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.src) {
			return "", p.eof()
		}
		e := p.src[p.pos]
		p.pos++
		switch e {
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'v':
			b = append(b, '\v')
		case '0':
			b = append(b, 0)
		case 'x':
			v, err := p.hex(2)
			if err != nil {
				return "", err
			}
			b = utf8.AppendRune(b, rune(v))
		case 'u':
			v, err := p.hex(4)
			if err != nil {
				return "", err
			}
			r := rune(v)
			if utf16.IsSurrogate(r) && p.pos+6 <= len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
				save := p.pos
				p.pos += 2
				if v2, err := p.hex(4); err == nil {
					if d := utf16.DecodeRune(r, rune(v2)); d != utf8.RuneError {
						b = utf8.AppendRune(b, d)
						continue
					}
				}
				p.pos = save
			}
			b = utf8.AppendRune(b, r)
		case '\n':
			// A line continuation adds nothing.
		default:
			b = append(b, e)
		}
	}
}

// hex reads n hexadecimal digits.
func (p *jsParser) hex(n int) (uint64, error) {
	if p.pos+n > len(p.src) {
		return 0, p.eof()
	}
	v, err := strconv.ParseUint(string(p.src[p.pos:p.pos+n]), 16, 32)
	if err != nil {
		return 0, p.errorf("malformed escape in string")
	}
	p.pos += n
	return v, nil
}

// writeString writes s as a JSON string.
func (p *jsParser) writeString(s string) {
	b, _ := json.Marshal(s) // a string always marshals
	p.out.Write(b)
}
