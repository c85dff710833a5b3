//go:build convas_cuda && cgo

package gpu_test

// Each GPU op against its CPU twin in compute/nn, on random inputs: the forward result and the
// gradients (the CPU gradients come from Gorgonia's Grad over nn's ops with the loss
// Σ y·dy, whose gradient with respect to y is dy). Errors are norm-wise relative errors,
// ‖gpu - cpu‖ / ‖cpu‖, within 1e-4 in float32 mode. The tests skip, saying why, where no GPU
// can be opened.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"convas/compute/gpu"
	"convas/compute/nn"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

const tol = 1e-4

// The devices the tests share, one per Options, opened on first use and closed by TestMain.
var (
	devMu   sync.Mutex
	devs    = map[gpu.Options]*gpu.Device{}
	devErrs = map[gpu.Options]error{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range devs {
		d.Close()
	}
	os.Exit(code)
}

// device returns the shared device for opt, or skips the test (saying why) when no GPU can be
// opened. Each test computes its CPU twin first, so that part runs everywhere.
func device(tb testing.TB, opt gpu.Options) *gpu.Device {
	tb.Helper()
	devMu.Lock()
	defer devMu.Unlock()
	if d := devs[opt]; d != nil {
		return d
	}
	if err := devErrs[opt]; err != nil {
		tb.Skipf("no GPU to test on: %v", err)
	}
	d, err := open(opt)
	if err != nil {
		if errors.Is(err, gpu.ErrNoDriver) || errors.Is(err, gpu.ErrNoDevice) {
			devErrs[opt] = err
			tb.Skipf("no GPU to test on: %v", err)
		}
		tb.Fatalf("a GPU is present but cannot be opened: %v", err)
	}
	devs[opt] = d
	return d
}

func open(opt gpu.Options) (*gpu.Device, error) {
	idx := 0
	if s := os.Getenv("CONVAS_GPU_TEST_DEVICE"); s != "" {
		if _, err := fmt.Sscan(s, &idx); err != nil {
			return nil, fmt.Errorf("CONVAS_GPU_TEST_DEVICE=%q: %v", s, err)
		}
	}
	return gpu.Open(idx, opt)
}

// openOrSkip opens a device of the test's own, closed when the test ends, or skips the test.
func openOrSkip(tb testing.TB, opt gpu.Options) *gpu.Device {
	tb.Helper()
	d, err := open(opt)
	if err != nil {
		if errors.Is(err, gpu.ErrNoDriver) || errors.Is(err, gpu.ErrNoDevice) {
			tb.Skipf("no GPU to test on: %v", err)
		}
		tb.Fatalf("a GPU is present but cannot be opened: %v", err)
	}
	tb.Cleanup(d.Close)
	return d
}

// up allocates and fills a device buffer.
func up(t *testing.T, d *gpu.Device, s []float32) *gpu.Buffer {
	t.Helper()
	b, err := d.AllocFrom(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Free(b) })
	return b
}

func alloc(t *testing.T, d *gpu.Device, n int) *gpu.Buffer {
	t.Helper()
	b, err := d.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Free(b) })
	return b
}

func down(t *testing.T, d *gpu.Device, b *gpu.Buffer) []float32 {
	t.Helper()
	s := make([]float32, b.Len())
	if err := d.Download(s, b); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDevicesListed(t *testing.T) {
	d := device(t, gpu.Options{})
	infos, err := gpu.Devices()
	if err != nil || len(infos) == 0 {
		t.Fatalf("Devices = %v, %v after a device opened", infos, err)
	}
	info := d.Info()
	if info.Name == "" || info.TotalMem == 0 || info.FreeMem == 0 || info.FreeMem > info.TotalMem || info.Major < 5 {
		t.Errorf("implausible device info %+v", info)
	}
	dn, bl, err := d.Versions()
	if err != nil || dn < 90000 || bl < 120000 {
		t.Errorf("Versions = cuDNN %d, cuBLAS %d, %v; want cuDNN 9 and cuBLAS 12", dn, bl, err)
	}
	t.Logf("%v; driver CUDA %d; cuDNN %d; cuBLAS %d", info, info.Driver, dn, bl)
}

var convCases = []struct {
	name             string
	n, c, h, w, o, k int
	stride           int
	same             bool
}{
	{"mnist 4x4 same (pads 1 then 2)", 2, 3, 13, 13, 5, 4, 1, true},
	{"3x3 same", 2, 16, 20, 18, 8, 3, 1, true},
	{"7x7 stride 2 same on 24 (pads 2 then 3)", 1, 3, 24, 24, 8, 7, 2, true},
	{"3x3 stride 2 same on 16 (pads 0 then 1)", 2, 4, 16, 16, 6, 3, 2, true},
	{"1x1 valid", 3, 32, 7, 5, 16, 1, 1, false},
	{"5x5 valid", 1, 6, 12, 11, 4, 5, 1, false},
}

func TestConvAgainstCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			pad := nn.Valid()
			if tc.same {
				pad = nn.Same(tc.h, tc.w, tc.k, tc.k, tc.stride, tc.stride)
			}
			c := gpu.Conv{N: tc.n, C: tc.c, H: tc.h, W: tc.w, O: tc.o, KH: tc.k, KW: tc.k,
				StrideH: tc.stride, StrideW: tc.stride,
				PadTop: pad.Top, PadBottom: pad.Bottom, PadLeft: pad.Left, PadRight: pad.Right}
			oh, ow := c.OutSize()
			x := randSlice(r, tc.n*tc.c*tc.h*tc.w)
			w := randSlice(r, tc.o*tc.c*tc.k*tc.k)
			dy := randSlice(r, tc.n*tc.o*oh*ow)
			y, grads := cpuTwin(t, []leaf{{tensor.Shape{tc.n, tc.c, tc.h, tc.w}, x}, {tensor.Shape{tc.o, tc.c, tc.k, tc.k}, w}},
				func(ns []*gorgonia.Node) (*gorgonia.Node, error) {
					return nn.Conv2D(ns[0], ns[1], pad, tc.stride, tc.stride)
				}, dy)

			d := device(t, gpu.Options{})
			bx, bw, by := up(t, d, x), up(t, d, w), alloc(t, d, len(y))
			if err := d.Conv(c, gpu.Forward, bx, bw, by); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "forward", down(t, d, by), y, tol)
			bdy, bdx, bdw := up(t, d, dy), alloc(t, d, len(x)), alloc(t, d, len(w))
			if err := d.Conv(c, gpu.BackwardData, bdx, bw, bdy); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "backward data", down(t, d, bdx), grads[0], tol)
			if err := d.Conv(c, gpu.BackwardFilter, bx, bdw, bdy); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "backward filter", down(t, d, bdw), grads[1], tol)
		})
	}
}

// TestConvTF32: with TF32 allowed the forward result is still close (TF32 keeps 10 bits of
// mantissa: about 1e-3 relative error per product).
func TestConvTF32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	c := gpu.Conv{N: 2, C: 64, H: 32, W: 32, O: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	x, w := randSlice(r, 2*64*32*32), randSlice(r, 64*64*9)
	y, _ := cpuTwin(t, []leaf{{tensor.Shape{2, 64, 32, 32}, x}, {tensor.Shape{64, 64, 3, 3}, w}},
		func(ns []*gorgonia.Node) (*gorgonia.Node, error) {
			return nn.Conv2D(ns[0], ns[1], nn.Same(32, 32, 3, 3, 1, 1), 1, 1)
		}, nil)
	d := device(t, gpu.Options{TF32: true})
	by := alloc(t, d, len(y))
	if err := d.Conv(c, gpu.Forward, up(t, d, x), up(t, d, w), by); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "TF32 forward", down(t, d, by), y, 5e-3)
}

func TestPoolAgainstCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		name       string
		mode       gpu.PoolMode
		h, w, k, s int
		same       bool
	}{
		{"max 2x2/2 valid", gpu.PoolMax, 8, 10, 2, 2, false},
		{"max 3x3/2 same on 15 (1, 1)", gpu.PoolMax, 15, 15, 3, 2, true},
		{"max 3x3/2 same on 14 (0, 1)", gpu.PoolMax, 14, 14, 3, 2, true},
		{"max 2x2/2 same on 7 (0, 1)", gpu.PoolMax, 7, 7, 2, 2, true},
		{"max 3x3/1 same", gpu.PoolMax, 9, 9, 3, 1, true},
		{"avg 3x3/1 same", gpu.PoolAverage, 9, 9, 3, 1, true},
		{"avg 2x2/2 same on 7 (0, 1)", gpu.PoolAverage, 7, 7, 2, 2, true},
		{"avg 5x5/3 valid", gpu.PoolAverage, 14, 17, 5, 3, false},
	}
	const n, c = 2, 3
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pad := nn.Valid()
			if tc.same {
				pad = nn.Same(tc.h, tc.w, tc.k, tc.k, tc.s, tc.s)
			}
			p := gpu.Pool{N: n, C: c, H: tc.h, W: tc.w, KH: tc.k, KW: tc.k, StrideH: tc.s, StrideW: tc.s,
				PadTop: pad.Top, PadBottom: pad.Bottom, PadLeft: pad.Left, PadRight: pad.Right, Mode: tc.mode}
			oh, ow := p.OutSize()
			x := randSlice(r, n*c*tc.h*tc.w)
			dy := randSlice(r, n*c*oh*ow)
			y, grads := cpuTwin(t, []leaf{{tensor.Shape{n, c, tc.h, tc.w}, x}},
				func(ns []*gorgonia.Node) (*gorgonia.Node, error) {
					if tc.mode == gpu.PoolMax {
						return nn.MaxPool2D(ns[0], tc.k, tc.k, tc.s, tc.s, pad)
					}
					return nn.AvgPool2D(ns[0], tc.k, tc.k, tc.s, tc.s, pad)
				}, dy)
			d := device(t, gpu.Options{})
			bx, by := up(t, d, x), alloc(t, d, len(y))
			if err := d.PoolForward(p, bx, by); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "forward", down(t, d, by), y, tol)
			bdx := alloc(t, d, len(x))
			if err := d.PoolBackward(p, bx, by, up(t, d, dy), bdx); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "backward", down(t, d, bdx), grads[0], tol)
		})
	}
}

func TestLRNAgainstCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		name              string
		c, radius         int
		bias, alpha, beta float64
	}{
		{"googlenet (r2, 1, 1e-4, 0.75)", 16, 2, 1, 1e-4, 0.75},
		{"strong (r2, 2, 0.5, 0.75)", 16, 2, 2, 0.5, 0.75},
		{"wide window, few channels (r5, 1, 0.2, 0.5)", 4, 5, 1, 0.2, 0.5},
		{"radius 0 (1, 1, 1)", 5, 0, 1, 1, 1},
		{"radius past every channel (r9 over 6, 1, 0.3, 0.75)", 6, 9, 1, 0.3, 0.75},
	}
	const n, h, w = 2, 5, 6
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := gpu.LRN{N: n, C: tc.c, H: h, W: w, Radius: tc.radius, Bias: tc.bias, Alpha: tc.alpha, Beta: tc.beta}
			x := randSlice(r, n*tc.c*h*w)
			dy := randSlice(r, len(x))
			y, grads := cpuTwin(t, []leaf{{tensor.Shape{n, tc.c, h, w}, x}},
				func(ns []*gorgonia.Node) (*gorgonia.Node, error) {
					return nn.LRN(ns[0], tc.radius, tc.bias, tc.alpha, tc.beta)
				}, dy)
			d := device(t, gpu.Options{})
			bx, by := up(t, d, x), alloc(t, d, len(y))
			if err := d.LRNForward(l, bx, by); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "forward", down(t, d, by), y, tol)
			bdx := alloc(t, d, len(x))
			if err := d.LRNBackward(l, bx, by, up(t, d, dy), bdx); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "backward", down(t, d, bdx), grads[0], tol)
		})
	}
}

func TestReLUAgainstCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := randSlice(r, 2*3*7*9)
	dy := randSlice(r, len(x))
	y, grads := cpuTwin(t, []leaf{{tensor.Shape{2, 3, 7, 9}, x}},
		func(ns []*gorgonia.Node) (*gorgonia.Node, error) { return nn.ReLU(ns[0]) }, dy)
	// The twin itself, by hand: y = max(x, 0), dx = dy where x > 0.
	for i, v := range x {
		wy, wg := float32(0), float32(0)
		if v > 0 {
			wy, wg = v, dy[i]
		}
		if y[i] != wy || grads[0][i] != wg {
			t.Fatalf("CPU twin at %d: y %v dx %v, want %v %v", i, y[i], grads[0][i], wy, wg)
		}
	}
	d := device(t, gpu.Options{})
	bx, by, bdx := up(t, d, x), alloc(t, d, len(x)), alloc(t, d, len(x))
	if err := d.ReLUForward(bx, by); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "forward", down(t, d, by), y, 0)
	if err := d.ReLUBackward(bx, by, up(t, d, dy), bdx); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "backward", down(t, d, bdx), grads[0], 0)
}

func TestBiasAgainstCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const n, c, h, w = 3, 5, 7, 11
	x, b := randSlice(r, n*c*h*w), randSlice(r, c)
	dy := randSlice(r, len(x))
	y, grads := cpuTwin(t, []leaf{{tensor.Shape{n, c, h, w}, x}, {tensor.Shape{c}, b}},
		func(ns []*gorgonia.Node) (*gorgonia.Node, error) { return nn.AddBias(ns[0], ns[1]) }, dy)
	// The twin's bias gradient, by hand: the sum of dy over n, h and w.
	for ch := 0; ch < c; ch++ {
		var sum float64
		for i := 0; i < n; i++ {
			for _, v := range dy[(i*c+ch)*h*w : (i*c+ch+1)*h*w] {
				sum += float64(v)
			}
		}
		if math.Abs(sum-float64(grads[1][ch])) > 1e-4*(1+math.Abs(sum)) {
			t.Fatalf("CPU twin's bias gradient %d = %v, want %v", ch, grads[1][ch], sum)
		}
	}
	d := device(t, gpu.Options{})
	by, bdb := alloc(t, d, len(x)), alloc(t, d, c)
	if err := d.BiasAdd(n, c, h*w, up(t, d, x), up(t, d, b), by); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "bias add", down(t, d, by), y, tol)
	if err := d.BiasGrad(n, c, h*w, up(t, d, dy), bdb); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "bias gradient", down(t, d, bdb), grads[1], tol)
}

// TestGemm against a float64 triple loop, in all four transpositions, with beta ≠ 0.
func TestGemm(t *testing.T) {
	d := device(t, gpu.Options{})
	r := rand.New(rand.NewPCG(13, 14))
	const m, n, k = 37, 53, 29
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		t.Run(fmt.Sprintf("transA=%v transB=%v", tr[0], tr[1]), func(t *testing.T) {
			a, b, c0 := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m*n)
			at := func(i, p int) float64 { // op(a)[i][p]
				if tr[0] {
					return float64(a[p*m+i])
				}
				return float64(a[i*k+p])
			}
			bt := func(p, j int) float64 {
				if tr[1] {
					return float64(b[j*k+p])
				}
				return float64(b[p*n+j])
			}
			want := make([]float32, m*n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					s := 0.5 * float64(c0[i*n+j])
					for p := 0; p < k; p++ {
						s += 2 * at(i, p) * bt(p, j)
					}
					want[i*n+j] = float32(s)
				}
			}
			bc := up(t, d, c0)
			if err := d.Gemm(tr[0], tr[1], m, n, k, 2, up(t, d, a), up(t, d, b), 0.5, bc); err != nil {
				t.Fatal(err)
			}
			checkClose(t, "gemm", down(t, d, bc), want, tol)
		})
	}
}

func TestAxpy(t *testing.T) {
	d := device(t, gpu.Options{})
	r := rand.New(rand.NewPCG(15, 16))
	x, y := randSlice(r, 1000), randSlice(r, 1000)
	want := make([]float32, len(y))
	for i := range y {
		want[i] = y[i] - 0.25*x[i]
	}
	by := up(t, d, y)
	if err := d.Axpy(-0.25, up(t, d, x), by); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "axpy", down(t, d, by), want, 1e-7)
}

// TestCopyAndZero: a copy between offsets moves exactly its range, ranges outside a buffer are
// refused, and Zero clears a buffer.
func TestCopyAndZero(t *testing.T) {
	d := device(t, gpu.Options{})
	r := rand.New(rand.NewPCG(19, 20))
	src, dst := randSlice(r, 100), randSlice(r, 80)
	want := append([]float32(nil), dst...)
	copy(want[30:55], src[10:35])
	bs, bd := up(t, d, src), up(t, d, dst)
	if err := d.Copy(bd, 30, bs, 10, 25); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "copy", down(t, d, bd), want, 0)
	if err := d.Copy(bd, 60, bs, 0, 25); err == nil {
		t.Error("a copy past the end of dst was accepted")
	}
	if err := d.Zero(bd); err != nil {
		t.Fatal(err)
	}
	for i, v := range down(t, d, bd) {
		if v != 0 {
			t.Fatalf("after Zero, [%d] = %g", i, v)
		}
	}
}

// TestTransfersCounted: a chain of ops on resident buffers transfers only what the caller
// uploads and downloads, and Stats counts exactly that; freed buffers leave Stats.
func TestTransfersCounted(t *testing.T) {
	d := openOrSkip(t, gpu.Options{})
	before := d.Stats()
	r := rand.New(rand.NewPCG(17, 18))
	c := gpu.Conv{N: 1, C: 3, H: 16, W: 16, O: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	x, err := d.AllocFrom(randSlice(r, 3*16*16))
	if err != nil {
		t.Fatal(err)
	}
	w, err := d.AllocFrom(randSlice(r, 4*3*9))
	if err != nil {
		t.Fatal(err)
	}
	y, _ := d.Alloc(4 * 16 * 16)
	z, _ := d.Alloc(4 * 16 * 16)
	for i := 0; i < 5; i++ {
		if err := d.Conv(c, gpu.Forward, x, w, y); err != nil {
			t.Fatal(err)
		}
		if err := d.ReLUForward(y, z); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]float32, z.Len())
	if err := d.Download(out, z); err != nil {
		t.Fatal(err)
	}
	s := d.Stats()
	if got := s.Uploads - before.Uploads; got != 2 {
		t.Errorf("uploads = %d, want 2", got)
	}
	if got := s.Downloads - before.Downloads; got != 1 {
		t.Errorf("downloads = %d, want 1", got)
	}
	if got := s.BytesUp - before.BytesUp; got != 4*(3*16*16+4*3*9) {
		t.Errorf("bytes up = %d", got)
	}
	if got := s.Buffers - before.Buffers; got != 4 {
		t.Errorf("live buffers = %d, want 4", got)
	}
	for _, b := range []*gpu.Buffer{x, w, y, z} {
		d.Free(b)
	}
	if got := d.Stats().Buffers - before.Buffers; got != 0 {
		t.Errorf("live buffers after Free = %d, want 0", got)
	}
	if err := d.ReLUForward(x, z); err == nil {
		t.Error("a freed buffer was accepted")
	}
}

// TestClosed: a closed device refuses calls with ErrClosed instead of crashing.
func TestClosed(t *testing.T) {
	d := openOrSkip(t, gpu.Options{})
	b, err := d.Alloc(16)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := d.Upload(b, make([]float32, 16)); !errors.Is(err, gpu.ErrClosed) {
		t.Errorf("Upload after Close: %v, want ErrClosed", err)
	}
	d.Close() // twice is fine
}

// TestHostMethods: the Host methods agree with the CPU twins and transfer exactly the inputs
// and the output of each call.
func TestHostMethods(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	pad := nn.Same(13, 13, 4, 4, 1, 1)
	c := gpu.Conv{N: 2, C: 3, H: 13, W: 13, O: 5, KH: 4, KW: 4, StrideH: 1, StrideW: 1,
		PadTop: pad.Top, PadBottom: pad.Bottom, PadLeft: pad.Left, PadRight: pad.Right}
	x, w := randSlice(r, 2*3*13*13), randSlice(r, 5*3*16)
	dy := randSlice(r, 2*5*13*13)
	y, grads := cpuTwin(t, []leaf{{tensor.Shape{2, 3, 13, 13}, x}, {tensor.Shape{5, 3, 4, 4}, w}},
		func(ns []*gorgonia.Node) (*gorgonia.Node, error) { return nn.Conv2D(ns[0], ns[1], pad, 1, 1) }, dy)
	d := openOrSkip(t, gpu.Options{})
	got := make([]float32, len(y))
	before := d.Stats()
	if err := d.ConvHost(c, gpu.Forward, x, w, got); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "ConvHost forward", got, y, tol)
	if s := d.Stats(); s.Uploads-before.Uploads != 2 || s.Downloads-before.Downloads != 1 {
		t.Errorf("ConvHost forward: %d uploads and %d downloads, want 2 and 1", s.Uploads-before.Uploads, s.Downloads-before.Downloads)
	}
	dx, dw := make([]float32, len(x)), make([]float32, len(w))
	if err := d.ConvHost(c, gpu.BackwardData, dx, w, dy); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "ConvHost backward data", dx, grads[0], tol)
	if err := d.ConvHost(c, gpu.BackwardFilter, x, dw, dy); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "ConvHost backward filter", dw, grads[1], tol)
	// The second round reuses the pooled buffers: no new allocations.
	bufs := d.Stats().Buffers
	if err := d.ConvHost(c, gpu.Forward, x, w, got); err != nil {
		t.Fatal(err)
	}
	if d.Stats().Buffers != bufs {
		t.Errorf("ConvHost allocated again: %d buffers, had %d", d.Stats().Buffers, bufs)
	}
	d.ReleaseHostBuffers()
	if s := d.Stats(); s.Buffers != 0 {
		t.Errorf("%d buffers live after ReleaseHostBuffers", s.Buffers)
	}
}

// TestHostBackwardWithoutY: the Host backward methods given no forward output (as compute/nn's
// backward ops have none) recompute it on the device and agree with the CPU twins.
func TestHostBackwardWithoutY(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	const n, c, h, w = 2, 6, 9, 9
	x, dy := randSlice(r, n*c*h*w), randSlice(r, n*c*h*w)
	shape := tensor.Shape{n, c, h, w}
	pad := nn.Same(h, w, 3, 3, 2, 2)
	p := gpu.Pool{N: n, C: c, H: h, W: w, KH: 3, KW: 3, StrideH: 2, StrideW: 2,
		PadTop: pad.Top, PadBottom: pad.Bottom, PadLeft: pad.Left, PadRight: pad.Right}
	oh, ow := p.OutSize()
	dyPool := dy[:n*c*oh*ow]
	_, gPool := cpuTwin(t, []leaf{{shape, x}}, func(ns []*gorgonia.Node) (*gorgonia.Node, error) {
		return nn.MaxPool2D(ns[0], 3, 3, 2, 2, pad)
	}, dyPool)
	l := gpu.LRN{N: n, C: c, H: h, W: w, Radius: 2, Bias: 1, Alpha: 0.3, Beta: 0.75}
	_, gLRN := cpuTwin(t, []leaf{{shape, x}}, func(ns []*gorgonia.Node) (*gorgonia.Node, error) {
		return nn.LRN(ns[0], 2, 1, 0.3, 0.75)
	}, dy)
	_, gReLU := cpuTwin(t, []leaf{{shape, x}}, func(ns []*gorgonia.Node) (*gorgonia.Node, error) { return nn.ReLU(ns[0]) }, dy)
	d := device(t, gpu.Options{})
	dx := make([]float32, len(x))
	if err := d.PoolBackwardHost(p, x, nil, dyPool, dx); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "max pool backward", dx, gPool[0], tol)
	if err := d.LRNBackwardHost(l, x, nil, dy, dx); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "LRN backward", dx, gLRN[0], tol)
	if err := d.ReLUBackwardHost(x, nil, dy, dx); err != nil {
		t.Fatal(err)
	}
	checkClose(t, "ReLU backward", dx, gReLU[0], 0)
}
