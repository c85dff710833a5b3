package importtfjs

import (
	"fmt"
	"maps"
	"slices"

	"convas/compute/formats/cnvm"
	"convas/compute/formats/tfjs"
)

// kinds maps the Keras classes that tfjs reads to the kinds of the .cnvm graph.
var kinds = map[string]string{
	"InputLayer":             cnvm.KindInput,
	"Conv2D":                 cnvm.KindConv2D,
	"BatchNormalization":     cnvm.KindBatchNorm,
	"Activation":             cnvm.KindActivation,
	"MaxPooling2D":           cnvm.KindMaxPool2D,
	"AveragePooling2D":       cnvm.KindAvgPool2D,
	"GlobalAveragePooling2D": cnvm.KindGlobalAvgPool2D,
	"GlobalMaxPooling2D":     cnvm.KindGlobalMaxPool2D,
	"Concatenate":            cnvm.KindConcat,
	"Add":                    cnvm.KindAdd,
	"Dense":                  cnvm.KindDense,
	"Flatten":                cnvm.KindFlatten,
	"ZeroPadding2D":          cnvm.KindZeroPad2D,
	"Dropout":                cnvm.KindDropout,
}

// roles maps Keras weight names to the weight roles of the .cnvm graph.
var roles = map[string]string{
	"kernel":          "kernel",
	"bias":            "bias",
	"gamma":           "gamma",
	"beta":            "beta",
	"moving_mean":     "mean",
	"moving_variance": "variance",
}

// Convert turns a decoded TF.js model into a .cnvm model. If upTo is not empty, the model is cut
// there: upTo becomes the only output and only the layers it depends on are kept. Quantized
// weights keep their bytes, min and scale; float16 weights become float32, exactly. meta is
// copied into the model's metadata, with the source's Keras version and converter.
func Convert(m *tfjs.Model, upTo string, meta map[string]string) (*cnvm.Model, error) {
	outputs := m.Outputs
	if upTo != "" {
		if m.Layer(upTo) == nil {
			return nil, fmt.Errorf("importtfjs: the model has no layer %q", upTo)
		}
		outputs = []string{upTo}
	}
	keep := map[string]bool{}
	var mark func(name string)
	mark = func(name string) {
		if keep[name] {
			return
		}
		keep[name] = true
		for _, in := range m.Layer(name).Inputs {
			mark(in)
		}
	}
	for _, o := range outputs {
		mark(o)
	}
	out := &cnvm.Model{Meta: map[string]string{}, Outputs: outputs}
	for k, v := range map[string]string{"keras_version": m.KerasVersion, "tfjs_generated_by": m.GeneratedBy,
		"tfjs_converted_by": m.ConvertedBy, "model_name": m.Name} {
		if v != "" {
			out.Meta[k] = v
		}
	}
	if upTo != "" {
		out.Meta["cut_after"] = upTo
	}
	maps.Copy(out.Meta, meta)
	for _, l := range m.Layers { // tfjs orders layers after their inputs
		if !keep[l.Name] {
			continue
		}
		cl, err := convertLayer(m, l)
		if err != nil {
			return nil, err
		}
		for _, k := range slices.Sorted(maps.Keys(l.Weights)) {
			w := l.Weights[k]
			cl.Weights[roles[k]] = w.Name
			out.Tensors = append(out.Tensors, convertWeight(w))
		}
		out.Layers = append(out.Layers, cl)
	}
	return out, nil
}

// convertLayer turns one Keras layer into a .cnvm layer, without its weights.
func convertLayer(m *tfjs.Model, l *tfjs.Layer) (*cnvm.Layer, error) {
	c := &l.Config
	kind := kinds[l.Class]
	if kind == "" {
		return nil, fmt.Errorf("importtfjs: layer %q: class %s has no .cnvm kind", l.Name, l.Class)
	}
	out := &cnvm.Layer{Name: l.Name, Kind: kind, Inputs: l.Inputs, Weights: map[string]string{}}
	in := l.Shape
	if len(l.Inputs) > 0 {
		in = m.Layer(l.Inputs[0]).Shape
	}
	switch kind {
	case cnvm.KindInput:
		out.Ints = map[string][]int{"shape": c.BatchInputShape[1:]}
	case cnvm.KindConv2D:
		out.Ints = map[string][]int{"filters": {c.Filters}, "kernel": c.KernelSize[:], "strides": c.Strides[:]}
		out.Strings = map[string]string{"padding": c.Padding, "activation": c.Activation}
	case cnvm.KindMaxPool2D, cnvm.KindAvgPool2D:
		out.Ints = map[string][]int{"pool": c.PoolSize[:], "strides": c.Strides[:]}
		out.Strings = map[string]string{"padding": c.Padding}
	case cnvm.KindBatchNorm, cnvm.KindConcat:
		if a := c.Axis; a != -1 && a != len(in)-1 {
			return nil, fmt.Errorf("importtfjs: layer %q: %s on axis %d, not the channel axis", l.Name, l.Class, a)
		}
		if kind == cnvm.KindBatchNorm {
			out.Floats = map[string]float64{"epsilon": c.Epsilon}
		}
	case cnvm.KindActivation:
		out.Strings = map[string]string{"activation": c.Activation}
	case cnvm.KindDense:
		if len(in) != 2 {
			return nil, fmt.Errorf("importtfjs: layer %q: Dense on an input of shape %v, not (batch, features)", l.Name, in)
		}
		out.Ints = map[string][]int{"units": {c.Units}}
		out.Strings = map[string]string{"activation": c.Activation}
	case cnvm.KindZeroPad2D:
		out.Ints = map[string][]int{"padding": c.Pad[:]}
	case cnvm.KindDropout:
		out.Floats = map[string]float64{"rate": c.Rate}
	}
	return out, nil
}

// convertWeight turns a weight into a tensor: quantized bytes stay as they are.
func convertWeight(w *tfjs.Weight) *cnvm.Tensor {
	q := w.Quantization
	switch {
	case q == nil:
		return &cnvm.Tensor{Name: w.Name, DType: cnvm.Float32, Shape: w.Shape, Data: w.Data}
	case q.DType == "uint8":
		return &cnvm.Tensor{Name: w.Name, DType: cnvm.Uint8, Shape: w.Shape, Min: q.Min, Scale: q.Scale, Data: w.Data}
	case q.DType == "uint16":
		return &cnvm.Tensor{Name: w.Name, DType: cnvm.Uint16, Shape: w.Shape, Min: q.Min, Scale: q.Scale, Data: w.Data}
	}
	return cnvm.NewFloat32(w.Name, w.Shape, w.Float32()) // float16, exactly
}
