package cli

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"convas/app"
)

const chelseaFile = "../../shared/samples/chelsea.png"

func newApp(t *testing.T) *app.App {
	t.Helper()
	setHome(t)
	a, err := app.New()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDreamSmoke dreams on the photo, shrunk to 120 pixels, with the embedded trunk: 2 octaves
// of 2 steps, every frame saved.
func TestDreamSmoke(t *testing.T) {
	if _, err := os.Stat(chelseaFile); errors.Is(err, os.ErrNotExist) {
		t.Skipf("no %s", chelseaFile)
	}
	a := newApp(t)
	dir := t.TempDir()
	out, frames := filepath.Join(dir, "out", "dream.png"), filepath.Join(dir, "frames")
	var stdout, stderr bytes.Buffer
	err := dreamCmd(a, []string{"--in", chelseaFile, "--size", "120", "--layer", "mixed3", "--octaves", "2",
		"--iterations", "2", "--roll", "16", "--out", out, "--frames", frames}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Wrote "+out+" (120x80): mixed3 of inceptionv3-trunk, 4 steps") {
		t.Errorf("stdout %q", stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 120 || b.Dy() != 80 {
		t.Errorf("dream is %v, want 120x80", b)
	}
	s, err := app.ReadDreamSettings(out)
	if err != nil {
		t.Fatal(err)
	}
	if s.Network != "inceptionv3-trunk" || s.Picture != "chelsea.png" || s.LongSide != 120 || s.Config.Layer != "mixed3" ||
		s.Config.Channel != -1 || s.Config.Octaves != 2 || s.Config.Iterations != 2 || s.Config.Roll != 16 {
		t.Errorf("settings %+v", s)
	}
	names, _ := filepath.Glob(filepath.Join(frames, "frame-*.png"))
	if len(names) != 4 || filepath.Base(names[3]) != "frame-0004.png" {
		t.Errorf("frames %v, want frame-0001.png to frame-0004.png", names)
	}
}

// TestDreamBadInput: every mistake is one line that names what is wrong.
func TestDreamBadInput(t *testing.T) {
	a := newApp(t)
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.png")
	os.WriteFile(corrupt, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	out := filepath.Join(dir, "out.png")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--in", filepath.Join(dir, "missing.jpg"), "--out", out}, "missing.jpg: no such file or directory"},
		{[]string{"--in", corrupt, "--out", out}, "corrupt.png"},
		{[]string{"--in", "noise", "--layer", "mixed9", "--out", out}, `layer = "mixed9": not a layer of the network`},
		{[]string{"--in", "noise", "--channel", "768", "--out", out}, "channel = 768: layer mixed3 has channels 0 to 767"},
		{[]string{"--in", "noise", "--model", "alexnet", "--out", out}, `unknown network "alexnet"`},
		{[]string{"--in", "noise", "--model", "inception5h", "--out", out}, "network inception5h: not downloaded (missing)"},
		{[]string{"--in", "noise", "--octaves", "0", "--out", out}, "octaves = 0"},
		{[]string{"--in", "noise", "--size", "40", "--out", out}, "octave 1 of 4 (14x14 pixels) cannot be dreamed on at layer mixed3"},
		{[]string{"--in", "noise", "--preset", "nope", "--out", out}, `dream preset "nope" not found`},
		{[]string{"--out", out}, "--in PICTURE (or noise) and --out OUT.png are required"},
		{[]string{"--in", "noise", "--out", out, "--bogus"}, "bogus"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		err := dreamCmd(a, c.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want one line containing %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed dream wrote its output")
	}
}

// TestDreamHelpListsNetworks: --help names every dream network and says which need a download.
func TestDreamHelpListsNetworks(t *testing.T) {
	a := newApp(t)
	var stdout, stderr bytes.Buffer
	dreamCmd(a, []string{"--help"}, &stdout, &stderr)
	if want := "inceptionv3-trunk, inception5h (once fetched), vgg19 (once fetched)"; !strings.Contains(stdout.String()+stderr.String(), want) {
		t.Errorf("help %q does not list %q", stdout.String()+stderr.String(), want)
	}
}
