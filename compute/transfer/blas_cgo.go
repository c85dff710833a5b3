//go:build cgo && !purego

package transfer

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

// bl is the BLAS the head's matrix products use: OpenBLAS through gonum's netlib binding, as
// compute/nn uses it (whose openblas_cgo.go tells the linker about the library).
var bl blas.Float32 = netlib.Implementation{}
