//go:build cgo && !purego

package nn

// #cgo LDFLAGS: -lopenblas
import "C"
