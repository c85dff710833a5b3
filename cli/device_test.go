package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"convas/compute/gpu"
)

// computing lists every command that runs a network, with the arguments it needs to get as far
// as choosing the device.
func computing(dir string) map[string][]string {
	return map[string][]string{
		"train":    nil,
		"retrain":  {"--data", dir},
		"style":    {"--content", "c.png", "--style", "s.png", "--out", filepath.Join(dir, "o.png")},
		"dream":    {"--in", "noise", "--out", filepath.Join(dir, "o.png")},
		"classify": {"--model", filepath.Join(dir, "m.ckpt"), "p.png"},
	}
}

// TestDeviceFlagMalformed: on every command that computes, a malformed --device is a usage
// error in one line naming the flag, and so is a malformed $CONVAS_DEVICE, naming it.
func TestDeviceFlagMalformed(t *testing.T) {
	dir := setHome(t)
	for cmd, args := range computing(dir) {
		for _, c := range []struct{ value, want string }{
			{"tpu", `--device tpu: "tpu" is not a device: use cpu, cuda or cuda:N`},
			{"cuda:x", `--device cuda:x: "cuda:x": the index after cuda: must be a number from 0 on`},
		} {
			var out, errb bytes.Buffer
			status := Main(append([]string{cmd, "--device", c.value}, args...), &out, &errb)
			if want := "convas " + cmd + ": " + c.want + "\n"; status != 2 || errb.String() != want {
				t.Errorf("%s --device %s: status %d, stderr %q; want 2 and %q", cmd, c.value, status, errb.String(), want)
			}
		}
	}
	t.Setenv(DeviceEnv, "gpu:1")
	var out, errb bytes.Buffer
	status := Main([]string{"dream", "--in", "noise", "--out", filepath.Join(dir, "o.png")}, &out, &errb)
	if want := `convas dream: $CONVAS_DEVICE=gpu:1: "gpu:1" is not a device: use cpu, cuda or cuda:N` + "\n"; status != 2 || errb.String() != want {
		t.Errorf("CONVAS_DEVICE=gpu:1: status %d, stderr %q; want %q", status, errb.String(), want)
	}
}

// TestDeviceHelp: every command that computes lists --device, with its default and the
// environment variable; $CONVAS_DEVICE changes the default shown.
func TestDeviceHelp(t *testing.T) {
	dir := setHome(t)
	t.Setenv(DeviceEnv, "")
	for cmd := range computing(dir) {
		var out, errb bytes.Buffer
		if status := Main([]string{cmd, "-h"}, &out, &errb); status != 0 {
			t.Errorf("%s -h: status %d", cmd, status)
		}
		help := errb.String()
		if !strings.Contains(help, "-device DEVICE") || !strings.Contains(help, "cpu, cuda (the first GPU) or cuda:N") ||
			!strings.Contains(help, "$CONVAS_DEVICE") || !strings.Contains(help, `(default "cpu")`) {
			t.Errorf("%s -h does not tell --device:\n%s", cmd, help)
		}
	}
	t.Setenv(DeviceEnv, "cuda:1")
	var out, errb bytes.Buffer
	Main([]string{"dream", "-h"}, &out, &errb)
	if !strings.Contains(errb.String(), `(default "cuda:1")`) {
		t.Errorf("with CONVAS_DEVICE=cuda:1, dream -h says:\n%s", errb.String())
	}
}

// TestDeviceFallback: a GPU that cannot be used is one line on stderr, and the run goes on on
// the CPU; the CPU itself says nothing.
func TestDeviceFallback(t *testing.T) {
	if gpu.Built {
		t.Skip("this build has CUDA: the GPU may well be usable")
	}
	dir := setHome(t)
	run := func(env string, args ...string) (int, string) {
		t.Setenv(DeviceEnv, env)
		var out, errb bytes.Buffer
		status := Main(append([]string{"dream", "--in", "noise", "--size", "48", "--octaves", "1", "--iterations", "1",
			"--out", filepath.Join(dir, "o.png")}, args...), &out, &errb)
		if status == 0 && !strings.Contains(out.String(), "Wrote ") {
			t.Errorf("%v: stdout %q", args, out.String())
		}
		return status, errb.String()
	}
	want := "convas: cuda:0 asked for, running on the CPU: this build has no CUDA support (build with -tags convas_cuda; see docs/GPU.md)\n"
	if status, stderr := run("", "--device", "cuda"); status != 0 || stderr != want {
		t.Errorf("--device cuda: status %d, stderr %q; want 0 and %q", status, stderr, want)
	}
	if status, stderr := run("cuda:0"); status != 0 || stderr != want {
		t.Errorf("CONVAS_DEVICE=cuda:0: status %d, stderr %q; want 0 and %q", status, stderr, want)
	}
	if status, stderr := run("cuda:0", "--device", "cpu"); status != 0 || stderr != "" {
		t.Errorf("--device cpu over CONVAS_DEVICE=cuda:0: status %d, stderr %q", status, stderr)
	}
}

// TestUseDevice: the choice reaches the App.
func TestUseDevice(t *testing.T) {
	a := newApp(t)
	fs := newFlags("x", &bytes.Buffer{})
	var errb bytes.Buffer
	if err := useDevice(a, fs, "CPU", &errb); err != nil || errb.Len() != 0 {
		t.Fatalf("cpu: %v, %q", err, errb.String())
	}
	if err := useDevice(a, fs, "cuda:3", &errb); err != nil || !strings.HasPrefix(errb.String(), "convas: cuda:3 asked for, running on the CPU: ") {
		t.Fatalf("cuda:3: %v, %q", err, errb.String())
	}
	if name, note := a.Device(); name != "cpu" || !strings.HasPrefix(note, "cuda:3 asked for") {
		t.Errorf("App.Device() = %q, %q", name, note)
	}
}
