package mat

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, o := range options() {
		f.Add(o.file(mixed()...))
		f.Add(vggFile(o))
	}
	f.Add(beta16File(wopts{bo: binary.BigEndian, small: true}))
	f.Add(le.file(cell("deep", []int{1, 1}, row(row(row(empty()))))))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, seekable := range []bool{true, false} {
			m, err := Decode(reader(data, seekable))
			if err != nil {
				if m != nil {
					t.Fatal("a file and an error")
				}
				continue
			}
			for _, v := range m.Vars {
				visit(t, v)
			}
		}
		DecodeConfig(bytes.NewReader(data))
	})
}

// visit calls the accessors on every array inside a.
func visit(t *testing.T, a Array) {
	h := a.Header()
	numel := h.Numel()
	switch v := a.(type) {
	case *Numeric:
		f, err := v.Float32s()
		if err != nil || len(f) != numel {
			t.Fatalf("%s: Float32s: %d values, %v", describe(v), len(f), err)
		}
		if len(h.Dims) <= 4 {
			if _, _, err := ConvFilters(v); err != nil {
				t.Fatalf("%s: ConvFilters: %v", describe(v), err)
			}
		}
	case *Cell:
		if len(v.Elems) != numel {
			t.Fatalf("%s with %d elements", describe(v), len(v.Elems))
		}
		for _, e := range v.Elems {
			visit(t, e)
		}
	case *Struct:
		if len(v.Elems) != numel {
			t.Fatalf("%s with %d elements", describe(v), len(v.Elems))
		}
		for _, el := range v.Elems {
			for _, e := range el {
				visit(t, e)
			}
		}
	case *Char:
		v.Rows()
	}
}
