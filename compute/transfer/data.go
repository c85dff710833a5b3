// Package transfer is the retraining recipe: a network trained on ImageNet, frozen, turns each
// picture of a folder into a vector of bottleneck features (the global average of one of its
// last feature maps), computed once and cached on disk; a new softmax layer, optionally with one
// hidden layer, is trained on those vectors to tell the user's own classes apart.
//
// It follows TensorFlow's image_retraining/retrain.py (Donahue et al., "DeCAF", 2014, for the
// idea): the same folder layout (one sub-folder per class), the same deterministic split of the
// pictures into training, validation and test sets by a hash of each file's name, the same
// default hyperparameters (plain gradient descent at 0.01, batches of 100, 4,000 steps, an
// evaluation every 10 steps, a head initialised with a truncated normal of stddev 0.001).
// Departures are commented where they happen.
//
// The phases: Scan reads a folder into a DataSet; Extract computes (or reads from a Cache) the
// bottleneck of every picture on a Backbone; Train fits a Head on them and reports Events; a
// Model (the head, its labels and the backbone it belongs to) is saved as a checkpoint and
// classifies new pictures.
package transfer

import (
	"bytes"
	"cmp"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	// imaging registers the decoders image.DecodeConfig uses: JPEG, PNG, GIF, BMP and TIFF.
	_ "github.com/disintegration/imaging"
)

// Set says which part of the data a picture belongs to.
type Set int

// The three parts of a data set.
const (
	Training Set = iota
	Validation
	Testing
)

// String returns "training", "validation" or "testing".
func (s Set) String() string {
	switch s {
	case Training:
		return "training"
	case Validation:
		return "validation"
	case Testing:
		return "testing"
	}
	return fmt.Sprintf("Set(%d)", int(s))
}

// maxPerClass is retrain.py's MAX_NUM_IMAGES_PER_CLASS, 2^27 - 1: the hash of a file name is
// taken modulo maxPerClass+1 and scaled by 100/maxPerClass into a percentage.
const maxPerClass = 1<<27 - 1

// nohash matches the part of a file name that the split ignores, as retrain.py's
// re.sub(r'_nohash_.*$', ”, file_name) does: "dog_nohash_2.jpg" hashes as "dog", so pictures
// of one subject stay in one set.
var nohash = regexp.MustCompile(`_nohash_.*$`)

// SplitPercentage returns the percentage in [0, 100] that decides a file's set, from its base
// name, exactly as retrain.py's which_set does: SHA-1 of the name without its _nohash_ suffix,
// as a 160-bit integer modulo 2^27, times 100/(2^27-1). A file keeps its percentage whatever
// else is in the folder, so adding pictures never moves old ones between sets.
func SplitPercentage(fileName string) float64 {
	name := nohash.ReplaceAllString(filepath.Base(fileName), "")
	sum := sha1.Sum([]byte(name))
	// The integer modulo 2^27 is its low 27 bits: the last four bytes of the digest, masked.
	low := binary.BigEndian.Uint32(sum[len(sum)-4:]) & (maxPerClass)
	return float64(low) * (100.0 / maxPerClass)
}

// SetOf returns the set a file goes to when one folder is split: validation below
// validationPercent, testing below validationPercent+testPercent, training otherwise.
func SetOf(fileName string, validationPercent, testPercent float64) Set {
	p := SplitPercentage(fileName)
	switch {
	case p < validationPercent:
		return Validation
	case p < validationPercent+testPercent:
		return Testing
	}
	return Training
}

// ScanConfig says where the pictures are and how to split them.
type ScanConfig struct {
	// Dir holds one sub-folder per class, named for the class, with its pictures (sub-folders of
	// a class folder are read too). Files directly in Dir, and hidden files, are ignored.
	Dir string
	// ValidationDir, when set, is a second tree of the same classes: its pictures are the
	// validation set, and every picture of Dir is for training (no test set). When empty and Dir
	// holds the two trees (see Trees), they are used; otherwise Dir is split by SetOf with the
	// two percentages below.
	ValidationDir string
	// ValidationPercent and TestPercent are the shares of Dir for validation and testing when
	// ValidationDir is empty (retrain.py: 10 and 10).
	ValidationPercent, TestPercent float64
}

// DefaultScanConfig returns retrain.py's split: 10% validation, 10% testing.
func DefaultScanConfig(dir string) ScanConfig {
	return ScanConfig{Dir: dir, ValidationPercent: 10, TestPercent: 10}
}

// Picture is one readable picture of a data set.
type Picture struct {
	Path   string
	Class  int // index into DataSet.Classes
	Set    Set
	SHA256 [32]byte // of the file's bytes: the bottleneck cache key, and how duplicates are found
	// Duplicate is true when another picture of the data set has the same bytes.
	Duplicate bool
}

// Skipped is a file that could not be used, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Duplicates is a group of files with identical bytes.
type Duplicates struct {
	Paths []string
	// Classes is true when the copies are filed under different classes (contradicting labels),
	// Sets when they fall into different sets (the validation score then flatters the model).
	Classes, Sets bool
}

// DataSet is a scanned folder: its classes, its readable pictures, and what was left out.
type DataSet struct {
	Config     ScanConfig
	Classes    []string // sorted
	Pictures   []Picture
	Skipped    []Skipped
	Duplicates []Duplicates
}

// Counts returns, for each class, its number of pictures in each set, indexed by Set.
func (d *DataSet) Counts() [][3]int {
	out := make([][3]int, len(d.Classes))
	for _, p := range d.Pictures {
		out[p.Class][p.Set]++
	}
	return out
}

// Of returns the indices of the pictures of one set.
func (d *DataSet) Of(s Set) []int {
	var out []int
	for i, p := range d.Pictures {
		if p.Set == s {
			out = append(out, i)
		}
	}
	return out
}

// pictureExt lists the file types a class folder may hold: those imaging decodes.
var pictureExt = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true}

// Errors of Scan a caller can test for with errors.Is.
var (
	ErrNoClasses = errors.New("transfer: no class folders with pictures")
	ErrOneClass  = errors.New("transfer: only one class folder with pictures: at least two are needed")
)

// treeNames are the pairs of sub-folder names that mark a folder of two trees: the recipe's
// script (and Convas's CIFAR-10 export) writes train_dir and validation_dir.
var treeNames = [][2]string{{"train_dir", "validation_dir"}, {"train", "validation"}}

// Trees reports whether dir holds a training and a validation tree rather than class folders:
// exactly two sub-folders, named train_dir and validation_dir (or train and validation), each
// with sub-folders of its own.
func Trees(dir string) (train, validation string, ok bool) {
	names, err := classFolders(dir)
	if err != nil || len(names) != 2 {
		return "", "", false
	}
	for _, pair := range treeNames {
		if (names[0] == pair[0] && names[1] == pair[1]) || (names[0] == pair[1] && names[1] == pair[0]) {
			train, validation = filepath.Join(dir, pair[0]), filepath.Join(dir, pair[1])
			a, errA := classFolders(train)
			b, errB := classFolders(validation)
			return train, validation, errA == nil && errB == nil && len(a) > 0 && len(b) > 0
		}
	}
	return "", "", false
}

// Scan reads the folder (or the two folders) of cfg: the class folders, each picture's set and
// content hash, the files that cannot be read (each is skipped with its reason; the scan goes
// on) and the exact duplicates. It reads each file whole once, and checks its header
// (image.DecodeConfig); a picture damaged past its header is found when it is decoded for
// extraction. It fails only when a folder cannot be listed or fewer than two classes have
// pictures.
func Scan(cfg ScanConfig) (*DataSet, error) {
	if cfg.ValidationPercent < 0 || cfg.TestPercent < 0 || cfg.ValidationPercent+cfg.TestPercent >= 100 {
		return nil, fmt.Errorf("transfer: validation %g%% and test %g%%: each must be at least 0 and together below 100",
			cfg.ValidationPercent, cfg.TestPercent)
	}
	if cfg.ValidationDir == "" {
		if t, v, ok := Trees(cfg.Dir); ok {
			cfg.Dir, cfg.ValidationDir = t, v
		}
	}
	d := &DataSet{Config: cfg}
	trees := []string{cfg.Dir}
	if cfg.ValidationDir != "" {
		trees = append(trees, cfg.ValidationDir)
	}
	classes := map[string]bool{}
	for _, root := range trees {
		names, err := classFolders(root)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			classes[n] = true
		}
	}
	d.Classes = slices.Sorted(func(yield func(string) bool) {
		for c := range classes {
			if !yield(c) {
				return
			}
		}
	})
	for ti, root := range trees {
		for ci, class := range d.Classes {
			files, err := classFiles(filepath.Join(root, class))
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				p, reason := readPicture(f)
				if reason != "" {
					d.Skipped = append(d.Skipped, Skipped{Path: f, Reason: reason})
					continue
				}
				p.Class = ci
				switch {
				case ti == 1:
					p.Set = Validation
				case cfg.ValidationDir != "":
					p.Set = Training
				default:
					p.Set = SetOf(f, cfg.ValidationPercent, cfg.TestPercent)
				}
				d.Pictures = append(d.Pictures, p)
			}
		}
	}
	d.findDuplicates()
	used := 0
	for _, n := range d.Counts() {
		if n[0]+n[1]+n[2] > 0 {
			used++
		}
	}
	switch {
	case used == 0:
		return d, fmt.Errorf("%w in %s", ErrNoClasses, cfg.Dir)
	case used == 1:
		return d, fmt.Errorf("%w (%s)", ErrOneClass, cfg.Dir)
	}
	return d, nil
}

// classFolders lists the sub-folders of root, hidden ones left out.
func classFolders(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("transfer: data folder: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// classFiles lists the files under a class folder (which may be missing from one of two trees),
// sorted, hidden ones left out.
func classFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if strings.HasPrefix(e.Name(), ".") && path != dir {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !e.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transfer: class folder: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// readPicture reads a file, hashes it and checks its header; reason says why it cannot be used.
func readPicture(path string) (Picture, string) {
	ext := strings.ToLower(filepath.Ext(path))
	if !pictureExt[ext] {
		return Picture{}, fmt.Sprintf("not a picture file (%q: JPEG, PNG, GIF, BMP or TIFF expected)", ext)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Picture{}, unwrapPath(err)
	}
	if len(b) == 0 {
		return Picture{}, "empty file"
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Picture{}, "cannot decode: " + err.Error()
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Picture{}, fmt.Sprintf("%s of %dx%d pixels: no pixels", format, cfg.Width, cfg.Height)
	}
	return Picture{Path: path, SHA256: sha256.Sum256(b)}, ""
}

// findDuplicates flags the pictures whose bytes another picture has, and lists the groups.
func (d *DataSet) findDuplicates() {
	groups := map[[32]byte][]int{}
	for i, p := range d.Pictures {
		groups[p.SHA256] = append(groups[p.SHA256], i)
	}
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		dup := Duplicates{}
		for _, i := range g {
			p := &d.Pictures[i]
			p.Duplicate = true
			dup.Paths = append(dup.Paths, p.Path)
			first := d.Pictures[g[0]]
			dup.Classes = dup.Classes || p.Class != first.Class
			dup.Sets = dup.Sets || p.Set != first.Set
		}
		d.Duplicates = append(d.Duplicates, dup)
	}
	slices.SortFunc(d.Duplicates, func(a, b Duplicates) int { return cmp.Compare(a.Paths[0], b.Paths[0]) })
}

// unwrapPath drops the "open PATH:" of an fs.PathError, whose path the caller already names.
func unwrapPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
