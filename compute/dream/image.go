package dream

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
)

// Image is a picture as the recipe works on it: planar RGB float32, values 0..255 (a dream may
// go beyond them; ToNRGBA clips). Pix holds the red plane, then green, then blue, each H rows of
// W values.
type Image struct {
	H, W int
	Pix  []float32
}

// NewImage returns a black h x w picture.
func NewImage(h, w int) *Image {
	return &Image{H: h, W: w, Pix: make([]float32, 3*h*w)}
}

// Clone returns a copy of the picture that shares nothing with it.
func (m *Image) Clone() *Image {
	return &Image{H: m.H, W: m.W, Pix: append([]float32(nil), m.Pix...)}
}

// check reports a picture whose size and pixels do not agree.
func (m *Image) check() error {
	if m == nil || m.H <= 0 || m.W <= 0 {
		return fmt.Errorf("dream: empty picture")
	}
	if len(m.Pix) != 3*m.H*m.W {
		return fmt.Errorf("dream: picture of %dx%d pixels holds %d values, want %d", m.W, m.H, len(m.Pix), 3*m.H*m.W)
	}
	return nil
}

// FromImage converts a picture to planar RGB in 0..255. Transparency is ignored: the colour of a
// pixel is its un-premultiplied colour.
func FromImage(src image.Image) *Image {
	b := src.Bounds()
	m := NewImage(b.Dy(), b.Dx())
	plane := m.H * m.W
	nrgba, fast := src.(*image.NRGBA)
	for y := range m.H {
		for x := range m.W {
			var c color.NRGBA
			if fast {
				c = nrgba.NRGBAAt(b.Min.X+x, b.Min.Y+y)
			} else {
				c = color.NRGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			}
			i := y*m.W + x
			m.Pix[i], m.Pix[plane+i], m.Pix[2*plane+i] = float32(c.R), float32(c.G), float32(c.B)
		}
	}
	return m
}

// ToNRGBA converts the picture to 8-bit RGB, clipping to 0..255 and rounding to the nearest
// level, with every pixel opaque.
func (m *Image) ToNRGBA() *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	plane := m.H * m.W
	level := func(v float32) uint8 {
		return uint8(math.Round(math.Max(0, math.Min(255, float64(v)))))
	}
	for i := range plane {
		o := out.Pix[4*i : 4*i+4 : 4*i+4]
		o[0], o[1], o[2], o[3] = level(m.Pix[i]), level(m.Pix[plane+i]), level(m.Pix[2*plane+i]), 255
	}
	return out
}

// Noise returns the recipe's starting picture when there is no photo: every value uniform in
// [0, 1) plus 100, a grey with a little noise (img_noise, 224 x 224 in the recipe).
func Noise(h, w int, seed int64) *Image {
	rng := rand.New(rand.NewPCG(uint64(seed), noiseStream))
	m := NewImage(h, w)
	for i := range m.Pix {
		m.Pix[i] = rng.Float32() + 100
	}
	return m
}

// noiseStream is the PCG stream of Noise ("nois").
const noiseStream = 0x6e6f6973

// roll returns a copy of img shifted down by dy rows and right by dx columns with wrap-around,
// as np.roll(np.roll(img, dx, 1), dy, 0): the pixel at (y, x) moves to ((y+dy) mod H,
// (x+dx) mod W). Negative shifts go up and left; roll(roll(m, dy, dx), -dy, -dx) is m.
func roll(img *Image, dy, dx int) *Image {
	out := NewImage(img.H, img.W)
	rollInto(out, img, dy, dx)
	return out
}

// rollInto is roll writing into out, a picture of img's size.
func rollInto(out, img *Image, dy, dx int) {
	h, w := img.H, img.W
	dy, dx = ((dy%h)+h)%h, ((dx%w)+w)%w
	plane := h * w
	for c := range 3 {
		src, dst := img.Pix[c*plane:(c+1)*plane], out.Pix[c*plane:(c+1)*plane]
		for y := range h {
			row := src[y*w : (y+1)*w]
			to := dst[((y+dy)%h)*w : ((y+dy)%h+1)*w]
			copy(to[dx:], row[:w-dx])
			copy(to[:dx], row[w-dx:])
		}
	}
}

// crop copies the th x tw window of img at (y0, x0) into buf, planar like Image.
func (m *Image) crop(y0, x0, th, tw int, buf []float32) {
	plane, tplane := m.H*m.W, th*tw
	for c := range 3 {
		for y := range th {
			copy(buf[c*tplane+y*tw:c*tplane+(y+1)*tw], m.Pix[c*plane+(y0+y)*m.W+x0:])
		}
	}
}

// paste copies a th x tw window, planar like Image, into img at (y0, x0).
func (m *Image) paste(y0, x0, th, tw int, buf []float32) {
	plane, tplane := m.H*m.W, th*tw
	for c := range 3 {
		for y := range th {
			copy(m.Pix[c*plane+(y0+y)*m.W+x0:c*plane+(y0+y)*m.W+x0+tw], buf[c*tplane+y*tw:c*tplane+(y+1)*tw])
		}
	}
}
