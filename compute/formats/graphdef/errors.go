package graphdef

import (
	"errors"
	"fmt"
)

// Sentinel errors, for use with errors.Is.
var (
	// ErrFormat is matched by every [*FormatError] and by the accessor errors
	// about values that contradict themselves (a tensor whose content does not
	// match its shape).
	ErrFormat = errors.New("graphdef: invalid format")
	// ErrNotFound is wrapped by the errors of accessors of attributes a node
	// does not have.
	ErrNotFound = errors.New("graphdef: not found")
)

// FormatError reports malformed input and the byte offset where it was found.
type FormatError struct {
	Offset int64
	Msg    string
	// Err is the cause, if any: io.ErrUnexpectedEOF when the input ends early.
	Err error
}

// Error returns the message, such as "graphdef: invalid format at offset 128: ...".
func (e *FormatError) Error() string {
	s := fmt.Sprintf("graphdef: invalid format at offset %d: %s", e.Offset, e.Msg)
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

// UnsupportedError reports a valid GraphDef, or a value in one, that this
// package does not read, such as the float32 values of a string tensor.
type UnsupportedError struct {
	Feature string
}

// Error returns the message, which names what is not supported.
func (e *UnsupportedError) Error() string { return "graphdef: unsupported: " + e.Feature }
