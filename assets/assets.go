// Package assets embeds what Convas ships inside its binary: the app icon, the MNIST data set, the
// InceptionV3 trunk, and the provenance notice of every file (PROVENANCE.md, shown in the About box).
package assets

import (
	"embed"
	"io/fs"
)

//go:embed icon.png PROVENANCE.md mnist/*.gz inceptionv3/inceptionv3-mixed5.cnvm samples/*
var files embed.FS

// Icon is the application icon (PNG).
func Icon() []byte { return mustRead("icon.png") }

// Provenance is PROVENANCE.md: source, licence and sha256 of every embedded file.
func Provenance() string { return string(mustRead("PROVENANCE.md")) }

// MNIST file names inside FS, as the data set publishes them (gzip-compressed IDX).
const (
	MNISTTrainImages = "mnist/train-images-idx3-ubyte.gz"
	MNISTTrainLabels = "mnist/train-labels-idx1-ubyte.gz"
	MNISTTestImages  = "mnist/t10k-images-idx3-ubyte.gz"
	MNISTTestLabels  = "mnist/t10k-labels-idx1-ubyte.gz"
)

// InceptionV3Mixed5 is the InceptionV3 trunk (the stem through mixed5) as a Convas model file.
const InceptionV3Mixed5 = "inceptionv3/inceptionv3-mixed5.cnvm"

// InceptionV3 returns the embedded InceptionV3 trunk; models.LoadInceptionV3 reads it.
func InceptionV3() []byte { return mustRead(InceptionV3Mixed5) }

// Samples lists the built-in sample pictures by file name (under samples/ in FS).
func Samples() []string {
	entries, _ := fs.ReadDir(files, "samples")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// Sample returns the bytes of a built-in sample picture.
func Sample(name string) ([]byte, error) { return files.ReadFile("samples/" + name) }

// FS returns the embedded files.
func FS() fs.FS { return files }

func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		// Only reachable if the embed pattern above and this name disagree: a build defect.
		panic("assets: " + err.Error())
	}
	return b
}
