package app

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"convas/compute/train"
)

// Chart colours shared by the window and the saved plots.
var (
	lossColour  = color.RGBA{R: 0x6a, G: 0x0d, B: 0xad, A: 0xff}
	trainColour = color.RGBA{R: 0xff, G: 0x8c, B: 0x00, A: 0xff}
	testColour  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
)

// LossPlot draws the recipe's first figure: training loss per generation, from the loss lines
// when the run has them (the CIFAR-10 recipe's, every 50 generations), from the evaluations
// otherwise (the MNIST recipe's).
func LossPlot(h []train.Eval, log []train.Log, w, hgt vg.Length) (image.Image, error) {
	p, err := lossPlot(h, log)
	if err != nil {
		return nil, err
	}
	return render(p, w, hgt)
}

// lossPlot builds LossPlot's figure.
func lossPlot(h []train.Eval, log []train.Log) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Softmax Loss per Generation"
	p.X.Label.Text = "Generation"
	p.Y.Label.Text = "Softmax Loss"
	pts := make(plotter.XYs, len(h))
	for i, e := range h {
		pts[i] = plotter.XY{X: float64(e.Gen), Y: e.TrainLoss}
	}
	if len(log) > 0 {
		pts = make(plotter.XYs, len(log))
		for i, l := range log {
			pts[i] = plotter.XY{X: float64(l.Gen), Y: l.Loss}
		}
	}
	if err := addLine(p, pts, lossColour, "Train loss"); err != nil {
		return nil, err
	}
	p.Y.Min = 0
	if len(pts) == 0 {
		// Before the first point: axes from 0, not gonum/plot's -1..1 around nothing.
		p.X.Min, p.X.Max, p.Y.Max = 0, 1, 1
		p.X.Tick.Marker = firstGeneration
	}
	return p, nil
}

// AccuracyPlot draws the recipe's second figure: train and test accuracy per generation.
func AccuracyPlot(h []train.Eval, w, hgt vg.Length) (image.Image, error) {
	p, err := accuracyPlot(h)
	if err != nil {
		return nil, err
	}
	return render(p, w, hgt)
}

// accuracyPlot builds AccuracyPlot's figure.
func accuracyPlot(h []train.Eval) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Train and Test Accuracy"
	p.X.Label.Text = "Generation"
	p.Y.Label.Text = "Accuracy (%)"
	tr := make(plotter.XYs, len(h))
	te := make(plotter.XYs, len(h))
	for i, e := range h {
		tr[i] = plotter.XY{X: float64(e.Gen), Y: e.TrainAcc}
		te[i] = plotter.XY{X: float64(e.Gen), Y: e.TestAcc}
	}
	if err := addLine(p, tr, trainColour, "Train Set Accuracy"); err != nil {
		return nil, err
	}
	if err := addLine(p, te, testColour, "Test Set Accuracy"); err != nil {
		return nil, err
	}
	p.Y.Min, p.Y.Max = 0, 100
	if len(h) == 0 {
		p.X.Min, p.X.Max = 0, 1 // before the first point, as in lossPlot
		p.X.Tick.Marker = firstGeneration
	}
	p.Legend.Top = false
	p.Legend.Left = false
	return p, nil
}

// firstGeneration marks only generation 0 on an empty chart's axis (not fractions of one).
var firstGeneration = plot.ConstantTicks{{Value: 0, Label: "0"}}

func addLine(p *plot.Plot, pts plotter.XYs, c color.Color, name string) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("plot %s: %w", name, err)
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	p.Add(l)
	p.Legend.Add(name, l)
	if len(pts) == 1 {
		// A line through one point draws nothing: mark the first evaluation with a dot.
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		sc.GlyphStyle.Color = c
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(3)
		p.Add(sc)
	}
	return nil
}

func render(p *plot.Plot, w, h vg.Length) (image.Image, error) {
	c := vgimg.New(w, h)
	p.Draw(draw.New(c))
	return c.Image(), nil
}

// WritePlots writes loss.png and accuracy.png of the history and loss lines into dir.
func WritePlots(dir string, h []train.Eval, log []train.Log) error {
	for name, f := range map[string]func() (image.Image, error){
		"loss.png":     func() (image.Image, error) { return LossPlot(h, log, 6*vg.Inch, 4*vg.Inch) },
		"accuracy.png": func() (image.Image, error) { return AccuracyPlot(h, 6*vg.Inch, 4*vg.Inch) },
	} {
		img, err := f()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return err
		}
		if err := writeFileAtomic(dir+string(os.PathSeparator)+name, buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// WriteMetricsCSV writes the history as CSV: generation, train loss, train and test accuracy.
func WriteMetricsCSV(path string, h []train.Eval) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"generation", "train_loss", "train_accuracy", "test_accuracy"})
	for _, e := range h {
		w.Write([]string{strconv.Itoa(e.Gen), strconv.FormatFloat(e.TrainLoss, 'g', 6, 64),
			strconv.FormatFloat(e.TrainAcc, 'f', 2, 64), strconv.FormatFloat(e.TestAcc, 'f', 2, 64)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}

// WriteLossCSV writes the loss lines as CSV: generation, loss, learning rate.
func WriteLossCSV(path string, log []train.Log) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"generation", "loss", "learning_rate"})
	for _, l := range log {
		w.Write([]string{strconv.Itoa(l.Gen), strconv.FormatFloat(l.Loss, 'g', 6, 64), strconv.FormatFloat(l.LR, 'g', 6, 64)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}
