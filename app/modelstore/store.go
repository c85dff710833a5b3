package modelstore

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Store is a folder of downloaded and imported models. The zero value of
// each field but Dir has a default. A Store must not be copied after first
// use; its methods are safe for concurrent use.
type Store struct {
	// Dir is the store folder, normally DefaultDir().
	Dir string
	// Client makes the downloads; nil means http.DefaultClient. Cancel
	// through the context given to Fetch rather than Client.Timeout,
	// which would also cut off a slow but healthy download.
	Client *http.Client
	// Catalog lists the entries Import recognises and Lookup finds; nil
	// means Catalog().
	Catalog []Entry

	mu   sync.Mutex      // guards busy and the sidecar files
	busy map[string]bool // entry names with a Fetch, Import or Delete running
}

// DefaultDir returns the usual store folder: convas/models inside the user
// cache directory of os.UserCacheDir ($XDG_CACHE_HOME or ~/.cache on
// Linux).
func DefaultDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("modelstore: no cache directory: %w", err)
	}
	return filepath.Join(cache, "convas", "models"), nil
}

// Lookup returns the catalog entry with the given name, or an error
// wrapping ErrUnknownEntry.
func (s *Store) Lookup(name string) (Entry, error) {
	for _, e := range s.catalog() {
		if e.Name == name {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%w: %q", ErrUnknownEntry, name)
}

// Path returns the file or folder that loaders should open for e (see
// Entry.Open), or "" for an embedded entry. It does not check that the
// path exists: ask Status first.
func (s *Store) Path(e Entry) string {
	if e.Format == FormatEmbedded {
		return ""
	}
	return filepath.Join(s.entryDir(e), filepath.FromSlash(e.Open))
}

// DownloadPath returns where the downloaded file of e is kept once
// verified, or "" for an embedded entry. A file fetched by hand can be
// saved there; the next Status or Fetch verifies it.
func (s *Store) DownloadPath(e Entry) string {
	if e.Format == FormatEmbedded {
		return ""
	}
	return filepath.Join(s.entryDir(e), e.File)
}

// Delete removes every file of e from the store, a partial download
// included.
func (s *Store) Delete(e Entry) error {
	if err := s.check(e); err != nil {
		return err
	}
	release, err := s.acquire(e)
	if err != nil {
		return err
	}
	defer release()
	if err := os.RemoveAll(s.entryDir(e)); err != nil {
		return fmt.Errorf("modelstore: delete %s: %w", e.Name, err)
	}
	return nil
}

// catalog returns the store's catalog.
func (s *Store) catalog() []Entry {
	if s.Catalog != nil {
		return s.Catalog
	}
	return Catalog()
}

// client returns the HTTP client to download with.
func (s *Store) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return http.DefaultClient
}

// entryDir returns the folder of e.
func (s *Store) entryDir(e Entry) string { return filepath.Join(s.Dir, e.Name) }

// partPath returns the partial download of e.
func (s *Store) partPath(e Entry) string { return s.DownloadPath(e) + ".part" }

// check rejects embedded entries and names that would not stay inside
// the store folder.
func (s *Store) check(e Entry) error {
	if e.Format == FormatEmbedded {
		return fmt.Errorf("%w: %s", ErrEmbedded, e.Name)
	}
	if s.Dir == "" {
		return fmt.Errorf("modelstore: store has no folder")
	}
	for _, name := range []string{e.Name, e.File} {
		if !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) || name == sidecarName {
			return fmt.Errorf("modelstore: invalid name %q in catalog entry %q", name, e.Name)
		}
	}
	return nil
}

// acquire marks e busy until the returned function is called, or fails
// with ErrBusy.
func (s *Store) acquire(e Entry) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[e.Name] {
		return nil, fmt.Errorf("%w: %s", ErrBusy, e.Name)
	}
	if s.busy == nil {
		s.busy = make(map[string]bool)
	}
	s.busy[e.Name] = true
	return func() {
		s.mu.Lock()
		delete(s.busy, e.Name)
		s.mu.Unlock()
	}, nil
}

// sidecarName is the file in each entry folder that caches verification.
const sidecarName = ".verified.json"

// record is the cached verdict on one file, valid while its size and
// modification time are unchanged.
type record struct {
	Size    int64 `json:"size"`
	ModTime int64 `json:"mtime_ns"`
	// Sum is the checksum the file matched ("md5:…"), when Verified.
	Sum      string `json:"sum,omitempty"`
	Verified bool   `json:"verified,omitempty"`
	// BadSum is the checksum computed for a file that matched nothing.
	BadSum string `json:"bad_sum,omitempty"`
	// Unverified says why a file was accepted without a checksum.
	Unverified string `json:"unverified,omitempty"`
	// Note is shown with the state, e.g. which alternative matched.
	Note string `json:"note,omitempty"`
}

// fresh reports whether r still describes the file fi.
func (r record) fresh(fi fs.FileInfo) bool {
	return r.Size == fi.Size() && r.ModTime == fi.ModTime().UnixNano()
}

// newRecord starts a record for the file fi.
func newRecord(fi fs.FileInfo) record {
	return record{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
}

// sidecar is the content of the sidecar file, keyed by slash-separated
// paths relative to the entry folder.
type sidecar struct {
	Files map[string]record `json:"files"`
}

// records returns the cached records of e; a missing or unreadable
// sidecar gives none.
func (s *Store) records(e Entry) map[string]record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readSidecar(e).Files
}

// readSidecar reads the sidecar of e; the caller holds s.mu.
func (s *Store) readSidecar(e Entry) sidecar {
	var sc sidecar
	if b, err := os.ReadFile(filepath.Join(s.entryDir(e), sidecarName)); err == nil {
		_ = json.Unmarshal(b, &sc) // a damaged cache only costs a new verification
	}
	if sc.Files == nil {
		sc.Files = make(map[string]record)
	}
	return sc
}

// remember changes the cached records of e through edit and writes the
// sidecar atomically. The cache is an optimisation: callers may ignore
// its error.
func (s *Store) remember(e Entry, edit func(map[string]record)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.readSidecar(e)
	edit(sc.Files)
	b, err := json.MarshalIndent(sc, "", "\t")
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	return writeAtomic(filepath.Join(s.entryDir(e), sidecarName), b)
}

// writeAtomic writes b to a temporary file beside name and renames it.
func writeAtomic(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("modelstore: %w", err)
	}
	return nil
}
