package nn

import "testing"

func TestSame(t *testing.T) {
	// Expected values follow TensorFlow's rule for 'SAME': out = ceil(in/s),
	// total = max((out-1)*s + k - in, 0), before = total/2, after = total - before.
	cases := []struct {
		in, k, s      int
		before, after int
	}{
		{28, 4, 1, 1, 2},   // MNIST conv1: 4x4 SAME
		{14, 4, 1, 1, 2},   // MNIST conv2
		{24, 3, 2, 0, 1},   // odd total: the extra cell goes after
		{14, 2, 2, 0, 0},   // MNIST pool: exact fit
		{28, 2, 2, 0, 0},   // MNIST pool
		{7, 2, 2, 0, 1},    // odd input under a 2x2/2 pool
		{5, 3, 1, 1, 1},    // odd kernel: symmetric
		{224, 7, 2, 2, 3},  // ResNet/GoogLeNet stem
		{224, 3, 1, 1, 1},  // VGG
		{112, 3, 2, 0, 1},  // 3x3/2 pooling on an even size
		{1, 3, 1, 1, 1},    // kernel larger than input
		{10, 1, 3, 0, 0},   // stride larger than kernel: total negative, clamped to 0
		{4, 1, 1, 0, 0},    // 1x1
		{299, 3, 2, 1, 1},  // out 150: 149*2+3-299 = 2
		{6, 5, 4, 1, 2},    // out 2: (1)*4+5-6 = 3
		{17, 4, 3, 1, 1},   // out 6: 5*3+4-17 = 2
		{16, 4, 3, 1, 2},   // out 6: 15+4-16 = 3
		{0, 3, 1, 0, 0},    // degenerate input: no padding
		{8, 3, 0, 0, 0},    // invalid stride: no padding
		{8, 0, 1, 0, 0},    // invalid kernel: no padding
		{100, 11, 4, 3, 4}, // AlexNet-like: out 25: 24*4+11-100 = 7
	}
	for _, c := range cases {
		p := Same(c.in, c.in, c.k, c.k, c.s, c.s)
		want := Padding{Top: c.before, Bottom: c.after, Left: c.before, Right: c.after}
		if p != want {
			t.Errorf("Same(%d, %d, %d, %d, %d, %d) = %v, want %v", c.in, c.in, c.k, c.k, c.s, c.s, p, want)
		}
	}
	// The axes are independent.
	if p, want := Same(28, 24, 4, 3, 1, 2), (Padding{Top: 1, Bottom: 2, Left: 0, Right: 1}); p != want {
		t.Errorf("Same(28, 24, 4, 3, 1, 2) = %v, want %v", p, want)
	}
	if p := Valid(); p != (Padding{}) {
		t.Errorf("Valid() = %v, want zero padding", p)
	}
}

func TestSameKeepsSize(t *testing.T) {
	// With SAME padding the output size is ceil(in/stride) for every size, kernel and stride.
	for in := 1; in <= 30; in++ {
		for k := 1; k <= 7; k++ {
			for s := 1; s <= 4; s++ {
				p := Same(in, in, k, k, s, s)
				if got, want := outSize(in, p.Top, p.Bottom, k, s), (in+s-1)/s; got != want {
					t.Fatalf("in %d, k %d, s %d: padding %v gives %d outputs, want %d", in, k, s, p, got, want)
				}
				if p.Top > p.Bottom || p.Bottom-p.Top > 1 || p.Top >= k || p.Bottom >= k {
					t.Fatalf("in %d, k %d, s %d: padding %v is not TF's split", in, k, s, p)
				}
			}
		}
	}
}
