package modelstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// importCatalog returns a tiny catalog shaped like the real one: a MAT
// file with an older alternative, a zip and an embedded entry.
func importCatalog(t *testing.T) (cat []Entry, mat, old, zipped []byte) {
	mat, old = payload(3000, 20), payload(2900, 21)
	zipped = makeZip(t,
		archiveFile{Name: "tensorflow_inception_graph.pb", Body: graphBody},
		archiveFile{Name: "imagenet_comp_graph_label_strings.txt", Body: labelsBody},
	)
	vgg := matEntry("vgg", closedURL(t), mat)
	vgg.Alternatives = []Alternative{{Note: "older beta16 conversion", Sum: md5Sum(old)}} // size unknown
	cat = []Entry{
		vgg,
		zipEntry("inception", closedURL(t), zipped),
		{Name: "trunk", Format: FormatEmbedded},
	}
	return cat, mat, old, zipped
}

func TestImportRecognisesByChecksum(t *testing.T) {
	cat, mat, old, zipped := importCatalog(t)
	tests := []struct {
		file     string // the name the user's file has: not what identifies it
		data     []byte
		want     string
		wantNote string
	}{
		{"my-download.bin", mat, "vgg", ""},
		{"vgg-2015.mat", old, "vgg", "older beta16 conversion"},
		{"archive.zip", zipped, "inception", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, base := newStore(t, cat...)
			src := filepath.Join(base, "downloads", tt.file)
			writeFile(t, src, tt.data)
			e, err := s.Import(src)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != tt.want {
				t.Fatalf("Import identified %s, want %s", e.Name, tt.want)
			}
			st := s.Status(e)
			if st.Kind != Ready || st.Unverified || st.Note != tt.wantNote {
				t.Errorf("Status = %+v, want ready and verified, note %q", st, tt.wantNote)
			}
			if !exists(s.Path(e)) {
				t.Fatalf("nothing at %s", s.Path(e))
			}
			if !bytes.Equal(mustRead(t, s.DownloadPath(e)), tt.data) {
				t.Error("stored file differs from the imported one")
			}
			// The store keeps its own link or copy.
			if err := os.Remove(src); err != nil {
				t.Fatal(err)
			}
			if st := s.Status(e); st.Kind != Ready {
				t.Errorf("Status after removing the original = %v, want ready", st)
			}
		})
	}
}

func TestImportBareGraphByName(t *testing.T) {
	cat, _, _, _ := importCatalog(t)
	s, base := newStore(t, cat...)
	src := filepath.Join(base, "tensorflow_inception_graph.pb")
	writeFile(t, src, []byte(graphBody))
	e, err := s.Import(src)
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "inception" {
		t.Fatalf("Import identified %s, want inception", e.Name)
	}
	if st := s.Status(e); st.Kind != Ready || !st.Unverified || !strings.Contains(st.Note, "name") {
		t.Errorf("Status = %+v, want ready, unverified, identified by name", st)
	}
	if got := string(mustRead(t, s.Path(e))); got != graphBody {
		t.Errorf("Path holds %q, want the imported graph", got)
	}
}

func TestImportUnknownFile(t *testing.T) {
	cat, mat, _, _ := importCatalog(t)
	s, base := newStore(t, cat...)
	sameSize := filepath.Join(base, "vgg.mat")
	writeFile(t, sameSize, payload(len(mat), 22))
	_, err := s.Import(sameSize)
	var unknown *UnknownFileError
	if !errors.As(err, &unknown) || !errors.Is(err, ErrUnknownFile) {
		t.Fatalf("Import error = %v, want *UnknownFileError", err)
	}
	if unknown.Path != sameSize || unknown.Size != int64(len(mat)) || len(unknown.SameSize) != 1 || unknown.SameSize[0] != "vgg" {
		t.Errorf("UnknownFileError = %+v, want the path, its size and vgg as same-size entry", unknown)
	}
	if !strings.Contains(err.Error(), "checksum") {
		t.Errorf("error %q does not say the checksum differs", err)
	}
	other := filepath.Join(base, "notes.txt")
	writeFile(t, other, []byte("hello"))
	if _, err := s.Import(other); !errors.As(err, &unknown) || len(unknown.SameSize) != 0 {
		t.Errorf("Import of an unrelated file = %v, want *UnknownFileError without same-size entries", err)
	}

	// After warning the user, the file can still be used.
	e, err := s.ImportUnverified(sameSize, "vgg")
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(e); st.Kind != Ready || !st.Unverified {
		t.Errorf("Status after ImportUnverified = %+v, want ready and unverified", st)
	}
	// A change to the file ends the exemption.
	writeFile(t, s.DownloadPath(e), payload(len(mat), 23))
	if st := s.Status(e); st.Kind != Damaged || !errors.Is(st.Err, ErrChecksum) {
		t.Errorf("Status after the file changed = %v, want damaged by checksum", st)
	}
}

func TestImportUnverifiedErrors(t *testing.T) {
	cat, _, _, _ := importCatalog(t)
	s, base := newStore(t, cat...)
	src := filepath.Join(base, "x.bin")
	writeFile(t, src, []byte("x"))
	if _, err := s.ImportUnverified(src, "nope"); !errors.Is(err, ErrUnknownEntry) {
		t.Errorf("unknown name: %v, want ErrUnknownEntry", err)
	}
	if _, err := s.ImportUnverified(src, "trunk"); !errors.Is(err, ErrEmbedded) {
		t.Errorf("embedded entry: %v, want ErrEmbedded", err)
	}
	if _, err := s.ImportUnverified(base, "vgg"); err == nil {
		t.Error("importing a folder succeeded")
	}

	// An unverified archive that fails to unpack is not kept.
	evil := filepath.Join(base, "evil.zip")
	writeFile(t, evil, makeZip(t, archiveFile{Name: "../escape", Body: "x"}))
	e, err := s.ImportUnverified(evil, "inception")
	if !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("unsafe archive: %v, want ErrUnsafePath", err)
	}
	if exists(s.DownloadPath(e)) || exists(filepath.Join(s.Dir, "escape")) {
		t.Error("unsafe unverified archive or its entry was kept")
	}
	if st := s.Status(e); st.Kind != Missing {
		t.Errorf("Status = %v, want missing", st)
	}
}

func TestImportReplacesPartial(t *testing.T) {
	cat, mat, _, _ := importCatalog(t)
	s, base := newStore(t, cat...)
	e := cat[0]
	writeFile(t, s.partPath(e), mat[:100])
	src := filepath.Join(base, "vgg.mat")
	writeFile(t, src, mat)
	if _, err := s.Import(src); err != nil {
		t.Fatal(err)
	}
	if exists(s.partPath(e)) {
		t.Error("the .part of a download the import replaced was kept")
	}
	// Importing the file already in the store is harmless.
	if _, err := s.Import(s.DownloadPath(e)); err != nil {
		t.Fatal(err)
	}
	if got := filesUnder(t, s.entryDir(e)); len(got) != 2 {
		t.Errorf("entry folder holds %q, want the file and the cache", got)
	}
}

func TestPlaceCopiesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	writeFile(t, src, []byte("new"))
	writeFile(t, dst, []byte("old content"))
	if err := place(src, dst); err != nil {
		t.Fatal(err)
	}
	if got := string(mustRead(t, dst)); got != "new" {
		t.Errorf("dst holds %q after place, want %q", got, "new")
	}
	// The copy used across file systems.
	cp := filepath.Join(dir, "copy")
	if err := copyFile(src, cp); err != nil {
		t.Fatal(err)
	}
	if got := string(mustRead(t, cp)); got != "new" {
		t.Errorf("copy holds %q, want %q", got, "new")
	}
	if err := copyFile(src, cp); err == nil {
		t.Error("copyFile overwrote an existing file")
	}
	if got := filesUnder(t, dir); len(got) != 3 {
		t.Errorf("folder holds %q, want src, dst and copy only", got)
	}
}
