package data

import (
	"context"
	"math"
	"testing"
	"time"
)

func near(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-4 }

func eqf(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !near(got[i], want[i]) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}
}

func TestCropAndFlip(t *testing.T) {
	// Two channels of 3x4: value 100c + 10y + x.
	src := make([]uint8, 2*3*4)
	for c := 0; c < 2; c++ {
		for y := 0; y < 3; y++ {
			for x := 0; x < 4; x++ {
				src[(c*3+y)*4+x] = uint8(100*c + 10*y + x)
			}
		}
	}
	dst := make([]float32, 2*2*2)
	Crop(dst, src, 2, 3, 4, 1, 1, 2, 2, false)
	eqf(t, "crop at (1,1)", dst, []float32{11, 12, 21, 22, 111, 112, 121, 122})
	Crop(dst, src, 2, 3, 4, 1, 2, 2, 2, true)
	eqf(t, "flipped crop at (1,2)", dst, []float32{13, 12, 23, 22, 113, 112, 123, 122})
}

func TestBrightnessContrast(t *testing.T) {
	x := []float32{1, 2, 3}
	AdjustBrightness(x, 63)
	eqf(t, "brightness +63", x, []float32{64, 65, 66})
	AdjustBrightness(x, -70)
	eqf(t, "brightness -70 (no clipping on floats)", x, []float32{-6, -5, -4})

	// Channel 0 has mean 15: (x-15)*0.2+15. Channel 1 is flat and stays as it is.
	y := []float32{0, 10, 20, 30, 5, 5, 5, 5}
	AdjustContrast(y, 2, 0.2)
	eqf(t, "contrast 0.2", y, []float32{12, 14, 16, 18, 5, 5, 5, 5})
	z := []float32{0, 10, 20, 30}
	AdjustContrast(z, 1, 1.8)
	eqf(t, "contrast 1.8", z, []float32{-12, 6, 24, 42})
}

func TestStandardize(t *testing.T) {
	// Mean 15, population variance (225+25+25+225)/4 = 125.
	x := []float32{0, 10, 20, 30}
	Standardize(x)
	s := float32(math.Sqrt(125))
	eqf(t, "standardised", x, []float32{-15 / s, -5 / s, 5 / s, 15 / s})
	// A flat picture has stddev 0; the floor 1/sqrt(4) = 0.5 keeps it finite.
	flat := []float32{7, 7, 7, 7}
	Standardize(flat)
	eqf(t, "flat", flat, []float32{0, 0, 0, 0})
	// Stddev 0.1 is below the floor 0.5: (x - 0.1)/0.5.
	low := []float32{0, 0.2, 0, 0.2}
	Standardize(low)
	eqf(t, "floored", low, []float32{-0.2, 0.2, -0.2, 0.2})
}

func TestCenterCrop(t *testing.T) {
	// One 7x7 channel, value 10y+x: a 4x4 centre crop starts at ((7-4)/2, (7-4)/2) = (1, 1).
	s := &ByteSet{N: 1, C: 1, H: 7, W: 7, Classes: 2, Labels: []uint8{1}, Pixels: make([]uint8, 49)}
	for y := 0; y < 7; y++ {
		for x := 0; x < 7; x++ {
			s.Pixels[y*7+x] = uint8(10*y + x)
		}
	}
	out, err := CenterCropStandardized(s, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 16)
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			want[y*4+x] = float32(10*(y+1) + x + 1)
		}
	}
	Standardize(want)
	eqf(t, "centre crop", out.Pixels, want)
	if out.H != 4 || out.W != 4 || out.Labels[0] != 1 {
		t.Errorf("set %dx%d label %d", out.H, out.W, out.Labels[0])
	}
	if _, err := CenterCropStandardized(s, 8, 4); err == nil {
		t.Error("cropped 8 rows out of 7")
	}
}

// testSet makes n 3x8x8 pictures with distinct content; label i%10.
func testSet(n int) *ByteSet {
	s := &ByteSet{N: n, C: 3, H: 8, W: 8, Classes: 10, Pixels: make([]uint8, n*192), Labels: make([]uint8, n)}
	for i := range n {
		s.Labels[i] = uint8(i % 10)
		for j, p := range s.Image(i) {
			_ = p
			s.Image(i)[j] = uint8((i*37 + j*j*11 + j) % 256)
		}
	}
	return s
}

func smallPipeline(seed uint64) PipelineConfig {
	c := CIFARPipeline(16, seed)
	c.CropH, c.CropW, c.ShuffleBuffer = 6, 6, 50
	return c
}

func TestPipelineReproducibleAndResumable(t *testing.T) {
	set := testSet(120)
	a, err := NewPipeline(set, smallPipeline(9))
	if err != nil {
		t.Fatal(err)
	}
	var batches []*Batch
	for range 5 {
		batches = append(batches, a.Next())
	}
	// The same seed through Run's goroutine gives the same batches.
	b, _ := NewPipeline(set, smallPipeline(9))
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Run(ctx)
	for i := range 5 {
		got := <-ch
		eqf(t, "run", got.Pixels, batches[i].Pixels)
	}
	cancel()
	deadline := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-ch:
		case <-deadline:
			t.Fatal("the pipeline goroutine did not stop with its context")
		}
	}
	// Skipping three batches' pictures gives batches 4 and 5.
	c, _ := NewPipeline(set, smallPipeline(9))
	c.Skip(3 * 16)
	eqf(t, "after skip", c.Next().Pixels, batches[3].Pixels)
	eqf(t, "after skip", c.Next().Pixels, batches[4].Pixels)
	// Another seed, other batches.
	d, _ := NewPipeline(set, smallPipeline(10))
	if near(d.Next().Pixels[0], batches[0].Pixels[0]) && near(d.Next().Pixels[5], batches[1].Pixels[5]) {
		t.Error("seed 10 gave seed 9's batches")
	}
}

func TestPipelineOutput(t *testing.T) {
	set := testSet(300)
	cfg := smallPipeline(3)
	p, _ := NewPipeline(set, cfg)
	flips, seen := 0, map[int]bool{}
	var minB, maxB, minC, maxC float32 = 1e9, -1e9, 1e9, -1e9
	for k := range 40 {
		b := p.Next()
		n := 3 * 6 * 6
		for i, j := range b.Index {
			d := b.Distortions[i]
			// Draw i of the first batch can only take one of the first ShuffleBuffer+i pictures.
			if k == 0 && j >= cfg.ShuffleBuffer+i {
				t.Fatalf("draw %d took picture %d, beyond the %d that entered the shuffle buffer", i, j, cfg.ShuffleBuffer+i)
			}
			if b.Labels[i] != set.Labels[j] {
				t.Fatalf("label %d for picture %d of label %d", b.Labels[i], j, set.Labels[j])
			}
			if d.Y0 < 0 || d.Y0 > 2 || d.X0 < 0 || d.X0 > 2 || d.Brightness < -63 || d.Brightness > 63 || d.Contrast < 0.2 || d.Contrast > 1.8 {
				t.Fatalf("distortion %+v out of range", d)
			}
			// The output is the picture with its recorded distortion applied step by step.
			want := make([]float32, n)
			Crop(want, set.Image(j), 3, 8, 8, d.Y0, d.X0, 6, 6, d.Flip)
			for v := range want {
				want[v] += d.Brightness
			}
			AdjustContrast(want, 3, d.Contrast)
			Standardize(want)
			eqf(t, "picture", b.Pixels[i*n:(i+1)*n], want)
			if d.Flip {
				flips++
			}
			seen[j] = true
			minB, maxB, minC, maxC = min(minB, d.Brightness), max(maxB, d.Brightness), min(minC, d.Contrast), max(maxC, d.Contrast)
		}
	}
	// 640 pictures: flips near half, both ends of both ranges reached, and the buffer lets
	// pictures from the whole set through.
	if flips < 270 || flips > 370 {
		t.Errorf("%d flips in 640", flips)
	}
	if minB > -55 || maxB < 55 || minC > 0.3 || maxC < 1.7 {
		t.Errorf("brightness [%v, %v], contrast [%v, %v]", minB, maxB, minC, maxC)
	}
	if len(seen) < 250 {
		t.Errorf("only %d of 300 pictures seen in 640 draws", len(seen))
	}
}

func TestPipelineRejects(t *testing.T) {
	set := testSet(10)
	bad := smallPipeline(1)
	bad.CropH = 9
	if _, err := NewPipeline(set, bad); err == nil {
		t.Error("accepted a 9-row crop of 8-row pictures")
	}
	set.Labels[3] = 10
	if _, err := NewPipeline(set, smallPipeline(1)); err == nil {
		t.Error("accepted label 10 of 10 classes")
	}
}

// BenchmarkCIFARPipelineBatch prepares one batch of 128 distorted 24x24 crops of 32x32 pictures,
// the CIFAR-10 recipe's, on one goroutine: the time the pipeline needs per training step.
func BenchmarkCIFARPipelineBatch(b *testing.B) {
	set := &ByteSet{N: 1000, C: 3, H: 32, W: 32, Classes: 10, Pixels: make([]uint8, 1000*3072), Labels: make([]uint8, 1000)}
	for i := range set.Pixels {
		set.Pixels[i] = uint8(i * 7)
	}
	p, err := NewPipeline(set, CIFARPipeline(128, 1))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		p.Next()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/batch")
}
