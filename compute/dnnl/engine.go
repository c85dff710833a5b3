//go:build cgo && !purego

package dnnl

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Errors that oneDNN reports, wrapped with the step that failed.
var (
	// ErrUnimplemented: no oneDNN implementation handles the convolution (for instance
	// Winograd on a machine without AVX-512).
	ErrUnimplemented = errors.New("unimplemented")
	// ErrOutOfMemory: oneDNN or the engine could not allocate memory.
	ErrOutOfMemory = errors.New("out of memory")
	// ErrInvalidArguments: oneDNN rejected the shapes or parameters.
	ErrInvalidArguments = errors.New("invalid arguments")
	// ErrRuntime: any other failure.
	ErrRuntime = errors.New("runtime error")
	// ErrUnavailable: libdnnl.so.2 could not be loaded.
	ErrUnavailable = errors.New("unavailable")
	// ErrClosed: the engine has been closed.
	ErrClosed = errors.New("dnnl: engine closed")
)

// Pass is one of the three computations of a convolution.
type Pass int

const (
	// Forward computes dst from src and weights.
	Forward Pass = iota
	// BackwardData computes diff_src (written to src) from diff_dst (read from dst) and weights.
	BackwardData
	// BackwardWeights computes diff_weights (written to weights) from src and diff_dst (read
	// from dst).
	BackwardWeights
)

// String names the pass.
func (p Pass) String() string {
	switch p {
	case Forward:
		return "forward"
	case BackwardData:
		return "backward-data"
	case BackwardWeights:
		return "backward-weights"
	}
	return fmt.Sprintf("Pass(%d)", int(p))
}

// Algorithm selects oneDNN's convolution algorithm.
type Algorithm int

const (
	// Direct is the direct convolution (dnnl_convolution_direct).
	Direct Algorithm = iota
	// Winograd is dnnl_convolution_winograd (F(4x4, 3x3)) where oneDNN has it: oneDNN 2.6
	// implements it only on AVX-512 machines and for 3x3 kernels with stride 1. Elsewhere the
	// engine runs Direct instead; Info tells which runs.
	Winograd
)

// String names the algorithm.
func (a Algorithm) String() string {
	switch a {
	case Direct:
		return "direct"
	case Winograd:
		return "winograd"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// Conv describes a 2-D float32 convolution (the cross-correlation): src (N, C, H, W) in NCHW,
// weights (O, C, KH, KW) in OIHW, dst (N, O, OH, OW) in NCHW, with
// OH = (H + PadTop + PadBottom - KH)/StrideH + 1 and likewise OW. Padding may be asymmetric.
// With Bias, the forward pass also adds a bias (O) to every output channel (RunBias); with
// ReLU, it then writes max(0, ·) of its output, in the convolution's own loop (a post-op). The
// backward passes ignore both. Conv is comparable and keys the engine's cache.
type Conv struct {
	N, C, H, W                           int
	O, KH, KW                            int
	StrideH, StrideW                     int
	PadTop, PadBottom, PadLeft, PadRight int
	Algorithm                            Algorithm
	Bias                                 bool
	ReLU                                 bool
}

// OutSize returns OH and OW.
func (c Conv) OutSize() (oh, ow int) {
	return (c.H+c.PadTop+c.PadBottom-c.KH)/c.StrideH + 1, (c.W+c.PadLeft+c.PadRight-c.KW)/c.StrideW + 1
}

// check rejects shapes oneDNN would reject, with a readable error.
func (c Conv) check() error {
	for _, d := range []int{c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.StrideH, c.StrideW} {
		if d <= 0 {
			return fmt.Errorf("dnnl: non-positive size or stride in %+v", c)
		}
	}
	for _, d := range []int{c.PadTop, c.PadBottom, c.PadLeft, c.PadRight} {
		if d < 0 {
			return fmt.Errorf("dnnl: negative padding in %+v", c)
		}
	}
	if c.H+c.PadTop+c.PadBottom < c.KH || c.W+c.PadLeft+c.PadRight < c.KW {
		return fmt.Errorf("dnnl: kernel larger than padded input in %+v", c)
	}
	return nil
}

// Info tells which oneDNN implementation runs a pass and in which layouts (src or diff_src,
// weights or diff_weights, dst or diff_dst; "nchw" and "oihw" mean no reorder).
type Info struct {
	Impl    string
	Layouts [3]string
}

// Version loads oneDNN if no engine has yet and describes it ("oneDNN 2.6.3 (cpu runtime
// OpenMP)"); it is empty when the library cannot be loaded.
func Version() string {
	if load() != nil {
		return ""
	}
	return version
}

// DefaultCacheSize is how many primitives (one per shape and pass) an engine keeps by default.
const DefaultCacheSize = 256

// Engine runs convolutions on one OS thread of its own; it is safe for concurrent use, and
// requests from several goroutines run one at a time in arrival order. The zero Engine is not
// usable: call NewEngine or Default.
type Engine struct {
	reqs     chan *request
	quit     chan struct{}
	stopped  chan struct{}
	close    sync.Once
	requests sync.Pool
}

// request is one call handed to the engine's thread; requests are pooled.
type request struct {
	info       bool // only create the primitive and report its Info
	conv       Conv
	pass       Pass
	a0, a1, a2 []float32
	bias       []float32
	gotInfo    Info
	done       chan error
}

// entry is a cached primitive, or the error that creating it gave.
type entry struct {
	cv   cConv
	err  error
	used uint64
}

// NewEngine starts an engine with a cache of DefaultCacheSize primitives.
func NewEngine() (*Engine, error) { return NewEngineCache(DefaultCacheSize) }

// NewEngineCache starts an engine that keeps at most size primitives, dropping the least
// recently used one beyond that.
func NewEngineCache(size int) (*Engine, error) {
	if size < 1 {
		size = 1
	}
	e := &Engine{
		reqs:    make(chan *request),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	e.requests.New = func() any { return &request{done: make(chan error, 1)} }
	started := make(chan error, 1)
	go e.loop(size, started)
	if err := <-started; err != nil {
		return nil, err
	}
	return e, nil
}

var (
	defaultOnce   sync.Once
	defaultEngine *Engine
	defaultErr    error
)

// Default returns the process's shared engine, started on first use and never closed: the
// one worker thread through which all of a process's oneDNN work goes by default.
func Default() (*Engine, error) {
	defaultOnce.Do(func() { defaultEngine, defaultErr = NewEngine() })
	return defaultEngine, defaultErr
}

// Close stops the engine and frees its primitives and buffers; later calls return ErrClosed.
// Calls in progress finish first.
func (e *Engine) Close() {
	e.close.Do(func() { close(e.quit) })
	<-e.stopped
}

// Run executes one pass of c on plain buffers: src (N·C·H·W), weights (O·C·KH·KW) and dst
// (N·O·OH·OW). Forward writes dst; BackwardData reads dst as diff_dst and writes src as
// diff_src; BackwardWeights reads dst as diff_dst and writes weights as diff_weights. The
// pass's output is overwritten, not accumulated into. The first run of a shape and pass
// creates its primitive; a creation that failed fails again at once.
func (e *Engine) Run(c Conv, pass Pass, src, weights, dst []float32) error {
	if err := c.check(); err != nil {
		return err
	}
	if pass < Forward || pass > BackwardWeights {
		return fmt.Errorf("dnnl: unknown pass %d", int(pass))
	}
	oh, ow := c.OutSize()
	if len(src) != c.N*c.C*c.H*c.W || len(weights) != c.O*c.C*c.KH*c.KW || len(dst) != c.N*c.O*oh*ow {
		return fmt.Errorf("dnnl: %v: buffers of %d, %d and %d elements do not fit %+v", pass, len(src), len(weights), len(dst), c)
	}
	if c.Bias && pass == Forward {
		return fmt.Errorf("dnnl: %v with a bias: use RunBias", pass)
	}
	return e.run(c, pass, src, weights, dst, nil)
}

// RunBias executes the forward pass of c, which must have Bias set, on plain buffers: dst =
// conv(src, weights) + bias, with bias (O) added to every output channel in the convolution's
// own loop, not in a pass of its own.
func (e *Engine) RunBias(c Conv, src, weights, bias, dst []float32) error {
	if err := c.check(); err != nil {
		return err
	}
	if !c.Bias {
		return fmt.Errorf("dnnl: RunBias on a convolution without Bias: %+v", c)
	}
	oh, ow := c.OutSize()
	if len(src) != c.N*c.C*c.H*c.W || len(weights) != c.O*c.C*c.KH*c.KW || len(bias) != c.O || len(dst) != c.N*c.O*oh*ow {
		return fmt.Errorf("dnnl: forward with bias: buffers of %d, %d, %d and %d elements do not fit %+v", len(src), len(weights), len(bias), len(dst), c)
	}
	return e.run(c, Forward, src, weights, dst, bias)
}

// run hands one execution to the engine's thread.
func (e *Engine) run(c Conv, pass Pass, src, weights, dst, bias []float32) error {
	r := e.requests.Get().(*request)
	r.info, r.conv, r.pass, r.a0, r.a1, r.a2, r.bias = false, c, pass, src, weights, dst, bias
	err := e.do(r)
	r.a0, r.a1, r.a2, r.bias = nil, nil, nil, nil
	e.requests.Put(r)
	return err
}

// Info creates (or finds) the primitive for c and pass and describes it.
func (e *Engine) Info(c Conv, pass Pass) (Info, error) {
	if err := c.check(); err != nil {
		return Info{}, err
	}
	r := e.requests.Get().(*request)
	r.info, r.conv, r.pass = true, c, pass
	err := e.do(r)
	info := r.gotInfo
	e.requests.Put(r)
	return info, err
}

// do hands r to the engine's thread and waits for the answer.
func (e *Engine) do(r *request) error {
	select {
	case e.reqs <- r:
	case <-e.quit:
		return ErrClosed
	}
	return <-r.done
}

// key identifies a cached primitive.
type key struct {
	conv Conv
	pass Pass
}

// loop is the engine's thread: it owns every oneDNN object and is the only code that calls
// oneDNN. It never unlocks its thread, so the thread ends with it.
func (e *Engine) loop(size int, started chan<- error) {
	runtime.LockOSThread()
	defer close(e.stopped)
	ce, err := newCEngine()
	started <- err
	if err != nil {
		return
	}
	cache := make(map[key]*entry)
	var clock uint64
	defer func() {
		for _, en := range cache {
			if en.err == nil {
				en.cv.destroy()
			}
		}
		ce.destroy()
	}()
	for {
		select {
		case <-e.quit:
			return
		case r := <-e.reqs:
			clock++
			k := key{r.conv, r.pass}
			en := cache[k]
			if en == nil {
				if len(cache) >= size {
					evictOldest(cache)
				}
				en = &entry{}
				en.cv, en.err = ce.newConv(r.conv, r.pass)
				if r.conv.Algorithm == Winograd && errors.Is(en.err, ErrUnimplemented) {
					direct := r.conv
					direct.Algorithm = Direct
					en.cv, en.err = ce.newConv(direct, r.pass)
				}
				cache[k] = en
			}
			en.used = clock
			switch {
			case en.err != nil:
				r.done <- fmt.Errorf("%v %+v: %w", r.pass, r.conv, en.err)
			case r.info:
				r.gotInfo = en.cv.info()
				r.done <- nil
			default:
				if err := ce.exec(en.cv, r.a0, r.a1, r.a2, r.bias); err != nil {
					r.done <- fmt.Errorf("%v %+v: %w", r.pass, r.conv, err)
				} else {
					r.done <- nil
				}
			}
		}
	}
}

// evictOldest drops the least recently used entry of cache.
func evictOldest(cache map[key]*entry) {
	var oldest key
	least := ^uint64(0)
	for k, en := range cache {
		if en.used < least {
			oldest, least = k, en.used
		}
	}
	if en := cache[oldest]; en != nil && en.err == nil {
		en.cv.destroy()
	}
	delete(cache, oldest)
}
