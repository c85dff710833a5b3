package nn

import (
	"fmt"
	"runtime"
	"unsafe"

	"gorgonia.org/tensor"
)

// convGeom is the geometry of one convolution: input (n, c, h, w), filters (o, c, kh, kw),
// output (n, o, oh, ow).
type convGeom struct {
	n, c, h, w int
	o, kh, kw  int
	oh, ow     int
	sh, sw     int
	pad        Padding

	// targetCols, when positive, sets the columns per chunk instead of chunk's rules (tests
	// use it to split small batches).
	targetCols int
}

// newConvGeom checks the shapes of input and filters against the padding and strides.
func newConvGeom(x, w tensor.Shape, pad Padding, sh, sw int) (convGeom, error) {
	if x.Dims() != 4 {
		return convGeom{}, fmt.Errorf("input must be (N, C, H, W), got shape %v", x)
	}
	if w.Dims() != 4 {
		return convGeom{}, fmt.Errorf("filters must be (O, C, KH, KW), got shape %v", w)
	}
	if x[1] != w[1] {
		return convGeom{}, fmt.Errorf("input has %d channels but filters expect %d (input %v, filters %v)", x[1], w[1], x, w)
	}
	for _, d := range append(x.Clone(), w...) {
		if d <= 0 {
			return convGeom{}, fmt.Errorf("empty dimension in input %v or filters %v", x, w)
		}
	}
	if sh <= 0 || sw <= 0 {
		return convGeom{}, fmt.Errorf("strides must be positive, got (%d, %d)", sh, sw)
	}
	if err := pad.check(); err != nil {
		return convGeom{}, err
	}
	g := convGeom{
		n: x[0], c: x[1], h: x[2], w: x[3],
		o: w[0], kh: w[2], kw: w[3],
		sh: sh, sw: sw, pad: pad,
	}
	g.oh = outSize(g.h, pad.Top, pad.Bottom, g.kh, sh)
	g.ow = outSize(g.w, pad.Left, pad.Right, g.kw, sw)
	if g.oh <= 0 || g.ow <= 0 {
		return convGeom{}, fmt.Errorf("kernel %dx%d does not fit input %dx%d padded by %v", g.kh, g.kw, g.h, g.w, pad)
	}
	return g, nil
}

// k is the length of one receptive field, c*kh*kw: the rows of the column matrix.
func (g *convGeom) k() int { return g.c * g.kh * g.kw }

// p is the number of output positions, oh*ow: the columns of the column matrix.
func (g *convGeom) p() int { return g.oh * g.ow }

// inSize is the number of elements of one input image.
func (g *convGeom) inSize() int { return g.c * g.h * g.w }

// outShape is the shape of the convolution's output.
func (g *convGeom) outShape() tensor.Shape { return tensor.Shape{g.n, g.o, g.oh, g.ow} }

// chunkTargetCols is the number of column-matrix columns (output positions) that one GEMM
// should cover when images are small, to amortise the call; chunkMaxBytes bounds the column
// matrix of a chunk of several images, to keep it in cache; chunksPerWorker is how many chunks
// each goroutine should get at least, for balance. On the MNIST layers (784 and 196 output
// positions) one image per GEMM measured as fast as larger chunks or faster, so chunks of
// several images start below 14x14 outputs.
const (
	chunkTargetCols = 192
	chunkMaxBytes   = 2 << 20
	chunksPerWorker = 4
)

// chunk returns how many images one GEMM covers: enough for chunkTargetCols columns, but no
// more than chunkMaxBytes of column matrix, no fewer than chunksPerWorker chunks per goroutine,
// at least one image and at most the batch.
func (g *convGeom) chunk(elemSize int) int {
	p := g.p()
	if g.targetCols > 0 {
		return max(1, min((g.targetCols+p-1)/p, g.n))
	}
	b := (chunkTargetCols + p - 1) / p
	b = min(b, chunkMaxBytes/(elemSize*g.k()*p))
	b = min(b, g.n/(chunksPerWorker*runtime.GOMAXPROCS(0)))
	return max(1, min(b, g.n))
}

// im2col copies the receptive fields of one image x (c, h, w) into the column matrix
// col (c*kh*kw rows, oh*ow columns, row stride ld), with zeros where a field reaches into the
// padding. Several images share one column matrix side by side when ld > oh*ow.
//
// Row (c, i, j) of col holds x[c, o*sh+i-top, q*sw+j-left] at column o*ow+q. When both strides
// are 1 and ow == w (SAME-like padding across), the rows of x that a column-matrix row reads are
// contiguous in x as well as in col, so each row is one copy, after which the few cells that
// wrapped around from a neighbouring image row are zeroed.
func im2col[T float](g *convGeom, x, col []T, ld int) {
	h, w, oh, ow, sh, sw := g.h, g.w, g.oh, g.ow, g.sh, g.sw
	top, left := g.pad.Top, g.pad.Left
	p := oh * ow
	block := sh == 1 && sw == 1 && ow == w
	r := 0
	for c := 0; c < g.c; c++ {
		plane := x[c*h*w : (c+1)*h*w]
		for i := 0; i < g.kh; i++ {
			// Output rows [oLo, oHi) read image rows inside x; the others read padding.
			oLo, oHi := validRange(i-top, sh, h, oh)
			for j := 0; j < g.kw; j++ {
				row := col[r*ld : r*ld+p]
				r++
				off := j - left
				lo, hi := validRange(off, sw, w, ow)
				clear(row[:oLo*ow])
				clear(row[oHi*ow:])
				if oLo == oHi {
					continue
				}
				if lo == hi {
					clear(row[oLo*ow : oHi*ow])
					continue
				}
				ih := oLo*sh + i - top
				if block {
					// Copy rows ih .. ih+(oHi-oLo)-1 of x, shifted by off, in one piece.
					dst := row[oLo*ow : oHi*ow]
					start := ih*w + off
					d0, d1 := 0, len(dst)
					if start < 0 {
						d0 = -start
					}
					if end := start + len(dst); end > len(plane) {
						d1 -= end - len(plane)
					}
					copy(dst[d0:d1], plane[start+d0:start+d1])
					for o := 0; o < oHi-oLo; o++ {
						seg := dst[o*ow : o*ow+ow]
						for q := 0; q < lo; q++ {
							seg[q] = 0
						}
						for q := hi; q < ow; q++ {
							seg[q] = 0
						}
					}
					continue
				}
				for o := oLo; o < oHi; o++ {
					seg := row[o*ow : o*ow+ow]
					src := plane[ih*w : ih*w+w]
					ih += sh
					for q := 0; q < lo; q++ {
						seg[q] = 0
					}
					for q := hi; q < ow; q++ {
						seg[q] = 0
					}
					iw := lo*sw + off
					if sw == 1 {
						copy(seg[lo:hi], src[iw:iw+hi-lo])
						continue
					}
					for q := lo; q < hi; q++ {
						seg[q] = src[iw]
						iw += sw
					}
				}
			}
		}
	}
}

// col2im adds the column matrix col (c*kh*kw rows, oh*ow columns, row stride ld) back onto
// the image dx (c, h, w): the adjoint of im2col. Entries that fall into the padding are dropped.
func col2im[T float](g *convGeom, col []T, ld int, dx []T) {
	h, w, oh, ow, sh, sw := g.h, g.w, g.oh, g.ow, g.sh, g.sw
	top, left := g.pad.Top, g.pad.Left
	p := oh * ow
	r := 0
	for c := 0; c < g.c; c++ {
		plane := dx[c*h*w : (c+1)*h*w]
		for i := 0; i < g.kh; i++ {
			oLo, oHi := validRange(i-top, sh, h, oh)
			for j := 0; j < g.kw; j++ {
				row := col[r*ld : r*ld+p]
				r++
				off := j - left
				lo, hi := validRange(off, sw, w, ow)
				if lo == hi {
					continue
				}
				ih := oLo*sh + i - top
				for o := oLo; o < oHi; o++ {
					seg := row[o*ow+lo : o*ow+hi]
					dst := plane[ih*w : ih*w+w]
					ih += sh
					iw := lo*sw + off
					if sw == 1 {
						dst = dst[iw : iw+len(seg)]
						for q := range dst {
							dst[q] += seg[q]
						}
						continue
					}
					for _, v := range seg {
						dst[iw] += v
						iw += sw
					}
				}
			}
		}
	}
}

// convPass is one of the three computations of a convolution. Backends take their three
// arguments by role, x (input or input gradient), w (filters or filter gradient) and y (output
// or output gradient), and the pass writes one of them.
type convPass int

const (
	passForward    convPass = iota // y from x and w
	passBackData                   // x (the input gradient) from w and y (the output gradient)
	passBackFilter                 // w (the filter gradient) from x and y (the output gradient)
)

// String names the pass.
func (p convPass) String() string {
	switch p {
	case passForward:
		return "forward"
	case passBackData:
		return "backdata"
	case passBackFilter:
		return "backfilter"
	}
	return fmt.Sprintf("convPass(%d)", int(p))
}

// convGEMM runs pass on the im2col and GEMM kernels below, arguments by role as for convPass.
func convGEMM[T float](pass convPass, g *convGeom, x, w, y []T) {
	switch pass {
	case passForward:
		convForward(g, x, w, y)
	case passBackData:
		convBackData(g, w, y, x)
	case passBackFilter:
		convBackFilter(g, x, y, w)
	}
}

// The three passes below split the batch into chunks of whole images (convGeom.chunk) and the
// chunks over goroutines. The column matrices of a chunk's images sit side by side in one
// (k × nb·p) matrix, so each chunk costs one GEMM; a chunk of one image needs no reordering
// between that GEMM's (o × nb·p) layout and the (nb, o, p) layout of y.

// elemSize is the size in bytes of T.
func elemSize[T float]() int {
	var z T
	return int(unsafe.Sizeof(z))
}

// chunkBuffers holds one goroutine's scratch space: a column matrix and an (o × nb·p) matrix.
type chunkBuffers[T float] struct {
	col, tmp []T
}

// newChunkBuffers allocates scratch space for chunks of b images.
func newChunkBuffers[T float](g *convGeom, b int) chunkBuffers[T] {
	bufs := chunkBuffers[T]{col: make([]T, g.k()*b*g.p())}
	if b > 1 {
		bufs.tmp = make([]T, g.o*b*g.p())
	}
	return bufs
}

// fillCols writes the column matrices of images n0 .. n0+nb-1 of x side by side into col.
func fillCols[T float](g *convGeom, x []T, n0, nb int, col []T) {
	in, p, ld := g.inSize(), g.p(), nb*g.p()
	for i := 0; i < nb; i++ {
		im2col(g, x[(n0+i)*in:(n0+i+1)*in], col[i*p:], ld)
	}
}

// gatherOut copies the (o, p) blocks of images n0 .. n0+nb-1 of y (n, o, p) side by side into
// m (o × nb·p).
func gatherOut[T float](g *convGeom, y []T, n0, nb int, m []T) {
	op, p, ld := g.o*g.p(), g.p(), nb*g.p()
	for i := 0; i < nb; i++ {
		src := y[(n0+i)*op : (n0+i+1)*op]
		for o := 0; o < g.o; o++ {
			copy(m[o*ld+i*p:o*ld+(i+1)*p], src[o*p:(o+1)*p])
		}
	}
}

// scatterOut is the inverse of gatherOut.
func scatterOut[T float](g *convGeom, m []T, n0, nb int, y []T) {
	op, p, ld := g.o*g.p(), g.p(), nb*g.p()
	for i := 0; i < nb; i++ {
		dst := y[(n0+i)*op : (n0+i+1)*op]
		for o := 0; o < g.o; o++ {
			copy(dst[o*p:(o+1)*p], m[o*ld+i*p:o*ld+(i+1)*p])
		}
	}
}

// forChunks calls fn(worker, n0, nb, bufs) for every chunk of images, chunks split over
// goroutines, each with scratch space of its own.
func forChunks[T float](g *convGeom, fn func(worker, n0, nb int, bufs chunkBuffers[T])) {
	b := g.chunk(elemSize[T]())
	chunks := (g.n + b - 1) / b
	parallelFor(chunks, func(worker, lo, hi int) {
		bufs := newChunkBuffers[T](g, b)
		for c := lo; c < hi; c++ {
			n0 := c * b
			fn(worker, n0, min(b, g.n-n0), bufs)
		}
	})
}

// convForward computes y (n, o, oh, ow) = x (n, c, h, w) ⋆ w (o, c, kh, kw): per chunk, im2col
// and one GEMM y (o × nb·p) = w (o × k) · col (k × nb·p).
func convForward[T float](g *convGeom, x, w, y []T) {
	k, p := g.k(), g.p()
	forChunks(g, func(_, n0, nb int, bufs chunkBuffers[T]) {
		ld := nb * p
		fillCols(g, x, n0, nb, bufs.col)
		if nb == 1 {
			gemm(false, false, g.o, p, k, w, k, bufs.col, p, 0, y[n0*g.o*p:(n0+1)*g.o*p], p)
			return
		}
		gemm(false, false, g.o, ld, k, w, k, bufs.col, ld, 0, bufs.tmp, ld)
		scatterOut(g, bufs.tmp, n0, nb, y)
	})
}

// convBackData computes dx (n, c, h, w) from dy (n, o, oh, ow) and w: per chunk, one GEMM
// dcol (k × nb·p) = wᵀ (k × o) · dy (o × nb·p), then col2im.
func convBackData[T float](g *convGeom, w, dy, dx []T) {
	k, p, in := g.k(), g.p(), g.inSize()
	forChunks(g, func(_, n0, nb int, bufs chunkBuffers[T]) {
		ld := nb * p
		src := dy[n0*g.o*p : (n0+nb)*g.o*p]
		if nb > 1 {
			gatherOut(g, dy, n0, nb, bufs.tmp)
			src = bufs.tmp
		}
		gemm(true, false, k, ld, g.o, w, k, src, ld, 0, bufs.col, ld)
		for i := 0; i < nb; i++ {
			dxn := dx[(n0+i)*in : (n0+i+1)*in]
			clear(dxn)
			col2im(g, bufs.col[i*p:], ld, dxn)
		}
	})
}

// convBackFilter computes dw (o, c, kh, kw) = Σ_n dy_n (o × p) · col_nᵀ (p × k): per chunk, one
// GEMM dw += dy (o × nb·p) · colᵀ (nb·p × k), into a sum of each goroutine's own; the sums are
// added at the end.
func convBackFilter[T float](g *convGeom, x, dy, dw []T) {
	k, p := g.k(), g.p()
	b := g.chunk(elemSize[T]())
	sums := make([][]T, workersFor((g.n+b-1)/b))
	forChunks(g, func(worker, n0, nb int, bufs chunkBuffers[T]) {
		ld := nb * p
		fillCols(g, x, n0, nb, bufs.col)
		src := dy[n0*g.o*p : (n0+nb)*g.o*p]
		if nb > 1 {
			gatherOut(g, dy, n0, nb, bufs.tmp)
			src = bufs.tmp
		}
		var beta T = 1
		if sums[worker] == nil {
			beta = 0
			sums[worker] = dw
			if worker > 0 {
				sums[worker] = make([]T, len(dw))
			}
		}
		gemm(false, true, g.o, k, ld, src, ld, bufs.col, ld, beta, sums[worker], k)
	})
	for _, s := range sums[1:] {
		addTo(dw, s)
	}
}
