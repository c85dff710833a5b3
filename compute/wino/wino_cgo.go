//go:build cgo && !purego

package wino

// #cgo CFLAGS: -O3
// #include "convas_wino.h"
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Available reports whether this build computes Winograd convolutions (it needs cgo); without,
// every pass returns ErrUnavailable.
const Available = true

// Faster reports whether Winograd is expected to run c faster than oneDNN's direct kernels on
// this machine: filterKept says whether the caller keeps a Filter (ForwardFilter,
// BackwardDataFilter) or has the weights transformed in every call (Forward, BackwardData).
// The rule (measured on an AVX2 machine without AVX-512, where oneDNN 2.6 has no Winograd of
// its own; figures beside fasterRule in conv.go): at least 16 input and output channels, and at least 16 tiles
// of 4x4 outputs (a 14x14 image) with a kept filter; without, 49 tiles (28x28), or 16 with at
// most 256x256 channels.
// It is false on CPUs without AVX2 and FMA, where the kernels run their portable build.
func Faster(c Conv, filterKept bool) bool {
	return C.wino_has_avx2() != 0 && fasterRule(c, filterKept)
}

// defaultChunkBytes bounds the work memory (V and M) of one chunk of tiles, 36·(C+O)·4 bytes a
// tile: a worker's chunk stays in its core's share of the cache.
const defaultChunkBytes = 2 << 20

// Layout blocks of the C kernels (convas_wino.h): 6 output channels by 16 tiles.
const (
	mr = 6
	nr = 16
)

// stage is one parallel step of a pass, split over the workspace's goroutines.
type stage int

const (
	stageFilter stage = iota // rows of the filter transform
	stageChunks              // whole chunks, each worker taking the next one
	stageInput               // input channels of one chunk's input transform
	stageGEMM                // transform positions of one chunk's products
	stageOutput              // output channels of one chunk's output transform
)

// Scheduling modes of Workspace.mode.
const (
	modeAuto   = iota // modeChunks when there are at least two chunks a worker, else modeStages
	modeChunks        // each worker runs whole chunks (no barriers; a V and M each)
	modeStages        // chunk after chunk, each stage split between the workers
)

// Workspace holds the work buffers of Winograd passes: the transformed filter of the last call,
// and V and M for one chunk of tiles a worker goroutine. They grow to the largest shape run and
// are kept, so that repeated calls allocate nothing. The zero value is ready to use; a Workspace
// must not be used by two goroutines at once.
type Workspace struct {
	u    []float32
	bufs []chunkBuf

	// isa is the kernels' instruction set: 0 until the first call looks, 1 baseline x86-64,
	// 2 AVX2+FMA. Tests set 1 to check the baseline build on AVX2 machines.
	isa int
	// chunkBytes overrides defaultChunkBytes when positive, and mode modeAuto (tests and
	// benchmarks).
	chunkBytes, mode int

	// The current stage and its arguments, read by the goroutines of parallel.
	st                stage
	geom              C.wino_geom
	src, dst, bias, w unsafe.Pointer
	uPtr              unsafe.Pointer
	rows, cols, back  int // filter stage
	total, tc, nb     int // tiles in all, a chunk, and a chunk's blocks of 16
	tstart            int // the chunk of the stage-split stages
	next              atomic.Int64
	parts             []func()
	nparts            int
	wg                sync.WaitGroup
}

// chunkBuf is one worker's V and M.
type chunkBuf struct{ v, m []float32 }

// Filter holds weights transformed for one pass, for callers whose weights do not change
// between calls (style transfer and DeepDream run a fixed network hundreds of times):
// ForwardFilter and BackwardDataFilter then skip the filter transform, which dominates small
// images with many channels. It depends only on the weights and the pass, so one Filter serves
// every batch size, image size and padding with the same channels, and any number of goroutines
// at once. It holds 36·⌈O/6⌉·6·C floats, four times the weights (38 MB for 512x512 channels).
// Set it again when the weights change.
type Filter struct {
	o, c int // channels out and in of the convolution
	back bool
	u    []float32
}

// Forward computes dst = conv(src, weights) (+ bias[o] on output channel o when bias is not nil,
// then max(·, 0) when c.ReLU) for c: src N·C·H·W, weights O·C·3·3, bias O or nil, dst
// N·O·OH·OW, overwritten.
func (ws *Workspace) Forward(c Conv, src, weights, bias, dst []float32) error {
	if err := c.checkSizes("forward", src, weights, bias, dst, true); err != nil {
		return err
	}
	ws.u = grow(ws.u, filterSize(c.O, c.C))
	ws.transform(c, weights, ws.u, false)
	ws.run(forwardGeom(c), src, dst, bias, ws.u)
	return nil
}

// BackwardData computes diffSrc (N·C·H·W, overwritten) from diffDst (N·O·OH·OW) and weights
// (O·C·3·3): the gradient of Forward's output with respect to its input, which is the stride-1
// correlation of diffDst with the weights rotated by 180° and O and C swapped, padded by
// 2-PadTop, 2-PadBottom, 2-PadLeft and 2-PadRight (a negative pad crops diffDst).
func (ws *Workspace) BackwardData(c Conv, diffDst, weights, diffSrc []float32) error {
	if err := c.checkSizes("backward-data", diffSrc, weights, nil, diffDst, false); err != nil {
		return err
	}
	ws.u = grow(ws.u, filterSize(c.C, c.O))
	ws.transform(c, weights, ws.u, true)
	ws.run(backwardGeom(c), diffDst, diffSrc, nil, ws.u)
	return nil
}

// SetForward transforms weights (O·C·3·3) for Forward passes of c into f.
func (ws *Workspace) SetForward(f *Filter, c Conv, weights []float32) error {
	return ws.setFilter(f, c, weights, false)
}

// SetBackwardData transforms weights (O·C·3·3) for BackwardData passes of c into f.
func (ws *Workspace) SetBackwardData(f *Filter, c Conv, weights []float32) error {
	return ws.setFilter(f, c, weights, true)
}

func (ws *Workspace) setFilter(f *Filter, c Conv, weights []float32, back bool) error {
	if err := c.Supported(); err != nil {
		return err
	}
	if len(weights) != c.O*c.C*9 {
		return fmt.Errorf("wino: filter: %d weights do not fit %+v (want %d)", len(weights), c, c.O*c.C*9)
	}
	f.o, f.c, f.back = c.O, c.C, back
	if back {
		f.u = grow(f.u, filterSize(c.C, c.O))
	} else {
		f.u = grow(f.u, filterSize(c.O, c.C))
	}
	ws.transform(c, weights, f.u, back)
	return nil
}

// ForwardFilter is Forward with weights transformed beforehand by SetForward for a convolution
// with the same channels (any batch, image size and padding).
func (ws *Workspace) ForwardFilter(c Conv, src []float32, f *Filter, bias, dst []float32) error {
	if err := c.Supported(); err != nil {
		return err
	}
	if f == nil || f.o != c.O || f.c != c.C || f.back || len(f.u) != filterSize(c.O, c.C) {
		return fmt.Errorf("wino: forward: the filter was not set for the forward pass of %d to %d channels", c.C, c.O)
	}
	oh, ow := c.OutSize()
	if len(src) != c.N*c.C*c.H*c.W || len(dst) != c.N*c.O*oh*ow || (bias != nil && len(bias) != c.O) {
		return fmt.Errorf("wino: forward: buffers of %d, %d and %d elements do not fit %+v", len(src), len(bias), len(dst), c)
	}
	ws.run(forwardGeom(c), src, dst, bias, f.u)
	return nil
}

// BackwardDataFilter is BackwardData with weights transformed beforehand by SetBackwardData
// for a convolution with the same channels (any batch, image size and padding).
func (ws *Workspace) BackwardDataFilter(c Conv, diffDst []float32, f *Filter, diffSrc []float32) error {
	if err := c.Supported(); err != nil {
		return err
	}
	if f == nil || f.o != c.O || f.c != c.C || !f.back || len(f.u) != filterSize(c.C, c.O) {
		return fmt.Errorf("wino: backward-data: the filter was not set for the backward-data pass of %d to %d channels", c.C, c.O)
	}
	oh, ow := c.OutSize()
	if len(diffSrc) != c.N*c.C*c.H*c.W || len(diffDst) != c.N*c.O*oh*ow {
		return fmt.Errorf("wino: backward-data: buffers of %d and %d elements do not fit %+v", len(diffDst), len(diffSrc), c)
	}
	ws.run(backwardGeom(c), diffDst, diffSrc, nil, f.u)
	return nil
}

// forwardGeom is the tiling of Forward: input src, output dst.
func forwardGeom(c Conv) C.wino_geom {
	oh, ow := c.OutSize()
	relu := C.long(0)
	if c.ReLU {
		relu = 1
	}
	return C.wino_geom{
		n: C.long(c.N), ci: C.long(c.C), h: C.long(c.H), w: C.long(c.W),
		co: C.long(c.O), oh: C.long(oh), ow: C.long(ow),
		pad_t: C.long(c.PadTop), pad_l: C.long(c.PadLeft),
		tiles_h: C.long((oh + 3) / 4), tiles_w: C.long((ow + 3) / 4),
		relu: relu,
	}
}

// backwardGeom is the tiling of BackwardData: input diff_dst (O channels of OH x OW), output
// diff_src (C channels of H x W), pads 2-PadTop and 2-PadLeft.
func backwardGeom(c Conv) C.wino_geom {
	oh, ow := c.OutSize()
	return C.wino_geom{
		n: C.long(c.N), ci: C.long(c.O), h: C.long(oh), w: C.long(ow),
		co: C.long(c.C), oh: C.long(c.H), ow: C.long(c.W),
		pad_t: C.long(2 - c.PadTop), pad_l: C.long(2 - c.PadLeft),
		tiles_h: C.long((c.H + 3) / 4), tiles_w: C.long((c.W + 3) / 4),
	}
}

// filterSize is the length of U for a pass with rows output and cols input channels: 36
// matrices of rows (rounded up to a multiple of 6) by cols.
func filterSize(rows, cols int) int { return 36 * ((rows+mr-1)/mr*mr*cols + 16) }

// chunkSize is the length of V (ch = C) or M (ch = O) for chunks of nb blocks of 16 tiles.
func chunkSize(nb, ch int) int { return 36 * (nb*nr*ch + 16) }

// grow returns s resized to n elements, reallocated only when its capacity is short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// setup fixes the instruction set and the goroutines on the first call.
func (ws *Workspace) setup() {
	if ws.isa == 0 {
		ws.isa = 1
		if C.wino_has_avx2() != 0 {
			ws.isa = 2
		}
	}
	p := runtime.GOMAXPROCS(0)
	if len(ws.parts) < p {
		ws.parts = make([]func(), p)
		for i := range ws.parts {
			ws.parts[i] = func() { ws.part(i) }
		}
	}
	ws.nparts = p
}

// transform writes the filter transform of weights into u, rows split between goroutines.
func (ws *Workspace) transform(c Conv, weights, u []float32, back bool) {
	ws.setup()
	ws.st, ws.w, ws.uPtr = stageFilter, unsafe.Pointer(&weights[0]), unsafe.Pointer(&u[0])
	ws.rows, ws.cols, ws.back = c.O, c.C, 0
	if back {
		ws.rows, ws.cols, ws.back = c.C, c.O, 1
	}
	ws.parallel()
	ws.w, ws.uPtr = nil, nil
	runtime.KeepAlive(weights)
	runtime.KeepAlive(u)
}

// run computes one pass over all tiles of g, chunk by chunk, with the transformed filter u.
func (ws *Workspace) run(g C.wino_geom, src, dst, bias, u []float32) {
	ws.setup()
	ci, co := int(g.ci), int(g.co)
	ws.total = int(g.n * g.tiles_h * g.tiles_w)
	budget := ws.chunkBytes
	if budget <= 0 {
		budget = defaultChunkBytes
	}
	nb := max(budget/(36*4*(ci+co)*nr), 1)
	nb = min(nb, (ws.total+nr-1)/nr)
	ws.geom, ws.nb, ws.tc = g, nb, nb*nr
	chunks := (ws.total + ws.tc - 1) / ws.tc
	mode := ws.mode
	if mode == modeAuto {
		mode = modeStages
		if chunks >= 2*ws.nparts {
			mode = modeChunks
		}
	}
	nbuf := 1
	if mode == modeChunks {
		nbuf = ws.nparts
	}
	if len(ws.bufs) < nbuf {
		ws.bufs = append(ws.bufs, make([]chunkBuf, nbuf-len(ws.bufs))...)
	}
	for i := 0; i < nbuf; i++ {
		ws.bufs[i].v = grow(ws.bufs[i].v, chunkSize(nb, ci))
		ws.bufs[i].m = grow(ws.bufs[i].m, chunkSize(nb, co))
	}
	ws.src, ws.dst, ws.uPtr, ws.bias = unsafe.Pointer(&src[0]), unsafe.Pointer(&dst[0]), unsafe.Pointer(&u[0]), nil
	if bias != nil {
		ws.bias = unsafe.Pointer(&bias[0])
	}
	if mode == modeChunks {
		ws.st = stageChunks
		ws.next.Store(0)
		ws.parallel()
	} else {
		for t0 := 0; t0 < ws.total; t0 += ws.tc {
			ws.tstart = t0
			for _, st := range [...]stage{stageInput, stageGEMM, stageOutput} {
				ws.st = st
				ws.parallel()
			}
		}
	}
	ws.src, ws.dst, ws.uPtr, ws.bias = nil, nil, nil, nil
	runtime.KeepAlive(src)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(bias)
	runtime.KeepAlive(u)
}

// parallel runs the current stage in ws.nparts parts, part 0 on the calling goroutine.
func (ws *Workspace) parallel() {
	ws.wg.Add(ws.nparts - 1)
	for i := 1; i < ws.nparts; i++ {
		go ws.parts[i]()
	}
	ws.part(0)
	ws.wg.Wait()
}

// part runs part i of the current stage: an equal share of its rows, channels or transform
// positions, or (stageChunks) chunks taken one after another until none is left.
func (ws *Workspace) part(i int) {
	if i > 0 {
		defer ws.wg.Done()
	}
	avx2 := C.int(0)
	if ws.isa == 2 {
		avx2 = 1
	}
	g := ws.geom
	share := func(n int) (C.long, C.long) { return C.long(n * i / ws.nparts), C.long(n * (i + 1) / ws.nparts) }
	switch ws.st {
	case stageFilter:
		lo, hi := share((ws.rows + mr - 1) / mr)
		C.wino_filter((*C.float)(ws.w), (*C.float)(ws.uPtr), C.long(ws.rows), C.long(ws.cols), lo, hi, C.int(ws.back), avx2)
	case stageChunks:
		b := &ws.bufs[i]
		v, m := (*C.float)(unsafe.Pointer(&b.v[0])), (*C.float)(unsafe.Pointer(&b.m[0]))
		for {
			t0 := int(ws.next.Add(int64(ws.tc))) - ws.tc
			if t0 >= ws.total {
				return
			}
			tc, nb := C.long(min(ws.tc, ws.total-t0)), C.long(ws.nb)
			C.wino_input((*C.float)(ws.src), v, g, C.long(t0), tc, nb, 0, g.ci, avx2)
			C.wino_gemm((*C.float)(ws.uPtr), v, m, g.co, g.ci, nb, 0, 36, avx2)
			C.wino_output(m, (*C.float)(ws.dst), (*C.float)(ws.bias), g, C.long(t0), tc, nb, 0, g.co, avx2)
		}
	default:
		b := &ws.bufs[0]
		v, m := (*C.float)(unsafe.Pointer(&b.v[0])), (*C.float)(unsafe.Pointer(&b.m[0]))
		t0 := C.long(ws.tstart)
		tc, nb := C.long(min(ws.tc, ws.total-ws.tstart)), C.long(ws.nb)
		switch ws.st {
		case stageInput:
			lo, hi := share(int(g.ci))
			C.wino_input((*C.float)(ws.src), v, g, t0, tc, nb, lo, hi, avx2)
		case stageGEMM:
			lo, hi := share(36)
			C.wino_gemm((*C.float)(ws.uPtr), v, m, g.co, g.ci, nb, lo, hi, avx2)
		case stageOutput:
			lo, hi := share(int(g.co))
			C.wino_output(m, (*C.float)(ws.dst), (*C.float)(ws.bias), g, t0, tc, nb, lo, hi, avx2)
		}
	}
}
