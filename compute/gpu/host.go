package gpu

import (
	"fmt"
	"sync"
)

// The Host methods run one op on host slices: they upload the op's inputs into device buffers
// kept for reuse, run it, and download its output (each transfer counted in Stats). They are the
// simplest way to put an existing CPU op on the GPU, one op at a time, at the cost of two
// transfers per call; a chain of ops that keeps its activations in Buffers costs none.

// hostPool keeps device buffers for the Host methods, by length; safe for concurrent use.
type hostPool struct {
	mu   sync.Mutex
	free map[int][]*Buffer
}

// take returns a buffer of n elements from the pool, or a new one.
func (d *Device) take(n int) (*Buffer, error) {
	d.pool.mu.Lock()
	if bs := d.pool.free[n]; len(bs) > 0 {
		b := bs[len(bs)-1]
		d.pool.free[n] = bs[:len(bs)-1]
		d.pool.mu.Unlock()
		return b, nil
	}
	d.pool.mu.Unlock()
	return d.Alloc(n)
}

// give returns buffers to the pool.
func (d *Device) give(bs ...*Buffer) {
	d.pool.mu.Lock()
	defer d.pool.mu.Unlock()
	if d.pool.free == nil {
		d.pool.free = make(map[int][]*Buffer)
	}
	for _, b := range bs {
		if b != nil {
			d.pool.free[b.n] = append(d.pool.free[b.n], b)
		}
	}
}

// ReleaseHostBuffers frees the buffers the Host methods keep for reuse.
func (d *Device) ReleaseHostBuffers() {
	d.pool.mu.Lock()
	free := d.pool.free
	d.pool.free = nil
	d.pool.mu.Unlock()
	for _, bs := range free {
		for _, b := range bs {
			d.Free(b)
		}
	}
}

// host runs fn on device copies of args: each arg is uploaded when its role is in, and
// downloaded after fn when its role is out.
func (d *Device) host(op string, args []hostArg, fn func(bufs []*Buffer) error) error {
	bufs := make([]*Buffer, len(args))
	defer func() { d.give(bufs...) }()
	for i, a := range args {
		n := len(a.data)
		if a.data == nil && !a.in && !a.out {
			n = a.n
		}
		if n == 0 {
			return fmt.Errorf("gpu: %s: argument %d is empty", op, i)
		}
		b, err := d.take(n)
		if err != nil {
			return err
		}
		bufs[i] = b
		if a.in {
			if err := d.Upload(b, a.data); err != nil {
				return err
			}
		}
	}
	if err := fn(bufs); err != nil {
		return err
	}
	for i, a := range args {
		if a.out {
			if err := d.Download(a.data, bufs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

type hostArg struct {
	data    []float32
	in, out bool
	n       int // the length of a scratch argument (data nil): device only
}

func in(s []float32) hostArg  { return hostArg{data: s, in: true} }
func out(s []float32) hostArg { return hostArg{data: s, out: true} }
func scratch(n int) hostArg   { return hostArg{n: n} }

// ConvHost is Conv on host slices, with the same roles: Forward reads x and w and writes y;
// BackwardData reads y and w and writes x; BackwardFilter reads x and y and writes w.
func (d *Device) ConvHost(c Conv, pass Pass, x, w, y []float32) error {
	var args []hostArg
	switch pass {
	case Forward:
		args = []hostArg{in(x), in(w), out(y)}
	case BackwardData:
		args = []hostArg{out(x), in(w), in(y)}
	case BackwardFilter:
		args = []hostArg{in(x), out(w), in(y)}
	default:
		return fmt.Errorf("gpu: unknown convolution pass %d", int(pass))
	}
	return d.host("ConvHost", args, func(b []*Buffer) error { return d.Conv(c, pass, b[0], b[1], b[2]) })
}

// PoolForwardHost is PoolForward on host slices.
func (d *Device) PoolForwardHost(p Pool, x, y []float32) error {
	return d.host("PoolForwardHost", []hostArg{in(x), out(y)}, func(b []*Buffer) error { return d.PoolForward(p, b[0], b[1]) })
}

// PoolBackwardHost is PoolBackward on host slices. y may be nil (compute/nn's backward ops have
// only x and dy): the pooling is then run again on the device, without a transfer.
func (d *Device) PoolBackwardHost(p Pool, x, y, dy, dx []float32) error {
	if y == nil {
		oh, ow := p.OutSize()
		return d.host("PoolBackwardHost", []hostArg{in(x), scratch(size4(p.N, p.C, oh, ow)), in(dy), out(dx)}, func(b []*Buffer) error {
			if err := d.PoolForward(p, b[0], b[1]); err != nil {
				return err
			}
			return d.PoolBackward(p, b[0], b[1], b[2], b[3])
		})
	}
	return d.host("PoolBackwardHost", []hostArg{in(x), in(y), in(dy), out(dx)}, func(b []*Buffer) error {
		return d.PoolBackward(p, b[0], b[1], b[2], b[3])
	})
}

// LRNForwardHost is LRNForward on host slices.
func (d *Device) LRNForwardHost(l LRN, x, y []float32) error {
	return d.host("LRNForwardHost", []hostArg{in(x), out(y)}, func(b []*Buffer) error { return d.LRNForward(l, b[0], b[1]) })
}

// LRNBackwardHost is LRNBackward on host slices; y may be nil, as for PoolBackwardHost.
func (d *Device) LRNBackwardHost(l LRN, x, y, dy, dx []float32) error {
	yArg := in(y)
	if y == nil {
		yArg = scratch(len(x))
	}
	return d.host("LRNBackwardHost", []hostArg{in(x), yArg, in(dy), out(dx)}, func(b []*Buffer) error {
		if y == nil {
			if err := d.LRNForward(l, b[0], b[1]); err != nil {
				return err
			}
		}
		return d.LRNBackward(l, b[0], b[1], b[2], b[3])
	})
}

// ReLUForwardHost is ReLUForward on host slices.
func (d *Device) ReLUForwardHost(x, y []float32) error {
	return d.host("ReLUForwardHost", []hostArg{in(x), out(y)}, func(b []*Buffer) error { return d.ReLUForward(b[0], b[1]) })
}

// ReLUBackwardHost is ReLUBackward on host slices; y may be nil, as for PoolBackwardHost.
func (d *Device) ReLUBackwardHost(x, y, dy, dx []float32) error {
	yArg := in(y)
	if y == nil {
		yArg = scratch(len(x))
	}
	return d.host("ReLUBackwardHost", []hostArg{in(x), yArg, in(dy), out(dx)}, func(b []*Buffer) error {
		if y == nil {
			if err := d.ReLUForward(b[0], b[1]); err != nil {
				return err
			}
		}
		return d.ReLUBackward(b[0], b[1], b[2], b[3])
	})
}

// GemmHost is Gemm on host slices; c is read only when beta is not zero.
func (d *Device) GemmHost(transA, transB bool, m, n, k int, alpha float32, a, b []float32, beta float32, c []float32) error {
	cArg := out(c)
	cArg.in = beta != 0
	return d.host("GemmHost", []hostArg{in(a), in(b), cArg}, func(bs []*Buffer) error {
		return d.Gemm(transA, transB, m, n, k, alpha, bs[0], bs[1], beta, bs[2])
	})
}
