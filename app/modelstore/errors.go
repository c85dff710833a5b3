package modelstore

import (
	"errors"
	"fmt"
)

// Errors returned by the store, wrapped with the file or URL they concern;
// test for them with errors.Is.
var (
	// ErrChecksum means a file has the right size but the wrong checksum.
	ErrChecksum = errors.New("modelstore: checksum mismatch")
	// ErrSize means a file, a download or an unpacked archive is larger
	// or smaller than the catalog says.
	ErrSize = errors.New("modelstore: wrong size")
	// ErrOffline means the server could not be reached at all (DNS
	// failure, connection refused, no route); the message says where to
	// put a file fetched by hand.
	ErrOffline = errors.New("modelstore: network unreachable")
	// ErrInterrupted means a download stopped before the end; the .part
	// file is kept and the next Fetch resumes it.
	ErrInterrupted = errors.New("modelstore: download interrupted")
	// ErrServer means the server answered with a status or range that
	// the store cannot use.
	ErrServer = errors.New("modelstore: unexpected server response")
	// ErrUnsafePath means an archive holds an entry that would be written
	// outside its folder (an absolute path, a ".." component), a link or
	// a special file; nothing of the archive is kept.
	ErrUnsafePath = errors.New("modelstore: unsafe path in archive")
	// ErrArchive means an archive is malformed or lacks a file the
	// loaders need.
	ErrArchive = errors.New("modelstore: bad archive")
	// ErrIncomplete means some of an entry's files are present but not
	// all, for instance a verified archive not unpacked yet; Fetch
	// completes it without downloading again when the archive is there.
	ErrIncomplete = errors.New("modelstore: incomplete")
	// ErrUnknownEntry means a name is not in the catalog.
	ErrUnknownEntry = errors.New("modelstore: unknown catalog entry")
	// ErrUnknownFile means a file matches no catalog entry; the error is
	// an *UnknownFileError.
	ErrUnknownFile = errors.New("modelstore: unknown model file")
	// ErrEmbedded means an operation was asked of an entry compiled into
	// the binary, which has no files.
	ErrEmbedded = errors.New("modelstore: entry is embedded")
	// ErrBusy means another Fetch, Import or Delete of the same entry is
	// running on this Store.
	ErrBusy = errors.New("modelstore: entry is busy")
)

// UnknownFileError is returned by Store.Import for a file that matches no
// catalog entry by size and checksum (or, for unpacked files, by name).
// The user interface should warn before Store.ImportUnverified uses it.
type UnknownFileError struct {
	// Path is the file that was offered.
	Path string
	// Size is its size in bytes.
	Size int64
	// SameSize lists the entries whose size the file has although its
	// checksum differs: most likely a damaged or different release.
	SameSize []string
}

// Error describes the file and why it was not recognised.
func (e *UnknownFileError) Error() string {
	if len(e.SameSize) > 0 {
		return fmt.Sprintf("modelstore: unknown model file %s: %d bytes like %v, but the checksum differs",
			e.Path, e.Size, e.SameSize)
	}
	return fmt.Sprintf("modelstore: unknown model file %s: no catalog entry has %d bytes", e.Path, e.Size)
}

// Is reports whether target is ErrUnknownFile.
func (e *UnknownFileError) Is(target error) bool { return target == ErrUnknownFile }
