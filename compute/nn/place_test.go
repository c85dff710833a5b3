package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// placeNet is a float32 CNN that uses every op with an accelerated twin (a fused
// convolution-bias-ReLU, a strided convolution with TensorFlow's asymmetric 'SAME' padding,
// AddBias, ReLU, max and average pooling, LRN) and some without (a dense layer, a
// concatenation, Gorgonia's own ops for the loss), with the gradients of a scalar loss to the
// picture and every weight.
type placeNet struct {
	g       *gorgonia.ExprGraph
	x       *gorgonia.Node
	loss    *gorgonia.Node
	weights gorgonia.Nodes
	grads   gorgonia.Nodes
	vm      gorgonia.VM
}

func newPlaceNet(t *testing.T, seed uint64) *placeNet {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	g := gorgonia.NewGraph()
	param := func(name string, s ...int) *gorgonia.Node {
		n := tensor.Shape(s).TotalSize()
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(r.NormFloat64() * 0.3)
		}
		return gorgonia.NewTensor(g, tensor.Float32, len(s), gorgonia.WithShape(s...), gorgonia.WithName(name), gorgonia.WithValue(dense32(d, s...)))
	}
	must := func(n *gorgonia.Node, err error) *gorgonia.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(2, 3, 11, 11), gorgonia.WithName("x"))
	w1, b1 := param("w1", 8, 3, 3, 3), param("b1", 8)
	w2, b2 := param("w2", 6, 8, 4, 4), param("b2", 6)
	wd := param("wd", 6*3*3*2, 5)
	h := must(Conv2DBiasReLU(x, w1, b1, Same(11, 11, 3, 3, 1, 1), 1, 1, ConvDirect))
	h = must(MaxPool2D(h, 2, 2, 2, 2, Same(11, 11, 2, 2, 2, 2))) // (2, 8, 6, 6)
	h = must(Conv2D(h, w2, Same(6, 6, 4, 4, 2, 2), 2, 2))        // (2, 6, 3, 3), padded 1 above and 2 below
	h = must(AddBias(h, b2))
	h = must(ReLU(h))
	l := must(LRN(h, 2, 1, 0.1, 0.75))
	a := must(AvgPool2D(h, 3, 3, 1, 1, Same(3, 3, 3, 3, 1, 1)))
	c := must(ConcatChannels(l, a)) // (2, 12, 3, 3): on the CPU
	flat := must(gorgonia.Reshape(c, tensor.Shape{2, 6 * 3 * 3 * 2}))
	d := must(gorgonia.Mul(flat, wd)) // (2, 5)
	loss := must(gorgonia.Sum(must(gorgonia.Square(d))))
	weights := gorgonia.Nodes{w1, b1, w2, b2, wd}
	grads, err := gorgonia.Grad(loss, append(gorgonia.Nodes{x}, weights...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &placeNet{g: g, x: x, loss: loss, weights: weights, grads: grads}
}

func (n *placeNet) outputs() gorgonia.Nodes { return append(gorgonia.Nodes{n.loss}, n.grads...) }

func (n *placeNet) compile(t *testing.T) {
	t.Helper()
	prog, locs, err := gorgonia.CompileFunction(n.g, append(gorgonia.Nodes{n.x}, n.weights...), n.outputs())
	if err != nil {
		t.Fatal(err)
	}
	n.vm = gorgonia.NewTapeMachine(n.g, gorgonia.WithPrecompiled(prog, locs))
	ReuseBuffers(n.g)
}

// run computes the loss and gradients at picture xd and returns copies of them.
func (n *placeNet) run(t *testing.T, xd []float32) [][]float32 {
	t.Helper()
	if err := gorgonia.Let(n.x, dense32(append([]float32(nil), xd...), n.x.Shape()...)); err != nil {
		t.Fatal(err)
	}
	if err := n.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	defer n.vm.Reset()
	var out [][]float32
	for _, o := range n.outputs() {
		v := o.Value()
		if s, ok := v.(*gorgonia.F32); ok {
			out = append(out, []float32{float32(*s)})
			continue
		}
		out = append(out, append([]float32(nil), v.Data().([]float32)...))
	}
	return out
}

// TestPlace runs the network on the CPU and placed on hostAccel, three times with different
// pictures, and checks that both give the same loss and gradients, that nothing the CPU reads
// was left on the "device" (results not downloaded are NaN on the host), and that after the
// first run only the picture and the values crossing between CPU and accelerator ops move.
func TestPlace(t *testing.T) {
	cpu, acc := newPlaceNet(t, 7), newPlaceNet(t, 7)
	cpu.compile(t)
	acc.compile(t)
	defer cpu.vm.Close()
	defer acc.vm.Close()
	ha := NewEmulator()
	fixed := func(n *gorgonia.Node) bool { return n != acc.x }
	p, err := Place(acc.g, ha, acc.outputs(), fixed)
	if err != nil {
		t.Fatal(err)
	}
	// Placed: the fused convolution, max-pool, the strided convolution, AddBias, ReLU, LRN,
	// average pool, the concatenation (8 forward), and the gradients: the concatenation's two
	// channel slices, LRN's, the average pool's, ReLU's, AddBias's, the strided convolution's
	// data and filter gradients, max-pool's, ReLU of the fused convolution, its data and filter
	// gradients, and its bias gradient (13).
	if got := p.Stats().Ops; got != 21 {
		for _, n := range acc.g.AllNodes() {
			if op, ok := n.Op().(placeable); ok {
				t.Logf("%v placed %v", n, op.slot().pl != nil)
			}
		}
		t.Errorf("%d ops placed, want 21", got)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var after PlaceStats
	for run := 0; run < 3; run++ {
		xd := make([]float32, acc.x.Shape().TotalSize())
		for i := range xd {
			xd[i] = float32(r.NormFloat64())
		}
		want, got := cpu.run(t, xd), acc.run(t, xd)
		for i := range want {
			if err := closeTo32(got[i], want[i], 2e-5); err != nil {
				t.Errorf("run %d, output %d (%v): %v", run, i, acc.outputs()[i], err)
			}
		}
		s := p.Stats()
		up, down := s.Uploads-after.Uploads, s.Downloads-after.Downloads
		t.Logf("run %d: %d uploads (%d B), %d downloads (%d B), %d B resident", run, up, s.BytesUp-after.BytesUp, down, s.BytesDown-after.BytesDown, s.Resident)
		// Every run uploads the picture, and the gradient of the concatenation's output, which
		// Reshape's gradient makes on the CPU (one copy for the two channel slices that read it).
		// The sum of LRN's and the average pool's gradients, Gorgonia's Add, is done on the
		// accelerator. The first run uploads the four fixed weights and biases of the
		// convolutions too, once each although three ops read w1 and w2.
		wantUp := int64(1 + 1)
		if run == 0 {
			wantUp += 4
		}
		// Every run downloads what the CPU reads: the concatenation (for Reshape and the dense
		// layer), and the five gradients the caller reads (to x, w1, b1, w2, b2; wd's is the
		// CPU's dense layer's).
		if up != wantUp || down != 1+5 {
			t.Errorf("run %d: %d uploads and %d downloads, want %d and %d", run, up, down, wantUp, 1+5)
		}
		after = s
	}
	if ha.Calls == 0 {
		t.Fatal("nothing ran on the accelerator")
	}
	p.Close()
	if ha.Live() != 0 {
		t.Errorf("Close left %d buffers", ha.Live())
	}
	// Unplaced, the graph runs on the CPU again.
	xd := make([]float32, acc.x.Shape().TotalSize())
	for i := range xd {
		xd[i] = float32(r.NormFloat64())
	}
	want, got := cpu.run(t, xd), acc.run(t, xd)
	for i := range want {
		if err := closeTo32(got[i], want[i], 1e-6); err != nil {
			t.Errorf("after Close, output %d: %v", i, err)
		}
	}
}

// closeTo32 checks |got-want| <= tol·max(1, max|want|) elementwise.
func closeTo32(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	scale := 1.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol*scale) {
			return fmt.Errorf("[%d] = %g, want %g (scale %g)", i, got[i], want[i], scale)
		}
	}
	return nil
}

// TestPlaceUndeclaredOutput shows why Place needs every output and that the Emulator finds a
// value read on the CPU that was never downloaded. Without the input gradient among the
// outputs, the op that makes it is not placed (Place looks only at what the outputs need) but
// still runs, on the CPU, and reads the first convolution's output gradient, which Place kept on
// the device: the input gradient comes out NaN.
func TestPlaceUndeclaredOutput(t *testing.T) {
	n := newPlaceNet(t, 7)
	n.compile(t)
	defer n.vm.Close()
	emu := NewEmulator()
	p, err := Place(n.g, emu, append(gorgonia.Nodes{n.loss}, n.grads[1:]...), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	xd := make([]float32, n.x.Shape().TotalSize())
	for i := range xd {
		xd[i] = float32(i%7) - 3
	}
	out := n.run(t, xd)
	if math.IsNaN(float64(out[0][0])) {
		t.Errorf("the loss, declared, is NaN")
	}
	if !math.IsNaN(float64(out[1][0])) {
		t.Errorf("the input gradient, not declared, was downloaded: %g", out[1][0])
	}
}

// TestPlaceNil: no accelerator, no placement, and a nil Placement's methods do nothing.
func TestPlaceNil(t *testing.T) {
	n := newPlaceNet(t, 7)
	p, err := Place(n.g, nil, n.outputs(), nil)
	if p != nil || err != nil {
		t.Fatalf("Place(nil accel) = %v, %v", p, err)
	}
	if s := p.Stats(); s != (PlaceStats{}) {
		t.Errorf("nil Stats = %+v", s)
	}
	p.Close()
}

// TestPlaceStyleTerms places the loss terms of style transfer (SquaredError of a Gram matrix, of
// responses against a target, of differences without a target) on nn.Emulator, with the
// gradient to the picture, and checks values against the CPU over two runs and what crosses:
// each run uploads the picture alone and downloads the three scalar terms and the two terms of
// the picture's gradient, which Gorgonia's Add (an output, so on the CPU) sums.
func TestPlaceStyleTerms(t *testing.T) {
	build := func() (*gorgonia.ExprGraph, *gorgonia.Node, gorgonia.Nodes) {
		r := rand.New(rand.NewPCG(8, 9))
		g := gorgonia.NewGraph()
		param := func(name string, s ...int) *gorgonia.Node {
			d := make([]float32, tensor.Shape(s).TotalSize())
			for i := range d {
				d[i] = float32(r.NormFloat64() * 0.3)
			}
			return gorgonia.NewTensor(g, tensor.Float32, len(s), gorgonia.WithShape(s...), gorgonia.WithName(name), gorgonia.WithValue(dense32(d, s...)))
		}
		mustN := func(n *gorgonia.Node, err error) *gorgonia.Node {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 3, 9, 9), gorgonia.WithName("x"))
		h := mustN(Conv2DBiasReLU(x, param("w", 5, 3, 3, 3), param("b", 5), Same(9, 9, 3, 3, 1, 1), 1, 1, ConvDirect))
		style := mustN(SquaredError(mustN(Gram(h)), param("A", 5, 5), 1.0/25))
		content := mustN(SquaredError(h, param("P", 1, 5, 9, 9), 1.0/405))
		tv := mustN(SquaredError(mustN(Conv2D(x, param("k", 3, 3, 2, 1), Padding{}, 1, 1)), nil, 0.01))
		total := mustN(gorgonia.Add(mustN(gorgonia.Add(style, content)), tv))
		grads, err := gorgonia.Grad(total, x)
		if err != nil {
			t.Fatal(err)
		}
		return g, x, gorgonia.Nodes{style, content, tv, grads[0]}
	}
	type net struct {
		g    *gorgonia.ExprGraph
		x    *gorgonia.Node
		outs gorgonia.Nodes
		vm   gorgonia.VM
	}
	mk := func() *net {
		g, x, outs := build()
		var leaves gorgonia.Nodes
		for _, n := range g.ExactSubgraphRoots(outs...).AllNodes() {
			if n.Op() == nil {
				leaves = append(leaves, n)
			}
		}
		prog, locs, err := gorgonia.CompileFunction(g, leaves, outs)
		if err != nil {
			t.Fatal(err)
		}
		ReuseBuffers(g)
		return &net{g, x, outs, gorgonia.NewTapeMachine(g, gorgonia.WithPrecompiled(prog, locs))}
	}
	cpu, acc := mk(), mk()
	emu := NewEmulator()
	p, err := Place(acc.g, emu, acc.outs, func(n *gorgonia.Node) bool { return n != acc.x })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := rand.New(rand.NewPCG(10, 11))
	var before PlaceStats
	for run := range 2 {
		xd := make([]float32, 3*9*9)
		for i := range xd {
			xd[i] = float32(r.NormFloat64())
		}
		var got [2][][]float32
		for k, m := range []*net{cpu, acc} {
			if err := gorgonia.Let(m.x, dense32(append([]float32(nil), xd...), 1, 3, 9, 9)); err != nil {
				t.Fatal(err)
			}
			if err := m.vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			for _, o := range m.outs {
				if s, ok := o.Value().(*gorgonia.F32); ok {
					got[k] = append(got[k], []float32{float32(*s)})
				} else {
					got[k] = append(got[k], append([]float32(nil), o.Value().Data().([]float32)...))
				}
			}
			m.vm.Reset()
		}
		for i := range got[0] {
			if err := closeTo32(got[1][i], got[0][i], 1e-5); err != nil {
				t.Errorf("run %d, output %d: %v", run, i, err)
			}
		}
		s := p.Stats()
		up, down := s.Uploads-before.Uploads, s.Downloads-before.Downloads
		wantUp := int64(1)
		if run == 0 {
			wantUp += 5 // w, b, A, P, k
		}
		if up != wantUp || down != 3+2 {
			t.Errorf("run %d: %d uploads and %d downloads, want %d and 5", run, up, down, wantUp)
		}
		before = s
	}
}

// TestPlaceAgainAfterClose: Close unbinds the ops, so the graph can be placed again, and a
// second placement while the first holds the ops is refused.
func TestPlaceAgainAfterClose(t *testing.T) {
	n := newPlaceNet(t, 7)
	p, err := Place(n.g, NewEmulator(), n.outputs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Place(n.g, NewEmulator(), n.outputs(), nil); err == nil {
		t.Error("a second placement of placed ops was accepted")
	}
	p.Close()
	p2, err := Place(n.g, NewEmulator(), n.outputs(), nil)
	if err != nil {
		t.Fatalf("placing again after Close: %v", err)
	}
	p2.Close()
}
