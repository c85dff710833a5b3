package mat

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// streamOnly hides every method but Read, so Decode cannot seek.
type streamOnly struct{ r io.Reader }

func (s streamOnly) Read(p []byte) (int, error) { return s.r.Read(p) }

func reader(b []byte, seekable bool) io.Reader {
	if seekable {
		return bytes.NewReader(b)
	}
	return streamOnly{bytes.NewReader(b)}
}

// mixed returns variables of every kind the package reads.
func mixed() []Array {
	inner := record("", "a", single("", []int{1, 2}, 1.5, -2.25), "b", str("", "hi"))
	sa := &Struct{
		ArrayHeader: ArrayHeader{Name: "sa", Dims: []int{1, 2}, Class: ClassStruct},
		Fields:      []string{"x", "label"},
		Elems: [][]Array{
			{double("", []int{1, 1}, 1), str("", "one")},
			{double("", []int{1, 1}, 2), str("", "two")},
		},
	}
	glob := double("g", []int{1, 1}, 42)
	glob.Global = true
	return []Array{
		cell("c", []int{1, 3}, inner, empty(), double("", []int{2, 2}, 1, 2, 3, 4)),
		str("s", "conv1_1"),
		str("u", "héllo wörld"),
		&Char{ArrayHeader: ArrayHeader{Name: "rows", Dims: []int{2, 3}, Class: ClassChar}, Value: "abc\ndef"},
		single("w", []int{2, 3}, 1, 2, 3, 4, 5, float32(math.Pi)),
		double("d", []int{1, 3}, 1.5, -2, 1e300),
		double("small", []int{1, 4}, 0, 1, 2, 255),
		double("one", []int{1, 1}, 3),
		&Numeric{ArrayHeader: ArrayHeader{Name: "i8", Dims: []int{1, 2}, Class: ClassInt8}, Data: []int8{-128, 127}},
		&Numeric{ArrayHeader: ArrayHeader{Name: "u8", Dims: []int{1, 3}, Class: ClassUint8}, Data: []uint8{0, 1, 255}},
		&Numeric{ArrayHeader: ArrayHeader{Name: "i16", Dims: []int{1, 1}, Class: ClassInt16}, Data: []int16{-300}},
		&Numeric{ArrayHeader: ArrayHeader{Name: "u16", Dims: []int{1, 2}, Class: ClassUint16}, Data: []uint16{1, 65535}},
		&Numeric{ArrayHeader: ArrayHeader{Name: "i32", Dims: []int{1, 2}, Class: ClassInt32}, Data: []int32{-1, 1 << 30}},
		&Numeric{ArrayHeader: ArrayHeader{Name: "u32", Dims: []int{1, 1}, Class: ClassUint32}, Data: []uint32{1 << 31}},
		&Numeric{ArrayHeader: ArrayHeader{Name: "i64", Dims: []int{1, 1}, Class: ClassInt64}, Data: []int64{-1 << 62}},
		&Numeric{ArrayHeader: ArrayHeader{Name: "u64", Dims: []int{1, 1}, Class: ClassUint64}, Data: []uint64{1<<64 - 1}},
		logical("t", true, false, true),
		&Numeric{ArrayHeader: ArrayHeader{Name: "e", Dims: []int{0, 3}, Class: ClassSingle}, Data: []float32{}},
		str("nothing", ""),
		sa,
		glob,
	}
}

// options are the encodings the round-trip tests try.
func options() map[string]wopts {
	be := binary.BigEndian
	return map[string]wopts{
		"le":                  le,
		"be":                  {bo: be},
		"le small":            {bo: binary.LittleEndian, small: true},
		"be small narrow":     {bo: be, small: true, narrow: true},
		"le compressed":       {bo: binary.LittleEndian, compress: true},
		"be compressed utf8":  {bo: be, compress: true, utf8: true, small: true},
		"le matlab -v7":       {bo: binary.LittleEndian, compress: true, small: true, narrow: true},
		"le utf8 uncompressd": {bo: binary.LittleEndian, utf8: true},
	}
}

func TestRoundTrip(t *testing.T) {
	want := mixed()
	for name, o := range options() {
		t.Run(name, func(t *testing.T) {
			data := o.file(want...)
			for _, seekable := range []bool{true, false} {
				f, err := Decode(reader(data, seekable))
				if err != nil {
					t.Fatalf("seekable=%v: %v", seekable, err)
				}
				if len(f.Vars) != len(want) {
					t.Fatalf("seekable=%v: %d variables, want %d", seekable, len(f.Vars), len(want))
				}
				for i := range want {
					if !reflect.DeepEqual(f.Vars[i], want[i]) {
						t.Errorf("seekable=%v: variable %d:\n got %s\nwant %s", seekable, i, dump(f.Vars[i]), dump(want[i]))
					}
				}
				if f.Header.ByteOrder != o.bo || f.Header.Version != 0x0100 || !strings.HasPrefix(f.Header.Text, "MATLAB 5.0 MAT-file") {
					t.Errorf("header %+v", f.Header)
				}
			}
		})
	}
}

func dump(a Array) string {
	switch v := a.(type) {
	case *Cell:
		s := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			s[i] = dump(e)
		}
		return fmt.Sprintf("%+v{%s}", v.ArrayHeader, strings.Join(s, ", "))
	case *Struct:
		var s []string
		for _, el := range v.Elems {
			for j, e := range el {
				s = append(s, v.Fields[j]+"="+dump(e))
			}
		}
		return fmt.Sprintf("%+v{%s}", v.ArrayHeader, strings.Join(s, ", "))
	}
	return fmt.Sprintf("%+v", a)
}

// TestHandMade reads files written byte by byte from the specification, so that
// the reader is not only checked against the test writer.
func TestHandMade(t *testing.T) {
	header := func(endian string, version []byte) []byte {
		h := []byte("MATLAB 5.0 MAT-file, written by hand")
		h = append(h, bytes.Repeat([]byte{' '}, 116-len(h))...)
		h = append(h, make([]byte, 8)...)
		h = append(h, version...)
		return append(h, endian...)
	}
	// x = 7, a 1x1 double stored as a small miUINT8 element, name in a small element.
	leFile := append(header("IM", []byte{0x00, 0x01}),
		0x0e, 0, 0, 0, 48, 0, 0, 0, // miMATRIX, 48 bytes
		6, 0, 0, 0, 8, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, // miUINT32 flags: class double
		5, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, // miINT32 dims 1x1
		1, 0, 1, 0, 'x', 0, 0, 0, // small miINT8 name "x"
		2, 0, 1, 0, 7, 0, 0, 0, // small miUINT8 data 7
	)
	beFile := append(header("MI", []byte{0x01, 0x00}),
		0, 0, 0, 0x0e, 0, 0, 0, 56, // miMATRIX, 56 bytes
		0, 0, 0, 6, 0, 0, 0, 8, 0, 0, 0, 6, 0, 0, 0, 0, // flags: double
		0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 1, // dims 1x1
		0, 1, 0, 1, 'x', 0, 0, 0, // small name
		0, 0, 0, 9, 0, 0, 0, 8, 0x40, 0x1c, 0, 0, 0, 0, 0, 0, // miDOUBLE 7.0
	)
	for name, data := range map[string][]byte{"little-endian": leFile, "big-endian": beFile} {
		f, err := Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := double("x", []int{1, 1}, 7)
		if len(f.Vars) != 1 || !reflect.DeepEqual(f.Vars[0], want) {
			t.Errorf("%s: got %s, want %s", name, dump(f.Vars[0]), dump(want))
		}
		h, err := DecodeConfig(bytes.NewReader(data))
		if err != nil || h.Text != "MATLAB 5.0 MAT-file, written by hand" || h.Version != 0x0100 {
			t.Errorf("%s: DecodeConfig = %+v, %v", name, h, err)
		}
	}
}

func TestWriterUsesSmallElements(t *testing.T) {
	// Guards the fixtures: the small form must really be in the file.
	data := wopts{bo: binary.LittleEndian, small: true}.file(str("n", "ab"))
	if !bytes.Contains(data, []byte{1, 0, 1, 0, 'n', 0, 0, 0}) || !bytes.Contains(data, []byte{4, 0, 4, 0, 'a', 0, 'b', 0}) {
		t.Fatalf("no small elements in % x", data[128:])
	}
}

// vggLayers returns a MatConvNet simplenn layers cell: a convolution and a ReLU.
func vggLayers() *Cell {
	f := make([]float32, 3*3*3*2)
	for i := range f {
		f[i] = float32(i)
	}
	conv := record("",
		"name", str("", "conv1_1"),
		"type", str("", "conv"),
		"weights", row(single("", []int{3, 3, 3, 2}, f...), single("", []int{1, 2}, 0.5, -0.5)),
		"size", double("", []int{1, 4}, 3, 3, 3, 2),
		"pad", double("", []int{1, 4}, 1, 1, 1, 1),
		"stride", double("", []int{1, 2}, 1, 1),
		"precious", logical("", false),
		"opts", cell("", []int{0, 0}),
	)
	relu := record("",
		"name", str("", "relu1_1"),
		"type", str("", "relu"),
		"weights", cell("", []int{0, 0}),
		"pad", double("", []int{1, 1}, 0),
		"stride", double("", []int{1, 1}, 1),
		"leak", double("", []int{1, 1}, 0),
	)
	return cell("layers", []int{1, 2}, conv, relu)
}

func classes(name string) *Struct {
	return record(name,
		"name", row(str("", "n01440764"), str("", "n01443537")),
		"description", row(str("", "tench, Tinca tinca"), str("", "goldfish, Carassius auratus")),
	)
}

// vggFile is a miniature of imagenet-vgg-verydeep-19.mat.
func vggFile(o wopts) []byte {
	meta := record("meta",
		"inputs", record("", "name", str("", "data"), "size", double("", []int{1, 4}, 224, 224, 3, 10)),
		"classes", classes(""),
		"normalization", record("",
			"imageSize", double("", []int{1, 3}, 224, 224, 3),
			"averageImage", single("", []int{1, 1, 3}, 123.68, 116.779, 103.939),
			"keepAspect", logical("", true),
			"border", double("", []int{1, 2}, 32, 32),
			"cropSize", double("", []int{1, 2}, 0.875, 0.875),
			"interpolation", str("", "bilinear"),
		),
	)
	return o.file(vggLayers(), meta)
}

// beta16File is a miniature of the older MatConvNet beta16 files, whose
// normalization holds a full HxWx3 average image.
func beta16File(o wopts) []byte {
	img := make([]float32, 4*5*3)
	for h := range 4 {
		for w := range 5 {
			for c := range 3 {
				img[h+4*(w+5*c)] = float32(100*c + 10*h + w)
			}
		}
	}
	norm := record("normalization",
		"imageSize", double("", []int{1, 3}, 4, 5, 3),
		"averageImage", single("", []int{4, 5, 3}, img...),
		"keepAspect", logical("", true),
		"interpolation", str("", "bilinear"),
	)
	return o.file(vggLayers(), classes("classes"), norm)
}

// averageImage finds the average image the way a VGG loader does, in either
// layout, as C x H x W.
func averageImage(f *File) ([]float32, []int, error) {
	a, err := f.Lookup("meta.normalization.averageImage")
	if errors.Is(err, ErrNotFound) {
		a, err = f.Lookup("normalization.averageImage")
	}
	if err != nil {
		return nil, nil, err
	}
	n, ok := a.(*Numeric)
	if !ok {
		return nil, nil, fmt.Errorf("average image is a %s", describe(a))
	}
	return Permute(n, 2, 0, 1)
}

func TestVGGMiniature(t *testing.T) {
	for name, o := range options() {
		t.Run(name, func(t *testing.T) {
			f, err := Decode(bytes.NewReader(vggFile(o)))
			if err != nil {
				t.Fatal(err)
			}
			layers, err := LookupAs[*Cell](f.Var("layers"), "")
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for i := range layers.Elems {
				typ, err := LookupString(layers, fmt.Sprintf("{%d}.type", i+1))
				if err != nil {
					t.Fatal(err)
				}
				types = append(types, typ)
			}
			if strings.Join(types, ",") != "conv,relu" {
				t.Errorf("types %v", types)
			}
			w, err := f.Lookup("layers{1}.weights{1}")
			if err != nil {
				t.Fatal(err)
			}
			filters, shape, err := ConvFilters(w.(*Numeric))
			if err != nil {
				t.Fatal(err)
			}
			if shape != [4]int{2, 3, 3, 3} || len(filters) != 54 {
				t.Errorf("filters shape %v, %d values", shape, len(filters))
			}
			// Element (co=1, ci=2, h=0, w=1) sits at column-major 0 + 3*(1 + 3*(2 + 3*1)) = 48.
			if got := filters[((1*3+2)*3+0)*3+1]; got != 48 {
				t.Errorf("filter (1,2,0,1) = %v, want 48", got)
			}
			b, _ := LookupAs[*Numeric](f.Var("layers"), "{1}.weights{2}")
			if bias, _ := b.Float32s(); !reflect.DeepEqual(bias, []float32{0.5, -0.5}) {
				t.Errorf("bias %v", bias)
			}
			pad, _ := LookupAs[*Numeric](layers, "{1}.pad")
			if p, err := pad.Ints(); err != nil || !reflect.DeepEqual(p, []int{1, 1, 1, 1}) {
				t.Errorf("pad %v, %v", p, err)
			}
			keep, _ := LookupAs[*Numeric](f.Var("meta"), "normalization.keepAspect")
			if v, err := keep.Scalar(); err != nil || v != 1 || !keep.Logical {
				t.Errorf("keepAspect %v, %v", v, err)
			}
			desc, err := f.Lookup("meta.classes.description{2}")
			if err != nil || desc.(*Char).Value != "goldfish, Carassius auratus" {
				t.Errorf("description %v, %v", desc, err)
			}
			avg, dims, err := averageImage(f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dims, []int{3, 1, 1}) || !reflect.DeepEqual(avg, []float32{123.68, 116.779, 103.939}) {
				t.Errorf("average image %v %v", dims, avg)
			}
		})
	}
}

func TestBeta16Miniature(t *testing.T) {
	o := wopts{bo: binary.LittleEndian, small: true, narrow: true}
	f, err := Decode(bytes.NewReader(beta16File(o)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lookup("meta"); !errors.Is(err, ErrNotFound) {
		t.Errorf("meta: %v, want ErrNotFound", err)
	}
	avg, dims, err := averageImage(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dims, []int{3, 4, 5}) {
		t.Fatalf("dims %v", dims)
	}
	for c := range 3 {
		for h := range 4 {
			for w := range 5 {
				if got := avg[(c*4+h)*5+w]; got != float32(100*c+10*h+w) {
					t.Fatalf("avg[%d,%d,%d] = %v", c, h, w, got)
				}
			}
		}
	}
	if s, err := LookupString(f.Var("classes"), "name{1}"); err != nil || s != "n01440764" {
		t.Errorf("classes.name{1} = %q, %v", s, err)
	}
}

func TestLookupErrors(t *testing.T) {
	f, err := Decode(bytes.NewReader(vggFile(le)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"nope", "layers{3}", "layers{1}.nope", "layers.name", "meta.inputs{1}",
		"layers{1}.name.x", "layers{1}.pad{1}", "meta(2)"} {
		if _, err := f.Lookup(p); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%q) = %v, want ErrNotFound", p, err)
		} else if !strings.HasPrefix(err.Error(), "mat: not found: ") {
			t.Errorf("Lookup(%q): message %q", p, err)
		}
	}
	for _, p := range []string{"", "layers{1", "layers{0}", "layers{x}", "layers.", "layers{1}..name", "9x"} {
		if _, err := f.Lookup(p); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%q) = %v, want a syntax error", p, err)
		}
	}
	// (i) selects a 1x1 cell or struct.
	a, err := f.Lookup("layers(2)")
	if c, ok := a.(*Cell); err != nil || !ok || len(c.Elems) != 1 {
		t.Errorf("layers(2) = %v, %v", a, err)
	}
	if s, err := LookupString(f.Var("layers"), "(2){1}.name"); err != nil || s != "relu1_1" {
		t.Errorf("layers(2){1}.name = %q, %v", s, err)
	}
	if _, err := LookupAs[*Numeric](f.Var("layers"), "{1}.name"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookupAs of the wrong type: %v", err)
	}
}

func TestConvFiltersOrientation(t *testing.T) {
	// A 2x2 filter, column-major [1 2 3 4], is the MATLAB matrix [1 3; 2 4]:
	// row 0 holds 1 and 3.
	f := single("", []int{2, 2}, 1, 2, 3, 4)
	got, shape, err := ConvFilters(f)
	if err != nil || shape != [4]int{1, 1, 2, 2} || !reflect.DeepEqual(got, []float32{1, 3, 2, 4}) {
		t.Errorf("ConvFilters = %v %v %v, want [1 3 2 4] [1 1 2 2]", got, shape, err)
	}

	// An asymmetric 2x3x2x4 bank whose every value names its own position.
	const H, W, Cin, Cout = 2, 3, 2, 4
	v := make([]float64, H*W*Cin*Cout)
	for h := range H {
		for w := range W {
			for ci := range Cin {
				for co := range Cout {
					v[h+H*(w+W*(ci+Cin*co))] = float64(1000*co + 100*ci + 10*h + w)
				}
			}
		}
	}
	got, shape, err = ConvFilters(double("", []int{H, W, Cin, Cout}, v...))
	if err != nil || shape != [4]int{Cout, Cin, H, W} {
		t.Fatalf("shape %v, %v", shape, err)
	}
	for co := range Cout {
		for ci := range Cin {
			for h := range H {
				for w := range W {
					if x := got[((co*Cin+ci)*H+h)*W+w]; x != float32(1000*co+100*ci+10*h+w) {
						t.Fatalf("out[%d,%d,%d,%d] = %v", co, ci, h, w, x)
					}
				}
			}
		}
	}
	// Cout = 1: MATLAB drops the trailing singleton.
	got, shape, err = ConvFilters(single("", []int{1, 2, 3}, 1, 2, 3, 4, 5, 6))
	if err != nil || shape != [4]int{1, 3, 1, 2} || !reflect.DeepEqual(got, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("Cout=1: %v %v %v", got, shape, err)
	}
	if d, err := Dims4(single("", []int{3, 3, 64}, make([]float32, 576)...)); err != nil || d != [4]int{3, 3, 64, 1} {
		t.Errorf("Dims4 = %v, %v", d, err)
	}
	if _, _, err := ConvFilters(single("", []int{1, 1, 1, 1, 2}, 1, 2)); err == nil {
		t.Error("5 dimensions accepted")
	}
	if _, _, err := Permute(f, 0, 0); err == nil {
		t.Error("bad permutation accepted")
	}
}

func TestNumericAccessors(t *testing.T) {
	n := &Numeric{ArrayHeader: ArrayHeader{Dims: []int{1, 3}, Class: ClassInt16}, Data: []int16{-1, 2, 3}}
	if v, err := n.Float32s(); err != nil || !reflect.DeepEqual(v, []float32{-1, 2, 3}) {
		t.Errorf("Float32s %v %v", v, err)
	}
	if _, err := n.Scalar(); err == nil {
		t.Error("Scalar of 3 elements")
	}
	if _, err := double("", []int{1, 1}, 1.5).Ints(); err == nil {
		t.Error("Ints of 1.5")
	}
	s := single("", []int{1, 1}, 2)
	if v, _ := s.Float32s(); &v[0] != &s.Data.([]float32)[0] {
		t.Error("Float32s of a single array copied")
	}
	if _, err := (&Numeric{Data: "x"}).Float64s(); err == nil {
		t.Error("Float64s of a string")
	}
}

// topBoundaries returns the offsets at which a file written by o with vars ends
// after a whole number of variables.
func topBoundaries(o wopts, vars []Array) map[int]int {
	b := map[int]int{headerSize: 0}
	off := headerSize
	for i, v := range vars {
		off += len(o.variable(v))
		b[off] = i + 1
	}
	return b
}

func TestTruncatedEverywhere(t *testing.T) {
	vars := []Array{
		cell("c", []int{1, 2}, record("", "a", single("", []int{1, 2}, 1, 2), "b", str("", "xy")), empty()),
		double("d", []int{1, 1}, 7),
		str("s", "abc"),
	}
	for name, o := range options() {
		t.Run(name, func(t *testing.T) {
			data := o.file(vars...)
			ends := topBoundaries(o, vars)
			for n := 0; n < len(data); n++ {
				for _, seekable := range []bool{true, false} {
					f, err := Decode(reader(data[:n], seekable))
					if k, ok := ends[n]; ok {
						if err != nil || len(f.Vars) != k {
							t.Fatalf("prefix %d (after %d variables), seekable=%v: %v", n, k, seekable, err)
						}
						continue
					}
					if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrFormat) {
						t.Fatalf("prefix %d of %d, seekable=%v: %v, want io.ErrUnexpectedEOF", n, len(data), seekable, err)
					}
				}
			}
		})
	}
}

func TestDecodeConfig(t *testing.T) {
	data := wopts{bo: binary.BigEndian}.file(double("x", []int{1, 1}, 1))
	h, err := DecodeConfig(bytes.NewReader(data[:headerSize]))
	if err != nil || h.ByteOrder != binary.BigEndian || h.Version != 0x0100 || h.SubsystemOffset != 0 {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := DecodeConfig(bytes.NewReader(data[:100])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short header: %v", err)
	}
	spaces := bytes.Clone(data)
	copy(spaces[116:124], "        ")
	if h, err := DecodeConfig(bytes.NewReader(spaces)); err != nil || h.SubsystemOffset != 0 {
		t.Errorf("spaces as subsystem offset: %+v %v", h, err)
	}
}

// mfile returns a little-endian file with one miMATRIX element built from parts.
func mfile(parts ...[]byte) []byte {
	return append(le.file(), le.element(miMATRIX, bytes.Join(parts, nil))...)
}

func TestCorrupt(t *testing.T) {
	o := le
	flags := func(class uint32) []byte { return o.element(miUINT32, o.u32s(class, 0)) }
	dims := func(d ...uint32) []byte { return o.element(miINT32, o.u32s(d...)) }
	name := o.element(miINT8, []byte("x"))
	data := o.element(miDOUBLE, make([]byte, 8))
	good := mfile(flags(6), dims(1, 1), name, data)
	if _, err := Decode(bytes.NewReader(good)); err != nil {
		t.Fatalf("the base case fails: %v", err)
	}
	set := func(b []byte, off int, v ...byte) []byte {
		b = bytes.Clone(b)
		copy(b[off:], v)
		return b
	}
	cases := []struct {
		name   string
		data   []byte
		offset int64 // -1: do not check
		msg    string
	}{
		{"endian", set(good, 126, 'X', 'Y'), 126, "endian indicator"},
		{"version", set(good, 124, 0x01, 0x01), 124, "version 0x0101"},
		{"top-level type", set(good, 128, 99), 128, "top-level element of type 99"},
		{"top-level small", set(good, 128, 14, 0, 4, 0), 128, "small data element"},
		{"flags type", mfile(o.element(miINT32, o.u32s(6, 0)), dims(1, 1), name, data), 136, "array flags"},
		{"flags length", mfile(o.element(miUINT32, o.u32s(6)), dims(1, 1), name, data), 136, "array flags"},
		{"one dimension", mfile(flags(6), dims(1), name, data), 152, "dimensions of 4 bytes"},
		{"negative dimension", mfile(flags(6), dims(1, 0xffffffff), name, data), 152, "negative dimension"},
		{"too many elements", mfile(flags(6), dims(1<<31-1, 1<<31-1, 1<<31-1), name, data), 152, "too many elements"},
		{"name type", mfile(flags(6), dims(1, 1), o.element(miDOUBLE, make([]byte, 8)), data), 168, "array name of miDOUBLE"},
		{"data length", mfile(flags(6), dims(1, 2), name, data), 184, "8 bytes of miDOUBLE for 2 elements"},
		{"data type", mfile(flags(6), dims(1, 1), name, o.element(miUTF8, []byte("abcdefgh"))), 184, "miUTF8 for 1 elements"},
		{"unknown class", mfile(flags(42), dims(1, 1), name, data), 128, "unknown array class 42"},
		{"small too long", mfile(flags(6), dims(1, 1), []byte{1, 0, 5, 0, 'x', 0, 0, 0}, data), 168, "small element claims 5 bytes"},
		{"overrun", mfile(flags(6), dims(1, 1), name, set(data, 4, 0, 1)), 184, "overruns its enclosing element"},
		{"no room", mfile(flags(6), dims(1, 1)), 168, "no room for a tag"},
		{"cell element", mfile(flags(1), dims(1, 1), name, data), 184, "element of miDOUBLE, want miMATRIX"},
		{"huge cell", mfile(flags(1), dims(100000, 100000), name), 184, "cell elements cannot fit"},
		{"field names", mfile(flags(2), dims(1, 1), name, o.element(miINT32, o.u32s(8)), o.element(miINT8, make([]byte, 12))), 200, "do not split"},
		{"field name length", mfile(flags(2), dims(1, 1), name, o.element(miINT32, o.u32s(8, 8)), o.element(miINT8, make([]byte, 8))), 184, "field name length"},
		{"struct elements", mfile(flags(2), dims(1000, 1000), name, o.element(miINT32, o.u32s(8)), o.element(miINT8, []byte("abcdefg\x00"))), 216, "cannot fit"},
		{"char type", mfile(flags(4), dims(1, 1), name, data), 184, "characters of miDOUBLE"},
		{"char count", mfile(flags(4), dims(1, 3), name, o.element(miUINT16, []byte{'a', 0})), 184, "1 characters for 3 elements"},
	}
	for _, c := range cases {
		_, err := Decode(bytes.NewReader(c.data))
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want a FormatError", c.name, err)
			continue
		}
		if c.offset >= 0 && fe.Offset != c.offset {
			t.Errorf("%s: offset %d, want %d (%v)", c.name, fe.Offset, c.offset, err)
		}
		if !strings.Contains(err.Error(), c.msg) || !strings.HasPrefix(err.Error(), "mat: invalid format at offset ") {
			t.Errorf("%s: message %q, want it to contain %q", c.name, err, c.msg)
		}
	}
}

func TestCorruptCompressed(t *testing.T) {
	o := wopts{bo: binary.LittleEndian, compress: true}
	data := o.file(single("w", []int{1, 64}, make([]float32, 64)...), str("s", "after"))
	first := len(o.variable(single("w", []int{1, 64}, make([]float32, 64)...)))
	// The Adler-32 checksum is the last 4 bytes of the first element.
	bad := bytes.Clone(data)
	bad[headerSize+first-1] ^= 0xff
	_, err := Decode(bytes.NewReader(bad))
	var fe *FormatError
	if !errors.Is(err, zlib.ErrChecksum) || !errors.As(err, &fe) || fe.Offset != headerSize {
		t.Errorf("bad checksum: %v", err)
	}
	// A bad zlib header.
	bad = bytes.Clone(data)
	bad[headerSize+8] = 0
	if _, err := Decode(bytes.NewReader(bad)); !errors.Is(err, zlib.ErrHeader) || !errors.Is(err, ErrFormat) {
		t.Errorf("bad zlib header: %v", err)
	}
	// Damage inside the deflate data.
	for i := headerSize + 10; i < headerSize+first-4; i++ {
		bad = bytes.Clone(data)
		bad[i] ^= 0x55
		if _, err := Decode(bytes.NewReader(bad)); err == nil {
			// Some flips still decode to a valid stream with the same checksum: rare, but
			// then the data must at least decode.
			continue
		} else if !errors.Is(err, ErrFormat) {
			t.Errorf("flip at %d: %v", i, err)
		}
	}
	// A compressed element that holds something other than an array.
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(o.element(miDOUBLE, make([]byte, 8)))
	zw.Close()
	inner := append(o.u32s(miCOMPRESSED, uint32(z.Len())), z.Bytes()...)
	if _, err := Decode(bytes.NewReader(append(o.file(), inner...))); !errors.As(err, &fe) || !strings.Contains(err.Error(), "compressed element holds miDOUBLE") {
		t.Errorf("compressed double: %v", err)
	}
	// A compressed element whose array claims more than compressed data can hold.
	z.Reset()
	zw = zlib.NewWriter(&z)
	zw.Write(o.u32s(miMATRIX, 1<<31))
	zw.Close()
	inner = append(o.u32s(miCOMPRESSED, uint32(z.Len())), z.Bytes()...)
	if _, err := Decode(bytes.NewReader(append(o.file(), inner...))); !errors.As(err, &fe) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("compressed bomb: %v", err)
	}
}

func TestUnsupported(t *testing.T) {
	o := le
	real := o.element(miDOUBLE, make([]byte, 8))
	raw := func(name string, class Class, flags uint32, body ...[]byte) *rawArray {
		return &rawArray{ArrayHeader: ArrayHeader{Name: name, Dims: []int{1, 1}, Class: class}, flags: flags, body: bytes.Join(body, nil)}
	}
	cases := []struct {
		name string
		a    Array
		path string
		msg  string
	}{
		{"complex", raw("z", ClassDouble, flagComplex, real, real), "z", "complex double array"},
		{"sparse", raw("sp", ClassSparse, 0), "sp", "sparse array"},
		{"object", raw("obj", ClassObject, 0), "obj", "object array"},
		{"function", raw("fh", ClassFunction, 0), "fh", "function handle"},
		{"opaque", raw("op", ClassOpaque, 0), "", "opaque"},
		{"nested", record("net", "layers", row(empty(), raw("", ClassSparse, 0))), "net.layers{2}", "sparse array"},
	}
	for _, c := range cases {
		for _, comp := range []bool{false, true} {
			o.compress = comp
			_, err := Decode(bytes.NewReader(o.file(double("before", []int{1, 1}, 1), c.a)))
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				t.Errorf("%s: %v, want an UnsupportedError", c.name, err)
				continue
			}
			if ue.Path != c.path || !strings.Contains(err.Error(), c.msg) || ue.Offset < headerSize {
				t.Errorf("%s: %+v (%v), want path %q and %q", c.name, ue, err, c.path, c.msg)
			}
		}
	}
	// MAT-file 7.3 is HDF5.
	data := le.file()
	binary.LittleEndian.PutUint16(data[124:], 0x0200)
	var ue *UnsupportedError
	if _, err := Decode(bytes.NewReader(data)); !errors.As(err, &ue) || !strings.Contains(err.Error(), "7.3") {
		t.Errorf("v7.3: %v", err)
	}
}

func TestSubsystemSkipped(t *testing.T) {
	data := le.file(double("x", []int{1, 1}, 1))
	off := len(data)
	data = append(data, le.matrix(&Numeric{ArrayHeader: ArrayHeader{Dims: []int{1, 8}, Class: ClassUint8}, Data: make([]uint8, 8)})...)
	binary.LittleEndian.PutUint64(data[116:], uint64(off))
	f, err := Decode(bytes.NewReader(data))
	if err != nil || len(f.Vars) != 1 || f.Header.SubsystemOffset != int64(off) {
		t.Fatalf("%v %v", f, err)
	}
}

// TestHugeClaims checks that lengths a file claims but does not back with data
// are not allocated.
func TestHugeClaims(t *testing.T) {
	o := le
	// A double array that claims 4 GB of data, then ends.
	body := bytes.Join([][]byte{
		o.element(miUINT32, o.u32s(6, 0)),
		o.element(miINT32, o.u32s(1, 1<<28)),
		o.element(miINT8, []byte("big")),
		o.u32s(miDOUBLE, 1<<31),
	}, nil)
	file := append(o.file(), o.u32s(miMATRIX, 0xfffffff0)...)
	file = append(file, body...)
	for _, seekable := range []bool{true, false} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Decode(reader(file, seekable))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("seekable=%v: %v", seekable, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
			t.Errorf("seekable=%v: allocated %d MB", seekable, got>>20)
		}
	}
}

func TestNestingLimit(t *testing.T) {
	var a Array = double("", []int{1, 1}, 1)
	for range maxDepth + 2 {
		a = row(a)
	}
	a.Header().Name = "deep"
	_, err := Decode(bytes.NewReader(le.file(a)))
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "nested") {
		t.Errorf("%v", err)
	}
}

func TestClassString(t *testing.T) {
	if ClassSingle.String() != "single" || Class(99).String() != "Class(99)" || ClassFunction.String() != "function_handle" {
		t.Error(ClassSingle, Class(99), ClassFunction)
	}
}

func TestLookupNil(t *testing.T) {
	f := &File{}
	if _, err := LookupAs[*Cell](f.Var("layers"), ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("%v", err)
	}
	if _, err := LookupString(nil, ".x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("%v", err)
	}
}

// BenchmarkDecode reads 16 MB of filters in MatConvNet's layout, compressed as
// save -v7 writes them and uncompressed as -v6 does; MB/s counts the float data.
func BenchmarkDecode(b *testing.B) {
	w := make([]float32, 4<<20)
	for i := range w {
		w[i] = float32(i%1000) / 7
	}
	layers := cell("layers", []int{1, 1}, record("", "weights", row(single("", []int{3, 3, 512, 910}, w[:3*3*512*910]...))))
	for name, o := range map[string]wopts{
		"v7": {bo: binary.LittleEndian, compress: true, small: true},
		"v6": {bo: binary.LittleEndian, small: true},
	} {
		data := o.file(layers)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(3 * 3 * 512 * 910 * 4)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
