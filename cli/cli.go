// Package cli is Convas's command line: the same jobs as the window, headless, for scripts,
// benchmarks and servers without a screen. Every failure is one line on stderr and exit status 2.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"convas/app"
)

// UsageError is a mistake in the command line itself.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Commands lists the subcommands this build knows.
var commands = map[string]func(a *app.App, args []string, stdout, stderr io.Writer) error{
	"train":    trainCmd,
	"models":   modelsCmd,
	"dream":    dreamCmd,
	"style":    styleCmd,
	"retrain":  retrainCmd,
	"classify": classifyCmd,
}

// IsCommand reports whether name is a subcommand (otherwise the window opens).
func IsCommand(name string) bool {
	_, ok := commands[name]
	return ok || name == "help"
}

// Main runs a subcommand and returns the process exit status: 0 on success, 2 on any error.
func Main(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "convas: internal error: %v\n", r)
			status = 2
		}
	}()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "convas: unknown command %q (try: convas help)\n", args[0])
		return 2
	}
	a, err := app.New()
	if err == nil {
		defer a.CloseDevice()
		err = cmd(a, args[1:], stdout, stderr)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		msg := strings.TrimPrefix(oneLine(err.Error()), args[0]+": ")
		fmt.Fprintf(stderr, "convas %s: %s\n", args[0], msg)
		return 2
	}
	return 0
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func usage(w io.Writer) {
	fmt.Fprint(w, `Convas: a desktop studio for convolutional networks.

Usage:
  convas                      open the window
  convas train [flags]        train a CNN recipe headless (convas train -h); the CIFAR-10
                              recipe: convas train --preset cifar10-advanced [--data DIR]
  convas dream [flags]        DeepDream on a picture or noise (convas dream -h)
  convas style --content PICTURE --style PICTURE[:WEIGHT] --out OUT.png [flags]
                              neural style transfer (convas style -h)
  convas retrain --data DIR [--model NAME] [--steps N] [--validation-percent P] [--out DIR] [--json]
                              retrain a pretrained network's head on a folder of class
                              folders (convas retrain -h)
  convas classify --model FILE PICTURE...
                              the top 5 classes of pictures by a retrained model
  convas models list          the pretrained networks and data sets, and their state
  convas models fetch NAME    download one (resumable, verified)
  convas models import FILE   put a file you have into the store (checked by size and checksum)
  convas models delete NAME   remove one from the store
  convas models layers NAME   a network's layers with their kinds and channel counts
  convas models export-cifar10 --out DIR [--data DIR]
                              write CIFAR-10 as class folders of PNGs (train_dir, validation_dir)
  convas models import-tfjs -o OUT.cnvm FILE.tgz|model.json   convert a TensorFlow.js layers model
  convas help                 this text

train, retrain, style, dream and classify take --device cpu|cuda|cuda:N: the CPU (the default),
or an NVIDIA GPU in a build with CUDA; $CONVAS_DEVICE sets the default. A GPU that cannot be
used is said in one line on stderr, and the command runs on the CPU.
`)
}

// newFlags returns a flag set that reports errors instead of exiting and prints its help to out.
func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// parse parses args and turns a flag error into a UsageError with one line.
func parse(fs *flag.FlagSet, args []string) error {
	var sink strings.Builder
	out := fs.Output()
	fs.SetOutput(&sink)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return &UsageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &UsageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
