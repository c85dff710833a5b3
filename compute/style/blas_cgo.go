//go:build cgo && !purego

package style

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

// blas32 and blas64 are the BLAS the Gram matrices use: OpenBLAS through gonum's netlib
// binding (compute/nn links it). They are set once here and never reassigned.
var (
	blas32 blas.Float32 = netlib.Implementation{}
	blas64 blas.Float64 = netlib.Implementation{}
)
