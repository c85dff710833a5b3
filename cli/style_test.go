package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"convas/app"
)

// The built-in sample pictures, as files in the repository.
const (
	styleContentFile = "../assets/samples/chelsea.png"
	styleStyleFile   = "../assets/samples/scream.jpg"
)

// TestStyleSmoke runs `convas style` with the embedded trunk at 64 pixels for 3 steps.
func TestStyleSmoke(t *testing.T) {
	a := newApp(t)
	d := t.TempDir()
	out := filepath.Join(d, "out.png")
	var stdout, stderr bytes.Buffer
	args := []string{"--content", styleContentFile, "--style", styleStyleFile + ":2", "--size", "64", "--iterations", "3",
		"--every", "2", "--out", out}
	if err := styleCmd(a, args, &stdout, &stderr); err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr.String())
	}
	cfg, err := app.ReadStyleSettings(out)
	if err != nil {
		t.Fatal(err)
	}
	// Without VGG-19 in the store, the trunk's preset: its layers, with the flags given on top.
	if cfg.Model != "inceptionv3-trunk" || cfg.Size != 64 || cfg.Iterations != 3 || cfg.Every != 2 ||
		len(cfg.Styles) != 1 || cfg.Styles[0].Weight != 2 || cfg.ContentLayers["mixed3"] == 0 {
		t.Errorf("settings %+v", cfg)
	}
	if _, err := os.Stat(filepath.Join(d, "out-0002.png")); err != nil {
		t.Errorf("no picture of step 2: %v", err)
	}
	if s := stdout.String(); !strings.Contains(s, "step 2/3: content") || !strings.Contains(s, "Wrote "+out+" (64x43)") {
		t.Errorf("stdout %q", s)
	}
}

func TestStyleBadInputIsOneLine(t *testing.T) {
	a := newApp(t)
	d := t.TempDir()
	out := filepath.Join(d, "out.png")
	junk := filepath.Join(d, "junk.jpg")
	os.WriteFile(junk, []byte("not a picture"), 0o644)
	base := []string{"--content", styleContentFile, "--style", styleStyleFile, "--size", "64", "--iterations", "1", "--out", out}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--style", styleStyleFile, "--out", out}, "--content"},
		{append(base, "--style", styleStyleFile+":-1"), "must be above 0"},
		{append(base, "--style", junk), "junk.jpg"},
		{[]string{"--content", filepath.Join(d, "gone.png"), "--style", styleStyleFile, "--out", out}, "gone.png"},
		{append(base, "--optimizer", "sgd"), "optimizer = sgd"},
		{append(base, "--preset", "nope"), `style preset "nope" not found`},
		{append(base, "--model", "alexnet"), "alexnet"},
		{append(base, "--model", "vgg19"), "vgg19"},
		{append(base, "--tv-weight", "-1"), "tv_weight = -1"},
		{append(base, "--every", "0"), "--every 0"},
		{append(base, "--size", "2000", "--memory", "300"), "a long side of at most"},
		{append(base, "--style-scale", "0"), "style_scale = 0"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		err := styleCmd(a, c.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want one line containing %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed transfer wrote its output")
	}
}

// TestStyleCoarseToFineAndInit runs two sizes (long sides 256 and 300) starting from a given
// picture, with the style at half scale: the settings hold all
// three, and the steps count over both sizes.
func TestStyleCoarseToFineAndInit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the trunk at 256 and 300 pixels")
	}
	a := newApp(t)
	d := t.TempDir()
	out := filepath.Join(d, "out.png")
	var stdout, stderr bytes.Buffer
	args := []string{"--content", styleContentFile, "--style", styleStyleFile, "--size", "300", "--iterations", "1",
		"--coarse-to-fine", "--init", styleStyleFile, "--style-scale", "0.5", "--out", out}
	if err := styleCmd(a, args, &stdout, &stderr); err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr.String())
	}
	cfg, err := app.ReadStyleSettings(out)
	if err != nil || !cfg.CoarseToFine || cfg.Init != styleStyleFile || cfg.StyleScale != 0.5 {
		t.Fatalf("settings %+v, %v", cfg, err)
	}
	if s := stdout.String(); !strings.Contains(s, "Wrote "+out+" (300x200) with inceptionv3-trunk, 2 steps") {
		t.Errorf("stdout %q", s)
	}
}

// TestStyleEstimate prints the estimate without running: the memory against the budget, the
// largest size that fits when it does not, and the time timed here.
func TestStyleEstimate(t *testing.T) {
	a := newApp(t)
	var stdout, stderr bytes.Buffer
	args := []string{"--content", styleContentFile, "--style", styleStyleFile, "--size", "96", "--estimate"}
	if err := styleCmd(a, args, &stdout, &stderr); err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr.String())
	}
	s := stdout.String()
	if !strings.Contains(s, "inceptionv3-trunk up to 96x96 px: about ") || !strings.Contains(s, "MiB of the 4096 MiB budget") ||
		!strings.Contains(s, "an iteration (") || !strings.Contains(s, "one step timed at 64 and 128 px") {
		t.Errorf("stdout %q", s)
	}
	stdout.Reset()
	args = []string{"--content", styleContentFile, "--style", styleStyleFile, "--size", "2000", "--memory", "300", "--estimate"}
	if err := styleCmd(a, args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if s := stdout.String(); !strings.Contains(s, "over the memory budget of 300 MiB: a long side of at most") {
		t.Errorf("over budget: stdout %q", s)
	}
}
