package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"convas/app"
)

// DeviceEnv is the environment variable that gives --device its default.
const DeviceEnv = "CONVAS_DEVICE"

// deviceFlag adds --device to a command that runs a network. Its default is $CONVAS_DEVICE, or
// the CPU.
func deviceFlag(fs *flag.FlagSet) *string {
	def := strings.TrimSpace(os.Getenv(DeviceEnv))
	if def == "" {
		def = "cpu"
	}
	return fs.String("device", def, "compute on `DEVICE`: cpu, cuda (the first GPU) or cuda:N; a GPU that cannot be used "+
		"is said on stderr and the CPU is used (default from $"+DeviceEnv+", else cpu)")
}

// useDevice makes name the device of a's runs and opens it now. A malformed name is a usage
// error naming the flag (or $CONVAS_DEVICE when the value came from it). A GPU that cannot be
// used, or cannot be opened, is one line on stderr ("convas: cuda:0 asked for, running on the
// CPU: this build has no CUDA support ..."), and the command goes on on the CPU.
func useDevice(a *app.App, fs *flag.FlagSet, name string, stderr io.Writer) error {
	note, err := a.SetDevice(name)
	if err != nil {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "device" })
		what := "--device " + name
		if !set {
			what = "$" + DeviceEnv + "=" + name
		}
		return &UsageError{fmt.Sprintf("%s: %s", what, strings.TrimPrefix(err.Error(), "device: "))}
	}
	if note == "" {
		note = a.OpenDevice()
	}
	if note != "" {
		fmt.Fprintf(stderr, "convas: %s\n", note)
	}
	return nil
}
