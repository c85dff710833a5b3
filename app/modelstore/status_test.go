package modelstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestStatusStates(t *testing.T) {
	data := payload(5000, 30)
	e := matEntry("vgg", closedURL(t), data)
	tests := []struct {
		name    string
		prepare func(s *Store)
		kind    Kind
		err     error
	}{
		{"missing", func(s *Store) {}, Missing, nil},
		{"partial", func(s *Store) { writeFile(t, s.partPath(e), data[:1234]) }, Partial, nil},
		{"ready", func(s *Store) { writeFile(t, s.DownloadPath(e), data) }, Ready, nil},
		{"wrong size", func(s *Store) { writeFile(t, s.DownloadPath(e), data[:4999]) }, Damaged, ErrSize},
		{"wrong checksum", func(s *Store) { writeFile(t, s.DownloadPath(e), payload(5000, 31)) }, Damaged, ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t, e)
			tt.prepare(s)
			st := s.Status(e)
			if st.Kind != tt.kind || (tt.err != nil && !errors.Is(st.Err, tt.err)) {
				t.Fatalf("Status = %v, want %v (%v)", st, tt.kind, tt.err)
			}
			if st.Kind == Partial && st.Have != 1234 {
				t.Errorf("partial Have = %d, want 1234", st.Have)
			}
			if st.Kind == Damaged && !strings.Contains(st.Err.Error(), s.DownloadPath(e)) {
				t.Errorf("reason %q does not name the file", st.Err)
			}
		})
	}
	s, _ := newStore(t)
	if st := s.Status(Entry{Name: "trunk", Format: FormatEmbedded}); st.Kind != Embedded {
		t.Errorf("embedded entry: Status = %v", st)
	}
}

func TestStatusCachesVerification(t *testing.T) {
	data := payload(5000, 32)
	e := matEntry("vgg", closedURL(t), data)
	s, _ := newStore(t, e)
	name := s.DownloadPath(e)
	writeFile(t, name, data)
	if st := s.Status(e); st.Kind != Ready {
		t.Fatalf("Status = %v, want ready", st)
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}

	// Same size and time: the cached verdict stands, the file is not hashed.
	writeFile(t, name, payload(5000, 33))
	if err := os.Chtimes(name, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(e); st.Kind != Ready {
		t.Fatalf("Status with an unchanged size and time = %v, want the cached ready", st)
	}

	// A new time: hashed again, and the damage is found.
	later := fi.ModTime().Add(time.Minute)
	if err := os.Chtimes(name, later, later); err != nil {
		t.Fatal(err)
	}
	st := s.Status(e)
	if st.Kind != Damaged || !errors.Is(st.Err, ErrChecksum) {
		t.Fatalf("Status after a change = %v, want damaged by checksum", st)
	}
	// The bad verdict is cached too, with the same reason.
	if again := s.Status(e); again.Kind != Damaged || again.Err.Error() != st.Err.Error() {
		t.Errorf("second Status = %v, want %v", again, st)
	}
}

func TestStatusArchiveNotUnpacked(t *testing.T) {
	data := makeZip(t, archiveFile{Name: "tensorflow_inception_graph.pb", Body: graphBody})
	e := zipEntry("inception", closedURL(t), data)
	s, _ := newStore(t, e)
	writeFile(t, s.DownloadPath(e), data) // saved by hand
	if st := s.Status(e); st.Kind != Damaged || !errors.Is(st.Err, ErrIncomplete) {
		t.Fatalf("Status = %v, want damaged: not unpacked", st)
	}
	// Fetch unpacks it without the network.
	if err := s.Fetch(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(e); st.Kind != Ready {
		t.Fatalf("Status after Fetch = %v, want ready", st)
	}
	// An unpacked file that changes size is reported.
	writeFile(t, s.Path(e), []byte("short"))
	if st := s.Status(e); st.Kind != Damaged || !errors.Is(st.Err, ErrSize) {
		t.Errorf("Status after the graph changed = %v, want damaged by size", st)
	}
	// One that disappears too.
	os.Remove(s.Path(e))
	if st := s.Status(e); st.Kind != Damaged || !errors.Is(st.Err, ErrIncomplete) {
		t.Errorf("Status after the graph went = %v, want damaged: incomplete", st)
	}
}

func TestDelete(t *testing.T) {
	data := payload(100, 34)
	e := matEntry("vgg", closedURL(t), data)
	s, _ := newStore(t, e)
	writeFile(t, s.DownloadPath(e), data)
	writeFile(t, s.partPath(e), data[:10])
	if err := s.Delete(e); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(e); st.Kind != Missing || exists(s.entryDir(e)) {
		t.Errorf("Status after Delete = %v, want missing and no folder", st)
	}
	if err := s.Delete(Entry{Name: "trunk", Format: FormatEmbedded}); !errors.Is(err, ErrEmbedded) {
		t.Errorf("Delete of an embedded entry = %v, want ErrEmbedded", err)
	}
	if err := s.Delete(Entry{Name: "../up", File: "x", Format: FormatMAT}); err == nil {
		t.Error("Delete of an entry named ../up succeeded")
	}
}

func TestPaths(t *testing.T) {
	s := &Store{Dir: filepath.FromSlash("/cache/convas/models")}
	for _, e := range Catalog() {
		switch e.Name {
		case "vgg19":
			if want := filepath.FromSlash("/cache/convas/models/vgg19/imagenet-vgg-verydeep-19.mat"); s.Path(e) != want || s.DownloadPath(e) != want {
				t.Errorf("vgg19 paths %s, %s; want %s", s.Path(e), s.DownloadPath(e), want)
			}
		case "inception5h":
			if want := filepath.FromSlash("/cache/convas/models/inception5h/tensorflow_inception_graph.pb"); s.Path(e) != want {
				t.Errorf("inception5h Path = %s, want %s", s.Path(e), want)
			}
		case "cifar10":
			if want := filepath.FromSlash("/cache/convas/models/cifar10/cifar-10-batches-bin"); s.Path(e) != want {
				t.Errorf("cifar10 Path = %s, want %s", s.Path(e), want)
			}
		case "inceptionv3-trunk":
			if s.Path(e) != "" || s.DownloadPath(e) != "" {
				t.Errorf("embedded entry has paths %q, %q", s.Path(e), s.DownloadPath(e))
			}
		}
	}
}

func TestDefaultDirHonoursXDG(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG_CACHE_HOME is read on Linux")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	dir, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "convas", "models"); dir != want {
		t.Errorf("DefaultDir() = %s, want %s", dir, want)
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		st   State
		want string
	}{
		{State{Kind: Missing}, "missing"},
		{State{Kind: Partial, Have: 5, Total: 10}, "partial: 5 of 10 bytes"},
		{State{Kind: Ready}, "ready"},
		{State{Kind: Ready, Note: "older beta16 conversion"}, "ready: older beta16 conversion"},
		{State{Kind: Ready, Unverified: true, Note: "imported without verification"}, "ready, unverified: imported without verification"},
		{State{Kind: Damaged, Err: ErrSize}, "damaged: modelstore: wrong size"},
		{State{Kind: Embedded}, "embedded"},
	}
	for _, tt := range tests {
		if got := tt.st.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.st, got, tt.want)
		}
	}
}
