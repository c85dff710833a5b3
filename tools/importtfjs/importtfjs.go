// Package importtfjs converts a TensorFlow.js layers model into a Convas model file (.cnvm),
// keeping the weights exactly as the source stores them (quantized bytes with their min and
// scale), optionally cut after a named layer.
//
// The model may come as an npm package tarball, as `npm pack` writes it, read directly with
// archive/tar and compress/gzip (nothing is written to disk), or as a model.json in a directory.
// [NSFWJSInceptionV3] are the options that make Convas's embedded InceptionV3 trunk from the npm
// package nsfwjs@4.4.0:
//
//	npm pack nsfwjs@4.4.0
//	go run . models import-tfjs -nsfwjs -o assets/inceptionv3/inceptionv3-mixed5.cnvm nsfwjs-4.4.0.tgz
package importtfjs

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"convas/compute/formats/cnvm"
	"convas/compute/formats/tfjs"
)

// ErrInsecurePath is returned for an archive entry whose name is absolute, leaves the archive's
// root, or holds a backslash.
var ErrInsecurePath = errors.New("importtfjs: insecure file name in archive")

// Limits on what an archive may hold, so that a hostile one cannot exhaust memory.
const (
	maxArchive = 1 << 30 // bytes of all regular files together
	maxEntries = 10000   // entries
)

// Options choose the model and what to keep of it.
type Options struct {
	// Model is the path of the model file (model.json or model.min.js) inside the archive, such
	// as "package/dist/models/inception_v3/model.min.js". If empty, the archive must hold
	// exactly one file named model.json or model.min.js.
	Model string
	// UpTo names the last layer to keep: the output is that layer, and only the layers it
	// depends on are kept. If empty, the whole model is kept, with its own outputs.
	UpTo string
	// Meta is added to the metadata the converter writes (source, licence, Keras version).
	Meta map[string]string
}

// NSFWJSInceptionV3 converts the InceptionV3 of nsfwjs@4.4.0 into Convas's embedded trunk:
// every layer up to mixed5, all of which kept Keras's ImageNet weights (trainable false).
var NSFWJSInceptionV3 = Options{
	Model: "package/dist/models/inception_v3/model.min.js",
	UpTo:  "mixed5",
	Meta: map[string]string{
		"architecture": "Keras InceptionV3 (Szegedy et al. 2015, arXiv:1512.00567), ImageNet weights, cut after mixed5",
		"preprocess":   "RGB, channels last in Keras; x/127.5 - 1 (Keras inception_v3.preprocess_input)",
		"batchnorm":    "not folded; scale false (gamma 1), epsilon as stored",
	},
}

// Import converts the model of a file: an npm package tarball (.tgz or .tar.gz), or a model file
// (model.json or model.min.js) whose shards lie beside it.
func Import(name string, opt Options) (*cnvm.Model, error) {
	if strings.HasSuffix(name, ".tgz") || strings.HasSuffix(name, ".tar.gz") {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("importtfjs: %w", err)
		}
		defer f.Close()
		return ImportTarball(f, opt)
	}
	m, err := tfjs.DecodeFile(name)
	if err != nil {
		return nil, err
	}
	return Convert(m, opt.UpTo, opt.Meta)
}

// ImportTarball converts a model from a gzip-compressed tar archive, such as the one `npm pack`
// writes. For an npm package it records the package's name, version, licence and licence text
// (package/LICENSE) and the archive's sha256 in the model's metadata.
func ImportTarball(r io.Reader, opt Options) (*cnvm.Model, error) {
	h := sha256.New()
	fsys, err := ReadTarball(io.TeeReader(r, h))
	if err != nil {
		return nil, err
	}
	name := opt.Model
	if name == "" {
		if name, err = findModel(fsys); err != nil {
			return nil, err
		}
	}
	m, err := tfjs.Decode(fsys, name)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{"source_file": name, "source_sha256": hex.EncodeToString(h.Sum(nil))}
	addPackageMeta(fsys, meta)
	for k, v := range opt.Meta {
		meta[k] = v
	}
	return Convert(m, opt.UpTo, meta)
}

// memFS is a read-only file system of files held in memory.
type memFS map[string][]byte

// Open opens a file of the file system; directories cannot be opened.
func (m memFS) Open(name string) (fs.File, error) {
	data, ok := m[name]
	if !ok || !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{name: path.Base(name), data: data}, nil
}

// memFile is an open file of a memFS.
type memFile struct {
	name string
	data []byte
	off  int
}

// Stat describes the file.
func (f *memFile) Stat() (fs.FileInfo, error) { return f, nil }

// Read reads from the file.
func (f *memFile) Read(b []byte) (int, error) {
	if f.off >= len(f.data) {
		return 0, io.EOF
	}
	n := copy(b, f.data[f.off:])
	f.off += n
	return n, nil
}

// Close does nothing.
func (f *memFile) Close() error { return nil }

// Name, Size, Mode, ModTime, IsDir and Sys describe the file as an fs.FileInfo.
func (f *memFile) Name() string       { return f.name }
func (f *memFile) Size() int64        { return int64(len(f.data)) }
func (f *memFile) Mode() fs.FileMode  { return 0o444 }
func (f *memFile) ModTime() time.Time { return time.Time{} }
func (f *memFile) IsDir() bool        { return false }
func (f *memFile) Sys() any           { return nil }

// ReadTarball reads the regular files of a gzip-compressed tar archive into memory and returns
// them as a file system (directories cannot be listed). Entries that are not regular files are
// skipped; a name that is absolute, leaves the root or holds a backslash fails with
// ErrInsecurePath, and so does a name given twice. r is read to its end.
func ReadTarball(r io.Reader) (fs.FS, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("importtfjs: %w", err)
	}
	files := memFS{}
	total := 0
	tr := tar.NewReader(zr)
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("importtfjs: %w", err)
		}
		if entries >= maxEntries {
			return nil, fmt.Errorf("importtfjs: archive has more than %d entries", maxEntries)
		}
		name := path.Clean(hdr.Name)
		if strings.ContainsRune(hdr.Name, '\\') || !fs.ValidPath(name) || name == "." {
			return nil, fmt.Errorf("%w: %q", ErrInsecurePath, hdr.Name)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("%w: %q appears twice", ErrInsecurePath, hdr.Name)
		}
		if hdr.Size > int64(maxArchive-total) {
			return nil, fmt.Errorf("importtfjs: archive holds more than %d bytes", maxArchive)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("importtfjs: %s: %w", name, err)
		}
		total += len(data)
		files[name] = data
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("importtfjs: %w", err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil { // so a hash of r covers all of it
		return nil, fmt.Errorf("importtfjs: %w", err)
	}
	return files, nil
}

// findModel returns the one model file of an archive.
func findModel(fsys fs.FS) (string, error) {
	var found []string
	for name := range fsys.(memFS) {
		if b := path.Base(name); b == "model.json" || b == "model.min.js" {
			found = append(found, name)
		}
	}
	slices.Sort(found)
	switch len(found) {
	case 0:
		return "", errors.New("importtfjs: the archive holds no model.json or model.min.js")
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("importtfjs: the archive holds %d models (%s): name one", len(found), strings.Join(found, ", "))
}

// addPackageMeta records an npm package's name, version, licence and licence text.
func addPackageMeta(fsys fs.FS, meta map[string]string) {
	if data, err := fs.ReadFile(fsys, "package/package.json"); err == nil {
		var pkg struct {
			Name, Version, License, Homepage string
		}
		if json.Unmarshal(data, &pkg) == nil && pkg.Name != "" {
			meta["source"] = "npm " + pkg.Name + "@" + pkg.Version
			meta["license"] = pkg.License
			if pkg.Homepage != "" {
				meta["homepage"] = pkg.Homepage
			}
		}
	}
	for _, name := range []string{"package/LICENSE", "package/LICENSE.md", "package/LICENSE.txt"} {
		if data, err := fs.ReadFile(fsys, name); err == nil {
			meta["license_file"] = name
			meta["license_text"] = string(data)
			break
		}
	}
}
