package modelstore

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5Sum(b []byte) Checksum {
	s := md5.Sum(b)
	return Checksum{MD5, hex.EncodeToString(s[:])}
}

func sha256Sum(b []byte) Checksum {
	s := sha256.Sum256(b)
	return Checksum{SHA256, hex.EncodeToString(s[:])}
}

// matEntry is a catalog entry for data used as is (like the VGG file).
func matEntry(name, url string, data []byte) Entry {
	return Entry{
		Name: name, Title: name, URL: url, Size: int64(len(data)), Sum: md5Sum(data),
		Licence: "test", Format: FormatMAT, File: name + ".mat",
		Files: []string{name + ".mat"}, Open: name + ".mat",
	}
}

// zipEntry is a catalog entry shaped like inception5h for the zip data.
func zipEntry(name, url string, data []byte) Entry {
	return Entry{
		Name: name, Title: name, URL: url, Size: int64(len(data)), Sum: sha256Sum(data),
		Licence: "test", Format: FormatGraphDefZip, File: name + ".zip",
		Files:    []string{"tensorflow_inception_graph.pb"},
		Optional: []string{"imagenet_comp_graph_label_strings.txt"},
		Open:     "tensorflow_inception_graph.pb", MaxUnpacked: 1 << 20,
	}
}

// tgzEntry is a catalog entry shaped like cifar10 for the tar.gz data.
func tgzEntry(name, url string, data []byte) Entry {
	return Entry{
		Name: name, Title: name, URL: url, Size: int64(len(data)), Sum: md5Sum(data),
		Licence: "test", Format: FormatCIFARTarGz, File: name + ".tar.gz",
		Files:       []string{"cifar-10-batches-bin/data_batch_1.bin", "cifar-10-batches-bin/batches.meta.txt"},
		Open:        "cifar-10-batches-bin",
		MaxUnpacked: 1 << 20,
	}
}

// newStore returns a store in a fresh folder with the given catalog, and
// the folder above it (to check that nothing lands outside the store).
func newStore(t *testing.T, entries ...Entry) (*Store, string) {
	t.Helper()
	base := t.TempDir()
	return &Store{Dir: filepath.Join(base, "store"), Catalog: entries}, base
}

// fileServer serves one file with Range support and records what it saw.
type fileServer struct {
	data []byte

	mu     sync.Mutex
	ranges []string // the Range header of each request ("" when none)
	sent   int64    // body bytes written
}

func (f *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	f.mu.Unlock()
	http.ServeContent(&countingWriter{ResponseWriter: w, f: f}, r, "model.bin", time.Time{}, bytes.NewReader(f.data))
}

// countingWriter counts the body bytes a handler writes.
type countingWriter struct {
	http.ResponseWriter
	f *fileServer
}

// Write counts b before sending it, so that the count is complete by
// the time the client has read the bytes.
func (c *countingWriter) Write(b []byte) (int, error) {
	c.f.mu.Lock()
	c.f.sent += int64(len(b))
	c.f.mu.Unlock()
	return c.ResponseWriter.Write(b)
}

// seen returns the Range headers of the requests so far and the body
// bytes sent.
func (f *fileServer) seen() (ranges []string, sent int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ranges...), f.sent
}

// serve starts an httptest server for h and returns its URL for /f.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/f"
}

// closedURL returns a URL on a loopback port that nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/model.bin"
}

// writeFile writes data to name, creating folders.
func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustRead returns the content of name.
func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exists reports whether name exists (without following a final link).
func exists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

// archiveFile is one entry of a test archive.
type archiveFile struct {
	Name     string
	Body     string
	Mode     fs.FileMode // zip: ModeSymlink, ModeDir; 0 means a regular file
	Typeflag byte        // tar: 0 means TypeReg
	Linkname string      // tar links
}

// makeZip builds a zip archive holding files, names unchecked.
func makeZip(t *testing.T, files ...archiveFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate}
		h.SetMode(f.Mode | 0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.Body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeTarGz builds a gzipped tar archive holding files, names unchecked.
func makeTarGz(t *testing.T, files ...archiveFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: 0o644, Typeflag: f.Typeflag, Linkname: f.Linkname}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(f.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// filesUnder lists every path below dir, relative to it.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
