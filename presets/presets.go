// Package presets embeds the recipes' presets: one TOML file per recipe, the seed's
// hyperparameters exactly, plus tuned variants. app/ reads and validates them.
package presets

import "embed"

//go:embed *.toml
var files embed.FS

// FS returns the embedded preset files, named NAME.toml.
func FS() embed.FS { return files }
