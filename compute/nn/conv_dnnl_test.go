//go:build cgo && !purego

package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// randDNNLCase draws a convolution for the oneDNN comparison: larger than randConvCase's, so that
// oneDNN's blocked kernels (8 or 16 channels a block) rather than its reference code run, with
// random strides and random, often asymmetric, padding (sometimes wider than the kernel).
func randDNNLCase(r *rand.Rand) convCase {
	for {
		cc := convCase{
			n: 1 + r.IntN(4), c: 1 + r.IntN(40), h: 1 + r.IntN(20), w: 1 + r.IntN(20),
			o: 1 + r.IntN(40), kh: 1 + r.IntN(5), kw: 1 + r.IntN(5), sh: 1 + r.IntN(3), sw: 1 + r.IntN(3),
		}
		switch r.IntN(3) {
		case 0:
			cc.pad = Same(cc.h, cc.w, cc.kh, cc.kw, cc.sh, cc.sw)
		case 1:
			cc.pad = Padding{Top: r.IntN(6), Bottom: r.IntN(6), Left: r.IntN(6), Right: r.IntN(6)}
		}
		if cc.h+cc.pad.Top+cc.pad.Bottom >= cc.kh && cc.w+cc.pad.Left+cc.pad.Right >= cc.kw {
			return cc
		}
	}
}

// TestConvDNNLMatchesGEMM compares the three float32 passes through oneDNN with the GEMM path
// run in float64 on the same (float32) inputs.
//
// The error of a float32 sum of K products is bounded by about K·u·Σ|products| (u = 2^-24), and
// in practice by √K·u·Σ|products|: relative to the sum of magnitudes, not to the result, which
// cancellation can make arbitrarily small. So the test divides each error by Σ|products| (the
// same pass run on |x|, |w| and |dy|) and requires at most 1e-5 (K reaches 1000 here: K·u is
// 6e-5, √K·u 2e-6). It logs the worst ratio of both float32 paths, oneDNN and OpenBLAS.
func TestConvDNNLMatchesGEMM(t *testing.T) {
	r := newRand(21)
	const cases = 60
	var worstDNNL, worstGEMM [3]float64
	fallbacks := 0
	for i := 0; i < cases; i++ {
		cc := randDNNLCase(r)
		if i == 0 { // the MNIST recipe's first layer: 4x4 SAME, padding (1, 2) each way
			cc = convCase{n: 3, c: 1, h: 28, w: 28, o: 25, kh: 4, kw: 4, sh: 1, sw: 1, pad: Same(28, 28, 4, 4, 1, 1)}
		}
		xs := tensor.Shape{cc.n, cc.c, cc.h, cc.w}
		ws := tensor.Shape{cc.o, cc.c, cc.kh, cc.kw}
		g, err := newConvGeom(xs, ws, cc.pad, cc.sh, cc.sw)
		if err != nil {
			t.Fatal(err)
		}
		sizes := [3]int{xs.TotalSize(), ws.TotalSize(), g.outShape().TotalSize()}
		in32 := [3][]float32{}
		in64, abs64 := [3][]float64{}, [3][]float64{}
		for a := range 3 {
			in32[a] = make([]float32, sizes[a])
			in64[a] = make([]float64, sizes[a])
			abs64[a] = make([]float64, sizes[a])
			for j := range in32[a] {
				v := float32(2*r.Float64() - 1)
				in32[a][j], in64[a][j], abs64[a][j] = v, float64(v), math.Abs(float64(v))
			}
		}
		for _, pass := range []convPass{passForward, passBackData, passBackFilter} {
			out := map[convPass]int{passForward: 2, passBackData: 0, passBackFilter: 1}[pass]
			impl := convImpl(ConvDirect, pass, &g)
			if !strings.HasPrefix(impl, "onednn") {
				fallbacks++
				t.Logf("%+v %v: %s", cc, pass, impl)
			}
			args32 := in32
			args32[out] = make([]float32, sizes[out])
			for j := range args32[out] {
				args32[out][j] = float32(math.NaN()) // every element must be written
			}
			conv32(ConvDirect, pass, &g, args32[0], args32[1], args32[2], nil)
			gemm32 := in32
			gemm32[out] = make([]float32, sizes[out])
			convGEMM(pass, &g, gemm32[0], gemm32[1], gemm32[2])
			want, mag := in64, abs64
			want[out], mag[out] = make([]float64, sizes[out]), make([]float64, sizes[out])
			convGEMM(pass, &g, want[0], want[1], want[2])
			convGEMM(pass, &g, mag[0], mag[1], mag[2])
			for j, wv := range want[out] {
				bound := math.Max(mag[out][j], 1e-30)
				errD := math.Abs(float64(args32[out][j])-wv) / bound
				errG := math.Abs(float64(gemm32[out][j])-wv) / bound
				if !(errD <= 1e-5) { // also catches NaN
					t.Fatalf("case %d %+v %v (%s): element %d = %g, want %g (Σ|terms| %g)", i, cc, pass, impl, j, args32[out][j], wv, mag[out][j])
				}
				worstDNNL[pass] = math.Max(worstDNNL[pass], errD)
				worstGEMM[pass] = math.Max(worstGEMM[pass], errG)
			}
		}
	}
	for _, pass := range []convPass{passForward, passBackData, passBackFilter} {
		t.Logf("%v: worst |error|/Σ|terms|: oneDNN %.2g, OpenBLAS float32 %.2g", pass, worstDNNL[pass], worstGEMM[pass])
	}
	if fallbacks > 0 {
		t.Logf("%d of %d passes fell back to GEMM", fallbacks, 3*cases)
	}
}

// TestConvDNNLServesTheModels checks that the layers Convas trains and runs go through
// oneDNN's optimised kernels, not its reference code or the GEMM fallback.
func TestConvDNNLServesTheModels(t *testing.T) {
	for _, cc := range []convCase{
		{n: 100, c: 1, h: 28, w: 28, o: 25, kh: 4, kw: 4, sh: 1, sw: 1, pad: Same(28, 28, 4, 4, 1, 1)},
		{n: 100, c: 25, h: 14, w: 14, o: 50, kh: 4, kw: 4, sh: 1, sw: 1, pad: Same(14, 14, 4, 4, 1, 1)},
		{n: 1, c: 64, h: 56, w: 56, o: 64, kh: 3, kw: 3, sh: 1, sw: 1, pad: Padding{1, 1, 1, 1}},
		{n: 1, c: 32, h: 149, w: 149, o: 32, kh: 3, kw: 3, sh: 2, sw: 2},
		{n: 1, c: 3, h: 299, w: 299, o: 32, kh: 3, kw: 3, sh: 2, sw: 2},
		{n: 1, c: 192, h: 35, w: 35, o: 64, kh: 1, kw: 1, sh: 1, sw: 1},
	} {
		g, err := newConvGeom(tensor.Shape{cc.n, cc.c, cc.h, cc.w}, tensor.Shape{cc.o, cc.c, cc.kh, cc.kw}, cc.pad, cc.sh, cc.sw)
		if err != nil {
			t.Fatal(err)
		}
		for _, pass := range []convPass{passForward, passBackData, passBackFilter} {
			impl := convImpl(ConvDirect, pass, &g)
			t.Logf("%dx%dx%dx%d → %d, %dx%d/%d: %v: %s", cc.n, cc.c, cc.h, cc.w, cc.o, cc.kh, cc.kw, cc.sh, pass, impl)
			if !strings.HasPrefix(impl, "onednn") || strings.Contains(impl, "ref") {
				t.Errorf("%+v %v: %s, want one of oneDNN's optimised kernels", cc, pass, impl)
			}
		}
	}
}
