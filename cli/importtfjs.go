package cli

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"convas/app"
	"convas/compute/formats/cnvm"
	"convas/tools/importtfjs"
)

// importTFJSCmd is `convas models import-tfjs`: it converts a TensorFlow.js layers model (an npm
// package tarball or a model.json) into a Convas model file (.cnvm). It is how
// assets/inceptionv3/inceptionv3-mixed5.cnvm is made:
//
//	npm pack nsfwjs@4.4.0
//	convas models import-tfjs -nsfwjs -o assets/inceptionv3/inceptionv3-mixed5.cnvm nsfwjs-4.4.0.tgz
func importTFJSCmd(_ *app.App, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models import-tfjs", stderr)
	model := fs.String("model", "", "`PATH` of model.json inside the archive (default: the only one)")
	upTo := fs.String("upto", "", "last `LAYER` to keep (default: the whole model)")
	nsfwjs := fs.Bool("nsfwjs", false, "the options for nsfwjs@4.4.0's InceptionV3 trunk (its model path, -upto mixed5, provenance)")
	out := fs.String("o", "", "output .cnvm `FILE`")
	var sink bytes.Buffer
	fs.SetOutput(&sink)
	if err := fs.Parse(args); err != nil {
		return &UsageError{err.Error()}
	}
	if fs.NArg() != 1 || *out == "" {
		return &UsageError{"models import-tfjs: want -o OUT.cnvm and one FILE.tgz or model.json"}
	}
	opt := importtfjs.Options{Model: *model, UpTo: *upTo}
	if *nsfwjs {
		opt = importtfjs.NSFWJSInceptionV3
	}
	m, err := importtfjs.Import(fs.Arg(0), opt)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := cnvm.Encode(&buf, m); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d layers, %d tensors, %d bytes, sha256 %x\n", *out, len(m.Layers), len(m.Tensors), buf.Len(), sha256.Sum256(buf.Bytes()))
	return nil
}
