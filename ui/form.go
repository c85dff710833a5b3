package ui

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"fyne.io/fyne/v2/widget"

	"convas/app"
)

// configForm edits a recipe configuration (a struct of int, int64, float64 and string fields with
// toml tags; fields tagged toml:"-" are left alone) as one entry per key, validating as the user
// types.
type configForm struct {
	entries  map[string]*widget.Entry
	keys     []string
	form     *widget.Form
	validate func(any) map[string]string // key -> reason, for the whole configuration
	onChange func(valid bool)
	value    reflect.Value // a settable copy of the configuration
	loading  bool
	bad      map[string]string // key -> why its value is not acceptable
}

// newConfigForm builds entries for every field of cfg (a pointer to a struct) except the keys in skip.
func newConfigForm(cfg any, skip map[string]bool, validate func(any) map[string]string, onChange func(bool)) *configForm {
	f := &configForm{entries: map[string]*widget.Entry{}, validate: validate, onChange: onChange,
		value: reflect.ValueOf(cfg).Elem()}
	f.form = widget.NewForm()
	t := f.value.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("toml")
		if key == "" || key == "-" || skip[key] { // "-": not a setting (Config.Accel, the device)
			continue
		}
		e := widget.NewEntry()
		e.OnChanged = func(string) { f.changed() }
		f.entries[key] = e
		f.keys = append(f.keys, key)
		f.form.Append(key, e)
	}
	return f
}

// set fills the entries from cfg (a struct value of the form's type).
func (f *configForm) set(cfg any) {
	f.loading = true
	v := reflect.ValueOf(cfg)
	f.value.Set(v)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if e, ok := f.entries[t.Field(i).Tag.Get("toml")]; ok {
			e.SetText(fmt.Sprint(v.Field(i).Interface()))
		}
	}
	f.loading = false
	f.changed()
}

// changed parses every entry, validates, marks bad entries and reports overall validity.
func (f *configForm) changed() {
	if f.loading {
		return
	}
	problems := map[string]string{}
	t := f.value.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("toml")
		e, ok := f.entries[key]
		if !ok {
			continue
		}
		if err := setField(f.value.Field(i), strings.TrimSpace(e.Text)); err != nil {
			problems[key] = err.Error()
		}
	}
	for k, r := range f.validate(f.value.Interface()) {
		if _, seen := problems[k]; !seen {
			problems[k] = r
		}
	}
	f.bad = problems
	for _, k := range f.keys {
		e := f.entries[k]
		if r, bad := problems[k]; bad {
			e.SetValidationError(fmt.Errorf("%s", r))
		} else {
			e.SetValidationError(nil)
		}
	}
	if f.onChange != nil {
		f.onChange(len(problems) == 0)
	}
}

// problems returns "key: reason" for every invalid entry, in form order.
func (f *configForm) problems() []string {
	var out []string
	for _, k := range f.keys {
		if r, bad := f.bad[k]; bad {
			out = append(out, k+": "+r)
		}
	}
	return out
}

func setField(v reflect.Value, s string) error {
	switch v.Kind() {
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(x)
	case reflect.String:
		v.SetString(s)
	default:
		return fmt.Errorf("unsupported field kind %s", v.Kind())
	}
	return nil
}

// presetTitles returns the pickers' labels and the presets they stand for.
func presetTitles(ps []app.Preset) ([]string, map[string]app.Preset) {
	titles := make([]string, len(ps))
	by := map[string]app.Preset{}
	for i, p := range ps {
		titles[i] = p.Title + " [" + p.Name + "]"
		by[titles[i]] = p
	}
	return titles, by
}
