//go:build !cgo || purego

package style

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// blas32 and blas64 are the BLAS the Gram matrices use: gonum's pure-Go implementation in a
// build without cgo. They are set once here and never reassigned.
var (
	blas32 blas.Float32 = gonum.Implementation{}
	blas64 blas.Float64 = gonum.Implementation{}
)
