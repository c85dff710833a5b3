package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"testing"
)

func sample() *Checkpoint {
	return &Checkpoint{Kind: "mnist-cnn", Meta: json.RawMessage(`{"gen":5}`), Tensors: []Tensor{
		{Name: "w", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, 1e-8, 7}},
		{Name: "b", Shape: []int{2}, Data: []float32{0.25, -0.5}},
	}}
}

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.ckpt")
	if err := WriteFile(p, sample()); err != nil {
		t.Fatal(err)
	}
	c, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != "mnist-cnn" || string(c.Meta) != `{"gen":5}` || len(c.Tensors) != 2 {
		t.Fatalf("got %+v", c)
	}
	if w := c.Tensor("w"); w.Data[2] != 3.5 || w.Data[4] != 1e-8 || w.Shape[1] != 3 {
		t.Fatalf("w = %+v", w)
	}
}

func TestDamaged(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	for n := 0; n < len(full); n++ {
		_, err := Decode(bytes.NewReader(full[:n]))
		if err == nil {
			t.Fatalf("cut at %d: no error", n)
		}
		if n >= 8 && !errors.Is(err, ErrDamaged) {
			t.Errorf("cut at %d: %v, want ErrDamaged", n, err)
		}
		if n > 16 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v, want ErrUnexpectedEOF", n, err)
		}
	}
	for i := 16; i < len(full); i++ {
		b := append([]byte(nil), full...)
		b[i] ^= 0x40
		if _, err := Decode(bytes.NewReader(b)); err == nil {
			t.Fatalf("flipped byte %d: no error", i)
		}
	}
	if _, err := Decode(bytes.NewReader([]byte("PK\x03\x04 a zip file"))); !errors.Is(err, ErrNotCheckpoint) {
		t.Errorf("zip: %v", err)
	}
	b := append([]byte(nil), full...)
	b[8] = 9
	if _, err := Decode(bytes.NewReader(b)); !errors.Is(err, ErrVersion) {
		t.Errorf("version 9: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, sample())
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode(bytes.NewReader(b))
	})
}
