//go:build cgo && !purego

package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

// blas32Impl and blas64Impl are the BLAS implementations this build uses: OpenBLAS through
// gonum's netlib binding. They are set once here and never reassigned.
var (
	blas32Impl blas.Float32 = netlib.Implementation{}
	blas64Impl blas.Float64 = netlib.Implementation{}
)

// blasName names the BLAS implementation of this build, for benchmarks and logs.
const blasName = "openblas"
