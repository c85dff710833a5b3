// Package app holds Convas's use cases, free of any widget: jobs that run a recipe on their own
// goroutine and publish typed progress, presets, data sets, checkpoints and run records. The
// window (ui/) and the command line (main.go) are two front ends over it.
package app

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"convas/app/modelstore"
	"convas/compute/models"
)

// App is the state shared by the front ends: where Convas keeps its files.
type App struct {
	ConfigDir string // presets and settings: $XDG_CONFIG_HOME/convas
	CacheDir  string // downloaded models and data: $XDG_CACHE_HOME/convas
	DataDir   string // what the user made (runs, checkpoints): $XDG_DATA_HOME/convas

	datasets sync.Map // loaded data sets by name, so a second run does not parse them again

	storeOnce sync.Once
	store     *modelstore.Store
	trunkOnce sync.Once
	trunk     *models.InceptionV3
	trunkErr  error
	googleMu  sync.Mutex
	google    *models.GoogLeNet
	vggMu     sync.Mutex
	vggKey    string // the file vgg was read from (fileIdentity)
	vgg       *models.VGG19

	dev deviceState // the device runs compute on (SetDevice), the CPU until one is chosen
}

// New returns an App rooted in the user's configuration and cache folders.
func New() (*App, error) {
	cfg, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("app: configuration folder: %w", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("app: cache folder: %w", err)
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("app: data folder: %w", err)
		}
		data = filepath.Join(home, ".local", "share")
	}
	return &App{ConfigDir: filepath.Join(cfg, "convas"), CacheDir: filepath.Join(cache, "convas"),
		DataDir: filepath.Join(data, "convas")}, nil
}

// PresetDir is where the user's own presets live.
func (a *App) PresetDir() string { return filepath.Join(a.ConfigDir, "presets") }

// RunsDir is where runs write their checkpoints, metrics and plots unless told otherwise.
func (a *App) RunsDir() string { return filepath.Join(a.DataDir, "runs") }

// writeFileAtomic writes b to a temporary file beside path and renames it into place, so a crash
// never leaves a half-written file under the final name.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes 0600; these files are the user's
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
