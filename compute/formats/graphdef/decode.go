package graphdef

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

const (
	// maxSize is the protocol buffer limit on the size of a message.
	maxSize = math.MaxInt32
	// maxDepth bounds how deeply func attributes may nest.
	maxDepth = 64
)

// DecodeFile reads the GraphDef file at path. Errors name the file.
func DecodeFile(path string) (*Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Decode reads a whole GraphDef from r. Protocol buffers must be read whole,
// so Decode reads r to its end into one buffer; tensor contents and byte-string
// values in the graph share that buffer rather than copying it.
func Decode(r io.Reader) (*Graph, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, err
	}
	return Unmarshal(b)
}

// readAll reads r to its end, up to maxSize bytes.
func readAll(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if st, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() < maxSize {
			buf.Grow(int(fi.Size()) + bytes.MinRead)
		}
	} else if l, ok := r.(interface{ Len() int }); ok && l.Len() < maxSize {
		buf.Grow(l.Len() + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("graphdef: reading at offset %d: %w", n, err)
	}
	if n > maxSize {
		return nil, &UnsupportedError{Feature: "input larger than 2 GiB"}
	}
	return buf.Bytes(), nil
}

// Config summarises a GraphDef without its attributes.
type Config struct {
	Versions Versions
	Version  int32
	// Nodes is the number of nodes.
	Nodes int
	// Ops counts the nodes of each op, such as Ops["Conv2D"].
	Ops map[string]int
}

// DecodeConfig reads a GraphDef from r and returns its versions and how many
// nodes of each op it holds, without decoding attributes or tensors. It still
// reads all of r, and checks the wire format of the node fields it reads.
func DecodeConfig(r io.Reader) (Config, error) {
	b, err := readAll(r)
	if err != nil {
		return Config{}, err
	}
	c := Config{Ops: map[string]int{}}
	err = fields(b, 0, func(f field) error {
		switch f.num {
		case 1:
			op := ""
			if err := f.want(protowire.BytesType, "GraphDef.node"); err != nil {
				return err
			}
			err := fields(f.b, f.off, func(f field) error {
				if f.num == 2 {
					s, err := f.str("NodeDef.op")
					op = s
					return err
				}
				return nil
			})
			if err != nil {
				return err
			}
			c.Nodes++
			c.Ops[op]++
		case 3:
			v, err := f.varint("GraphDef.version")
			c.Version = int32(v)
			return err
		case 4:
			return decodeVersions(f, &c.Versions)
		}
		return nil
	})
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

// Unmarshal decodes a GraphDef from b. The graph shares tensor contents and
// byte-string values with b, which must not be changed afterwards.
func Unmarshal(b []byte) (*Graph, error) {
	if int64(len(b)) > maxSize {
		return nil, &UnsupportedError{Feature: "input larger than 2 GiB"}
	}
	g := &Graph{}
	err := fields(b, 0, func(f field) error {
		switch f.num {
		case 1:
			if err := f.want(protowire.BytesType, "GraphDef.node"); err != nil {
				return err
			}
			n, err := decodeNode(f.b, f.off)
			if err != nil {
				return err
			}
			g.Nodes = append(g.Nodes, n)
		case 2:
			if err := f.want(protowire.BytesType, "GraphDef.library"); err != nil {
				return err
			}
			g.Library = f.b
		case 3:
			v, err := f.varint("GraphDef.version")
			g.Version = int32(v)
			return err
		case 4:
			return decodeVersions(f, &g.Versions)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	g.index = make(map[string]*Node, len(g.Nodes))
	for _, n := range g.Nodes {
		if _, dup := g.index[n.Name]; !dup {
			g.index[n.Name] = n
		}
	}
	return g, nil
}

// field is one field of a message: its number, wire type and value.
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64 // varint, fixed32 and fixed64 values
	b   []byte // bytes value
	off int64  // offset of the value (for bytes, of its content) in the input
	tag int64  // offset of the field's tag in the input
}

// fields calls fn for each field of the message in b, which sits at offset base
// of the input. It skips groups.
func fields(b []byte, base int64, fn func(field) error) error {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return wireErr(base+int64(off), "field tag", n)
		}
		f := field{num: num, typ: typ, off: base + int64(off+n), tag: base + int64(off)}
		off += n
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b[off:])
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b[off:])
			f.u = uint64(v)
		case protowire.Fixed64Type:
			f.u, n = protowire.ConsumeFixed64(b[off:])
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b[off:])
			f.off += int64(n - len(f.b))
		default:
			n = protowire.ConsumeFieldValue(num, typ, b[off:])
		}
		if n < 0 {
			return wireErr(f.tag, fmt.Sprintf("value of field %d", num), n)
		}
		off += n
		if typ == protowire.StartGroupType {
			continue
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// wireErr turns a protowire error code into a *FormatError.
func wireErr(off int64, what string, code int) error {
	err := protowire.ParseError(code)
	if err == io.ErrUnexpectedEOF {
		return &FormatError{Offset: off, Msg: "truncated " + what, Err: err}
	}
	return &FormatError{Offset: off, Msg: what, Err: err}
}

func (f field) want(typ protowire.Type, name string) error {
	if f.typ != typ {
		return &FormatError{Offset: f.tag, Msg: fmt.Sprintf("%s has wire type %d, want %d", name, f.typ, typ)}
	}
	return nil
}

func (f field) str(name string) (string, error) {
	if err := f.want(protowire.BytesType, name); err != nil {
		return "", err
	}
	return string(f.b), nil
}

func (f field) varint(name string) (uint64, error) {
	return f.u, f.want(protowire.VarintType, name)
}

func (f field) fixed32(name string) (uint32, error) {
	return uint32(f.u), f.want(protowire.Fixed32Type, name)
}

// varints calls fn for the values of a repeated varint field, packed or not.
func (f field) varints(name string, fn func(uint64)) error {
	if f.typ == protowire.VarintType {
		fn(f.u)
		return nil
	}
	if err := f.want(protowire.BytesType, name); err != nil {
		return err
	}
	for off := 0; off < len(f.b); {
		v, n := protowire.ConsumeVarint(f.b[off:])
		if n < 0 {
			return wireErr(f.off+int64(off), name, n)
		}
		fn(v)
		off += n
	}
	return nil
}

// fixed calls fn for the values of a repeated fixed32 or fixed64 field, packed
// or not; size is 4 or 8.
func (f field) fixed(name string, size int, fn func(uint64)) error {
	typ := protowire.Fixed32Type
	if size == 8 {
		typ = protowire.Fixed64Type
	}
	if f.typ == typ {
		fn(f.u)
		return nil
	}
	if err := f.want(protowire.BytesType, name); err != nil {
		return err
	}
	if len(f.b)%size != 0 {
		return &FormatError{Offset: f.tag, Msg: fmt.Sprintf("packed %s of %d bytes is not a whole number of %d-byte values", name, len(f.b), size)}
	}
	for off := 0; off < len(f.b); off += size {
		if size == 4 {
			v, _ := protowire.ConsumeFixed32(f.b[off:])
			fn(uint64(v))
		} else {
			v, _ := protowire.ConsumeFixed64(f.b[off:])
			fn(v)
		}
	}
	return nil
}

func decodeVersions(f field, v *Versions) error {
	if err := f.want(protowire.BytesType, "GraphDef.versions"); err != nil {
		return err
	}
	*v = Versions{}
	return fields(f.b, f.off, func(f field) error {
		switch f.num {
		case 1:
			x, err := f.varint("VersionDef.producer")
			v.Producer = int32(x)
			return err
		case 2:
			x, err := f.varint("VersionDef.min_consumer")
			v.MinConsumer = int32(x)
			return err
		case 3:
			return f.varints("VersionDef.bad_consumers", func(x uint64) { v.BadConsumers = append(v.BadConsumers, int32(x)) })
		}
		return nil
	})
}

func decodeNode(b []byte, base int64) (*Node, error) {
	n := &Node{}
	err := fields(b, base, func(f field) error {
		var err error
		switch f.num {
		case 1:
			n.Name, err = f.str("NodeDef.name")
		case 2:
			n.Op, err = f.str("NodeDef.op")
		case 3:
			var in string
			in, err = f.str("NodeDef.input")
			n.Inputs = append(n.Inputs, in)
		case 4:
			n.Device, err = f.str("NodeDef.device")
		case 5:
			if n.Attrs == nil {
				n.Attrs = map[string]AttrValue{}
			}
			err = decodeAttrEntry(f, n.Attrs, "NodeDef.attr", 0)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// decodeAttrEntry decodes one map<string, AttrValue> entry into m.
func decodeAttrEntry(f field, m map[string]AttrValue, name string, depth int) error {
	if err := f.want(protowire.BytesType, name); err != nil {
		return err
	}
	var key string
	var val AttrValue
	err := fields(f.b, f.off, func(f field) error {
		var err error
		switch f.num {
		case 1:
			key, err = f.str(name + " key")
		case 2:
			if err = f.want(protowire.BytesType, name+" value"); err == nil {
				val, err = decodeAttr(f.b, f.off, depth)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	m[key] = val
	return nil
}

func decodeAttr(b []byte, base int64, depth int) (AttrValue, error) {
	if depth > maxDepth {
		return AttrValue{}, &UnsupportedError{Feature: fmt.Sprintf("func attrs nested more than %d deep (offset %d)", maxDepth, base)}
	}
	var a AttrValue
	err := fields(b, base, func(f field) error {
		var err error
		switch f.num {
		case 1:
			if err = f.want(protowire.BytesType, "AttrValue.list"); err == nil {
				var l *listValue
				l, err = decodeList(f.b, f.off, depth)
				a = AttrValue{kind: KindList, list: l}
			}
		case 2:
			if err = f.want(protowire.BytesType, "AttrValue.s"); err == nil {
				a = AttrValue{kind: KindString, s: f.b}
			}
		case 3:
			var v uint64
			v, err = f.varint("AttrValue.i")
			a = AttrValue{kind: KindInt, i: int64(v)}
		case 4:
			var v uint32
			v, err = f.fixed32("AttrValue.f")
			a = AttrValue{kind: KindFloat, f: math.Float32frombits(v)}
		case 5:
			var v uint64
			v, err = f.varint("AttrValue.b")
			a = AttrValue{kind: KindBool, b: v != 0}
		case 6:
			var v uint64
			v, err = f.varint("AttrValue.type")
			a = AttrValue{kind: KindType, typ: DataType(int32(v))}
		case 7:
			if err = f.want(protowire.BytesType, "AttrValue.shape"); err == nil {
				var s Shape
				s, err = decodeShape(f.b, f.off)
				a = AttrValue{kind: KindShape, shape: &s}
			}
		case 8:
			if err = f.want(protowire.BytesType, "AttrValue.tensor"); err == nil {
				var t *Tensor
				t, err = decodeTensor(f.b, f.off)
				a = AttrValue{kind: KindTensor, tensor: t}
			}
		case 9:
			if err = f.want(protowire.BytesType, "AttrValue.placeholder"); err == nil {
				a = AttrValue{kind: KindPlaceholder, s: f.b}
			}
		case 10:
			if err = f.want(protowire.BytesType, "AttrValue.func"); err == nil {
				var fn Func
				fn, err = decodeFunc(f.b, f.off, depth+1)
				a = AttrValue{kind: KindFunc, fn: &fn}
			}
		}
		return err
	})
	return a, err
}

func decodeFunc(b []byte, base int64, depth int) (Func, error) {
	var fn Func
	err := fields(b, base, func(f field) error {
		var err error
		switch f.num {
		case 1:
			fn.Name, err = f.str("NameAttrList.name")
		case 2:
			if fn.Attrs == nil {
				fn.Attrs = map[string]AttrValue{}
			}
			err = decodeAttrEntry(f, fn.Attrs, "NameAttrList.attr", depth)
		}
		return err
	})
	return fn, err
}

func decodeList(b []byte, base int64, depth int) (*listValue, error) {
	l := &listValue{}
	err := fields(b, base, func(f field) error {
		switch f.num {
		case 2:
			if err := f.want(protowire.BytesType, "ListValue.s"); err != nil {
				return err
			}
			l.s = append(l.s, f.b)
		case 3:
			return f.varints("ListValue.i", func(v uint64) { l.i = append(l.i, int64(v)) })
		case 4:
			l.f = slices.Grow(l.f, len(f.b)/4)
			return f.fixed("ListValue.f", 4, func(v uint64) { l.f = append(l.f, math.Float32frombits(uint32(v))) })
		case 5:
			return f.varints("ListValue.b", func(v uint64) { l.b = append(l.b, v != 0) })
		case 6:
			return f.varints("ListValue.type", func(v uint64) { l.typ = append(l.typ, DataType(int32(v))) })
		case 7:
			if err := f.want(protowire.BytesType, "ListValue.shape"); err != nil {
				return err
			}
			s, err := decodeShape(f.b, f.off)
			l.shape = append(l.shape, s)
			return err
		case 8:
			if err := f.want(protowire.BytesType, "ListValue.tensor"); err != nil {
				return err
			}
			t, err := decodeTensor(f.b, f.off)
			l.tensor = append(l.tensor, t)
			return err
		case 9:
			if err := f.want(protowire.BytesType, "ListValue.func"); err != nil {
				return err
			}
			fn, err := decodeFunc(f.b, f.off, depth+1)
			l.fn = append(l.fn, fn)
			return err
		}
		return nil
	})
	return l, err
}

func decodeShape(b []byte, base int64) (Shape, error) {
	var s Shape
	var named bool
	err := fields(b, base, func(f field) error {
		switch f.num {
		case 2:
			if err := f.want(protowire.BytesType, "TensorShapeProto.dim"); err != nil {
				return err
			}
			var size int64
			var name string
			err := fields(f.b, f.off, func(f field) error {
				var err error
				switch f.num {
				case 1:
					var v uint64
					v, err = f.varint("TensorShapeProto.Dim.size")
					size = int64(v)
				case 2:
					name, err = f.str("TensorShapeProto.Dim.name")
				}
				return err
			})
			s.Dims = append(s.Dims, size)
			s.Names = append(s.Names, name)
			named = named || name != ""
			return err
		case 3:
			v, err := f.varint("TensorShapeProto.unknown_rank")
			s.UnknownRank = v != 0
			return err
		}
		return nil
	})
	if !named {
		s.Names = nil
	}
	return s, err
}

func decodeTensor(b []byte, base int64) (*Tensor, error) {
	t := &Tensor{}
	err := fields(b, base, func(f field) error {
		switch f.num {
		case 1:
			v, err := f.varint("TensorProto.dtype")
			t.DType = DataType(int32(v))
			return err
		case 2:
			if err := f.want(protowire.BytesType, "TensorProto.tensor_shape"); err != nil {
				return err
			}
			s, err := decodeShape(f.b, f.off)
			t.Shape = s.Dims
			return err
		case 3:
			v, err := f.varint("TensorProto.version_number")
			t.VersionNumber = int32(v)
			return err
		case 4:
			if err := f.want(protowire.BytesType, "TensorProto.tensor_content"); err != nil {
				return err
			}
			t.Content = f.b
		case 5:
			t.FloatVal = slices.Grow(t.FloatVal, len(f.b)/4)
			return f.fixed("TensorProto.float_val", 4, func(v uint64) { t.FloatVal = append(t.FloatVal, math.Float32frombits(uint32(v))) })
		case 6:
			t.DoubleVal = slices.Grow(t.DoubleVal, len(f.b)/8)
			return f.fixed("TensorProto.double_val", 8, func(v uint64) { t.DoubleVal = append(t.DoubleVal, math.Float64frombits(v)) })
		case 7:
			return f.varints("TensorProto.int_val", func(v uint64) { t.IntVal = append(t.IntVal, int32(v)) })
		case 8:
			if err := f.want(protowire.BytesType, "TensorProto.string_val"); err != nil {
				return err
			}
			t.StringVal = append(t.StringVal, f.b)
		case 10:
			return f.varints("TensorProto.int64_val", func(v uint64) { t.Int64Val = append(t.Int64Val, int64(v)) })
		case 11:
			return f.varints("TensorProto.bool_val", func(v uint64) { t.BoolVal = append(t.BoolVal, v != 0) })
		case 13:
			return f.varints("TensorProto.half_val", func(v uint64) { t.HalfVal = append(t.HalfVal, int32(v)) })
		case 16:
			return f.varints("TensorProto.uint32_val", func(v uint64) { t.Uint32Val = append(t.Uint32Val, uint32(v)) })
		case 17:
			return f.varints("TensorProto.uint64_val", func(v uint64) { t.Uint64Val = append(t.Uint64Val, v) })
		}
		return nil
	})
	return t, err
}
