package app

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"convas/compute/device"
	"convas/compute/gpu"
	"convas/compute/nn"
)

// DeviceChoice is one entry of the device picker, and what --device accepts.
type DeviceChoice struct {
	// Name is what --device takes and SelectDevice reads: "cpu" or "cuda:N".
	Name string
	// Label describes the device for the picker: "CPU" or "cuda:0 NVIDIA H100 80GB HBM3
	// (79.2 GiB, 78.6 GiB free, sm_90)".
	Label string
}

// DeviceChoices lists the CPU and every usable GPU with its memory. When no GPU can be used,
// note says why in a sentence for the user ("Only the CPU can be used: this build has no CUDA
// support ..."; no NVIDIA driver; no GPU); it is empty otherwise.
func DeviceChoices() (choices []DeviceChoice, note string) {
	list, err := device.List()
	for _, c := range list {
		choices = append(choices, DeviceChoice{Name: c.Spec.String(), Label: c.Label})
	}
	if err != nil {
		note = "Only the CPU can be used: " + deviceReason(err, "")
	}
	return choices, note
}

// SelectDevice reads a device name ("cpu", "cuda", "cuda:N", as --device and the picker give
// it) and resolves it. A malformed name is an error. A GPU that cannot be used here resolves to
// the CPU, with note telling the user why in one line ("cuda:0 asked for, running on the CPU:
// this build has no CUDA support ..."); the run then goes ahead on the CPU.
func SelectDevice(name string) (spec device.Spec, note string, err error) {
	return selectDevice(name, device.Resolve)
}

func selectDevice(name string, resolve func(device.Spec) (device.Spec, error)) (device.Spec, string, error) {
	s, err := device.Parse(name)
	if err != nil {
		return device.Spec{}, "", err
	}
	got, ferr := resolve(s)
	if ferr != nil {
		return got, s.String() + " asked for, running on the CPU: " + deviceReason(ferr, s.String()), nil
	}
	return got, "", nil
}

// deviceReason is the reason in an error of compute/device or compute/gpu, without the
// packages' prefixes and the device name the sentence around it already gives.
func deviceReason(err error, spec string) string {
	s := err.Error()
	for _, p := range []string{device.ErrFallback.Error() + ": ", "device: open " + spec + ": ", spec + " asked for"} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, ": "), ", but ")
	return strings.ReplaceAll(s, "gpu: ", "")
}

// DeviceUse is the device a run computes on.
type DeviceUse struct {
	// Name is "cpu" or "cuda:N", as SelectDevice reads it.
	Name string
	// Note says why the run is on the CPU although a GPU is chosen ("cuda:0 could not be
	// opened, running on the CPU: no usable NVIDIA driver ..."); empty when it runs where
	// chosen.
	Note string
}

// MemoryBudget is the memory a style transfer or a dream may use on the chosen device.
type MemoryBudget struct {
	// MiB is the budget the recipe checks against (its Config.MemoryMiB): the user's on the
	// CPU, 0 keeping the recipe's default; on a GPU the smaller of the user's budget (or the
	// default) and the GPU's free memory less GPUMemoryMargin.
	MiB int
	// Note says where the budget comes from when the GPU's free memory set it ("cuda:0 has
	// 7820 MiB free, less a margin of 782 MiB"); empty otherwise.
	Note string
}

// GPUMemoryMargin is the part of a GPU's free memory a run's budget leaves alone: a tenth of it,
// and at least GPUMemoryMarginMinMiB. It covers what the memory estimates do not count: cuDNN's
// workspaces (the convolution algorithms' scratch, often hundreds of MiB at 512 px and above),
// cuBLAS's, the device's allocation granularity, another program's growth, and the estimates'
// own error.
func GPUMemoryMargin(freeBytes uint64) uint64 {
	return max(freeBytes/10, GPUMemoryMarginMinMiB<<20)
}

// GPUMemoryMarginMinMiB is the least margin GPUMemoryMargin leaves, in MiB.
const GPUMemoryMarginMinMiB = 512

// gpuBudget returns the budget of a run on a GPU with freeBytes free whose user budget is
// userMiB (0: defaultMiB); limited reports whether the GPU's memory set it.
func gpuBudget(userMiB, defaultMiB int, freeBytes uint64) (mib int, limited bool) {
	want := userMiB
	if want == 0 {
		want = defaultMiB
	}
	avail := 1 // a GPU with no room left refuses every run, with the budget in the message
	if m := GPUMemoryMargin(freeBytes); freeBytes > m {
		avail = max(1, int((freeBytes-m)>>20))
	}
	if avail < want {
		return avail, true
	}
	return want, false
}

// deviceState is the device an App's runs compute on: the choice, and the GPU opened for it,
// which every run on it shares. A GPU is opened once (a CUDA context, cuBLAS and cuDNN take
// seconds), at its first use or when a front end asks (OpenDevice), and closed when the choice
// changes or the App closes, once the runs using it have ended. Its zero value is the CPU.
type deviceState struct {
	mu   sync.Mutex
	cur  *openDevice // the chosen GPU; nil for the CPU
	note string      // why the choice resolved to the CPU, when it did

	// Substitutes for compute/device, for tests; nil means compute/device's own.
	resolve func(device.Spec) (device.Spec, error)
	open    func(device.Spec) (accel nn.Accel, closeFn func(), err error)
	free    func(device.Spec) (uint64, bool)
}

// openDevice is one choice of a GPU.
type openDevice struct {
	spec device.Spec
	once sync.Once // opens it

	// Set once by once, under deviceState.mu.
	accel   nn.Accel
	closeFn func()
	err     error

	// Under deviceState.mu.
	users   int  // runs (and openings) using it now
	retired bool // no longer the choice: closed when its last user is done
}

func (d *deviceState) resolver() func(device.Spec) (device.Spec, error) {
	if d.resolve != nil {
		return d.resolve
	}
	return device.Resolve
}

func (d *deviceState) opener() func(device.Spec) (nn.Accel, func(), error) {
	if d.open != nil {
		return d.open
	}
	return func(s device.Spec) (nn.Accel, func(), error) {
		h, err := device.Open(s, gpu.Options{})
		if err != nil {
			return nil, nil, err
		}
		return h.Accel(), h.Close, nil
	}
}

func (d *deviceState) freeMemory() func(device.Spec) (uint64, bool) {
	if d.free != nil {
		return d.free
	}
	return device.FreeMemory
}

// SetDevice chooses the device of the runs started from now on: "cpu", "cuda" or "cuda:N". A
// malformed name is an error and changes nothing. A GPU that cannot be used here makes the
// choice the CPU, and note says why in one line ("cuda:0 asked for, running on the CPU: this
// build has no CUDA support ..."). Choosing another device closes the GPU chosen before, once
// the runs on it have ended; choosing the same one again keeps it open (or, if it could not
// be opened, tries again).
func (a *App) SetDevice(name string) (note string, err error) {
	d := &a.dev
	spec, note, err := selectDevice(name, d.resolver())
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	var closeOld func()
	if old := d.cur; old == nil || spec.Kind != device.CUDA || old.spec != spec || old.err != nil {
		closeOld = d.retireLocked()
		if spec.Kind == device.CUDA {
			d.cur = &openDevice{spec: spec}
		}
	}
	d.note = note
	d.mu.Unlock()
	if closeOld != nil {
		closeOld()
	}
	return note, nil
}

// Device returns the device runs are started on ("cpu" or "cuda:N") and, when the device asked
// for could not be chosen, the note SetDevice gave.
func (a *App) Device() (name, note string) {
	d := &a.dev
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == nil {
		return "cpu", d.note
	}
	return d.cur.spec.String(), d.note
}

// OpenDevice opens the chosen GPU now, rather than at the first run, so that a front end can
// tell at once that it cannot be used (note: "cuda:0 could not be opened, running on the CPU:
// ..."; runs then go on on the CPU). It takes seconds the first time; the CPU returns at once.
func (a *App) OpenDevice() (note string) {
	_, use, release := a.dev.acquire()
	release()
	return use.Note
}

// CloseDevice closes the chosen GPU once the runs on it have ended; runs started later use the
// CPU. A front end calls it when it quits.
func (a *App) CloseDevice() {
	d := &a.dev
	d.mu.Lock()
	closeFn := d.retireLocked()
	d.note = ""
	d.mu.Unlock()
	if closeFn != nil {
		closeFn()
	}
}

// retireLocked makes the current GPU no longer the choice and returns the function that
// closes it when no run uses it, nil otherwise; d.mu is held.
func (d *deviceState) retireLocked() func() {
	o := d.cur
	d.cur = nil
	if o == nil {
		return nil
	}
	o.retired = true
	return o.takeCloseLocked()
}

// takeCloseLocked returns the close function of a retired device that nothing uses any more,
// once; d.mu is held.
func (o *openDevice) takeCloseLocked() func() {
	if !o.retired || o.users > 0 || o.closeFn == nil {
		return nil
	}
	f := o.closeFn
	o.closeFn = nil
	return f
}

// acquire returns the accelerator a run computes on (nil for the CPU), opening the chosen GPU
// if it is not open yet, and release, which the run calls once it has ended. A GPU that cannot
// be opened gives the CPU, with use.Note saying why. It is safe on a nil deviceState (the CPU).
func (d *deviceState) acquire() (accel nn.Accel, use DeviceUse, release func()) {
	nothing := func() {}
	if d == nil {
		return nil, DeviceUse{Name: "cpu"}, nothing
	}
	d.mu.Lock()
	o := d.cur
	if o == nil {
		d.mu.Unlock()
		return nil, DeviceUse{Name: "cpu"}, nothing
	}
	o.users++
	d.mu.Unlock()
	o.once.Do(func() {
		accel, closeFn, err := d.opener()(o.spec)
		if err == nil && accel == nil {
			err = errors.New("the device gave no accelerator")
		}
		d.mu.Lock()
		o.accel, o.closeFn, o.err = accel, closeFn, err
		d.mu.Unlock()
	})
	rel := sync.OnceFunc(func() {
		d.mu.Lock()
		o.users--
		closeFn := o.takeCloseLocked()
		d.mu.Unlock()
		if closeFn != nil {
			closeFn()
		}
	})
	if o.err != nil {
		rel()
		name := o.spec.String()
		return nil, DeviceUse{Name: "cpu", Note: name + " could not be opened, running on the CPU: " + deviceReason(o.err, name)}, nothing
	}
	return o.accel, DeviceUse{Name: o.spec.String()}, rel
}

// memoryBudget is the budget of a style transfer or a dream on the chosen device, for a user
// budget of userMiB (0: the recipe's defaultMiB): on the CPU the user's as it is; on a GPU the
// smaller of it and the GPU's free memory less GPUMemoryMargin.
func (a *App) memoryBudget(userMiB, defaultMiB int) MemoryBudget {
	d := &a.dev
	d.mu.Lock()
	o := d.cur
	d.mu.Unlock()
	if o == nil {
		return MemoryBudget{MiB: userMiB}
	}
	free, ok := d.freeMemory()(o.spec)
	if !ok {
		return MemoryBudget{MiB: userMiB}
	}
	mib, limited := gpuBudget(userMiB, defaultMiB, free)
	if !limited {
		return MemoryBudget{MiB: userMiB}
	}
	return MemoryBudget{MiB: mib, Note: fmt.Sprintf("%s has %d MiB free, less a margin of %d MiB", o.spec, free>>20, GPUMemoryMargin(free)>>20)}
}

// explain adds to a refusal where the budget comes from, when the GPU's memory set it.
func (b MemoryBudget) explain(err error) error {
	if err == nil || b.Note == "" {
		return err
	}
	return fmt.Errorf("%w (the budget: %s)", err, b.Note)
}
