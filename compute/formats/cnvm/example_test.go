package cnvm_test

import (
	"bytes"
	"fmt"
	"log"

	"convas/compute/formats/cnvm"
)

// ExampleDecode writes a one-layer model with a uint8-quantized kernel and reads it back.
func ExampleDecode() {
	m := &cnvm.Model{
		Meta: map[string]string{"source": "example"},
		Layers: []*cnvm.Layer{
			{Name: "input", Kind: cnvm.KindInput, Ints: map[string][]int{"shape": {-1, -1, 1}}},
			{Name: "conv", Kind: cnvm.KindConv2D, Inputs: []string{"input"},
				Ints:    map[string][]int{"filters": {1}, "kernel": {1, 2}, "strides": {1, 1}},
				Strings: map[string]string{"padding": "valid", "activation": "relu"},
				Weights: map[string]string{"kernel": "conv/kernel"}},
		},
		Outputs: []string{"conv"},
		Tensors: []*cnvm.Tensor{{Name: "conv/kernel", DType: cnvm.Uint8, Shape: []int{1, 2, 1, 1}, Min: -1, Scale: 0.5, Data: []byte{1, 4}}},
	}
	var buf bytes.Buffer
	if err := cnvm.Encode(&buf, m); err != nil {
		log.Fatal(err)
	}
	got, err := cnvm.Decode(&buf)
	if err != nil {
		log.Fatal(err)
	}
	l := got.Layer("conv")
	fmt.Println(l.Kind, l.Inputs, l.Ints["kernel"], l.Strings["padding"])
	fmt.Println(got.Tensor(l.Weights["kernel"]).Float32())
	// Output:
	// conv2d [input] [1 2] valid
	// [-0.5 1]
}
