package device

import (
	"errors"
	"fmt"

	"convas/compute/gpu"
	"convas/compute/nn"
)

// Handle is an opened device: for the CPU nothing at all, for a GPU the compute/gpu.Device that
// a run's graphs are placed on (compute/nn.Place).
type Handle struct {
	Spec Spec
	dev  *gpu.Device
}

// Open opens s for computing. The CPU always opens, as a Handle whose Accel is nil. A CUDA
// device that cannot be opened (a build without CUDA, no driver, no such GPU, no cuBLAS or
// cuDNN, a GPU older than sm_80) is an error wrapping compute/gpu's reason; the caller then
// falls back to the CPU and says why.
func Open(s Spec, opt gpu.Options) (*Handle, error) {
	if s.Kind != CUDA {
		return &Handle{}, nil
	}
	d, err := gpu.Open(s.Index, opt)
	if err != nil {
		return nil, fmt.Errorf("device: open %s: %w", s, err)
	}
	return &Handle{Spec: s, dev: d}, nil
}

// Accel returns the accelerator that compute/nn.Place binds graphs to, or nil for the CPU.
func (h *Handle) Accel() nn.Accel {
	if h == nil || h.dev == nil {
		return nil
	}
	return gpuAccel{h.dev}
}

// Info describes the GPU; ok is false for the CPU.
func (h *Handle) Info() (info gpu.Info, ok bool) {
	if h == nil || h.dev == nil {
		return gpu.Info{}, false
	}
	return h.dev.Info(), true
}

// Stats counts the GPU's transfers and resident buffers; zero for the CPU.
func (h *Handle) Stats() gpu.Stats {
	if h == nil || h.dev == nil {
		return gpu.Stats{}
	}
	return h.dev.Stats()
}

// Close closes the GPU and frees everything on it; for the CPU it does nothing.
func (h *Handle) Close() {
	if h != nil && h.dev != nil {
		h.dev.Close()
		h.dev = nil
	}
}

// gpuAccel adapts a *gpu.Device to nn.Accel: the buffers it hands out are *gpu.Buffer.
type gpuAccel struct{ d *gpu.Device }

var errForeign = errors.New("device: a buffer not made by this GPU")

func bufs(bs ...nn.Buf) ([]*gpu.Buffer, error) {
	out := make([]*gpu.Buffer, len(bs))
	for i, b := range bs {
		g, ok := b.(*gpu.Buffer)
		if !ok {
			return nil, errForeign
		}
		out[i] = g
	}
	return out, nil
}

// Stats counts the GPU's transfers and resident buffers.
func (a gpuAccel) Stats() gpu.Stats { return a.d.Stats() }

func (a gpuAccel) Alloc(n int) (nn.Buf, error) {
	b, err := a.d.Alloc(n)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (a gpuAccel) Free(b nn.Buf) {
	if g, ok := b.(*gpu.Buffer); ok {
		a.d.Free(g)
	}
}

func (a gpuAccel) Upload(b nn.Buf, src []float32) error {
	g, err := bufs(b)
	if err != nil {
		return err
	}
	return a.d.Upload(g[0], src)
}

func (a gpuAccel) Download(dst []float32, b nn.Buf) error {
	g, err := bufs(b)
	if err != nil {
		return err
	}
	return a.d.Download(dst, g[0])
}

func (a gpuAccel) Copy(dst nn.Buf, dstOff int, src nn.Buf, srcOff, n int) error {
	g, err := bufs(dst, src)
	if err != nil {
		return err
	}
	return a.d.Copy(g[0], dstOff, g[1], srcOff, n)
}

func (a gpuAccel) Zero(b nn.Buf) error {
	g, err := bufs(b)
	if err != nil {
		return err
	}
	return a.d.Zero(g[0])
}

func (a gpuAccel) Axpy(alpha float32, x, y nn.Buf) error {
	g, err := bufs(x, y)
	if err != nil {
		return err
	}
	return a.d.Axpy(alpha, g[0], g[1])
}

func (a gpuAccel) Gemm(transA, transB bool, m, n, k int, alpha float32, x, y nn.Buf, beta float32, z nn.Buf) error {
	g, err := bufs(x, y, z)
	if err != nil {
		return err
	}
	return a.d.Gemm(transA, transB, m, n, k, alpha, g[0], g[1], beta, g[2])
}

func (a gpuAccel) Conv(c gpu.Conv, pass gpu.Pass, x, w, y nn.Buf) error {
	g, err := bufs(x, w, y)
	if err != nil {
		return err
	}
	return a.d.Conv(c, pass, g[0], g[1], g[2])
}

func (a gpuAccel) BiasAdd(n, c, plane int, x, b, y nn.Buf) error {
	g, err := bufs(x, b, y)
	if err != nil {
		return err
	}
	return a.d.BiasAdd(n, c, plane, g[0], g[1], g[2])
}

func (a gpuAccel) BiasGrad(n, c, plane int, dy, db nn.Buf) error {
	g, err := bufs(dy, db)
	if err != nil {
		return err
	}
	return a.d.BiasGrad(n, c, plane, g[0], g[1])
}

func (a gpuAccel) ReLUForward(x, y nn.Buf) error {
	g, err := bufs(x, y)
	if err != nil {
		return err
	}
	return a.d.ReLUForward(g[0], g[1])
}

func (a gpuAccel) ReLUBackward(x, y, dy, dx nn.Buf) error {
	g, err := bufs(x, y, dy, dx)
	if err != nil {
		return err
	}
	return a.d.ReLUBackward(g[0], g[1], g[2], g[3])
}

func (a gpuAccel) PoolForward(p gpu.Pool, x, y nn.Buf) error {
	g, err := bufs(x, y)
	if err != nil {
		return err
	}
	return a.d.PoolForward(p, g[0], g[1])
}

func (a gpuAccel) PoolBackward(p gpu.Pool, x, y, dy, dx nn.Buf) error {
	g, err := bufs(x, y, dy, dx)
	if err != nil {
		return err
	}
	return a.d.PoolBackward(p, g[0], g[1], g[2], g[3])
}

func (a gpuAccel) LRNForward(l gpu.LRN, x, y nn.Buf) error {
	g, err := bufs(x, y)
	if err != nil {
		return err
	}
	return a.d.LRNForward(l, g[0], g[1])
}

func (a gpuAccel) LRNBackward(l gpu.LRN, x, y, dy, dx nn.Buf) error {
	g, err := bufs(x, y, dy, dx)
	if err != nil {
		return err
	}
	return a.d.LRNBackward(l, g[0], g[1], g[2], g[3])
}
