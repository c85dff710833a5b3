package modelstore

import (
	"encoding/hex"
	"net/url"
	"path"
	"testing"
)

func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Catalog() {
		if seen[e.Name] {
			t.Errorf("%s: name used twice", e.Name)
		}
		seen[e.Name] = true
		if e.Title == "" || e.Licence == "" || e.URL == "" {
			t.Errorf("%s: missing title, licence or URL", e.Name)
		}
		if e.Format == FormatEmbedded {
			continue
		}
		checkCatalogEntry(t, e)
	}
	for _, name := range []string{"vgg19", "inception5h", "cifar10", "inceptionv3-trunk"} {
		if !seen[name] {
			t.Errorf("catalog lacks %s", name)
		}
	}
}

// checkCatalogEntry checks the fields of a downloadable entry.
func checkCatalogEntry(t *testing.T, e Entry) {
	t.Helper()
	hexLen := map[Algorithm]int{MD5: 32, SHA256: 64}
	if err := (&Store{Dir: "x"}).check(e); err != nil {
		t.Errorf("%s: %v", e.Name, err)
	}
	u, err := url.Parse(e.URL)
	if err != nil || u.Scheme != "https" || path.Base(u.Path) != e.File {
		t.Errorf("%s: URL %s is not https or does not end in %s", e.Name, e.URL, e.File)
	}
	sums := []Checksum{e.Sum}
	for _, a := range e.Alternatives {
		sums = append(sums, a.Sum)
	}
	for _, c := range sums {
		if b, err := hex.DecodeString(c.Hex); err != nil || len(c.Hex) != hexLen[c.Algorithm] || hex.EncodeToString(b) != c.Hex {
			t.Errorf("%s: checksum %v is not lowercase hex of the algorithm's length", e.Name, c)
		}
	}
	if e.Size <= 0 || len(e.Files) == 0 || e.Open == "" {
		t.Errorf("%s: size, files or open path missing", e.Name)
	}
	if e.Format.archive() != "" && e.MaxUnpacked < e.Size {
		t.Errorf("%s: MaxUnpacked %d is below the archive size %d", e.Name, e.MaxUnpacked, e.Size)
	}
}

func TestCatalogIsACopy(t *testing.T) {
	c := Catalog()
	c[0].Files[0] = "changed"
	c[0].Alternatives[0].Note = "changed"
	again := Catalog()
	if again[0].Files[0] == "changed" || again[0].Alternatives[0].Note == "changed" {
		t.Error("changing one Catalog result changed the next")
	}
}

func TestLookup(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	e, err := s.Lookup("vgg19")
	if err != nil || e.Size != 534904783 || e.Sum != (Checksum{MD5, "106118b7cf60435e6d8e04f6a6dc3657"}) {
		t.Errorf("Lookup(vgg19) = %+v, %v", e, err)
	}
	if e.Alternatives[0].Sum.Hex != "8ee3263992981a1d26e73b3ca028a123" {
		t.Errorf("vgg19 alternative = %+v, want the beta16 file", e.Alternatives[0])
	}
	if _, err := s.Lookup("alexnet"); err == nil {
		t.Error("Lookup of an unknown name succeeded")
	}
}

func TestCandidates(t *testing.T) {
	e := Entry{Size: 1000, Sum: Checksum{MD5, "a"}, Alternatives: []Alternative{
		{Size: 900, Sum: Checksum{MD5, "b"}},
		{Sum: Checksum{SHA256, "c"}}, // size unknown
	}}
	tests := []struct {
		size int64
		want string
	}{
		{1000, "ac"}, {900, "bc"}, {800, "c"}, {1300, ""}, {10, ""},
	}
	for _, tt := range tests {
		got := ""
		for _, c := range e.candidates(tt.size) {
			got += c.Sum.Hex
		}
		if got != tt.want {
			t.Errorf("candidates(%d) = %q, want %q", tt.size, got, tt.want)
		}
	}
}
