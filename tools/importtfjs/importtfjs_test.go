package importtfjs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"convas/compute/formats/cnvm"
	"convas/compute/formats/tfjs"
)

// modelJSON is a small Keras 2 functional model as TF.js stores it: a stem (Conv2D, batch norm
// without gamma, ReLU), two branches joined by "mixed0", then a head that a cut at mixed0 drops.
const modelJSON = `{"format": "layers-model", "modelTopology": {"keras_version": "2.2.4", "model_config": {"class_name": "Model", "config": {
 "name": "m", "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_1", 0, 0]], "layers": [
 {"name": "input_1", "class_name": "InputLayer", "config": {"name": "input_1", "batch_input_shape": [null, 5, 5, 3]}, "inbound_nodes": []},
 {"name": "conv2d_1", "class_name": "Conv2D", "config": {"name": "conv2d_1", "trainable": false, "filters": 2, "kernel_size": [3, 3], "strides": [2, 2], "padding": "valid", "use_bias": false}, "inbound_nodes": [[["input_1", 0, 0, {}]]]},
 {"name": "batch_normalization_1", "class_name": "BatchNormalization", "config": {"name": "batch_normalization_1", "axis": 3, "epsilon": 0.001, "scale": false}, "inbound_nodes": [[["conv2d_1", 0, 0, {}]]]},
 {"name": "activation_1", "class_name": "Activation", "config": {"name": "activation_1", "activation": "relu"}, "inbound_nodes": [[["batch_normalization_1", 0, 0, {}]]]},
 {"name": "average_pooling2d_1", "class_name": "AveragePooling2D", "config": {"name": "average_pooling2d_1", "pool_size": [3, 3], "strides": [1, 1], "padding": "same"}, "inbound_nodes": [[["activation_1", 0, 0, {}]]]},
 {"name": "mixed0", "class_name": "Concatenate", "config": {"name": "mixed0", "axis": 3}, "inbound_nodes": [[["activation_1", 0, 0, {}], ["average_pooling2d_1", 0, 0, {}]]]},
 {"name": "flatten_1", "class_name": "Flatten", "config": {"name": "flatten_1"}, "inbound_nodes": [[["mixed0", 0, 0, {}]]]},
 {"name": "dense_1", "class_name": "Dense", "config": {"name": "dense_1", "units": 1}, "inbound_nodes": [[["flatten_1", 0, 0, {}]]]}]}}},
 "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [
  {"name": "batch_normalization_1/beta", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint8", "min": -0.5, "scale": 0.25}},
  {"name": "batch_normalization_1/moving_mean", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint16", "min": -1, "scale": 0.001}},
  {"name": "batch_normalization_1/moving_variance", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}},
  {"name": "conv2d_1/kernel", "shape": [3, 3, 3, 2], "dtype": "float32", "quantization": {"dtype": "uint8", "min": -0.1, "scale": 0.003}},
  {"name": "dense_1/kernel", "shape": [16, 1], "dtype": "float32"},
  {"name": "dense_1/bias", "shape": [1], "dtype": "float32"}]}]}`

// shard returns the weights' bytes: 2 + 4 + 4 + 54 + 64 + 4.
func shard() []byte {
	b := []byte{1, 2, 0x10, 0x27, 0x20, 0x4e, 0x00, 0x3c, 0x00, 0x40}
	for i := range 54 {
		b = append(b, byte(i*5))
	}
	return append(b, make([]byte, 68)...)
}

// tarball builds a gzip-compressed tar archive of the given files, in order.
func tarball(t testing.TB, files ...[2]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// npmPackage is an npm package tarball holding the model.
func npmPackage(t testing.TB) []byte {
	return tarball(t,
		[2]string{"package/package.json", `{"name": "tiny", "version": "1.2.3", "license": "MIT"}`},
		[2]string{"package/LICENSE", "MIT License\n\nCopyright (c) 2026 Someone\n"},
		[2]string{"package/models/m/model.json", modelJSON},
		[2]string{"package/models/m/group1-shard1of1.bin", string(shard())},
	)
}

func TestImportTarballCut(t *testing.T) {
	tgz := npmPackage(t)
	m, err := ImportTarball(bytes.NewReader(tgz), Options{UpTo: "mixed0", Meta: map[string]string{"note": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range m.Layers {
		names = append(names, l.Name+":"+l.Kind)
	}
	want := []string{"input_1:input", "conv2d_1:conv2d", "batch_normalization_1:batchnorm", "activation_1:activation",
		"average_pooling2d_1:avgpool2d", "mixed0:concat"}
	if !reflect.DeepEqual(names, want) || !reflect.DeepEqual(m.Outputs, []string{"mixed0"}) {
		t.Errorf("layers %v outputs %v, want %v and [mixed0]", names, m.Outputs, want)
	}
	conv := m.Layer("conv2d_1")
	if !reflect.DeepEqual(conv.Ints, map[string][]int{"filters": {2}, "kernel": {3, 3}, "strides": {2, 2}}) ||
		!reflect.DeepEqual(conv.Strings, map[string]string{"padding": "valid", "activation": "linear"}) ||
		!reflect.DeepEqual(conv.Weights, map[string]string{"kernel": "conv2d_1/kernel"}) {
		t.Errorf("conv2d_1: %+v", conv)
	}
	bn := m.Layer("batch_normalization_1")
	if bn.Floats["epsilon"] != 0.001 || !reflect.DeepEqual(bn.Weights, map[string]string{
		"beta": "batch_normalization_1/beta", "mean": "batch_normalization_1/moving_mean", "variance": "batch_normalization_1/moving_variance"}) {
		t.Errorf("batch_normalization_1: %+v", bn)
	}
	if len(m.Tensors) != 4 || m.Tensor("dense_1/kernel") != nil {
		t.Errorf("%d tensors; the head's must be cut", len(m.Tensors))
	}
	// Quantized weights keep their bytes, min and scale; float16 becomes float32.
	k := m.Tensor("conv2d_1/kernel")
	if k.DType != cnvm.Uint8 || k.Min != -0.1 || k.Scale != 0.003 || !bytes.Equal(k.Data, shard()[10:64]) {
		t.Errorf("conv2d_1/kernel: %v %v %v", k.DType, k.Min, k.Scale)
	}
	if mean := m.Tensor("batch_normalization_1/moving_mean"); mean.DType != cnvm.Uint16 || !bytes.Equal(mean.Data, shard()[2:6]) {
		t.Errorf("moving_mean: %+v", mean)
	}
	if v := m.Tensor("batch_normalization_1/moving_variance"); v.DType != cnvm.Float32 || !reflect.DeepEqual(v.Float32(), []float32{1, 2}) {
		t.Errorf("moving_variance: %v %v", v.DType, v.Float32())
	}
	sum := sha256.Sum256(tgz)
	for k, v := range map[string]string{"source": "npm tiny@1.2.3", "license": "MIT", "license_file": "package/LICENSE",
		"source_file": "package/models/m/model.json", "source_sha256": hex.EncodeToString(sum[:]), "cut_after": "mixed0",
		"keras_version": "2.2.4", "note": "x"} {
		if m.Meta[k] != v {
			t.Errorf("meta %s = %q, want %q", k, m.Meta[k], v)
		}
	}
	if !strings.Contains(m.Meta["license_text"], "Copyright (c) 2026 Someone") {
		t.Errorf("license_text %q", m.Meta["license_text"])
	}
	var buf bytes.Buffer
	if err := cnvm.Encode(&buf, m); err != nil {
		t.Fatalf("the converted model does not encode: %v", err)
	}
}

func TestImportWholeModel(t *testing.T) {
	m, err := ImportTarball(bytes.NewReader(npmPackage(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 8 || !reflect.DeepEqual(m.Outputs, []string{"dense_1"}) || m.Layer("flatten_1").Kind != cnvm.KindFlatten {
		t.Errorf("%d layers, outputs %v", len(m.Layers), m.Outputs)
	}
	if d := m.Layer("dense_1"); d.Ints["units"][0] != 1 || d.Weights["bias"] != "dense_1/bias" {
		t.Errorf("dense_1: %+v", d)
	}
}

func TestImportErrors(t *testing.T) {
	pkg := npmPackage(t)
	if _, err := ImportTarball(bytes.NewReader(pkg), Options{UpTo: "mixed9"}); err == nil || !strings.Contains(err.Error(), `no layer "mixed9"`) {
		t.Errorf("unknown cut: %v", err)
	}
	two := tarball(t, [2]string{"a/model.json", modelJSON}, [2]string{"b/model.json", modelJSON})
	if _, err := ImportTarball(bytes.NewReader(two), Options{}); err == nil || !strings.Contains(err.Error(), "2 models (a/model.json, b/model.json)") {
		t.Errorf("two models: %v", err)
	}
	if _, err := ImportTarball(bytes.NewReader(pkg[:len(pkg)/2]), Options{}); err == nil {
		t.Error("a truncated archive imported")
	}
	if _, err := ImportTarball(strings.NewReader("not gzip"), Options{}); err == nil || !strings.HasPrefix(err.Error(), "importtfjs: ") {
		t.Errorf("not gzip: %v", err)
	}
}

func TestReadTarballRefusesUnsafePaths(t *testing.T) {
	for _, name := range []string{"../evil", "/etc/passwd", "package/../../evil", `package\..\evil`} {
		_, err := ReadTarball(bytes.NewReader(tarball(t, [2]string{name, "x"})))
		if !errors.Is(err, ErrInsecurePath) {
			t.Errorf("%q: got %v, want ErrInsecurePath", name, err)
		}
	}
	dup := tarball(t, [2]string{"package/a", "1"}, [2]string{"package/./a", "2"})
	if _, err := ReadTarball(bytes.NewReader(dup)); !errors.Is(err, ErrInsecurePath) {
		t.Errorf("duplicate name: %v", err)
	}
}

// TestNSFWJSInceptionV3 converts the real npm package, when CONVAS_NSFWJS_TGZ names it (from
// `npm pack nsfwjs@4.4.0`), and checks that the result is the embedded asset, byte for byte.
func TestNSFWJSInceptionV3(t *testing.T) {
	tgz := os.Getenv("CONVAS_NSFWJS_TGZ")
	if tgz == "" {
		t.Skip("set CONVAS_NSFWJS_TGZ to nsfwjs-4.4.0.tgz to check the embedded trunk")
	}
	m, err := Import(tgz, NSFWJSInceptionV3)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := cnvm.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	asset, err := os.ReadFile("../../assets/inceptionv3/inceptionv3-mixed5.cnvm")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), asset) {
		t.Errorf("conversion (%d bytes, sha256 %x) differs from the asset (%d bytes, sha256 %x)",
			buf.Len(), sha256.Sum256(buf.Bytes()), len(asset), sha256.Sum256(asset))
	}
	// Every layer kept kept Keras's ImageNet weights: none is trainable in the source.
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fsys, err := ReadTarball(f)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tfjs.Decode(fsys, NSFWJSInceptionV3.Model)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if sl := src.Layer(l.Name); sl.Class != "InputLayer" && sl.Trainable {
			t.Errorf("layer %s is trainable in the source", l.Name)
		}
	}
	if m.Meta["source"] != "npm nsfwjs@4.4.0" || m.Meta["license"] != "MIT" || !strings.Contains(m.Meta["license_text"], "Infinite Red") {
		t.Errorf("meta: source %q license %q", m.Meta["source"], m.Meta["license"])
	}
}
