package modelstore

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// unpack extracts the archive of e into a temporary folder inside the
// entry folder, checks that the files loaders need are there, and moves
// what it unpacked into the entry folder.
func (s *Store) unpack(e Entry, archive string) error {
	dir := s.entryDir(e)
	tmp, err := os.MkdirTemp(dir, ".unpack-")
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := extract(e, archive, tmp); err != nil {
		return err
	}
	if err := moveInto(tmp, dir); err != nil {
		return err
	}
	_ = s.remember(e, func(m map[string]record) {
		for _, rel := range e.unpacked() {
			delete(m, rel)
			if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel))); err == nil {
				m[rel] = newRecord(fi)
			}
		}
	})
	return nil
}

// extract unpacks the archive of e into the folder tmp and checks that
// the files loaders need are there.
func extract(e Entry, archive, tmp string) error {
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	defer root.Close()
	limit := e.MaxUnpacked
	if limit <= 0 {
		limit = 4*e.Size + 1<<20
	}
	x := &extractor{archive: archive, root: root, limit: limit, left: limit, reserved: func(top string) bool {
		return top == e.File || top == e.File+".part" || top == sidecarName ||
			strings.HasPrefix(top, ".unpack-") || strings.HasPrefix(top, ".tmp-") ||
			strings.HasPrefix(top, ".import-")
	}}
	switch e.Format.archive() {
	case "zip":
		err = x.zip()
	case "tar.gz":
		err = x.tarGz()
	default:
		err = fmt.Errorf("modelstore: %s: format %q is not an archive", e.Name, e.Format)
	}
	if err != nil {
		return err
	}
	for _, rel := range e.Files {
		if _, err := root.Stat(filepath.FromSlash(rel)); err != nil {
			return fmt.Errorf("%w: %s: no %s inside", ErrArchive, archive, rel)
		}
	}
	return nil
}

// moveInto moves everything in the folder tmp into dir, replacing what
// has the same name there.
func moveInto(tmp, dir string) error {
	items, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	for _, it := range items {
		dst := filepath.Join(dir, it.Name())
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("modelstore: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, it.Name()), dst); err != nil {
			return fmt.Errorf("modelstore: %w", err)
		}
	}
	return nil
}

// extractor writes the entries of one archive below root, refusing
// entries that would land outside it and stopping at a total size.
type extractor struct {
	archive  string // the archive file, for messages
	root     *os.Root
	limit    int64 // bytes the archive may unpack to
	left     int64 // bytes still allowed
	reserved func(top string) bool
}

// zip extracts a zip archive.
func (x *extractor) zip() error {
	zr, err := zip.OpenReader(x.archive)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // insecure names are refused one by one below
		return fmt.Errorf("%w: %s: %w", ErrArchive, x.archive, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return x.unsafe(f.Name, "symbolic link")
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			if err := x.dir(f.Name); err != nil {
				return err
			}
		case !mode.IsRegular():
			return x.unsafe(f.Name, "special file")
		default:
			if f.UncompressedSize64 > uint64(x.left) {
				return x.tooBig(f.Name)
			}
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("%w: %s: entry %q: %w", ErrArchive, x.archive, f.Name, err)
			}
			err = x.file(f.Name, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// tarGz extracts a gzipped tar archive.
func (x *extractor) tarGz() error {
	fh, err := os.Open(x.archive)
	if err != nil {
		return fmt.Errorf("modelstore: %w", err)
	}
	defer fh.Close()
	gz, err := gzip.NewReader(bufio.NewReader(fh))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrArchive, x.archive, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrArchive, x.archive, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = x.dir(h.Name)
		case tar.TypeSymlink:
			err = x.unsafe(h.Name, fmt.Sprintf("symbolic link to %q", h.Linkname))
		case tar.TypeLink:
			err = x.unsafe(h.Name, fmt.Sprintf("hard link to %q", h.Linkname))
		case tar.TypeXGlobalHeader:
			continue
		default:
			switch {
			case !h.FileInfo().Mode().IsRegular():
				err = x.unsafe(h.Name, fmt.Sprintf("special file (type %q)", h.Typeflag))
			case h.Size > x.left:
				err = x.tooBig(h.Name)
			default:
				err = x.file(h.Name, tr)
			}
		}
		if err != nil {
			return err
		}
	}
	// Read to the end of the gzip stream so that its checksum is checked.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrArchive, x.archive, err)
	}
	return nil
}

// dir creates the folder an archive entry names.
func (x *extractor) dir(name string) error {
	clean, err := x.localName(name)
	if err != nil || clean == "" {
		return err
	}
	if err := x.root.MkdirAll(filepath.FromSlash(clean), 0o755); err != nil {
		return fmt.Errorf("modelstore: %s: entry %q: %w", x.archive, name, err)
	}
	return nil
}

// file writes the regular file an archive entry names, reading r.
func (x *extractor) file(name string, r io.Reader) error {
	clean, err := x.localName(name)
	if err != nil {
		return err
	}
	if clean == "" {
		return x.unsafe(name, "file named like the folder itself")
	}
	if d := path.Dir(clean); d != "." {
		if err := x.root.MkdirAll(filepath.FromSlash(d), 0o755); err != nil {
			return fmt.Errorf("modelstore: %s: entry %q: %w", x.archive, name, err)
		}
	}
	f, err := x.root.OpenFile(filepath.FromSlash(clean), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s: entry %q appears twice", ErrArchive, x.archive, name)
	}
	if err != nil {
		return fmt.Errorf("modelstore: %s: entry %q: %w", x.archive, name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, x.left+1))
	if cerr := f.Close(); err == nil && cerr != nil {
		return fmt.Errorf("modelstore: %s: entry %q: %w", x.archive, name, cerr)
	}
	if n > x.left {
		return x.tooBig(name)
	}
	x.left -= n
	if err != nil {
		return fmt.Errorf("%w: %s: entry %q: %w", ErrArchive, x.archive, name, err)
	}
	return nil
}

// localName checks that an entry name stays inside the folder and returns
// it cleaned, or "" for the folder itself.
func (x *extractor) localName(name string) (string, error) {
	switch {
	case name == "":
		return "", x.unsafe(name, "empty name")
	case strings.ContainsRune(name, 0):
		return "", x.unsafe(name, "NUL in name")
	case strings.Contains(name, `\`):
		return "", x.unsafe(name, "backslash in name")
	case strings.HasPrefix(name, "/") || filepath.IsAbs(name) || filepath.VolumeName(name) != "":
		return "", x.unsafe(name, "absolute path")
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", x.unsafe(name, "parent directory (..) component")
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", x.unsafe(name, "not a local path")
	}
	if top, _, _ := strings.Cut(clean, "/"); x.reserved(top) {
		return "", x.unsafe(name, "name reserved by the model store")
	}
	return clean, nil
}

// unsafe reports an entry that must not be unpacked.
func (x *extractor) unsafe(name, why string) error {
	return fmt.Errorf("%w: %s: entry %q: %s", ErrUnsafePath, x.archive, name, why)
}

// tooBig reports an archive that unpacks to more than the limit.
func (x *extractor) tooBig(name string) error {
	return fmt.Errorf("%w: %s unpacks to more than %d bytes (at entry %q)", ErrSize, x.archive, x.limit, name)
}
