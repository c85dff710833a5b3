package tfjs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxFile bounds the size of a model file or a shard.
const maxFile = 1 << 31

// Decode reads the layers model whose model file (model.json, or a model.min.js module) is at
// name in fsys, and its weights from the shards the manifest lists, opened relative to the model
// file's directory. A manifest path p is read from the file p if it exists, else from p+".min.js"
// or p+".js", as base64 wrapped in a JavaScript module.
func Decode(fsys fs.FS, name string) (*Model, error) {
	data, err := readAll(fsys, name)
	if err != nil {
		return nil, err
	}
	m, groups, err := decodeModel(data)
	if err != nil {
		return nil, inFile(err, name)
	}
	dir := path.Dir(name)
	for gi, g := range groups {
		if err := readGroup(fsys, dir, gi, g); err != nil {
			return nil, inFile(err, name)
		}
	}
	return m, nil
}

// DecodeFile is Decode for a model file in the operating system's file system.
func DecodeFile(name string) (*Model, error) {
	return Decode(os.DirFS(filepath.Dir(name)), filepath.Base(name))
}

// DecodeConfig reads a model file from r: the topology and the weights manifest, checked, but
// not the weights. The weights of the model it returns have no Data.
func DecodeConfig(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, &FormatError{Offset: maxFile, Msg: "model file larger than 2 GiB"}
	}
	m, _, err := decodeModel(data)
	return m, err
}

// readAll reads a whole file of fsys, wrapping a file that is too long in a *FormatError.
func readAll(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("tfjs: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("tfjs: %s: %w", name, err)
	}
	if len(data) > maxFile {
		return nil, &FormatError{File: name, Offset: maxFile, Msg: "file larger than 2 GiB"}
	}
	return data, nil
}

// modelJSON is the top level of a model file.
type modelJSON struct {
	Format          string        `json:"format"`
	GeneratedBy     string        `json:"generatedBy"`
	ConvertedBy     string        `json:"convertedBy"`
	ModelTopology   *topologyJSON `json:"modelTopology"`
	WeightsManifest []groupJSON   `json:"weightsManifest"`
}

// groupJSON is one group of the weights manifest: shards and the weights stored in them.
type groupJSON struct {
	Paths   []string     `json:"paths"`
	Weights []weightJSON `json:"weights"`
}

// weightJSON is one weight of the manifest.
type weightJSON struct {
	Name         string            `json:"name"`
	Shape        []int             `json:"shape"`
	DType        string            `json:"dtype"`
	Quantization *quantizationJSON `json:"quantization"`
}

// quantizationJSON is a weight's quantization.
type quantizationJSON struct {
	DType string   `json:"dtype"`
	Min   *float64 `json:"min"`
	Scale *float64 `json:"scale"`
}

// group is a checked manifest group.
type group struct {
	paths   []string
	weights []*Weight
}

// topologyJSON is modelTopology: Keras's model JSON, either whole (with model_config) or only
// its model config.
type topologyJSON struct {
	KerasVersion string          `json:"keras_version"`
	Backend      string          `json:"backend"`
	ModelConfig  *classJSON      `json:"model_config"`
	ClassName    string          `json:"class_name"`
	Config       modelConfigJSON `json:"config"`
	Node         json.RawMessage `json:"node"`
}

// classJSON is a Keras model: a class name and its config.
type classJSON struct {
	ClassName string          `json:"class_name"`
	Config    modelConfigJSON `json:"config"`
}

// layerJSON is one layer of a model config.
type layerJSON struct {
	Name         string            `json:"name"`
	ClassName    string            `json:"class_name"`
	Config       json.RawMessage   `json:"config"`
	InboundNodes []json.RawMessage `json:"inbound_nodes"`
}

// modelConfigJSON is the config of a Functional model (class "Model" or "Functional"), or of a
// Sequential model, which Keras before 2.2.3 writes as the list of its layers.
type modelConfigJSON struct {
	Name         string          `json:"name"`
	Layers       []layerJSON     `json:"layers"`
	InputLayers  json.RawMessage `json:"input_layers"`
	OutputLayers json.RawMessage `json:"output_layers"`
}

// UnmarshalJSON reads a model config written as an object or as a list of layers. The errors of
// a list lose their offsets.
func (c *modelConfigJSON) UnmarshalJSON(data []byte) error {
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		type plain modelConfigJSON // without this method
		return json.Unmarshal(data, (*plain)(c))
	}
	if err := json.Unmarshal(data, &c.Layers); err != nil {
		return errors.New(err.Error())
	}
	return nil
}

// decodeModel decodes a model file: the topology and the manifest, without weight data. Its
// errors carry no file name.
func decodeModel(data []byte) (*Model, []group, error) {
	js, omap, err := extractJSON(data)
	if err != nil {
		return nil, nil, err
	}
	var top modelJSON
	if err := json.Unmarshal(js, &top); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, nil, &FormatError{Offset: omap.source(se.Offset), Msg: err.Error()}
		case errors.As(err, &te):
			return nil, nil, &FormatError{Offset: omap.source(te.Offset), Msg: err.Error()}
		}
		return nil, nil, &FormatError{Offset: -1, Msg: err.Error()}
	}
	if top.Format == "graph-model" {
		return nil, nil, &UnsupportedError{Feature: `graph models (format "graph-model"): only layers models are read`}
	}
	topo := top.ModelTopology
	if topo == nil {
		return nil, nil, &FormatError{Offset: -1, Msg: "no modelTopology"}
	}
	if topo.Node != nil {
		return nil, nil, &UnsupportedError{Feature: "graph models (a GraphDef topology): only layers models are read"}
	}
	mc := classJSON{topo.ClassName, topo.Config}
	if topo.ModelConfig != nil {
		mc = *topo.ModelConfig
	}
	m := &Model{Format: top.Format, GeneratedBy: top.GeneratedBy, ConvertedBy: top.ConvertedBy,
		KerasVersion: topo.KerasVersion, Backend: topo.Backend}
	if err := m.readTopology(mc); err != nil {
		return nil, nil, err
	}
	groups, err := m.readManifest(top.WeightsManifest)
	if err != nil {
		return nil, nil, err
	}
	return m, groups, nil
}

// extractJSON finds the model's JSON in a model file: the whole file, or the object literal
// that a JavaScript module assigns to exports.
func extractJSON(data []byte) ([]byte, offsetMap, error) {
	start := len(data) - len(bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n"))
	module := start >= len(data) || data[start] != '{'
	if module {
		var ok bool
		if start, ok = findExport(data, '{'); !ok {
			return nil, nil, &FormatError{Offset: 0, Msg: "neither a JSON object nor a JavaScript module that exports one"}
		}
	}
	js, end, omap, err := relaxed(data, start)
	if err != nil {
		return nil, nil, err
	}
	if !module {
		if rest := bytes.TrimSpace(data[end:]); len(rest) > 0 {
			return nil, nil, &FormatError{Offset: int64(len(data) - len(rest)), Msg: "data after the model's JSON object"}
		}
	}
	return js, omap, nil
}

// findExport returns the offset of the first literal that starts with the byte open and is
// assigned to exports ("exports=" then open, spaces allowed).
func findExport(data []byte, open byte) (int, bool) {
	for i := 0; ; {
		k := bytes.Index(data[i:], []byte("exports"))
		if k < 0 {
			return 0, false
		}
		j := i + k + len("exports")
		j += len(data[j:]) - len(bytes.TrimLeft(data[j:], " \t\r\n"))
		if j < len(data) && data[j] == '=' && (j+1 >= len(data) || data[j+1] != '=') {
			j++
			j += len(data[j:]) - len(bytes.TrimLeft(data[j:], " \t\r\n"))
			if j < len(data) && data[j] == open {
				return j, true
			}
		}
		i = j
	}
}

// readTopology reads the model config: its layers, their inputs, configs and shapes.
func (m *Model) readTopology(mc classJSON) error {
	fn := mc.Config
	sequential := false
	switch mc.ClassName {
	case "Model", "Functional":
	case "Sequential":
		sequential = true
	case "":
		return &FormatError{Offset: -1, Msg: "modelTopology has no model class"}
	default:
		return &UnsupportedError{Feature: fmt.Sprintf("model class %q", mc.ClassName)}
	}
	m.Name = fn.Name
	if len(fn.Layers) == 0 {
		return &FormatError{Offset: -1, Msg: "model has no layers"}
	}
	m.index = map[string]*Layer{}
	for i, lj := range fn.Layers {
		l, err := newLayer(i, lj)
		if err != nil {
			return err
		}
		if m.index[l.Name] != nil {
			return layerError(l.Name, "name used twice")
		}
		if !sequential {
			if l.Inputs, err = parseInbound(l.Name, lj.InboundNodes); err != nil {
				return err
			}
		}
		m.index[l.Name] = l
		m.Layers = append(m.Layers, l)
	}
	if sequential {
		if err := m.chainSequential(); err != nil {
			return err
		}
	} else {
		var err error
		if m.Inputs, err = parseRefs("input_layers", fn.InputLayers); err != nil {
			return err
		}
		if m.Outputs, err = parseRefs("output_layers", fn.OutputLayers); err != nil {
			return err
		}
	}
	return m.sortAndShape()
}

// newLayer reads one layer's name, class and config.
func newLayer(i int, lj layerJSON) (*Layer, error) {
	name := lj.Name
	if name == "" { // Sequential models before Keras 2.2.3 name layers only in their config.
		var c struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(lj.Config, &c)
		name = c.Name
	}
	if name == "" {
		return nil, &FormatError{Offset: -1, Msg: fmt.Sprintf("layer %d has no name", i)}
	}
	switch lj.ClassName {
	case "":
		return nil, layerError(name, "no class_name")
	case "Model", "Functional", "Sequential":
		return nil, unsupported(name, "nested models")
	}
	cfg, trainable, err := parseConfig(name, lj.ClassName, lj.Config)
	if err != nil {
		return nil, err
	}
	return &Layer{Name: name, Class: lj.ClassName, Trainable: trainable, Config: cfg,
		RawConfig: lj.Config, Weights: map[string]*Weight{}}, nil
}

// chainSequential connects a Sequential model's layers in order, adding the InputLayer Keras
// adds for the first layer's batch_input_shape.
func (m *Model) chainSequential() error {
	first := m.Layers[0]
	if first.Class != "InputLayer" {
		var c struct {
			Batch []*int `json:"batch_input_shape"`
			Shape []*int `json:"batch_shape"`
			DType any    `json:"dtype"`
		}
		_ = json.Unmarshal(first.RawConfig, &c)
		raw, _ := json.Marshal(map[string]any{"batch_input_shape": c.Batch, "batch_shape": c.Shape})
		name := first.Name + "_input"
		cfg, _, err := parseConfig(name, "InputLayer", raw)
		if err != nil {
			return layerError(first.Name, "the first layer of a Sequential model needs batch_input_shape")
		}
		in := &Layer{Name: name, Class: "InputLayer", Config: cfg, RawConfig: raw, Weights: map[string]*Weight{}}
		if m.index[name] != nil {
			return layerError(name, "name used twice")
		}
		m.index[name] = in
		m.Layers = slices.Insert(m.Layers, 0, in)
	}
	for i, l := range m.Layers[1:] {
		l.Inputs = []string{m.Layers[i].Name}
	}
	m.Inputs = []string{m.Layers[0].Name}
	m.Outputs = []string{m.Layers[len(m.Layers)-1].Name}
	return nil
}

// parseInbound reads the layers a layer reads from its inbound_nodes, as Keras 2 writes them
// ([[["name", node, tensor, {kwargs}], ...]]) or Keras 3 ([{"args": [...], "kwargs": {...}}]).
func parseInbound(layer string, nodes []json.RawMessage) ([]string, error) {
	switch len(nodes) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, unsupported(layer, "shared layers (called %d times)", len(nodes))
	}
	node := bytes.TrimSpace(nodes[0])
	var refs [][]any
	if bytes.HasPrefix(node, []byte("{")) {
		var call struct {
			Args json.RawMessage `json:"args"`
		}
		var args any
		if json.Unmarshal(node, &call) != nil || json.Unmarshal(call.Args, &args) != nil {
			return nil, layerError(layer, "malformed inbound node")
		}
		refs = kerasHistory(args, refs)
	} else {
		var list []json.RawMessage
		if err := json.Unmarshal(node, &list); err != nil {
			return nil, layerError(layer, "malformed inbound node")
		}
		for _, r := range list {
			var ref []any
			if err := json.Unmarshal(r, &ref); err != nil {
				return nil, layerError(layer, "malformed inbound node")
			}
			refs = append(refs, ref)
		}
	}
	var inputs []string
	for _, ref := range refs {
		name, err := refName(ref)
		if err != nil {
			return nil, inLayer(err, layer)
		}
		inputs = append(inputs, name)
	}
	if len(inputs) == 0 {
		return nil, layerError(layer, "inbound node names no input")
	}
	return inputs, nil
}

// kerasHistory collects, in order, the keras_history of every Keras 3 tensor in a call's args.
func kerasHistory(v any, refs [][]any) [][]any {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			refs = kerasHistory(e, refs)
		}
	case map[string]any:
		if v["class_name"] == "__keras_tensor__" {
			cfg, _ := v["config"].(map[string]any)
			h, _ := cfg["keras_history"].([]any)
			return append(refs, h)
		}
	}
	return refs
}

// refName checks a reference to a layer's output, [name, node index, tensor index, ...], and
// returns the name. Only the first output of a layer's first call can be read.
func refName(ref []any) (string, error) {
	if len(ref) < 3 {
		return "", &FormatError{Offset: -1, Msg: fmt.Sprintf("malformed reference %v", ref)}
	}
	name, ok := ref[0].(string)
	node, ok2 := ref[1].(float64)
	tensor, ok3 := ref[2].(float64)
	if !ok || !ok2 || !ok3 || name == "" {
		return "", &FormatError{Offset: -1, Msg: fmt.Sprintf("malformed reference %v", ref)}
	}
	if node != 0 || tensor != 0 {
		return "", &UnsupportedError{Feature: fmt.Sprintf("reference to output %v of call %v of %q", tensor, node, name)}
	}
	return name, nil
}

// inLayer prefixes an error from refName with the layer it was found in.
func inLayer(err error, layer string) error {
	var fe *FormatError
	var ue *UnsupportedError
	switch {
	case errors.As(err, &fe):
		fe.Msg = "layer " + strconv.Quote(layer) + ": " + fe.Msg
	case errors.As(err, &ue):
		ue.Layer = layer
	}
	return err
}

// parseRefs reads input_layers or output_layers: a list of references, or one reference.
func parseRefs(key string, raw json.RawMessage) ([]string, error) {
	var list []any
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		return nil, &FormatError{Offset: -1, Msg: "model config has no " + key}
	}
	if _, single := list[0].(string); single {
		list = []any{list}
	}
	var names []string
	for _, r := range list {
		ref, _ := r.([]any)
		name, err := refName(ref)
		if err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// sortAndShape checks that the model's references name its layers, orders the layers so that
// each follows its inputs, and infers every layer's output shape.
func (m *Model) sortAndShape() error {
	for _, names := range [][]string{m.Inputs, m.Outputs} {
		for _, n := range names {
			if m.index[n] == nil {
				return &FormatError{Offset: -1, Msg: fmt.Sprintf("model input or output %q is not a layer", n)}
			}
		}
	}
	for _, n := range m.Inputs {
		if m.index[n].Class != "InputLayer" {
			return layerError(n, "model input is a %s, not an InputLayer", m.index[n].Class)
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[*Layer]int{}
	order := make([]*Layer, 0, len(m.Layers))
	var visit func(l *Layer) error
	visit = func(l *Layer) error {
		switch state[l] {
		case done:
			return nil
		case visiting:
			return layerError(l.Name, "the graph has a cycle through this layer")
		}
		state[l] = visiting
		for _, n := range l.Inputs {
			in := m.index[n]
			if in == nil {
				return layerError(l.Name, "input %q is not a layer", n)
			}
			if err := visit(in); err != nil {
				return err
			}
		}
		state[l] = done
		order = append(order, l)
		if l.Class != "InputLayer" && len(l.Inputs) == 0 {
			return layerError(l.Name, "no inbound nodes")
		}
		ins := make([][]int, len(l.Inputs))
		for i, n := range l.Inputs {
			ins[i] = m.index[n].Shape
		}
		var err error
		l.Shape, err = l.inferShape(ins)
		return err
	}
	// An explicit stack would avoid deep recursion, but the depth is bounded by the number of
	// layers, which the file size bounds; visiting in file order keeps the file's order.
	for _, l := range m.Layers {
		if err := visit(l); err != nil {
			return err
		}
	}
	m.Layers = order
	return nil
}

// readManifest checks the weights manifest and attaches each weight to its layer by name
// ("layer/weight", possibly under a scope "model/layer/weight", and possibly with a ":0" suffix).
func (m *Model) readManifest(man []groupJSON) ([]group, error) {
	seen := map[string]bool{}
	var groups []group
	for gi, gj := range man {
		g := group{paths: gj.Paths}
		if len(gj.Paths) == 0 && len(gj.Weights) > 0 {
			return nil, &FormatError{Offset: -1, Msg: fmt.Sprintf("weights manifest group %d has weights but no paths", gi)}
		}
		for _, wj := range gj.Weights {
			w := &Weight{Name: wj.Name, Shape: wj.Shape, DType: wj.DType}
			if err := checkWeight(w, wj.Quantization); err != nil {
				return nil, err
			}
			if w.Quantization == nil && wj.Quantization != nil {
				q := wj.Quantization
				w.Quantization = &Quantization{DType: q.DType}
				if q.Min != nil {
					w.Quantization.Min, w.Quantization.Scale = *q.Min, *q.Scale
				}
			}
			if seen[w.Name] {
				return nil, &FormatError{Offset: -1, Msg: fmt.Sprintf("weight %q listed twice", w.Name)}
			}
			seen[w.Name] = true
			layer, param := splitWeightName(w.Name)
			l := m.index[layer]
			if l == nil {
				return nil, &FormatError{Offset: -1, Msg: fmt.Sprintf("weight %q belongs to no layer", w.Name)}
			}
			if l.Weights[param] != nil {
				return nil, layerError(layer, "two weights named %q", param)
			}
			l.Weights[param] = w
			g.weights = append(g.weights, w)
			m.Weights = append(m.Weights, w)
		}
		groups = append(groups, g)
	}
	for _, l := range m.Layers {
		if len(l.Inputs) == 0 && len(l.Weights) == 0 {
			continue
		}
		in := l.Shape
		if len(l.Inputs) > 0 {
			in = m.index[l.Inputs[0]].Shape
		}
		if err := l.checkWeights(in); err != nil {
			return nil, err
		}
	}
	return groups, nil
}

// checkWeight checks a manifest entry's shape, dtype and quantization.
func checkWeight(w *Weight, q *quantizationJSON) error {
	if w.Name == "" {
		return &FormatError{Offset: -1, Msg: "weight without a name"}
	}
	if numElems(w.Shape) < 0 {
		return &FormatError{Offset: -1, Msg: fmt.Sprintf("weight %q has shape %v", w.Name, w.Shape)}
	}
	if w.DType != "float32" {
		return &UnsupportedError{Feature: fmt.Sprintf("weight %q of dtype %q", w.Name, w.DType)}
	}
	if q == nil {
		return nil
	}
	switch q.DType {
	case "uint8", "uint16":
		if q.Min == nil || q.Scale == nil {
			return &FormatError{Offset: -1, Msg: fmt.Sprintf("weight %q is quantized to %s without min and scale", w.Name, q.DType)}
		}
	case "float16":
	default:
		return &UnsupportedError{Feature: fmt.Sprintf("weight %q quantized to %q", w.Name, q.DType)}
	}
	return nil
}

// splitWeightName splits a weight's name into its layer's name and the weight's own name.
func splitWeightName(name string) (layer, param string) {
	if i := strings.LastIndexByte(name, ':'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return "", name
	}
	return parts[len(parts)-2], parts[len(parts)-1]
}

// shard is one shard file as read into a group's data.
type shard struct {
	file string // the file's name in the fs.FS
	end  int    // the offset in the group's data just past the shard's bytes
	b64  int    // the offset of the base64 text in a wrapped file, or -1 for a binary file
}

// fileOffset returns the offset in the shard's file of the byte k of its data: k itself, or for
// a wrapped shard the offset of the four base64 characters that hold the byte.
func (s shard) fileOffset(k int) int64 {
	if s.b64 < 0 {
		return int64(k)
	}
	return int64(s.b64 + k/3*4)
}

// readGroup reads a group's shards and gives each of its weights its bytes.
func readGroup(fsys fs.FS, dir string, gi int, g group) error {
	var data []byte
	var shards []shard
	for _, p := range g.paths {
		name := path.Join(dir, p)
		if path.IsAbs(p) || !fs.ValidPath(name) {
			return &FormatError{Offset: -1, Msg: fmt.Sprintf("weights manifest group %d: shard path %q leaves the model's directory", gi, p)}
		}
		b, s, err := readShard(fsys, name)
		if err != nil {
			return err
		}
		if len(data)+len(b) > maxFile {
			return &FormatError{File: s.file, Offset: -1, Msg: "shards of one group larger than 2 GiB"}
		}
		data = append(data, b...)
		s.end = len(data)
		shards = append(shards, s)
	}
	// at returns the shard holding data[off] (or, for off == len(data), the last one) and the
	// offset of that byte in its file.
	at := func(off int) (string, int64) {
		i, _ := slices.BinarySearchFunc(shards, off+1, func(s shard, t int) int { return s.end - t })
		i = min(i, len(shards)-1)
		start := 0
		if i > 0 {
			start = shards[i-1].end
		}
		return shards[i].file, shards[i].fileOffset(off - start)
	}
	off := 0
	for _, w := range g.weights {
		n := w.Len() * w.elemSize()
		if n > len(data)-off {
			file, o := at(len(data))
			return &FormatError{File: file, Offset: o,
				Msg: fmt.Sprintf("weight %q needs %d bytes, the shards of group %d have %d left", w.Name, n, gi, len(data)-off),
				Err: io.ErrUnexpectedEOF}
		}
		w.Data = data[off : off+n : off+n]
		off += n
	}
	if off < len(data) {
		file, o := at(off)
		return &FormatError{File: file, Offset: o, Msg: fmt.Sprintf("%d bytes after the last weight of group %d", len(data)-off, gi)}
	}
	return nil
}

// readShard reads the shard at name: the binary file name if it exists, else the JavaScript
// module name+".min.js" or name+".js" that exports the shard as a base64 string.
func readShard(fsys fs.FS, name string) ([]byte, shard, error) {
	for _, file := range []string{name, name + ".min.js", name + ".js"} {
		data, err := readAll(fsys, file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, shard{}, err
		}
		if !strings.HasSuffix(file, ".js") {
			return data, shard{file: file, b64: -1}, nil
		}
		b, start, err := unwrapBase64(data)
		if err != nil {
			return nil, shard{}, inFile(err, file)
		}
		return b, shard{file: file, b64: start}, nil
	}
	return nil, shard{}, fmt.Errorf("tfjs: weight shard %s: %w", name, fs.ErrNotExist)
}

// unwrapBase64 decodes the base64 string that a JavaScript module assigns to exports, and
// returns the bytes and the offset of the string's text in the file.
func unwrapBase64(data []byte) ([]byte, int, error) {
	q, ok := findExport(data, '"')
	if !ok {
		if q, ok = findExport(data, '\''); !ok {
			return nil, 0, &FormatError{Offset: 0, Msg: "not a JavaScript module that exports a base64 string"}
		}
	}
	start := q + 1
	end := bytes.IndexByte(data[start:], data[q])
	if end < 0 {
		return nil, 0, &FormatError{Offset: int64(len(data)), Msg: "base64 string not closed", Err: io.ErrUnexpectedEOF}
	}
	text := data[start : start+end]
	out := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(out, text)
	if err != nil {
		var ce base64.CorruptInputError
		off := int64(start)
		if errors.As(err, &ce) {
			off += int64(ce)
		}
		return nil, 0, &FormatError{Offset: off, Msg: "malformed base64 shard"}
	}
	return out[:n], start, nil
}
