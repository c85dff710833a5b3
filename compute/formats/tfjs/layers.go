package tfjs

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
)

// rawConfig holds the Keras config keys that the supported classes use. Options that may be
// written in more than one way stay raw and are read by the helpers below.
type rawConfig struct {
	Trainable    *bool           `json:"trainable"`
	Filters      *int            `json:"filters"`
	KernelSize   json.RawMessage `json:"kernel_size"`
	Strides      json.RawMessage `json:"strides"`
	PoolSize     json.RawMessage `json:"pool_size"`
	Padding      json.RawMessage `json:"padding"`
	DataFormat   *string         `json:"data_format"`
	DilationRate json.RawMessage `json:"dilation_rate"`
	Groups       *int            `json:"groups"`
	Activation   json.RawMessage `json:"activation"`
	UseBias      *bool           `json:"use_bias"`
	Units        *int            `json:"units"`
	Axis         json.RawMessage `json:"axis"`
	Epsilon      *float64        `json:"epsilon"`
	Center       *bool           `json:"center"`
	Scale        *bool           `json:"scale"`
	Rate         *float64        `json:"rate"`
	KeepDims     *bool           `json:"keepdims"`
	Sparse       *bool           `json:"sparse"`
	BatchInput   []*int          `json:"batch_input_shape"`
	BatchShape   []*int          `json:"batch_shape"` // Keras 3's name for batch_input_shape
	DType        json.RawMessage `json:"dtype"`
}

// layerWeights lists, for each class that has weights, the Keras names of its weights.
var layerWeights = map[string][]string{
	"Conv2D":             {"kernel", "bias"},
	"Dense":              {"kernel", "bias"},
	"BatchNormalization": {"gamma", "beta", "moving_mean", "moving_variance"},
}

// activations are the activation functions a layer may name.
var activations = []string{"linear", "relu", "relu6", "sigmoid", "tanh", "softmax"}

// parseConfig reads the config of a layer of the given class and checks it.
func parseConfig(name, class string, raw json.RawMessage) (c Config, trainable bool, err error) {
	var r rawConfig
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &r); err != nil {
			return c, false, layerError(name, "config: %v", err)
		}
	}
	trainable = r.Trainable == nil || *r.Trainable
	if r.DataFormat != nil && *r.DataFormat != "channels_last" {
		return c, false, unsupported(name, "data_format %q", *r.DataFormat)
	}
	switch class {
	case "InputLayer":
		c.DType, err = parseDType(name, r.DType)
		if err != nil {
			return c, false, err
		}
		shape := r.BatchInput
		if shape == nil {
			shape = r.BatchShape
		}
		if len(shape) == 0 {
			return c, false, layerError(name, "no batch_input_shape")
		}
		for i, d := range shape {
			switch {
			case d == nil:
				c.BatchInputShape = append(c.BatchInputShape, -1)
			case *d <= 0 || (i == 0 && *d > 1<<20) || *d > 1<<24:
				return c, false, layerError(name, "batch_input_shape %v has a size %d out of range", shape, *d)
			default:
				c.BatchInputShape = append(c.BatchInputShape, *d)
			}
		}
		if r.Sparse != nil && *r.Sparse {
			return c, false, unsupported(name, "sparse input")
		}
	case "Conv2D":
		if c.Filters, err = positive(name, "filters", r.Filters, 0); err != nil {
			return c, false, err
		}
		if r.KernelSize == nil {
			return c, false, layerError(name, "no kernel_size")
		}
		if c.KernelSize, err = pair(name, "kernel_size", r.KernelSize, [2]int{}); err != nil {
			return c, false, err
		}
		if c.Strides, err = pair(name, "strides", r.Strides, [2]int{1, 1}); err != nil {
			return c, false, err
		}
		if c.Padding, err = parsePadding(name, r.Padding); err != nil {
			return c, false, err
		}
		dil, err := pair(name, "dilation_rate", r.DilationRate, [2]int{1, 1})
		if err != nil {
			return c, false, err
		}
		if dil != [2]int{1, 1} {
			return c, false, unsupported(name, "dilation_rate %v", dil)
		}
		if r.Groups != nil && *r.Groups != 1 {
			return c, false, unsupported(name, "groups %d", *r.Groups)
		}
		if c.Activation, err = parseActivation(name, r.Activation); err != nil {
			return c, false, err
		}
		c.UseBias = r.UseBias == nil || *r.UseBias
	case "BatchNormalization":
		if c.Axis, err = parseAxis(name, r.Axis); err != nil {
			return c, false, err
		}
		c.Epsilon = 0.001
		if r.Epsilon != nil {
			c.Epsilon = *r.Epsilon
		}
		if !(c.Epsilon >= 0) {
			return c, false, layerError(name, "epsilon %v is negative", c.Epsilon)
		}
		c.Center = r.Center == nil || *r.Center
		c.Scale = r.Scale == nil || *r.Scale
	case "Activation":
		if r.Activation == nil {
			return c, false, layerError(name, "no activation")
		}
		if c.Activation, err = parseActivation(name, r.Activation); err != nil {
			return c, false, err
		}
	case "MaxPooling2D", "AveragePooling2D":
		if c.PoolSize, err = pair(name, "pool_size", r.PoolSize, [2]int{2, 2}); err != nil {
			return c, false, err
		}
		if c.Strides, err = pair(name, "strides", r.Strides, c.PoolSize); err != nil {
			return c, false, err
		}
		if c.Padding, err = parsePadding(name, r.Padding); err != nil {
			return c, false, err
		}
	case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
		if r.KeepDims != nil && *r.KeepDims {
			return c, false, unsupported(name, "keepdims")
		}
	case "Concatenate":
		if c.Axis, err = parseAxis(name, r.Axis); err != nil {
			return c, false, err
		}
	case "Dense":
		if c.Units, err = positive(name, "units", r.Units, 0); err != nil {
			return c, false, err
		}
		if c.Activation, err = parseActivation(name, r.Activation); err != nil {
			return c, false, err
		}
		c.UseBias = r.UseBias == nil || *r.UseBias
	case "Dropout":
		if r.Rate == nil || !(*r.Rate >= 0 && *r.Rate < 1) {
			return c, false, layerError(name, "rate must be in [0, 1)")
		}
		c.Rate = *r.Rate
	case "ZeroPadding2D":
		if c.Pad, err = parseZeroPadding(name, r.Padding); err != nil {
			return c, false, err
		}
	case "Add", "Flatten":
	default:
		return c, false, unsupported(name, "layer class %q", class)
	}
	return c, trainable, nil
}

// positive reads a positive integer option, or returns def (if positive) when it is absent.
func positive(layer, key string, v *int, def int) (int, error) {
	if v == nil {
		if def > 0 {
			return def, nil
		}
		return 0, layerError(layer, "no %s", key)
	}
	if *v <= 0 || *v > 1<<24 {
		return 0, layerError(layer, "%s %d out of range", key, *v)
	}
	return *v, nil
}

// pair reads an option that Keras writes as one integer or as a list of two, each in 1..2^16.
func pair(layer, key string, raw json.RawMessage, def [2]int) ([2]int, error) {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return def, nil
	}
	var one int
	var two []int
	if json.Unmarshal(raw, &one) == nil {
		two = []int{one, one}
	} else if err := json.Unmarshal(raw, &two); err != nil || len(two) != 2 {
		return [2]int{}, layerError(layer, "%s must be one or two integers, got %s", key, raw)
	}
	for _, v := range two {
		if v <= 0 || v > 1<<16 {
			return [2]int{}, layerError(layer, "%s %v out of range", key, two)
		}
	}
	return [2]int{two[0], two[1]}, nil
}

// parsePadding reads the padding of a convolution or a pooling: "valid" (the default) or "same".
func parsePadding(layer string, raw json.RawMessage) (string, error) {
	if raw == nil {
		return "valid", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", layerError(layer, "padding must be a string, got %s", raw)
	}
	if s != "valid" && s != "same" {
		return "", unsupported(layer, "padding %q", s)
	}
	return s, nil
}

// parseActivation reads an activation name; absent means linear.
func parseActivation(layer string, raw json.RawMessage) (string, error) {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return "linear", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", unsupported(layer, "activation %s", raw)
	}
	if !slices.Contains(activations, s) {
		return "", unsupported(layer, "activation %q", s)
	}
	return s, nil
}

// parseAxis reads an axis, written as an integer or (Keras 3) a list of one; absent means -1.
func parseAxis(layer string, raw json.RawMessage) (int, error) {
	if raw == nil {
		return -1, nil
	}
	var one int
	var list []int
	if json.Unmarshal(raw, &one) == nil {
		return one, nil
	}
	if err := json.Unmarshal(raw, &list); err != nil || len(list) != 1 {
		return 0, unsupported(layer, "axis %s", raw)
	}
	return list[0], nil
}

// parseDType reads InputLayer's dtype: a string, or Keras 3's policy object; only float32 is
// supported.
func parseDType(layer string, raw json.RawMessage) (string, error) {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return "float32", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var policy struct {
			Config struct {
				Name string `json:"name"`
			} `json:"config"`
		}
		if err := json.Unmarshal(raw, &policy); err != nil {
			return "", layerError(layer, "dtype must be a string or a policy, got %s", raw)
		}
		s = policy.Config.Name
	}
	if s != "float32" {
		return "", unsupported(layer, "dtype %q", s)
	}
	return s, nil
}

// parseZeroPadding reads ZeroPadding2D's padding: n, (h, w) or ((top, bottom), (left, right)).
func parseZeroPadding(layer string, raw json.RawMessage) ([4]int, error) {
	var one int
	var two []int
	var four [][]int
	var p [4]int
	switch {
	case raw == nil:
		p = [4]int{1, 1, 1, 1}
	case json.Unmarshal(raw, &one) == nil:
		p = [4]int{one, one, one, one}
	case json.Unmarshal(raw, &two) == nil && len(two) == 2:
		p = [4]int{two[0], two[0], two[1], two[1]}
	case json.Unmarshal(raw, &four) == nil && len(four) == 2 && len(four[0]) == 2 && len(four[1]) == 2:
		p = [4]int{four[0][0], four[0][1], four[1][0], four[1][1]}
	default:
		return p, layerError(layer, "padding must be n, (h, w) or ((top, bottom), (left, right)), got %s", raw)
	}
	for _, v := range p {
		if v < 0 || v > 1<<16 {
			return p, layerError(layer, "padding %v out of range", p)
		}
	}
	return p, nil
}

// inferShape computes the layer's output shape from its inputs' shapes and checks that they fit.
func (l *Layer) inferShape(in [][]int) ([]int, error) {
	c := &l.Config
	want := func(n int) error {
		if len(in) != n {
			return layerError(l.Name, "%s takes %d input(s), has %d", l.Class, n, len(in))
		}
		return nil
	}
	switch l.Class {
	case "InputLayer":
		if err := want(0); err != nil {
			return nil, err
		}
		return slices.Clone(c.BatchInputShape), nil
	case "Concatenate", "Add":
		if len(in) < 2 {
			return nil, layerError(l.Name, "%s needs at least 2 inputs, has %d", l.Class, len(in))
		}
		return l.joinShapes(in)
	}
	if err := want(1); err != nil {
		return nil, err
	}
	x := in[0]
	switch l.Class {
	case "Conv2D", "MaxPooling2D", "AveragePooling2D":
		if len(x) != 4 {
			return nil, layerError(l.Name, "input shape %v is not (batch, height, width, channels)", x)
		}
		k, ch := c.PoolSize, x[3]
		if l.Class == "Conv2D" {
			k, ch = c.KernelSize, c.Filters
		}
		h, err := l.window(x[1], k[0], c.Strides[0])
		if err != nil {
			return nil, err
		}
		w, err := l.window(x[2], k[1], c.Strides[1])
		if err != nil {
			return nil, err
		}
		return []int{x[0], h, w, ch}, nil
	case "ZeroPadding2D":
		if len(x) != 4 {
			return nil, layerError(l.Name, "input shape %v is not (batch, height, width, channels)", x)
		}
		return []int{x[0], grow(x[1], c.Pad[0]+c.Pad[1]), grow(x[2], c.Pad[2]+c.Pad[3]), x[3]}, nil
	case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
		if len(x) != 4 {
			return nil, layerError(l.Name, "input shape %v is not (batch, height, width, channels)", x)
		}
		return []int{x[0], x[3]}, nil
	case "Flatten":
		if len(x) < 2 {
			return nil, layerError(l.Name, "input shape %v has no axis to flatten", x)
		}
		n := numElems(x[1:])
		if slices.Contains(x[1:], -1) {
			n = -1
		}
		return []int{x[0], n}, nil
	case "Dense":
		if len(x) < 2 {
			return nil, layerError(l.Name, "input shape %v has no feature axis", x)
		}
		out := slices.Clone(x)
		out[len(out)-1] = c.Units
		return out, nil
	case "BatchNormalization":
		if _, err := l.axis(len(x)); err != nil {
			return nil, err
		}
	}
	return slices.Clone(x), nil // BatchNormalization, Activation, Dropout
}

// window returns the output size of a convolution or pooling along one axis of size in, as
// Keras computes it: ceil(in/stride) for "same", (in-k)/stride+1 for "valid"; -1 stays -1.
func (l *Layer) window(in, k, stride int) (int, error) {
	switch {
	case in < 0:
		return -1, nil
	case l.Config.Padding == "same":
		return (in + stride - 1) / stride, nil
	case in < k:
		return 0, layerError(l.Name, "input size %d is smaller than the window %d", in, k)
	}
	return (in-k)/stride + 1, nil
}

// grow adds padding to a size, keeping -1 for an unknown size.
func grow(size, pad int) int {
	if size < 0 {
		return -1
	}
	return size + pad
}

// axis resolves the layer's Axis for an input of the given rank.
func (l *Layer) axis(rank int) (int, error) {
	a := l.Config.Axis
	if a < 0 {
		a += rank
	}
	if a < 1 || a >= rank {
		return 0, layerError(l.Name, "axis %d out of range for rank %d", l.Config.Axis, rank)
	}
	return a, nil
}

// joinShapes checks and combines the inputs of Concatenate (all sizes equal but the axis's,
// which add up) and Add (all equal).
func (l *Layer) joinShapes(in [][]int) ([]int, error) {
	out := slices.Clone(in[0])
	a := -1
	if l.Class == "Concatenate" {
		var err error
		if a, err = l.axis(len(out)); err != nil {
			return nil, err
		}
	}
	for i, s := range in[1:] {
		if len(s) != len(out) {
			return nil, layerError(l.Name, "input %d has shape %v, input 0 has %v", i+1, s, in[0])
		}
		for d := range s {
			switch {
			case d == a && (s[d] < 0 || out[d] < 0):
				out[d] = -1
			case d == a:
				out[d] += s[d]
			case s[d] != out[d] && s[d] >= 0 && out[d] >= 0:
				return nil, layerError(l.Name, "input %d has shape %v, input 0 has %v", i+1, s, in[0])
			}
		}
	}
	return out, nil
}

// checkWeights checks that the layer has exactly the weights its class and config call for, in
// the right shapes, given its input shape.
func (l *Layer) checkWeights(in []int) error {
	c := &l.Config
	want := map[string][]int{}
	switch l.Class {
	case "Conv2D":
		want["kernel"] = []int{c.KernelSize[0], c.KernelSize[1], in[3], c.Filters}
		if c.UseBias {
			want["bias"] = []int{c.Filters}
		}
	case "Dense":
		want["kernel"] = []int{in[len(in)-1], c.Units}
		if c.UseBias {
			want["bias"] = []int{c.Units}
		}
	case "BatchNormalization":
		a, err := l.axis(len(in))
		if err != nil {
			return err
		}
		ch := []int{in[a]}
		want["moving_mean"], want["moving_variance"] = ch, ch
		if c.Scale {
			want["gamma"] = ch
		}
		if c.Center {
			want["beta"] = ch
		}
	}
	for _, k := range slices.Sorted(maps.Keys(l.Weights)) {
		if want[k] == nil {
			return layerError(l.Name, "unexpected weight %q", l.Weights[k].Name)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		w := l.Weights[k]
		if w == nil {
			return layerError(l.Name, "weight %q is missing from the manifest", l.Name+"/"+k)
		}
		if !shapeMatches(w.Shape, want[k]) {
			return layerError(l.Name, "weight %q has shape %v, want %v", w.Name, w.Shape, want[k])
		}
	}
	return nil
}

// shapeMatches compares a weight's shape with the wanted one, where -1 matches any size.
func shapeMatches(got, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if want[i] >= 0 && got[i] != want[i] {
			return false
		}
	}
	return true
}
