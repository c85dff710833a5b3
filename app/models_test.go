package app

import (
	"os"
	"path/filepath"
	"testing"

	"convas/compute/formats/graphdef"
)

// TestLayersOfAFilePutInPlace puts a small GraphDef in inception5h's layout and node names into
// the store by hand (as a user without network would) and reads its layer table.
func TestLayersOfAFilePutInPlace(t *testing.T) {
	a := testApp(t)
	T := graphdef.TypeAttr(graphdef.DTFloat)
	node := func(name, op string, in []string, kv ...any) *graphdef.Node {
		n := &graphdef.Node{Name: name, Op: op, Inputs: in, Attrs: map[string]graphdef.AttrValue{"T": T}}
		for i := 0; i < len(kv); i += 2 {
			n.Attrs[kv[i].(string)] = kv[i+1].(graphdef.AttrValue)
		}
		return n
	}
	konst := func(name string, shape []int64, n int) *graphdef.Node {
		return node(name, "Const", nil, "dtype", T, "value", graphdef.TensorAttr(graphdef.NewFloat32Tensor(shape, make([]float32, n))))
	}
	g := &graphdef.Graph{Nodes: []*graphdef.Node{
		node("input", "Placeholder", nil, "dtype", T),
		konst("conv2d0_w", []int64{7, 7, 3, 64}, 7*7*3*64),
		konst("conv2d0_b", []int64{64}, 64),
		node("conv2d0_pre_relu/conv", "Conv2D", []string{"input", "conv2d0_w"}, "strides", graphdef.IntsAttr(1, 2, 2, 1), "padding", graphdef.StringAttr("SAME")),
		node("conv2d0_pre_relu", "BiasAdd", []string{"conv2d0_pre_relu/conv", "conv2d0_b"}),
		node("conv2d0", "Relu", []string{"conv2d0_pre_relu"}),
		node("localresponsenorm0", "LRN", []string{"conv2d0"}, "depth_radius", graphdef.IntAttr(5), "bias", graphdef.FloatAttr(1),
			"alpha", graphdef.FloatAttr(1e-4), "beta", graphdef.FloatAttr(0.75)),
	}}
	pb := filepath.Join(t.TempDir(), "tensorflow_inception_graph.pb")
	if err := os.WriteFile(pb, graphdef.Marshal(g), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store().ImportUnverified(pb, "inception5h"); err != nil {
		t.Fatal(err)
	}
	layers, err := a.ModelLayers("inception5h")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"conv2d0_pre_relu": 64, "conv2d0": 64, "localresponsenorm0": 64}
	for _, l := range layers {
		if c, ok := want[l.Name]; ok && c == l.Channels {
			delete(want, l.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("layer table %v lacks %v", layers, want)
	}
}

func TestTrunkLayers(t *testing.T) {
	layers, err := testApp(t).ModelLayers("inceptionv3-trunk")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, l := range layers {
		got[l.Name] = l.Channels
	}
	for name, c := range map[string]int{"mixed0": 256, "mixed1": 288, "mixed2": 288, "mixed3": 768, "mixed4": 768, "mixed5": 768} {
		if got[name] != c {
			t.Errorf("%s: %d channels, want %d", name, got[name], c)
		}
	}
}
