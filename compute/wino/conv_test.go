package wino

import "testing"

// TestFasterRule checks the rule on the measured shapes it was drawn from (see fasterRule):
// each case is a shape and which of the two ways won against oneDNN's direct kernels.
func TestFasterRule(t *testing.T) {
	same := func(c, o, hw int) Conv {
		return Conv{N: 1, C: c, O: o, H: hw, W: hw, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	}
	for _, tc := range []struct {
		c          Conv
		kept, call bool // Winograd faster with a kept Filter, and with the filter transformed in the call
	}{
		{same(64, 64, 224), true, true},
		{same(512, 512, 28), true, true},
		{same(512, 512, 14), true, false},
		{same(256, 256, 14), true, true},
		{same(64, 64, 14), true, true},
		{same(512, 512, 7), false, false},
		{same(3, 64, 224), false, false},
		{same(16, 16, 56), true, true},
		{same(64, 64, 28), true, true},
		{same(32, 32, 56), true, true},
		{Conv{N: 1, C: 64, O: 64, H: 2, W: 3}, false, false}, // unsupported: no output row
	} {
		if got := fasterRule(tc.c, true); got != tc.kept {
			t.Errorf("%+v with a kept filter: fasterRule = %v, want %v", tc.c, got, tc.kept)
		}
		if got := fasterRule(tc.c, false); got != tc.call {
			t.Errorf("%+v transforming the filter: fasterRule = %v, want %v", tc.c, got, tc.call)
		}
		if Faster(tc.c, true) && !tc.kept {
			t.Errorf("%+v: Faster is true where the rule is false", tc.c)
		}
	}
}

// TestTiles checks Tiles against a count by hand.
func TestTiles(t *testing.T) {
	c := Conv{N: 2, C: 1, O: 1, H: 9, W: 6, PadTop: 1, PadBottom: 0, PadLeft: 0, PadRight: 0}
	// OH = 8, OW = 4: 2 x 1 tiles an image, 2 images.
	if got := c.Tiles(); got != 4 {
		t.Errorf("Tiles() = %d, want 4", got)
	}
	if got := c.FLOPs(); got != 2*2*1*1*9*8*4 {
		t.Errorf("FLOPs() = %g, want %d", got, 2*2*9*8*4)
	}
}
