package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"convas/app"
)

// classified is one picture of `convas classify --json`.
type classified struct {
	Picture string                   `json:"picture"`
	Top     []app.TransferPrediction `json:"top,omitempty"`
	Error   string                   `json:"error,omitempty"`
}

// classifyCmd is `convas classify --model FILE PICTURE...`: the top classes of each picture by
// a model `convas retrain` (or the Transfer panel) saved. A picture that cannot be read is
// reported and the others are classified; the status is then 2.
func classifyCmd(a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("classify", stderr)
	model := fs.String("model", "", "the retrained model `FILE` (retrained.ckpt)")
	top := fs.Int("top", 5, "show the `K` most probable classes")
	asJSON := fs.Bool("json", false, "print JSON on stdout: one object per picture")
	dev := deviceFlag(fs)
	pics, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if *model == "" || len(pics) == 0 {
		return &UsageError{"classify: --model FILE and at least one PICTURE are required"}
	}
	if *top <= 0 {
		return &UsageError{fmt.Sprintf("classify: --top %d: must be positive", *top)}
	}
	if err := useDevice(a, fs, *dev, stderr); err != nil {
		return err
	}
	m, err := app.LoadTransferModel(*model)
	if err != nil {
		return err
	}
	c, err := a.NewClassifier(m)
	if err != nil {
		return err
	}
	defer c.Close()
	var results []classified
	var firstErr error
	bad := 0
	for _, pic := range pics {
		preds, err := c.Classify(pic, *top)
		if err != nil {
			bad++
			if firstErr == nil {
				firstErr = err
			}
			results = append(results, classified{Picture: pic, Error: err.Error()})
			if !*asJSON && len(pics) > 1 {
				fmt.Fprintf(stderr, "%s\n", oneLine(err.Error()))
			}
			continue
		}
		results = append(results, classified{Picture: pic, Top: preds})
		if !*asJSON {
			fmt.Fprintf(stdout, "%s\n", pic)
			for _, p := range preds {
				fmt.Fprintf(stdout, "  %-24s %.4f\n", p.Label, p.Probability)
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	}
	switch {
	case bad == 1 && len(pics) == 1:
		return firstErr
	case bad > 0:
		return fmt.Errorf("%d of %d pictures could not be classified; the first: %w", bad, len(pics), firstErr)
	}
	return nil
}

// parseWithArgs parses flags mixed with positional arguments (flag alone stops at the first
// positional one) and returns the positional ones; a flag error is a UsageError with one line.
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var sink strings.Builder
	out := fs.Output()
	fs.SetOutput(&sink)
	defer fs.SetOutput(out)
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fs.PrintDefaults()
			return nil, err
		}
		if err != nil {
			return nil, &UsageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}
