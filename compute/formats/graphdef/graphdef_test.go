package graphdef

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// inception returns a graph in the shape of inception5h's
// tensorflow_inception_graph.pb: the same node names, ops and attrs, with tiny
// tensors.
func inception() *Graph {
	w := make([]float32, 2*2*3*4)
	for i := range w {
		w[i] = float32(i) / 8
	}
	reshape := make([]byte, 8)
	binary.LittleEndian.PutUint32(reshape, uint32(0xffffffff)) // -1
	binary.LittleEndian.PutUint32(reshape[4:], 4)
	T := TypeAttr(DTFloat)
	node := func(name, op string, inputs []string, kv ...any) *Node {
		n := &Node{Name: name, Op: op, Inputs: inputs, Attrs: map[string]AttrValue{}}
		for i := 0; i < len(kv); i += 2 {
			n.Attrs[kv[i].(string)] = kv[i+1].(AttrValue)
		}
		return n
	}
	in := func(s ...string) []string { return s }
	return &Graph{
		Nodes: []*Node{
			node("input", "Placeholder", nil, "dtype", T, "shape", ShapeAttr(Shape{Dims: []int64{-1, -1, -1, 3}})),
			node("conv2d0_w", "Const", nil, "dtype", T, "value", TensorAttr(NewFloat32Tensor([]int64{2, 2, 3, 4}, w))),
			node("conv2d0_b", "Const", nil, "dtype", T, "value", TensorAttr(&Tensor{DType: DTFloat, Shape: []int64{4}, FloatVal: []float32{0.5}})),
			node("conv2d0_pre_relu/conv", "Conv2D", in("input", "conv2d0_w"), "T", T,
				"strides", IntsAttr(1, 2, 2, 1), "padding", StringAttr("SAME"), "data_format", StringAttr("NHWC"),
				"use_cudnn_on_gpu", BoolAttr(true)),
			node("conv2d0_pre_relu", "BiasAdd", in("conv2d0_pre_relu/conv", "conv2d0_b"), "T", T),
			node("conv2d0", "Relu", in("conv2d0_pre_relu"), "T", T,
				"_output_shapes", ShapesAttr(Shape{Dims: []int64{1, 112, 112, 64}, Names: []string{"batch", "", "", "channels"}}, Shape{UnknownRank: true})),
			node("maxpool0", "MaxPool", in("conv2d0"), "T", T, "ksize", IntsAttr(1, 3, 3, 1), "strides", IntsAttr(1, 2, 2, 1), "padding", StringAttr("SAME")),
			node("localresponsenorm0", "LRN", in("maxpool0"), "T", T, "depth_radius", IntAttr(5),
				"bias", FloatAttr(1), "alpha", FloatAttr(0.0001), "beta", FloatAttr(0.75)),
			node("mixed3a/concat_dim", "Const", nil, "dtype", TypeAttr(DTInt32), "value", TensorAttr(&Tensor{DType: DTInt32, IntVal: []int32{3}})),
			node("mixed3a", "Concat", in("mixed3a/concat_dim", "localresponsenorm0", "maxpool0"), "N", IntAttr(2), "T", T),
			node("mixed3b", "ConcatV2", in("localresponsenorm0", "maxpool0:0", "mixed3a/concat_dim"), "N", IntAttr(2), "T", T, "Tidx", TypeAttr(DTInt32)),
			node("avgpool0/reshape/shape", "Const", nil, "dtype", TypeAttr(DTInt32), "value", TensorAttr(&Tensor{DType: DTInt32, Shape: []int64{2}, Content: reshape})),
			node("avgpool0/reshape", "Reshape", in("mixed3b", "avgpool0/reshape/shape"), "T", T, "Tshape", TypeAttr(DTInt32)),
			node("softmax2_w", "Const", nil, "dtype", T, "value", TensorAttr(NewFloat32Tensor([]int64{4, 2}, []float32{1, -1, 2, -2, 3, -3, 4, -4}))),
			node("softmax2_pre_activation/matmul", "MatMul", in("avgpool0/reshape", "softmax2_w"), "T", T,
				"transpose_a", BoolAttr(false), "transpose_b", BoolAttr(false)),
			node("softmax2", "Softmax", in("softmax2_pre_activation/matmul"), "T", T),
			{Name: "output2", Op: "Identity", Inputs: in("softmax2", "^conv2d0"), Device: "/cpu:0", Attrs: map[string]AttrValue{
				"T":        T,
				"_class":   StringsAttr("loc:@softmax2", ""),
				"types":    TypesAttr(DTFloat, DTInt64),
				"flags":    BoolsAttr(true, false),
				"scales":   FloatsAttr(0.5, -1.25),
				"consts":   TensorsAttr(&Tensor{DType: DTInt64, Int64Val: []int64{-7}}, &Tensor{DType: DTBool, Shape: []int64{2}, BoolVal: []bool{true}}),
				"fn":       FuncAttr(Func{Name: "f", Attrs: map[string]AttrValue{"T": T, "n": IntAttr(0)}}),
				"fns":      FuncsAttr(Func{Name: "g"}),
				"ph":       PlaceholderAttr("T"),
				"empty":    IntsAttr(),
				"zero":     IntAttr(0),
				"negative": IntAttr(-3),
				"blank":    StringAttr(""),
			}},
		},
		Versions: Versions{Producer: 9, MinConsumer: 0, BadConsumers: []int32{-1, 3}},
		Version:  7,
		Library:  []byte{0x0a, 0x00}, // an empty FunctionDef, not decoded
	}
}

func TestRoundTrip(t *testing.T) {
	g := inception()
	b := Marshal(g)
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != len(g.Nodes) {
		t.Fatalf("%d nodes, want %d", len(got.Nodes), len(g.Nodes))
	}
	for i := range g.Nodes {
		if !reflect.DeepEqual(got.Nodes[i], g.Nodes[i]) {
			t.Errorf("node %d:\n got %+v\nwant %+v", i, got.Nodes[i], g.Nodes[i])
		}
	}
	if !reflect.DeepEqual(got.Versions, g.Versions) || got.Version != 7 || !bytes.Equal(got.Library, g.Library) {
		t.Errorf("versions %+v %d, library %x", got.Versions, got.Version, got.Library)
	}
	if again := Marshal(got); !bytes.Equal(again, b) {
		t.Error("Marshal(Unmarshal(b)) != b")
	}
	var w bytes.Buffer
	if err := Encode(&w, g); err != nil || !bytes.Equal(w.Bytes(), b) {
		t.Errorf("Encode: %v", err)
	}
	dec, err := Decode(&w)
	if err != nil || len(dec.Nodes) != len(g.Nodes) {
		t.Errorf("Decode: %v", err)
	}
}

func TestInceptionAttrs(t *testing.T) {
	g, err := Unmarshal(Marshal(inception()))
	if err != nil {
		t.Fatal(err)
	}
	conv := g.Node("conv2d0_pre_relu/conv")
	if conv == nil || conv.Op != "Conv2D" || !reflect.DeepEqual(conv.Inputs, []string{"input", "conv2d0_w"}) {
		t.Fatalf("conv node %+v", conv)
	}
	strides, err := conv.Attr("strides").Ints()
	if err != nil || !reflect.DeepEqual(strides, []int64{1, 2, 2, 1}) {
		t.Errorf("strides %v %v", strides, err)
	}
	if p, err := conv.Attr("padding").String(); err != nil || p != "SAME" {
		t.Errorf("padding %q %v", p, err)
	}
	if f, err := conv.Attr("data_format").String(); err != nil || f != "NHWC" {
		t.Errorf("data_format %q %v", f, err)
	}
	if typ, err := conv.Attr("T").Type(); err != nil || typ != DTFloat {
		t.Errorf("T %v %v", typ, err)
	}
	if c, err := conv.Attr("use_cudnn_on_gpu").Bool(); err != nil || !c {
		t.Errorf("use_cudnn_on_gpu %v %v", c, err)
	}
	lrn := g.Node("localresponsenorm0")
	r, _ := lrn.Attr("depth_radius").Int()
	bias, _ := lrn.Attr("bias").Float()
	alpha, _ := lrn.Attr("alpha").Float()
	beta, _ := lrn.Attr("beta").Float()
	if r != 5 || bias != 1 || alpha != 0.0001 || beta != 0.75 {
		t.Errorf("LRN %v %v %v %v", r, bias, alpha, beta)
	}
	shape, err := g.Node("input").Attr("shape").Shape()
	if err != nil || !reflect.DeepEqual(shape.Dims, []int64{-1, -1, -1, 3}) {
		t.Errorf("input shape %+v %v", shape, err)
	}
	shapes, err := g.Node("conv2d0").Attr("_output_shapes").Shapes()
	if err != nil || len(shapes) != 2 || shapes[0].Names[3] != "channels" || !shapes[1].UnknownRank {
		t.Errorf("_output_shapes %+v %v", shapes, err)
	}

	w, err := g.Node("conv2d0_w").Attr("value").Tensor()
	if err != nil {
		t.Fatal(err)
	}
	wf, err := w.Float32()
	if err != nil || len(wf) != 48 || wf[9] != 9.0/8 || !reflect.DeepEqual(w.Shape, []int64{2, 2, 3, 4}) {
		t.Errorf("conv2d0_w %v %v %v", w.Shape, wf, err)
	}
	b, _ := g.Node("conv2d0_b").Attr("value").Tensor()
	if bf, err := b.Float32(); err != nil || !reflect.DeepEqual(bf, []float32{0.5, 0.5, 0.5, 0.5}) {
		t.Errorf("broadcast bias %v %v", bf, err)
	}
	rs, _ := g.Node("avgpool0/reshape/shape").Attr("value").Tensor()
	if v, err := rs.Int64(); err != nil || !reflect.DeepEqual(v, []int64{-1, 4}) {
		t.Errorf("reshape shape %v %v", v, err)
	}
	cd, _ := g.Node("mixed3a/concat_dim").Attr("value").Tensor()
	if v, err := cd.Int64(); err != nil || !reflect.DeepEqual(v, []int64{3}) {
		t.Errorf("concat_dim %v %v", v, err)
	}
	if n, out, ctl := ParseInput(g.Node("mixed3b").Inputs[1]); n != "maxpool0" || out != 0 || ctl {
		t.Errorf("ParseInput %q %d %v", n, out, ctl)
	}
	o := g.Node("output2")
	if n, _, ctl := ParseInput(o.Inputs[1]); n != "conv2d0" || !ctl || o.Device != "/cpu:0" {
		t.Errorf("control input %q %v, device %q", n, ctl, o.Device)
	}
	if s, err := o.Attr("_class").Strings(); err != nil || !reflect.DeepEqual(s, []string{"loc:@softmax2", ""}) {
		t.Errorf("_class %v %v", s, err)
	}
	if e, err := o.Attr("empty").Ints(); err != nil || len(e) != 0 {
		t.Errorf("empty list %v %v", e, err)
	}
	if f, err := o.Attr("fn").Func(); err != nil || f.Name != "f" || f.Attrs["n"].Kind() != KindInt {
		t.Errorf("fn %+v %v", f, err)
	}
	if g.Node("nope") != nil {
		t.Error("Node of a missing name")
	}
}

func TestAttrErrors(t *testing.T) {
	g, err := Unmarshal(Marshal(inception()))
	if err != nil {
		t.Fatal(err)
	}
	conv := g.Node("conv2d0_pre_relu/conv")
	_, err = conv.Attr("padding").Int()
	want := `graphdef: node "conv2d0_pre_relu/conv" (Conv2D) attr "padding" is string, not int`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if _, err := conv.Attr("strides").Floats(); err == nil || !strings.Contains(err.Error(), "is list(int), not list(float)") {
		t.Errorf("list kind: %v", err)
	}
	if _, err := conv.Attr("dilations").Ints(); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `attr "dilations" is not set`) {
		t.Errorf("missing attr: %v", err)
	}
	// Every accessor refuses every other kind.
	for name, a := range g.Node("output2").Attrs {
		calls := []error{
			second(a.Bytes()), second(a.String()), second(a.Int()), second(a.Float()), second(a.Bool()),
			second(a.Type()), second(a.Shape()), second(a.Tensor()), second(a.Placeholder()), second(a.Func()),
			second(a.Ints()), second(a.Floats()), second(a.Strings()), second(a.Bools()), second(a.Types()),
			second(a.Shapes()), second(a.Tensors()), second(a.Funcs()),
		}
		ok := 0
		for _, err := range calls {
			if err == nil {
				ok++
			}
		}
		want := 1
		switch {
		case a.Kind() == KindString:
			want = 2 // Bytes and String
		case name == "empty":
			want = 8 // an empty list is a list of anything
		}
		if ok != want {
			t.Errorf("attr %s (%s): %d accessors succeed, want %d", name, a.TypeName(), ok, want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestTensorValues(t *testing.T) {
	le := binary.LittleEndian
	half := []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c} // 1, -2, 2^-24, +Inf
	cases := []struct {
		name string
		t    Tensor
		want []float32
	}{
		{"float content", *NewFloat32Tensor([]int64{3}, []float32{1, 2, 3}), []float32{1, 2, 3}},
		{"double content", Tensor{DType: DTDouble, Shape: []int64{1}, Content: le.AppendUint64(nil, math.Float64bits(2.5))}, []float32{2.5}},
		{"int32 content", Tensor{DType: DTInt32, Shape: []int64{2}, Content: le.AppendUint32(le.AppendUint32(nil, 7), 0xfffffffe)}, []float32{7, -2}},
		{"int64 content", Tensor{DType: DTInt64, Content: le.AppendUint64(nil, 1<<40)}, []float32{1 << 40}},
		{"uint8 content", Tensor{DType: DTUint8, Shape: []int64{2}, Content: []byte{0, 255}}, []float32{0, 255}},
		{"int8 content", Tensor{DType: DTInt8, Shape: []int64{2}, Content: []byte{0x80, 1}}, []float32{-128, 1}},
		{"int16 content", Tensor{DType: DTInt16, Shape: []int64{1}, Content: []byte{0xff, 0xff}}, []float32{-1}},
		{"half content", Tensor{DType: DTHalf, Shape: []int64{4}, Content: half}, []float32{1, -2, 1.0 / (1 << 24), float32(math.Inf(1))}},
		{"bfloat16 content", Tensor{DType: DTBfloat16, Shape: []int64{1}, Content: []byte{0xc0, 0x3f}}, []float32{1.5}},
		{"bool content", Tensor{DType: DTBool, Shape: []int64{2}, Content: []byte{1, 0}}, []float32{1, 0}},
		{"float_val", Tensor{DType: DTFloat, Shape: []int64{2, 2}, FloatVal: []float32{1, 2, 3, 4}}, []float32{1, 2, 3, 4}},
		{"float_val broadcast", Tensor{DType: DTFloat, Shape: []int64{2, 3}, FloatVal: []float32{7}}, []float32{7, 7, 7, 7, 7, 7}},
		{"float_val repeats last", Tensor{DType: DTFloat, Shape: []int64{4}, FloatVal: []float32{1, 2}}, []float32{1, 2, 2, 2}},
		{"float_val too many", Tensor{DType: DTFloat, Shape: []int64{1}, FloatVal: []float32{1, 2}}, []float32{1}},
		{"float_val empty is zeros", Tensor{DType: DTFloat, Shape: []int64{2}}, []float32{0, 0}},
		{"scalar", Tensor{DType: DTFloat, FloatVal: []float32{3}}, []float32{3}},
		{"zero elements", Tensor{DType: DTFloat, Shape: []int64{0, 5}}, []float32{}},
		{"double_val", Tensor{DType: DTDouble, Shape: []int64{2}, DoubleVal: []float64{0.5}}, []float32{0.5, 0.5}},
		{"int_val", Tensor{DType: DTInt32, Shape: []int64{3}, IntVal: []int32{-1, 5}}, []float32{-1, 5, 5}},
		{"uint8 int_val", Tensor{DType: DTUint8, Shape: []int64{1}, IntVal: []int32{200}}, []float32{200}},
		{"int64_val", Tensor{DType: DTInt64, Shape: []int64{1}, Int64Val: []int64{-9}}, []float32{-9}},
		{"bool_val", Tensor{DType: DTBool, Shape: []int64{2}, BoolVal: []bool{true, false}}, []float32{1, 0}},
		{"half_val", Tensor{DType: DTHalf, Shape: []int64{2}, HalfVal: []int32{0x3c00}}, []float32{1, 1}},
		{"uint32_val", Tensor{DType: DTUint32, Shape: []int64{1}, Uint32Val: []uint32{1 << 31}}, []float32{1 << 31}},
		{"uint64_val", Tensor{DType: DTUint64, Shape: []int64{1}, Uint64Val: []uint64{3}}, []float32{3}},
	}
	for _, c := range cases {
		got, err := c.t.Float32()
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}

	bad := []struct {
		name string
		t    Tensor
		is   error
	}{
		{"content too short", Tensor{DType: DTFloat, Shape: []int64{2}, Content: make([]byte, 4)}, ErrFormat},
		{"content too long", Tensor{DType: DTFloat, Shape: []int64{1}, Content: make([]byte, 5)}, ErrFormat},
		{"huge shape with content", Tensor{DType: DTFloat, Shape: []int64{1 << 40, 1 << 40}, Content: make([]byte, 4)}, ErrFormat},
		{"overflowing shape", Tensor{DType: DTFloat, Shape: []int64{1 << 62, 1 << 62}, FloatVal: []float32{1}}, ErrFormat},
	}
	for _, c := range bad {
		if _, err := c.t.Float32(); !errors.Is(err, c.is) {
			t.Errorf("%s: %v, want %v", c.name, err, c.is)
		}
	}
	var ue *UnsupportedError
	for name, tt := range map[string]Tensor{
		"string":         {DType: DTString, StringVal: [][]byte{[]byte("x")}},
		"string content": {DType: DTString, Content: []byte("x")},
		"complex":        {DType: DTComplex64, Content: make([]byte, 8)},
		"huge fill":      {DType: DTFloat, Shape: []int64{1 << 20, 1 << 20}, FloatVal: []float32{1}},
	} {
		if _, err := tt.Float32(); !errors.As(err, &ue) {
			t.Errorf("%s: %v, want an UnsupportedError", name, err)
		}
	}
	if _, err := (&Tensor{DType: DTFloat, Shape: []int64{-1}}).Float32(); err == nil {
		t.Error("unknown dimension accepted")
	}
	if _, err := (&Tensor{DType: DTFloat, FloatVal: []float32{1}}).Int64(); err == nil {
		t.Error("Int64 of a float tensor")
	}
}

func TestHalf(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := halfToFloat32(uint16(h))
		exp, frac := h>>10&0x1f, h&0x3ff
		var want float64
		switch {
		case exp == 0x1f && frac == 0:
			want = math.Inf(1)
		case exp == 0x1f:
			if !math.IsNaN(float64(f)) {
				t.Fatalf("%#04x: %v, want NaN", h, f)
			}
			continue
		case exp == 0:
			want = float64(frac) * math.Pow(2, -24)
		default:
			want = (1 + float64(frac)/1024) * math.Pow(2, float64(exp-15))
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if float64(f) != want || math.Signbit(float64(f)) != (h&0x8000 != 0) {
			t.Fatalf("%#04x: %v, want %v", h, f, want)
		}
	}
}

// topLevelEnds returns the offsets in b at which a top-level field ends.
func topLevelEnds(b []byte) map[int]bool {
	ends := map[int]bool{0: true}
	for off := 0; off < len(b); {
		_, _, n := protowire.ConsumeField(b[off:])
		off += n
		ends[off] = true
	}
	return ends
}

func TestTruncatedEverywhere(t *testing.T) {
	g := inception()
	b := Marshal(g)
	ends := topLevelEnds(b)
	for n := 0; n < len(b); n++ {
		got, err := Unmarshal(b[:n])
		if ends[n] {
			// Protocol buffers have no end marker: a cut between top-level fields
			// is a smaller graph, made of the fields before it.
			if err != nil || !bytes.Equal(Marshal(got), b[:n]) {
				t.Fatalf("prefix %d (a field boundary): %v", n, err)
			}
			continue
		}
		var fe *FormatError
		if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > int64(n) {
			t.Fatalf("prefix %d of %d: %v, want io.ErrUnexpectedEOF", n, len(b), err)
		}
		if _, err := Decode(bytes.NewReader(b[:n])); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Decode of prefix %d: %v", n, err)
		}
	}
}

func TestCorrupt(t *testing.T) {
	msg := func(num protowire.Number, body []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), body)
	}
	varint := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	node := func(fields ...[]byte) []byte { return msg(1, bytes.Join(fields, nil)) }
	attr := func(key string, value []byte) []byte {
		return msg(5, append(msg(1, []byte(key)), msg(2, value)...))
	}
	tensor := func(fields ...[]byte) []byte { return attr("value", msg(8, bytes.Join(fields, nil))) }
	cases := []struct {
		name   string
		b      []byte
		offset int64
		msg    string
	}{
		{"field number 0", []byte{0x02, 0x00}, 0, "field tag"},
		{"node as varint", varint(1, 5), 0, "GraphDef.node has wire type 0, want 2"},
		{"name as varint", node(msg(2, []byte("Relu")), varint(1, 7)), 8, "NodeDef.name has wire type 0"},
		{"reserved wire type", node([]byte{0x0e}), 2, "value of field 1"},
		{"end group", node([]byte{0x0c}), 2, "value of field 1"},
		{"bad varint", append(varint(3, 0)[:1], bytes.Repeat([]byte{0xff}, 10)...), 0, "value of field 3"},
		{"packed float length", node(attr("f", msg(1, msg(4, []byte{1, 2, 3, 4, 5})))), 11, "packed ListValue.f of 5 bytes"},
		{"float as varint", node(attr("f", varint(4, 1))), 9, "AttrValue.f has wire type 0, want 5"},
		{"dtype as bytes", node(tensor(msg(1, nil))), 15, "TensorProto.dtype has wire type 2"},
		{"bad packed int", node(tensor(msg(7, []byte{0x80}))), 17, "TensorProto.int_val"},
		{"shape dim as varint", node(tensor(msg(2, varint(2, 3)))), 17, "TensorShapeProto.dim has wire type 0"},
		{"attr key as varint", node(msg(5, varint(1, 3))), 4, "NodeDef.attr key"},
		{"versions as varint", varint(4, 1), 0, "GraphDef.versions"},
		{"library as varint", varint(2, 1), 0, "GraphDef.library"},
		{"version as bytes", msg(3, nil), 0, "GraphDef.version"},
	}
	for _, c := range cases {
		_, err := Unmarshal(c.b)
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want a FormatError", c.name, err)
			continue
		}
		if fe.Offset != c.offset || !strings.Contains(err.Error(), c.msg) || !strings.HasPrefix(err.Error(), "graphdef: invalid format at offset ") {
			t.Errorf("%s: %v, want offset %d and %q", c.name, err, c.offset, c.msg)
		}
	}
	// Unknown fields, groups among them, are skipped.
	group := protowire.AppendTag(nil, 9, protowire.StartGroupType)
	group = append(group, varint(1, 1)...)
	group = protowire.AppendTag(group, 9, protowire.EndGroupType)
	b := append(node(msg(1, []byte("a")), varint(77, 1), group), group...)
	g, err := Unmarshal(b)
	if err != nil || len(g.Nodes) != 1 || g.Nodes[0].Name != "a" {
		t.Errorf("unknown fields: %v", err)
	}
	// Unpacked repeated scalars are read like packed ones.
	l := append(varint(3, 4), varint(3, 5)...)
	l = append(l, protowire.AppendFixed32(protowire.AppendTag(nil, 4, protowire.Fixed32Type), math.Float32bits(1.5))...)
	g, err = Unmarshal(node(attr("x", msg(1, l))))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := g.Nodes[0].Attr("x").Ints(); err == nil || !strings.Contains(err.Error(), "list(mixed)") {
		t.Errorf("a list of ints and floats read as ints: %v %v", v, err)
	}
	if g.Nodes[0].Attrs["x"].list.i[1] != 5 || g.Nodes[0].Attrs["x"].list.f[0] != 1.5 {
		t.Errorf("unpacked: %+v", g.Nodes[0].Attrs["x"].list)
	}
}

func TestNestingLimit(t *testing.T) {
	a := IntAttr(1)
	for range maxDepth + 2 {
		a = FuncAttr(Func{Name: "f", Attrs: map[string]AttrValue{"x": a}})
	}
	b := Marshal(&Graph{Nodes: []*Node{{Name: "n", Attrs: map[string]AttrValue{"f": a}}}})
	var ue *UnsupportedError
	if _, err := Unmarshal(b); !errors.As(err, &ue) || !strings.Contains(err.Error(), "nested") {
		t.Errorf("%v", err)
	}
}

func TestDecodeConfig(t *testing.T) {
	c, err := DecodeConfig(bytes.NewReader(Marshal(inception())))
	if err != nil {
		t.Fatal(err)
	}
	if c.Nodes != 17 || c.Ops["Const"] != 5 || c.Ops["Conv2D"] != 1 || c.Versions.Producer != 9 || c.Version != 7 {
		t.Errorf("%+v", c)
	}
	if _, err := DecodeConfig(bytes.NewReader([]byte{0x0a, 0x05, 0x12})); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %v", err)
	}
}

func TestParseInput(t *testing.T) {
	for in, want := range map[string]struct {
		node    string
		out     int
		control bool
	}{
		"conv":         {"conv", 0, false},
		"split:2":      {"split", 2, false},
		"^init":        {"init", -1, true},
		"a/b:c":        {"a/b:c", 0, false},
		"mixed3a:0":    {"mixed3a", 0, false},
		"scope/x:1:10": {"scope/x:1", 10, false},
	} {
		n, o, c := ParseInput(in)
		if n != want.node || o != want.out || c != want.control {
			t.Errorf("ParseInput(%q) = %q %d %v", in, n, o, c)
		}
	}
}

func TestDataType(t *testing.T) {
	for dt, want := range map[DataType]string{DTFloat: "float", DTInt32 + 100: "int32_ref", DTUint64: "uint64", 99: "DataType(99)", -1: "DataType(-1)"} {
		if dt.String() != want {
			t.Errorf("%d: %q, want %q", int(dt), dt.String(), want)
		}
	}
	if DTFloat.Size() != 4 || DTHalf.Size() != 2 || DTString.Size() != 0 || (DTDouble+100).Size() != 8 {
		t.Error("Size")
	}
}
