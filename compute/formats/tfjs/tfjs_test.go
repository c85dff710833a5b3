package tfjs

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// fixture is a small Functional model in the layout Keras 2 and the TF.js converter write: an
// input of 6x6x2, a Conv2D with bias, a BatchNormalization without gamma, a ReLU, and two
// branches (a max-pooling, and a 1x1 Conv2D after an average-pooling, both 3x3) joined by Concatenate,
// then global pooling, Dropout and a Dense softmax. Its weights use all four storage types.
type fixture struct {
	model   map[string]any
	weights []fixtureWeight
}

// fixtureWeight is one weight of a fixture: its manifest entry and its bytes.
type fixtureWeight struct {
	spec map[string]any
	data []byte
	want []float32 // the values Float32 must return
}

// layer returns a Keras 2 layer entry.
func layer(name, class string, config map[string]any, inputs ...string) map[string]any {
	config["name"] = name
	var node []any
	for _, in := range inputs {
		node = append(node, []any{in, 0, 0, map[string]any{}})
	}
	nodes := []any{}
	if node != nil {
		nodes = append(nodes, node)
	}
	return map[string]any{"name": name, "class_name": class, "config": config, "inbound_nodes": nodes}
}

// newFixture builds the fixture.
func newFixture() *fixture {
	layers := []any{
		layer("input_1", "InputLayer", map[string]any{"batch_input_shape": []any{nil, 6, 6, 2}, "dtype": "float32", "sparse": false}),
		layer("conv2d_1", "Conv2D", map[string]any{"trainable": false, "filters": 3, "kernel_size": []int{3, 3}, "strides": []int{1, 1},
			"padding": "same", "data_format": "channels_last", "dilation_rate": []int{1, 1}, "activation": "linear", "use_bias": true}, "input_1"),
		layer("batch_normalization_1", "BatchNormalization", map[string]any{"axis": 3, "epsilon": 0.001, "center": true, "scale": false}, "conv2d_1"),
		layer("activation_1", "Activation", map[string]any{"activation": "relu"}, "batch_normalization_1"),
		layer("max_pooling2d_1", "MaxPooling2D", map[string]any{"pool_size": []int{3, 3}, "strides": []int{2, 2}, "padding": "same"}, "activation_1"),
		layer("average_pooling2d_1", "AveragePooling2D", map[string]any{"pool_size": []int{3, 3}, "strides": []int{2, 2}, "padding": "same"}, "activation_1"),
		layer("conv2d_2", "Conv2D", map[string]any{"filters": 4, "kernel_size": []int{1, 1}, "use_bias": false}, "average_pooling2d_1"),
		layer("mixed0", "Concatenate", map[string]any{"axis": -1}, "max_pooling2d_1", "conv2d_2"),
		layer("global_average_pooling2d_1", "GlobalAveragePooling2D", map[string]any{}, "mixed0"),
		layer("dropout_1", "Dropout", map[string]any{"rate": 0.5}, "global_average_pooling2d_1"),
		layer("dense_1", "Dense", map[string]any{"units": 2, "activation": "softmax", "use_bias": true}, "dropout_1"),
	}
	f := &fixture{}
	f.add("conv2d_1/kernel", []int{3, 3, 2, 3}, "uint8")
	f.add("conv2d_1/bias", []int{3}, "float32")
	f.add("batch_normalization_1/beta", []int{3}, "uint16")
	f.add("batch_normalization_1/moving_mean", []int{3}, "float16")
	f.add("batch_normalization_1/moving_variance", []int{3}, "uint8")
	f.add("conv2d_2/kernel", []int{1, 1, 3, 4}, "float32")
	f.add("dense_1/kernel", []int{7, 2}, "uint8")
	f.add("dense_1/bias", []int{2}, "float32")
	var specs []any
	for _, w := range f.weights {
		specs = append(specs, w.spec)
	}
	f.model = map[string]any{
		"format": "layers-model", "generatedBy": "keras v2.2.4", "convertedBy": "TensorFlow.js Converter v1.0.0",
		"modelTopology": map[string]any{
			"keras_version": "2.2.4", "backend": "tensorflow",
			"model_config": map[string]any{"class_name": "Model", "config": map[string]any{
				"name": "tiny", "layers": layers,
				"input_layers": []any{[]any{"input_1", 0, 0}}, "output_layers": []any{[]any{"dense_1", 0, 0}},
			}},
		},
		"weightsManifest": []any{map[string]any{"paths": []string{"group1-shard1of2.bin", "group1-shard2of2.bin"}, "weights": specs}},
	}
	return f
}

// add appends a weight stored as dtype, with values that follow a simple pattern.
func (f *fixture) add(name string, shape []int, dtype string) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	w := fixtureWeight{spec: map[string]any{"name": name, "shape": shape, "dtype": "float32"}}
	const min, scale = -0.5, 0.01
	for i := range n {
		switch dtype {
		case "float32":
			v := float32(i)*0.25 - 1
			w.data = binary.LittleEndian.AppendUint32(w.data, math.Float32bits(v))
			w.want = append(w.want, v)
		case "uint8":
			q := byte(i * 7 % 256)
			w.data = append(w.data, q)
			w.want = append(w.want, float32(min+scale*float64(q)))
		case "uint16":
			q := uint16(i*1000 + 3)
			w.data = binary.LittleEndian.AppendUint16(w.data, q)
			w.want = append(w.want, float32(min+scale*float64(q)))
		case "float16":
			h := []uint16{0x3c00, 0xc000, 0x3555}[i%3] // 1, -2, 0.333251953125
			w.data = binary.LittleEndian.AppendUint16(w.data, h)
			w.want = append(w.want, []float32{1, -2, 0.333251953125}[i%3])
		}
	}
	switch dtype {
	case "uint8", "uint16":
		w.spec["quantization"] = map[string]any{"dtype": dtype, "min": min, "scale": scale}
	case "float16":
		w.spec["quantization"] = map[string]any{"dtype": dtype}
	}
	f.weights = append(f.weights, w)
}

// shards returns the weights' bytes split into the two shard files.
func (f *fixture) shards() (a, b []byte) {
	var all []byte
	for _, w := range f.weights {
		all = append(all, w.data...)
	}
	return all[:40:40], all[40:]
}

// fsys returns the fixture as model.json and binary shards.
func (f *fixture) fsys(t testing.TB) fstest.MapFS {
	js, err := json.Marshal(f.model)
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.shards()
	return fstest.MapFS{
		"m/model.json":           {Data: js},
		"m/group1-shard1of2.bin": {Data: a},
		"m/group1-shard2of2.bin": {Data: b},
	}
}

// minJS rewrites strict JSON the way a minifier writes a JavaScript literal: bare keys, !0 and
// !1, numbers without a leading zero.
func minJS(js []byte) []byte {
	s := regexp.MustCompile(`"([A-Za-z_$][A-Za-z0-9_$]*)":`).ReplaceAll(js, []byte("$1:"))
	s = bytes.ReplaceAll(s, []byte(":true"), []byte(":!0"))
	s = bytes.ReplaceAll(s, []byte(":false"), []byte(":!1"))
	s = regexp.MustCompile(`([:,\[-])0\.`).ReplaceAll(s, []byte("$1."))
	return s
}

// wrapJS wraps a literal the way nsfwjs's browserify bundles do.
func wrapJS(literal string) []byte {
	return []byte(`!function(a){if("object"==typeof exports&&"undefined"!=typeof module)module.exports=a();` +
		`else{(this).model=a()}}(function(){return function a(n,i,e){var c=i[o]={exports:{}};return t}` +
		`({1:[function(a,n,i){n.exports=` + literal + `},{}]},{},[1])(1)});`)
}

// minFS returns the fixture in nsfwjs's layout: model.min.js and base64 shards in .min.js files.
func (f *fixture) minFS(t testing.TB) fstest.MapFS {
	js, err := json.Marshal(f.model)
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.shards()
	return fstest.MapFS{
		"model.min.js":                {Data: wrapJS(string(minJS(js)))},
		"group1-shard1of2.bin.min.js": {Data: wrapJS(`"` + base64.StdEncoding.EncodeToString(a) + `"`)},
		"group1-shard2of2.bin.min.js": {Data: wrapJS(`"` + base64.StdEncoding.EncodeToString(b) + `"`)},
	}
}

func TestDecode(t *testing.T) {
	f := newFixture()
	m, err := Decode(f.fsys(t), "m/model.json")
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != "layers-model" || m.KerasVersion != "2.2.4" || m.Name != "tiny" {
		t.Errorf("model header %q %q %q", m.Format, m.KerasVersion, m.Name)
	}
	if !reflect.DeepEqual(m.Inputs, []string{"input_1"}) || !reflect.DeepEqual(m.Outputs, []string{"dense_1"}) {
		t.Errorf("inputs %v outputs %v", m.Inputs, m.Outputs)
	}
	shapes := map[string][]int{
		"input_1": {-1, 6, 6, 2}, "conv2d_1": {-1, 6, 6, 3}, "batch_normalization_1": {-1, 6, 6, 3},
		"max_pooling2d_1": {-1, 3, 3, 3}, "average_pooling2d_1": {-1, 3, 3, 3}, "conv2d_2": {-1, 3, 3, 4},
		"mixed0": {-1, 3, 3, 7}, "global_average_pooling2d_1": {-1, 7}, "dense_1": {-1, 2},
	}
	for name, want := range shapes {
		if l := m.Layer(name); l == nil || !reflect.DeepEqual(l.Shape, want) {
			t.Errorf("layer %s: %+v, want shape %v", name, l, want)
		}
	}
}

func TestDecodeShapesAndWeights(t *testing.T) {
	f := newFixture()
	m, err := Decode(f.fsys(t), "m/model.json")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, l := range m.Layers {
		order = append(order, l.Name)
	}
	if order[0] != "input_1" || order[len(order)-1] != "dense_1" || len(order) != 11 {
		t.Errorf("layer order %v", order)
	}
	c := m.Layer("conv2d_1")
	if c.Trainable || c.Config.Filters != 3 || c.Config.KernelSize != [2]int{3, 3} || c.Config.Padding != "same" || !c.Config.UseBias {
		t.Errorf("conv2d_1: trainable %v config %+v", c.Trainable, c.Config)
	}
	bn := m.Layer("batch_normalization_1").Config
	if bn.Scale || !bn.Center || bn.Epsilon != 0.001 || bn.Axis != 3 {
		t.Errorf("batch_normalization_1 config %+v", bn)
	}
	if p := m.Layer("max_pooling2d_1").Config; p.PoolSize != [2]int{3, 3} || p.Strides != [2]int{2, 2} {
		t.Errorf("max_pooling2d_1 config %+v", p)
	}
	if len(m.Weights) != len(f.weights) {
		t.Fatalf("%d weights, want %d", len(m.Weights), len(f.weights))
	}
	for i, w := range m.Weights {
		if got, want := w.Float32(), f.weights[i].want; !reflect.DeepEqual(got, want) {
			t.Errorf("weight %s: %v, want %v", w.Name, got, want)
		}
	}
	if w := m.Layer("batch_normalization_1").Weights["moving_variance"]; w == nil || w.Quantization.DType != "uint8" {
		t.Errorf("moving_variance: %+v", w)
	}
}

func TestDecodeMinJS(t *testing.T) {
	f := newFixture()
	want, err := Decode(f.fsys(t), "m/model.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(f.minFS(t), "model.min.js")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range want.Layers {
		g := got.Layers[i]
		if g.Name != l.Name || g.Class != l.Class || !reflect.DeepEqual(g.Config, l.Config) || !reflect.DeepEqual(g.Shape, l.Shape) {
			t.Errorf("layer %d: %s %+v, want %s %+v", i, g.Name, g.Config, l.Name, l.Config)
		}
	}
	for i, w := range want.Weights {
		if !bytes.Equal(got.Weights[i].Data, w.Data) || !reflect.DeepEqual(got.Weights[i].Quantization, w.Quantization) {
			t.Errorf("weight %s differs", w.Name)
		}
	}
}

func TestDecodeConfig(t *testing.T) {
	f := newFixture()
	js, _ := json.Marshal(f.model)
	m, err := DecodeConfig(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Weights) != len(f.weights) || m.Weights[0].Data != nil {
		t.Errorf("DecodeConfig: %d weights, first data %v", len(m.Weights), m.Weights[0].Data)
	}
}

func TestDecodeSequential(t *testing.T) {
	dense := func(name string, extra map[string]any) map[string]any {
		c := map[string]any{"name": name, "units": 2, "use_bias": false}
		for k, v := range extra {
			c[k] = v
		}
		return map[string]any{"class_name": "Dense", "config": c}
	}
	for _, config := range []any{
		// Keras before 2.2.3: the config is the list of layers, named only in their configs.
		[]any{dense("d1", map[string]any{"batch_input_shape": []any{nil, 3}}), dense("d2", nil)},
		map[string]any{"name": "seq", "layers": []any{dense("d1", map[string]any{"batch_input_shape": []any{nil, 3}}), dense("d2", nil)}},
	} {
		js, _ := json.Marshal(map[string]any{"modelTopology": map[string]any{"class_name": "Sequential", "config": config},
			"weightsManifest": []any{map[string]any{"paths": []string{"w.bin"}, "weights": []any{
				map[string]any{"name": "d1/kernel", "shape": []int{3, 2}, "dtype": "float32"},
				map[string]any{"name": "d2/kernel:0", "shape": []int{2, 2}, "dtype": "float32"},
			}}}})
		m, err := Decode(fstest.MapFS{"model.json": {Data: js}, "w.bin": {Data: make([]byte, 40)}}, "model.json")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range m.Layers {
			names = append(names, l.Name+":"+strings.Join(l.Inputs, "+"))
		}
		if want := []string{"d1_input:", "d1:d1_input", "d2:d1"}; !reflect.DeepEqual(names, want) {
			t.Errorf("layers %v, want %v", names, want)
		}
		if !reflect.DeepEqual(m.Layer("d2").Shape, []int{-1, 2}) || m.Layer("d2").Weights["kernel"] == nil {
			t.Errorf("d2: shape %v weights %v", m.Layer("d2").Shape, m.Layer("d2").Weights)
		}
	}
}

func TestDecodeKeras3(t *testing.T) {
	tensor := func(layer string) map[string]any {
		return map[string]any{"class_name": "__keras_tensor__", "config": map[string]any{"shape": []any{nil, 4, 4, 1}, "keras_history": []any{layer, 0, 0}}}
	}
	call := func(args ...any) []any { return []any{map[string]any{"args": args, "kwargs": map[string]any{}}} }
	layers := []any{
		map[string]any{"name": "in", "class_name": "InputLayer", "config": map[string]any{"name": "in", "batch_shape": []any{nil, 4, 4, 1},
			"dtype": map[string]any{"module": "keras", "class_name": "DTypePolicy", "config": map[string]any{"name": "float32"}}}, "inbound_nodes": []any{}},
		map[string]any{"name": "a", "class_name": "Activation", "config": map[string]any{"name": "a", "activation": "relu"}, "inbound_nodes": call(tensor("in"))},
		map[string]any{"name": "b", "class_name": "Activation", "config": map[string]any{"name": "b", "activation": "tanh"}, "inbound_nodes": call(tensor("in"))},
		map[string]any{"name": "cat", "class_name": "Concatenate", "config": map[string]any{"name": "cat", "axis": -1}, "inbound_nodes": call([]any{tensor("a"), tensor("b")})},
	}
	js, _ := json.Marshal(map[string]any{"modelTopology": map[string]any{"model_config": map[string]any{"class_name": "Functional",
		"config": map[string]any{"name": "k3", "layers": layers, "input_layers": []any{"in", 0, 0}, "output_layers": []any{"cat", 0, 0}}}}})
	m, err := DecodeConfig(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if cat := m.Layer("cat"); !reflect.DeepEqual(cat.Inputs, []string{"a", "b"}) || !reflect.DeepEqual(cat.Shape, []int{-1, 4, 4, 2}) {
		t.Errorf("cat: inputs %v shape %v", cat.Inputs, cat.Shape)
	}
	if !reflect.DeepEqual(m.Inputs, []string{"in"}) || !reflect.DeepEqual(m.Outputs, []string{"cat"}) {
		t.Errorf("inputs %v outputs %v", m.Inputs, m.Outputs)
	}
}

// mutate returns a copy of the fixture's model JSON changed by edit, which gets the layers.
func mutate(t *testing.T, edit func(model map[string]any, layers []any)) []byte {
	f := newFixture()
	layers := f.model["modelTopology"].(map[string]any)["model_config"].(map[string]any)["config"].(map[string]any)["layers"].([]any)
	edit(f.model, layers)
	js, err := json.Marshal(f.model)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestDecodeErrors(t *testing.T) {
	cfg := func(layers []any, i int) map[string]any { return layers[i].(map[string]any)["config"].(map[string]any) }
	manifest := func(model map[string]any) map[string]any {
		return model["weightsManifest"].([]any)[0].(map[string]any)
	}
	good := newFixture()
	a, b := good.shards()
	tests := []struct {
		name        string
		model       []byte
		shard1      []byte
		shard2      []byte
		unsupported string // a substring of the *UnsupportedError, or ""
		format      string // a substring of the *FormatError, or ""
		eof         bool   // errors.Is io.ErrUnexpectedEOF
		file        string // the error's file
	}{
		{name: "short shard", shard2: b[:len(b)-3], format: `weight "dense_1/bias" needs 8 bytes`, eof: true, file: "m/group1-shard2of2.bin"},
		{name: "long shard", shard2: append(append([]byte{}, b...), 1, 2), format: "2 bytes after the last weight", file: "m/group1-shard2of2.bin"},
		{name: "unknown class", model: mutate(t, func(_ map[string]any, l []any) { l[3].(map[string]any)["class_name"] = "DepthwiseConv2D" }),
			unsupported: `layer "activation_1": unsupported: layer class "DepthwiseConv2D"`},
		{name: "dilation", model: mutate(t, func(_ map[string]any, l []any) { cfg(l, 1)["dilation_rate"] = []int{2, 2} }),
			unsupported: "dilation_rate [2 2]"},
		{name: "channels first", model: mutate(t, func(_ map[string]any, l []any) { cfg(l, 1)["data_format"] = "channels_first" }),
			unsupported: `data_format "channels_first"`},
		{name: "activation", model: mutate(t, func(_ map[string]any, l []any) { cfg(l, 3)["activation"] = "gelu" }),
			unsupported: `activation "gelu"`},
		{name: "graph model", model: []byte(`{"format":"graph-model","modelTopology":{"node":[]}}`), unsupported: "graph models"},
		{name: "syntax", model: []byte(`{"format": "layers-model", "modelTopology": {"model_config": }}`), format: "model.json at offset 61: unexpected '}'"},
		{name: "type", model: []byte(`{"modelTopology": {"model_config": {"class_name": 7}}}`), format: "model.json at offset"},
		{name: "trailing", model: []byte(`{"modelTopology": {}} x`), format: "data after the model's JSON object"},
		{name: "truncated json", model: []byte(`{"modelTopology": {"a": [1, 2`), format: "input ends inside a value", eof: true},
		{name: "kernel shape", model: mutate(t, func(m map[string]any, _ []any) {
			manifest(m)["weights"].([]any)[0].(map[string]any)["shape"] = []int{3, 3, 5, 3}
		}), format: `weight "conv2d_1/kernel" has shape [3 3 5 3], want [3 3 2 3]`},
		{name: "missing weight", model: mutate(t, func(m map[string]any, _ []any) {
			ws := manifest(m)["weights"].([]any)
			manifest(m)["weights"] = ws[1:]
		}), format: `weight "conv2d_1/kernel" is missing`},
		{name: "stray weight", model: mutate(t, func(m map[string]any, _ []any) {
			manifest(m)["weights"].([]any)[0].(map[string]any)["name"] = "nowhere/kernel"
		}), format: `weight "nowhere/kernel" belongs to no layer`},
		{name: "unknown input", model: mutate(t, func(_ map[string]any, l []any) {
			l[3].(map[string]any)["inbound_nodes"] = []any{[]any{[]any{"nowhere", 0, 0, map[string]any{}}}}
		}), format: `input "nowhere" is not a layer`},
		{name: "cycle", model: mutate(t, func(_ map[string]any, l []any) {
			l[1].(map[string]any)["inbound_nodes"] = []any{[]any{[]any{"activation_1", 0, 0, map[string]any{}}}}
		}), format: "cycle"},
		{name: "shared layer", model: mutate(t, func(_ map[string]any, l []any) {
			n := l[3].(map[string]any)["inbound_nodes"].([]any)
			l[3].(map[string]any)["inbound_nodes"] = append(n, n[0])
		}), unsupported: "shared layers"},
		{name: "escaping path", model: mutate(t, func(m map[string]any, _ []any) {
			manifest(m)["paths"] = []string{"../../etc/passwd", "group1-shard2of2.bin"}
		}), format: "leaves the model's directory"},
		{name: "uint4", model: mutate(t, func(m map[string]any, _ []any) {
			manifest(m)["weights"].([]any)[0].(map[string]any)["quantization"] = map[string]any{"dtype": "uint4", "min": 0, "scale": 1}
		}), unsupported: `quantized to "uint4"`},
		{name: "no min", model: mutate(t, func(m map[string]any, _ []any) {
			manifest(m)["weights"].([]any)[0].(map[string]any)["quantization"] = map[string]any{"dtype": "uint8"}
		}), format: "without min and scale"},
		{name: "small input", model: mutate(t, func(_ map[string]any, l []any) {
			cfg(l, 0)["batch_input_shape"] = []any{nil, 2, 2, 2}
			cfg(l, 1)["padding"] = "valid"
		}), format: `layer "conv2d_1": input size 2 is smaller than the window 3`},
		{name: "concat sizes", model: mutate(t, func(_ map[string]any, l []any) { cfg(l, 4)["padding"] = "valid" }),
			format: `layer "mixed0": input 1 has shape [-1 3 3 4], input 0 has [-1 2 2 3]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := good.fsys(t)
			if tt.model != nil {
				fsys["m/model.json"] = &fstest.MapFile{Data: tt.model}
			}
			if tt.shard1 == nil {
				tt.shard1 = a
			}
			fsys["m/group1-shard1of2.bin"] = &fstest.MapFile{Data: tt.shard1}
			if tt.shard2 != nil {
				fsys["m/group1-shard2of2.bin"] = &fstest.MapFile{Data: tt.shard2}
			}
			_, err := Decode(fsys, "m/model.json")
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			var fe *FormatError
			var ue *UnsupportedError
			switch {
			case tt.unsupported != "":
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.unsupported) {
					t.Errorf("got %v, want an UnsupportedError with %q", err, tt.unsupported)
				}
			case !errors.As(err, &fe) || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.format):
				t.Errorf("got %v, want a FormatError with %q", err, tt.format)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) != tt.eof {
				t.Errorf("errors.Is(err, io.ErrUnexpectedEOF) = %v, want %v", !tt.eof, tt.eof)
			}
			if tt.file != "" && (fe == nil || fe.File != tt.file) {
				t.Errorf("error in file %v, want %s", fe, tt.file)
			}
			if !strings.HasPrefix(err.Error(), "tfjs: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestDecodeMissingShard(t *testing.T) {
	fsys := newFixture().fsys(t)
	delete(fsys, "m/group1-shard2of2.bin")
	_, err := Decode(fsys, "m/model.json")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "m/group1-shard2of2.bin") {
		t.Errorf("got %v, want fs.ErrNotExist naming the shard", err)
	}
}

func TestDecodeBadBase64(t *testing.T) {
	fsys := newFixture().minFS(t)
	fsys["group1-shard2of2.bin.min.js"] = &fstest.MapFile{Data: wrapJS(`"AAAA*AAA"`)}
	_, err := Decode(fsys, "model.min.js")
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != "group1-shard2of2.bin.min.js" || !strings.Contains(err.Error(), "malformed base64") {
		t.Fatalf("got %v", err)
	}
	if data := fsys["group1-shard2of2.bin.min.js"].Data; data[fe.Offset] != '*' {
		t.Errorf("offset %d points at %q, not at the bad character", fe.Offset, data[fe.Offset])
	}
}

func TestRelaxed(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{a:1,"b":'x',c:!0,d:!1,e:void 0,f:null}`, `{"a":1,"b":"x","c":true,"d":false,"e":null,"f":null}`},
		{`[.5,-.25,1.,+3,1e-7,4E+2,-0]`, `[0.5,-0.25,1,3,1e-07,400,-0]`},
		{`{ a : [ 1 , 2 , ] , }`, `{"a":[1,2]}`},
		{`{'k\'ey':"a\"b\\c\u00e9\x41\n"}`, `{"k'ey":"a\"b\\céA\n"}`},
		{`{"s":"\ud83d\ude00"}`, `{"s":"😀"}`},
		{`/* c */ {a: // line
		1}`, `{"a":1}`},
		{`{1:2}`, `{"1":2}`},
		{`[12345678901234567890]`, `[1.2345678901234567e+19]`},
	}
	for _, tt := range tests {
		got, _, _, err := relaxed([]byte(tt.in), 0)
		if err != nil || string(got) != tt.want {
			t.Errorf("relaxed(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`{a:}`, `[1 2]`, `{a 1}`, `!2`, `void 1`, `"abc`, `[.]`, `undefined`, `{a:1`, strings.Repeat("[", 300)} {
		if _, _, _, err := relaxed([]byte(bad), 0); err == nil {
			t.Errorf("relaxed(%.20s) did not fail", bad)
		}
	}
}

func TestFloat16(t *testing.T) {
	for h, want := range map[uint16]float32{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 1.0 / (1 << 24), 0x8001: -1.0 / (1 << 24),
		0x0400: 1.0 / (1 << 14), 0x3555: 0.333251953125, 0x7c00: float32(math.Inf(1)), 0xfc00: float32(math.Inf(-1)),
	} {
		if got := Float16(h); got != want {
			t.Errorf("Float16(%#04x) = %v, want %v", h, got, want)
		}
	}
	if v := Float16(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("Float16(0x7e00) = %v, want NaN", v)
	}
}
