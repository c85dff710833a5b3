package data

import "math"

// The picture operations of TensorFlow's CIFAR-10 input pipeline (tutorials/image/cifar10,
// cifar10_input.py) on one channels-first picture of float32 values on the 0..255 scale, the
// scale TensorFlow applies them on there (it casts the bytes to float32 without dividing).

// Crop copies the ch x cw window at (y0, x0) of src, a c x h x w picture of bytes, into dst
// (c x ch x cw) as float32, reversing every row when flip is set (tf.image.flip_left_right).
// The window must lie inside the picture.
func Crop(dst []float32, src []uint8, c, h, w, y0, x0, ch, cw int, flip bool) {
	for k := 0; k < c; k++ {
		for y := 0; y < ch; y++ {
			row := src[(k*h+y0+y)*w+x0 : (k*h+y0+y)*w+x0+cw]
			out := dst[(k*ch+y)*cw : (k*ch+y+1)*cw]
			if flip {
				for x := range out {
					out[x] = float32(row[cw-1-x])
				}
			} else {
				for x := range out {
					out[x] = float32(row[x])
				}
			}
		}
	}
}

// AdjustBrightness adds delta to every value, as tf.image.adjust_brightness does on a float
// picture (no clipping).
func AdjustBrightness(x []float32, delta float32) {
	for i := range x {
		x[i] += delta
	}
}

// AdjustContrast moves every value of each of the c channels away from (factor > 1) or toward
// (factor < 1) that channel's mean, as tf.image.adjust_contrast does: (x - mean)*factor + mean.
func AdjustContrast(x []float32, c int, factor float32) {
	n := len(x) / c
	for k := 0; k < c; k++ {
		ch := x[k*n : (k+1)*n]
		var sum float64
		for _, v := range ch {
			sum += float64(v)
		}
		mean := float32(sum / float64(n))
		for i, v := range ch {
			ch[i] = (v-mean)*factor + mean
		}
	}
}

// Standardize scales the picture to mean 0 and variance 1 over all its values, as
// tf.image.per_image_standardization does: (x - mean) / max(stddev, 1/sqrt(N)), where N is the
// number of values and stddev the population standard deviation. The floor keeps a uniform
// picture finite.
func Standardize(x []float32) {
	var sum, sq float64
	for _, v := range x {
		sum += float64(v)
	}
	n := float64(len(x))
	mean := sum / n
	for _, v := range x {
		d := float64(v) - mean
		sq += d * d
	}
	std := max(math.Sqrt(sq/n), 1/math.Sqrt(n))
	for i, v := range x {
		x[i] = float32((float64(v) - mean) / std)
	}
}
