// Package testpics writes small picture folders for the tests of retraining: classes that a
// frozen backbone tells apart easily, made on the spot, so that no test needs a data set.
package testpics

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Classes are the pattern classes WritePatterns makes, in the order it draws them.
var Classes = []string{"checks", "horizontal", "vertical"}

// WritePatterns writes perClass 64x64 PNGs of three visually distinct patterns (a
// checkerboard, horizontal stripes, vertical stripes) under dir/<class>/, each with a dark and a
// light colour and a period and phase drawn from a source seeded with (seed, seed+1), so that
// the same seed writes the same files.
func WritePatterns(dir string, perClass int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for _, class := range Classes {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			return err
		}
		for i := 0; i < perClass; i++ {
			a := color.NRGBA{uint8(rng.IntN(128)), uint8(rng.IntN(128)), uint8(rng.IntN(128)), 255}
			b := color.NRGBA{uint8(128 + rng.IntN(128)), uint8(128 + rng.IntN(128)), uint8(128 + rng.IntN(128)), 255}
			period, phase := 6+rng.IntN(6), rng.IntN(12)
			img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
			for y := 0; y < 64; y++ {
				for x := 0; x < 64; x++ {
					var on bool
					switch class {
					case "horizontal":
						on = (y+phase)/period%2 == 0
					case "vertical":
						on = (x+phase)/period%2 == 0
					default:
						on = ((x+phase)/period+(y+phase)/period)%2 == 0
					}
					if on {
						img.SetNRGBA(x, y, a)
					} else {
						img.SetNRGBA(x, y, b)
					}
				}
			}
			name := fmt.Sprintf("%s_%c%c.png", class, 'a'+i/26, 'a'+i%26)
			f, err := os.Create(filepath.Join(dir, class, name))
			if err != nil {
				return err
			}
			err = png.Encode(f, img)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", f.Name(), err)
			}
		}
	}
	return nil
}
