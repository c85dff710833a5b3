package transfer

import (
	"bytes"
	"math"
	"os"
	"slices"
	"testing"
)

// FuzzCacheLoad feeds arbitrary bytes to the bottleneck cache's reader: it never panics, and an
// entry it accepts is stored back byte for byte the same.
func FuzzCacheLoad(f *testing.F) {
	dir := f.TempDir()
	c := &Cache{Dir: dir}
	b := meanRGB{size: 2, builds: new(int)}
	var sum [32]byte
	if err := c.Store(b, sum, []float32{1, 2.5, -3}); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(c.Path(b, sum))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte(cacheMagic))
	f.Add([]byte(cacheMagic + "\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		path := c.Path(b, sum)
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		v, ok := c.Load(b, sum)
		if !ok {
			return
		}
		if err := c.Store(b, sum, v); err != nil {
			t.Fatal(err)
		}
		again, _ := os.ReadFile(path)
		if !bytes.Equal(again, raw) {
			t.Errorf("accepted %x, stored back %x", raw, again)
		}
	})
}

// FuzzDecodeModel feeds arbitrary bytes to the model reader: it never panics, and a model it
// accepts encodes back to one that decodes to the same labels and weights.
func FuzzDecodeModel(f *testing.F) {
	m := &Model{Backbone: TrunkName, Layer: TrunkLayer, InputSize: 99, Labels: []string{"a", "b"},
		Head: &Head{In: 2, Hidden: 0, Classes: 2, W2: []float32{1, 2, 3, 4}, B2: []float32{5, 6}}}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()/2])
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := Decode(bytes.NewReader(raw))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := got.Encode(&out); err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		again, err := Decode(&out)
		if err != nil || !slices.Equal(again.Labels, got.Labels) || !slices.EqualFunc(again.Head.W2, got.Head.W2, sameBits) {
			t.Errorf("round trip: %v", err)
		}
	})
}

func sameBits(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
