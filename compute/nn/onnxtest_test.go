package nn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file checks the ops' forward passes against the reference outputs of ONNX's backend node
// tests, as Debian's libonnx-testdata package installs them: one directory per test, holding
// model.onnx (a graph of one node) and test_data_set_0/input_N.pb, output_0.pb (serialized
// TensorProtos). The protobufs are read with protowire alone, field numbers from onnx.proto.

// onnxNodeTestDirs are where the node tests may be: $CONVAS_ONNX_NODE_TESTS, then Debian's
// libonnx-testdata.
func onnxNodeTestDirs() []string {
	dirs := []string{"/usr/share/libonnx-testdata/data/node"}
	if d := os.Getenv("CONVAS_ONNX_NODE_TESTS"); d != "" {
		dirs = append([]string{d}, dirs...)
	}
	return dirs
}

// onnxTensor is a decoded TensorProto: its shape and its values as float64s.
type onnxTensor struct {
	name   string
	dims   []int
	dtype  int64
	values []float64
}

// onnxAttr is a decoded AttributeProto, with the fields the tested ops use.
type onnxAttr struct {
	f      float64
	i      int64
	s      string
	ints   []int64
	floats []float64
}

// onnxNode is a decoded NodeProto.
type onnxNode struct {
	opType          string
	inputs, outputs []string
	attrs           map[string]onnxAttr
}

// int returns the integer attribute name, or def when the node lacks it.
func (n *onnxNode) int(name string, def int64) int64 {
	if a, ok := n.attrs[name]; ok {
		return a.i
	}
	return def
}

// float returns the float attribute name, or def when the node lacks it.
func (n *onnxNode) float(name string, def float64) float64 {
	if a, ok := n.attrs[name]; ok {
		return a.f
	}
	return def
}

// str returns the string attribute name, or def when the node lacks it.
func (n *onnxNode) str(name, def string) string {
	if a, ok := n.attrs[name]; ok {
		return a.s
	}
	return def
}

// ints returns the integer list attribute name, or nil when the node lacks it.
func (n *onnxNode) ints(name string) []int64 { return n.attrs[name].ints }

// onnxCase is one node test: the graph's single node, the names of the graph's inputs, and the
// tensors of test_data_set_0 (inputs in the graph's order).
type onnxCase struct {
	node       onnxNode
	graphIn    []string
	inputs     []onnxTensor
	wantOutput onnxTensor
}

// input returns the test tensor that feeds the node's input i, or false when the node has
// no such input or it is left empty.
func (c *onnxCase) input(i int) (onnxTensor, bool) {
	if i >= len(c.node.inputs) || c.node.inputs[i] == "" {
		return onnxTensor{}, false
	}
	for j, name := range c.graphIn {
		if name == c.node.inputs[i] && j < len(c.inputs) {
			return c.inputs[j], true
		}
	}
	return onnxTensor{}, false
}

// errUnsupportedType marks a tensor whose element type the reader does not decode.
var errUnsupportedType = errors.New("unsupported tensor element type")

// forEachField calls fn for every field of the protobuf message b, with the field's number,
// wire type and raw value: the bytes of a length-delimited field, the bits of a fixed one,
// the value of a varint.
func forEachField(b []byte, fn func(num protowire.Number, typ protowire.Type, bytes []byte, scalar uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var bytes []byte
		var scalar uint64
		switch typ {
		case protowire.VarintType:
			scalar, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			scalar = uint64(v)
		case protowire.Fixed64Type:
			scalar, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			bytes, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, bytes, scalar); err != nil {
			return err
		}
	}
	return nil
}

// repeatedScalars appends the values of a repeated scalar field, packed (BytesType) or not,
// to dst; width is 0 for varints, 4 or 8 for fixed-width values.
func repeatedScalars(dst []uint64, typ protowire.Type, bytes []byte, scalar uint64, width int) ([]uint64, error) {
	if typ != protowire.BytesType {
		return append(dst, scalar), nil
	}
	for len(bytes) > 0 {
		var v uint64
		n := width
		switch width {
		case 0:
			v, n = protowire.ConsumeVarint(bytes)
		case 4:
			var u uint32
			u, n = protowire.ConsumeFixed32(bytes)
			v = uint64(u)
		case 8:
			v, n = protowire.ConsumeFixed64(bytes)
		}
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		dst = append(dst, v)
		bytes = bytes[n:]
	}
	return dst, nil
}

// ONNX TensorProto element types that the reader decodes.
const (
	onnxFloat  = 1
	onnxInt64  = 7
	onnxDouble = 11
)

// parseTensor decodes a TensorProto: dims = 1, data_type = 2, float_data = 4, int64_data = 7,
// name = 8, raw_data = 9 (little-endian), double_data = 10.
func parseTensor(b []byte) (onnxTensor, error) {
	var t onnxTensor
	var dims, floats, int64s, doubles []uint64
	var raw []byte
	err := forEachField(b, func(num protowire.Number, typ protowire.Type, bytes []byte, scalar uint64) error {
		var err error
		switch num {
		case 1:
			dims, err = repeatedScalars(dims, typ, bytes, scalar, 0)
		case 2:
			t.dtype = int64(scalar)
		case 4:
			floats, err = repeatedScalars(floats, typ, bytes, scalar, 4)
		case 7:
			int64s, err = repeatedScalars(int64s, typ, bytes, scalar, 0)
		case 8:
			t.name = string(bytes)
		case 9:
			raw = bytes
		case 10:
			doubles, err = repeatedScalars(doubles, typ, bytes, scalar, 8)
		}
		return err
	})
	if err != nil {
		return t, err
	}
	size := 1
	for _, d := range dims {
		t.dims = append(t.dims, int(d))
		size *= int(d)
	}
	switch t.dtype {
	case onnxFloat:
		for _, v := range floats {
			t.values = append(t.values, float64(math.Float32frombits(uint32(v))))
		}
		for i := 0; i+4 <= len(raw); i += 4 {
			t.values = append(t.values, float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))))
		}
	case onnxDouble:
		for _, v := range doubles {
			t.values = append(t.values, math.Float64frombits(v))
		}
		for i := 0; i+8 <= len(raw); i += 8 {
			t.values = append(t.values, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
		}
	case onnxInt64:
		for _, v := range int64s {
			t.values = append(t.values, float64(int64(v)))
		}
		for i := 0; i+8 <= len(raw); i += 8 {
			t.values = append(t.values, float64(int64(binary.LittleEndian.Uint64(raw[i:]))))
		}
	default:
		return t, fmt.Errorf("tensor %q: %w %d", t.name, errUnsupportedType, t.dtype)
	}
	if len(t.values) != size {
		return t, fmt.Errorf("tensor %q: %d values for dims %v", t.name, len(t.values), t.dims)
	}
	return t, nil
}

// parseAttr decodes an AttributeProto: name = 1, f = 2, i = 3, s = 4, floats = 7, ints = 8.
func parseAttr(b []byte) (string, onnxAttr, error) {
	var name string
	var a onnxAttr
	var ints, floats []uint64
	err := forEachField(b, func(num protowire.Number, typ protowire.Type, bytes []byte, scalar uint64) error {
		var err error
		switch num {
		case 1:
			name = string(bytes)
		case 2:
			a.f = float64(math.Float32frombits(uint32(scalar)))
		case 3:
			a.i = int64(scalar)
		case 4:
			a.s = string(bytes)
		case 7:
			floats, err = repeatedScalars(floats, typ, bytes, scalar, 4)
		case 8:
			ints, err = repeatedScalars(ints, typ, bytes, scalar, 0)
		}
		return err
	})
	for _, v := range ints {
		a.ints = append(a.ints, int64(v))
	}
	for _, v := range floats {
		a.floats = append(a.floats, float64(math.Float32frombits(uint32(v))))
	}
	return name, a, err
}

// parseNode decodes a NodeProto: input = 1, output = 2, op_type = 4, attribute = 5.
func parseNode(b []byte) (onnxNode, error) {
	n := onnxNode{attrs: map[string]onnxAttr{}}
	err := forEachField(b, func(num protowire.Number, typ protowire.Type, bytes []byte, scalar uint64) error {
		switch num {
		case 1:
			n.inputs = append(n.inputs, string(bytes))
		case 2:
			n.outputs = append(n.outputs, string(bytes))
		case 4:
			n.opType = string(bytes)
		case 5:
			name, a, err := parseAttr(bytes)
			if err != nil {
				return fmt.Errorf("attribute: %w", err)
			}
			n.attrs[name] = a
		}
		return nil
	})
	return n, err
}

// parseModel decodes the single node and the input names of a ModelProto's graph: ModelProto
// graph = 7; GraphProto node = 1, input = 11 (ValueInfoProto name = 1).
func parseModel(b []byte) (onnxNode, []string, error) {
	var nodes []onnxNode
	var inputs []string
	err := forEachField(b, func(num protowire.Number, typ protowire.Type, graph []byte, scalar uint64) error {
		if num != 7 {
			return nil
		}
		return forEachField(graph, func(num protowire.Number, typ protowire.Type, bytes []byte, scalar uint64) error {
			switch num {
			case 1:
				n, err := parseNode(bytes)
				if err != nil {
					return fmt.Errorf("node: %w", err)
				}
				nodes = append(nodes, n)
			case 11:
				return forEachField(bytes, func(num protowire.Number, typ protowire.Type, bytes []byte, scalar uint64) error {
					if num == 1 {
						inputs = append(inputs, string(bytes))
					}
					return nil
				})
			}
			return nil
		})
	})
	if err != nil {
		return onnxNode{}, nil, err
	}
	if len(nodes) != 1 {
		return onnxNode{}, nil, fmt.Errorf("graph has %d nodes, want 1", len(nodes))
	}
	return nodes[0], inputs, nil
}

// loadONNXCase reads the node test in dir.
func loadONNXCase(dir string) (*onnxCase, error) {
	b, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, err
	}
	var c onnxCase
	if c.node, c.graphIn, err = parseModel(b); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "model.onnx"), err)
	}
	read := func(file string) (onnxTensor, error) {
		b, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", file))
		if err != nil {
			return onnxTensor{}, err
		}
		t, err := parseTensor(b)
		if err != nil {
			return t, fmt.Errorf("%s: %w", file, err)
		}
		return t, nil
	}
	for i := range c.graphIn {
		t, err := read(fmt.Sprintf("input_%d.pb", i))
		if err != nil {
			return nil, err
		}
		c.inputs = append(c.inputs, t)
	}
	if c.wantOutput, err = read("output_0.pb"); err != nil {
		return nil, err
	}
	return &c, nil
}

// onnxBuilder builds the Convas equivalent of a test's node on the input x of dtype dt; it
// returns a reason instead when the node's semantics are not those of the op.
type onnxBuilder func(c *onnxCase, x []*gorgonia.Node) (y *gorgonia.Node, skip string, err error)

// onnxBuilders maps the tested ONNX op types to their builders.
var onnxBuilders = map[string]onnxBuilder{
	"LRN":               buildONNXLRN,
	"AveragePool":       buildONNXPool,
	"MaxPool":           buildONNXPool,
	"GlobalAveragePool": buildONNXGlobalAvgPool,
	"Resize":            buildONNXResize,
	"Concat":            buildONNXConcat,
}

func buildONNXLRN(c *onnxCase, x []*gorgonia.Node) (*gorgonia.Node, string, error) {
	n := &c.node
	p, err := LRNFromONNX(int(n.int("size", 0)), n.float("alpha", 1e-4), n.float("beta", 0.75), n.float("bias", 1))
	if err != nil {
		return nil, "", err
	}
	y, err := LRN(x[0], p.DepthRadius, p.Bias, p.Alpha, p.Beta)
	return y, "", err
}

// onnxSame is ONNX's auto_pad SAME_UPPER (the extra cell after, as TensorFlow's SAME) or
// SAME_LOWER (before) along one axis.
func onnxSame(in, k, s int, upper bool) (before, after int) {
	out := (in + s - 1) / s
	total := max((out-1)*s+k-in, 0)
	if upper {
		return total / 2, total - total/2
	}
	return total - total/2, total / 2
}

func buildONNXPool(c *onnxCase, x []*gorgonia.Node) (*gorgonia.Node, string, error) {
	n := &c.node
	if x[0].Dims() != 4 {
		return nil, "not 2-D", nil
	}
	if n.int("count_include_pad", 0) != 0 {
		return nil, "count_include_pad = 1 (TensorFlow leaves padding out of the count)", nil
	}
	for _, d := range n.ints("dilations") {
		if d != 1 {
			return nil, "dilated pooling", nil
		}
	}
	k := n.ints("kernel_shape")
	if len(k) != 2 {
		return nil, "", fmt.Errorf("kernel_shape %v", k)
	}
	kh, kw := int(k[0]), int(k[1])
	sh, sw := 1, 1
	if s := n.ints("strides"); len(s) == 2 {
		sh, sw = int(s[0]), int(s[1])
	}
	h, w := x[0].Shape()[2], x[0].Shape()[3]
	var pad Padding
	switch ap := n.str("auto_pad", "NOTSET"); ap {
	case "NOTSET":
		if p := n.ints("pads"); len(p) == 4 { // [top, left, bottom, right]
			pad = Padding{Top: int(p[0]), Left: int(p[1]), Bottom: int(p[2]), Right: int(p[3])}
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		pad.Top, pad.Bottom = onnxSame(h, kh, sh, ap == "SAME_UPPER")
		pad.Left, pad.Right = onnxSame(w, kw, sw, ap == "SAME_UPPER")
	default:
		return nil, "", fmt.Errorf("auto_pad %q", ap)
	}
	if n.int("ceil_mode", 0) != 0 {
		// Ceiling mode adds the windows that a floor would drop: padding after each axis
		// that the extra windows overhang, which neither op counts.
		ceil := func(in, before, after, k, s int) int {
			span := in + before + after - k
			out := (span+s-1)/s + 1
			return (out-1)*s + k - (in + before + after)
		}
		pad.Bottom += ceil(h, pad.Top, pad.Bottom, kh, sh)
		pad.Right += ceil(w, pad.Left, pad.Right, kw, sw)
	}
	var y *gorgonia.Node
	var err error
	if n.opType == "MaxPool" {
		y, err = MaxPool2D(x[0], kh, kw, sh, sw, pad)
	} else {
		y, err = AvgPool2D(x[0], kh, kw, sh, sw, pad)
	}
	return y, "", err
}

func buildONNXGlobalAvgPool(c *onnxCase, x []*gorgonia.Node) (*gorgonia.Node, string, error) {
	y, err := GlobalAvgPool2D(x[0]) // (N, C); ONNX keeps (N, C, 1, 1): the values compare flat
	return y, "", err
}

func buildONNXResize(c *onnxCase, x []*gorgonia.Node) (*gorgonia.Node, string, error) {
	n := &c.node
	if m := n.str("mode", "nearest"); m != "linear" {
		return nil, "mode " + m, nil
	}
	if x[0].Dims() != 4 {
		return nil, "not 4-D", nil
	}
	if n.int("antialias", 0) != 0 {
		return nil, "antialiased", nil
	}
	in := x[0].Shape()
	out := c.wantOutput.dims
	if len(out) != 4 || out[0] != in[0] || out[1] != in[1] {
		return nil, "resizes the batch or channel axes", nil
	}
	switch ctm := n.str("coordinate_transformation_mode", "half_pixel"); ctm {
	case "half_pixel":
	case "pytorch_half_pixel":
		// Samples 0 for an output of one cell; otherwise half_pixel.
		if out[2] == 1 || out[3] == 1 {
			return nil, "pytorch_half_pixel with an output axis of one cell", nil
		}
	default:
		return nil, "coordinate_transformation_mode " + ctm, nil
	}
	if scales, ok := c.input(2); ok && len(scales.values) == 4 {
		// Given scales, ONNX maps coordinates with the scale itself, and sizes the output
		// floor(in·scale): the same as TensorFlow only when in·scale is a whole number.
		for a := 2; a < 4; a++ {
			if float64(in[a])*scales.values[a] != float64(out[a]) {
				return nil, fmt.Sprintf("scale %g on an axis of %d is not out/in", scales.values[a], in[a]), nil
			}
		}
	}
	y, err := ResizeBilinear(x[0], out[2], out[3])
	return y, "", err
}

func buildONNXConcat(c *onnxCase, x []*gorgonia.Node) (*gorgonia.Node, string, error) {
	axis := int(c.node.int("axis", 0))
	if axis < 0 {
		axis += x[0].Dims()
	}
	if axis == 1 && x[0].Dims() >= 2 {
		y, err := ConcatChannels(x...)
		return y, "", err
	}
	y, err := gorgonia.Concat(axis, x...) // stock Concat along other axes
	return y, "", err
}

// TestONNXNodeTests runs ONNX's backend node tests for LRN, average, max and global average
// pooling, bilinear resizing and concatenation, in float32 and float64, and compares each
// output with the reference to 1e-5 relative.
func TestONNXNodeTests(t *testing.T) {
	var root string
	for _, d := range onnxNodeTestDirs() {
		if _, err := os.Stat(filepath.Join(d, "test_lrn", "model.onnx")); err == nil {
			root = d
			break
		}
	}
	if root == "" {
		t.Skipf("ONNX node tests not found in %v: install Debian's libonnx-testdata (or set CONVAS_ONNX_NODE_TESTS)", onnxNodeTestDirs())
	}
	var dirs []string
	for _, pattern := range []string{
		"test_lrn*", "test_averagepool_2d_*", "test_maxpool_2d_*", "test_globalaveragepool*",
		"test_resize_*linear*", "test_concat_*",
	} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, m...)
	}
	if len(dirs) == 0 {
		t.Fatalf("no matching node tests in %s", root)
	}
	ran := 0
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c, err := loadONNXCase(dir)
			if errors.Is(err, errUnsupportedType) {
				t.Skipf("%v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			build, ok := onnxBuilders[c.node.opType]
			if !ok {
				t.Fatalf("no builder for op %s", c.node.opType)
			}
			for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
				g := gorgonia.NewGraph()
				var xs []*gorgonia.Node
				// Concat's inputs all feed the node; the other ops take their data first.
				nData := 1
				if c.node.opType == "Concat" {
					nData = len(c.node.inputs)
				}
				for i := 0; i < nData; i++ {
					in, ok := c.input(i)
					if !ok {
						t.Fatalf("input %d of %v missing", i, c.node.inputs)
					}
					xs = append(xs, leaf(g, dt, fmt.Sprintf("x%d", i), in.values, in.dims...))
				}
				y, skip, err := build(c, xs)
				if skip != "" {
					t.Skip(skip)
				}
				if err != nil {
					t.Fatalf("%v: %v", dt, err)
				}
				runGraph(t, g)
				want := c.wantOutput
				if y.Shape().TotalSize() != len(want.values) {
					t.Fatalf("%v: output shape %v, want %v", dt, y.Shape(), want.dims)
				}
				got := valuesOf(t, y)
				bad := 0
				for i := range want.values {
					if !closeTo(got[i], want.values[i], 1e-5) {
						if bad < 5 {
							t.Errorf("%v: y[%d] = %.8g, want %.8g", dt, i, got[i], want.values[i])
						}
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("%v: %d of %d outputs differ", dt, bad, len(got))
				}
			}
			ran++
			if !t.Failed() {
				t.Logf("%s %s: ok", c.node.opType, strings.TrimPrefix(filepath.Base(dir), "test_"))
			}
		})
	}
	t.Logf("%d of %d node tests ran", ran, len(dirs))
}
