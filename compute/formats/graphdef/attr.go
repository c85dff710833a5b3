package graphdef

import (
	"fmt"
	"slices"
)

// AttrKind tells which value an AttrValue holds (the oneof of attr_value.proto).
type AttrKind uint8

// The kinds of attribute value.
const (
	KindUnset       AttrKind = iota // no value: a missing attribute
	KindString                      // s: bytes, usually text such as "SAME"
	KindInt                         // i
	KindFloat                       // f
	KindBool                        // b
	KindType                        // type
	KindShape                       // shape
	KindTensor                      // tensor
	KindList                        // list: one of the list accessors applies
	KindPlaceholder                 // placeholder, only inside functions
	KindFunc                        // func
)

var kindNames = [...]string{"unset", "string", "int", "float", "bool", "type", "shape", "tensor", "list", "placeholder", "func"}

// String returns the attr type name, such as "int" or "list".
func (k AttrKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("AttrKind(%d)", k)
}

// Shape is a TensorShapeProto.
type Shape struct {
	// Dims are the sizes, outermost first; -1 is a size that is not known.
	Dims []int64
	// Names are the dimension names, or nil when no dimension has one.
	Names []string
	// UnknownRank is set when not even the number of dimensions is known.
	UnknownRank bool
}

// Func is a NameAttrList: a function name and the attrs it is instantiated with.
type Func struct {
	Name  string
	Attrs map[string]AttrValue
}

// listValue is AttrValue.ListValue.
type listValue struct {
	s      [][]byte
	i      []int64
	f      []float32
	b      []bool
	typ    []DataType
	shape  []Shape
	tensor []*Tensor
	fn     []Func
}

// kind returns the list's element type name, such as "int"; "" when the list
// is empty and "mixed" when it holds more than one type.
func (l *listValue) kind() string {
	kind := ""
	for _, k := range []struct {
		n    int
		name string
	}{
		{len(l.s), "string"}, {len(l.i), "int"}, {len(l.f), "float"}, {len(l.b), "bool"},
		{len(l.typ), "type"}, {len(l.shape), "shape"}, {len(l.tensor), "tensor"}, {len(l.fn), "func"},
	} {
		if k.n == 0 {
			continue
		}
		if kind != "" {
			return "mixed"
		}
		kind = k.name
	}
	return kind
}

// AttrValue is the value of one node attribute. Its accessors check the kind
// and return an error that names the node and attribute when it is another.
type AttrValue struct {
	kind   AttrKind
	s      []byte // string and placeholder
	i      int64
	f      float32
	b      bool
	typ    DataType
	shape  *Shape
	tensor *Tensor
	list   *listValue
	fn     *Func
	where  string // set by Node.Attr for messages
}

// Kind returns the kind of value held.
func (a AttrValue) Kind() AttrKind { return a.kind }

// TypeName returns the attr type as TensorFlow writes it, such as "int" or
// "list(int)".
func (a AttrValue) TypeName() string {
	if a.kind == KindList {
		if k := a.list.kind(); k != "" {
			return "list(" + k + ")"
		}
	}
	return a.kind.String()
}

func (a AttrValue) wrong(want string) error {
	where := "attr"
	if a.where != "" {
		where = a.where
	}
	if a.kind == KindUnset {
		return fmt.Errorf("%w: %s is not set (want %s)", ErrNotFound, where, want)
	}
	return fmt.Errorf("graphdef: %s is %s, not %s", where, a.TypeName(), want)
}

// Bytes returns the value of a string attribute as it is stored.
func (a AttrValue) Bytes() ([]byte, error) {
	if a.kind != KindString {
		return nil, a.wrong("string")
	}
	return a.s, nil
}

// String returns the value of a string attribute, such as "SAME" or "NHWC".
func (a AttrValue) String() (string, error) {
	if a.kind != KindString {
		return "", a.wrong("string")
	}
	return string(a.s), nil
}

// Int returns the value of an int attribute.
func (a AttrValue) Int() (int64, error) {
	if a.kind != KindInt {
		return 0, a.wrong("int")
	}
	return a.i, nil
}

// Float returns the value of a float attribute.
func (a AttrValue) Float() (float32, error) {
	if a.kind != KindFloat {
		return 0, a.wrong("float")
	}
	return a.f, nil
}

// Bool returns the value of a bool attribute.
func (a AttrValue) Bool() (bool, error) {
	if a.kind != KindBool {
		return false, a.wrong("bool")
	}
	return a.b, nil
}

// Type returns the value of a type attribute, such as the T of most ops.
func (a AttrValue) Type() (DataType, error) {
	if a.kind != KindType {
		return 0, a.wrong("type")
	}
	return a.typ, nil
}

// Shape returns the value of a shape attribute.
func (a AttrValue) Shape() (Shape, error) {
	if a.kind != KindShape {
		return Shape{}, a.wrong("shape")
	}
	return *a.shape, nil
}

// Tensor returns the value of a tensor attribute, such as the value of a Const.
func (a AttrValue) Tensor() (*Tensor, error) {
	if a.kind != KindTensor {
		return nil, a.wrong("tensor")
	}
	return a.tensor, nil
}

// Placeholder returns the name of the function attr a placeholder stands for.
func (a AttrValue) Placeholder() (string, error) {
	if a.kind != KindPlaceholder {
		return "", a.wrong("placeholder")
	}
	return string(a.s), nil
}

// Func returns the value of a func attribute.
func (a AttrValue) Func() (Func, error) {
	if a.kind != KindFunc {
		return Func{}, a.wrong("func")
	}
	return *a.fn, nil
}

// listOf returns the list if a is a list that is empty or holds elem.
func (a AttrValue) listOf(elem string) (*listValue, error) {
	if a.kind != KindList {
		return nil, a.wrong("list(" + elem + ")")
	}
	if k := a.list.kind(); k != "" && k != elem {
		return nil, a.wrong("list(" + elem + ")")
	}
	return a.list, nil
}

// Ints returns the value of a list(int) attribute, such as strides or ksize.
func (a AttrValue) Ints() ([]int64, error) {
	l, err := a.listOf("int")
	if err != nil {
		return nil, err
	}
	return l.i, nil
}

// Floats returns the value of a list(float) attribute.
func (a AttrValue) Floats() ([]float32, error) {
	l, err := a.listOf("float")
	if err != nil {
		return nil, err
	}
	return l.f, nil
}

// Strings returns the value of a list(string) attribute.
func (a AttrValue) Strings() ([]string, error) {
	l, err := a.listOf("string")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(l.s))
	for i, s := range l.s {
		out[i] = string(s)
	}
	return out, nil
}

// Bools returns the value of a list(bool) attribute.
func (a AttrValue) Bools() ([]bool, error) {
	l, err := a.listOf("bool")
	if err != nil {
		return nil, err
	}
	return l.b, nil
}

// Types returns the value of a list(type) attribute.
func (a AttrValue) Types() ([]DataType, error) {
	l, err := a.listOf("type")
	if err != nil {
		return nil, err
	}
	return l.typ, nil
}

// Shapes returns the value of a list(shape) attribute, such as _output_shapes.
func (a AttrValue) Shapes() ([]Shape, error) {
	l, err := a.listOf("shape")
	if err != nil {
		return nil, err
	}
	return l.shape, nil
}

// Tensors returns the value of a list(tensor) attribute.
func (a AttrValue) Tensors() ([]*Tensor, error) {
	l, err := a.listOf("tensor")
	if err != nil {
		return nil, err
	}
	return l.tensor, nil
}

// Funcs returns the value of a list(func) attribute.
func (a AttrValue) Funcs() ([]Func, error) {
	l, err := a.listOf("func")
	if err != nil {
		return nil, err
	}
	return l.fn, nil
}

// Builders, for writing graphs with [Marshal].

// StringAttr returns a string attribute.
func StringAttr(s string) AttrValue { return AttrValue{kind: KindString, s: []byte(s)} }

// IntAttr returns an int attribute.
func IntAttr(i int64) AttrValue { return AttrValue{kind: KindInt, i: i} }

// FloatAttr returns a float attribute.
func FloatAttr(f float32) AttrValue { return AttrValue{kind: KindFloat, f: f} }

// BoolAttr returns a bool attribute.
func BoolAttr(b bool) AttrValue { return AttrValue{kind: KindBool, b: b} }

// TypeAttr returns a type attribute.
func TypeAttr(t DataType) AttrValue { return AttrValue{kind: KindType, typ: t} }

// ShapeAttr returns a shape attribute.
func ShapeAttr(s Shape) AttrValue { return AttrValue{kind: KindShape, shape: &s} }

// TensorAttr returns a tensor attribute.
func TensorAttr(t *Tensor) AttrValue { return AttrValue{kind: KindTensor, tensor: t} }

// PlaceholderAttr returns a placeholder attribute.
func PlaceholderAttr(name string) AttrValue {
	return AttrValue{kind: KindPlaceholder, s: []byte(name)}
}

// FuncAttr returns a func attribute.
func FuncAttr(f Func) AttrValue { return AttrValue{kind: KindFunc, fn: &f} }

// IntsAttr returns a list(int) attribute.
func IntsAttr(v ...int64) AttrValue {
	return AttrValue{kind: KindList, list: &listValue{i: slices.Clip(v)}}
}

// FloatsAttr returns a list(float) attribute.
func FloatsAttr(v ...float32) AttrValue {
	return AttrValue{kind: KindList, list: &listValue{f: slices.Clip(v)}}
}

// StringsAttr returns a list(string) attribute.
func StringsAttr(v ...string) AttrValue {
	l := &listValue{}
	for _, s := range v {
		l.s = append(l.s, []byte(s))
	}
	return AttrValue{kind: KindList, list: l}
}

// BoolsAttr returns a list(bool) attribute.
func BoolsAttr(v ...bool) AttrValue {
	return AttrValue{kind: KindList, list: &listValue{b: slices.Clip(v)}}
}

// TypesAttr returns a list(type) attribute.
func TypesAttr(v ...DataType) AttrValue {
	return AttrValue{kind: KindList, list: &listValue{typ: slices.Clip(v)}}
}

// ShapesAttr returns a list(shape) attribute.
func ShapesAttr(v ...Shape) AttrValue {
	return AttrValue{kind: KindList, list: &listValue{shape: slices.Clip(v)}}
}

// TensorsAttr returns a list(tensor) attribute.
func TensorsAttr(v ...*Tensor) AttrValue {
	return AttrValue{kind: KindList, list: &listValue{tensor: slices.Clip(v)}}
}

// FuncsAttr returns a list(func) attribute.
func FuncsAttr(v ...Func) AttrValue {
	return AttrValue{kind: KindList, list: &listValue{fn: slices.Clip(v)}}
}
