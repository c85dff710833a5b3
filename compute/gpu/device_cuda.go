//go:build convas_cuda && cgo

package gpu

/*
#cgo LDFLAGS: -ldl -lpthread
#include <stdlib.h>
#include "cgpu.h"
*/
import "C"

import (
	_ "embed"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// kernels is the fat binary of kernels.cu (scripts/cuda-kernels.sh).
//
//go:embed kernels.fatbin
var kernels []byte

// Built reports whether this binary has CUDA support (the convas_cuda build tag).
const Built = true

// driverName is the driver library Devices and Open load.
const driverName = "libcuda.so.1"

var driverMu sync.Mutex

// openDriver loads the driver library name and initialises it; once it succeeds, later calls
// return at once.
func openDriver(name string) error {
	driverMu.Lock()
	defer driverMu.Unlock()
	var msg [C.CG_ERRLEN]C.char
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	if rc := C.cg_driver_open(cname, &msg[0]); rc != C.CG_OK {
		return wrap(rc, fmt.Sprintf("loading %s", name), C.GoString(&msg[0]))
	}
	return nil
}

// probeDriver checks the driver library name as openDriver would load it, without making it
// the process's driver (cg_driver_probe); tests use it with libraries that are not a driver.
func probeDriver(name string) error {
	var msg [C.CG_ERRLEN]C.char
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	if rc := C.cg_driver_probe(cname, &msg[0]); rc != C.CG_OK {
		return wrap(rc, fmt.Sprintf("loading %s", name), C.GoString(&msg[0]))
	}
	return nil
}

// wrap turns a cg_* result code and message into an error.
func wrap(rc C.int, what, msg string) error {
	var kind error
	switch rc {
	case C.CG_NO_DRIVER:
		kind = ErrNoDriver
	case C.CG_NO_DEVICE:
		kind = ErrNoDevice
	case C.CG_NO_LIBRARY:
		kind = ErrNoLibrary
	case C.CG_OOM:
		kind = ErrOutOfMemory
	case C.CG_UNSUPPORTED:
		kind = ErrUnsupported
	default:
		kind = ErrFailed
	}
	return fmt.Errorf("%w: %s: %s", kind, what, msg)
}

// Devices lists the CUDA devices with their memory. Without the driver it returns an error
// wrapping ErrNoDriver, and on a machine whose driver sees no GPU one wrapping ErrNoDevice.
func Devices() ([]Info, error) {
	if err := openDriver(driverName); err != nil {
		return nil, err
	}
	var msg [C.CG_ERRLEN]C.char
	var count C.int
	if rc := C.cg_device_count(&count, &msg[0]); rc != C.CG_OK {
		return nil, wrap(rc, "counting devices", C.GoString(&msg[0]))
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: the driver reports no CUDA device", ErrNoDevice)
	}
	infos := make([]Info, 0, int(count))
	for i := 0; i < int(count); i++ {
		info, err := deviceInfo(i)
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func deviceInfo(i int) (Info, error) {
	var msg [C.CG_ERRLEN]C.char
	var ci C.cg_info
	if rc := C.cg_device_info(C.int(i), &ci, &msg[0]); rc != C.CG_OK {
		return Info{}, wrap(rc, fmt.Sprintf("device %d", i), C.GoString(&msg[0]))
	}
	return Info{
		Index: i, Name: C.GoString(&ci.name[0]),
		TotalMem: uint64(ci.total), FreeMem: uint64(ci.free),
		Major: int(ci.major), Minor: int(ci.minor), Multiprocessors: int(ci.multiprocessors),
		Driver: int(C.cg_driver_version()),
	}, nil
}

// Device is one open CUDA device: its context, library handles and kernels, owned by a
// goroutine locked to one OS thread. It is safe for concurrent use; calls run one at a time in
// arrival order.
type Device struct {
	info  Info
	reqs  chan *request
	quit  chan struct{}
	done  chan struct{}
	close sync.Once

	// Touched only on the device's thread.
	dev   *C.cg_dev
	algos map[algoKey]algoChoice
	live  map[uint64]int // buffers: pointer -> length

	uploads, downloads, bytesUp, bytesDown atomic.Int64
	buffers, resident                      atomic.Int64

	pool hostPool // buffers of the Host methods (host.go)
}

type request struct {
	fn   func(*C.cg_dev) C.int
	what string
	done chan error
}

type algoKey struct {
	conv Conv
	pass Pass
}

type algoChoice struct {
	algo C.int
	err  error
}

// Open opens device index (as Devices numbers them): it loads cuBLAS and cuDNN, makes the
// device's primary context current on a thread of its own and loads the kernels.
func Open(index int, opt Options) (*Device, error) {
	if err := openDriver(driverName); err != nil {
		return nil, err
	}
	var msg [C.CG_ERRLEN]C.char
	var count C.int
	if rc := C.cg_device_count(&count, &msg[0]); rc != C.CG_OK {
		return nil, wrap(rc, "counting devices", C.GoString(&msg[0]))
	}
	if index < 0 || index >= int(count) {
		return nil, fmt.Errorf("%w: cuda:%d asked for, %d device(s) found", ErrNoDevice, index, int(count))
	}
	d := &Device{
		reqs:  make(chan *request),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		algos: make(map[algoKey]algoChoice),
		live:  make(map[uint64]int),
	}
	started := make(chan error, 1)
	go d.loop(index, opt, started)
	if err := <-started; err != nil {
		return nil, err
	}
	return d, nil
}

// loop is the device's thread: the only code that calls into CUDA for it. It never unlocks
// the thread, so the thread ends with it.
func (d *Device) loop(index int, opt Options, started chan<- error) {
	runtime.LockOSThread()
	defer close(d.done)
	var msg [C.CG_ERRLEN]C.char
	tf32 := C.int(0)
	if opt.TF32 {
		tf32 = 1
	}
	image := C.CBytes(kernels)
	var code C.int
	d.dev = C.cg_open(C.int(index), image, tf32, &code, &msg[0])
	C.free(image)
	if d.dev == nil {
		started <- wrap(code, fmt.Sprintf("opening cuda:%d", index), C.GoString(&msg[0]))
		return
	}
	// With the primary context retained, asking for the device's description is cheap.
	info, err := deviceInfo(index)
	if err != nil {
		C.cg_close(d.dev)
		started <- err
		return
	}
	d.info = info
	started <- nil
	defer func() {
		for p := range d.live {
			C.cg_free(d.dev, C.uint64_t(p))
		}
		C.cg_close(d.dev)
	}()
	for {
		select {
		case <-d.quit:
			return
		case r := <-d.reqs:
			if rc := r.fn(d.dev); rc != C.CG_OK {
				r.done <- wrap(rc, r.what, C.GoString(C.cg_err(d.dev)))
			} else {
				r.done <- nil
			}
		}
	}
}

// do runs fn on the device's thread and waits for it.
func (d *Device) do(what string, fn func(*C.cg_dev) C.int) error {
	r := &request{fn: fn, what: what, done: make(chan error, 1)}
	select {
	case d.reqs <- r:
	case <-d.quit:
		return ErrClosed
	}
	return <-r.done
}

// Close frees the device's buffers and handles and stops its thread; later calls return
// ErrClosed. Calls in progress finish first.
func (d *Device) Close() {
	d.close.Do(func() { close(d.quit) })
	<-d.done
}

// Info describes the device, with its free memory now.
func (d *Device) Info() Info {
	info := d.info
	var free, total C.size_t
	if d.do("cuMemGetInfo", func(dev *C.cg_dev) C.int { return C.cg_meminfo(dev, &free, &total) }) == nil {
		info.FreeMem = uint64(free)
	}
	return info
}

// Versions returns the loaded cuDNN's and cuBLAS's versions (90500 for cuDNN 9.5.0; 120604 for
// cuBLAS 12.6.4).
func (d *Device) Versions() (cudnn, cublas int, err error) {
	var dn, bl C.int
	err = d.do("versions", func(dev *C.cg_dev) C.int { return C.cg_versions(dev, &dn, &bl) })
	return int(dn), int(bl), err
}

// Stats returns the device's transfer and allocation counts.
func (d *Device) Stats() Stats {
	return Stats{
		Uploads: d.uploads.Load(), Downloads: d.downloads.Load(),
		BytesUp: d.bytesUp.Load(), BytesDown: d.bytesDown.Load(),
		Buffers: d.buffers.Load(), BytesResident: d.resident.Load(),
	}
}

// Sync waits until every call so far has finished on the device.
func (d *Device) Sync() error {
	return d.do("synchronize", func(dev *C.cg_dev) C.int { return C.cg_sync(dev) })
}

func (d *Device) alloc(n int) (*Buffer, error) {
	var p C.uint64_t
	bytes := C.size_t(n) * 4
	err := d.do(fmt.Sprintf("allocating %d floats", n), func(dev *C.cg_dev) C.int {
		if rc := C.cg_alloc(dev, &p, bytes); rc != C.CG_OK {
			return rc
		}
		if rc := C.cg_zero(dev, p, C.size_t(n)); rc != C.CG_OK {
			C.cg_free(dev, p)
			return rc
		}
		d.live[uint64(p)] = n
		return C.CG_OK
	})
	if err != nil {
		return nil, err
	}
	d.buffers.Add(1)
	d.resident.Add(int64(n) * 4)
	return &Buffer{dev: d, ptr: uint64(p), n: n}, nil
}

func (d *Device) free(b *Buffer) {
	p := b.ptr
	err := d.do("freeing a buffer", func(dev *C.cg_dev) C.int {
		delete(d.live, p)
		return C.cg_free(dev, C.uint64_t(p))
	})
	b.ptr = 0
	if err == nil {
		d.buffers.Add(-1)
		d.resident.Add(-int64(b.n) * 4)
	}
}

func (d *Device) upload(b *Buffer, src []float32) error {
	if b.ptr == 0 {
		return fmt.Errorf("gpu: Upload: buffer freed")
	}
	err := d.do("upload", func(dev *C.cg_dev) C.int {
		return C.cg_upload(dev, C.uint64_t(b.ptr), unsafe.Pointer(&src[0]), C.size_t(len(src))*4)
	})
	if err == nil {
		d.uploads.Add(1)
		d.bytesUp.Add(int64(len(src)) * 4)
	}
	return err
}

func (d *Device) download(dst []float32, b *Buffer) error {
	if b.ptr == 0 {
		return fmt.Errorf("gpu: Download: buffer freed")
	}
	err := d.do("download", func(dev *C.cg_dev) C.int {
		return C.cg_download(dev, unsafe.Pointer(&dst[0]), C.uint64_t(b.ptr), C.size_t(len(dst))*4)
	})
	if err == nil {
		d.downloads.Add(1)
		d.bytesDown.Add(int64(len(dst)) * 4)
	}
	return err
}

func ptrs(bufs ...*Buffer) error {
	for _, b := range bufs {
		if b != nil && b.ptr == 0 {
			return fmt.Errorf("gpu: buffer used after Free")
		}
	}
	return nil
}

func (d *Device) gemm(transA, transB bool, m, n, k int, alpha float32, a, b *Buffer, beta float32, c *Buffer) error {
	if err := ptrs(a, b, c); err != nil {
		return err
	}
	ta, tb := C.int(0), C.int(0)
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	return d.do("gemm", func(dev *C.cg_dev) C.int {
		return C.cg_gemm(dev, ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha), C.uint64_t(a.ptr), C.uint64_t(b.ptr), C.float(beta), C.uint64_t(c.ptr))
	})
}

func cConv(c Conv) C.cg_conv {
	oh, ow := c.OutSize()
	sp := c.split()
	return C.cg_conv{
		ph: C.int(sp.PH), pw: C.int(sp.PW), et: C.int(sp.ET), el: C.int(sp.EL), h2: C.int(sp.H2), w2: C.int(sp.W2),
		n: C.int(c.N), c: C.int(c.C), h: C.int(c.H), w: C.int(c.W),
		o: C.int(c.O), kh: C.int(c.KH), kw: C.int(c.KW), sh: C.int(c.StrideH), sw: C.int(c.StrideW),
		pt: C.int(c.PadTop), pb: C.int(c.PadBottom), pl: C.int(c.PadLeft), pr: C.int(c.PadRight),
		oh: C.int(oh), ow: C.int(ow),
	}
}

func (d *Device) conv(c Conv, pass Pass, x, w, y *Buffer) error {
	if err := ptrs(x, w, y); err != nil {
		return err
	}
	cc := cConv(c)
	key := algoKey{c, pass}
	var cached error
	err := d.do(fmt.Sprintf("convolution %v %+v", pass, c), func(dev *C.cg_dev) C.int {
		run := func(algo C.int) C.int {
			return C.cg_conv_run(dev, &cc, C.int(pass), algo, C.uint64_t(x.ptr), C.uint64_t(w.ptr), C.uint64_t(y.ptr))
		}
		if ch, ok := d.algos[key]; ok {
			if ch.err != nil {
				cached = ch.err
				return C.CG_OK
			}
			return run(ch.algo)
		}
		// The first call for a shape and pass: cuDNN's candidates in its order, the first that
		// runs is kept. A candidate the heuristics offer may still refuse the shape at run time.
		var algos [16]C.int
		var n C.int
		if rc := C.cg_conv_algos(dev, &cc, C.int(pass), &algos[0], C.int(len(algos)), &n); rc != C.CG_OK {
			d.algos[key] = algoChoice{err: wrap(rc, "choosing the algorithm", C.GoString(C.cg_err(dev)))}
			return rc
		}
		var rc C.int
		for _, algo := range algos[:n] {
			if rc = run(algo); rc == C.CG_OK {
				d.algos[key] = algoChoice{algo: algo}
				return rc
			}
			if rc == C.CG_OOM {
				return rc // not the algorithm's fault: try again later
			}
		}
		d.algos[key] = algoChoice{err: wrap(rc, fmt.Sprintf("every one of cuDNN's %d candidate algorithms failed; the last", n), C.GoString(C.cg_err(dev)))}
		return rc
	})
	if err == nil && cached != nil {
		err = fmt.Errorf("convolution %v %+v: %w", pass, c, cached)
	}
	return err
}

func cPool(p Pool) C.cg_pool {
	oh, ow := p.OutSize()
	return C.cg_pool{
		n: C.int(p.N), c: C.int(p.C), h: C.int(p.H), w: C.int(p.W),
		kh: C.int(p.KH), kw: C.int(p.KW), sh: C.int(p.StrideH), sw: C.int(p.StrideW),
		pt: C.int(p.PadTop), pb: C.int(p.PadBottom), pl: C.int(p.PadLeft), pr: C.int(p.PadRight),
		oh: C.int(oh), ow: C.int(ow), mode: C.int(p.Mode),
	}
}

func (d *Device) poolForward(p Pool, x, y *Buffer) error {
	if err := ptrs(x, y); err != nil {
		return err
	}
	cp := cPool(p)
	return d.do(fmt.Sprintf("pooling forward %+v", p), func(dev *C.cg_dev) C.int {
		return C.cg_pool_fwd(dev, &cp, C.uint64_t(x.ptr), C.uint64_t(y.ptr))
	})
}

func (d *Device) poolBackward(p Pool, x, y, dy, dx *Buffer) error {
	if err := ptrs(x, y, dy, dx); err != nil {
		return err
	}
	cp := cPool(p)
	return d.do(fmt.Sprintf("pooling backward %+v", p), func(dev *C.cg_dev) C.int {
		return C.cg_pool_bwd(dev, &cp, C.uint64_t(x.ptr), C.uint64_t(y.ptr), C.uint64_t(dy.ptr), C.uint64_t(dx.ptr))
	})
}

func (d *Device) lrn(l LRN, backward bool, x, y, dy, dx *Buffer) error {
	if err := ptrs(x, y, dy, dx); err != nil {
		return err
	}
	var bw C.int
	var pdy, pdx C.uint64_t
	if backward {
		bw, pdy, pdx = 1, C.uint64_t(dy.ptr), C.uint64_t(dx.ptr)
	}
	return d.do(fmt.Sprintf("LRN %+v", l), func(dev *C.cg_dev) C.int {
		return C.cg_lrn(dev, C.int(l.N), C.int(l.C), C.int(l.H), C.int(l.W), C.int(l.Radius),
			C.double(l.Bias), C.double(l.Alpha), C.double(l.Beta), bw, C.uint64_t(x.ptr), C.uint64_t(y.ptr), pdy, pdx)
	})
}

func (d *Device) relu(backward bool, x, y, dy, dx *Buffer) error {
	if err := ptrs(x, y, dy, dx); err != nil {
		return err
	}
	var bw C.int
	var pdy, pdx C.uint64_t
	if backward {
		bw, pdy, pdx = 1, C.uint64_t(dy.ptr), C.uint64_t(dx.ptr)
	}
	return d.do("ReLU", func(dev *C.cg_dev) C.int {
		return C.cg_relu(dev, C.size_t(x.n), bw, C.uint64_t(x.ptr), C.uint64_t(y.ptr), pdy, pdx)
	})
}

func (d *Device) biasAdd(n, c, plane int, x, b, y *Buffer) error {
	if err := ptrs(x, b, y); err != nil {
		return err
	}
	return d.do("bias add", func(dev *C.cg_dev) C.int {
		return C.cg_bias_add(dev, C.int(n), C.int(c), C.size_t(plane), C.uint64_t(x.ptr), C.uint64_t(b.ptr), C.uint64_t(y.ptr))
	})
}

func (d *Device) biasGrad(n, c, plane int, dy, db *Buffer) error {
	if err := ptrs(dy, db); err != nil {
		return err
	}
	return d.do("bias gradient", func(dev *C.cg_dev) C.int {
		return C.cg_bias_grad(dev, C.int(n), C.int(c), C.size_t(plane), C.uint64_t(dy.ptr), C.uint64_t(db.ptr))
	})
}

func (d *Device) copyBuf(dst *Buffer, dstOff int, src *Buffer, srcOff, n int) error {
	if err := ptrs(dst, src); err != nil {
		return err
	}
	return d.do("copy", func(dev *C.cg_dev) C.int {
		return C.cg_copy(dev, C.uint64_t(dst.ptr+4*uint64(dstOff)), C.uint64_t(src.ptr+4*uint64(srcOff)), C.size_t(n)*4)
	})
}

func (d *Device) zero(b *Buffer) error {
	if err := ptrs(b); err != nil {
		return err
	}
	return d.do("zero", func(dev *C.cg_dev) C.int {
		return C.cg_zero(dev, C.uint64_t(b.ptr), C.size_t(b.n))
	})
}

func (d *Device) axpy(a float32, x, y *Buffer) error {
	if err := ptrs(x, y); err != nil {
		return err
	}
	return d.do("axpy", func(dev *C.cg_dev) C.int {
		return C.cg_axpy(dev, C.float(a), C.uint64_t(x.ptr), C.uint64_t(y.ptr), C.size_t(x.n))
	})
}
