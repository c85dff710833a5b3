package style

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"
)

// pictures are a run's inputs at the result's size: the content picture, the style pictures,
// their blend weights, and, when colours are preserved, the content picture in colour (content
// and styles are then grey luminance pictures).
type pictures struct {
	content *Image
	styles  []*Image
	weights []float64
	colour  *Image // nil unless PreserveColors
	init    *Image // Config.InitImage
}

// prepare checks the pictures and resizes the content picture to cfg.Size; with PreserveColors
// it turns content and styles into luminance.
func prepare(cfg Config, content *Image, styles []*Image) (*pictures, error) {
	if err := checkPicture("content picture", content); err != nil {
		return nil, err
	}
	if len(styles) == 0 {
		return nil, fmt.Errorf("style: no style picture")
	}
	if len(cfg.Styles) > 0 && len(cfg.Styles) != len(styles) {
		return nil, fmt.Errorf("style: %d style pictures for %d styles in the settings", len(styles), len(cfg.Styles))
	}
	p := &pictures{styles: make([]*Image, len(styles)), weights: make([]float64, len(styles)), init: cfg.InitImage}
	for i, s := range styles {
		if err := checkPicture(fmt.Sprintf("style picture %d", i+1), s); err != nil {
			return nil, err
		}
		p.styles[i], p.weights[i] = s, 1
		if len(cfg.Styles) > 0 {
			p.weights[i] = cfg.Styles[i].Weight
		}
	}
	if init := cfg.Init; init != "noise" && init != "content" {
		if err := checkPicture("starting picture "+init, cfg.InitImage); err != nil {
			return nil, err
		}
	}
	h, w := content.H, content.W
	if cfg.Size > 0 {
		h, w = fitLongSide(h, w, cfg.Size)
	}
	p.content = resizePicture(content, h, w)
	if cfg.PreserveColors {
		p.colour = p.content
		p.content = luminance(p.colour)
	}
	return p, nil
}

// checkPicture reports a picture whose size and pixels do not agree.
func checkPicture(what string, m *Image) error {
	if m == nil || m.H <= 0 || m.W <= 0 {
		return fmt.Errorf("style: the %s is empty", what)
	}
	if len(m.Pix) != 3*m.H*m.W {
		return fmt.Errorf("style: the %s of %dx%d pixels holds %d values, want %d", what, m.W, m.H, len(m.Pix), 3*m.H*m.W)
	}
	return nil
}

// level is the inputs at one size: the content picture, the style pictures (resized to
// StyleScale times the content's width, and matched in luminance when colours are preserved)
// and the content picture in colour.
type level struct {
	content *Image // with the margin
	styles  []*Image
	weights []float64
	colour  *Image // without the margin
	init    *Image // with the margin
	margin  int
}

// at returns the inputs resized for an h x w picture, the content and starting pictures with
// cfg.Margin pixels of reflection around them.
func (p *pictures) at(cfg Config, h, w int) *level {
	m := cfg.Margin
	l := &level{content: reflectPad(resizePicture(p.content, h, w), m), weights: p.weights, margin: m}
	if p.colour != nil {
		l.colour = resizePicture(p.colour, h, w)
	}
	if p.init != nil {
		l.init = reflectPad(resizePicture(p.init, h, w), m)
	}
	for _, s := range p.styles {
		sh, sw := styleSize(cfg, s, w)
		rs := resizePicture(s, sh, sw)
		if p.colour != nil {
			rs = matchedLuminance(rs, l.colour)
		}
		l.styles = append(l.styles, rs)
	}
	return l
}

// styleSize is the size of a style picture for a picture w pixels wide: StyleScale times as
// wide, at its own aspect ratio.
func styleSize(cfg Config, s *Image, w int) (int, int) {
	sw := max(1, int(math.Round(cfg.StyleScale*float64(w))))
	return max(1, int(math.Round(float64(s.H)*float64(sw)/float64(s.W)))), sw
}

// output returns the picture as the user sees it: without the margin, and with the content's
// chroma put back when colours are preserved. It is a copy of its own.
func (l *level) output(img *Image) *Image {
	img = crop(img, l.margin)
	if l.colour == nil {
		return img
	}
	return joinChroma(img, l.colour)
}

// reflectPad returns img with m pixels around it that mirror it (without repeating the edge
// pixel, as numpy's "reflect"); m is at most one less than either side.
func reflectPad(img *Image, m int) *Image {
	m = min(m, img.H-1, img.W-1)
	if m <= 0 {
		return img.Clone()
	}
	h, w := img.H+2*m, img.W+2*m
	out := &Image{H: h, W: w, Pix: make([]float32, 3*h*w)}
	mirror := func(i, n int) int {
		if i < 0 {
			return -i
		}
		if i >= n {
			return 2*(n-1) - i
		}
		return i
	}
	for c := range 3 {
		src, dst := img.Pix[c*img.H*img.W:], out.Pix[c*h*w:]
		for y := range h {
			sy := mirror(y-m, img.H)
			for x := range w {
				dst[y*w+x] = src[sy*img.W+mirror(x-m, img.W)]
			}
		}
	}
	return out
}

// crop returns a copy of img without m pixels on each side.
func crop(img *Image, m int) *Image {
	if m <= 0 {
		return img.Clone()
	}
	h, w := img.H-2*m, img.W-2*m
	out := &Image{H: h, W: w, Pix: make([]float32, 0, 3*h*w)}
	for c := range 3 {
		for y := m; y < m+h; y++ {
			row := img.Pix[(c*img.H+y)*img.W:]
			out.Pix = append(out.Pix, row[m:m+w]...)
		}
	}
	return out
}

// initial returns the starting picture for content: the recipe's noise, a normal sample times
// 0.256 around the network's mean pixel; the content picture; or the picture Init names.
func initial(cfg Config, net Network, l *level) *Image {
	switch cfg.Init {
	case "content":
		return l.content.Clone()
	case "noise":
		rng := rand.New(rand.NewPCG(uint64(cfg.Seed), noiseStream))
		img := &Image{H: l.content.H, W: l.content.W, Pix: make([]float32, len(l.content.Pix))}
		mean, plane := net.Mean(), img.H*img.W
		for i := range img.Pix {
			img.Pix[i] = mean[i/plane] + float32(rng.NormFloat64()*0.256)
		}
		return img
	}
	if l.colour != nil {
		return luminance(l.init)
	}
	return l.init.Clone()
}

// noiseStream is the PCG stream of the starting noise ("nois").
const noiseStream = 0x6e6f6973

// levels returns the sizes (h, w) a run goes through for an h x w content picture: that size
// alone, or with CoarseToFine the sizes whose long side grows from CoarseStart by sqrt(2) up to
// the picture's.
func levels(cfg Config, h, w int) [][2]int {
	long := max(h, w)
	if !cfg.CoarseToFine || long <= CoarseStart {
		return [][2]int{{h, w}}
	}
	var out [][2]int
	for side := float64(CoarseStart); int(math.Round(side)) < long; side *= math.Sqrt2 {
		lh, lw := fitLongSide(h, w, int(math.Round(side)))
		out = append(out, [2]int{lh, lw})
	}
	return append(out, [2]int{h, w})
}

// fitLongSide returns h x w scaled so that its long side is side.
func fitLongSide(h, w, side int) (int, int) {
	if h >= w {
		return side, max(1, int(math.Round(float64(w)*float64(side)/float64(h))))
	}
	return max(1, int(math.Round(float64(h)*float64(side)/float64(w)))), side
}

// resizePicture resizes a picture in 0..255 to h x w with a Lanczos filter (antialiased when it
// shrinks); a picture of that size already is copied.
func resizePicture(img *Image, h, w int) *Image {
	if img.H == h && img.W == w {
		return img.Clone()
	}
	return FromImage(imaging.Resize(img.ToNRGBA(), w, h, imaging.Lanczos))
}
