//go:build !cgo || purego

package transfer

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// bl is the BLAS the head's matrix products use: gonum's pure-Go one in builds without cgo.
var bl blas.Float32 = gonum.Implementation{}
