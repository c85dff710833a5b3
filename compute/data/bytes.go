package data

import "fmt"

// ByteSet is a labelled image set kept as bytes (0..255), channels first, as CIFAR-10 stores it:
// a fraction of the memory of a float32 Set. An input pipeline turns its pictures into the
// float32 values a network takes.
type ByteSet struct {
	N, C, H, W int
	Pixels     []uint8 // N x C x H x W
	Labels     []uint8
	Classes    int
}

// ImageLen returns the number of values in one image.
func (s *ByteSet) ImageLen() int { return s.C * s.H * s.W }

// Image returns image i's bytes (a view, not a copy).
func (s *ByteSet) Image(i int) []uint8 {
	n := s.ImageLen()
	return s.Pixels[i*n : (i+1)*n]
}

// Check reports a set whose slices do not match its counts or whose labels are not below Classes.
func (s *ByteSet) Check() error {
	if s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 {
		return fmt.Errorf("data: %d pictures of %dx%dx%d", s.N, s.C, s.H, s.W)
	}
	if len(s.Pixels) != s.N*s.ImageLen() || len(s.Labels) != s.N {
		return fmt.Errorf("data: %d pixel bytes and %d labels for %d pictures of %dx%dx%d", len(s.Pixels), len(s.Labels), s.N, s.C, s.H, s.W)
	}
	for i, l := range s.Labels {
		if int(l) >= s.Classes {
			return fmt.Errorf("data: label %d of image %d is not below %d classes", l, i, s.Classes)
		}
	}
	return nil
}

// CenterCropStandardized returns the evaluation inputs of TensorFlow's CIFAR-10 recipe: every
// picture's central ch x cw window (tf.image.resize_image_with_crop_or_pad, which takes the
// window at ((h-ch)/2, (w-cw)/2)), per-image standardised. The result is a float32 Set.
func CenterCropStandardized(s *ByteSet, ch, cw int) (*Set, error) {
	if ch > s.H || cw > s.W || ch <= 0 || cw <= 0 {
		return nil, fmt.Errorf("data: a %dx%d crop of %dx%d pictures", ch, cw, s.H, s.W)
	}
	out := &Set{N: s.N, C: s.C, H: ch, W: cw, Classes: s.Classes, Labels: s.Labels,
		Pixels: make([]float32, s.N*s.C*ch*cw)}
	y0, x0 := (s.H-ch)/2, (s.W-cw)/2
	for i := 0; i < s.N; i++ {
		img := out.Image(i)
		Crop(img, s.Image(i), s.C, s.H, s.W, y0, x0, ch, cw, false)
		Standardize(img)
	}
	return out, nil
}
