//go:build convas_cuda && cgo

package gpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"convas/compute/gpu"
)

// A style-transfer iteration as the GPU path will run it once compute/nn dispatches here, built
// from this package's ops alone with every tensor resident on the device: VGG19 to relu5_1
// forward (3x3 convolutions, bias, ReLU, 2x2 max pooling), the Gram matrices of relu1_1 to
// relu5_1, and the gradient back to the input image (no weight gradients, as style transfer
// needs none). The loss itself is left out: the output and Gram gradients are fixed random
// tensors. The benchmark is the target of 40 ms at 512 on an H100 without Gorgonia's
// overhead; the test checks that a step transfers nothing.

type vggLayer struct {
	c, o  int
	pool  bool // a 2x2/2 max pooling follows
	style bool // its ReLU output feeds a Gram matrix
}

// vgg19ToRelu51 is VGG19 up to conv5_1.
var vgg19ToRelu51 = []vggLayer{
	{3, 64, false, true}, {64, 64, true, false},
	{64, 128, false, true}, {128, 128, true, false},
	{128, 256, false, true}, {256, 256, false, false}, {256, 256, false, false}, {256, 256, true, false},
	{256, 512, false, true}, {512, 512, false, false}, {512, 512, false, false}, {512, 512, true, false},
	{512, 512, false, true},
}

type vggStage struct {
	l                     vggLayer
	h, w                  int
	conv                  gpu.Conv
	pool                  gpu.Pool
	wt, b                 *gpu.Buffer // weights and bias
	out, pre, act, pooled *gpu.Buffer // conv output, + bias, ReLU, pooled (nil without pooling)
	dact, dpre, dpooled   *gpu.Buffer
	gram, dgram           *gpu.Buffer // C x C (style layers)
}

type vggChain struct {
	d      *gpu.Device
	x, dx  *gpu.Buffer
	seed   *gpu.Buffer // the gradient of the last ReLU output from the (left out) content loss
	stages []*vggStage
	all    []*gpu.Buffer
}

func newVGGChain(tb testing.TB, d *gpu.Device, size int) *vggChain {
	r := rand.New(rand.NewPCG(31, 32))
	n := &vggChain{d: d}
	buf := func(count int, random bool, scale float32) *gpu.Buffer {
		data := make([]float32, count)
		if random {
			for i := range data {
				data[i] = scale * float32(r.NormFloat64())
			}
		}
		b, err := d.AllocFrom(data)
		if err != nil {
			tb.Fatalf("allocating %d floats: %v", count, err)
		}
		n.all = append(n.all, b)
		return b
	}
	h := size
	n.x = buf(3*h*h, true, 1)
	n.dx = buf(3*h*h, false, 0)
	for _, l := range vgg19ToRelu51 {
		s := &vggStage{l: l, h: h, w: h}
		s.conv = gpu.Conv{N: 1, C: l.c, H: h, W: h, O: l.o, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
		plane := l.o * h * h
		s.wt = buf(l.o*l.c*9, true, float32(math.Sqrt(2/float64(9*l.c))))
		s.b = buf(l.o, true, 0.01)
		s.out, s.pre, s.act = buf(plane, false, 0), buf(plane, false, 0), buf(plane, false, 0)
		s.dact, s.dpre = buf(plane, false, 0), buf(plane, false, 0)
		if l.style {
			s.gram = buf(l.o*l.o, false, 0)
			s.dgram = buf(l.o*l.o, true, 1e-3)
		}
		if l.pool {
			s.pool = gpu.Pool{N: 1, C: l.o, H: h, W: h, KH: 2, KW: 2, StrideH: 2, StrideW: 2, Mode: gpu.PoolMax}
			h /= 2
			s.pooled, s.dpooled = buf(l.o*h*h, false, 0), buf(l.o*h*h, false, 0)
		}
		n.stages = append(n.stages, s)
	}
	last := n.stages[len(n.stages)-1]
	n.seed = buf(last.act.Len(), true, 1e-3)
	return n
}

func (n *vggChain) free() {
	for _, b := range n.all {
		n.d.Free(b)
	}
}

// step runs one iteration.
func (n *vggChain) step() error {
	d := n.d
	in := n.x
	for _, s := range n.stages {
		plane := s.h * s.w
		if err := d.Conv(s.conv, gpu.Forward, in, s.wt, s.out); err != nil {
			return err
		}
		if err := d.BiasAdd(1, s.l.o, plane, s.out, s.b, s.pre); err != nil {
			return err
		}
		if err := d.ReLUForward(s.pre, s.act); err != nil {
			return err
		}
		if s.l.style {
			// G = F·Fᵀ / (C·HW) for F the ReLU output as a C x HW matrix.
			if err := d.Gemm(false, true, s.l.o, s.l.o, plane, 1/float32(s.l.o*plane), s.act, s.act, 0, s.gram); err != nil {
				return err
			}
		}
		in = s.act
		if s.l.pool {
			if err := d.PoolForward(s.pool, s.act, s.pooled); err != nil {
				return err
			}
			in = s.pooled
		}
	}
	for i := len(n.stages) - 1; i >= 0; i-- {
		s := n.stages[i]
		plane := s.h * s.w
		if s.l.pool {
			if err := d.PoolBackward(s.pool, s.act, s.pooled, s.dpooled, s.dact); err != nil {
				return err
			}
		}
		last := i == len(n.stages)-1
		if s.l.style {
			// dF += 2·dG·F / (C·HW) for a symmetric dG; the last layer's dF starts from it.
			beta := float32(1)
			if last {
				beta = 0
			}
			if err := d.Gemm(false, false, s.l.o, plane, s.l.o, 2/float32(s.l.o*plane), s.dgram, s.act, beta, s.dact); err != nil {
				return err
			}
		}
		if last {
			if !s.l.style {
				return fmt.Errorf("the last layer must be a style layer")
			}
			if err := d.Axpy(1, n.seed, s.dact); err != nil {
				return err
			}
		}
		if err := d.ReLUBackward(s.pre, s.act, s.dact, s.dpre); err != nil {
			return err
		}
		dIn := n.dx
		if i > 0 {
			prev := n.stages[i-1]
			dIn = prev.dact
			if prev.l.pool {
				dIn = prev.dpooled
			}
		}
		if err := d.Conv(s.conv, gpu.BackwardData, dIn, s.wt, s.dpre); err != nil {
			return err
		}
	}
	return nil
}

// TestVGGChain: a whole iteration at 64x64 runs on resident buffers without a single transfer
// and gives a finite, non-zero input gradient.
func TestVGGChain(t *testing.T) {
	d := device(t, gpu.Options{})
	n := newVGGChain(t, d, 64)
	defer n.free()
	before := d.Stats()
	for i := 0; i < 2; i++ {
		if err := n.step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats(); s.Uploads != before.Uploads || s.Downloads != before.Downloads {
		t.Errorf("an iteration transferred: %d uploads, %d downloads", s.Uploads-before.Uploads, s.Downloads-before.Downloads)
	}
	dx := make([]float32, n.dx.Len())
	if err := d.Download(dx, n.dx); err != nil {
		t.Fatal(err)
	}
	var norm float64
	for _, v := range dx {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("non-finite input gradient %v", v)
		}
		norm += float64(v) * float64(v)
	}
	if norm == 0 {
		t.Error("the input gradient is zero")
	}
}

// BenchmarkStyleIteration: one iteration at 512x512 (the target: 40 ms on an H100), in
// float32 and with TF32.
func BenchmarkStyleIteration(b *testing.B) {
	for _, tf32 := range []bool{false, true} {
		name := "512/float32"
		if tf32 {
			name = "512/tf32"
		}
		b.Run(name, func(b *testing.B) {
			d := device(b, gpu.Options{TF32: tf32})
			n := newVGGChain(b, d, 512)
			defer n.free()
			if err := n.step(); err != nil { // algorithms chosen, scratch grown
				b.Fatal(err)
			}
			d.Sync()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := n.step(); err != nil {
					b.Fatal(err)
				}
			}
			if err := d.Sync(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/iter")
		})
	}
}
