package tfjs

import (
	"encoding/json"
	"testing"
	"testing/fstest"
)

// FuzzDecode feeds arbitrary model files, with the fixture's shards beside them, to Decode and
// DecodeConfig. Neither may panic, and what Decode accepts must be consistent: layers after their
// inputs, every layer with a shape, every weight's data the size of its shape.
func FuzzDecode(f *testing.F) {
	fx := newFixture()
	js, err := json.Marshal(fx.model)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(js)
	f.Add(wrapJS(string(minJS(js))))
	f.Add([]byte(`{"modelTopology":{"class_name":"Sequential","config":[{"class_name":"Dense","config":{"name":"d","units":1,"batch_input_shape":[null,2]}}]}}`))
	f.Add([]byte(`{"format":"graph-model"}`))
	a, b := fx.shards()
	f.Fuzz(func(t *testing.T, model []byte) {
		fsys := fstest.MapFS{
			"model.json":           {Data: model},
			"group1-shard1of2.bin": {Data: a},
			"group1-shard2of2.bin": {Data: b},
		}
		m, err := Decode(fsys, "model.json")
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, l := range m.Layers {
			for _, in := range l.Inputs {
				if !seen[in] {
					t.Fatalf("layer %s before its input %s", l.Name, in)
				}
			}
			if l.Shape == nil {
				t.Fatalf("layer %s without a shape", l.Name)
			}
			seen[l.Name] = true
		}
		for _, w := range m.Weights {
			if len(w.Data) != w.Len()*w.elemSize() || len(w.Float32()) != w.Len() {
				t.Fatalf("weight %s: %d bytes for shape %v", w.Name, len(w.Data), w.Shape)
			}
		}
	})
}
