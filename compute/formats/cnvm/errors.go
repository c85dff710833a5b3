package cnvm

import (
	"errors"
	"strconv"
)

// Sentinel errors, for use with errors.Is.
var (
	// ErrFormat is matched by every [*FormatError].
	ErrFormat = errors.New("cnvm: invalid format")
	// ErrChecksum is matched by the *FormatError of a chunk whose CRC does not match.
	ErrChecksum = errors.New("cnvm: invalid checksum")
)

// FormatError reports a damaged or malformed file and the byte offset where it was found.
type FormatError struct {
	// Offset is the byte offset in the file, or -1 where the problem is not at one place (a
	// layer that names a tensor the file does not have).
	Offset int64
	// Msg says what is wrong.
	Msg string
	// Err is the cause, if any: io.ErrUnexpectedEOF when the file ends early, ErrChecksum
	// when a chunk's CRC does not match.
	Err error
}

// Error returns the message, such as
// "cnvm: invalid format at offset 8: chunk GRPH: cnvm: invalid checksum".
func (e *FormatError) Error() string {
	s := "cnvm: invalid format"
	if e.Offset >= 0 {
		s += " at offset " + strconv.FormatInt(e.Offset, 10)
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrFormat and the cause, so that errors.Is matches both ErrFormat and, for a
// truncated file, io.ErrUnexpectedEOF.
func (e *FormatError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrFormat}
	}
	return []error{ErrFormat, e.Err}
}

// UnsupportedError reports a well-formed file that this package does not read: a later version,
// flags it does not know, a critical chunk type it does not know, or a dtype it does not know.
type UnsupportedError struct {
	// Feature is what is not supported, such as "version 2".
	Feature string
}

// Error returns the message, which names what is not supported.
func (e *UnsupportedError) Error() string { return "cnvm: unsupported: " + e.Feature }
