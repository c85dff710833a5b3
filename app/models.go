package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"convas/app/modelstore"
	"convas/assets"
	"convas/compute/dream"
	"convas/compute/models"
)

// ModelRow is one line of the Models panel: a catalog entry and its state in the store.
type ModelRow struct {
	Entry modelstore.Entry
	State modelstore.State
}

// Usable reports whether the model can be loaded now.
func (r ModelRow) Usable() bool {
	return r.State.Kind == modelstore.Ready || r.State.Kind == modelstore.Embedded
}

// LayerInfo is one layer of a network: its name, its kind and its output channels.
type LayerInfo = models.LayerInfo

// ErrNoLayers reports a catalog entry that is data, not a network.
var ErrNoLayers = errors.New("a data set has no layers")

// Store returns the model store in the cache folder.
func (a *App) Store() *modelstore.Store {
	a.storeOnce.Do(func() {
		a.store = &modelstore.Store{Dir: filepath.Join(a.CacheDir, "models")}
	})
	return a.store
}

// ModelRows lists every catalog entry with its state.
func (a *App) ModelRows() []ModelRow {
	s := a.Store()
	var rows []ModelRow
	for _, e := range modelstore.Catalog() {
		rows = append(rows, ModelRow{Entry: e, State: s.Status(e)})
	}
	return rows
}

// Trunk returns the embedded InceptionV3 trunk, decoded once and shared: its weights are never
// written, and each job builds its own graph from it.
func (a *App) Trunk() (*models.InceptionV3, error) {
	a.trunkOnce.Do(func() {
		a.trunk, a.trunkErr = models.LoadInceptionV3(bytes.NewReader(assets.InceptionV3()))
		if a.trunkErr != nil {
			a.trunkErr = fmt.Errorf("embedded %s: %w", assets.InceptionV3Mixed5, a.trunkErr)
		}
	})
	return a.trunk, a.trunkErr
}

// ModelLayers returns the layer table of a network in the catalog.
func (a *App) ModelLayers(name string) ([]LayerInfo, error) {
	s := a.Store()
	e, err := s.Lookup(name)
	if err != nil {
		return nil, err
	}
	switch e.Format {
	case modelstore.FormatEmbedded:
		t, err := a.Trunk()
		if err != nil {
			return nil, err
		}
		return t.Layers(), nil
	case modelstore.FormatCIFARTarGz:
		return nil, fmt.Errorf("%s: %w", name, ErrNoLayers)
	}
	if st := s.Status(e); st.Kind != modelstore.Ready {
		return nil, fmt.Errorf("%s is %s: fetch or import it first (convas models fetch %s)", name, st, name)
	}
	path := s.Path(e)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	switch e.Format {
	case modelstore.FormatMAT:
		m, err := models.LoadVGG19(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return m.Layers(), nil
	case modelstore.FormatGraphDefZip:
		m, err := models.LoadGoogLeNet(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return m.Layers(), nil
	}
	return nil, fmt.Errorf("%s: no reader for format %s", name, e.Format)
}

// FetchModel downloads a catalog entry on its own job; progress is called from that job.
func (a *App) FetchModel(name string, progress func(modelstore.Progress)) (*Job, error) {
	s := a.Store()
	e, err := s.Lookup(name)
	if err != nil {
		return nil, err
	}
	return StartJob(func(ctx context.Context, _ func(context.Context) error) error {
		return s.Fetch(ctx, e, progress)
	}), nil
}

// GoogLeNet loads inception5h's GoogLeNet from the model store, once; later calls share it (its
// weights are never written).
func (a *App) GoogLeNet() (*models.GoogLeNet, error) {
	a.googleMu.Lock()
	defer a.googleMu.Unlock()
	if a.google != nil {
		return a.google, nil
	}
	s := a.Store()
	e, err := s.Lookup("inception5h")
	if err != nil {
		return nil, err
	}
	if st := s.Status(e); st.Kind != modelstore.Ready {
		return nil, fmt.Errorf("inception5h is %s: fetch or import it first (convas models fetch inception5h)", st)
	}
	f, err := os.Open(s.Path(e))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := models.LoadGoogLeNet(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path(e), err)
	}
	a.google = m
	return m, nil
}

// storedVGG19 returns VGG19 from the model store, read once per file (seconds for its 535 MB)
// and shared by the dream, the channel gallery, style transfer and retraining; a replaced file
// (another path, size or modification time) is read again. Its weights are never written.
func (a *App) storedVGG19() (*models.VGG19, error) {
	e, err := a.Store().Lookup(dream.VGG19Name)
	if err != nil {
		return nil, err
	}
	path := a.Store().Path(e)
	key, err := fileIdentity(path)
	if err != nil {
		return nil, fmt.Errorf("network %s: %s", dream.VGG19Name, err)
	}
	a.vggMu.Lock()
	defer a.vggMu.Unlock()
	if a.vgg != nil && a.vggKey == key {
		return a.vgg, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("network %s: %s", dream.VGG19Name, unwrapPath(err))
	}
	defer f.Close()
	m, err := models.LoadVGG19(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	a.vggKey, a.vgg = key, m
	return m, nil
}

// fileIdentity names a file's version by its path, size and modification time, as the model
// store's verdict cache does.
func fileIdentity(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %s", path, unwrapPath(err))
	}
	return fmt.Sprintf("%s %d %d", path, st.Size(), st.ModTime().UnixNano()), nil
}
