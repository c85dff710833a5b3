package style

import "math"

// Colour preservation by luminance-only transfer (Gatys, Bethge, Hertzmann and Shechtman,
// "Preserving Color in Neural Artistic Style Transfer", arXiv:1606.05897, section 2.2): the
// transfer runs on the luminance channel of the content picture and of the style pictures, the
// style's luminance first matched to the content's mean and standard deviation; the result's
// luminance is then joined with the content's chroma. Luminance and chroma are NTSC YIQ.

// yiq is the RGB to YIQ matrix (FCC NTSC, the rows of Y, I and Q).
var yiq = [3][3]float64{
	{0.299, 0.587, 0.114},
	{0.595716, -0.274453, -0.321263},
	{0.211456, -0.522591, 0.311135},
}

// rgb is the inverse of yiq, computed so that a round trip is exact to rounding.
var rgb = invert3(yiq)

// toYIQ returns the Y, I and Q planes of a picture.
func toYIQ(img *Image) [3][]float32 {
	n := img.H * img.W
	var out [3][]float32
	for k := range out {
		out[k] = make([]float32, n)
	}
	for i := range n {
		r, g, b := float64(img.Pix[i]), float64(img.Pix[n+i]), float64(img.Pix[2*n+i])
		for k := range 3 {
			out[k][i] = float32(yiq[k][0]*r + yiq[k][1]*g + yiq[k][2]*b)
		}
	}
	return out
}

// fromYIQ returns the h x w picture of Y, I and Q planes.
func fromYIQ(p [3][]float32, h, w int) *Image {
	out := &Image{H: h, W: w, Pix: make([]float32, 3*h*w)}
	n := h * w
	for i := range n {
		y, in, q := float64(p[0][i]), float64(p[1][i]), float64(p[2][i])
		for k := range 3 {
			out.Pix[k*n+i] = float32(rgb[k][0]*y + rgb[k][1]*in + rgb[k][2]*q)
		}
	}
	return out
}

// luminance returns the grey picture of img's luminance: Y in all three channels.
func luminance(img *Image) *Image {
	return grey(toYIQ(img)[0], img.H, img.W)
}

// grey returns the picture whose three channels are y.
func grey(y []float32, h, w int) *Image {
	out := &Image{H: h, W: w, Pix: make([]float32, 0, 3*len(y))}
	for range 3 {
		out.Pix = append(out.Pix, y...)
	}
	return out
}

// matchedLuminance returns the grey picture of style's luminance shifted and scaled to the mean
// and standard deviation of content's (the paper's equation 1).
func matchedLuminance(style, content *Image) *Image {
	ys, yc := toYIQ(style)[0], toYIQ(content)[0]
	ms, ss := meanStd(ys)
	mc, sc := meanStd(yc)
	k := 1.0
	if ss > 0 {
		k = sc / ss
	}
	for i, v := range ys {
		ys[i] = float32((float64(v)-ms)*k + mc)
	}
	return grey(ys, style.H, style.W)
}

func meanStd(v []float32) (mean, std float64) {
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		d := float64(x) - mean
		std += d * d
	}
	return mean, math.Sqrt(std / float64(len(v)))
}

// joinChroma returns the picture with the luminance of lum and the chroma (I and Q) of content,
// both of the same size.
func joinChroma(lum, content *Image) *Image {
	p := toYIQ(content)
	p[0] = toYIQ(lum)[0]
	return fromYIQ(p, content.H, content.W)
}

// invert3 inverts a 3x3 matrix by its adjugate.
func invert3(m [3][3]float64) [3][3]float64 {
	var inv [3][3]float64
	for i := range 3 {
		for j := range 3 {
			a, b := (j+1)%3, (j+2)%3
			c, d := (i+1)%3, (i+2)%3
			inv[i][j] = m[a][c]*m[b][d] - m[a][d]*m[b][c]
		}
	}
	det := m[0][0]*inv[0][0] + m[0][1]*inv[1][0] + m[0][2]*inv[2][0]
	for i := range 3 {
		for j := range 3 {
			inv[i][j] /= det
		}
	}
	return inv
}
