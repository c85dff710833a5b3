//go:build !cgo || purego

package nn

// maxPoolF32 is the C kernel of pool_cgo.go; the pure-Go build has none, and the Go loops in
// pool.go do the work.
func maxPoolF32(g *poolGeom, x, y []float32, mask []int32, scratch *[]int32) bool { return false }
