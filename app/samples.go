package app

import (
	"fmt"
	"os"
	"path/filepath"

	"convas/assets"
	"convas/compute/dream"
	"convas/compute/style"
)

// The dream recipe's types, for the front ends (ui/ talks to app/, never to compute/).
type (
	// DreamEvent is a progress report of a dream: DreamIteration, DreamOctaveDone or DreamDone.
	DreamEvent = dream.Event
	// DreamIteration reports one gradient step with its frame.
	DreamIteration = dream.Iteration
	// DreamOctaveDone reports a finished octave with its frame.
	DreamOctaveDone = dream.OctaveDone
	// DreamDone reports the finished dream.
	DreamDone = dream.Done
	// DreamImage is a planar RGB picture of float32 pixel values.
	DreamImage = dream.Image
	// DreamConfig is a dream's configuration.
	DreamConfig = dream.Config
)

// Samples lists the built-in sample pictures.
func (a *App) Samples() []string { return assets.Samples() }

// SamplePath returns a file path for a built-in sample picture, writing it into the cache folder
// the first time, so that it opens like any picture the user picks.
func (a *App) SamplePath(name string) (string, error) {
	b, err := assets.Sample(name)
	if err != nil {
		return "", fmt.Errorf("no built-in sample %q", name)
	}
	path := filepath.Join(a.CacheDir, "samples", name)
	if st, err := os.Stat(path); err == nil && st.Size() == int64(len(b)) {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, writeFileAtomic(path, b)
}

// StylePicture is one style picture of a blend and its weight.
type StylePicture = style.StyleImage
