package modelstore

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Import identifies the local file src and adds it to the store.
//
// A file is recognised by its size and checksum as the download of a
// catalog entry (or one of its alternatives, such as the older VGG-19
// conversion); an archive is then unpacked. A file that an archive
// unpacks to (such as inception5h's tensorflow_inception_graph.pb) is
// recognised by its name instead, and Status reports it as unverified.
// Anything else gives an *UnknownFileError, after which the caller may
// warn the user and call ImportUnverified.
//
// The file is hard-linked into the store when it is on the same file
// system, copied otherwise, and renamed into place atomically.
func (s *Store) Import(src string) (Entry, error) {
	fi, err := regularFile(src)
	if err != nil {
		return Entry{}, err
	}
	var (
		cands  []Alternative
		owners []Entry
	)
	for _, e := range s.catalog() {
		if s.check(e) != nil {
			continue
		}
		for _, c := range e.candidates(fi.Size()) {
			cands, owners = append(cands, c), append(owners, e)
		}
	}
	var sameSize []string
	if len(cands) > 0 {
		sums, err := hashFile(src, cands)
		if err != nil {
			return Entry{}, err
		}
		for i, c := range cands {
			if sums[c.Sum.Algorithm] == strings.ToLower(c.Sum.Hex) {
				e := owners[i]
				rec := record{Verified: true, Sum: c.Sum.String(), Note: c.Note}
				return e, s.importDownload(e, src, rec)
			}
			if !slices.Contains(sameSize, owners[i].Name) {
				sameSize = append(sameSize, owners[i].Name)
			}
		}
	}
	for _, e := range s.catalog() {
		if s.check(e) != nil {
			continue
		}
		if rel, ok := unpackedNamed(e, src); ok {
			return e, s.importUnpacked(e, rel, src, "identified by file name only")
		}
	}
	return Entry{}, &UnknownFileError{Path: src, Size: fi.Size(), SameSize: sameSize}
}

// ImportUnverified adds the file src to the store as the catalog entry
// called name without checking it, after Import reported an
// *UnknownFileError and the user chose to go on. A file named like one
// the entry's archive unpacks to is put in its place; any other file
// takes the place of the download (and is unpacked if the entry is an
// archive; an archive that fails to unpack is not kept). Status then
// reports the entry Ready but Unverified, until the file changes.
func (s *Store) ImportUnverified(src, name string) (Entry, error) {
	e, err := s.Lookup(name)
	if err != nil {
		return Entry{}, err
	}
	if err := s.check(e); err != nil {
		return Entry{}, err
	}
	if _, err := regularFile(src); err != nil {
		return Entry{}, err
	}
	const why = "imported without verification"
	if rel, ok := unpackedNamed(e, src); ok {
		return e, s.importUnpacked(e, rel, src, why)
	}
	err = s.importDownload(e, src, record{Unverified: why})
	return e, err
}

// importDownload puts src in the place of the download of e, records rec
// for it and unpacks it if e is an archive. An unverified archive that
// fails to unpack is removed again.
func (s *Store) importDownload(e Entry, src string, rec record) error {
	release, err := s.acquire(e)
	if err != nil {
		return err
	}
	defer release()
	dst := s.DownloadPath(e)
	if err := os.MkdirAll(s.entryDir(e), 0o755); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	if err := place(src, dst); err != nil {
		return err
	}
	os.Remove(s.partPath(e)) // superseded
	fi, err := os.Stat(dst)
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	rec.Size, rec.ModTime = fi.Size(), fi.ModTime().UnixNano()
	_ = s.remember(e, func(m map[string]record) { m[e.File] = rec })
	if e.Format.archive() == "" {
		return nil
	}
	err = s.unpack(e, dst)
	if err != nil && !rec.Verified {
		os.Remove(dst)
		_ = s.remember(e, func(m map[string]record) { delete(m, e.File) })
	}
	return err
}

// importUnpacked puts src in the place of the unpacked file rel of e and
// records it as accepted without a checksum, for the reason why.
func (s *Store) importUnpacked(e Entry, rel, src, why string) error {
	release, err := s.acquire(e)
	if err != nil {
		return err
	}
	defer release()
	dst := filepath.Join(s.entryDir(e), filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	if err := place(src, dst); err != nil {
		return err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	rec := newRecord(fi)
	rec.Unverified = why
	_ = s.remember(e, func(m map[string]record) { m[rel] = rec })
	return nil
}

// unpackedNamed returns the unpacked file of e whose base name is that of
// src.
func unpackedNamed(e Entry, src string) (string, bool) {
	base := filepath.Base(src)
	for _, rel := range e.unpacked() {
		if path.Base(rel) == base {
			return rel, true
		}
	}
	return "", false
}

// regularFile stats src and rejects anything but a regular file.
func regularFile(src string) (os.FileInfo, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("modelstore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("modelstore: import %s: not a regular file", src)
	}
	return fi, nil
}

// place puts the file src at dst atomically: a hard link when src is on
// the same file system, a copy otherwise, renamed over dst.
func place(src, dst string) error {
	if sfi, err := os.Stat(src); err == nil {
		if dfi, err := os.Stat(dst); err == nil && os.SameFile(sfi, dfi) {
			return nil // already in place
		}
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".import-*")
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	tmp := f.Name()
	f.Close()
	os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(src, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("modelstore: %w", err)
	}
	return nil
}

// copyFile copies src to the new file dst and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("modelstore: copy %s to %s: %w", src, dst, err)
	}
	return nil
}
