package dream

import "math"

// Resize returns img resized to h x w by bilinear interpolation with half-pixel centres, the
// semantics of TensorFlow 2's tf.image.resize(method="bilinear", antialias=False): output cell
// o along an axis of in cells samples the input at
//
//	src = (o + 0.5)·in/out - 0.5
//
// clamped to [0, in-1], between the two cells around it. Nothing is antialiased. (The recipe's
// TensorFlow 1 resize_bilinear sampled at o·in/out instead, without the half-pixel offset,
// which shifts every octave by a fraction of a pixel towards the top left.)
func Resize(img *Image, h, w int) *Image {
	out := NewImage(h, w)
	ty, tx := halfPixelTaps(img.H, h), halfPixelTaps(img.W, w)
	in, plane := img.H*img.W, h*w
	for c := range 3 {
		src, dst := img.Pix[c*in:(c+1)*in], out.Pix[c*plane:(c+1)*plane]
		for oy, t := range ty {
			top, bottom := src[t.lo*img.W:(t.lo+1)*img.W], src[t.hi*img.W:(t.hi+1)*img.W]
			row := dst[oy*w : (oy+1)*w]
			for ox, s := range tx {
				a := float64(top[s.lo]) + (float64(top[s.hi])-float64(top[s.lo]))*s.w
				b := float64(bottom[s.lo]) + (float64(bottom[s.hi])-float64(bottom[s.lo]))*s.w
				row[ox] = float32(a + (b-a)*t.w)
			}
		}
	}
	return out
}

// tap is where one output cell samples an axis: between cells lo and hi, weight w on hi.
type tap struct {
	lo, hi int
	w      float64
}

// halfPixelTaps returns the taps of out cells resampling in cells with half-pixel centres, as
// TensorFlow computes them: lo = max(floor(src), 0), hi = min(ceil(src), in-1),
// w = src - floor(src). At either edge lo and hi coincide, which clamps src.
func halfPixelTaps(in, out int) []tap {
	taps := make([]tap, out)
	scale := float64(in) / float64(out)
	for o := range taps {
		src := (float64(o)+0.5)*scale - 0.5
		f := math.Floor(src)
		taps[o] = tap{lo: max(int(f), 0), hi: min(int(math.Ceil(src)), in-1), w: src - f}
	}
	return taps
}
