package cifar

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sample makes n records whose pixels encode their index, channel and position, so a reader
// that mixes up records or channels is caught.
func sample(n int) *Batch {
	b := &Batch{N: n, Pixels: make([]uint8, n*PixelLen), Labels: make([]uint8, n)}
	for i := 0; i < n; i++ {
		b.Labels[i] = uint8((i * 7) % NumClasses)
		img := b.Image(i)
		for c := 0; c < Channels; c++ {
			for p := 0; p < Height*Width; p++ {
				img[c*1024+p] = uint8(i*31 + c*85 + p)
			}
		}
	}
	return b
}

func TestRoundTripAndLayout(t *testing.T) {
	b := sample(3)
	var buf bytes.Buffer
	if err := Encode(&buf, b); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	if len(raw) != 3*3073 {
		t.Fatalf("%d bytes, want %d", len(raw), 3*3073)
	}
	// Record 1 starts at 3073 with its label; its green channel's pixel (row 2, col 5) sits at
	// 3073 + 1 + 1024 + 2*32 + 5, by the format's definition.
	if raw[3073] != 7 || raw[3073+1+1024+2*32+5] != uint8(31+85+69) {
		t.Errorf("layout: label %d, green(2,5) %d", raw[3073], raw[3073+1+1024+69])
	}
	got, err := Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 3 || !bytes.Equal(got.Pixels, b.Pixels) || !bytes.Equal(got.Labels, b.Labels) {
		t.Error("decoded batch differs from the encoded one")
	}
}

func TestTruncatedNamesFileAndRecord(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	Encode(&buf, sample(4))
	path := filepath.Join(dir, "data_batch_1.bin")
	os.WriteFile(path, buf.Bytes()[:3*3073+100], 0o644)
	_, err := DecodeFile(path)
	if !errors.Is(err, ErrFormat) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want ErrFormat and io.ErrUnexpectedEOF", err)
	}
	for _, want := range []string{path, "record 3", "offset 9219"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %q", err, want)
		}
	}
	// The same from a stream of unknown length.
	_, err = Decode(bytes.NewReader(buf.Bytes()[:3073+10]))
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Record != 1 || fe.Offset != 3073+10 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stream: %v", err)
	}
}

func TestBadLabel(t *testing.T) {
	var buf bytes.Buffer
	Encode(&buf, sample(2))
	raw := buf.Bytes()
	raw[3073] = 10
	_, err := Decode(bytes.NewReader(raw))
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Record != 1 || fe.Offset != 3073 || !strings.Contains(err.Error(), "label 10") {
		t.Errorf("got %v", err)
	}
	if Encode(io.Discard, &Batch{N: 1, Pixels: make([]uint8, PixelLen), Labels: []uint8{12}}) == nil {
		t.Error("encoded a label of 12")
	}
}

func TestDirRoundTrip(t *testing.T) {
	dir := t.TempDir()
	train, test := sample(13), sample(4)
	if IsDir(dir) {
		t.Error("an empty folder looks like CIFAR-10")
	}
	if err := WriteDir(dir, train, test, DefaultLabels); err != nil {
		t.Fatal(err)
	}
	if !IsDir(dir) {
		t.Error("IsDir is false on a written folder")
	}
	d, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.N != 13 || !bytes.Equal(d.Train.Pixels, train.Pixels) || !bytes.Equal(d.Train.Labels, train.Labels) {
		t.Error("training pictures differ after the round trip through five files")
	}
	if d.Test.N != 4 || !bytes.Equal(d.Test.Pixels, test.Pixels) {
		t.Error("test pictures differ")
	}
	if strings.Join(d.Labels, ",") != strings.Join(DefaultLabels, ",") {
		t.Errorf("labels %v", d.Labels)
	}
	// Labels of the file win over the defaults; a file with the wrong count is refused.
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	os.WriteFile(filepath.Join(dir, MetaFile), []byte(strings.Join(names, "\n")), 0o644)
	if d, err = ReadDir(dir); err != nil || d.Labels[9] != "j" {
		t.Errorf("labels %v, %v", d.Labels, err)
	}
	os.WriteFile(filepath.Join(dir, MetaFile), []byte("a\nb\n"), 0o644)
	if _, err := ReadDir(dir); err == nil || !strings.Contains(err.Error(), "2 label names") {
		t.Errorf("got %v", err)
	}
	os.Remove(filepath.Join(dir, MetaFile))
	if d, err = ReadDir(dir); err != nil || d.Labels[0] != "airplane" {
		t.Errorf("without meta: %v, %v", d.Labels, err)
	}
	os.Remove(filepath.Join(dir, "data_batch_4.bin"))
	if _, err := ReadDir(dir); err == nil || !strings.Contains(err.Error(), "data_batch_4.bin") {
		t.Errorf("missing batch: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, sample(2))
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:100])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		if len(b)%RecordLen != 0 || got.N != len(b)/RecordLen || len(got.Pixels) != got.N*PixelLen {
			t.Fatalf("%d bytes decoded as %d records", len(b), got.N)
		}
		var out bytes.Buffer
		if err := Encode(&out, got); err != nil || !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
