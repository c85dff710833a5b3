package mat

import (
	"errors"
	"fmt"
)

// Sentinel errors, for use with errors.Is.
var (
	// ErrFormat is matched by every [*FormatError]: input that is not a valid MAT-file.
	ErrFormat = errors.New("mat: invalid format")
	// ErrNotFound is wrapped by the errors of [Lookup] and the accessors when a
	// variable, field or element does not exist or has another type.
	ErrNotFound = errors.New("mat: not found")
)

// FormatError reports malformed input and the byte offset where it was found.
// Inside a compressed element, Offset is that of the element and Msg gives the
// offset in the decompressed data.
type FormatError struct {
	Offset int64
	Msg    string
	// Err is the cause, if any: io.ErrUnexpectedEOF when the input ends early,
	// or an error from compress/zlib.
	Err error
}

// Error returns the message, such as "mat: invalid format at offset 128: ...".
func (e *FormatError) Error() string {
	s := fmt.Sprintf("mat: invalid format at offset %d: %s", e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrFormat and the cause, so that errors.Is matches both
// ErrFormat and, for truncated input, io.ErrUnexpectedEOF.
func (e *FormatError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrFormat}
	}
	return []error{ErrFormat, e.Err}
}

// UnsupportedError reports a valid MAT-file that uses a feature this package
// does not read.
type UnsupportedError struct {
	Offset int64
	// Path names the array, such as "net.layers{3}.weights"; empty for the file as a whole.
	Path    string
	Feature string
}

// Error returns the message, which names what is not supported.
func (e *UnsupportedError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("mat: unsupported at offset %d: %s", e.Offset, e.Feature)
	}
	return fmt.Sprintf("mat: unsupported at offset %d: %s: %s", e.Offset, e.Path, e.Feature)
}
