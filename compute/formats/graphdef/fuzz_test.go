package graphdef

import (
	"bytes"
	"testing"
)

func FuzzDecode(f *testing.F) {
	b := Marshal(inception())
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add(Marshal(&Graph{Nodes: []*Node{{Name: "f", Attrs: map[string]AttrValue{
		"fn": FuncAttr(Func{Name: "g", Attrs: map[string]AttrValue{"x": FuncAttr(Func{Name: "h"})}}),
	}}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(bytes.NewReader(data))
		if err != nil {
			if g != nil {
				t.Fatal("a graph and an error")
			}
			return
		}
		// What was read writes back in a form that reads back the same.
		m := Marshal(g)
		g2, err := Unmarshal(m)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(g)): %v", err)
		}
		if m2 := Marshal(g2); !bytes.Equal(m, m2) {
			t.Fatalf("Marshal is not stable: %x, then %x", m, m2)
		}
		if c, err := DecodeConfig(bytes.NewReader(data)); err != nil || c.Nodes != len(g.Nodes) {
			t.Fatalf("DecodeConfig: %+v, %v", c, err)
		}
		for _, n := range g.Nodes {
			if g.Node(n.Name) == nil {
				t.Fatalf("node %q not found by name", n.Name)
			}
			for name := range n.Attrs {
				a := n.Attr(name)
				a.TypeName()
				tensors, _ := a.Tensors()
				if t1, err := a.Tensor(); err == nil {
					tensors = append(tensors, t1)
				}
				for _, tt := range tensors {
					if n, err := tt.NumElements(); err == nil && n <= 1<<16 {
						tt.Float32()
						tt.Int64()
					}
				}
			}
		}
	})
}
