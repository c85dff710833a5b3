package ui

import (
	"os"
	"strings"
	"testing"
)

func TestTablesAsLists(t *testing.T) {
	md := "intro\n\n| file | licence |\n| --- | --- |\n| a.png | MIT |\n| b.gz | CC0 |\n\ntail"
	got := tablesAsLists(md)
	want := "intro\n\n- **a.png**: MIT\n- **b.gz**: CC0\n\ntail"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if strings.Contains(got, "---") {
		t.Error("separator row kept")
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
