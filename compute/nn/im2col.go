package nn

import (
	"fmt"
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

	// targetCols overrides chunkTargetCols when positive (tests use it to split small batches).
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
// should cover at least: enough for BLAS to run near full speed and split the work over its
// threads. chunkMaxBytes bounds the column buffer of a chunk of several images.
const (
	chunkTargetCols = 4096
	chunkMaxBytes   = 32 << 20
)

// chunk returns how many images one GEMM covers: enough for chunkTargetCols columns, no more
// than chunkMaxBytes of column matrix (but at least one image), and at most the batch.
func (g *convGeom) chunk(elemSize int) int {
	p, target := g.p(), chunkTargetCols
	if g.targetCols > 0 {
		target = g.targetCols
	}
	b := (target + p - 1) / p
	if limit := chunkMaxBytes / (elemSize * g.k() * p); b > limit {
		b = limit
	}
	return max(1, min(b, g.n))
}

// im2col copies the receptive fields of one image x (c, h, w) into the column matrix
// col (c*kh*kw rows, oh*ow columns, row stride ld), with zeros where a field reaches into the
// padding. Several images share one column matrix side by side when ld > oh*ow.
func im2col[T float](g *convGeom, x, col []T, ld int) {
	p := g.p()
	r := 0
	for c := 0; c < g.c; c++ {
		plane := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[r*ld : r*ld+p]
				r++
				off := j - g.pad.Left
				lo, hi := validRange(off, g.sw, g.w, g.ow)
				for oh := 0; oh < g.oh; oh++ {
					seg := row[oh*g.ow : (oh+1)*g.ow]
					ih := oh*g.sh - g.pad.Top + i
					if ih < 0 || ih >= g.h || lo == hi {
						clear(seg)
						continue
					}
					clear(seg[:lo])
					clear(seg[hi:])
					src := plane[ih*g.w : (ih+1)*g.w]
					iw := lo*g.sw + off
					if g.sw == 1 {
						copy(seg[lo:hi], src[iw:iw+hi-lo])
						continue
					}
					for ow := lo; ow < hi; ow++ {
						seg[ow] = src[iw]
						iw += g.sw
					}
				}
			}
		}
	}
}

// col2im adds the column matrix col (c*kh*kw rows, oh*ow columns, row stride ld) back onto
// the image dx (c, h, w): the adjoint of im2col. Entries that fall into the padding are dropped.
func col2im[T float](g *convGeom, col []T, ld int, dx []T) {
	p := g.p()
	r := 0
	for c := 0; c < g.c; c++ {
		plane := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				row := col[r*ld : r*ld+p]
				r++
				off := j - g.pad.Left
				lo, hi := validRange(off, g.sw, g.w, g.ow)
				if lo == hi {
					continue
				}
				for oh := 0; oh < g.oh; oh++ {
					ih := oh*g.sh - g.pad.Top + i
					if ih < 0 || ih >= g.h {
						continue
					}
					seg := row[oh*g.ow+lo : oh*g.ow+hi]
					dst := plane[ih*g.w : (ih+1)*g.w]
					iw := lo*g.sw + off
					if g.sw == 1 {
						dst = dst[iw : iw+len(seg)]
						for q, v := range seg {
							dst[q] += v
						}
						continue
					}
					for _, v := range seg {
						dst[iw] += v
						iw += g.sw
					}
				}
			}
		}
	}
}

// The three passes below work on chunks of images (convGeom.chunk): the column matrices of a
// chunk's images sit side by side in one (k × nb·p) matrix, so that each pass is one large
// GEMM per chunk, which BLAS runs on all its threads; the copies around it (im2col, col2im and
// the reordering between (o × nb·p) and the (nb, o, p) layout of y) are split over goroutines
// by image. A chunk of one image needs no reordering.

// elemSize is the size in bytes of T.
func elemSize[T float]() int {
	var z T
	return int(unsafe.Sizeof(z))
}

// fillCols writes the column matrices of images n0 .. n0+nb-1 of x side by side into col.
func fillCols[T float](g *convGeom, x []T, n0, nb int, col []T) {
	in, p, ld := g.inSize(), g.p(), nb*g.p()
	parallelFor(nb, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			im2col(g, x[(n0+i)*in:(n0+i+1)*in], col[i*p:], ld)
		}
	})
}

// gatherOut copies the (o, p) blocks of images n0 .. n0+nb-1 of y (n, o, p) side by side into
// m (o × nb·p).
func gatherOut[T float](g *convGeom, y []T, n0, nb int, m []T) {
	op, p, ld := g.o*g.p(), g.p(), nb*g.p()
	parallelFor(nb, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			src := y[(n0+i)*op : (n0+i+1)*op]
			for o := 0; o < g.o; o++ {
				copy(m[o*ld+i*p:o*ld+(i+1)*p], src[o*p:(o+1)*p])
			}
		}
	})
}

// scatterOut is the inverse of gatherOut.
func scatterOut[T float](g *convGeom, m []T, n0, nb int, y []T) {
	op, p, ld := g.o*g.p(), g.p(), nb*g.p()
	parallelFor(nb, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			dst := y[(n0+i)*op : (n0+i+1)*op]
			for o := 0; o < g.o; o++ {
				copy(dst[o*p:(o+1)*p], m[o*ld+i*p:o*ld+(i+1)*p])
			}
		}
	})
}

// convForward computes y (n, o, oh, ow) = x (n, c, h, w) ⋆ w (o, c, kh, kw): per chunk, im2col
// and one GEMM y (o × nb·p) = w (o × k) · col (k × nb·p).
func convForward[T float](g *convGeom, x, w, y []T) {
	k, p := g.k(), g.p()
	b := g.chunk(elemSize[T]())
	col := make([]T, k*b*p)
	var tmp []T
	if b > 1 {
		tmp = make([]T, g.o*b*p)
	}
	for n0 := 0; n0 < g.n; n0 += b {
		nb := min(b, g.n-n0)
		ld := nb * p
		fillCols(g, x, n0, nb, col)
		if nb == 1 {
			gemm(false, false, g.o, p, k, w, k, col, p, 0, y[n0*g.o*p:(n0+1)*g.o*p], p)
			continue
		}
		gemm(false, false, g.o, ld, k, w, k, col, ld, 0, tmp, ld)
		scatterOut(g, tmp, n0, nb, y)
	}
}

// convBackData computes dx (n, c, h, w) from dy (n, o, oh, ow) and w: per chunk, one GEMM
// dcol (k × nb·p) = wᵀ (k × o) · dy (o × nb·p), then col2im.
func convBackData[T float](g *convGeom, w, dy, dx []T) {
	k, p, in := g.k(), g.p(), g.inSize()
	b := g.chunk(elemSize[T]())
	col := make([]T, k*b*p)
	var tmp []T
	if b > 1 {
		tmp = make([]T, g.o*b*p)
	}
	for n0 := 0; n0 < g.n; n0 += b {
		nb := min(b, g.n-n0)
		ld := nb * p
		src := dy[n0*g.o*p : (n0+nb)*g.o*p]
		if nb > 1 {
			gatherOut(g, dy, n0, nb, tmp)
			src = tmp
		}
		gemm(true, false, k, ld, g.o, w, k, src, ld, 0, col, ld)
		parallelFor(nb, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				dxn := dx[(n0+i)*in : (n0+i+1)*in]
				clear(dxn)
				col2im(g, col[i*p:], ld, dxn)
			}
		})
	}
}

// convBackFilter computes dw (o, c, kh, kw) = Σ_n dy_n (o × p) · col_nᵀ (p × k): per chunk, one
// GEMM dw += dy (o × nb·p) · colᵀ (nb·p × k).
func convBackFilter[T float](g *convGeom, x, dy, dw []T) {
	k, p := g.k(), g.p()
	b := g.chunk(elemSize[T]())
	col := make([]T, k*b*p)
	var tmp []T
	if b > 1 {
		tmp = make([]T, g.o*b*p)
	}
	var beta T
	for n0 := 0; n0 < g.n; n0 += b {
		nb := min(b, g.n-n0)
		ld := nb * p
		fillCols(g, x, n0, nb, col)
		src := dy[n0*g.o*p : (n0+nb)*g.o*p]
		if nb > 1 {
			gatherOut(g, dy, n0, nb, tmp)
			src = tmp
		}
		gemm(false, true, g.o, k, ld, src, ld, col, ld, beta, dw, k)
		beta = 1
	}
}
