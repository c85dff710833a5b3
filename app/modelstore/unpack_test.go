package modelstore

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const graphBody, labelsBody = "fake GraphDef bytes", "dummy\nkit fox\n"

func TestFetchUnzips(t *testing.T) {
	data := makeZip(t,
		archiveFile{Name: "tensorflow_inception_graph.pb", Body: graphBody},
		archiveFile{Name: "imagenet_comp_graph_label_strings.txt", Body: labelsBody},
		archiveFile{Name: "LICENSE", Body: "Apache"},
	)
	e := zipEntry("inception", serve(t, &fileServer{data: data}), data)
	s, _ := newStore(t, e)
	if err := s.Fetch(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if got := string(mustRead(t, s.Path(e))); got != graphBody {
		t.Errorf("%s holds %q, want %q", s.Path(e), got, graphBody)
	}
	labels := filepath.Join(s.entryDir(e), "imagenet_comp_graph_label_strings.txt")
	if got := string(mustRead(t, labels)); got != labelsBody {
		t.Errorf("labels hold %q, want %q", got, labelsBody)
	}
	if st := s.Status(e); st.Kind != Ready || st.Unverified {
		t.Errorf("Status = %v, want ready", st)
	}
	for _, f := range filesUnder(t, s.entryDir(e)) {
		if strings.HasPrefix(f, ".unpack-") || strings.HasPrefix(f, ".tmp-") {
			t.Errorf("temporary %s left in the entry folder", f)
		}
	}
}

func TestFetchUnpacksTarGz(t *testing.T) {
	data := makeTarGz(t,
		archiveFile{Name: "cifar-10-batches-bin/", Typeflag: tar.TypeDir},
		archiveFile{Name: "cifar-10-batches-bin/data_batch_1.bin", Body: "\x06" + strings.Repeat("p", 3072)},
		archiveFile{Name: "./cifar-10-batches-bin/batches.meta.txt", Body: "airplane\nautomobile\n"},
		archiveFile{Name: "cifar-10-batches-bin/readme.html", Body: "<a>"},
	)
	e := tgzEntry("cifar", serve(t, &fileServer{data: data}), data)
	s, _ := newStore(t, e)
	if err := s.Fetch(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s.Path(e)); err != nil || !fi.IsDir() {
		t.Fatalf("Path %s is not a folder: %v", s.Path(e), err)
	}
	batch := mustRead(t, filepath.Join(s.Path(e), "data_batch_1.bin"))
	if len(batch) != 3073 || batch[0] != 6 {
		t.Errorf("data_batch_1.bin has %d bytes starting %d, want 3073 starting 6", len(batch), batch[0])
	}
	if st := s.Status(e); st.Kind != Ready {
		t.Errorf("Status = %v, want ready", st)
	}
}

// unsafeZips are archives that must be refused, each with the entry
// name the error must mention.
var unsafeZips = []struct {
	name  string
	entry string
	files []archiveFile
}{
	{"parent directory", "../escape", []archiveFile{{Name: "../escape", Body: "x"}}},
	{"nested parent directory", "a/../../escape", []archiveFile{{Name: "a/../../escape", Body: "x"}}},
	{"absolute path", "/tmp/convas-evil", []archiveFile{{Name: "/tmp/convas-evil", Body: "x"}}},
	{"symbolic link", "link", []archiveFile{
		{Name: "link", Body: "../../outside", Mode: fs.ModeSymlink},
		{Name: "link/escape", Body: "x"},
	}},
	{"backslash", `..\escape`, []archiveFile{{Name: `..\escape`, Body: "x"}}},
	{"reserved name", ".verified.json", []archiveFile{{Name: ".verified.json", Body: "{}"}}},
}

func TestFetchRefusesUnsafeZip(t *testing.T) {
	for _, tt := range unsafeZips {
		t.Run(tt.name, func(t *testing.T) {
			files := append([]archiveFile{{Name: "tensorflow_inception_graph.pb", Body: graphBody}}, tt.files...)
			data := makeZip(t, files...)
			e := zipEntry("inception", serve(t, &fileServer{data: data}), data)
			s, base := newStore(t, e)
			err := s.Fetch(context.Background(), e, nil)
			checkRefused(t, s, e, base, err, tt.entry)
		})
	}
}

func TestFetchRefusesUnsafeTar(t *testing.T) {
	tests := []struct {
		name  string
		entry string
		file  archiveFile
	}{
		{"parent directory", "../escape", archiveFile{Name: "../escape", Body: "x"}},
		{"absolute path", "/tmp/convas-evil", archiveFile{Name: "/tmp/convas-evil", Body: "x"}},
		{"symbolic link", "cifar-10-batches-bin/link", archiveFile{Name: "cifar-10-batches-bin/link",
			Typeflag: tar.TypeSymlink, Linkname: "../../../outside"}},
		{"hard link", "cifar-10-batches-bin/hard", archiveFile{Name: "cifar-10-batches-bin/hard",
			Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}},
		{"device", "cifar-10-batches-bin/dev", archiveFile{Name: "cifar-10-batches-bin/dev",
			Typeflag: tar.TypeChar}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := makeTarGz(t,
				archiveFile{Name: "cifar-10-batches-bin/data_batch_1.bin", Body: "b"},
				archiveFile{Name: "cifar-10-batches-bin/batches.meta.txt", Body: "m"},
				tt.file,
			)
			e := tgzEntry("cifar", serve(t, &fileServer{data: data}), data)
			s, base := newStore(t, e)
			err := s.Fetch(context.Background(), e, nil)
			checkRefused(t, s, e, base, err, tt.entry)
		})
	}
}

// checkRefused checks that err refuses the archive entry named entry and
// that nothing was unpacked, inside the store or outside it.
func checkRefused(t *testing.T, s *Store, e Entry, base string, err error, entry string) {
	t.Helper()
	if !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("Fetch error = %v, want ErrUnsafePath", err)
	}
	if !strings.Contains(err.Error(), strconv.Quote(entry)) {
		t.Errorf("error %q does not name the entry %q", err, entry)
	}
	if exists("/tmp/convas-evil") {
		os.Remove("/tmp/convas-evil")
		t.Error("absolute path entry was written")
	}
	// Only the verified download and the cache may exist below base.
	want := []string{"store", "store/" + e.Name, "store/" + e.Name + "/" + e.File, "store/" + e.Name + "/" + sidecarName}
	got := filesUnder(t, base)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("files after a refused archive:\n got %q\nwant %q", got, want)
	}
	if st := s.Status(e); st.Kind != Damaged || !errors.Is(st.Err, ErrIncomplete) {
		t.Errorf("Status = %v, want damaged: not unpacked", st)
	}
}

func TestUnpackCapsTotalSize(t *testing.T) {
	big := strings.Repeat("z", 700)
	t.Run("zip", func(t *testing.T) {
		data := makeZip(t,
			archiveFile{Name: "tensorflow_inception_graph.pb", Body: big},
			archiveFile{Name: "more", Body: big},
		)
		e := zipEntry("inception", serve(t, &fileServer{data: data}), data)
		e.MaxUnpacked = 1000
		s, _ := newStore(t, e)
		if err := s.Fetch(context.Background(), e, nil); !errors.Is(err, ErrSize) || !strings.Contains(err.Error(), `"more"`) {
			t.Fatalf("Fetch error = %v, want ErrSize naming the entry", err)
		}
	})
	t.Run("tar.gz", func(t *testing.T) {
		data := makeTarGz(t,
			archiveFile{Name: "cifar-10-batches-bin/data_batch_1.bin", Body: big},
			archiveFile{Name: "cifar-10-batches-bin/batches.meta.txt", Body: big},
		)
		e := tgzEntry("cifar", serve(t, &fileServer{data: data}), data)
		e.MaxUnpacked = 1000
		s, _ := newStore(t, e)
		if err := s.Fetch(context.Background(), e, nil); !errors.Is(err, ErrSize) {
			t.Fatalf("Fetch error = %v, want ErrSize", err)
		}
		if exists(filepath.Join(s.entryDir(e), "cifar-10-batches-bin")) {
			t.Error("part of an oversized archive was kept")
		}
	})
}

func TestUnpackNeedsListedFiles(t *testing.T) {
	data := makeZip(t, archiveFile{Name: "other.pb", Body: graphBody})
	e := zipEntry("inception", serve(t, &fileServer{data: data}), data)
	s, _ := newStore(t, e)
	err := s.Fetch(context.Background(), e, nil)
	if !errors.Is(err, ErrArchive) || !strings.Contains(err.Error(), "tensorflow_inception_graph.pb") {
		t.Fatalf("Fetch error = %v, want ErrArchive naming the missing file", err)
	}
	if exists(filepath.Join(s.entryDir(e), "other.pb")) {
		t.Error("an archive without the needed file was unpacked anyway")
	}
}

func TestLocalName(t *testing.T) {
	x := &extractor{archive: "a.zip", reserved: func(top string) bool { return top == "a.zip" }}
	good := map[string]string{"a/b.txt": "a/b.txt", "./a": "a", "a//b/": "a/b", "./": "", "a/./b": "a/b"}
	for in, want := range good {
		if got, err := x.localName(in); err != nil || got != want {
			t.Errorf("localName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "..", "../a", "a/..", "a/../../b", "/a", `a\b`, "a\x00b", "a.zip", "a.zip/x"} {
		if _, err := x.localName(in); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("localName(%q) error = %v, want ErrUnsafePath", in, err)
		}
	}
}
