package modelstore

import (
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"hash"
)

// Format says how a downloaded file is laid out and whether it must be
// unpacked before loaders can use it.
type Format string

// The formats of the catalog entries.
const (
	FormatMAT         Format = "mat"                 // a MatConvNet MAT v5 file, used as is
	FormatGraphDefZip Format = "graphdef-zip"        // a zip holding a TensorFlow GraphDef and labels
	FormatCIFARTarGz  Format = "cifar-binary-tar.gz" // a gzipped tar of CIFAR binary batches
	FormatEmbedded    Format = "embedded"            // compiled into the binary: nothing to fetch
)

// archive names the container a format is unpacked from, or "" when the
// downloaded file is used as it is.
func (f Format) archive() string {
	switch f {
	case FormatGraphDefZip:
		return "zip"
	case FormatCIFARTarGz:
		return "tar.gz"
	}
	return ""
}

// Algorithm names a checksum algorithm.
type Algorithm string

// The checksum algorithms the catalog uses.
const (
	MD5    Algorithm = "md5"
	SHA256 Algorithm = "sha256"
)

// newHash returns a fresh hash for a, or an error for an unknown algorithm.
func (a Algorithm) newHash() (hash.Hash, error) {
	switch a {
	case MD5:
		return md5.New(), nil
	case SHA256:
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("modelstore: unknown checksum algorithm %q", string(a))
}

// Checksum is an expected digest: its algorithm and lowercase hex value.
type Checksum struct {
	Algorithm Algorithm
	Hex       string
}

// String returns the checksum as "algorithm:hex".
func (c Checksum) String() string { return string(c.Algorithm) + ":" + c.Hex }

// Alternative is another release of an entry's file that loaders also
// accept, recognised when importing or verifying but never downloaded.
type Alternative struct {
	// Note says which release this is; Status reports it for a file that
	// matched it.
	Note string
	// URL is where this release was published, for reference.
	URL string
	// Size is the file size in bytes, or 0 when not known; a file within
	// a quarter of the entry's Size is then hashed to check.
	Size int64
	// Sum is the expected checksum.
	Sum Checksum
}

// Entry describes one model or data set the store can provide.
type Entry struct {
	// Name is the short id used on the command line and as the folder name.
	Name string
	// Title is a human-readable name for the user interface.
	Title string
	// URL is where the file is downloaded from (for an embedded entry,
	// where it came from).
	URL string
	// Size is the size of the downloaded file in bytes (0 when embedded).
	Size int64
	// Sum is the checksum of the downloaded file.
	Sum Checksum
	// Alternatives are other releases of the same file that are accepted
	// when importing, such as an older conversion.
	Alternatives []Alternative
	// Licence is the licence or terms of use, as shown to the user.
	Licence string
	// Format says how the file is laid out and whether it is unpacked.
	Format Format
	// File is the name the download is stored under in the entry folder.
	File string
	// Files are the files the loaders need, slash-separated and relative
	// to the entry folder. For a format used as is, this is File alone.
	Files []string
	// Optional are further unpacked files that loaders use when present.
	Optional []string
	// Open is what Store.Path returns, relative to the entry folder: the
	// file or folder a loader opens.
	Open string
	// MaxUnpacked caps the total bytes an archive may unpack to.
	MaxUnpacked int64
}

// Catalog returns the models and data sets Convas knows about. Each call
// returns a fresh copy that the caller may change.
func Catalog() []Entry {
	cifarFiles := []string{
		"cifar-10-batches-bin/data_batch_1.bin",
		"cifar-10-batches-bin/data_batch_2.bin",
		"cifar-10-batches-bin/data_batch_3.bin",
		"cifar-10-batches-bin/data_batch_4.bin",
		"cifar-10-batches-bin/data_batch_5.bin",
		"cifar-10-batches-bin/test_batch.bin",
		"cifar-10-batches-bin/batches.meta.txt",
	}
	return []Entry{
		{
			Name:  "vgg19",
			Title: "VGG-19 (MatConvNet imagenet-vgg-verydeep-19)",
			URL:   "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat",
			Size:  534904783,
			Sum:   Checksum{MD5, "106118b7cf60435e6d8e04f6a6dc3657"},
			Alternatives: []Alternative{{
				Note: "older MatConvNet beta16 conversion",
				URL:  "http://www.vlfeat.org/matconvnet/models/beta16/imagenet-vgg-verydeep-19.mat",
				Sum:  Checksum{MD5, "8ee3263992981a1d26e73b3ca028a123"},
			}},
			Licence: "CC BY 4.0 (VGG very deep 19-layer network, K. Simonyan and A. Zisserman, " +
				"University of Oxford; MatConvNet conversion)",
			Format: FormatMAT,
			File:   "imagenet-vgg-verydeep-19.mat",
			Files:  []string{"imagenet-vgg-verydeep-19.mat"},
			Open:   "imagenet-vgg-verydeep-19.mat",
		},
		{
			Name:        "inception5h",
			Title:       "GoogLeNet (TensorFlow inception5h)",
			URL:         "https://storage.googleapis.com/download.tensorflow.org/models/inception5h.zip",
			Size:        49937555,
			Sum:         Checksum{SHA256, "d13569f6a98159de37e92e9c8ec4dae8f674fbf475f69fe6199b514f756d4364"},
			Licence:     "Apache-2.0 (TensorFlow inception5h model, Google)",
			Format:      FormatGraphDefZip,
			File:        "inception5h.zip",
			Files:       []string{"tensorflow_inception_graph.pb"},
			Optional:    []string{"imagenet_comp_graph_label_strings.txt"},
			Open:        "tensorflow_inception_graph.pb",
			MaxUnpacked: 128 << 20,
		},
		{
			Name:        "cifar10",
			Title:       "CIFAR-10 (binary version)",
			URL:         "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
			Size:        170052171,
			Sum:         Checksum{MD5, "c32a1d4ab5d03f1284b67883e8d87530"},
			Licence:     "CIFAR-10, Krizhevsky 2009; no explicit licence, free to use with citation",
			Format:      FormatCIFARTarGz,
			File:        "cifar-10-binary.tar.gz",
			Files:       cifarFiles,
			Open:        "cifar-10-batches-bin",
			MaxUnpacked: 256 << 20,
		},
		{
			Name:    "inceptionv3-trunk",
			Title:   "InceptionV3 trunk (embedded, from nsfwjs 4.4.0)",
			URL:     "https://www.npmjs.com/package/nsfwjs/v/4.4.0",
			Licence: "MIT (nsfwjs 4.4.0)",
			Format:  FormatEmbedded,
		},
	}
}

// candidates returns the checksums a file of the given size may match:
// the entry's own when the size is right, and each alternative whose size
// is right or unknown and near.
func (e Entry) candidates(size int64) []Alternative {
	var out []Alternative
	if size == e.Size {
		out = append(out, Alternative{Size: e.Size, Sum: e.Sum})
	}
	for _, a := range e.Alternatives {
		if a.Size == size || (a.Size == 0 && size > e.Size*3/4 && size < e.Size*5/4) {
			out = append(out, a)
		}
	}
	return out
}

// unpacked returns every unpacked file the entry names, needed first.
func (e Entry) unpacked() []string {
	if e.Format.archive() == "" {
		return nil
	}
	return append(append([]string(nil), e.Files...), e.Optional...)
}
