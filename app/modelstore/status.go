package modelstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Kind is the overall state of a catalog entry in the store.
type Kind int

// The states of an entry.
const (
	// Missing: nothing of the entry is in the store.
	Missing Kind = iota
	// Partial: a download stopped part way; Fetch resumes it.
	Partial
	// Ready: the files loaders need are present (and verified, unless
	// State.Unverified is set).
	Ready
	// Damaged: a file is present but has the wrong size or checksum, or
	// some files are missing; State.Err says which.
	Damaged
	// Embedded: compiled into the binary, always available.
	Embedded
)

// String returns the lowercase name of k.
func (k Kind) String() string {
	switch k {
	case Missing:
		return "missing"
	case Partial:
		return "partial"
	case Ready:
		return "ready"
	case Damaged:
		return "damaged"
	case Embedded:
		return "embedded"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// State is what Status found for one entry.
type State struct {
	// Kind is the overall state.
	Kind Kind
	// Have is the size of the partial download in bytes (Partial only).
	Have int64
	// Total is the size of the complete download in bytes.
	Total int64
	// Unverified is set when Ready files were accepted without a checksum
	// (ImportUnverified, an unpacked file imported by name, or files put
	// in the folder by hand).
	Unverified bool
	// Note tells more about a Ready entry, such as which alternative
	// release matched or why it is unverified.
	Note string
	// Err is the reason an entry is Damaged; errors.Is tells ErrSize,
	// ErrChecksum and ErrIncomplete apart.
	Err error
}

// String describes the state in a few words.
func (st State) String() string {
	switch st.Kind {
	case Partial:
		return fmt.Sprintf("partial: %d of %d bytes", st.Have, st.Total)
	case Damaged:
		return "damaged: " + st.Err.Error()
	case Ready:
		if st.Unverified {
			return "ready, unverified: " + st.Note
		}
		if st.Note != "" {
			return "ready: " + st.Note
		}
	}
	return st.Kind.String()
}

// Status reports whether e is ready to load, partly downloaded, missing
// or damaged. The first call after a file appears or changes hashes it
// (seconds for hundreds of megabytes); the verdict is cached in the
// entry's sidecar file under the file's size and modification time, so
// later calls only stat the files. While a Fetch or Import of e runs,
// Status reports what is on disk at that moment (Partial during a download).
func (s *Store) Status(e Entry) State {
	if e.Format == FormatEmbedded {
		return State{Kind: Embedded}
	}
	if err := s.check(e); err != nil {
		return State{Kind: Damaged, Total: e.Size, Err: err}
	}
	fi, err := os.Stat(s.DownloadPath(e))
	switch {
	case err == nil:
		return s.downloadedState(e, fi)
	case !errors.Is(err, fs.ErrNotExist):
		return State{Kind: Damaged, Total: e.Size, Err: fmt.Errorf("modelstore: %w", err)}
	}
	return s.undownloadedState(e)
}

// downloadedState is the state of e when its download (fi) is there.
func (s *Store) downloadedState(e Entry, fi fs.FileInfo) State {
	st := State{Total: e.Size}
	rec, err := s.verify(e, fi)
	if err == nil {
		err = s.checkUnpacked(e)
	}
	if err != nil {
		st.Kind, st.Err = Damaged, err
		return st
	}
	st.Kind, st.Note = Ready, rec.Note
	if rec.Unverified != "" {
		st.Unverified = true
		if st.Note == "" {
			st.Note = rec.Unverified
		}
	}
	return st
}

// undownloadedState is the state of e without its download: unpacked
// files imported by name or put there by hand, a partial download, or
// nothing.
func (s *Store) undownloadedState(e Entry) State {
	st := State{Total: e.Size}
	present, missing := s.unpackedFiles(e)
	if len(present) > 0 && len(missing) == 0 {
		if err := s.checkUnpacked(e); err != nil {
			st.Kind, st.Err = Damaged, err
			return st
		}
		st.Kind, st.Unverified, st.Note = Ready, true, "unpacked files present without their archive"
		if rec := s.records(e)[present[0]]; rec.Unverified != "" {
			st.Note = rec.Unverified
		}
		return st
	}
	if fi, err := os.Stat(s.partPath(e)); err == nil {
		st.Kind, st.Have = Partial, fi.Size()
		return st
	}
	if len(present) > 0 {
		st.Kind = Damaged
		st.Err = fmt.Errorf("%w: %s: missing %s", ErrIncomplete, s.entryDir(e), strings.Join(missing, ", "))
		return st
	}
	st.Kind = Missing
	return st
}

// unpackedFiles splits the needed unpacked files of e into those present
// and those missing.
func (s *Store) unpackedFiles(e Entry) (present, missing []string) {
	if e.Format.archive() == "" {
		return nil, nil
	}
	for _, rel := range e.Files {
		if _, err := os.Stat(filepath.Join(s.entryDir(e), filepath.FromSlash(rel))); err == nil {
			present = append(present, rel)
		} else {
			missing = append(missing, rel)
		}
	}
	return present, missing
}

// checkUnpacked checks that the needed unpacked files of e exist and that
// none changed size since it was recorded.
func (s *Store) checkUnpacked(e Entry) error {
	if e.Format.archive() == "" {
		return nil
	}
	if _, missing := s.unpackedFiles(e); len(missing) > 0 {
		return fmt.Errorf("%w: %s: %s not unpacked; fetch again to unpack",
			ErrIncomplete, s.entryDir(e), strings.Join(missing, ", "))
	}
	recs := s.records(e)
	for _, rel := range e.unpacked() {
		name := filepath.Join(s.entryDir(e), filepath.FromSlash(rel))
		fi, err := os.Stat(name)
		if rec, ok := recs[rel]; ok && err == nil && fi.Size() != rec.Size {
			return fmt.Errorf("%w: %s: %d bytes, %d when unpacked", ErrSize, name, fi.Size(), rec.Size)
		}
	}
	return nil
}

// verify checks the downloaded file of e (described by fi) against the
// catalog size and checksums, using and updating the cached verdict.
func (s *Store) verify(e Entry, fi fs.FileInfo) (record, error) {
	name := s.DownloadPath(e)
	if rec, ok := s.records(e)[e.File]; ok && rec.fresh(fi) {
		switch {
		case rec.Verified || rec.Unverified != "":
			return rec, nil
		case rec.BadSum != "":
			return rec, checksumError(name, rec.BadSum, e.candidates(fi.Size()))
		}
	}
	cands := e.candidates(fi.Size())
	if len(cands) == 0 {
		return record{}, fmt.Errorf("%w: %s: %d bytes, want %d", ErrSize, name, fi.Size(), e.Size)
	}
	sums, err := hashFile(name, cands)
	if err != nil {
		return record{}, err
	}
	rec := newRecord(fi)
	if c, ok := matchSum(cands, sums); ok {
		rec.Verified, rec.Sum, rec.Note = true, c.Sum.String(), c.Note
	} else {
		rec.BadSum = Checksum{cands[0].Sum.Algorithm, sums[cands[0].Sum.Algorithm]}.String()
	}
	_ = s.remember(e, func(m map[string]record) { m[e.File] = rec })
	if !rec.Verified {
		return rec, checksumError(name, rec.BadSum, cands)
	}
	return rec, nil
}

// checksumError reports a file whose checksum got matches none of want.
func checksumError(name, got string, want []Alternative) error {
	ws := make([]string, len(want))
	for i, w := range want {
		ws[i] = w.Sum.String()
	}
	return fmt.Errorf("%w: %s: got %s, want %s", ErrChecksum, name, got, strings.Join(ws, " or "))
}

// matchSum returns the first candidate whose checksum is in sums.
func matchSum(cands []Alternative, sums map[Algorithm]string) (Alternative, bool) {
	for _, c := range cands {
		if sums[c.Sum.Algorithm] == strings.ToLower(c.Sum.Hex) {
			return c, true
		}
	}
	return Alternative{}, false
}

// hashFile reads name once and returns its hex digest under every
// algorithm the candidates use.
func hashFile(name string, cands []Alternative) (map[Algorithm]string, error) {
	hashes := make(map[Algorithm]hash.Hash)
	var ws []io.Writer
	for _, c := range cands {
		if _, ok := hashes[c.Sum.Algorithm]; ok {
			continue
		}
		h, err := c.Sum.Algorithm.newHash()
		if err != nil {
			return nil, err
		}
		hashes[c.Sum.Algorithm] = h
		ws = append(ws, h)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("modelstore: %w", err)
	}
	defer f.Close()
	if _, err := io.CopyBuffer(io.MultiWriter(ws...), f, make([]byte, 1<<20)); err != nil {
		return nil, fmt.Errorf("modelstore: %w", err)
	}
	sums := make(map[Algorithm]string, len(hashes))
	for a, h := range hashes {
		sums[a] = hex.EncodeToString(h.Sum(nil))
	}
	return sums, nil
}
