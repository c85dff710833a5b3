//go:build !cgo || purego

package nn

// The purego side of the convolution backend seam (see conv_dnnl.go): float32 convolutions run
// on the im2col and GEMM kernels, with gonum's pure-Go BLAS.

// convBackend names the backend float32 convolutions use in this build, for benchmarks.
const convBackend = "gemm"

// conv32 runs one pass of a float32 convolution on the GEMM kernels; algo and kept are
// ignored.
func conv32(_ ConvAlgorithm, pass convPass, g *convGeom, x, w, y []float32, _ *keptFilter) {
	convGEMM(pass, g, x, w, y)
}

// conv32Bias runs the forward pass of a float32 convolution on the GEMM kernels and adds bias
// (O) to every output channel, then with relu takes max(0, ·); algo and kept are ignored.
func conv32Bias(_ ConvAlgorithm, g *convGeom, x, w, bias, y []float32, relu bool, _ *keptFilter) {
	convGEMM(passForward, g, x, w, y)
	addBias(g.outShape(), y, bias, y)
	if relu {
		reluForward(y, y)
	}
}

// convImpl names the implementation conv32 uses.
func convImpl(ConvAlgorithm, convPass, *convGeom) string { return "gemm" }

// keptFilter is compute/wino's per-op cache (conv_dnnl.go); this build has no Winograd.
type keptFilter struct{}
