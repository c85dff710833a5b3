package assets

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"regexp"
	"testing"
)

// TestProvenanceSums checks that every embedded file is listed in PROVENANCE.md with its true
// SHA-256, and that every listed file is embedded.
func TestProvenanceSums(t *testing.T) {
	row := regexp.MustCompile(`(?m)^\| ([^ |]+) \|.*\| ([0-9a-f]{64}) \|$`)
	listed := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(Provenance(), -1) {
		listed[m[1]] = m[2]
	}
	if len(listed) == 0 {
		t.Fatal("no rows found in PROVENANCE.md")
	}
	seen := 0
	err := fs.WalkDir(FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == "PROVENANCE.md" {
			return err
		}
		b, err := fs.ReadFile(FS(), path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		want, ok := listed[path]
		switch {
		case !ok:
			t.Errorf("%s is embedded but not listed in PROVENANCE.md", path)
		case want != hex.EncodeToString(sum[:]):
			t.Errorf("%s: sha256 %x, PROVENANCE.md says %s", path, sum, want)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(listed) {
		t.Errorf("%d files embedded, %d listed", seen, len(listed))
	}
}
