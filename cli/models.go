package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"convas/app"
	"convas/app/modelstore"
)

// modelsCmd is `convas models list|fetch NAME|import FILE|delete NAME`.
func modelsCmd(a *app.App, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &UsageError{"models: want a subcommand: list, fetch NAME, import FILE, delete NAME"}
	}
	dir, err := modelstore.DefaultDir()
	if err != nil {
		return err
	}
	s := &modelstore.Store{Dir: dir}
	sub, rest := args[0], args[1:]
	one := func() (modelstore.Entry, error) {
		if len(rest) != 1 {
			return modelstore.Entry{}, &UsageError{fmt.Sprintf("models %s: want one model name (see convas models list)", sub)}
		}
		return s.Lookup(rest[0])
	}
	switch sub {
	case "list":
		if len(rest) != 0 {
			return &UsageError{"models list takes no arguments"}
		}
		return listModels(s, stdout)
	case "fetch":
		e, err := one()
		if err != nil {
			return err
		}
		return fetchModel(s, e, stdout, stderr)
	case "import":
		if len(rest) != 1 {
			return &UsageError{"models import: want one FILE"}
		}
		e, err := s.Import(rest[0])
		var unknown *modelstore.UnknownFileError
		if errors.As(err, &unknown) {
			return fmt.Errorf("%w; if you trust it, put it in the store with the catalog name it stands for: convas models import-unverified %s NAME", err, rest[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Imported %s as %s (%s); verified\n", rest[0], e.Name, e.Title)
		return nil
	case "import-unverified":
		if len(rest) != 2 {
			return &UsageError{"models import-unverified: want FILE NAME"}
		}
		e, err := s.ImportUnverified(rest[0], rest[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Imported %s as %s WITHOUT verifying it: results may be wrong if it is not %s\n", rest[0], e.Name, e.Title)
		return nil
	case "layers":
		if len(rest) != 1 {
			return &UsageError{"models layers: want one model name (see convas models list)"}
		}
		return layersCmd(a, rest[0], stdout)
	case "import-tfjs":
		return importTFJSCmd(a, rest, stdout, stderr)
	case "export-cifar10":
		return exportCIFARCmd(a, rest, stdout, stderr)
	case "delete":
		e, err := one()
		if err != nil {
			return err
		}
		if err := s.Delete(e); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Deleted %s from %s\n", e.Name, dir)
		return nil
	}
	return &UsageError{fmt.Sprintf("models: unknown subcommand %q (want list, fetch, import, import-unverified, import-tfjs, layers, export-cifar10, delete)", sub)}
}

func listModels(s *modelstore.Store, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tSIZE\tLICENCE\tSOURCE")
	for _, e := range modelstore.Catalog() {
		st := s.Status(e)
		size := "embedded"
		if e.Size > 0 {
			size = fmt.Sprintf("%.1f MB", float64(e.Size)/1e6)
		}
		state := st.String()
		if st.Kind == modelstore.Embedded {
			state = "ready (embedded)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, state, size, firstSentence(e.Licence), e.URL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nStore folder: %s\nFetch one with: convas models fetch NAME (or put the file there and run convas models import FILE)\n", s.Dir)
	return nil
}

func firstSentence(s string) string {
	if i := strings.IndexAny(s, ".;("); i > 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

func fetchModel(s *modelstore.Store, e modelstore.Entry, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := isTerminal(os.Stderr)
	last := time.Now() // without a terminal, a line every 5 s
	err := s.Fetch(ctx, e, func(p modelstore.Progress) {
		if !bar && time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		pct := 100 * float64(p.Done) / float64(max(p.Total, 1))
		line := fmt.Sprintf("%s: %.1f of %.1f MB (%.0f%%), %.1f MB/s, ETA %s", e.Name,
			float64(p.Done)/1e6, float64(p.Total)/1e6, pct, p.BytesPerSec/1e6, p.ETA.Round(time.Second))
		if bar {
			fmt.Fprintf(stderr, "\r%s\033[K", line)
		} else {
			fmt.Fprintln(stderr, line)
		}
	})
	if bar {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted; the partial download is kept and `convas models fetch %s` resumes it", e.Name)
		}
		return err
	}
	fmt.Fprintf(stdout, "%s is ready: %s\n", e.Name, s.Path(e))
	return nil
}

// layersCmd prints a network's layer table: `convas models layers NAME`.
func layersCmd(a *app.App, name string, stdout io.Writer) error {
	layers, err := a.ModelLayers(name)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tKIND\tCHANNELS")
	for _, l := range layers {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", l.Name, l.Kind, l.Channels)
	}
	return tw.Flush()
}

// exportCIFARCmd is `convas models export-cifar10 --out DIR [--data DIR]`: CIFAR-10 as class
// folders of PNGs (train_dir, validation_dir) and a labels file, for retraining.
func exportCIFARCmd(a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("models export-cifar10", stderr)
	out := fs.String("out", "", "write train_dir, validation_dir and cifar10_labels.txt into `DIR` (required)")
	data := fs.String("data", "", "read the CIFAR-10 binary batches from `FOLDER` (default: the model store's copy)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return &UsageError{"models export-cifar10: want --out DIR"}
	}
	src := app.CIFAR10Name
	if *data != "" {
		src = *data
	} else if _, err := a.CIFAR10Dir(); err != nil {
		return fmt.Errorf("models export-cifar10: no CIFAR-10 to export: give --data DIR (a cifar-10-batches-bin folder) or fetch it with: convas models fetch cifar10")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := isTerminal(os.Stderr)
	start := time.Now()
	err := a.ExportCIFAR10(ctx, src, *out, func(p app.ExportProgress) {
		if bar {
			fmt.Fprintf(stderr, "\r%d of %d pictures\033[K", p.Done, p.Total)
		}
	})
	if bar {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote CIFAR-10 as class folders in %s (train_dir, validation_dir, cifar10_labels.txt) in %s\n",
		*out, time.Since(start).Round(100*time.Millisecond))
	return nil
}
