package graphdef

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// This file checks the package against protobuf's own Go implementation, given
// the TensorFlow messages as a descriptor transcribed from the .proto files
// (tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,
// types,versions}.proto).

type fdp = descriptorpb.FieldDescriptorProto

func fieldOf(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, repeated bool, typeName string) *fdp {
	label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	if repeated {
		label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	}
	f := &fdp{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(), JsonName: proto.String(name)}
	if typeName != "" {
		f.TypeName = proto.String(".tensorflow." + typeName)
	}
	return f
}

func oneof(f *fdp) *fdp {
	f.OneofIndex = proto.Int32(0)
	return f
}

// mapEntry returns the nested message of a map<string, AttrValue>.
func mapEntry(name string) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{
		Name: proto.String(name),
		Field: []*fdp{
			fieldOf("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, false, ""),
			fieldOf("value", 2, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, false, "AttrValue"),
		},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	}
}

func tensorflowFile(t *testing.T) protoreflect.FileDescriptor {
	const (
		msg     = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
		str     = descriptorpb.FieldDescriptorProto_TYPE_STRING
		byts    = descriptorpb.FieldDescriptorProto_TYPE_BYTES
		i32     = descriptorpb.FieldDescriptorProto_TYPE_INT32
		i64     = descriptorpb.FieldDescriptorProto_TYPE_INT64
		u32     = descriptorpb.FieldDescriptorProto_TYPE_UINT32
		u64     = descriptorpb.FieldDescriptorProto_TYPE_UINT64
		flt     = descriptorpb.FieldDescriptorProto_TYPE_FLOAT
		dbl     = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
		boolean = descriptorpb.FieldDescriptorProto_TYPE_BOOL
		enum    = descriptorpb.FieldDescriptorProto_TYPE_ENUM
	)
	var values []*descriptorpb.EnumValueDescriptorProto
	for v := DTInvalid; v <= DTUint64; v++ {
		values = append(values, &descriptorpb.EnumValueDescriptorProto{Name: proto.String("DT_" + strings.ToUpper(v.String())), Number: proto.Int32(int32(v))})
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name:     proto.String("tensorflow_test.proto"),
		Package:  proto.String("tensorflow"),
		Syntax:   proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("DataType"), Value: values}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("GraphDef"), Field: []*fdp{
				fieldOf("node", 1, msg, true, "NodeDef"),
				fieldOf("versions", 4, msg, false, "VersionDef"),
				fieldOf("version", 3, i32, false, ""),
				fieldOf("library", 2, byts, false, ""), // a FunctionDefLibrary message, kept raw
			}},
			{Name: proto.String("VersionDef"), Field: []*fdp{
				fieldOf("producer", 1, i32, false, ""),
				fieldOf("min_consumer", 2, i32, false, ""),
				fieldOf("bad_consumers", 3, i32, true, ""),
			}},
			{Name: proto.String("NodeDef"), Field: []*fdp{
				fieldOf("name", 1, str, false, ""),
				fieldOf("op", 2, str, false, ""),
				fieldOf("input", 3, str, true, ""),
				fieldOf("device", 4, str, false, ""),
				fieldOf("attr", 5, msg, true, "NodeDef.AttrEntry"),
			}, NestedType: []*descriptorpb.DescriptorProto{mapEntry("AttrEntry")}},
			{Name: proto.String("AttrValue"), Field: []*fdp{
				oneof(fieldOf("s", 2, byts, false, "")),
				oneof(fieldOf("i", 3, i64, false, "")),
				oneof(fieldOf("f", 4, flt, false, "")),
				oneof(fieldOf("b", 5, boolean, false, "")),
				oneof(fieldOf("type", 6, enum, false, "DataType")),
				oneof(fieldOf("shape", 7, msg, false, "TensorShapeProto")),
				oneof(fieldOf("tensor", 8, msg, false, "TensorProto")),
				oneof(fieldOf("list", 1, msg, false, "AttrValue.ListValue")),
				oneof(fieldOf("func", 10, msg, false, "NameAttrList")),
				oneof(fieldOf("placeholder", 9, str, false, "")),
			}, OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("value")}},
				NestedType: []*descriptorpb.DescriptorProto{{Name: proto.String("ListValue"), Field: []*fdp{
					fieldOf("s", 2, byts, true, ""),
					fieldOf("i", 3, i64, true, ""),
					fieldOf("f", 4, flt, true, ""),
					fieldOf("b", 5, boolean, true, ""),
					fieldOf("type", 6, enum, true, "DataType"),
					fieldOf("shape", 7, msg, true, "TensorShapeProto"),
					fieldOf("tensor", 8, msg, true, "TensorProto"),
					fieldOf("func", 9, msg, true, "NameAttrList"),
				}}}},
			{Name: proto.String("NameAttrList"), Field: []*fdp{
				fieldOf("name", 1, str, false, ""),
				fieldOf("attr", 2, msg, true, "NameAttrList.AttrEntry"),
			}, NestedType: []*descriptorpb.DescriptorProto{mapEntry("AttrEntry")}},
			{Name: proto.String("TensorShapeProto"), Field: []*fdp{
				fieldOf("dim", 2, msg, true, "TensorShapeProto.Dim"),
				fieldOf("unknown_rank", 3, boolean, false, ""),
			}, NestedType: []*descriptorpb.DescriptorProto{{Name: proto.String("Dim"), Field: []*fdp{
				fieldOf("size", 1, i64, false, ""),
				fieldOf("name", 2, str, false, ""),
			}}}},
			{Name: proto.String("TensorProto"), Field: []*fdp{
				fieldOf("dtype", 1, enum, false, "DataType"),
				fieldOf("tensor_shape", 2, msg, false, "TensorShapeProto"),
				fieldOf("version_number", 3, i32, false, ""),
				fieldOf("tensor_content", 4, byts, false, ""),
				fieldOf("half_val", 13, i32, true, ""),
				fieldOf("float_val", 5, flt, true, ""),
				fieldOf("double_val", 6, dbl, true, ""),
				fieldOf("int_val", 7, i32, true, ""),
				fieldOf("string_val", 8, byts, true, ""),
				fieldOf("scomplex_val", 9, flt, true, ""),
				fieldOf("int64_val", 10, i64, true, ""),
				fieldOf("bool_val", 11, boolean, true, ""),
				fieldOf("dcomplex_val", 12, dbl, true, ""),
				fieldOf("uint32_val", 16, u32, true, ""),
				fieldOf("uint64_val", 17, u64, true, ""),
			}},
		},
	}
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// checkKnown fails if m or any message inside it holds fields its descriptor
// does not name.
func checkKnown(t *testing.T, m protoreflect.Message, path string) {
	if len(m.GetUnknown()) > 0 {
		t.Errorf("%s: unknown fields % x", path, m.GetUnknown())
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
					checkKnown(t, v.Message(), p+"["+k.String()+"]")
					return true
				})
			}
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				checkKnown(t, v.List().Get(i).Message(), p)
			}
		case fd.Message() != nil:
			checkKnown(t, v.Message(), p)
		}
		return true
	})
}

// TestProtobufReadsMarshal checks that protobuf's Go implementation reads
// Marshal's output as known fields and writes the same bytes back.
func TestProtobufReadsMarshal(t *testing.T) {
	graphDef := tensorflowFile(t).Messages().ByName("GraphDef")
	b := Marshal(inception())
	m := dynamicpb.NewMessage(graphDef)
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	checkKnown(t, m, "GraphDef")
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Errorf("protobuf writes %d bytes back, Marshal wrote %d", len(again), len(b))
	}
	// Spot checks through protobuf's reflection.
	nodes := m.Get(graphDef.Fields().ByName("node")).List()
	conv := nodes.Get(3).Message()
	nd := conv.Descriptor()
	if name := conv.Get(nd.Fields().ByName("name")).String(); name != "conv2d0_pre_relu/conv" {
		t.Errorf("node 3 is %q", name)
	}
	attrs := conv.Get(nd.Fields().ByName("attr")).Map()
	strides := attrs.Get(protoreflect.ValueOfString("strides").MapKey()).Message()
	list := strides.Get(strides.Descriptor().Fields().ByName("list")).Message()
	ints := list.Get(list.Descriptor().Fields().ByName("i")).List()
	if ints.Len() != 4 || ints.Get(1).Int() != 2 {
		t.Errorf("strides through protobuf: %v", ints)
	}
}

// inceptionText is part of a GraphDef in TensorFlow's text format, written by
// hand the way tf.train.write_graph(as_text=True) prints one.
const inceptionText = `
node {
  name: "input"
  op: "Placeholder"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { dim { size: -1 } dim { size: 224 } dim { size: 224 } dim { size: 3 } } } }
}
node {
  name: "conv2d0_w"
  op: "Const"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr {
    key: "value"
    value {
      tensor {
        dtype: DT_FLOAT
        tensor_shape { dim { size: 1 } dim { size: 1 } dim { size: 1 } dim { size: 2 } }
        tensor_content: "\000\000\200?\000\000\000\300"
      }
    }
  }
}
node {
  name: "conv2d0_b"
  op: "Const"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } } float_val: 0.25 } } }
}
node {
  name: "conv2d0_pre_relu/conv"
  op: "Conv2D"
  input: "input"
  input: "conv2d0_w"
  attr { key: "T" value { type: DT_FLOAT } }
  attr { key: "data_format" value { s: "NHWC" } }
  attr { key: "padding" value { s: "SAME" } }
  attr { key: "strides" value { list { i: 1 i: 2 i: 2 i: 1 } } }
  attr { key: "use_cudnn_on_gpu" value { b: true } }
}
node {
  name: "localresponsenorm0"
  op: "LRN"
  input: "conv2d0_pre_relu/conv"
  attr { key: "alpha" value { f: 0.0001 } }
  attr { key: "beta" value { f: 0.75 } }
  attr { key: "bias" value { f: 2 } }
  attr { key: "depth_radius" value { i: 5 } }
}
node {
  name: "avgpool0/reshape/shape"
  op: "Const"
  attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 2 } } int_val: -1 int_val: 1024 } } }
}
versions { producer: 8 }
`

// TestReadsProtobufOutput reads a graph that protobuf's Go implementation
// encoded from TensorFlow's text format.
func TestReadsProtobufOutput(t *testing.T) {
	graphDef := tensorflowFile(t).Messages().ByName("GraphDef")
	m := dynamicpb.NewMessage(graphDef)
	if err := prototext.Unmarshal([]byte(inceptionText), m); err != nil {
		t.Fatal(err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Marshal(g), b) {
		t.Error("Marshal does not write protobuf's bytes back")
	}
	if g.Versions.Producer != 8 || len(g.Nodes) != 6 {
		t.Fatalf("%d nodes, versions %+v", len(g.Nodes), g.Versions)
	}
	in := g.Node("input")
	if typ, err := in.Attr("dtype").Type(); err != nil || typ != DTFloat {
		t.Errorf("dtype %v %v", typ, err)
	}
	if s, err := in.Attr("shape").Shape(); err != nil || !reflect.DeepEqual(s.Dims, []int64{-1, 224, 224, 3}) {
		t.Errorf("shape %+v %v", s, err)
	}
	w, _ := g.Node("conv2d0_w").Attr("value").Tensor()
	if v, err := w.Float32(); err != nil || !reflect.DeepEqual(v, []float32{1, -2}) || !reflect.DeepEqual(w.Shape, []int64{1, 1, 1, 2}) {
		t.Errorf("conv2d0_w %v %v %v", w.Shape, v, err)
	}
	b0, _ := g.Node("conv2d0_b").Attr("value").Tensor()
	if v, err := b0.Float32(); err != nil || !reflect.DeepEqual(v, []float32{0.25, 0.25}) {
		t.Errorf("conv2d0_b %v %v", v, err)
	}
	conv := g.Node("conv2d0_pre_relu/conv")
	if s, err := conv.Attr("strides").Ints(); err != nil || !reflect.DeepEqual(s, []int64{1, 2, 2, 1}) {
		t.Errorf("strides %v %v", s, err)
	}
	if p, _ := conv.Attr("padding").String(); p != "SAME" {
		t.Errorf("padding %q", p)
	}
	lrn := g.Node("localresponsenorm0")
	alpha, _ := lrn.Attr("alpha").Float()
	bias, _ := lrn.Attr("bias").Float()
	r, _ := lrn.Attr("depth_radius").Int()
	if alpha != 0.0001 || bias != 2 || r != 5 {
		t.Errorf("LRN %v %v %v", alpha, bias, r)
	}
	shape, _ := g.Node("avgpool0/reshape/shape").Attr("value").Tensor()
	if v, err := shape.Int64(); err != nil || !reflect.DeepEqual(v, []int64{-1, 1024}) {
		t.Errorf("reshape shape %v %v", v, err)
	}
}
