package cifar_test

import (
	"bytes"
	"fmt"

	"convas/compute/formats/cifar"
)

func ExampleDecode() {
	// One record: label 3 (cat), then 3,072 pixel bytes.
	rec := append([]byte{3}, make([]byte, cifar.PixelLen)...)
	b, err := cifar.Decode(bytes.NewReader(rec))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.N, cifar.DefaultLabels[b.Labels[0]])
	_, err = cifar.Decode(bytes.NewReader(rec[:1000]))
	fmt.Println(err)
	// Output:
	// 1 cat
	// cifar: invalid format at record 0 (offset 1000): the file ends 1000 bytes into a 3073-byte record: unexpected EOF
}
