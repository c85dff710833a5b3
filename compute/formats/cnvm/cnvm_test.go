package cnvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

// testModel returns a small model that uses every part of the format: metadata, every dtype,
// every attribute type, a layer with two inputs, and a tensor no layer uses.
func testModel() *Model {
	return &Model{
		Meta: map[string]string{"source": "test", "license": "MIT"},
		Layers: []*Layer{
			{Name: "input_1", Kind: KindInput, Ints: map[string][]int{"shape": {-1, -1, 3}}},
			{Name: "conv2d_1", Kind: KindConv2D, Inputs: []string{"input_1"},
				Ints:    map[string][]int{"filters": {2}, "kernel": {1, 1}, "strides": {1, 1}},
				Strings: map[string]string{"padding": "same", "activation": "linear"},
				Weights: map[string]string{"kernel": "conv2d_1/kernel"}},
			{Name: "batch_normalization_1", Kind: KindBatchNorm, Inputs: []string{"conv2d_1"},
				Floats:  map[string]float64{"epsilon": 0.001},
				Weights: map[string]string{"mean": "bn/mean", "variance": "bn/variance"}},
			{Name: "mixed0", Kind: KindConcat, Inputs: []string{"batch_normalization_1", "input_1"}},
		},
		Outputs: []string{"mixed0"},
		Tensors: []*Tensor{
			{Name: "conv2d_1/kernel", DType: Uint8, Shape: []int{1, 1, 3, 2}, Min: -0.75, Scale: 0.0078125, Data: []byte{0, 1, 2, 128, 254, 255}},
			NewFloat32("bn/mean", []int{2}, []float32{0.5, -1.25}),
			{Name: "bn/variance", DType: Uint16, Shape: []int{2}, Min: 0.001, Scale: 1e-4, Data: []byte{1, 0, 0xff, 0xff}},
			{Name: "unused", DType: Float32, Shape: []int{}, Data: []byte{0, 0, 0x80, 0x3f}},
		},
	}
}

// encode encodes m or fails the test.
func encode(t testing.TB, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	want := testModel()
	data := encode(t, want)
	got, err := Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded model differs:\n got %+v\nwant %+v", got, want)
	}
	if again := encode(t, got); !bytes.Equal(again, data) {
		t.Error("encoding the decoded model gives other bytes")
	}
	if v := got.Tensor("conv2d_1/kernel").Float32(); v[0] != -0.75 || v[5] != float32(-0.75+255*0.0078125) {
		t.Errorf("uint8 values %v", v)
	}
	if v := got.Tensor("bn/variance").Float32(); v[1] != float32(0.001+65535*1e-4) {
		t.Errorf("uint16 values %v", v)
	}
	if v := got.Tensor("unused").Float32(); len(v) != 1 || v[0] != 1 {
		t.Errorf("scalar float32 %v", v)
	}
}

func TestDecodeConfig(t *testing.T) {
	m, err := DecodeConfig(bytes.NewReader(encode(t, testModel())))
	if err != nil {
		t.Fatal(err)
	}
	want := testModel()
	if m.Tensors != nil || !reflect.DeepEqual(m.Layers, want.Layers) || !reflect.DeepEqual(m.Meta, want.Meta) {
		t.Errorf("DecodeConfig: %+v", m)
	}
}

// TestDamaged flips every byte of a file in turn and cuts it at every length: each damaged file
// must fail with an error of the package, never decode and never panic.
func TestDamaged(t *testing.T) {
	data := encode(t, testModel())
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x21
		m, err := Decode(bytes.NewReader(bad))
		var ue *UnsupportedError
		if err == nil || !(errors.Is(err, ErrFormat) || errors.As(err, &ue)) {
			t.Fatalf("byte %d flipped: model %v, error %v", i, m != nil, err)
		}
		if !strings.HasPrefix(err.Error(), "cnvm: ") {
			t.Fatalf("error %q lacks the package prefix", err)
		}
	}
	for n := range len(data) {
		_, err := Decode(bytes.NewReader(data[:n]))
		if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrFormat) {
			t.Fatalf("cut at %d: %v, want ErrFormat and io.ErrUnexpectedEOF", n, err)
		}
	}
	if _, err := Decode(bytes.NewReader(append(bytes.Clone(data), 0))); err == nil || !strings.Contains(err.Error(), "after the IEND") {
		t.Errorf("trailing byte: %v", err)
	}
}

func TestChecksumError(t *testing.T) {
	data := encode(t, testModel())
	i := bytes.Index(data, []byte("GRPH"))
	data[i+10] ^= 1
	_, err := Decode(bytes.NewReader(data))
	var fe *FormatError
	if !errors.Is(err, ErrChecksum) || !errors.As(err, &fe) || fe.Offset != int64(i-4) {
		t.Errorf("got %v, want ErrChecksum at offset %d", err, i-4)
	}
	if want := fmt.Sprintf("cnvm: invalid format at offset %d: chunk GRPH: cnvm: invalid checksum", i-4); err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// withChunk returns the file with a chunk of the given type and data inserted before IEND.
func withChunk(data []byte, typ string, body []byte) []byte {
	end := bytes.LastIndex(data, []byte(chunkEnd)) - 4
	var c bytes.Buffer
	if err := writeChunk(&c, typ, body); err != nil {
		panic(err)
	}
	return append(append(bytes.Clone(data[:end]), c.Bytes()...), data[end:]...)
}

func TestChunks(t *testing.T) {
	data := encode(t, testModel())
	if _, err := Decode(bytes.NewReader(withChunk(data, "tIME", []byte("whenever")))); err != nil {
		t.Errorf("ancillary chunk not skipped: %v", err)
	}
	var ue *UnsupportedError
	if _, err := Decode(bytes.NewReader(withChunk(data, "QUUX", nil))); !errors.As(err, &ue) {
		t.Errorf("unknown critical chunk: %v", err)
	}
	if _, err := Decode(bytes.NewReader(withChunk(data, chunkMeta, []byte{0}))); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("META after GRPH: %v", err)
	}
	later := bytes.Clone(data)
	binary.LittleEndian.PutUint16(later[4:], Version+1)
	if _, err := Decode(bytes.NewReader(later)); !errors.As(err, &ue) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("later version: %v", err)
	}
	if _, err := Decode(strings.NewReader("PK\x03\x04 not a model")); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "magic") {
		t.Errorf("other file: %v", err)
	}
}

// rechunk replaces the data of the file's first chunk of type typ, with a correct CRC, so that
// the content checks (not the CRC) must find the problem.
func rechunk(data []byte, typ string, edit func([]byte) []byte) []byte {
	i := bytes.Index(data, []byte(typ)) - 4
	n := int(binary.LittleEndian.Uint32(data[i:]))
	body := edit(bytes.Clone(data[i+8 : i+8+n]))
	var c bytes.Buffer
	if err := writeChunk(&c, typ, body); err != nil {
		panic(err)
	}
	return append(append(bytes.Clone(data[:i]), c.Bytes()...), data[i+12+n:]...)
}

func TestMalformedContent(t *testing.T) {
	data := encode(t, testModel())
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"tensor too short", rechunk(data, chunkTensor, func(b []byte) []byte { return b[:len(b)-1] }), `tensor "conv2d_1/kernel" of shape [1 1 3 2] needs 6 bytes of uint8, the chunk has 5`},
		{"dtype", rechunk(data, chunkTensor, func(b []byte) []byte { b[16] = 9; return b }), `unsupported: tensor "conv2d_1/kernel" of dtype(9)`},
		{"graph left over", rechunk(data, chunkGraph, func(b []byte) []byte { return append(b, 0) }), "1 bytes left over"},
		{"unsorted meta", rechunk(data, chunkMeta, func(b []byte) []byte {
			var m []byte
			m = appendUvarint(m, 2)
			m = appendString(appendString(m, "z"), "1")
			return appendString(appendString(m, "a"), "2")
		}), `metadata key "a" not after "z"`},
		{"missing tensor", func() []byte {
			m := testModel()
			m.Tensors = m.Tensors[1:]
			m.Layers[1].Weights = nil
			d := encode(t, m)
			return rechunk(d, chunkGraph, func([]byte) []byte {
				var b []byte
				for _, l := range testModel().Layers {
					b = appendLayer(b, l)
				}
				return appendString(appendUvarint(append(appendUvarint(nil, 4), b...), 1), "mixed0")
			})
		}(), `layer "conv2d_1": weight kernel is tensor "conv2d_1/kernel", which the file does not have`},
		{"input order", rechunk(data, chunkGraph, func([]byte) []byte {
			l := testModel().Layers
			b := appendUvarint(nil, 2)
			b = appendLayer(appendLayer(b, l[1]), l[0])
			return appendString(appendUvarint(b, 1), "conv2d_1")
		}), `layer "conv2d_1" reads "input_1", which is not a layer before it`},
	}
	for _, tt := range tests {
		_, err := Decode(bytes.NewReader(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *Model)
		want string
	}{
		{"duplicate layer", func(m *Model) { m.Layers[2].Name = "conv2d_1" }, `layer "conv2d_1" listed twice`},
		{"later input", func(m *Model) { m.Layers[1].Inputs = []string{"mixed0"} }, "not a layer before it"},
		{"no outputs", func(m *Model) { m.Outputs = nil }, "graph without outputs"},
		{"missing tensor", func(m *Model) { m.Tensors = m.Tensors[1:] }, `which the file does not have`},
		{"short data", func(m *Model) { m.Tensors[0].Data = m.Tensors[0].Data[1:] }, `has 5 bytes of data`},
		{"nan", func(m *Model) { m.Layers[2].Floats["epsilon"] = math.NaN() }, "attribute epsilon is NaN"},
		{"scale on float32", func(m *Model) { m.Tensors[1].Scale = 1 }, "has a min or a scale"},
	}
	for _, tt := range tests {
		m := testModel()
		tt.edit(m)
		if err := Encode(io.Discard, m); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "cnvm: encode: ") {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestCRCMatchesPNG(t *testing.T) {
	// The CRC covers the type and the data, as PNG's does: an IEND chunk's CRC is PNG's AE426082.
	var b bytes.Buffer
	if err := writeChunk(&b, "IEND", nil); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint32(b.Bytes()[8:]); got != crc32.ChecksumIEEE([]byte("IEND")) || got != 0xae426082 {
		t.Errorf("IEND CRC %08x", got)
	}
}
