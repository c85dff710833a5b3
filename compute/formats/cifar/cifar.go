// Package cifar reads and writes the binary version of the CIFAR-10 data set
// (https://www.cs.toronto.edu/~kriz/cifar.html): data_batch_1.bin to data_batch_5.bin for
// training, test_batch.bin for testing, and batches.meta.txt with one label name per line.
//
// Every file is a sequence of records of 3,073 bytes: one label byte (0 to 9), then the picture's
// 3,072 pixel bytes, channels first (1,024 red, 1,024 green, 1,024 blue), each channel 32x32 in
// row-major order. A file whose length is not a whole number of records is damaged: the error
// names the file and the record that is cut off. Labels of 10 or more are refused. CIFAR-100's
// two-label records are not supported.
package cifar

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Geometry of a CIFAR-10 record.
const (
	Height     = 32
	Width      = 32
	Channels   = 3
	PixelLen   = Channels * Height * Width // 3,072
	RecordLen  = 1 + PixelLen              // 3,073
	NumClasses = 10
)

// File names of the data set's folder (cifar-10-batches-bin).
var (
	TrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	TestFile   = "test_batch.bin"
	MetaFile   = "batches.meta.txt"
)

// DefaultLabels are CIFAR-10's class names, as batches.meta.txt lists them.
var DefaultLabels = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// ErrFormat is matched by every *FormatError.
var ErrFormat = errors.New("cifar: invalid format")

// FormatError reports a damaged file: its name (when known), the record and the byte offset
// where the problem is, and the cause (io.ErrUnexpectedEOF for a file cut off inside a record).
type FormatError struct {
	File   string
	Record int
	Offset int64
	Msg    string
	Err    error
}

// Error returns the message, such as
// "cifar: data_batch_1.bin: invalid format at record 12 (offset 36876): label 11 is not below 10".
func (e *FormatError) Error() string {
	s := "cifar: "
	if e.File != "" {
		s += e.File + ": "
	}
	s += fmt.Sprintf("invalid format at record %d (offset %d): %s", e.Record, e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrFormat and the cause, so errors.Is matches ErrFormat and, for a truncated
// file, io.ErrUnexpectedEOF.
func (e *FormatError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrFormat}
	}
	return []error{ErrFormat, e.Err}
}

// Batch is the content of one or more CIFAR-10 files: N pictures of 3x32x32 bytes, channels
// first, and their labels.
type Batch struct {
	N      int
	Pixels []uint8 // N * PixelLen
	Labels []uint8 // N
}

// Image returns picture i's 3,072 bytes (a view, not a copy).
func (b *Batch) Image(i int) []uint8 { return b.Pixels[i*PixelLen : (i+1)*PixelLen] }

// Append adds the records of o to b.
func (b *Batch) Append(o *Batch) {
	b.N += o.N
	b.Pixels = append(b.Pixels, o.Pixels...)
	b.Labels = append(b.Labels, o.Labels...)
}

// maxRecords bounds what one stream may hold (the real files have 10,000 each).
const maxRecords = 1 << 20

// Decode reads records from r until its end. A stream that ends inside a record is an
// *FormatError wrapping io.ErrUnexpectedEOF; an empty stream is a batch of no pictures.
func Decode(r io.Reader) (*Batch, error) {
	b := &Batch{}
	rec := make([]byte, RecordLen)
	for {
		n, err := io.ReadFull(r, rec)
		if err == io.EOF {
			return b, nil
		}
		off := int64(b.N) * RecordLen
		if err == io.ErrUnexpectedEOF {
			return nil, &FormatError{Record: b.N, Offset: off + int64(n),
				Msg: fmt.Sprintf("the file ends %d bytes into a %d-byte record", n, RecordLen), Err: io.ErrUnexpectedEOF}
		}
		if err != nil {
			return nil, err
		}
		if rec[0] >= NumClasses {
			return nil, &FormatError{Record: b.N, Offset: off, Msg: fmt.Sprintf("label %d is not below %d", rec[0], NumClasses)}
		}
		if b.N >= maxRecords {
			return nil, &FormatError{Record: b.N, Offset: off, Msg: fmt.Sprintf("more than %d records", maxRecords)}
		}
		b.Labels = append(b.Labels, rec[0])
		b.Pixels = append(b.Pixels, rec[1:]...)
		b.N++
	}
}

// DecodeFile reads one batch file. Errors name the file; a file whose size is not a whole
// number of records is refused before it is read.
func DecodeFile(path string) (*Batch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cifar: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		if rem := fi.Size() % RecordLen; rem != 0 {
			n := int(fi.Size() / RecordLen)
			return nil, &FormatError{File: path, Record: n, Offset: int64(n) * RecordLen,
				Msg: fmt.Sprintf("%d bytes are not a whole number of %d-byte records: record %d is cut off after %d bytes",
					fi.Size(), RecordLen, n, rem), Err: io.ErrUnexpectedEOF}
		}
	}
	b, err := Decode(bufio.NewReaderSize(f, 1<<20))
	var fe *FormatError
	if errors.As(err, &fe) {
		fe.File = path
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Encode writes b as CIFAR-10 records.
func Encode(w io.Writer, b *Batch) error {
	if len(b.Labels) != b.N || len(b.Pixels) != b.N*PixelLen {
		return fmt.Errorf("cifar: encode: %d labels and %d pixel bytes for %d pictures", len(b.Labels), len(b.Pixels), b.N)
	}
	bw := bufio.NewWriter(w)
	for i := 0; i < b.N; i++ {
		if b.Labels[i] >= NumClasses {
			return fmt.Errorf("cifar: encode: label %d of picture %d is not below %d", b.Labels[i], i, NumClasses)
		}
		bw.WriteByte(b.Labels[i])
		bw.Write(b.Image(i))
	}
	return bw.Flush()
}

// DataSet is a CIFAR-10 folder read whole: the five training batches in order, the test batch
// and the label names.
type DataSet struct {
	Train, Test *Batch
	Labels      []string
}

// ReadDir reads a cifar-10-batches-bin folder: every data_batch_N.bin, test_batch.bin, and
// batches.meta.txt when present (DefaultLabels otherwise). A missing batch file is an error that
// names it.
func ReadDir(dir string) (*DataSet, error) {
	d := &DataSet{Train: &Batch{}}
	for _, name := range TrainFiles {
		b, err := DecodeFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		d.Train.Append(b)
	}
	var err error
	if d.Test, err = DecodeFile(filepath.Join(dir, TestFile)); err != nil {
		return nil, err
	}
	d.Labels, err = ReadLabels(filepath.Join(dir, MetaFile))
	if errors.Is(err, os.ErrNotExist) {
		d.Labels, err = append([]string(nil), DefaultLabels...), nil
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// IsDir reports whether dir looks like a CIFAR-10 binary folder (it holds data_batch_1.bin).
func IsDir(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, TrainFiles[0]))
	return err == nil && fi.Mode().IsRegular()
}

// ReadLabels reads batches.meta.txt: one class name per line, blank lines ignored. It must name
// exactly NumClasses classes.
func ReadLabels(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cifar: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) != NumClasses {
		return nil, fmt.Errorf("cifar: %s: %d label names, want %d", path, len(out), NumClasses)
	}
	return out, nil
}

// WriteDir writes a CIFAR-10 folder: train split into len(TrainFiles) batch files as evenly as
// it goes (the last ones may be empty), test into test_batch.bin, and labels (when not nil) into
// batches.meta.txt. Tests use it to make small data sets in the real format.
func WriteDir(dir string, train, test *Batch, labels []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cifar: %w", err)
	}
	per := (train.N + len(TrainFiles) - 1) / len(TrainFiles)
	for i, name := range TrainFiles {
		from, to := min(i*per, train.N), min((i+1)*per, train.N)
		part := &Batch{N: to - from, Pixels: train.Pixels[from*PixelLen : to*PixelLen], Labels: train.Labels[from:to]}
		if err := writeFile(filepath.Join(dir, name), part); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(dir, TestFile), test); err != nil {
		return err
	}
	if labels != nil {
		if err := os.WriteFile(filepath.Join(dir, MetaFile), []byte(strings.Join(labels, "\n")+"\n\n"), 0o644); err != nil {
			return fmt.Errorf("cifar: %w", err)
		}
	}
	return nil
}

func writeFile(path string, b *Batch) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cifar: %w", err)
	}
	if err := Encode(f, b); err != nil {
		f.Close()
		return fmt.Errorf("cifar: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cifar: %w", err)
	}
	return nil
}
