//go:build !convas_cuda || !cgo

package gpu

// Built reports whether this binary has CUDA support (the convas_cuda build tag).
const Built = false

// Devices returns ErrNotBuilt: this binary has no CUDA support.
func Devices() ([]Info, error) { return nil, ErrNotBuilt }

// Device is an open CUDA device; in this build none can be opened.
type Device struct {
	pool hostPool
}

// Open returns ErrNotBuilt: this binary has no CUDA support.
func Open(index int, opt Options) (*Device, error) { return nil, ErrNotBuilt }

// Close does nothing in a build without CUDA.
func (d *Device) Close() {}

// Info is empty in a build without CUDA.
func (d *Device) Info() Info { return Info{} }

// Versions returns ErrNotBuilt.
func (d *Device) Versions() (cudnn, cublas int, err error) { return 0, 0, ErrNotBuilt }

// Stats is empty in a build without CUDA.
func (d *Device) Stats() Stats { return Stats{} }

// Sync returns ErrNotBuilt.
func (d *Device) Sync() error { return ErrNotBuilt }

func (d *Device) alloc(int) (*Buffer, error)                       { return nil, ErrNotBuilt }
func (d *Device) free(*Buffer)                                     {}
func (d *Device) upload(*Buffer, []float32) error                  { return ErrNotBuilt }
func (d *Device) download([]float32, *Buffer) error                { return ErrNotBuilt }
func (d *Device) conv(Conv, Pass, *Buffer, *Buffer, *Buffer) error { return ErrNotBuilt }
func (d *Device) poolForward(Pool, *Buffer, *Buffer) error         { return ErrNotBuilt }
func (d *Device) poolBackward(Pool, *Buffer, *Buffer, *Buffer, *Buffer) error {
	return ErrNotBuilt
}
func (d *Device) lrn(LRN, bool, *Buffer, *Buffer, *Buffer, *Buffer) error { return ErrNotBuilt }
func (d *Device) relu(bool, *Buffer, *Buffer, *Buffer, *Buffer) error     { return ErrNotBuilt }
func (d *Device) biasAdd(int, int, int, *Buffer, *Buffer, *Buffer) error  { return ErrNotBuilt }
func (d *Device) biasGrad(int, int, int, *Buffer, *Buffer) error          { return ErrNotBuilt }
func (d *Device) axpy(float32, *Buffer, *Buffer) error                    { return ErrNotBuilt }
func (d *Device) copyBuf(*Buffer, int, *Buffer, int, int) error           { return ErrNotBuilt }
func (d *Device) zero(*Buffer) error                                      { return ErrNotBuilt }
func (d *Device) gemm(bool, bool, int, int, int, float32, *Buffer, *Buffer, float32, *Buffer) error {
	return ErrNotBuilt
}
