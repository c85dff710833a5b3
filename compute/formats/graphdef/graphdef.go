// Package graphdef reads and writes TensorFlow GraphDef protocol buffers (.pb
// files such as inception5h's tensorflow_inception_graph.pb) without generated
// TensorFlow code: it decodes the wire format with
// google.golang.org/protobuf/encoding/protowire.
//
// The messages and field numbers are those of TensorFlow's
// tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,types,versions}.proto:
// https://github.com/tensorflow/tensorflow/tree/master/tensorflow/core/framework
// and the wire format is https://protobuf.dev/programming-guides/encoding/.
//
// Limits: the function library (GraphDef.library) is kept as raw bytes and not
// decoded; complex, resource and variant tensor values (scomplex_val,
// dcomplex_val, resource_handle_val, variant_val), NodeDef's experimental fields
// and any field this package does not know are skipped; strings are not checked
// to be UTF-8. Function attrs may nest at most 64 deep. Inputs are limited to
// 2 GiB, the protocol buffer limit. Protocol buffers have no end marker, so a
// file cut off exactly between two top-level fields reads as a smaller graph.
package graphdef

import (
	"strconv"
	"strings"
)

// Graph is a decoded GraphDef.
type Graph struct {
	// Nodes are the nodes in file order.
	Nodes []*Node
	// Versions is the graph's VersionDef.
	Versions Versions
	// Version is the deprecated GraphDef.version field (field 3), which old graphs
	// such as inception5h's may still carry.
	Version int32
	// Library is the encoded FunctionDefLibrary, not decoded, or nil.
	Library []byte

	index map[string]*Node
}

// Versions is a VersionDef: the versions of the code that wrote a graph.
type Versions struct {
	Producer     int32
	MinConsumer  int32
	BadConsumers []int32
}

// Node returns the node with the given name, or nil if there is none. For a
// graph from [Unmarshal] it uses an index; nodes added later are found too.
func (g *Graph) Node(name string) *Node {
	if n := g.index[name]; n != nil && n.Name == name {
		return n
	}
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Node is a NodeDef: one operation of the graph.
type Node struct {
	Name string
	Op   string
	// Inputs name the tensors the node reads, as "node" or "node:output", and
	// the nodes it must run after, as "^node"; see [ParseInput].
	Inputs []string
	Device string
	Attrs  map[string]AttrValue
}

// Attr returns the named attribute. A missing attribute is returned as an
// unset AttrValue, whose accessors fail with an error wrapping [ErrNotFound]; the
// errors of the returned value name the node and the attribute.
func (n *Node) Attr(name string) AttrValue {
	a := n.Attrs[name]
	a.where = "node " + strconv.Quote(n.Name) + " (" + n.Op + ") attr " + strconv.Quote(name)
	return a
}

// ParseInput splits a node input into the name of the node it reads from, the
// index of that node's output, and whether it is a control input ("^node").
func ParseInput(in string) (node string, output int, control bool) {
	if strings.HasPrefix(in, "^") {
		return in[1:], -1, true
	}
	if i := strings.LastIndexByte(in, ':'); i >= 0 {
		if k, err := strconv.Atoi(in[i+1:]); err == nil && k >= 0 {
			return in[:i], k, false
		}
	}
	return in, 0, false
}

// DataType is TensorFlow's DataType enum.
type DataType int32

// The data types of types.proto. Each has a reference type, 100 more, that
// appears only in op signatures.
const (
	DTInvalid    DataType = 0
	DTFloat      DataType = 1
	DTDouble     DataType = 2
	DTInt32      DataType = 3
	DTUint8      DataType = 4
	DTInt16      DataType = 5
	DTInt8       DataType = 6
	DTString     DataType = 7
	DTComplex64  DataType = 8
	DTInt64      DataType = 9
	DTBool       DataType = 10
	DTQint8      DataType = 11
	DTQuint8     DataType = 12
	DTQint32     DataType = 13
	DTBfloat16   DataType = 14
	DTQint16     DataType = 15
	DTQuint16    DataType = 16
	DTUint16     DataType = 17
	DTComplex128 DataType = 18
	DTHalf       DataType = 19
	DTResource   DataType = 20
	DTVariant    DataType = 21
	DTUint32     DataType = 22
	DTUint64     DataType = 23
)

var typeNames = [...]string{
	DTInvalid: "invalid", DTFloat: "float", DTDouble: "double", DTInt32: "int32", DTUint8: "uint8",
	DTInt16: "int16", DTInt8: "int8", DTString: "string", DTComplex64: "complex64", DTInt64: "int64",
	DTBool: "bool", DTQint8: "qint8", DTQuint8: "quint8", DTQint32: "qint32", DTBfloat16: "bfloat16",
	DTQint16: "qint16", DTQuint16: "quint16", DTUint16: "uint16", DTComplex128: "complex128",
	DTHalf: "half", DTResource: "resource", DTVariant: "variant", DTUint32: "uint32", DTUint64: "uint64",
}

// String returns TensorFlow's name for the type, such as "float" or "int32_ref".
func (t DataType) String() string {
	b := t.Base()
	if b >= 0 && int(b) < len(typeNames) {
		if t != b {
			return typeNames[b] + "_ref"
		}
		return typeNames[b]
	}
	return "DataType(" + strconv.Itoa(int(t)) + ")"
}

// Base returns the type without its reference: DTFloat for DTFloat+100.
func (t DataType) Base() DataType {
	if t > 100 {
		return t - 100
	}
	return t
}

// Size returns the bytes one element takes in tensor_content, or 0 for types
// without a fixed size (string, resource, variant) and unknown ones.
func (t DataType) Size() int {
	switch t.Base() {
	case DTInt8, DTUint8, DTQint8, DTQuint8, DTBool:
		return 1
	case DTInt16, DTUint16, DTQint16, DTQuint16, DTBfloat16, DTHalf:
		return 2
	case DTFloat, DTInt32, DTUint32, DTQint32:
		return 4
	case DTDouble, DTInt64, DTUint64, DTComplex64:
		return 8
	case DTComplex128:
		return 16
	}
	return 0
}
