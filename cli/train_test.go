package cli

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"convas/compute/formats/cifar"
)

// writeCIFAR writes a small folder in the CIFAR-10 binary format: random pictures, labels 0 to 9.
func writeCIFAR(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	batch := func(n int) *cifar.Batch {
		b := &cifar.Batch{N: n, Pixels: make([]uint8, n*cifar.PixelLen), Labels: make([]uint8, n)}
		for i := range b.Pixels {
			b.Pixels[i] = uint8(r.IntN(256))
		}
		for i := range b.Labels {
			b.Labels[i] = uint8(r.IntN(10))
		}
		return b
	}
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	if err := cifar.WriteDir(dir, batch(nTrain), batch(nTest), cifar.DefaultLabels); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTrainCIFAR runs the cifar10-advanced preset as shipped (full network, batch 128) for two
// generations on a synthetic CIFAR-10 folder, then resumes it for one more.
func TestTrainCIFAR(t *testing.T) {
	if testing.Short() {
		t.Skip("a few generations of the full CIFAR-10 network")
	}
	d := setHome(t)
	data := writeCIFAR(t, 300, 40)
	out := filepath.Join(d, "run")
	var stdout, stderr bytes.Buffer
	if status := Main([]string{"train", "--preset", "cifar10-advanced", "--data", data, "--steps", "2", "--json", "--out", out}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var final map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &final); err != nil {
		t.Fatal(err)
	}
	if final["total"].(float64) != 40 || final["generation"].(float64) != 2 {
		t.Errorf("final line %v", final)
	}
	ckpt := filepath.Join(out, "checkpoint.convas")
	if st, err := os.Stat(ckpt); err != nil || st.Size() < 4*(64*3*25+64*64*25+2304*384) {
		t.Fatalf("checkpoint: %v", err)
	}
	stdout.Reset()
	if status := Main([]string{"train", "--resume", ckpt, "--steps", "1", "--out", out}, &stdout, &stderr); status != 0 {
		t.Fatalf("resume status %d: %s", status, stderr.String())
	}
	if !strings.Contains(stdout.String(), "after 3 generations") {
		t.Errorf("resume output %q", stdout.String())
	}
}

func TestTrainCIFARErrors(t *testing.T) {
	d := setHome(t)
	bad := filepath.Join(d, "bad")
	os.MkdirAll(bad, 0o755)
	data := writeCIFAR(t, 20, 5)
	cut := filepath.Join(data, "test_batch.bin")
	b, _ := os.ReadFile(cut)
	os.WriteFile(cut, b[:len(b)-100], 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--preset", "cifar10-advanced"}, "convas models fetch cifar10"},
		{[]string{"train", "--preset", "cifar10-advanced", "--data", filepath.Join(d, "missing")}, "not a folder"},
		{[]string{"train", "--preset", "cifar10-advanced", "--data", data, "--steps", "1"}, "test_batch.bin"},
		{[]string{"train", "--preset", "cifar10-advanced", "--data", bad, "--dataset", "mnist"}, "not both"},
		{[]string{"models", "export-cifar10"}, "--out"},
		{[]string{"models", "export-cifar10", "--out", bad}, "convas models fetch cifar10"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		status := Main(c.args, &out, &errb)
		msg := errb.String()
		if status != 2 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.want) {
			t.Errorf("%v: status %d, stderr %q; want 2 and one line containing %q", c.args, status, msg, c.want)
		}
	}
}

func TestExportCIFAR10(t *testing.T) {
	d := setHome(t)
	data := writeCIFAR(t, 12, 3)
	out := filepath.Join(d, "folders")
	var stdout, stderr bytes.Buffer
	if status := Main([]string{"models", "export-cifar10", "--data", data, "--out", out}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	n := map[string]int{}
	filepath.WalkDir(out, func(p string, e os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".png") {
			rel, _ := filepath.Rel(out, p)
			n[strings.Split(rel, string(filepath.Separator))[0]]++
		}
		return nil
	})
	if n["train_dir"] != 12 || n["validation_dir"] != 3 {
		t.Errorf("pictures per split %v", n)
	}
	if _, err := os.Stat(filepath.Join(out, "cifar10_labels.txt")); err != nil {
		t.Error(err)
	}
}
