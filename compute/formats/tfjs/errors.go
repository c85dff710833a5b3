package tfjs

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrFormat is matched, with errors.Is, by every [*FormatError].
var ErrFormat = errors.New("tfjs: invalid format")

// FormatError reports malformed input: the file, the byte offset where the problem was found
// and what is wrong.
type FormatError struct {
	// File names the file as the fs.FS it came from names it: the model file or a weight
	// shard. It is empty for the reader given to [DecodeConfig].
	File string
	// Offset is the byte offset in File, or -1 where the problem is not at one place, such as
	// a weight whose shape contradicts its layer.
	Offset int64
	// Msg says what is wrong.
	Msg string
	// Err is the cause, if any: io.ErrUnexpectedEOF when the input ends early.
	Err error
}

// Error returns the message, such as
// "tfjs: invalid format: model.json at offset 812: expected ':' after object key, found '}'".
func (e *FormatError) Error() string {
	s := "tfjs: invalid format: "
	switch {
	case e.File != "" && e.Offset >= 0:
		s += e.File + " at offset " + strconv.FormatInt(e.Offset, 10) + ": "
	case e.File != "":
		s += e.File + ": "
	case e.Offset >= 0:
		s += "at offset " + strconv.FormatInt(e.Offset, 10) + ": "
	}
	s += e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrFormat and the cause, so that errors.Is matches both ErrFormat and, for
// truncated input, io.ErrUnexpectedEOF.
func (e *FormatError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrFormat}
	}
	return []error{ErrFormat, e.Err}
}

// UnsupportedError reports a well-formed model that uses something this package does not read:
// a layer class, an option of a supported layer, a data type, or a graph (not layers) model.
type UnsupportedError struct {
	// File is the model file, if known.
	File string
	// Layer names the layer concerned, if any.
	Layer string
	// Feature is what is not supported, such as `layer class "DepthwiseConv2D"`.
	Feature string
}

// Error returns the message, such as
// `tfjs: model.json: layer "conv2d_7": unsupported: dilation_rate [2 2]`.
func (e *UnsupportedError) Error() string {
	s := "tfjs: "
	if e.File != "" {
		s += e.File + ": "
	}
	if e.Layer != "" {
		s += "layer " + strconv.Quote(e.Layer) + ": "
	}
	return s + "unsupported: " + e.Feature
}

// layerError returns a *FormatError about a layer, at no particular offset.
func layerError(layer, format string, args ...any) error {
	return &FormatError{Offset: -1, Msg: "layer " + strconv.Quote(layer) + ": " + fmt.Sprintf(format, args...)}
}

// unsupported returns an *UnsupportedError about a layer.
func unsupported(layer, format string, args ...any) error {
	return &UnsupportedError{Layer: layer, Feature: fmt.Sprintf(format, args...)}
}

// inFile sets the file of a *FormatError or *UnsupportedError that has none.
func inFile(err error, file string) error {
	var fe *FormatError
	var ue *UnsupportedError
	switch {
	case errors.As(err, &fe) && fe.File == "":
		fe.File = file
	case errors.As(err, &ue) && ue.File == "":
		ue.File = file
	}
	return err
}
