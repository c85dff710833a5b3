package app

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"convas/assets"
	"convas/compute/data"
	"convas/compute/formats/cifar"
	"convas/compute/formats/idx"
	"convas/compute/train"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs Fashion-MNIST.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// Dataset is a training and test set pair a recipe can use.
type Dataset struct {
	Name      string // "mnist", "fashion-mnist", "cifar10" or a folder path
	Title     string
	Available bool
	Hint      string // how to get it when not available
	Classes   []string
	Colour    bool // pictures in colour (CIFAR-10), shown so in sample grids
}

var digitNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// FashionClasses are Fashion-MNIST's label names.
var FashionClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// Datasets lists the data sets Convas knows of, available or not.
func (a *App) Datasets() []Dataset {
	_, err := os.Stat(filepath.Join(FashionMNISTDir, "train-images-idx3-ubyte.gz"))
	_, cerr := a.CIFAR10Dir()
	return []Dataset{
		{Name: "mnist", Title: "MNIST digits (built in)", Available: true, Classes: digitNames},
		{Name: "fashion-mnist", Title: "Fashion-MNIST", Available: err == nil, Classes: FashionClasses,
			Hint: "install it with: sudo apt-get install dataset-fashion-mnist (files go to " + FashionMNISTDir + ")"},
		{Name: CIFAR10Name, Title: "CIFAR-10 (model store)", Available: cerr == nil, Classes: cifar.DefaultLabels, Colour: true,
			Hint: "fetch it in the Models panel or with: convas models fetch cifar10 (163 MB); or choose a folder of CIFAR-10 binary batches"},
	}
}

// DatasetInfo describes a data set by name: one of Datasets, or a folder (IDX or CIFAR-10, whose
// label names come from its batches.meta.txt once loaded).
func (a *App) DatasetInfo(name string) Dataset {
	for _, d := range a.Datasets() {
		if d.Name == name {
			if l, ok := a.datasets.Load("labels:" + name); ok {
				d.Classes = l.([]string)
			}
			return d
		}
	}
	if a.isCIFARName(name) {
		d := Dataset{Name: name, Title: "CIFAR-10 in " + name, Available: true, Classes: cifar.DefaultLabels, Colour: true}
		if l, ok := a.datasets.Load("labels:" + name); ok {
			d.Classes = l.([]string)
		}
		return d
	}
	return Dataset{Name: name, Title: name, Available: true, Classes: digitNames}
}

// idxNames are the file names of an IDX data set folder, plain or gzip-compressed.
var idxNames = [4]string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

// LoadDataset loads a data set by name: "mnist" (embedded), "fashion-mnist" (the Debian package's
// folder), "cifar10" (the model store's copy), or a folder holding the four IDX files under their
// canonical names, plain or .gz, or CIFAR-10's binary batches. The MNIST recipe keeps the first
// 5,000 training pictures aside for validation, as TensorFlow's read_data_sets does, and trains
// on the other 55,000; CIFAR-10 keeps its 50,000 and 10,000 as they are, as bytes for the input
// pipeline.
func (a *App) LoadDataset(name string) (train.Data, error) {
	if d, ok := a.datasets.Load(name); ok {
		return d.(train.Data), nil
	}
	if a.isCIFARName(name) {
		d, labels, err := a.loadCIFAR(name)
		if err != nil {
			return train.Data{}, err
		}
		a.datasets.Store("labels:"+name, labels)
		a.datasets.Store(name, d)
		return d, nil
	}
	var arrays [4]*idx.Array
	var err error
	switch name {
	case "mnist":
		for i, p := range []string{assets.MNISTTrainImages, assets.MNISTTrainLabels, assets.MNISTTestImages, assets.MNISTTestLabels} {
			f, ferr := assets.FS().Open(p)
			if ferr != nil {
				return train.Data{}, ferr
			}
			arrays[i], err = idx.DecodeMaybeGzip(f)
			f.Close()
			if err != nil {
				return train.Data{}, fmt.Errorf("embedded %s: %w", p, err)
			}
		}
	case "fashion-mnist":
		arrays, err = loadIDXFolder(FashionMNISTDir)
	default:
		arrays, err = loadIDXFolder(name)
	}
	if err != nil {
		return train.Data{}, err
	}
	tr, err := data.FromIDX(arrays[0], arrays[1], 10)
	if err != nil {
		return train.Data{}, fmt.Errorf("data set %s, training files: %w", name, err)
	}
	te, err := data.FromIDX(arrays[2], arrays[3], 10)
	if err != nil {
		return train.Data{}, fmt.Errorf("data set %s, test files: %w", name, err)
	}
	if tr.N > 5000 {
		tr = tr.Slice(5000, tr.N)
	}
	d := train.Data{Train: tr, Test: te}
	a.datasets.Store(name, d)
	return d, nil
}

func loadIDXFolder(dir string) ([4]*idx.Array, error) {
	var out [4]*idx.Array
	for i, base := range idxNames {
		path := filepath.Join(dir, base)
		if _, err := os.Stat(path); err != nil {
			path += ".gz"
		}
		a, err := idx.DecodeFile(path)
		if err != nil {
			if os.IsNotExist(err) || isNotExist(err) {
				return out, fmt.Errorf("data set folder %s: %s (or %s.gz) is missing", dir, base, base)
			}
			return out, err
		}
		out[i] = a
	}
	return out, nil
}

func isNotExist(err error) bool {
	pe, ok := err.(*fs.PathError)
	return ok && os.IsNotExist(pe.Err)
}
