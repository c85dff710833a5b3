package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"convas/compute/train"
	"convas/presets"
)

// Preset is a named training configuration read from a TOML file.
type Preset struct {
	Name   string // file name without .toml
	Title  string // one line for pickers
	Source string // "built-in" or the file's path
	Config train.Config
}

// presetFile is the TOML document: a title and the configuration's keys at the top level.
type presetFile struct {
	Title string `toml:"title"`
	train.Config
}

// PresetError reports a preset that cannot be used: the file, and the key and value at fault when
// one is.
type PresetError struct {
	File  string
	Key   string
	Value any
	Msg   string
}

func (e *PresetError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("preset %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("preset %s: %s = %v: %s", e.File, e.Key, e.Value, e.Msg)
}

// ParsePreset decodes and validates a preset. Every key must be known, of the right type and
// acceptable; keys the file leaves out keep the defaults of the recipe it names (the MNIST
// recipe's when it names none).
func ParsePreset(file string, b []byte) (Preset, error) {
	defaults := train.DefaultConfig()
	if r := presetRecipe(b); r != "" {
		if d, ok := train.DefaultConfigFor(r); ok {
			defaults = d
		}
	}
	pf := presetFile{Config: defaults}
	md, err := toml.Decode(string(b), &pf)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Preset{}, &PresetError{File: file, Key: pe.LastKey, Value: "", Msg: strings.TrimPrefix(pe.Message, "toml: ") + fmt.Sprintf(" (line %d)", pe.Position.Line)}
		}
		return Preset{}, &PresetError{File: file, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return Preset{}, &PresetError{File: file, Key: k, Value: rawValue(b, k), Msg: "unknown key (known: title, " + strings.Join(train.Keys(), ", ") + ")"}
	}
	if errs := pf.Config.Validate(); len(errs) > 0 {
		e := errs[0]
		return Preset{}, &PresetError{File: file, Key: e.Key, Value: e.Value, Msg: e.Reason}
	}
	name := strings.TrimSuffix(filepath.Base(file), ".toml")
	title := pf.Title
	if title == "" {
		title = name
	}
	return Preset{Name: name, Title: title, Source: file, Config: pf.Config}, nil
}

// rawValue finds the text of key's value in b, for error messages.
func rawValue(b []byte, key string) string {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// LoadPreset returns the preset a user names: a path to a TOML file (anything containing a path
// separator or ending in .toml), a preset in the user's preset folder, or a built-in one.
func (a *App) LoadPreset(nameOrFile string) (Preset, error) {
	if strings.ContainsRune(nameOrFile, os.PathSeparator) || strings.HasSuffix(nameOrFile, ".toml") {
		b, err := os.ReadFile(nameOrFile)
		if err != nil {
			return Preset{}, &PresetError{File: nameOrFile, Msg: "cannot read: " + unwrapPath(err)}
		}
		return ParsePreset(nameOrFile, b)
	}
	for _, p := range a.Presets() {
		if p.Name == nameOrFile {
			return p, nil
		}
	}
	var names []string
	for _, p := range a.Presets() {
		names = append(names, p.Name)
	}
	return Preset{}, fmt.Errorf("preset %q not found (have: %s)", nameOrFile, strings.Join(names, ", "))
}

// Presets lists the built-in presets and the valid ones in the user's preset folder (which win
// on a name clash), sorted by name. Invalid user presets are left out; PresetProblems names them.
func (a *App) Presets() []Preset {
	byName := map[string]Preset{}
	entries, _ := fs.ReadDir(presets.FS(), ".")
	for _, e := range entries {
		b, err := fs.ReadFile(presets.FS(), e.Name())
		if err != nil || !isTrainingPreset(b) {
			continue
		}
		p, err := ParsePreset(e.Name(), b)
		if err != nil {
			continue // a test keeps the built-in presets valid
		}
		p.Source = "built-in"
		byName[p.Name] = p
	}
	user, _ := a.userPresets()
	for _, p := range user {
		byName[p.Name] = p
	}
	out := make([]Preset, 0, len(byName))
	for _, p := range byName {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PresetProblems returns the errors of the user's preset files that could not be used.
func (a *App) PresetProblems() []error {
	_, errs := a.userPresets()
	return errs
}

func (a *App) userPresets() ([]Preset, []error) {
	dir := a.PresetDir()
	matches, _ := filepath.Glob(filepath.Join(dir, "*.toml"))
	var out []Preset
	var errs []error
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			errs = append(errs, &PresetError{File: m, Msg: "cannot read: " + unwrapPath(err)})
			continue
		}
		if !isTrainingPreset(b) {
			continue
		}
		p, err := ParsePreset(m, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errs
}

// SavePreset writes cfg as a preset in the user's preset folder and returns its path.
func (a *App) SavePreset(name, title string, cfg train.Config) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\:`) || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("preset name %q is not a valid file name", name)
	}
	if err := os.MkdirAll(a.PresetDir(), 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(a.PresetDir(), name+".toml")
	var sb strings.Builder
	if err := toml.NewEncoder(&sb).Encode(presetFile{Title: title, Config: cfg}); err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, []byte(sb.String())); err != nil {
		return "", err
	}
	return path, nil
}

func unwrapPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// isTrainingPreset reports whether a preset file is for a training recipe: its recipe key is
// missing (the MNIST recipe is the default) or names one of train.Recipes. Other recipes
// (deepdream, style) have presets of their own in the same folder.
func isTrainingPreset(b []byte) bool {
	var head struct {
		Recipe string `toml:"recipe"`
	}
	if _, err := toml.Decode(string(b), &head); err != nil {
		return true // let ParsePreset report what is wrong
	}
	if head.Recipe == "" {
		return true
	}
	_, ok := train.DefaultConfigFor(head.Recipe)
	return ok
}

// presetRecipe returns the recipe key of a preset, or "" when it has none or does not parse.
func presetRecipe(b []byte) string {
	var head struct {
		Recipe string `toml:"recipe"`
	}
	toml.Decode(string(b), &head)
	return head.Recipe
}

// builtinPresets decodes the embedded presets whose file names match glob, sorted by name.
// Invalid ones are left out; a test keeps the built-in presets valid.
func builtinPresets[T any](glob string, parse func(file string, b []byte) (T, error)) []T {
	var out []T
	names, _ := fs.Glob(presets.FS(), glob)
	for _, n := range names {
		b, err := fs.ReadFile(presets.FS(), n)
		if err != nil {
			continue
		}
		if p, err := parse(n, b); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// findPreset returns the preset a user names: a TOML file (a name with a path separator or
// ending in .toml), or one of builtins by its name with or without prefix.
func findPreset[T any](kind, prefix, nameOrFile string, builtins []T, name func(T) string, parse func(file string, b []byte) (T, error)) (T, error) {
	var zero T
	if strings.ContainsRune(nameOrFile, os.PathSeparator) || strings.HasSuffix(nameOrFile, ".toml") {
		b, err := os.ReadFile(nameOrFile)
		if err != nil {
			return zero, &PresetError{File: nameOrFile, Msg: "cannot read: " + unwrapPath(err)}
		}
		return parse(nameOrFile, b)
	}
	var names []string
	for _, p := range builtins {
		if n := name(p); n == nameOrFile || n == prefix+nameOrFile {
			return p, nil
		}
		names = append(names, strings.TrimPrefix(name(p), prefix))
	}
	return zero, fmt.Errorf("%s preset %q not found (have: %s)", kind, nameOrFile, strings.Join(names, ", "))
}
