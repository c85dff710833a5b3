package nn

import "fmt"

// Padding is explicit zero padding on each side of the two spatial axes.
type Padding struct{ Top, Bottom, Left, Right int }

// Same returns TensorFlow 'SAME' padding for an input of h x w, kernel kh x kw and strides sh, sw:
// out = ceil(in/stride), total = max((out-1)*stride + k - in, 0), before = total/2, after = total - before
// (so a 4x4 kernel at stride 1 pads 1 before and 2 after).
//
// A non-positive size, kernel or stride gives zero padding on that axis; Conv2D and MaxPool2D
// reject such kernels and strides themselves.
func Same(h, w, kh, kw, sh, sw int) Padding {
	top, bottom := same1D(h, kh, sh)
	left, right := same1D(w, kw, sw)
	return Padding{Top: top, Bottom: bottom, Left: left, Right: right}
}

// same1D is Same along one axis.
func same1D(in, k, s int) (before, after int) {
	if in <= 0 || k <= 0 || s <= 0 {
		return 0, 0
	}
	out := (in + s - 1) / s
	total := (out-1)*s + k - in
	if total < 0 {
		total = 0
	}
	return total / 2, total - total/2
}

// Valid returns zero padding.
func Valid() Padding { return Padding{} }

// String formats p as (top, bottom, left, right).
func (p Padding) String() string {
	return fmt.Sprintf("(t%d, b%d, l%d, r%d)", p.Top, p.Bottom, p.Left, p.Right)
}

// check reports negative padding.
func (p Padding) check() error {
	if p.Top < 0 || p.Bottom < 0 || p.Left < 0 || p.Right < 0 {
		return fmt.Errorf("negative padding %v", p)
	}
	return nil
}

// outSize is the number of windows of size k at stride s over in cells padded by before and after;
// it is zero or negative when the padded input is smaller than the window.
func outSize(in, before, after, k, s int) int {
	span := in + before + after - k
	if span < 0 {
		return 0
	}
	return span/s + 1
}

// validRange returns the range [lo, hi) of output positions o in [0, out) whose input index
// o*s + off lies in [0, in).
func validRange(off, s, in, out int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	last := in - 1 - off
	if last < 0 {
		return 0, 0
	}
	hi = last/s + 1
	if hi > out {
		hi = out
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}
