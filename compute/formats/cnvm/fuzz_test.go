package cnvm

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecode decodes arbitrary files. Nothing may panic, and a file that decodes must encode
// into a file that decodes to the same model.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	if err := Encode(&buf, testModel()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(withChunk(buf.Bytes(), "tIME", []byte("x")))
	f.Add([]byte("CNVM\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := DecodeConfig(bytes.NewReader(data)); err != nil {
			return
		}
		m, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Encode(&out, m); err != nil {
			t.Fatalf("a decoded model does not encode: %v", err)
		}
		m2, err := Decode(&out)
		if err != nil {
			t.Fatalf("a re-encoded model does not decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the model:\n%+v\n%+v", m, m2)
		}
	})
}
