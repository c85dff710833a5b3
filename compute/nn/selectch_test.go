package nn

import (
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestSelectChannelForward(t *testing.T) {
	// 300 channels: indices 44 and 300 mod 256 = 44 would be one node under stock Slice.
	const n, c, h, w = 2, 300, 2, 3
	xd := make([]float64, n*c*h*w)
	for i := range xd {
		xd[i] = float64(i)
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		g := gorgonia.NewGraph()
		x := leaf(g, dt, "x", xd, n, c, h, w)
		idx := []int{0, 44, 255, 256, 299}
		ys := make([]*gorgonia.Node, len(idx))
		for i, ch := range idx {
			ys[i] = must(t)(SelectChannel(x, ch))
			if !ys[i].Shape().Eq(tensor.Shape{n, 1, h, w}) {
				t.Fatalf("shape %v, want (%d, 1, %d, %d)", ys[i].Shape(), n, h, w)
			}
		}
		for i := range ys {
			for j := i + 1; j < len(ys); j++ {
				if ys[i] == ys[j] {
					t.Fatalf("channels %d and %d were merged into one node", idx[i], idx[j])
				}
			}
		}
		runGraph(t, g)
		for i, ch := range idx {
			got := valuesOf(t, ys[i])
			for b := 0; b < n; b++ {
				for p := 0; p < h*w; p++ {
					if want := xd[(b*c+ch)*h*w+p]; got[b*h*w+p] != want {
						t.Fatalf("%v channel %d: y[%d, %d] = %g, want %g", dt, ch, b, p, got[b*h*w+p], want)
					}
				}
			}
		}
	}
}

func TestSelectChannelGradients(t *testing.T) {
	// Two selections at indices 256 apart, each with its own probe: a merged node or a
	// gradient sent to the wrong channel would show.
	checkGrad(t, func(g *gorgonia.ExprGraph) (*gorgonia.Node, gorgonia.Nodes) {
		r := newRand(300)
		x := randLeaf(g, r, tensor.Float64, "x", 2, 270, 1, 2)
		a := probe(t, r, must(t)(SelectChannel(x, 3)), "pa")
		b := probe(t, r, must(t)(SelectChannel(x, 259)), "pb")
		c := probe(t, r, must(t)(SelectChannel(x, 3)), "pc") // the same channel twice: gradients add
		return must(t)(gorgonia.Add(must(t)(gorgonia.Add(a, b)), c)), gorgonia.Nodes{x}
	})
}

func TestSelectChannelRejectsBadArguments(t *testing.T) {
	g := gorgonia.NewGraph()
	x := randLeaf(g, newRand(301), tensor.Float64, "x", 1, 3, 2, 2)
	v := randLeaf(g, newRand(302), tensor.Float64, "v", 3, 2)
	for _, c := range []struct {
		name string
		x    *gorgonia.Node
		c    int
	}{
		{"negative channel", x, -1},
		{"channel past the end", x, 3},
		{"rank 2 input", v, 0},
		{"nil input", nil, 0},
	} {
		_, err := SelectChannel(c.x, c.c)
		if err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(err.Error(), "nn: SelectChannel: ") {
			t.Errorf("%s: error %q lacks the prefix", c.name, err)
		}
	}
}
