package testpics

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestWritePatterns: every class gets its files; a horizontal-stripe picture is constant along
// each row and a vertical one along each column; the same seed writes the same bytes.
func TestWritePatterns(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := WritePatterns(a, 3, 7); err != nil {
		t.Fatal(err)
	}
	if err := WritePatterns(b, 3, 7); err != nil {
		t.Fatal(err)
	}
	for _, c := range Classes {
		files, _ := filepath.Glob(filepath.Join(a, c, "*.png"))
		if len(files) != 3 {
			t.Fatalf("%s: %d files, want 3", c, len(files))
		}
		for _, f := range files {
			x, _ := os.ReadFile(f)
			y, _ := os.ReadFile(filepath.Join(b, c, filepath.Base(f)))
			if !bytes.Equal(x, y) {
				t.Errorf("%s differs between two runs with one seed", f)
			}
			img, err := png.Decode(bytes.NewReader(x))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 64; i++ {
				switch c {
				case "horizontal":
					if img.At(0, i) != img.At(63, i) {
						t.Errorf("%s: row %d is not one colour", f, i)
					}
				case "vertical":
					if img.At(i, 0) != img.At(i, 63) {
						t.Errorf("%s: column %d is not one colour", f, i)
					}
				}
			}
		}
	}
}
