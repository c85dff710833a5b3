package graphdef

import (
	"io"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Encode writes g to w as a GraphDef; see [Marshal].
func Encode(w io.Writer, g *Graph) error {
	_, err := w.Write(Marshal(g))
	return err
}

// Marshal returns g in the protocol buffer wire format. The output is
// deterministic: attributes are written in the order of their names, and
// fields in the order of their numbers. Empty repeated fields and zero scalars
// are left out, as proto3 does, except the value of an attribute, which is
// always written.
func Marshal(g *Graph) []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendMessage(b, 1, appendNode(nil, n))
	}
	if len(g.Library) > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, g.Library)
	}
	b = appendInt32(b, 3, g.Version)
	v := g.Versions
	if v.Producer != 0 || v.MinConsumer != 0 || len(v.BadConsumers) > 0 {
		var m []byte
		m = appendInt32(m, 1, v.Producer)
		m = appendInt32(m, 2, v.MinConsumer)
		m = appendPacked(m, 3, v.BadConsumers, func(b []byte, x int32) []byte {
			return protowire.AppendVarint(b, uint64(int64(x)))
		})
		b = appendMessage(b, 4, m)
	}
	return b
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendInt32(b []byte, num protowire.Number, v int32) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(int64(v)))
}

// appendPacked writes a packed repeated field, or nothing if v is empty.
func appendPacked[T any](b []byte, num protowire.Number, v []T, put func([]byte, T) []byte) []byte {
	if len(v) == 0 {
		return b
	}
	var p []byte
	for _, x := range v {
		p = put(p, x)
	}
	return appendMessage(b, num, p)
}

func appendNode(b []byte, n *Node) []byte {
	b = appendString(b, 1, n.Name)
	b = appendString(b, 2, n.Op)
	for _, in := range n.Inputs {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, in)
	}
	b = appendString(b, 4, n.Device)
	return appendAttrMap(b, 5, n.Attrs)
}

func appendAttrMap(b []byte, num protowire.Number, m map[string]AttrValue) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		// Map entries carry both key and value, as protobuf's own encoders write them.
		e := protowire.AppendTag(nil, 1, protowire.BytesType)
		e = protowire.AppendString(e, k)
		e = appendMessage(e, 2, appendAttr(nil, m[k]))
		b = appendMessage(b, num, e)
	}
	return b
}

func appendAttr(b []byte, a AttrValue) []byte {
	switch a.kind {
	case KindList:
		l := a.list
		if l == nil {
			l = &listValue{}
		}
		b = appendMessage(b, 1, appendList(nil, l))
	case KindString:
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, a.s)
	case KindInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case KindFloat:
		b = protowire.AppendTag(b, 4, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case KindBool:
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(a.b))
	case KindType:
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(a.typ)))
	case KindShape:
		s := a.shape
		if s == nil {
			s = &Shape{}
		}
		b = appendMessage(b, 7, appendShape(nil, s.Dims, s.Names, s.UnknownRank))
	case KindTensor:
		b = appendMessage(b, 8, appendTensor(nil, a.tensor))
	case KindPlaceholder:
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendBytes(b, a.s)
	case KindFunc:
		f := a.fn
		if f == nil {
			f = &Func{}
		}
		b = appendMessage(b, 10, appendFunc(nil, f))
	}
	return b
}

func appendFunc(b []byte, f *Func) []byte {
	b = appendString(b, 1, f.Name)
	return appendAttrMap(b, 2, f.Attrs)
}

func appendList(b []byte, l *listValue) []byte {
	for _, s := range l.s {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	b = appendPacked(b, 3, l.i, func(b []byte, x int64) []byte { return protowire.AppendVarint(b, uint64(x)) })
	b = appendPacked(b, 4, l.f, func(b []byte, x float32) []byte { return protowire.AppendFixed32(b, math.Float32bits(x)) })
	b = appendPacked(b, 5, l.b, func(b []byte, x bool) []byte { return protowire.AppendVarint(b, protowire.EncodeBool(x)) })
	b = appendPacked(b, 6, l.typ, func(b []byte, x DataType) []byte { return protowire.AppendVarint(b, uint64(int64(x))) })
	for _, s := range l.shape {
		b = appendMessage(b, 7, appendShape(nil, s.Dims, s.Names, s.UnknownRank))
	}
	for _, t := range l.tensor {
		b = appendMessage(b, 8, appendTensor(nil, t))
	}
	for _, f := range l.fn {
		b = appendMessage(b, 9, appendFunc(nil, &f))
	}
	return b
}

func appendShape(b []byte, dims []int64, names []string, unknownRank bool) []byte {
	for i, d := range dims {
		var m []byte
		if d != 0 {
			m = protowire.AppendTag(m, 1, protowire.VarintType)
			m = protowire.AppendVarint(m, uint64(d))
		}
		if i < len(names) {
			m = appendString(m, 2, names[i])
		}
		b = appendMessage(b, 2, m)
	}
	if unknownRank {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	return b
}

func appendTensor(b []byte, t *Tensor) []byte {
	if t == nil {
		return b
	}
	b = appendInt32(b, 1, int32(t.DType))
	b = appendMessage(b, 2, appendShape(nil, t.Shape, nil, false))
	b = appendInt32(b, 3, t.VersionNumber)
	if len(t.Content) > 0 {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, t.Content)
	}
	b = appendPacked(b, 5, t.FloatVal, func(b []byte, x float32) []byte { return protowire.AppendFixed32(b, math.Float32bits(x)) })
	b = appendPacked(b, 6, t.DoubleVal, func(b []byte, x float64) []byte { return protowire.AppendFixed64(b, math.Float64bits(x)) })
	b = appendPacked(b, 7, t.IntVal, func(b []byte, x int32) []byte { return protowire.AppendVarint(b, uint64(int64(x))) })
	for _, s := range t.StringVal {
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	b = appendPacked(b, 10, t.Int64Val, func(b []byte, x int64) []byte { return protowire.AppendVarint(b, uint64(x)) })
	b = appendPacked(b, 11, t.BoolVal, func(b []byte, x bool) []byte { return protowire.AppendVarint(b, protowire.EncodeBool(x)) })
	b = appendPacked(b, 13, t.HalfVal, func(b []byte, x int32) []byte { return protowire.AppendVarint(b, uint64(int64(x))) })
	b = appendPacked(b, 16, t.Uint32Val, func(b []byte, x uint32) []byte { return protowire.AppendVarint(b, uint64(x)) })
	b = appendPacked(b, 17, t.Uint64Val, func(b []byte, x uint64) []byte { return protowire.AppendVarint(b, x) })
	return b
}
