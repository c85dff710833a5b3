package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func setHome(t *testing.T) string {
	d := t.TempDir()
	for _, k := range []string{"XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"} {
		t.Setenv(k, filepath.Join(d, k))
	}
	return d
}

func TestBadInputIsOneLineAndStatus2(t *testing.T) {
	d := setHome(t)
	malformed := filepath.Join(d, "malformed.toml")
	os.WriteFile(malformed, []byte("batch_size = [1,\n"), 0o644)
	negative := filepath.Join(d, "negative.toml")
	os.WriteFile(negative, []byte("batch_size = -100\n"), 0o644)
	idxDir := filepath.Join(d, "idx")
	os.MkdirAll(idxDir, 0o755)
	os.WriteFile(filepath.Join(idxDir, "train-images-idx3-ubyte"), []byte{0, 0, 8, 3, 0, 0, 0, 9}, 0o644)
	junk := filepath.Join(d, "junk.convas")
	os.WriteFile(junk, []byte("not a checkpoint"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--preset", "no-such-preset"}, `preset "no-such-preset" not found`},
		{[]string{"train", "--preset", malformed}, "malformed.toml"},
		{[]string{"train", "--preset", negative}, "batch_size = -100"},
		{[]string{"train", "--dataset", idxDir, "--steps", "1"}, "truncated"},
		{[]string{"train", "--resume", junk}, "not a Convas checkpoint"},
		{[]string{"train", "--steps", "-3"}, "--steps -3"},
		{[]string{"train", "--bogus"}, "bogus"},
		{[]string{"frobnicate"}, "unknown command"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		status := Main(c.args, &out, &errb)
		msg := errb.String()
		if status != 2 {
			t.Errorf("%v: status %d, want 2 (stderr %q)", c.args, status, msg)
		}
		if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.want) {
			t.Errorf("%v: stderr %q, want one line containing %q", c.args, msg, c.want)
		}
	}
}

func TestTrainJSON(t *testing.T) {
	d := setHome(t)
	out := filepath.Join(d, "run")
	var stdout, stderr bytes.Buffer
	if status := Main([]string{"train", "--steps", "10", "--json", "--out", out}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 { // evaluations at 5 and 10, then the final line
		t.Fatalf("got %d lines: %q", len(lines), stdout.String())
	}
	var final map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &final); err != nil {
		t.Fatal(err)
	}
	acc, ok := final["test_accuracy"].(float64)
	if !ok || acc <= 0.1 || acc > 1 || final["total"].(float64) != 10000 {
		t.Errorf("final line %v", final)
	}
	for _, f := range []string{"checkpoint.convas", "metrics.csv", "loss.png", "accuracy.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Resuming goes on from generation 10.
	stdout.Reset()
	if status := Main([]string{"train", "--resume", filepath.Join(out, "checkpoint.convas"), "--steps", "5", "--out", out}, &stdout, &stderr); status != 0 {
		t.Fatalf("resume status %d: %s", status, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Generation # 15.") {
		t.Errorf("resume output %q", stdout.String())
	}
}

func TestModelsListOffline(t *testing.T) {
	setHome(t)
	var out, errb bytes.Buffer
	if status := Main([]string{"models", "list"}, &out, &errb); status != 0 {
		t.Fatalf("status %d: %s", status, errb.String())
	}
	for _, want := range []string{"inceptionv3-trunk", "ready (embedded)", "vgg19", "missing", "534.9 MB", "inception5h", "49.9 MB", "cifar10"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("models list lacks %q:\n%s", want, out.String())
		}
	}
	errb.Reset()
	if status := Main([]string{"models", "fetch", "nope"}, &out, &errb); status != 2 || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("fetch nope: status %d, stderr %q", status, errb.String())
	}
	errb.Reset()
	junk := filepath.Join(t.TempDir(), "junk.bin")
	os.WriteFile(junk, []byte("junk"), 0o644)
	if status := Main([]string{"models", "import", junk}, &out, &errb); status != 2 || !strings.Contains(errb.String(), "import-unverified") {
		t.Errorf("import junk: status %d, stderr %q", status, errb.String())
	}
}
