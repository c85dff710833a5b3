//go:build cgo && !purego

package nn

import (
	"bytes"
	"strings"
	"sync"
	"unsafe"

	"convas/compute/dnnl"
	"convas/compute/wino"
)

// This file and conv_gemm.go are the seam where a build chooses how float32 convolutions run:
// conv32 and convBackend are defined once per build. The default cgo build (this file) runs
// them through oneDNN, and with ConvWinograd the 3x3 layers where it is faster through
// compute/wino; the purego build (conv_gemm.go) on im2col and GEMM. A later GPU build plugs
// cuDNN in here: a conv_cudnn.go tagged `convas_cuda`, with this file tagged
// `cgo && !purego && !convas_cuda`, and the same conv32 signature. float64 (the gradient checks)
// always takes the GEMM path in convkernels.go.
//
// The NCHW tensors of Gorgonia stay the interface: each oneDNN pass reorders its arguments into
// the blocked layouts oneDNN's kernels want (nChw8c/nChw16c, OIhw8i8o/OIhw16i16o) and its result
// back, into work buffers the engine reuses; compute/wino reads and writes NCHW itself. Keeping
// activations blocked between consecutive oneDNN ops is a later step.
//
// All oneDNN work goes through the process's one dnnl.Default engine, a goroutine locked to its
// OS thread (dnnl's package comment says why); ops hold no engine. The only state an op keeps is
// compute/wino's transformed weights for small images (keptFilter).

// convBackend names the backend float32 convolutions use in this build, for benchmarks.
const convBackend = "onednn"

// conv32 runs one pass of a float32 convolution, arguments by role as for convPass: with
// ConvWinograd through compute/wino where winoFor chooses it, and otherwise through oneDNN with
// algo (Winograd falls back to direct inside the engine where oneDNN has none), and on the GEMM
// kernels when oneDNN cannot: libdnnl is missing, or no implementation takes the shape. The
// engine caches a failure to create a primitive, so the fallback costs one round trip to the
// engine's thread after the first try. kept is the op's cache of transformed weights for
// compute/wino (nil for the gradient to the filter).
func conv32(algo ConvAlgorithm, pass convPass, g *convGeom, x, w, y []float32, kept *keptFilter) {
	if winoFor(algo, pass, g) && winograd(pass, g, x, w, nil, y, false, kept) {
		return
	}
	if e, err := dnnl.Default(); err == nil && e.Run(dnnlConv(g, algo), dnnlPass(pass), x, w, y) == nil {
		return
	}
	convGEMM(pass, g, x, w, y)
}

// conv32Bias runs the forward pass of a float32 convolution and adds bias (O) to every output
// channel, then with relu takes max(0, ·): inside compute/wino's or oneDNN's convolution where
// it can, after the GEMM kernels otherwise.
func conv32Bias(algo ConvAlgorithm, g *convGeom, x, w, bias, y []float32, relu bool, kept *keptFilter) {
	if winoFor(algo, passForward, g) && winograd(passForward, g, x, w, bias, y, relu, kept) {
		return
	}
	if e, err := dnnl.Default(); err == nil {
		c := dnnlConv(g, algo)
		c.Bias, c.ReLU = true, relu
		if e.RunBias(c, x, w, bias, y) == nil {
			return
		}
	}
	convGEMM(passForward, g, x, w, y)
	addBias(g.outShape(), y, bias, y)
	if relu && !reluForwardF32(y, y) {
		reluForward(y, y)
	}
}

// winoFor reports whether a pass of g with algo runs on compute/wino: ConvWinograd, a 3x3
// kernel at stride 1, the forward pass or the gradient to the input, oneDNN without a Winograd
// of its own for g (it has one on AVX-512 machines, and runs all three passes there), and a
// shape where wino.Faster measured compute/wino ahead of oneDNN's direct kernels.
func winoFor(algo ConvAlgorithm, pass convPass, g *convGeom) bool {
	if algo != ConvWinograd || !wino.Available || pass == passBackFilter || g.kh != 3 || g.kw != 3 || g.sh != 1 || g.sw != 1 {
		return false
	}
	if c := winoConv(g); !wino.Faster(c, keepFilter(c)) {
		return false
	}
	// Asked only once compute/wino would run: a round trip to the engine's thread, which finds
	// the primitive (or the failure to make one) in its cache.
	if e, err := dnnl.Default(); err == nil {
		if info, err := e.Info(dnnlConv(g, algo), dnnlPass(pass)); err == nil && strings.Contains(info.Impl, "wino") {
			return false
		}
	}
	return true
}

// keepFilter reports whether an op keeps compute/wino's transformed weights for c between runs
// (keptFilter): for small images (64 tiles of 4x4 outputs or fewer, at most a 32x32 image at
// batch 1), where transforming the weights in every run costs as much as the rest of the
// convolution (VGG19's 512-channel layers at 28x28: 18 ms a run with the transform, 12 without;
// at 14x14, 7.4 and 3.3). A kept filter holds four times the weights and a copy of them, so
// larger images, where the transform is a small share, transform them in every run.
func keepFilter(c wino.Conv) bool {
	oh, ow := c.OutSize()
	return c.N*((oh+3)/4)*((ow+3)/4) <= 64
}

// keptFilter is an op's cache of compute/wino's transformed weights and of the weights they
// were made from. Every run compares the weights with that copy, byte for byte, and transforms
// them again when they differ, so training, which changes them every step, stays exact; a
// network whose weights stay the same (style transfer, DeepDream) transforms them once.
type keptFilter struct {
	mu   sync.Mutex
	f    wino.Filter
	from []float32
	o, c int
	ok   bool
}

// get returns the Filter for weights w of c in the pass (back for the gradient to the input),
// transforming them with ws when the cache does not hold them.
func (k *keptFilter) get(ws *wino.Workspace, c wino.Conv, w []float32, back bool) (*wino.Filter, error) {
	if k.ok && k.o == c.O && k.c == c.C && bytes.Equal(floatBytes(k.from), floatBytes(w)) {
		return &k.f, nil
	}
	k.ok = false
	var err error
	if back {
		err = ws.SetBackwardData(&k.f, c, w)
	} else {
		err = ws.SetForward(&k.f, c, w)
	}
	if err != nil {
		return nil, err
	}
	k.from = append(k.from[:0], w...)
	k.o, k.c, k.ok = c.O, c.C, true
	return &k.f, nil
}

// floatBytes views s as bytes.
func floatBytes(s []float32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 4*len(s))
}

// winoConv describes g to compute/wino.
func winoConv(g *convGeom) wino.Conv {
	return wino.Conv{N: g.n, C: g.c, H: g.h, W: g.w, O: g.o, PadTop: g.pad.Top, PadBottom: g.pad.Bottom, PadLeft: g.pad.Left, PadRight: g.pad.Right}
}

// winoSpares keeps idle compute/wino workspaces for the next Winograd pass, at most one for each
// pass that can run at once (a graph runs its ops one after another). A workspace holds the
// transformed filter of the largest layer it has run (36/9 of the weights' size: 38 MB for
// VGG19's 512x512 layers) and its tiles' buffers, so sharing them between ops keeps one such
// buffer for a network rather than one a layer; they are caches, filled afresh by every pass.
var winoSpares = make(chan *wino.Workspace, 4)

// winograd runs a forward pass (bias may be nil; relu fuses max(0, ·)) or a gradient to the
// input of g through compute/wino, arguments by role as for conv32, and reports whether it did;
// it did not when compute/wino refused the shape, and the caller then takes oneDNN.
func winograd(pass convPass, g *convGeom, x, w, bias, y []float32, relu bool, kept *keptFilter) bool {
	var ws *wino.Workspace
	select {
	case ws = <-winoSpares:
	default:
		ws = new(wino.Workspace)
	}
	defer func() {
		select {
		case winoSpares <- ws:
		default:
		}
	}()
	c := winoConv(g)
	back := pass == passBackData
	c.ReLU = relu && !back
	if kept != nil && keepFilter(c) {
		kept.mu.Lock()
		defer kept.mu.Unlock()
		f, err := kept.get(ws, c, w, back)
		if err != nil {
			return false
		}
		if back {
			return ws.BackwardDataFilter(c, y, f, x) == nil
		}
		return ws.ForwardFilter(c, x, f, bias, y) == nil
	}
	if back {
		return ws.BackwardData(c, y, w, x) == nil
	}
	return ws.Forward(c, x, w, bias, y) == nil
}

// dnnlConv describes g to oneDNN.
func dnnlConv(g *convGeom, algo ConvAlgorithm) dnnl.Conv {
	c := dnnl.Conv{
		N: g.n, C: g.c, H: g.h, W: g.w,
		O: g.o, KH: g.kh, KW: g.kw,
		StrideH: g.sh, StrideW: g.sw,
		PadTop: g.pad.Top, PadBottom: g.pad.Bottom, PadLeft: g.pad.Left, PadRight: g.pad.Right,
	}
	if algo == ConvWinograd {
		c.Algorithm = dnnl.Winograd
	}
	return c
}

// dnnlPass maps a pass onto oneDNN's.
func dnnlPass(p convPass) dnnl.Pass {
	switch p {
	case passBackData:
		return dnnl.BackwardData
	case passBackFilter:
		return dnnl.BackwardWeights
	}
	return dnnl.Forward
}

// convImpl names the implementation conv32 uses for g, pass and algo: oneDNN's
// implementation and layouts, or "gemm" with the reason oneDNN declined. Tests and benchmarks
// use it.
func convImpl(algo ConvAlgorithm, pass convPass, g *convGeom) string {
	if winoFor(algo, pass, g) {
		return "wino F(4x4,3x3) nchw/oihw/nchw"
	}
	e, err := dnnl.Default()
	if err != nil {
		return "gemm (" + err.Error() + ")"
	}
	info, err := e.Info(dnnlConv(g, algo), dnnlPass(pass))
	if err != nil {
		return "gemm (" + err.Error() + ")"
	}
	return "onednn " + info.Impl + " " + info.Layouts[0] + "/" + info.Layouts[1] + "/" + info.Layouts[2]
}
