package nn

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gorgonia.org/tensor"

	"convas/compute/gpu"
)

// Emulator is an Accel for tests, on machines without a GPU: its "device memory" is Go slices
// apart from the graph's tensors, and its ops are this package's CPU kernels (direct
// convolution, no fusion). It tests what Place adds and what a recipe does with it: which op
// runs where, which values cross and when, and that no CPU op reads a result that stayed on the
// device, for a placement on an Emulator fills every host result it does not download with NaN.
// Its fresh buffers hold NaN too, as device memory holds garbage. (Each GPU op against its CPU
// twin is compute/gpu's test, on a GPU.)
//
// It is safe for concurrent use; its ops run one at a time.
type Emulator struct {
	mu sync.Mutex
	// Calls counts the ops run (not the transfers), Allocs and Frees the buffers.
	Calls, Allocs, Frees int
	live                 map[*emuBuf]bool
	moved                gpu.Stats // the transfers, as a GPU counts them
}

// Stats counts the transfers and the live buffers, as gpu.Device.Stats does.
func (a *Emulator) Stats() gpu.Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.moved
	s.Buffers = int64(len(a.live))
	for b := range a.live {
		s.BytesResident += int64(len(b.d)) * 4
	}
	return s
}

type emuBuf struct{ d []float32 }

func (b *emuBuf) Len() int { return len(b.d) }

// NewEmulator returns an Emulator with nothing allocated.
func NewEmulator() *Emulator { return &Emulator{live: map[*emuBuf]bool{}} }

// Live returns the number of buffers allocated and not freed.
func (a *Emulator) Live() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.live)
}

// Alloc returns a buffer of n NaNs.
func (a *Emulator) Alloc(n int) (Buf, error) {
	if n <= 0 {
		return nil, fmt.Errorf("nn: Emulator: Alloc(%d)", n)
	}
	b := &emuBuf{d: make([]float32, n)}
	for i := range b.d {
		b.d[i] = float32(math.NaN())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Allocs++
	a.live[b] = true
	return b, nil
}

// Free releases b; it panics on a buffer freed twice or not its own, a bug in the caller.
func (a *Emulator) Free(b Buf) {
	a.mu.Lock()
	defer a.mu.Unlock()
	hb, ok := b.(*emuBuf)
	if !ok || !a.live[hb] {
		panic("nn: Emulator: freeing a buffer twice or one not allocated here")
	}
	delete(a.live, hb)
	a.Frees++
}

// d returns the slices of bufs, checking that each is live, and holds the lock until done is
// called.
func (a *Emulator) d(bufs ...Buf) [][]float32 {
	a.mu.Lock()
	out := make([][]float32, len(bufs))
	for i, b := range bufs {
		hb, ok := b.(*emuBuf)
		if !ok || !a.live[hb] {
			a.mu.Unlock()
			panic("nn: Emulator: use of a freed or foreign buffer")
		}
		out[i] = hb.d
	}
	return out
}

func (a *Emulator) done(op bool) {
	if op {
		a.Calls++
	}
	a.mu.Unlock()
}

// Upload copies src into b.
func (a *Emulator) Upload(b Buf, src []float32) error {
	d := a.d(b)[0]
	defer a.done(false)
	if len(d) != len(src) {
		return fmt.Errorf("nn: Emulator: upload of %d values into %d", len(src), len(d))
	}
	copy(d, src)
	a.moved.Uploads++
	a.moved.BytesUp += int64(len(src)) * 4
	return nil
}

// Download copies b into dst.
func (a *Emulator) Download(dst []float32, b Buf) error {
	d := a.d(b)[0]
	defer a.done(false)
	if len(d) != len(dst) {
		return fmt.Errorf("nn: Emulator: download of %d values into %d", len(d), len(dst))
	}
	copy(dst, d)
	a.moved.Downloads++
	a.moved.BytesDown += int64(len(dst)) * 4
	return nil
}

func dense32(d []float32, s ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(s...), tensor.WithBacking(d))
}

// Copy copies n elements of src from srcOff into dst from dstOff.
func (a *Emulator) Copy(dst Buf, dstOff int, src Buf, srcOff, n int) error {
	b := a.d(dst, src)
	defer a.done(true)
	if n <= 0 || dstOff < 0 || srcOff < 0 || dstOff+n > len(b[0]) || srcOff+n > len(b[1]) {
		return fmt.Errorf("nn: Emulator: Copy of %d from %d of %d into %d of %d", n, srcOff, len(b[1]), dstOff, len(b[0]))
	}
	copy(b[0][dstOff:dstOff+n], b[1][srcOff:srcOff+n])
	return nil
}

// Zero sets b to zeros.
func (a *Emulator) Zero(b Buf) error {
	d := a.d(b)
	defer a.done(true)
	clear(d[0])
	return nil
}

// Axpy writes y = a·x + y.
func (a *Emulator) Axpy(alpha float32, x, y Buf) error {
	b := a.d(x, y)
	defer a.done(true)
	if len(b[0]) != len(b[1]) {
		return fmt.Errorf("nn: Emulator: Axpy of %d into %d", len(b[0]), len(b[1]))
	}
	for i, v := range b[0] {
		b[1][i] += alpha * v
	}
	return nil
}

// Gemm is the row-major general product, as BLAS's.
func (a *Emulator) Gemm(transA, transB bool, m, n, k int, alpha float32, x, y Buf, beta float32, z Buf) error {
	b := a.d(x, y, z)
	defer a.done(true)
	if len(b[0]) != m*k || len(b[1]) != k*n || len(b[2]) != m*n {
		return fmt.Errorf("nn: Emulator: Gemm %dx%dx%d on %d, %d, %d values", m, n, k, len(b[0]), len(b[1]), len(b[2]))
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	lda, ldb := k, n
	if transA {
		ta, lda = blas.Trans, m
	}
	if transB {
		tb, ldb = blas.Trans, k
	}
	blas32Impl.Sgemm(ta, tb, m, n, k, alpha, b[0], lda, b[1], ldb, beta, b[2], n)
	return nil
}

// Conv runs one pass of a direct convolution.
func (a *Emulator) Conv(c gpu.Conv, pass gpu.Pass, x, w, y Buf) error {
	b := a.d(x, w, y)
	defer a.done(true)
	g, err := newConvGeom(tensor.Shape{c.N, c.C, c.H, c.W}, tensor.Shape{c.O, c.C, c.KH, c.KW},
		Padding{c.PadTop, c.PadBottom, c.PadLeft, c.PadRight}, c.StrideH, c.StrideW)
	if err != nil {
		return err
	}
	if len(b[0]) != c.N*c.C*c.H*c.W || len(b[1]) != c.O*c.C*c.KH*c.KW || len(b[2]) != g.outShape().TotalSize() {
		return fmt.Errorf("conv %+v: buffers of %d, %d, %d", c, len(b[0]), len(b[1]), len(b[2]))
	}
	switch pass {
	case gpu.Forward:
		conv32(ConvDirect, passForward, &g, b[0], b[1], b[2], nil)
	case gpu.BackwardData:
		conv32(ConvDirect, passBackData, &g, b[0], b[1], b[2], nil)
	case gpu.BackwardFilter:
		conv32(ConvDirect, passBackFilter, &g, b[0], b[1], b[2], nil)
	}
	return nil
}

// BiasAdd adds a per-channel bias.
func (a *Emulator) BiasAdd(n, c, plane int, x, bias, y Buf) error {
	b := a.d(x, bias, y)
	defer a.done(true)
	addBias(tensor.Shape{n, c, plane}, b[0], b[1], b[2])
	return nil
}

// BiasGrad sums dy per channel.
func (a *Emulator) BiasGrad(n, c, plane int, dy, db Buf) error {
	b := a.d(dy, db)
	defer a.done(true)
	sumPerChannel(tensor.Shape{n, c, plane}, b[0], b[1])
	return nil
}

// ReLUForward writes max(x, 0).
func (a *Emulator) ReLUForward(x, y Buf) error {
	b := a.d(x, y)
	defer a.done(true)
	reluForward(b[0], b[1])
	return nil
}

// ReLUBackward masks dy where x is not positive.
func (a *Emulator) ReLUBackward(x, y, dy, dx Buf) error {
	b := a.d(x, y, dy, dx)
	defer a.done(true)
	reluBackward(b[0], b[2], b[3])
	return nil
}

func hostPool(p gpu.Pool) (poolGeom, error) {
	pp := poolParams{kh: p.KH, kw: p.KW, sh: p.StrideH, sw: p.StrideW, pad: Padding{p.PadTop, p.PadBottom, p.PadLeft, p.PadRight}}
	return pp.geom(tensor.Shape{p.N, p.C, p.H, p.W})
}

// PoolForward max- or average-pools x.
func (a *Emulator) PoolForward(p gpu.Pool, x, y Buf) error {
	b := a.d(x, y)
	defer a.done(true)
	g, err := hostPool(p)
	if err != nil {
		return err
	}
	if p.Mode == gpu.PoolMax {
		maxPoolForward(&g, b[0], b[1], new([]int32))
	} else {
		avgPoolForward(&g, b[0], b[1])
	}
	return nil
}

// PoolBackward writes the pooling's input gradient.
func (a *Emulator) PoolBackward(p gpu.Pool, x, y, dy, dx Buf) error {
	b := a.d(x, y, dy, dx)
	defer a.done(true)
	g, err := hostPool(p)
	if err != nil {
		return err
	}
	if p.Mode == gpu.PoolMax {
		maxPoolBackward(&g, b[0], b[2], b[3])
	} else {
		clear(b[3]) // avgPoolBackward adds into dx; cuDNN writes it
		avgPoolBackward(&g, b[2], b[3])
	}
	return nil
}

func hostLRN(l gpu.LRN) (lrnKernel, tensor.Shape) {
	return lrnKernel{radius: l.Radius, bias: l.Bias, alpha: l.Alpha, beta: l.Beta}, tensor.Shape{l.N, l.C, l.H, l.W}
}

// LRNForward normalises x with TensorFlow's LRN.
func (a *Emulator) LRNForward(l gpu.LRN, x, y Buf) error {
	b := a.d(x, y)
	defer a.done(true)
	k, s := hostLRN(l)
	return k.forward(dense32(b[0], s...), dense32(b[1], s...))
}

// LRNBackward writes LRN's input gradient.
func (a *Emulator) LRNBackward(l gpu.LRN, x, y, dy, dx Buf) error {
	b := a.d(x, y, dy, dx)
	defer a.done(true)
	k, s := hostLRN(l)
	clear(b[3])
	return k.backward(dense32(b[0], s...), dense32(b[2], s...), dense32(b[3], s...))
}
