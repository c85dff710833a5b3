package app

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A run's settings travel inside the PNG it produced, as JSON in a tEXt chunk, so opening the
// picture again restores them (the dream and the style runs both do it).

// errNoText reports a PNG without a tEXt chunk of the wanted keyword.
var errNoText = errors.New("png: no such text chunk")

// savePNGWithSettings writes img as a PNG file with settings as JSON in a tEXt chunk named key
// (and Software = Convas), atomically, readable by everyone.
func savePNGWithSettings(path string, img image.Image, key string, settings any) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	js, err := json.Marshal(settings)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	b, err := withTextChunks(buf.Bytes(), [][2]string{{"Software", "Convas"}, {key, asciiJSON(js)}})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := writeFileAtomic(path, b); err != nil {
		return err
	}
	// writeFileAtomic's temporary file is private (0600); a picture is for sharing.
	if err := os.Chmod(path, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readPNGSettings decodes the JSON of the tEXt chunk named key of the PNG file at path into
// into (whose fields keep their values where the JSON lacks a key). A PNG without the chunk gives
// notFound; what names the settings in errors; every error names the file.
func readPNGSettings(path, key, what string, into any, notFound error) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %s", path, unwrapPath(err))
	}
	text, err := pngText(b, key)
	if errors.Is(err, errNoText) {
		err = notFound
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal([]byte(text), into); err != nil {
		return fmt.Errorf("%s: %s: %v", path, what, err)
	}
	return nil
}

// pngSignature starts every PNG file.
const pngSignature = "\x89PNG\r\n\x1a\n"

// withTextChunks inserts tEXt chunks (keyword, text; both Latin-1, here ASCII) right after the
// IHDR chunk of an encoded PNG.
func withTextChunks(p []byte, texts [][2]string) ([]byte, error) {
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	if len(p) < ihdrEnd || string(p[:8]) != pngSignature || string(p[12:16]) != "IHDR" {
		return nil, errors.New("png: no IHDR chunk at the start")
	}
	out := append([]byte(nil), p[:ihdrEnd]...)
	for _, t := range texts {
		data := append(append([]byte(t[0]), 0), t[1]...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
		start := len(out)
		out = append(append(out, "tEXt"...), data...)
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
	}
	return append(out, p[ihdrEnd:]...), nil
}

// pngText returns the text of the first tEXt chunk with the keyword, checking every chunk's
// length and checksum up to it; errNoText when the file has none.
func pngText(p []byte, keyword string) (string, error) {
	if len(p) < 8 || string(p[:8]) != pngSignature {
		return "", errors.New("not a PNG file")
	}
	for off := 8; ; {
		if off == len(p) {
			return "", fmt.Errorf("png: cut off before its IEND chunk: %w", io.ErrUnexpectedEOF)
		}
		if len(p)-off < 12 {
			return "", fmt.Errorf("png: chunk at offset %d: %w", off, io.ErrUnexpectedEOF)
		}
		n := int(binary.BigEndian.Uint32(p[off:]))
		typ := string(p[off+4 : off+8])
		if n > len(p)-off-12 {
			return "", fmt.Errorf("png: chunk %q at offset %d: %w", typ, off, io.ErrUnexpectedEOF)
		}
		body := p[off+4 : off+8+n]
		if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(p[off+8+n:]) {
			return "", fmt.Errorf("png: chunk %q at offset %d: checksum mismatch", typ, off)
		}
		if typ == "tEXt" {
			if k, v, ok := bytes.Cut(body[4:], []byte{0}); ok && string(k) == keyword {
				return string(v), nil
			}
		}
		if typ == "IEND" {
			return "", errNoText
		}
		off += 12 + n
	}
}

// asciiJSON escapes every non-ASCII character of a JSON text as \uXXXX, so that it fits a tEXt
// chunk (Latin-1) and reads back as the same UTF-8.
func asciiJSON(js []byte) string {
	var sb strings.Builder
	for _, r := range string(js) {
		switch {
		case r < utf8.RuneSelf:
			sb.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&sb, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&sb, `\u%04x`, r)
		}
	}
	return sb.String()
}
