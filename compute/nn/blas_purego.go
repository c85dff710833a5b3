//go:build !cgo || purego

package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// blas32Impl and blas64Impl are the BLAS implementations this build uses: gonum's pure-Go
// implementation. They are set once here and never reassigned.
var (
	blas32Impl blas.Float32 = gonum.Implementation{}
	blas64Impl blas.Float64 = gonum.Implementation{}
)

// blasName names the BLAS implementation of this build, for benchmarks and logs.
const blasName = "gonum"
