package mat_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log"

	"convas/compute/formats/mat"
)

// vggLike is a compressed MAT-file in MatConvNet's simplenn layout: a variable
// layers, a 1x1 cell holding one convolution layer whose weights are a 2x2x1x1
// filter [1 3; 2 4] and a bias of 0.5.
const vggLike = "TUFUTEFCIDUuMCBNQVQtZmlsZSwgUGxhdGZvcm06IEdMTlhBNjQsIENyZWF0ZWQgb246IFRodSBK" +
	"YW4gIDEgMDA6MDA6MDAgMjAyNiAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg" +
	"ICAAAAAAAAAAAAABSU0PAAAAugAAAHichJBRaoNAFEXPDFPHr9IldAn1r3/OZ3dRpJUkkBiJkuCf" +
	"S8pSsqTwnEkcxKggj3fn3gPvvgOphkQmoPDfW7Q/fvHsi648NSC5mxpzeiHndfPUP4GqOJSit109" +
	"zEu522zbhrr4H/zCd4x8M8O3Ed+EzB9HKs5k/JIF7XuFYyacNOJI/spyPzrSxf8T+W3k/whePdOP" +
	"De/Q5/5056B3wvt6wZvr2foL82kuWblby6ZQ9wAAAP//jpQVkw=="

func ExampleDecode() {
	data, _ := base64.StdEncoding.DecodeString(vggLike)
	f, err := mat.Decode(bytes.NewReader(data)) // or mat.DecodeFile("imagenet-vgg-verydeep-19.mat")
	if err != nil {
		log.Fatal(err)
	}
	layers, err := mat.LookupAs[*mat.Cell](f.Var("layers"), "")
	if err != nil {
		log.Fatal(err)
	}
	for i := range layers.Elems {
		layer := fmt.Sprintf("{%d}", i+1) // MATLAB counts from 1
		name, _ := mat.LookupString(layers, layer+".name")
		typ, _ := mat.LookupString(layers, layer+".type")
		w, err := mat.LookupAs[*mat.Numeric](layers, layer+".weights{1}")
		if err != nil {
			log.Fatal(err)
		}
		filters, shape, _ := mat.ConvFilters(w)
		pad, _ := mat.LookupAs[*mat.Numeric](layers, layer+".pad")
		p, _ := pad.Ints()
		fmt.Println(name, typ, w.Class, w.Dims)
		fmt.Println("filters (out, in, h, w):", shape, filters)
		fmt.Println("pad [top bottom left right]:", p)
	}
	// Output:
	// conv1_1 conv single [2 2 1 1]
	// filters (out, in, h, w): [1 1 2 2] [1 3 2 4]
	// pad [top bottom left right]: [0 1 0 1]
}

func ExampleFile_Lookup() {
	data, _ := base64.StdEncoding.DecodeString(vggLike)
	f, err := mat.Decode(bytes.NewReader(data))
	if err != nil {
		log.Fatal(err)
	}
	b, err := f.Lookup("layers{1}.weights{2}")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.(*mat.Numeric).Data)
	_, err = f.Lookup("layers{2}")
	fmt.Println(err)
	// Output:
	// [0.5]
	// mat: not found: layers{2}: index out of range for 1x1 cell
}

func ExampleDecodeConfig() {
	data, _ := base64.StdEncoding.DecodeString(vggLike)
	h, err := mat.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\nversion 0x%04x, %v\n", h.Text, h.Version, h.ByteOrder)
	// Output:
	// MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2026
	// version 0x0100, LittleEndian
}
