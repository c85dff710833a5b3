package app

import (
	"fmt"
	"image"
	"image/color"
	"sort"

	"github.com/disintegration/imaging"

	"convas/compute/data"
	"convas/compute/train"
)

// Prediction is one class and its probability.
type Prediction struct {
	Class       int
	Label       string
	Probability float64
}

// PrepareDigit turns any picture into the 28x28 grayscale input MNIST networks expect, the way
// MNIST itself was made: light ink on a dark ground (a light picture is inverted), the ink's
// bounding box fitted into 20x20 and centred in 28x28. It returns the pixels in [0, 1], row-major.
func PrepareDigit(img image.Image, size int) []float32 {
	g := imaging.Grayscale(img)
	b := g.Bounds()
	var sum float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sum += float64(g.NRGBAAt(x, y).R)
		}
	}
	if n := float64(b.Dx() * b.Dy()); n > 0 && sum/n > 127 {
		g = imaging.Invert(g)
	}
	// Bounding box of the ink (pixels above a quarter of full brightness).
	minX, minY, maxX, maxY := b.Max.X, b.Max.Y, b.Min.X-1, b.Min.Y-1
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if g.NRGBAAt(x, y).R > 64 {
				minX, minY, maxX, maxY = min(minX, x), min(minY, y), max(maxX, x), max(maxY, y)
			}
		}
	}
	if maxX >= minX {
		g = imaging.Crop(g, image.Rect(minX, minY, maxX+1, maxY+1))
	}
	inner := size * 20 / 28
	fit := imaging.Fit(g, inner, inner, imaging.Lanczos)
	canvas := imaging.New(size, size, color.Black)
	canvas = imaging.PasteCenter(canvas, fit)
	out := make([]float32, size*size)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			out[y*size+x] = float32(canvas.NRGBAAt(x, y).R) / 255
		}
	}
	return out
}

// PrepareCIFAR turns any picture into the CIFAR-10 network's input the way the recipe's test
// pipeline treats a CIFAR picture: scaled and centre-cut to 32x32 (CIFAR's own pictures were
// made so), the central 24x24 crop, per-image standardised. It returns the 3x24x24 values and the
// 24x24 crop as a picture.
func PrepareCIFAR(img image.Image) ([]float32, image.Image) {
	const side = 32
	small := imaging.Fill(img, side, side, imaging.Center, imaging.Lanczos)
	px := make([]uint8, 3*side*side)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			c := small.NRGBAAt(x, y)
			px[y*side+x], px[side*side+y*side+x], px[2*side*side+y*side+x] = c.R, c.G, c.B
		}
	}
	crop := train.CIFARCrop
	off := (side - crop) / 2
	out := make([]float32, 3*crop*crop)
	data.Crop(out, px, 3, side, side, off, off, crop, crop, false)
	view := imaging.Crop(small, image.Rect(off, off, off+crop, off+crop))
	data.Standardize(out)
	return out, view
}

// Predict classifies a picture with the run's current weights and returns the classes sorted by
// probability, highest first, and the picture as the network sees it.
func (t *Training) Predict(img image.Image) ([]Prediction, image.Image, error) {
	c, h, w := t.State.Net.InputShape()
	var px []float32
	var view image.Image
	switch {
	case t.State.Config.Recipe == train.RecipeCIFAR && c == 3:
		px, view = PrepareCIFAR(img)
	case c == 1 && h == w:
		px = PrepareDigit(img, h)
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i, v := range px {
			g.Pix[i] = uint8(v*255 + 0.5)
		}
		view = g
	default:
		return nil, nil, fmt.Errorf("predict: the network takes %dx%dx%d pictures; only square grayscale inputs and the CIFAR-10 network are supported", h, w, c)
	}
	var probs [][]float32
	var err error
	t.Snapshot(func() { probs, err = train.Classify(t.State.Net, [][]float32{px}) })
	if err != nil {
		return nil, nil, err
	}
	out := make([]Prediction, len(probs[0]))
	for i, p := range probs[0] {
		label := fmt.Sprint(i)
		if i < len(t.Dataset.Classes) {
			label = t.Dataset.Classes[i]
		}
		out[i] = Prediction{Class: i, Label: label, Probability: float64(p)}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Probability > out[j].Probability })
	return out, view, nil
}
