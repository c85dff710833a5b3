package transfer

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/disintegration/imaging"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/nn"
)

// DefaultBatch is how many pictures an Extractor runs through the backbone at once.
const DefaultBatch = 4

// Extractor runs a backbone's graph on batches of pictures. Like every Gorgonia graph it belongs
// to one goroutine.
type Extractor struct {
	b        Backbone
	batch    int
	g        *G.ExprGraph
	input    *G.Node
	features *G.Node
	vm       G.VM
	x        *tensor.Dense
	place    *nn.Placement // the backbone's ops on an accelerator; nil: the CPU
}

// NewExtractor builds and compiles the backbone's graph for batches of the given size, on the
// CPU.
func NewExtractor(b Backbone, batch int) (*Extractor, error) { return NewExtractorOn(b, batch, nil) }

// NewExtractorOn is NewExtractor with the backbone's convolutions, pooling and ReLUs on acc
// (nil: the CPU), its weights uploaded once.
func NewExtractorOn(b Backbone, batch int, acc nn.Accel) (*Extractor, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("transfer: batch %d: must be positive", batch)
	}
	g, in, f, err := b.Build(batch)
	if err != nil {
		return nil, fmt.Errorf("transfer: %s: %w", b.Name(), err)
	}
	// The graph runs once per batch: its ops write into the same tensors every run (Features
	// copies the bottlenecks out), and CompileFunction keeps the machine to the forward pass
	// that the features need.
	nn.ReuseBuffers(g)
	prog, locs, err := G.CompileFunction(g, G.Nodes{in}, G.Nodes{f})
	if err != nil {
		return nil, fmt.Errorf("transfer: %s: compile: %w", b.Name(), err)
	}
	place, err := nn.Place(g, acc, G.Nodes{f}, func(n *G.Node) bool { return n != in })
	if err != nil {
		return nil, fmt.Errorf("transfer: %s: %w", b.Name(), err)
	}
	s := b.Size()
	return &Extractor{b: b, batch: batch, g: g, input: in, features: f, place: place,
		vm: G.NewTapeMachine(g, G.WithPrecompiled(prog, locs)),
		x:  tensor.New(tensor.WithShape(batch, 3, s, s), tensor.Of(tensor.Float32))}, nil
}

// Batch returns how many pictures one Features call takes at most.
func (e *Extractor) Batch() int { return e.batch }

// Features returns the bottlenecks of up to Batch pictures, each already Size x Size (see
// Resize): a slice of Dim values per picture, newly allocated.
func (e *Extractor) Features(pics []*image.NRGBA) ([][]float32, error) {
	if len(pics) == 0 || len(pics) > e.batch {
		return nil, fmt.Errorf("transfer: %d pictures for a batch of %d", len(pics), e.batch)
	}
	s := e.b.Size()
	x := e.x.Data().([]float32)
	clear(x)
	plane := s * s
	for i, p := range pics {
		if b := p.Bounds(); b.Dx() != s || b.Dy() != s {
			return nil, fmt.Errorf("transfer: picture %d is %dx%d, the backbone takes %dx%d", i, b.Dx(), b.Dy(), s, s)
		}
		toPlanar(p, x[i*3*plane:(i+1)*3*plane])
	}
	f, err := e.run(x, len(pics))
	if err != nil {
		return nil, err
	}
	dim := len(f) / len(pics)
	out := make([][]float32, len(pics))
	for i := range out {
		out[i] = f[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out, nil
}

// run runs the graph on x, Batch planar pictures of which the first n count (the rest are
// padding), and returns the first n pictures' features, n x Dim values newly allocated.
func (e *Extractor) run(x []float32, n int) ([]float32, error) {
	if dst := e.x.Data().([]float32); len(x) != len(dst) {
		return nil, fmt.Errorf("transfer: %d input values for a batch of %d values", len(x), len(dst))
	} else if &x[0] != &dst[0] {
		copy(dst, x)
	}
	if err := G.Let(e.input, e.x); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	defer e.vm.Reset()
	if err := e.vm.RunAll(); err != nil {
		err = e.place.Cause(err)
		return nil, fmt.Errorf("transfer: %s: run: %w", e.b.Name(), err)
	}
	f, ok := e.features.Value().Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("transfer: %s: features of type %T", e.b.Name(), e.features.Value().Data())
	}
	dim := len(f) / e.batch
	return append([]float32(nil), f[:n*dim]...), nil
}

// Close frees the machine.
func (e *Extractor) Close() {
	e.vm.Close()
	e.place.Close()
}

// toPlanar writes the RGB values of p (0..255) into x as three planes; alpha is ignored.
func toPlanar(p *image.NRGBA, x []float32) {
	b := p.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	for y := 0; y < h; y++ {
		row := p.Pix[y*p.Stride : y*p.Stride+4*w]
		for i := 0; i < w; i++ {
			j := y*w + i
			x[j] = float32(row[4*i])
			x[plane+j] = float32(row[4*i+1])
			x[2*plane+j] = float32(row[4*i+2])
		}
	}
}

// Resize squeezes a picture to size x size with bilinear interpolation, ignoring its aspect
// ratio, as retrain.py's tf.image.resize_bilinear does.
func Resize(img image.Image, size int) *image.NRGBA {
	return imaging.Resize(img, size, size, imaging.Linear)
}

// LoadPicture decodes a picture file (turned upright as its EXIF orientation says) and resizes
// it for a backbone of the given input size.
func LoadPicture(path string, size int) (*image.NRGBA, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transfer: picture %s: %s", path, unwrapPath(err))
	}
	return decodePicture(path, b, size)
}

func decodePicture(path string, b []byte, size int) (*image.NRGBA, error) {
	img, err := imaging.Decode(bytes.NewReader(b), imaging.AutoOrientation(true))
	if err != nil {
		return nil, fmt.Errorf("transfer: picture %s: cannot decode: %w", path, err)
	}
	if img.Bounds().Empty() {
		return nil, fmt.Errorf("transfer: picture %s: no pixels", path)
	}
	return Resize(img, size), nil
}

// Cache keeps bottlenecks on disk, one small file per picture, keyed by the backbone (its name,
// layer and input size) and the SHA-256 of the picture file's bytes: renaming or moving a
// picture keeps its entry, editing it makes a new one. A damaged entry is computed again.
//
// An entry's layout (little-endian): "CNVBNECK", uint32 count, count float32 values, and the
// CRC-32 (IEEE) of everything before it.
type Cache struct {
	Dir string
}

const cacheMagic = "CNVBNECK"

// Path returns the file of one entry.
func (c *Cache) Path(b Backbone, sum [32]byte) string {
	h := hex.EncodeToString(sum[:])
	return filepath.Join(c.Dir, b.Name(), b.Layer()+"-"+strconv.Itoa(b.Size()), h[:2], h+".bneck")
}

// Load returns the cached bottleneck of a picture, or false when there is none or it is damaged.
func (c *Cache) Load(b Backbone, sum [32]byte) ([]float32, bool) {
	raw, err := os.ReadFile(c.Path(b, sum))
	if err != nil || len(raw) < len(cacheMagic)+8 || string(raw[:len(cacheMagic)]) != cacheMagic {
		return nil, false
	}
	body, tail := raw[:len(raw)-4], raw[len(raw)-4:]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(tail) {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(body[len(cacheMagic):]))
	vals := body[len(cacheMagic)+4:]
	if len(vals) != 4*n {
		return nil, false
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(vals[4*i:]))
	}
	return out, true
}

// Store writes a picture's bottleneck, atomically.
func (c *Cache) Store(b Backbone, sum [32]byte, v []float32) error {
	buf := make([]byte, 0, len(cacheMagic)+8+4*len(v))
	buf = append(buf, cacheMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(v)))
	for _, x := range v {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.ChecksumIEEE(buf))
	path := c.Path(b, sum)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("transfer: bottleneck cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".bneck-*")
	if err != nil {
		return fmt.Errorf("transfer: bottleneck cache: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("transfer: bottleneck cache %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("transfer: bottleneck cache %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("transfer: bottleneck cache: %w", err)
	}
	return nil
}

// Bottlenecks are the features of a data set's pictures.
type Bottlenecks struct {
	// Features has one vector per picture of the data set, in its order; nil for a picture that
	// could not be decoded (listed in Failed).
	Features [][]float32
	Failed   []Skipped
	// Computed and Cached count distinct picture contents: run through the backbone, or read
	// from the cache.
	Computed, Cached int
}

// ExtractProgress reports extraction after each batch: Done of Of distinct pictures, Cached of
// them read from the cache.
type ExtractProgress struct {
	Done, Of, Cached int
}

// Extract returns the bottleneck of every picture of d on the backbone, each distinct content
// computed once: read from cache when it has it (cache may be nil), otherwise decoded, resized,
// run through the backbone in batches and stored. A picture that cannot be decoded is reported
// in Failed and the run goes on. gate (may be nil) is called between batches and ends the run
// with its error; progress (may be nil) after each batch.
func Extract(ctx context.Context, b Backbone, d *DataSet, cache *Cache, batch int, gate func(context.Context) error,
	progress func(ExtractProgress)) (*Bottlenecks, error) {
	return extract(ctx, b, d, cache, batch, nil, nil, gate, progress)
}

// extract is Extract on the pictures keep (nil: all) accepts, on acc (nil: the CPU); the others
// get no features.
func extract(ctx context.Context, b Backbone, d *DataSet, cache *Cache, batch int, keep func(Picture) bool, acc nn.Accel,
	gate func(context.Context) error, progress func(ExtractProgress)) (*Bottlenecks, error) {
	out := &Bottlenecks{Features: make([][]float32, len(d.Pictures))}
	byContent := map[[32]byte][]int{}
	var order [][32]byte // distinct contents, first-seen order
	for i, p := range d.Pictures {
		if keep != nil && !keep(p) {
			continue
		}
		if byContent[p.SHA256] == nil {
			order = append(order, p.SHA256)
		}
		byContent[p.SHA256] = append(byContent[p.SHA256], i)
	}
	set := func(sum [32]byte, v []float32) {
		for _, i := range byContent[sum] {
			out.Features[i] = v
		}
	}
	var todo [][32]byte
	for _, sum := range order {
		if cache != nil {
			if v, ok := cache.Load(b, sum); ok {
				set(sum, v)
				out.Cached++
				continue
			}
		}
		todo = append(todo, sum)
	}
	prog := ExtractProgress{Done: out.Cached, Of: len(order), Cached: out.Cached}
	if progress != nil {
		progress(prog)
	}
	if len(todo) == 0 {
		return out, nil
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	batch = min(batch, len(todo))
	ex, err := NewExtractorOn(b, batch, acc)
	if err != nil {
		return nil, err
	}
	defer ex.Close()
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if gate != nil {
			if err := gate(ctx); err != nil {
				return nil, err
			}
		}
		var pics []*image.NRGBA
		var sums [][32]byte
		for len(pics) < batch && len(todo) > 0 {
			sum := todo[0]
			todo = todo[1:]
			path := d.Pictures[byContent[sum][0]].Path
			img, err := LoadPicture(path, b.Size())
			if err != nil {
				for _, i := range byContent[sum] {
					out.Failed = append(out.Failed, Skipped{Path: d.Pictures[i].Path, Reason: reasonOf(err, path)})
				}
				prog.Done++
				continue
			}
			pics, sums = append(pics, img), append(sums, sum)
		}
		if len(pics) > 0 {
			f, err := ex.Features(pics)
			if err != nil {
				return nil, err
			}
			for i, sum := range sums {
				if err := checkFinite(f[i]); err != nil {
					return nil, fmt.Errorf("transfer: %s: bottleneck of %s: %w", b.Name(), d.Pictures[byContent[sum][0]].Path, err)
				}
				set(sum, f[i])
				if cache != nil {
					if err := cache.Store(b, sum, f[i]); err != nil {
						return nil, err
					}
				}
			}
			out.Computed += len(pics)
			prog.Done += len(pics)
		}
		if progress != nil {
			progress(prog)
		}
	}
	return out, nil
}

// reasonOf turns a LoadPicture error into a Skipped reason, without the path it repeats.
func reasonOf(err error, path string) string {
	s := err.Error()
	if p := "transfer: picture " + path + ": "; len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func checkFinite(v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("feature %d is %v", i, x)
		}
	}
	return nil
}

// errNoTraining reports a data set without training pictures after extraction.
var errNoTraining = errors.New("transfer: no training pictures could be read")
