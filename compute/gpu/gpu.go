package gpu

import (
	"errors"
	"fmt"
)

// Errors, each wrapped with the details of what failed.
var (
	// ErrNotBuilt: this binary was built without the convas_cuda tag.
	ErrNotBuilt = errors.New("gpu: this build has no CUDA support (build with -tags convas_cuda; see docs/GPU.md)")
	// ErrNoDriver: the NVIDIA driver (libcuda.so.1) is missing or unusable.
	ErrNoDriver = errors.New("gpu: no usable NVIDIA driver")
	// ErrNoDevice: the driver found no CUDA device, or not the one asked for.
	ErrNoDevice = errors.New("gpu: no such CUDA device")
	// ErrNoLibrary: cuBLAS 12 or cuDNN 9 could not be loaded.
	ErrNoLibrary = errors.New("gpu: cuBLAS 12 or cuDNN 9 not found")
	// ErrOutOfMemory: the device ran out of memory.
	ErrOutOfMemory = errors.New("gpu: out of device memory")
	// ErrUnsupported: cuDNN has no implementation for the parameters, or they are outside its
	// limits (an LRN window wider than 15 channels, for instance).
	ErrUnsupported = errors.New("gpu: unsupported by cuDNN")
	// ErrFailed: any other CUDA, cuBLAS or cuDNN error.
	ErrFailed = errors.New("gpu: CUDA error")
	// ErrClosed: the device has been closed.
	ErrClosed = errors.New("gpu: device closed")
)

// Info describes a CUDA device.
type Info struct {
	Index           int
	Name            string
	TotalMem        uint64 // bytes
	FreeMem         uint64 // bytes free when Devices or Device.Info asked
	Major, Minor    int    // compute capability
	Multiprocessors int
	Driver          int // the driver's CUDA version: 13000 for 13.0
}

// String describes the device in one line: "cuda:0 NVIDIA H100 80GB HBM3 (79.2 GiB, 78.6 GiB
// free, sm_90)".
func (i Info) String() string {
	return fmt.Sprintf("cuda:%d %s (%.1f GiB, %.1f GiB free, sm_%d%d)", i.Index, i.Name,
		gib(i.TotalMem), gib(i.FreeMem), i.Major, i.Minor)
}

func gib(b uint64) float64 { return float64(b) / (1 << 30) }

// Options configure a Device.
type Options struct {
	// TF32 lets cuBLAS and cuDNN use TF32 tensor cores (Ampere and newer): faster, with about
	// 1e-3 relative error instead of float32 rounding.
	TF32 bool
}

// Stats counts a device's transfers and allocations since it was opened.
type Stats struct {
	Uploads, Downloads     int64 // host to device and device to host copies
	BytesUp, BytesDown     int64
	Buffers, BytesResident int64 // live buffers and their bytes (scratch space not included)
}

// Buffer is an array of float32 in device memory, made by Device.Alloc and released by
// Device.Free (or with the device, when it closes).
type Buffer struct {
	dev *Device
	ptr uint64
	n   int
}

// Len is the number of float32 elements.
func (b *Buffer) Len() int { return b.n }

// Pass is one of the three computations of a convolution.
type Pass int

const (
	// Forward computes y from x and w.
	Forward Pass = iota
	// BackwardData computes the gradient of x (written to x) from that of y (read from y) and w.
	BackwardData
	// BackwardFilter computes the gradient of w (written to w) from x and that of y (read from y).
	BackwardFilter
)

// String names the pass.
func (p Pass) String() string {
	switch p {
	case Forward:
		return "forward"
	case BackwardData:
		return "backward-data"
	case BackwardFilter:
		return "backward-filter"
	}
	return fmt.Sprintf("Pass(%d)", int(p))
}

// Conv is a 2-D float32 convolution (the cross-correlation, as in compute/nn and compute/dnnl):
// x (N, C, H, W), w (O, C, KH, KW), y (N, O, OH, OW) with OH = (H + PadTop + PadBottom - KH) /
// StrideH + 1 and likewise OW. Padding may be asymmetric.
type Conv struct {
	N, C, H, W                           int
	O, KH, KW                            int
	StrideH, StrideW                     int
	PadTop, PadBottom, PadLeft, PadRight int
}

// OutSize returns OH and OW.
func (c Conv) OutSize() (oh, ow int) {
	return (c.H+c.PadTop+c.PadBottom-c.KH)/c.StrideH + 1, (c.W+c.PadLeft+c.PadRight-c.KW)/c.StrideW + 1
}

// convSplit is how a convolution's padding reaches cuDNN, which pads symmetrically: cuDNN pads
// both sides by PH rows and PW columns, and the rest is explicit, the input copied into an
// H2 x W2 buffer of zeros at row ET and column EL. For the backward pass to the input, the
// gradient of that buffer is cropped back at the same place.
type convSplit struct {
	PH, PW, ET, EL, H2, W2 int
}

// split splits c's padding: the symmetric part is the smaller side's.
func (c Conv) split() convSplit {
	ph, pw := min(c.PadTop, c.PadBottom), min(c.PadLeft, c.PadRight)
	return convSplit{
		PH: ph, PW: pw,
		ET: c.PadTop - ph, EL: c.PadLeft - pw,
		H2: c.H + c.PadTop + c.PadBottom - 2*ph, W2: c.W + c.PadLeft + c.PadRight - 2*pw,
	}
}

// check rejects shapes that have no convolution, with a readable error.
func (c Conv) check() error {
	for _, d := range []int{c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.StrideH, c.StrideW} {
		if d <= 0 {
			return fmt.Errorf("gpu: non-positive size or stride in %+v", c)
		}
	}
	for _, d := range []int{c.PadTop, c.PadBottom, c.PadLeft, c.PadRight} {
		if d < 0 {
			return fmt.Errorf("gpu: negative padding in %+v", c)
		}
	}
	if c.H+c.PadTop+c.PadBottom < c.KH || c.W+c.PadLeft+c.PadRight < c.KW {
		return fmt.Errorf("gpu: kernel larger than the padded input in %+v", c)
	}
	return nil
}

// PoolMode selects the pooling function.
type PoolMode int

const (
	// PoolMax takes each window's maximum; padded cells never win.
	PoolMax PoolMode = iota
	// PoolAverage averages each window's real cells (padded cells are not counted, as in
	// TensorFlow's 'SAME' average pooling and compute/nn.AvgPool2D).
	PoolAverage
)

// Pool is a 2-D pooling of x (N, C, H, W) into y (N, C, OH, OW), sizes as for Conv. Each side's
// padding must be smaller than the kernel, so that every window holds a real cell.
type Pool struct {
	N, C, H, W                           int
	KH, KW, StrideH, StrideW             int
	PadTop, PadBottom, PadLeft, PadRight int
	Mode                                 PoolMode
}

// OutSize returns OH and OW.
func (p Pool) OutSize() (oh, ow int) {
	return (p.H+p.PadTop+p.PadBottom-p.KH)/p.StrideH + 1, (p.W+p.PadLeft+p.PadRight-p.KW)/p.StrideW + 1
}

func (p Pool) check() error {
	for _, d := range []int{p.N, p.C, p.H, p.W, p.KH, p.KW, p.StrideH, p.StrideW} {
		if d <= 0 {
			return fmt.Errorf("gpu: non-positive size or stride in %+v", p)
		}
	}
	for _, d := range []int{p.PadTop, p.PadBottom, p.PadLeft, p.PadRight} {
		if d < 0 {
			return fmt.Errorf("gpu: negative padding in %+v", p)
		}
	}
	if p.PadTop >= p.KH || p.PadBottom >= p.KH || p.PadLeft >= p.KW || p.PadRight >= p.KW {
		return fmt.Errorf("gpu: padding must be smaller than the kernel in %+v", p)
	}
	if p.H+p.PadTop+p.PadBottom < p.KH || p.W+p.PadLeft+p.PadRight < p.KW {
		return fmt.Errorf("gpu: kernel larger than the padded input in %+v", p)
	}
	if p.Mode != PoolMax && p.Mode != PoolAverage {
		return fmt.Errorf("gpu: unknown pooling mode %d", int(p.Mode))
	}
	return nil
}

// LRN is local response normalisation across the channels of x (N, C, H, W), with TensorFlow's
// parameters and semantics (see compute/nn.LRN): y = x / (Bias + Alpha·Σ x²)^Beta, the sum over
// the channels within Radius. cuDNN limits the window to 15 channels (Radius 7, or any radius
// when C is at most 8), Bias to at least 1e-5 and Beta to at least 0.01; outside those the calls
// return ErrUnsupported.
type LRN struct {
	N, C, H, W        int
	Radius            int
	Bias, Alpha, Beta float64
}

func (l LRN) check() error {
	for _, d := range []int{l.N, l.C, l.H, l.W} {
		if d <= 0 {
			return fmt.Errorf("gpu: non-positive size in %+v", l)
		}
	}
	if l.Radius < 0 || l.Alpha < 0 {
		return fmt.Errorf("gpu: negative radius or alpha in %+v", l)
	}
	// A radius of C-1 or more sums every channel; the window cuDNN gets is clamped to that.
	if 2*min(l.Radius, l.C-1)+1 > 15 || l.Bias < 1e-5 || l.Beta < 0.01 {
		return fmt.Errorf("%w: LRN %+v is outside cuDNN's limits (window of at most 15 channels, bias at least 1e-5, beta at least 0.01)", ErrUnsupported, l)
	}
	return nil
}

// size is the element count of an (N, C, H, W) tensor.
func size4(n, c, h, w int) int { return n * c * h * w }

// checkBufs checks that each buffer belongs to d and holds want elements.
func (d *Device) checkBufs(op string, want []int, bufs ...*Buffer) error {
	for i, b := range bufs {
		if b == nil {
			return fmt.Errorf("gpu: %s: buffer %d is nil", op, i)
		}
		if b.dev != d {
			return fmt.Errorf("gpu: %s: buffer %d belongs to another device", op, i)
		}
		if b.n != want[i] {
			return fmt.Errorf("gpu: %s: buffer %d holds %d elements, want %d", op, i, b.n, want[i])
		}
	}
	return nil
}

// Conv runs one pass of c: Forward reads x and w and writes y; BackwardData reads y (the
// output's gradient) and w and writes x (the input's gradient); BackwardFilter reads x and y
// (the output's gradient) and writes w (the filter's gradient). The output is overwritten, not
// accumulated into. The first call for a shape and pass picks cuDNN's algorithm, kept for later
// calls.
func (d *Device) Conv(c Conv, pass Pass, x, w, y *Buffer) error {
	if err := c.check(); err != nil {
		return err
	}
	if pass < Forward || pass > BackwardFilter {
		return fmt.Errorf("gpu: unknown convolution pass %d", int(pass))
	}
	oh, ow := c.OutSize()
	want := []int{size4(c.N, c.C, c.H, c.W), size4(c.O, c.C, c.KH, c.KW), size4(c.N, c.O, oh, ow)}
	if err := d.checkBufs("Conv "+pass.String(), want, x, w, y); err != nil {
		return err
	}
	return d.conv(c, pass, x, w, y)
}

// PoolForward writes the pooling of x into y.
func (d *Device) PoolForward(p Pool, x, y *Buffer) error {
	if err := p.check(); err != nil {
		return err
	}
	oh, ow := p.OutSize()
	if err := d.checkBufs("PoolForward", []int{size4(p.N, p.C, p.H, p.W), size4(p.N, p.C, oh, ow)}, x, y); err != nil {
		return err
	}
	return d.poolForward(p, x, y)
}

// PoolBackward writes into dx the gradient of the pooling for input x, its output y and the
// output's gradient dy. Max pooling sends each window's gradient to its maximum.
func (d *Device) PoolBackward(p Pool, x, y, dy, dx *Buffer) error {
	if err := p.check(); err != nil {
		return err
	}
	oh, ow := p.OutSize()
	in, out := size4(p.N, p.C, p.H, p.W), size4(p.N, p.C, oh, ow)
	if err := d.checkBufs("PoolBackward", []int{in, out, out, in}, x, y, dy, dx); err != nil {
		return err
	}
	return d.poolBackward(p, x, y, dy, dx)
}

// LRNForward writes the normalisation of x into y.
func (d *Device) LRNForward(l LRN, x, y *Buffer) error {
	if err := l.check(); err != nil {
		return err
	}
	n := size4(l.N, l.C, l.H, l.W)
	if err := d.checkBufs("LRNForward", []int{n, n}, x, y); err != nil {
		return err
	}
	return d.lrn(l, false, x, y, nil, nil)
}

// LRNBackward writes into dx the gradient of LRN for input x, output y and output gradient dy.
func (d *Device) LRNBackward(l LRN, x, y, dy, dx *Buffer) error {
	if err := l.check(); err != nil {
		return err
	}
	n := size4(l.N, l.C, l.H, l.W)
	if err := d.checkBufs("LRNBackward", []int{n, n, n, n}, x, y, dy, dx); err != nil {
		return err
	}
	return d.lrn(l, true, x, y, dy, dx)
}

// ReLUForward writes y = max(x, 0).
func (d *Device) ReLUForward(x, y *Buffer) error {
	if x == nil {
		return errors.New("gpu: ReLUForward: nil input")
	}
	if err := d.checkBufs("ReLUForward", []int{x.n, x.n}, x, y); err != nil {
		return err
	}
	return d.relu(false, x, y, nil, nil)
}

// ReLUBackward writes dx = dy where x > 0 and 0 elsewhere, for input x and output y.
func (d *Device) ReLUBackward(x, y, dy, dx *Buffer) error {
	if x == nil {
		return errors.New("gpu: ReLUBackward: nil input")
	}
	if err := d.checkBufs("ReLUBackward", []int{x.n, x.n, x.n, x.n}, x, y, dy, dx); err != nil {
		return err
	}
	return d.relu(true, x, y, dy, dx)
}

// Gemm computes the row-major c (m x n) = alpha·op(a)·op(b) + beta·c, where op(a) is a (m x k)
// or, with transA, the transpose of a (k x m); likewise op(b) is (k x n).
func (d *Device) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b *Buffer, beta float32, c *Buffer) error {
	if m <= 0 || n <= 0 || k <= 0 {
		return fmt.Errorf("gpu: Gemm: non-positive size %d x %d x %d", m, n, k)
	}
	if err := d.checkBufs("Gemm", []int{m * k, k * n, m * n}, a, b, c); err != nil {
		return err
	}
	return d.gemm(transA, transB, m, n, k, alpha, a, b, beta, c)
}

// BiasAdd writes y = x + b[channel] for x and y (n, c, plane) and b (c).
func (d *Device) BiasAdd(n, c, plane int, x, b, y *Buffer) error {
	if n <= 0 || c <= 0 || plane <= 0 {
		return fmt.Errorf("gpu: BiasAdd: non-positive size (%d, %d, %d)", n, c, plane)
	}
	if err := d.checkBufs("BiasAdd", []int{n * c * plane, c, n * c * plane}, x, b, y); err != nil {
		return err
	}
	return d.biasAdd(n, c, plane, x, b, y)
}

// BiasGrad writes db[channel] = the sum of dy (n, c, plane) over all but the channel axis.
func (d *Device) BiasGrad(n, c, plane int, dy, db *Buffer) error {
	if n <= 0 || c <= 0 || plane <= 0 {
		return fmt.Errorf("gpu: BiasGrad: non-positive size (%d, %d, %d)", n, c, plane)
	}
	if err := d.checkBufs("BiasGrad", []int{n * c * plane, c}, dy, db); err != nil {
		return err
	}
	return d.biasGrad(n, c, plane, dy, db)
}

// Axpy computes y += a·x.
func (d *Device) Axpy(a float32, x, y *Buffer) error {
	if x == nil {
		return errors.New("gpu: Axpy: nil input")
	}
	if err := d.checkBufs("Axpy", []int{x.n, x.n}, x, y); err != nil {
		return err
	}
	return d.axpy(a, x, y)
}

// Copy copies n elements of src, from element srcOff on, into dst from element dstOff on, in
// order with the calls before it. The ranges must lie within the buffers.
func (d *Device) Copy(dst *Buffer, dstOff int, src *Buffer, srcOff, n int) error {
	if dst == nil || src == nil {
		return errors.New("gpu: Copy: nil buffer")
	}
	if n <= 0 || dstOff < 0 || srcOff < 0 || dstOff+n > dst.n || srcOff+n > src.n {
		return fmt.Errorf("gpu: Copy: %d elements from %d of %d into %d of %d: out of range", n, srcOff, src.n, dstOff, dst.n)
	}
	if err := d.checkBufs("Copy", []int{dst.n, src.n}, dst, src); err != nil {
		return err
	}
	return d.copyBuf(dst, dstOff, src, srcOff, n)
}

// Zero sets every element of b to 0.
func (d *Device) Zero(b *Buffer) error {
	if b == nil {
		return errors.New("gpu: Zero: nil buffer")
	}
	if err := d.checkBufs("Zero", []int{b.n}, b); err != nil {
		return err
	}
	return d.zero(b)
}

// Upload copies src into b; len(src) must be b.Len().
func (d *Device) Upload(b *Buffer, src []float32) error {
	if err := d.checkBufs("Upload", []int{len(src)}, b); err != nil {
		return err
	}
	return d.upload(b, src)
}

// Download copies b into dst after every call before it has finished; len(dst) must be b.Len().
func (d *Device) Download(dst []float32, b *Buffer) error {
	if err := d.checkBufs("Download", []int{len(dst)}, b); err != nil {
		return err
	}
	return d.download(dst, b)
}

// Alloc allocates a buffer of n float32 elements, zeroed.
func (d *Device) Alloc(n int) (*Buffer, error) {
	if n <= 0 {
		return nil, fmt.Errorf("gpu: Alloc: non-positive length %d", n)
	}
	return d.alloc(n)
}

// AllocFrom allocates a buffer and uploads src into it.
func (d *Device) AllocFrom(src []float32) (*Buffer, error) {
	b, err := d.Alloc(len(src))
	if err != nil {
		return nil, err
	}
	if err := d.Upload(b, src); err != nil {
		d.Free(b)
		return nil, err
	}
	return b, nil
}

// Free releases b; freeing a nil or already freed buffer does nothing.
func (d *Device) Free(b *Buffer) {
	if b == nil || b.dev != d || b.ptr == 0 {
		return
	}
	d.free(b)
}
