package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"convas/app/modelstore"
	"convas/compute/data"
	"convas/compute/formats/cifar"
	"convas/compute/train"
)

// CIFAR10Name is the data set name of the model store's CIFAR-10 copy (its catalog entry).
const CIFAR10Name = "cifar10"

// CIFAR10Dir returns the folder of the model store's CIFAR-10 batches, or an error that says how
// to get them when they are not there.
func (a *App) CIFAR10Dir() (string, error) {
	s := a.Store()
	e, err := s.Lookup(CIFAR10Name)
	if err != nil {
		return "", err
	}
	if st := s.Status(e); st.Kind != modelstore.Ready {
		return "", fmt.Errorf("CIFAR-10 is %s: fetch it with `convas models fetch cifar10` (163 MB) or in the Models panel, or give a folder of CIFAR-10 binary batches", st)
	}
	return s.Path(e), nil
}

// cifarDir resolves a CIFAR-10 data set name: "cifar10" (the store's copy) or a folder.
func (a *App) cifarDir(name string) (string, error) {
	if name == CIFAR10Name {
		return a.CIFAR10Dir()
	}
	return name, nil
}

// isCIFARName reports whether a data set name stands for CIFAR-10 data.
func (a *App) isCIFARName(name string) bool {
	return name == CIFAR10Name || cifar.IsDir(name)
}

// loadCIFAR reads a CIFAR-10 folder into byte sets for the recipe's input pipeline.
func (a *App) loadCIFAR(name string) (train.Data, []string, error) {
	dir, err := a.cifarDir(name)
	if err != nil {
		return train.Data{}, nil, err
	}
	ds, err := cifar.ReadDir(dir)
	if err != nil {
		return train.Data{}, nil, fmt.Errorf("data set %s: %w", name, err)
	}
	set := func(b *cifar.Batch) *data.ByteSet {
		return &data.ByteSet{N: b.N, C: cifar.Channels, H: cifar.Height, W: cifar.Width,
			Pixels: b.Pixels, Labels: b.Labels, Classes: cifar.NumClasses}
	}
	if ds.Train.N == 0 || ds.Test.N == 0 {
		return train.Data{}, nil, fmt.Errorf("data set %s: %d training and %d test pictures; both must be present", name, ds.Train.N, ds.Test.N)
	}
	return train.Data{RawTrain: set(ds.Train), RawTest: set(ds.Test)}, ds.Labels, nil
}

// ExportProgress reports how far an export has got.
type ExportProgress struct {
	Done, Total int
	Dir         string // the class folder being written
}

// ExportCIFAR10 writes a CIFAR-10 folder (src: "cifar10" for the store's copy, or a folder) as
// class folders, the layout the retraining recipe reads: out/train_dir/<class>/ holds the five
// training batches and out/validation_dir/<class>/ the test batch, one PNG per picture named
// after its batch file and index (data_batch_1_00000.png), and out/cifar10_labels.txt lists the
// class names, one a line, in label order. (The recipe's own script writes its PNGs transposed,
// x for y; these are the right way up.) It stops between two pictures when ctx ends.
func (a *App) ExportCIFAR10(ctx context.Context, src, out string, progress func(ExportProgress)) error {
	dir, err := a.cifarDir(src)
	if err != nil {
		return err
	}
	labels, err := cifar.ReadLabels(filepath.Join(dir, cifar.MetaFile))
	if err != nil {
		if _, serr := os.Stat(filepath.Join(dir, cifar.MetaFile)); !os.IsNotExist(serr) {
			return err
		}
		labels = cifar.DefaultLabels
	}
	type part struct{ file, split string }
	var parts []part
	for _, f := range cifar.TrainFiles {
		parts = append(parts, part{f, "train_dir"})
	}
	parts = append(parts, part{cifar.TestFile, "validation_dir"})
	batches := make([]*cifar.Batch, len(parts))
	total := 0
	for i, p := range parts {
		if batches[i], err = cifar.DecodeFile(filepath.Join(dir, p.file)); err != nil {
			return err
		}
		total += batches[i].N
	}
	for _, split := range []string{"train_dir", "validation_dir"} {
		for _, l := range labels {
			if err := os.MkdirAll(filepath.Join(out, split, safeName(l)), 0o755); err != nil {
				return fmt.Errorf("export CIFAR-10: %w", err)
			}
		}
	}
	if err := writeFileAtomic(filepath.Join(out, "cifar10_labels.txt"), []byte(strings.Join(labels, "\n")+"\n")); err != nil {
		return err
	}
	done := 0
	var buf bytes.Buffer
	for i, p := range parts {
		b := batches[i]
		base := strings.TrimSuffix(p.file, ".bin")
		for j := 0; j < b.N; j++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			classDir := filepath.Join(out, p.split, safeName(labels[b.Labels[j]]))
			buf.Reset()
			if err := png.Encode(&buf, CIFARImage(b.Image(j))); err != nil {
				return err
			}
			path := filepath.Join(classDir, fmt.Sprintf("%s_%05d.png", base, j))
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				return fmt.Errorf("export CIFAR-10: %w", err)
			}
			done++
			if progress != nil && (done%200 == 0 || done == total) {
				progress(ExportProgress{Done: done, Total: total, Dir: classDir})
			}
		}
	}
	return nil
}

// StartExportCIFAR10 runs ExportCIFAR10 as a job; progress is called from the job's goroutine.
func (a *App) StartExportCIFAR10(src, out string, progress func(ExportProgress)) *Job {
	return StartJob(func(ctx context.Context, _ func(context.Context) error) error {
		return a.ExportCIFAR10(ctx, src, out, progress)
	})
}

// CIFARImage turns a record's 3,072 channels-first bytes into a 32x32 RGB picture.
func CIFARImage(px []uint8) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, cifar.Width, cifar.Height))
	const plane = cifar.Width * cifar.Height
	for p := 0; p < plane; p++ {
		img.Pix[4*p] = px[p]
		img.Pix[4*p+1] = px[plane+p]
		img.Pix[4*p+2] = px[2*plane+p]
		img.Pix[4*p+3] = 255
	}
	return img
}

// safeName keeps a class name usable as a folder name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		return "_" + s
	}
	return s
}
