package graphdef_test

import (
	"bytes"
	"fmt"
	"log"

	"convas/compute/formats/graphdef"
)

func ExampleDecode() {
	// A two-node graph, written the way TensorFlow writes inception5h's.
	pb := graphdef.Marshal(&graphdef.Graph{Nodes: []*graphdef.Node{
		{Name: "conv2d0_w", Op: "Const", Attrs: map[string]graphdef.AttrValue{
			"dtype": graphdef.TypeAttr(graphdef.DTFloat),
			"value": graphdef.TensorAttr(graphdef.NewFloat32Tensor([]int64{1, 1, 1, 2}, []float32{0.5, -1})),
		}},
		{Name: "conv2d0_pre_relu/conv", Op: "Conv2D", Inputs: []string{"input", "conv2d0_w"}, Attrs: map[string]graphdef.AttrValue{
			"T":       graphdef.TypeAttr(graphdef.DTFloat),
			"strides": graphdef.IntsAttr(1, 1, 1, 1),
			"padding": graphdef.StringAttr("SAME"),
		}},
	}})

	g, err := graphdef.Decode(bytes.NewReader(pb)) // or graphdef.DecodeFile("tensorflow_inception_graph.pb")
	if err != nil {
		log.Fatal(err)
	}
	conv := g.Node("conv2d0_pre_relu/conv")
	strides, _ := conv.Attr("strides").Ints()
	padding, _ := conv.Attr("padding").String()
	fmt.Println(conv.Op, conv.Inputs, strides, padding)

	w, err := g.Node(conv.Inputs[1]).Attr("value").Tensor()
	if err != nil {
		log.Fatal(err)
	}
	values, _ := w.Float32()
	fmt.Println(w.DType, w.Shape, values)

	_, err = conv.Attr("dilations").Ints()
	fmt.Println(err)
	// Output:
	// Conv2D [input conv2d0_w] [1 1 1 1] SAME
	// float [1 1 1 2] [0.5 -1]
	// graphdef: not found: node "conv2d0_pre_relu/conv" (Conv2D) attr "dilations" is not set (want list(int))
}
