package idx

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tiny returns an IDX file of 2 images of 2x3 bytes.
func tiny() []byte {
	return []byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
}

func TestDecode(t *testing.T) {
	a, err := Decode(bytes.NewReader(tiny()))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Dims) != 3 || a.Dims[0] != 2 || a.Dims[1] != 2 || a.Dims[2] != 3 {
		t.Fatalf("dims %v", a.Dims)
	}
	if a.Data[0] != 1 || a.Data[11] != 12 {
		t.Fatalf("data %v", a.Data)
	}
}

func TestDecodeGzipFile(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(tiny())
	zw.Close()
	p := filepath.Join(t.TempDir(), "x.gz")
	os.WriteFile(p, buf.Bytes(), 0o644)
	a, err := DecodeFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Data) != 12 {
		t.Fatalf("len %d", len(a.Data))
	}
	// A truncated gzip stream names the file.
	os.WriteFile(p, buf.Bytes()[:buf.Len()-12], 0o644)
	if _, err := DecodeFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("truncated gzip: %v", err)
	}
}

func TestTruncatedEverywhere(t *testing.T) {
	full := tiny()
	for n := 0; n < len(full); n++ {
		_, err := Decode(bytes.NewReader(full[:n]))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: got %v, want ErrUnexpectedEOF", n, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	cases := map[string][]byte{
		"magic":     {1, 0, 8, 1, 0, 0, 0, 1, 5},
		"rank 0":    {0, 0, 8, 0},
		"zero dim":  {0, 0, 8, 1, 0, 0, 0, 0},
		"huge dims": {0, 0, 8, 2, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff},
	}
	for name, b := range cases {
		_, err := Decode(bytes.NewReader(b))
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %v, want ErrFormat", name, err)
		}
	}
	var ue UnsupportedError
	if _, err := Decode(bytes.NewReader([]byte{0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0})); !errors.As(err, &ue) {
		t.Errorf("float type: got %v, want UnsupportedError", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(tiny())
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 1, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeMaybeGzip(bytes.NewReader(b))
		if err == nil && len(a.Data) != (Header{Dims: a.Dims}).Len() {
			t.Fatalf("data length %d does not match dims %v", len(a.Data), a.Dims)
		}
	})
}

func ExampleDecode() {
	a, err := Decode(bytes.NewReader(tiny()))
	if err != nil {
		panic(err)
	}
	fmt.Println(a.Dims[0], "images of", a.Dims[1], "x", a.Dims[2])
	// Output: 2 images of 2 x 3
}
