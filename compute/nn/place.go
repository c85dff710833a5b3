package nn

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/gpu"
)

// Placement binds the heavy float32 ops of one graph (convolutions, bias, ReLU, pooling, LRN,
// concatenation and channel slices, Gram matrices and squared errors, and their gradients) to
// an accelerator, a GPU through compute/device. Gorgonia stays the graph,
// the differentiation and the machine; a placed op, when the machine calls it, runs on the
// accelerator instead and leaves its result there, in a buffer of its own that lives as long as
// the placement. Its host tensor is still the node's value, for its shape and for the ops that
// read it, but is written only where something on the CPU reads it: an op of the graph that has
// no accelerated twin (a Gorgonia op, a dense layer, a loss) or one of the outputs given to
// Place. An op that reads a value made on the CPU uploads it. Weights the caller declares fixed
// are uploaded once and kept.
//
// Gorgonia's differentiation sums the gradients of a value that several ops read with its own
// Add, a CPU op. Where both terms come from the accelerator and only accelerator ops read the
// sum, the placement adds them on the accelerator instead, when the sum is first read; the CPU's
// Add still runs, on host tensors that nobody reads, and its result is ignored.
//
// So a run moves over the bus only the picture in, the outputs out, and the values crossing
// between CPU and accelerator ops inside the graph; Stats counts them.
//
// A nil *Placement is the CPU: every method does nothing. The graph's ops must not run on two
// goroutines at once (as for Gorgonia's machines); several placements may share an Accel.
type Placement struct {
	acc Accel
	// run counts the graph's runs: the first placed op of the program starts a new one.
	run   uint64
	first *placed
	// res holds, by node, the values on the accelerator this run: the placed ops' results and
	// the uploads of values the CPU made.
	res map[int64]resident
	// sums are the gradient sums done on the accelerator, by the node of Gorgonia's Add.
	sums map[int64]*sum
	// kept holds the fixed leaves' copies, shared by every op that reads them.
	kept  map[*float32]Buf
	ops   []*placed
	stats PlaceStats
	// err is the first failure on the accelerator since Cause last returned one.
	err error
	// poison, on an Emulator: fill each host result the CPU is not meant to read with NaN, so
	// that a read of one that should have been downloaded shows in the results.
	poison bool
}

// PlaceStats counts what a placement moved between host and accelerator since Place.
type PlaceStats struct {
	// Ops is the number of the graph's ops placed on the accelerator.
	Ops int
	// Uploads and Downloads count the copies; BytesUp and BytesDown their sizes.
	Uploads, Downloads int64
	BytesUp, BytesDown int64
	// Resident is the bytes of accelerator memory the placement holds.
	Resident int64
}

// resident is a node's value on the accelerator: buf holds what it was in run run.
type resident struct {
	buf Buf
	run uint64
}

// sum is one of Gorgonia's Adds of two gradients, done on the accelerator: in are the nodes
// added, buf the sum, made in run run.
type sum struct {
	in  [2]int64
	buf Buf
	run uint64
}

// placeSlot is embedded in the ops that have an accelerated twin; pl is set by Place.
type placeSlot struct{ pl *placed }

func (s *placeSlot) slot() *placeSlot { return s }

// placeable is an op of this package that can run on an Accel.
type placeable interface {
	gorgonia.Op
	slot() *placeSlot
	// placeOK reports whether this op, with n's inputs, has a twin on the accelerator.
	placeOK(n *gorgonia.Node) bool
}

// placed is one op bound to a Placement.
type placed struct {
	p        *Placement
	slot     *placeSlot // the op's, which points back here until Close
	id       int64
	inputs   []int64 // the producing node of each input
	fixed    []bool  // inputs that are fixed leaves: uploaded once, kept
	needHost bool    // the CPU reads the result: download it every run
	out      Buf
	stage    []Buf // per input: the upload of a value made on the CPU
	scratch  []Buf // the op's own buffers on the accelerator
	bufs     []Buf // ins's result, kept to be reused
}

// Place binds the ops of g that outputs depend on and that have an accelerated twin to acc.
// The outputs are what the caller reads after each run (losses, gradients, logits): they are
// always downloaded. fixed, when not nil, names the leaves (nodes without an op: weights,
// biases) whose values never change between runs, so that they are uploaded only once; every
// other leaf that a placed op reads (the picture) is uploaded each run. A nil acc places nothing
// and returns a nil Placement, the CPU.
//
// An op can be placed in one placement only; Close unbinds them all.
func Place(g *gorgonia.ExprGraph, acc Accel, outputs gorgonia.Nodes, fixed func(*gorgonia.Node) bool) (*Placement, error) {
	if acc == nil {
		return nil, nil
	}
	if len(outputs) == 0 {
		return nil, errors.New("nn: Place: no outputs")
	}
	nodes := g.ExactSubgraphRoots(outputs...).AllNodes()
	on := make(map[int64]bool)
	for _, n := range nodes {
		if op, ok := n.Op().(placeable); ok && n.Dtype() == tensor.Float32 && len(children(g, n)) == op.Arity() && op.placeOK(n) {
			if op.slot().pl != nil {
				return nil, fmt.Errorf("nn: Place: %v is already placed", n)
			}
			on[n.ID()] = true
		}
	}
	isOut := make(map[int64]bool)
	for _, o := range outputs {
		isOut[o.ID()] = true
	}
	sums := deviceSums(g, nodes, on, isOut)
	// A result is needed on the host when an op that is not placed reads it, or the caller does.
	needHost := make(map[int64]bool)
	for id := range isOut {
		needHost[id] = true
	}
	for _, n := range nodes {
		if on[n.ID()] || sums[n.ID()] != nil {
			continue
		}
		for _, c := range children(g, n) {
			needHost[c.ID()] = true
		}
	}
	p := &Placement{acc: acc, res: make(map[int64]resident), sums: sums, kept: make(map[*float32]Buf)}
	for _, n := range nodes {
		if !on[n.ID()] {
			continue
		}
		slot := n.Op().(placeable).slot()
		pl := &placed{p: p, slot: slot, id: n.ID(), needHost: needHost[n.ID()]}
		for _, c := range children(g, n) {
			pl.inputs = append(pl.inputs, c.ID())
			pl.fixed = append(pl.fixed, c.Op() == nil && fixed != nil && fixed(c))
		}
		pl.stage = make([]Buf, len(pl.inputs))
		slot.pl = pl
		p.ops = append(p.ops, pl)
	}
	p.stats.Ops = len(p.ops)
	_, p.poison = acc.(*Emulator)
	return p, nil
}

// children returns n's inputs in order.
func children(g *gorgonia.ExprGraph, n *gorgonia.Node) gorgonia.Nodes {
	var out gorgonia.Nodes
	for it := g.From(n.ID()); it.Next(); {
		out = append(out, it.Node().(*gorgonia.Node))
	}
	return out
}

// Stats returns what the placement has moved so far; zero for a nil Placement.
func (p *Placement) Stats() PlaceStats {
	if p == nil {
		return PlaceStats{}
	}
	return p.stats
}

// Close frees the placement's accelerator memory and unbinds its ops: the graph runs on the CPU
// again. Closing a nil or closed Placement does nothing.
func (p *Placement) Close() {
	if p == nil {
		return
	}
	for _, pl := range p.ops {
		for _, b := range append(append(pl.stage, pl.out), pl.scratch...) {
			if b != nil {
				p.acc.Free(b)
			}
		}
		pl.stage, pl.out, pl.scratch = nil, nil, nil
		pl.p = nil
		pl.slot.pl = nil
	}
	for _, b := range p.kept {
		p.acc.Free(b)
	}
	for _, s := range p.sums {
		if s.buf != nil {
			p.acc.Free(s.buf)
		}
	}
	p.ops, p.res, p.sums, p.kept, p.first = nil, nil, nil, nil, nil
	p.stats.Resident = 0
}

// on reports whether the op runs on the accelerator for this input: placed, open, float32.
func (pl *placed) on(x *tensor.Dense) bool {
	return pl != nil && pl.p != nil && x.Dtype() == tensor.Float32
}

// begin marks the start of the op's work; the first placed op of the program starts a run.
func (pl *placed) begin() {
	p := pl.p
	if p.first == nil {
		p.first = pl
	}
	if p.first == pl {
		p.run++
	}
}

func (p *Placement) alloc(n int) (Buf, error) {
	b, err := p.acc.Alloc(n)
	if err != nil {
		return nil, fmt.Errorf("nn: accelerator: allocating %.2f MiB: %w", float64(n)*4/(1<<20), err)
	}
	p.stats.Resident += int64(n) * 4
	return b, nil
}

// sized returns *b if it holds n elements, or frees it and allocates one that does.
func (p *Placement) sized(b *Buf, n int) (Buf, error) {
	if *b != nil && (*b).Len() == n {
		return *b, nil
	}
	if *b != nil {
		p.stats.Resident -= int64((*b).Len()) * 4
		p.acc.Free(*b)
		*b = nil
	}
	nb, err := p.alloc(n)
	if err != nil {
		return nil, err
	}
	*b = nb
	return nb, nil
}

func (p *Placement) download(dst []float32, b Buf) error {
	if err := p.acc.Download(dst, b); err != nil {
		return fmt.Errorf("nn: accelerator: download: %w", err)
	}
	p.stats.Downloads++
	p.stats.BytesDown += int64(len(dst)) * 4
	return nil
}

func (p *Placement) upload(b Buf, src []float32) error {
	if err := p.acc.Upload(b, src); err != nil {
		return fmt.Errorf("nn: accelerator: upload: %w", err)
	}
	p.stats.Uploads++
	p.stats.BytesUp += int64(len(src)) * 4
	return nil
}

// ins returns the accelerator's copy of each input, in order (see in); a nil input, read for
// its shape only, is not fetched and its Buf is nil. The slice is the op's, reused each call.
func (pl *placed) ins(in ...*tensor.Dense) ([]Buf, error) {
	pl.bufs = pl.bufs[:0]
	for i, d := range in {
		var b Buf
		if d != nil {
			var err error
			if b, err = pl.in(i, d); err != nil {
				return nil, err
			}
		}
		pl.bufs = append(pl.bufs, b)
	}
	return pl.bufs, nil
}

// do runs one placed op that writes y: it starts the run if the op is the program's first,
// fetches the inputs (as ins), makes y's buffer, runs compute there and records the result.
func (pl *placed) do(y *tensor.Dense, in []*tensor.Dense, compute func(a Accel, in []Buf, out Buf) error) error {
	pl.begin()
	bufs, err := pl.ins(in...)
	if err != nil {
		return err
	}
	out, err := pl.output(y)
	if err != nil {
		return err
	}
	if err := compute(pl.p.acc, bufs, out); err != nil {
		return err
	}
	return pl.finish(y, out)
}

// in returns the accelerator's copy of input i: the buffer of the placed op that made it this
// run, the kept copy of a fixed leaf, or a fresh upload of what the CPU made.
func (pl *placed) in(i int, d *tensor.Dense) (Buf, error) {
	p := pl.p
	src := dataOf[float32](d)
	if len(src) == 0 {
		return nil, fmt.Errorf("nn: accelerator: input %d is empty", i)
	}
	key := unsafe.SliceData(src)
	if pl.fixed[i] {
		if b, ok := p.kept[key]; ok && b.Len() == len(src) {
			return b, nil
		}
		b, err := p.alloc(len(src))
		if err != nil {
			return nil, err
		}
		if err := p.upload(b, src); err != nil {
			p.acc.Free(b)
			return nil, err
		}
		if old, ok := p.kept[key]; ok {
			p.stats.Resident -= int64(old.Len()) * 4
			p.acc.Free(old)
		}
		p.kept[key] = b
		return b, nil
	}
	id := pl.inputs[i]
	if r, ok := p.res[id]; ok && r.run == p.run && r.buf.Len() == len(src) {
		return r.buf, nil
	}
	if s := p.sums[id]; s != nil {
		return p.sumOn(id, s, len(src))
	}
	b, err := p.sized(&pl.stage[i], len(src))
	if err != nil {
		return nil, err
	}
	if err := p.upload(b, src); err != nil {
		return nil, err
	}
	// Other placed ops reading the same value this run use this copy.
	p.res[id] = resident{buf: b, run: p.run}
	return b, nil
}

// output returns the op's result buffer for a host result y.
func (pl *placed) output(y *tensor.Dense) (Buf, error) {
	return pl.p.sized(&pl.out, y.Shape().TotalSize())
}

// scratchOf returns the op's scratch buffer i, of n elements.
func (pl *placed) scratchOf(i, n int) (Buf, error) {
	for len(pl.scratch) <= i {
		pl.scratch = append(pl.scratch, nil)
	}
	return pl.p.sized(&pl.scratch[i], n)
}

// finish records that the accelerator's b holds y's value and downloads it when the CPU reads
// it.
func (pl *placed) finish(y *tensor.Dense, b Buf) error {
	p := pl.p
	dst := dataOf[float32](y)
	p.res[pl.id] = resident{buf: b, run: p.run}
	if pl.needHost {
		return p.download(dst, b)
	}
	if p.poison {
		nan := float32(math.NaN())
		for i := range dst {
			dst[i] = nan
		}
	}
	return nil
}

// fail names the op whose accelerated twin failed and keeps the error for Cause.
func (pl *placed) fail(name string, err error) error {
	e := fmt.Errorf("nn: %s on the accelerator: %w", name, err)
	if pl != nil && pl.p != nil && pl.p.err == nil {
		pl.p.err = e
	}
	return e
}

// Cause returns the failure on the accelerator behind err, the error of a failed run, where
// there is one, and err otherwise. Gorgonia's error only quotes an op's error in its own text,
// where errors.Is cannot find it (gpu.ErrOutOfMemory, say). Cause forgets the failure it
// returns; on a nil Placement it returns err.
func (p *Placement) Cause(err error) error {
	if p == nil || p.err == nil {
		return err
	}
	e := p.err
	p.err = nil
	return e
}

// gpuConv is a convolution's geometry in compute/gpu's terms.
func gpuConv(g *convGeom) gpu.Conv {
	return gpu.Conv{N: g.n, C: g.c, H: g.h, W: g.w, O: g.o, KH: g.kh, KW: g.kw, StrideH: g.sh, StrideW: g.sw,
		PadTop: g.pad.Top, PadBottom: g.pad.Bottom, PadLeft: g.pad.Left, PadRight: g.pad.Right}
}

// gpuPool is a pooling's geometry in compute/gpu's terms.
func gpuPool(g *poolGeom, mode gpu.PoolMode) gpu.Pool {
	return gpu.Pool{N: g.n, C: g.c, H: g.h, W: g.w, KH: g.kh, KW: g.kw, StrideH: g.sh, StrideW: g.sw,
		PadTop: g.pad.Top, PadBottom: g.pad.Bottom, PadLeft: g.pad.Left, PadRight: g.pad.Right, Mode: mode}
}

// gpuLRN is an LRN over x in compute/gpu's terms.
func gpuLRN(k lrnKernel, x tensor.Shape) gpu.LRN {
	return gpu.LRN{N: x[0], C: x[1], H: x[2], W: x[3], Radius: k.radius, Bias: k.bias, Alpha: k.alpha, Beta: k.beta}
}

// lrnPlaceable reports whether cuDNN takes k on x (gpu.LRN's limits: a window of at most 15
// channels, bias at least 1e-5, beta at least 0.01) and x is (N, C, H, W).
func lrnPlaceable(k lrnKernel, x tensor.Shape) bool {
	return x.Dims() == 4 && 2*min(k.radius, x[1]-1)+1 <= 15 && k.bias >= 1e-5 && k.beta >= 0.01
}

// convOn runs a forward convolution, with its bias and fused ReLU, on the accelerator.
func (pl *placed) convOn(g *convGeom, bias, relu bool, in []*tensor.Dense, y *tensor.Dense) error {
	return pl.do(y, in, func(a Accel, b []Buf, out Buf) error {
		if err := a.Conv(gpuConv(g), gpu.Forward, b[0], b[1], out); err != nil {
			return err
		}
		if bias {
			// In place: compute/gpu's kernel reads and writes each element once, by one
			// thread, so the x it reads is never one it wrote (its pointers are declared
			// __restrict__, which an alias formally breaks; a separate output buffer would
			// double the activations' memory).
			if err := a.BiasAdd(g.n, g.o, g.oh*g.ow, out, b[2], out); err != nil {
				return err
			}
		}
		if relu {
			return a.ReLUForward(out, out)
		}
		return nil
	})
}

// convBackOn runs a backward convolution: the gradient to the input (into res, from x's shape,
// w and dy) or to the filter (from x and dy).
func (pl *placed) convBackOn(g *convGeom, pass gpu.Pass, x, w, dy, res *tensor.Dense) error {
	// The input gradient reads only x's shape, the filter gradient only w's: do not upload
	// them.
	if pass == gpu.BackwardData {
		x = nil
	} else {
		w = nil
	}
	return pl.do(res, []*tensor.Dense{x, w, dy}, func(a Accel, b []Buf, out Buf) error {
		if pass == gpu.BackwardData {
			return a.Conv(gpuConv(g), pass, out, b[1], b[2])
		}
		return a.Conv(gpuConv(g), pass, b[0], out, b[2])
	})
}

// biasOn adds a per-channel bias on the accelerator.
func (pl *placed) biasOn(x, b, y *tensor.Dense) error {
	n, c, plane := channelGeom(x.Shape())
	return pl.do(y, []*tensor.Dense{x, b}, func(a Accel, in []Buf, out Buf) error {
		return a.BiasAdd(n, c, plane, in[0], in[1], out)
	})
}

// biasGradOn sums the output gradient per channel on the accelerator.
func (pl *placed) biasGradOn(dy, db *tensor.Dense) error {
	n, c, plane := channelGeom(dy.Shape())
	return pl.do(db, []*tensor.Dense{dy}, func(a Accel, in []Buf, out Buf) error {
		return a.BiasGrad(n, c, plane, in[0], out)
	})
}

// unaryOn runs the forward pass of ReLU, average pooling, LRN or a channel slice on the
// accelerator.
func (pl *placed) unaryOn(k unaryKernel, x, y *tensor.Dense) error {
	return pl.do(y, []*tensor.Dense{x}, func(a Accel, in []Buf, out Buf) error {
		switch k := k.(type) {
		case reluKernel:
			return a.ReLUForward(in[0], out)
		case avgPoolKernel:
			g, err := k.geom(x.Shape())
			if err != nil {
				return err
			}
			return a.PoolForward(gpuPool(&g, gpu.PoolAverage), in[0], out)
		case lrnKernel:
			return a.LRNForward(gpuLRN(k, x.Shape()), in[0], out)
		case channelSliceKernel:
			return copyChannelsOn(a, x.Shape(), k.lo, k.hi, in[0], out, false)
		}
		return fmt.Errorf("no accelerated twin of %T", k)
	})
}

// unaryBackOn runs the backward pass of ReLU, average pooling, LRN or a channel slice on the
// accelerator. The op's inputs are x and dy; where cuDNN also wants the forward output, it is
// computed again into the op's scratch buffer.
func (pl *placed) unaryBackOn(k unaryKernel, x, dy, dx *tensor.Dense) error {
	return pl.do(dx, []*tensor.Dense{x, dy}, func(a Accel, in []Buf, out Buf) error {
		switch k := k.(type) {
		case reluKernel:
			return a.ReLUBackward(in[0], in[0], in[1], out)
		case avgPoolKernel:
			g, err := k.geom(x.Shape())
			if err != nil {
				return err
			}
			y, err := pl.scratchOf(0, dy.Shape().TotalSize())
			if err != nil {
				return err
			}
			gp := gpuPool(&g, gpu.PoolAverage)
			if err := a.PoolForward(gp, in[0], y); err != nil {
				return err
			}
			return a.PoolBackward(gp, in[0], y, in[1], out)
		case lrnKernel:
			y, err := pl.scratchOf(0, x.Shape().TotalSize())
			if err != nil {
				return err
			}
			l := gpuLRN(k, x.Shape())
			if err := a.LRNForward(l, in[0], y); err != nil {
				return err
			}
			return a.LRNBackward(l, in[0], y, in[1], out)
		case channelSliceKernel:
			if k.lo > 0 || k.hi < x.Shape()[1] {
				if err := a.Zero(out); err != nil {
					return err
				}
			}
			return copyChannelsOn(a, x.Shape(), k.lo, k.hi, out, in[1], true)
		}
		return fmt.Errorf("no accelerated twin of %T", k)
	})
}

// maxPoolOn runs a max-pool on the accelerator.
func (pl *placed) maxPoolOn(g *poolGeom, x, y *tensor.Dense) error {
	return pl.do(y, []*tensor.Dense{x}, func(a Accel, in []Buf, out Buf) error {
		return a.PoolForward(gpuPool(g, gpu.PoolMax), in[0], out)
	})
}

// maxPoolBackOn runs a max-pool's gradient on the accelerator from x, dy and the pool's output
// y.
func (pl *placed) maxPoolBackOn(g *poolGeom, x, dy, y, dx *tensor.Dense) error {
	return pl.do(dx, []*tensor.Dense{x, dy, y}, func(a Accel, in []Buf, out Buf) error {
		return a.PoolBackward(gpuPool(g, gpu.PoolMax), in[0], in[2], in[1], out)
	})
}

// placeOK: every float32 convolution has a twin (cuDNN, with explicit padding where it is
// asymmetric).
func (op *conv2DOp) placeOK(*gorgonia.Node) bool { return true }

// placeOK: as the forward convolution.
func (op *conv2DBackDataOp) placeOK(*gorgonia.Node) bool { return true }

// placeOK: as the forward convolution.
func (op *conv2DBackFilterOp) placeOK(*gorgonia.Node) bool { return true }

// placeOK: a bias over (N, C, ...) of any rank.
func (op *addBiasOp) placeOK(*gorgonia.Node) bool { return true }

// placeOK: as AddBias.
func (op *biasGradOp) placeOK(*gorgonia.Node) bool { return true }

// placeOK: max-pooling has a twin.
func (op *maxPool2DOp) placeOK(*gorgonia.Node) bool { return true }

// placeOK: the gradient made by SymDiff, which reads the pool's output too; DoDiff's form
// without it stays on the CPU.
func (op *maxPool2DBackOp) placeOK(*gorgonia.Node) bool { return op.fwd != nil }

// placeOK: ReLU, average pooling, and LRN within cuDNN's limits.
func (op *unaryOp) placeOK(n *gorgonia.Node) bool { return unaryPlaceable(op.k, n) }

// placeOK: as the forward op; n's first input is the forward op's input.
func (op *unaryBackOp) placeOK(n *gorgonia.Node) bool { return unaryPlaceable(op.k, n) }

// unaryPlaceable reports whether k has a twin for the op node n, whose first input is the
// kernel's input.
func unaryPlaceable(k unaryKernel, n *gorgonia.Node) bool {
	switch k := k.(type) {
	case reluKernel, avgPoolKernel, channelSliceKernel:
		return true
	case lrnKernel:
		cs := children(n.Graph(), n)
		return len(cs) > 0 && lrnPlaceable(k, cs[0].Shape())
	}
	return false
}

// placeOK: concatenation is copies.
func (op *concatChannelsOp) placeOK(*gorgonia.Node) bool { return true }

// concatOn joins xs along the channels into y on the accelerator: one copy per input and item
// of the batch.
func (pl *placed) concatOn(xs []*tensor.Dense, y *tensor.Dense) error {
	return pl.do(y, xs, func(a Accel, in []Buf, out Buf) error {
		lo := 0
		for i, x := range xs {
			hi := lo + x.Shape()[1]
			if err := copyChannelsOn(a, y.Shape(), lo, hi, out, in[i], true); err != nil {
				return err
			}
			lo = hi
		}
		return nil
	})
}

// copyChannelsOn is copyChannels on the accelerator: channels [lo, hi) of whole, of shape s,
// to part, or with back part into those channels of whole.
func copyChannelsOn(a Accel, s tensor.Shape, lo, hi int, whole, part Buf, back bool) error {
	n, c, plane := channelGeom(s)
	block := (hi - lo) * plane
	for i := 0; i < n; i++ {
		var err error
		if back {
			err = a.Copy(whole, (i*c+lo)*plane, part, i*block, block)
		} else {
			err = a.Copy(part, i*block, whole, (i*c+lo)*plane, block)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// deviceSums finds the nodes of Gorgonia's Add of two float32 tensors of its own shape whose
// terms are both made on the accelerator (by placed ops or such sums) and which only placed ops
// (or such sums) read, and is not an output: the gradient sums the accelerator can do itself.
func deviceSums(g *gorgonia.ExprGraph, nodes gorgonia.Nodes, on, isOut map[int64]bool) map[int64]*sum {
	readers := make(map[int64][]int64)
	for _, n := range nodes {
		for _, c := range children(g, n) {
			readers[c.ID()] = append(readers[c.ID()], n.ID())
		}
	}
	cand := make(map[int64]*sum)
	for _, n := range nodes {
		cs := children(g, n)
		// Tensors only: a scalar term would be a SquaredError, whose result stays on the host.
		if n.Op() == nil || isOut[n.ID()] || fmt.Sprintf("%T", n.Op()) != "gorgonia.elemBinOp" || fmt.Sprint(n.Op()) != "+ false" ||
			n.Dtype() != tensor.Float32 || n.Dims() == 0 || len(cs) != 2 || !cs[0].Shape().Eq(n.Shape()) || !cs[1].Shape().Eq(n.Shape()) {
			continue
		}
		cand[n.ID()] = &sum{in: [2]int64{cs[0].ID(), cs[1].ID()}}
	}
	// Drop candidates until every term is on the accelerator and every reader is: a dropped
	// sum is made on the CPU, which changes what its readers and terms may be.
	for changed := true; changed; {
		changed = false
		for id, s := range cand {
			ok := true
			for _, t := range s.in {
				if !on[t] && cand[t] == nil {
					ok = false
				}
			}
			for _, r := range readers[id] {
				if !on[r] && cand[r] == nil {
					ok = false
				}
			}
			if !ok {
				delete(cand, id)
				changed = true
			}
		}
	}
	return cand
}

// sumOn returns the sum s (node id) of n values on the accelerator, adding it the first time a
// run asks.
func (p *Placement) sumOn(id int64, s *sum, n int) (Buf, error) {
	if s.buf != nil && s.run == p.run && s.buf.Len() == n {
		return s.buf, nil
	}
	var terms [2]Buf
	for i, t := range s.in {
		if r, ok := p.res[t]; ok && r.run == p.run {
			terms[i] = r.buf
		} else if ts := p.sums[t]; ts != nil {
			b, err := p.sumOn(t, ts, n)
			if err != nil {
				return nil, err
			}
			terms[i] = b
		} else {
			return nil, fmt.Errorf("a term of the gradient sum %d is not on the accelerator", id)
		}
		if terms[i].Len() != n {
			return nil, fmt.Errorf("a term of the gradient sum %d has %d values, want %d", id, terms[i].Len(), n)
		}
	}
	b, err := p.sized(&s.buf, n)
	if err != nil {
		return nil, err
	}
	if err := p.acc.Copy(b, 0, terms[0], 0, n); err != nil {
		return nil, err
	}
	if err := p.acc.Axpy(1, terms[1], b); err != nil {
		return nil, err
	}
	s.run = p.run
	return b, nil
}

// placeOK: Gram matrices are GEMMs.
func (op *gramOp) placeOK(*gorgonia.Node) bool { return true }

// placeOK: as Gram.
func (op *gramBackOp) placeOK(*gorgonia.Node) bool { return true }

// placeOK: a difference, and a dot product as a GEMM.
func (op *sqErrOp) placeOK(*gorgonia.Node) bool { return true }

// placeOK: as SquaredError.
func (op *sqErrBackOp) placeOK(*gorgonia.Node) bool { return true }

// gramOn writes f's Gram matrix F Fᵀ / (c·hw) into g on the accelerator.
func (pl *placed) gramOn(c, hw int, f, g *tensor.Dense) error {
	return pl.do(g, []*tensor.Dense{f}, func(a Accel, in []Buf, out Buf) error {
		return a.Gemm(false, true, c, c, hw, 1/float32(c*hw), in[0], in[0], 0, out)
	})
}

// gramBackOn writes Gram's gradient (dG + dGᵀ) F / (c·hw) into df on the accelerator, as two
// GEMMs.
func (pl *placed) gramBackOn(c, hw int, f, dg, df *tensor.Dense) error {
	s := 1 / float32(c*hw)
	return pl.do(df, []*tensor.Dense{f, dg}, func(a Accel, in []Buf, out Buf) error {
		if err := a.Gemm(false, false, c, hw, c, s, in[1], in[0], 0, out); err != nil {
			return err
		}
		return a.Gemm(true, false, c, hw, c, s, in[1], in[0], 1, out)
	})
}

// diffOn writes x − t (x alone without t), from their copies on the accelerator, into the
// op's scratch buffer 0 and returns it.
func (pl *placed) diffOn(in []Buf) (Buf, error) {
	n := in[0].Len()
	d, err := pl.scratchOf(0, n)
	if err != nil {
		return nil, err
	}
	a := pl.p.acc
	if err := a.Copy(d, 0, in[0], 0, n); err != nil {
		return nil, err
	}
	if len(in) > 1 {
		if err := a.Axpy(-1, in[1], d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// sqErrOn computes scale·Σ (x − t)² on the accelerator: the difference, its dot product with
// itself as a 1 x n by n x 1 GEMM (float32 accumulation, as cuBLAS does it), and a download of
// the one value. The result is a host scalar, not a value on the accelerator.
func (pl *placed) sqErrOn(scale float64, in []*tensor.Dense) (float32, error) {
	pl.begin()
	bufs, err := pl.ins(in...)
	if err != nil {
		return 0, err
	}
	d, err := pl.diffOn(bufs)
	if err != nil {
		return 0, err
	}
	dot, err := pl.scratchOf(1, 1)
	if err != nil {
		return 0, err
	}
	if err := pl.p.acc.Gemm(false, false, 1, 1, d.Len(), 1, d, d, 0, dot); err != nil {
		return 0, err
	}
	var v [1]float32
	if err := pl.p.download(v[:], dot); err != nil {
		return 0, err
	}
	return float32(scale * float64(v[0])), nil
}

// sqErrBackOn writes k·(x − t) into dx on the accelerator.
func (pl *placed) sqErrBackOn(k float64, in []*tensor.Dense, dx *tensor.Dense) error {
	return pl.do(dx, in, func(a Accel, bufs []Buf, out Buf) error {
		d, err := pl.diffOn(bufs)
		if err != nil {
			return err
		}
		if err := a.Zero(out); err != nil {
			return err
		}
		return a.Axpy(float32(k), d, out)
	})
}
