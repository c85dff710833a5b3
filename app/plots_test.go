package app

import (
	"testing"

	"gonum.org/v1/plot/vg"

	"convas/compute/train"
)

// TestPlotsAxesBeforeAndAfterData checks the charts' axes: from generation 0 and loss 0 before
// the first point (not gonum/plot's -1..1 around nothing), and spanning the data after.
func TestPlotsAxesBeforeAndAfterData(t *testing.T) {
	lp, err := lossPlot(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := accuracyPlot(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string][2]float64{"loss x": {lp.X.Min, lp.X.Max}, "loss y": {lp.Y.Min, lp.Y.Max}, "accuracy x": {ap.X.Min, ap.X.Max}} {
		if r[0] != 0 || r[1] <= r[0] {
			t.Errorf("empty %s axis spans %v, want from 0 to above 0", name, r)
		}
	}
	h := []train.Eval{{Gen: 5, TrainLoss: 2.3, TrainAcc: 10, TestAcc: 11}, {Gen: 500, TrainLoss: 0.2, TrainAcc: 95, TestAcc: 96}}
	if lp, err = lossPlot(h, nil); err != nil {
		t.Fatal(err)
	}
	if lp.X.Min != 5 || lp.X.Max != 500 || lp.Y.Min != 0 || lp.Y.Max != 2.3 {
		t.Errorf("loss axes %v..%v, %v..%v; want 5..500, 0..2.3", lp.X.Min, lp.X.Max, lp.Y.Min, lp.Y.Max)
	}
	for _, f := range []func() error{
		func() error { _, err := LossPlot(nil, nil, 4*vg.Inch, 3*vg.Inch); return err },
		func() error { _, err := AccuracyPlot(h, 4*vg.Inch, 3*vg.Inch); return err },
	} {
		if err := f(); err != nil {
			t.Error(err)
		}
	}
}

// TestPlotsMarkASinglePoint checks that the first evaluation, a line of one point, which draws
// nothing, is marked with a dot of the line's colour.
func TestPlotsMarkASinglePoint(t *testing.T) {
	h := []train.Eval{{Gen: 5, TrainLoss: 2.3, TrainAcc: 10, TestAcc: 11}}
	img, err := LossPlot(h, nil, 4*vg.Inch, 3*vg.Inch)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	found := false
	for y := b.Min.Y; y < b.Max.Y && !found; y++ {
		for x := b.Min.X; x < b.Max.X*3/4; x++ { // left of the legend's sample line
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 == uint32(lossColour.R) && g>>8 == uint32(lossColour.G) && bl>>8 == uint32(lossColour.B) {
				found = true
				break
			}
		}
	}
	if !found {
		t.Error("no pixel of the loss colour: the single evaluation is not drawn")
	}
}
