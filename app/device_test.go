package app

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"convas/compute/device"
	"convas/compute/dream"
	"convas/compute/gpu"
	"convas/compute/nn"
	"convas/compute/train"
)

func TestDeviceChoices(t *testing.T) {
	choices, note := DeviceChoices()
	if len(choices) == 0 || choices[0] != (DeviceChoice{Name: "cpu", Label: "CPU"}) {
		t.Fatalf("DeviceChoices = %v, want the CPU first", choices)
	}
	if len(choices) == 1 && !strings.HasPrefix(note, "Only the CPU can be used: ") {
		t.Errorf("no GPU listed but the note is %q", note)
	}
	if !gpu.Built && note != "Only the CPU can be used: "+strings.TrimPrefix(gpu.ErrNotBuilt.Error(), "gpu: ") {
		t.Errorf("a build without CUDA: note %q", note)
	}
	if len(choices) > 1 && (note != "" || choices[1].Name != "cuda:0" || !strings.Contains(choices[1].Label, "GiB")) {
		t.Errorf("GPUs listed as %v with note %q", choices[1:], note)
	}
	for _, c := range choices {
		spec, n, err := SelectDevice(c.Name)
		if err != nil || spec.String() != c.Name || n != "" {
			t.Errorf("SelectDevice(%q) = %v, %q, %v; a listed device must select as itself", c.Name, spec, n, err)
		}
	}
}

func TestSelectDevice(t *testing.T) {
	for _, bad := range []string{"tpu:0", "cuda:x", "cuda:-1", "cpu0"} {
		if _, _, err := SelectDevice(bad); err == nil {
			t.Errorf("SelectDevice(%q) accepted", bad)
		}
	}
	spec, note, err := SelectDevice("cpu")
	if err != nil || spec.String() != "cpu" || note != "" {
		t.Errorf("SelectDevice(cpu) = %v, %q, %v", spec, note, err)
	}
	// cuda:99 exists nowhere: the CPU, and a note saying why.
	spec, note, err = SelectDevice("cuda:99")
	if err != nil || spec.String() != "cpu" || !strings.HasPrefix(note, "cuda:99 asked for, running on the CPU: ") {
		t.Errorf("SelectDevice(cuda:99) = %v, %q, %v; want the CPU and a note naming cuda:99", spec, note, err)
	}
	if !gpu.Built {
		want := "cuda:0 asked for, running on the CPU: this build has no CUDA support (build with -tags convas_cuda; see docs/GPU.md)"
		if _, note, _ := SelectDevice(" CUDA "); note != want {
			t.Errorf("no CUDA: note %q, want %q", note, want)
		}
	}
	// The reasons compute/device gives, as the user reads them.
	for _, c := range []struct {
		err        error
		spec, want string
	}{
		{fmt.Errorf("%w: cuda:1 asked for, but 1 CUDA device(s) found: %w", device.ErrFallback, gpu.ErrNoDevice), "cuda:1",
			"1 CUDA device(s) found: no such CUDA device"},
		{fmt.Errorf("%w: cuda:0 asked for: %w", device.ErrFallback, gpu.ErrNoDriver), "cuda:0", "no usable NVIDIA driver"},
		{fmt.Errorf("device: open cuda:0: %w: libcudnn.so.9: cannot open", gpu.ErrNoLibrary), "cuda:0",
			"cuBLAS 12 or cuDNN 9 not found: libcudnn.so.9: cannot open"},
	} {
		if got := deviceReason(c.err, c.spec); got != c.want {
			t.Errorf("deviceReason(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestGPUBudget checks the budget on a GPU against hand computation: the margin is a tenth of
// the free memory, 512 MiB at least.
func TestGPUBudget(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		user    int
		free    uint64
		want    int
		limited bool
	}{
		{4096, 8 * gib, 4096, false},     // 8192 - 819.2 = 7372.8 MiB free for the run: the user's fits
		{10000, 8 * gib, 7372, true},     // ... and caps a larger one
		{0, 2 * gib, 1536, true},         // 2048 - 512 (the least margin) < the default 4096
		{0, 6 * gib, 4096, false},        // 6144 - 614.4 = 5529.6: the default
		{1000, 300 << 20, 1, true},       // less free than the margin: nothing fits
		{64, 576 << 20, 64, false},       // 576 - 512 = 64, exactly the user's
		{65, 576 << 20, 64, true},        //
		{100, 100 * gib, 100, false},     // a large GPU: the user's budget still holds
		{200000, 100 * gib, 92160, true}, // 102400 - 10240
	} {
		got, limited := gpuBudget(c.user, 4096, c.free)
		if got != c.want || limited != c.limited {
			t.Errorf("user %d MiB, %d MiB free: %d MiB (limited %v), want %d (%v)", c.user, c.free>>20, got, limited, c.want, c.limited)
		}
	}
}

// fakeGPU stands for compute/device on a machine with GPUs: every cuda:N resolves, its free
// memory is set by the test, and opening it counts.
type fakeGPU struct {
	mu            sync.Mutex
	free          uint64
	openErr       error
	opens, closes map[string]int
	emu           *nn.Emulator // when set, what opening gives: runs then really compute on it
}

// fakeAccel is an accelerator that is never called: the tests only pass it around.
type fakeAccel struct {
	nn.Accel
	name string
}

func newFakeGPU(a *App, free uint64) *fakeGPU {
	f := &fakeGPU{free: free, opens: map[string]int{}, closes: map[string]int{}}
	a.dev.resolve = func(s device.Spec) (device.Spec, error) { return s, nil }
	a.dev.free = func(s device.Spec) (uint64, bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.free, s.Kind == device.CUDA
	}
	a.dev.open = func(s device.Spec) (nn.Accel, func(), error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.opens[s.String()]++
		if f.openErr != nil {
			return nil, nil, fmt.Errorf("device: open %s: %w", s, f.openErr)
		}
		var accel nn.Accel = &fakeAccel{name: s.String()}
		if f.emu != nil {
			accel = f.emu
		}
		return accel, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.closes[s.String()]++
		}, nil
	}
	return f
}

func (f *fakeGPU) counts(name string) (opens, closes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens[name], f.closes[name]
}

// TestDeviceOpenOnceCloseWhenDone: a GPU opens once for all its runs, and a change of choice
// closes it only when the last run on it has ended.
func TestDeviceOpenOnceCloseWhenDone(t *testing.T) {
	a := testApp(t)
	f := newFakeGPU(a, 8<<30)
	if accel, use, release := a.dev.acquire(); accel != nil || use != (DeviceUse{Name: "cpu"}) {
		t.Fatalf("before any choice: %v, %+v", accel, use)
	} else {
		release()
	}
	if _, err := a.SetDevice("cuda:x"); err == nil {
		t.Fatal("SetDevice(cuda:x) accepted")
	}
	if note, err := a.SetDevice("cuda:0"); note != "" || err != nil {
		t.Fatalf("SetDevice(cuda:0) = %q, %v", note, err)
	}
	if name, note := a.Device(); name != "cuda:0" || note != "" {
		t.Errorf("Device() = %q, %q", name, note)
	}
	if o, _ := f.counts("cuda:0"); o != 0 {
		t.Errorf("cuda:0 opened %d times before any run", o)
	}
	acc1, use1, rel1 := a.dev.acquire()
	acc2, _, rel2 := a.dev.acquire()
	if acc1 == nil || acc1 != acc2 || use1 != (DeviceUse{Name: "cuda:0"}) || acc1.(*fakeAccel).name != "cuda:0" {
		t.Fatalf("two runs on cuda:0: %v and %v, %+v", acc1, acc2, use1)
	}
	if o, c := f.counts("cuda:0"); o != 1 || c != 0 {
		t.Errorf("after two runs: %d opens, %d closes; want 1 and 0", o, c)
	}
	if _, err := a.SetDevice("cuda:0"); err != nil { // the same choice again: kept open
		t.Fatal(err)
	}
	rel1()
	rel1() // a second release of the same run changes nothing
	if _, err := a.SetDevice("cuda:1"); err != nil {
		t.Fatal(err)
	}
	if _, c := f.counts("cuda:0"); c != 0 {
		t.Error("cuda:0 closed while a run still used it")
	}
	rel2()
	if o, c := f.counts("cuda:0"); o != 1 || c != 1 {
		t.Errorf("after its last run: cuda:0 opened %d, closed %d times; want 1 and 1", o, c)
	}
	// cuda:1 is opened ahead of any run by OpenDevice, and closed by CloseDevice.
	if note := a.OpenDevice(); note != "" {
		t.Errorf("OpenDevice: %q", note)
	}
	a.CloseDevice()
	if o, c := f.counts("cuda:1"); o != 1 || c != 1 {
		t.Errorf("cuda:1 opened %d, closed %d times; want 1 and 1", o, c)
	}
	if name, _ := a.Device(); name != "cpu" {
		t.Errorf("after CloseDevice the runs use %s", name)
	}
	// A choice never opened is never closed.
	a.SetDevice("cuda:2")
	a.SetDevice("cpu")
	if o, c := f.counts("cuda:2"); o != 0 || c != 0 {
		t.Errorf("cuda:2 opened %d, closed %d times", o, c)
	}
}

// TestDeviceOpenFails: a GPU that cannot be opened gives the CPU with the reason, is tried once
// for all runs, and again when chosen again; a dream started then runs on the CPU and says why.
func TestDeviceOpenFails(t *testing.T) {
	a := testApp(t)
	f := newFakeGPU(a, 8<<30)
	f.openErr = gpu.ErrNoDriver
	a.SetDevice("cuda")
	want := "cuda:0 could not be opened, running on the CPU: no usable NVIDIA driver"
	if note := a.OpenDevice(); note != want {
		t.Errorf("OpenDevice: %q, want %q", note, want)
	}
	accel, use, release := a.dev.acquire()
	release()
	if accel != nil || use.Name != "cpu" || use.Note != want {
		t.Errorf("a run: %v, %+v", accel, use)
	}
	if o, _ := f.counts("cuda:0"); o != 1 {
		t.Errorf("opened %d times, want once", o)
	}

	cfg := a.DefaultDreamConfig(dream.TrunkName)
	cfg.Octaves, cfg.Iterations = 1, 1
	d, err := a.NewDream(DreamRequest{Network: dream.TrunkName, Picture: NoisePicture, LongSide: 48, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	job, err := d.Start()
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Device(); got.Name != "cpu" || got.Note != want {
		t.Errorf("the dream's device: %+v", got)
	}
	go func() { // the run blocks once its event buffer is full
		for {
			select {
			case <-d.Events:
			case <-job.Done():
				return
			}
		}
	}()
	if err := job.Wait(); err != nil || d.Result() == nil {
		t.Errorf("the dream on the CPU: %v", err)
	}

	f.mu.Lock()
	f.openErr = nil
	f.mu.Unlock()
	a.SetDevice("cuda:0") // chosen again: tried again
	if note := a.OpenDevice(); note != "" {
		t.Errorf("the second try: %q", note)
	}
	if o, _ := f.counts("cuda:0"); o != 2 {
		t.Errorf("opened %d times, want 2", o)
	}
	a.CloseDevice()
}

// TestMemoryBudgetFromGPU: on a GPU, the budgets of dreams and style estimates are the smaller
// of the user's and the GPU's free memory less the margin; on the CPU the user's as before, and
// the saved settings keep the user's either way.
func TestMemoryBudgetFromGPU(t *testing.T) {
	a := testApp(t)
	f := newFakeGPU(a, (512+64)<<20) // 64 MiB for the run once the least margin is left
	trunk := a.DefaultDreamConfig(dream.TrunkName)
	req := DreamRequest{Network: dream.TrunkName, Picture: NoisePicture, LongSide: 600, Config: trunk}

	// On the CPU: the default budget (4096 MiB) takes the 600-pixel picture.
	d, err := a.NewDream(req)
	if err != nil || d.Budget != (MemoryBudget{}) {
		t.Fatalf("CPU: %+v, %v", d, err)
	}
	if b := a.memoryBudget(0, dream.DefaultMemoryMiB); b != (MemoryBudget{}) {
		t.Errorf("CPU budget %+v", b)
	}

	a.SetDevice("cuda:0")
	b := a.memoryBudget(0, dream.DefaultMemoryMiB)
	if b.MiB != 64 || b.Note != "cuda:0 has 576 MiB free, less a margin of 512 MiB" {
		t.Errorf("GPU budget %+v", b)
	}
	// As TestNewDreamErrors' 64 MiB budget: tiles of 92 pixels at most, and where the budget
	// comes from.
	_, err = a.NewDream(req)
	if err == nil || !strings.Contains(err.Error(), "over the memory budget of 64 MiB: tiles of at most 92 pixels fit (tile_size = 92) (the budget: cuda:0 has 576 MiB free, less a margin of 512 MiB)") {
		t.Errorf("GPU with 576 MiB free: %v", err)
	}
	small := req
	small.LongSide, small.Config.TileSize = 200, 92
	if d, err = a.NewDream(small); err != nil || d.Budget.MiB != 64 || d.Settings().Config.MemoryMiB != 0 {
		t.Errorf("a run that fits: %v, budget %+v, saved %d MiB", err, d.Budget, d.Settings().Config.MemoryMiB)
	}

	// A larger GPU: the user's own budget is the smaller.
	f.mu.Lock()
	f.free = 40 << 30
	f.mu.Unlock()
	if b := a.memoryBudget(100, dream.DefaultMemoryMiB); b != (MemoryBudget{MiB: 100}) {
		t.Errorf("a large GPU: %+v", b)
	}

	// The style estimate shows the GPU's budget too.
	f.mu.Lock()
	f.free = (512 + 150) << 20
	f.mu.Unlock()
	cfg := tinyTrunkConfig(t, a)
	cfg.Size = 256
	e, err := a.NewStyleEstimator().Estimate(context.Background(), cfg, false)
	if err != nil || e.Budget != 150<<20 || e.Fits() || e.Largest >= 256 || e.Device != "cuda:0" ||
		e.BudgetNote != "cuda:0 has 662 MiB free, less a margin of 512 MiB" {
		t.Errorf("style estimate on the GPU: budget %d MiB, fits %v, largest %d, device %q, note %q, %v",
			e.Budget>>20, e.Fits(), e.Largest, e.Device, e.BudgetNote, err)
	}
	// ... and NewStyle refuses the same, with where the budget comes from.
	if _, err := a.NewStyle(cfg); err == nil || !strings.Contains(err.Error(), "over the memory budget of 150 MiB") ||
		!strings.HasSuffix(err.Error(), "(the budget: cuda:0 has 662 MiB free, less a margin of 512 MiB)") {
		t.Errorf("NewStyle on the GPU: %v", err)
	}
	a.SetDevice("cpu")
	if e, err := a.NewStyleEstimator().Estimate(context.Background(), cfg, false); err != nil || e.Budget>>20 != 4096 || e.BudgetNote != "" {
		t.Errorf("style estimate on the CPU: %+v, %v", e, err)
	}
}

// drainUntilDone reads a run's events until its job has ended, so that it never blocks on them.
func drainUntilDone[E any](events <-chan E, job *Job) {
	for {
		select {
		case <-events:
		case <-job.Done():
			return
		}
	}
}

// TestRunsComputeOnTheChosenDevice: with a GPU chosen (compute/nn's Emulator standing for it),
// a dream, a style transfer, a training and a channel gallery compute their heavy ops on it,
// free what they put there, and a dream gives the picture the CPU gives, within float32
// rounding.
func TestRunsComputeOnTheChosenDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three recipes on the emulator")
	}
	a := testApp(t)
	f := newFakeGPU(a, 40<<30)
	f.emu = nn.NewEmulator()

	// Shifts of one pixel at most. With the recipe's (up to a tile) the two dreams drift apart
	// from the second step on (in a trial at 64 px, the objective by 1.5e-5 at step 2 and 1.4e-3
	// at step 6; with one-pixel shifts by 1e-6 at every step), most likely as max-pooling
	// windows and ReLUs near a tie at the seams of the rolled picture go either way between the
	// CPU's Winograd convolutions and the emulator's direct ones.
	cfg := a.DefaultDreamConfig(dream.TrunkName)
	cfg.Octaves, cfg.Iterations, cfg.Roll = 2, 2, 1
	req := DreamRequest{Network: dream.TrunkName, Picture: NoisePicture, LongSide: 64, Config: cfg}
	dreamOn := func(dev string) *dream.Image {
		t.Helper()
		if _, err := a.SetDevice(dev); err != nil {
			t.Fatal(err)
		}
		d, err := a.NewDream(req)
		if err != nil {
			t.Fatal(err)
		}
		job, err := d.Start()
		if err != nil {
			t.Fatal(err)
		}
		if use := d.Device(); use != (DeviceUse{Name: dev}) {
			t.Errorf("a dream on %s: device %+v", dev, use)
		}
		drainUntilDone(d.Events, job)
		if err := job.Wait(); err != nil {
			t.Fatalf("a dream on %s: %v", dev, err)
		}
		return d.Result()
	}
	cpu := dreamOn("cpu")
	if f.emu.Calls != 0 {
		t.Fatalf("the CPU's dream ran %d ops on the GPU", f.emu.Calls)
	}
	gpuImg := dreamOn("cuda:0")
	if f.emu.Calls == 0 || f.emu.Live() != 0 {
		t.Errorf("the GPU's dream: %d ops there, %d buffers left", f.emu.Calls, f.emu.Live())
	}
	var most float64
	for i := range cpu.Pix {
		most = max(most, math.Abs(float64(cpu.Pix[i]-gpuImg.Pix[i])))
	}
	t.Logf("dream on the CPU and on the emulated GPU: largest difference %.3g", most)
	if len(cpu.Pix) != len(gpuImg.Pix) || most > 1e-3 { // pixel values 0..255: float32 rounding is 1.5e-5 at 255
		t.Errorf("the dreams differ by up to %g", most)
	}

	calls := f.emu.Calls
	r, err := a.NewStyle(tinyTrunkConfig(t, a))
	if err != nil {
		t.Fatal(err)
	}
	job, err := r.Start()
	if err != nil {
		t.Fatal(err)
	}
	drainUntilDone(r.Events, job)
	if err := job.Wait(); err != nil || r.Result() == nil || r.Device().Name != "cuda:0" {
		t.Errorf("style on the GPU: %v, device %+v", err, r.Device())
	}
	if f.emu.Calls == calls || f.emu.Live() != 0 {
		t.Errorf("the style transfer: %d ops on the GPU, %d buffers left", f.emu.Calls-calls, f.emu.Live())
	}

	calls = f.emu.Calls
	tc := train.DefaultConfig()
	tc.Dataset = idxFolder(t, 200, 100)
	tc.Generations, tc.EvalEvery, tc.BatchSize, tc.EvaluationSize = 2, 2, 20, 50
	tr, err := a.NewTraining("test", tc)
	if err != nil {
		t.Fatal(err)
	}
	job, err = tr.Start()
	if err != nil {
		t.Fatal(err)
	}
	drainUntilDone(tr.Events, job)
	if err := job.Wait(); err != nil || tr.State.Gen != 2 || tr.Device().Name != "cuda:0" {
		t.Errorf("training on the GPU: %v, generation %d, device %+v", err, tr.State.Gen, tr.Device())
	}
	if f.emu.Calls == calls || f.emu.Live() != 0 || tr.State.Config.Accel != nil {
		t.Errorf("the training: %d ops on the GPU, %d buffers left, accelerator kept %v", f.emu.Calls-calls, f.emu.Live(), tr.State.Config.Accel)
	}

	calls = f.emu.Calls
	l := galleryLayer(t, a)
	g, err := a.NewGallery(dream.TrunkName, l.Name, l.Channels, GallerySettings{Side: 48, Iterations: 1, Step: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	job = g.Start()
	g.RenderUpTo(1)
	collect(t, g, job, 1)
	job.Cancel()
	job.Wait()
	if g.Rendered() != 1 || f.emu.Calls == calls || f.emu.Live() != 0 {
		t.Errorf("the gallery: %d rendered, %d ops on the GPU, %d buffers left", g.Rendered(), f.emu.Calls-calls, f.emu.Live())
	}

	// A retraining's bottlenecks, and a classifier, on the GPU; the classifier gives the CPU's
	// probabilities.
	calls = f.emu.Calls
	pics := patternFolder(t, 4)
	xc := DefaultTransferConfig()
	xc.Steps, xc.EvalEvery = 10, 5
	xr, _ := runTransfer(t, a, TransferRequest{Scan: TransferScan{Dir: pics, ValidationPercent: 30}, Backbone: "inceptionv3-trunk",
		InputSize: 96, Config: xc, NoCache: true})
	if f.emu.Calls == calls || f.emu.Live() != 0 || xr.Device().Name != "cuda:0" {
		t.Errorf("the retraining: %d ops on the GPU, %d buffers left, device %+v", f.emu.Calls-calls, f.emu.Live(), xr.Device())
	}
	classify := func() []TransferPrediction {
		t.Helper()
		c, err := a.NewClassifier(xr.Model())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		top, err := c.Classify(filepath.Join(pics, "checks", "checks_aa.png"), 3)
		if err != nil {
			t.Fatal(err)
		}
		return top
	}
	calls = f.emu.Calls
	onGPU := classify()
	if f.emu.Calls == calls || f.emu.Live() != 0 {
		t.Errorf("the classifier: %d ops on the GPU, %d buffers left", f.emu.Calls-calls, f.emu.Live())
	}

	// The device stays open for the next run, and closes with the App.
	if o, c := f.counts("cuda:0"); o != 1 || c != 0 {
		t.Errorf("cuda:0 opened %d, closed %d times", o, c)
	}
	a.CloseDevice()
	if _, c := f.counts("cuda:0"); c != 1 {
		t.Errorf("cuda:0 closed %d times by CloseDevice", c)
	}

	onCPU := classify() // CloseDevice left the CPU
	for i := range onCPU {
		if onCPU[i].Label != onGPU[i].Label || math.Abs(onCPU[i].Probability-onGPU[i].Probability) > 1e-5 { // Winograd against direct convolutions: about 5e-6 relative
			t.Errorf("classified on the CPU %v, on the GPU %v", onCPU, onGPU)
			break
		}
	}
	t.Logf("classified on the CPU %v, on the GPU %v", onCPU, onGPU)
}
