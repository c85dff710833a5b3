package tfjs_test

import (
	"fmt"
	"log"
	"testing/fstest"

	"convas/compute/formats/tfjs"
)

// ExampleDecode reads a one-layer Sequential model whose kernel is quantized to uint8.
func ExampleDecode() {
	fsys := fstest.MapFS{
		"model.json": {Data: []byte(`{
			"format": "layers-model",
			"modelTopology": {"model_config": {"class_name": "Sequential", "config": {"name": "s", "layers": [
				{"class_name": "Dense", "config": {"name": "dense", "units": 2, "use_bias": false,
					"activation": "relu", "batch_input_shape": [null, 2]}}]}}},
			"weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [
				{"name": "dense/kernel", "shape": [2, 2], "dtype": "float32",
				 "quantization": {"dtype": "uint8", "min": -1, "scale": 0.5}}]}]}`)},
		"group1-shard1of1.bin": {Data: []byte{0, 1, 2, 4}},
	}
	m, err := tfjs.Decode(fsys, "model.json")
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range m.Layers {
		fmt.Println(l.Name, l.Class, l.Inputs, l.Shape)
	}
	k := m.Layer("dense").Weights["kernel"]
	fmt.Println(k.Name, k.Shape, k.Float32())
	// Output:
	// dense_input InputLayer [] [-1 2]
	// dense Dense [dense_input] [-1 2]
	// dense/kernel [2 2] [-1 -0.5 0 1]
}
