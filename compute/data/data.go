// Package data holds labelled image sets in memory, as the recipes consume them: pixels as float32
// in NCHW order, one label per image.
package data

import (
	"fmt"

	"convas/compute/formats/idx"
)

// Set is a labelled image set. Pixels holds N images of C x H x W values, scaled to [0, 1].
type Set struct {
	N, C, H, W int
	Pixels     []float32
	Labels     []uint8
	Classes    int
}

// ImageLen returns the number of values in one image.
func (s *Set) ImageLen() int { return s.C * s.H * s.W }

// Image returns image i's pixels (a view, not a copy).
func (s *Set) Image(i int) []float32 {
	n := s.ImageLen()
	return s.Pixels[i*n : (i+1)*n]
}

// Slice returns images [from, to) as a new Set sharing the same storage.
func (s *Set) Slice(from, to int) *Set {
	n := s.ImageLen()
	return &Set{N: to - from, C: s.C, H: s.H, W: s.W, Classes: s.Classes,
		Pixels: s.Pixels[from*n : to*n], Labels: s.Labels[from:to]}
}

// FromIDX builds a set from an IDX images array (N x H x W bytes) and an IDX labels array (N
// bytes), as MNIST and Fashion-MNIST store them. Labels must lie below classes.
func FromIDX(images, labels *idx.Array, classes int) (*Set, error) {
	if len(images.Dims) != 3 {
		return nil, fmt.Errorf("data: images have %d dimensions, want 3 (count, height, width)", len(images.Dims))
	}
	if len(labels.Dims) != 1 {
		return nil, fmt.Errorf("data: labels have %d dimensions, want 1", len(labels.Dims))
	}
	n, h, w := images.Dims[0], images.Dims[1], images.Dims[2]
	if labels.Dims[0] != n {
		return nil, fmt.Errorf("data: %d images but %d labels", n, labels.Dims[0])
	}
	s := &Set{N: n, C: 1, H: h, W: w, Classes: classes, Pixels: make([]float32, len(images.Data)), Labels: labels.Data}
	for i, b := range images.Data {
		s.Pixels[i] = float32(b) / 255
	}
	for i, l := range labels.Data {
		if int(l) >= classes {
			return nil, fmt.Errorf("data: label %d of image %d is not below %d classes", l, i, classes)
		}
	}
	return s, nil
}
