package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"convas/app"
	"convas/compute/train"
)

// evalJSON is one line of `convas train --json`.
type evalJSON struct {
	Generation    int     `json:"generation"`
	Of            int     `json:"of"`
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	TestAccuracy  float64 `json:"test_sample_accuracy"`
}

// logJSON is a loss line of `convas train --json` (the CIFAR-10 recipe's log_every).
type logJSON struct {
	Generation int     `json:"generation"`
	Of         int     `json:"of"`
	Loss       float64 `json:"loss"`
	LR         float64 `json:"learning_rate"`
}

// doneJSON is the final line of `convas train --json`.
type doneJSON struct {
	Generation   int     `json:"generation"`
	TestAccuracy float64 `json:"test_accuracy"`
	Correct      int     `json:"correct"`
	Total        int     `json:"total"`
	Seconds      float64 `json:"seconds"`
	Out          string  `json:"out"`
}

func trainCmd(a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", stderr)
	preset := fs.String("preset", "mnist-simple", "preset `NAME` or TOML FILE")
	resume := fs.String("resume", "", "go on from a checkpoint `FILE` (its configuration wins over --preset)")
	steps := fs.Int("steps", 0, "train for `N` generations (overrides the preset's generations)")
	seed := fs.Int64("seed", -1, "random seed `S` (overrides the preset's seed)")
	dataset := fs.String("dataset", "", "data set: mnist, fashion-mnist, cifar10 or a `FOLDER` of IDX files or CIFAR-10 batches (overrides the preset)")
	dataDir := fs.String("data", "", "a `FOLDER` of IDX files or CIFAR-10 binary batches (cifar-10-batches-bin); the same as --dataset FOLDER")
	out := fs.String("out", "", "write checkpoint, metrics.csv and plots into `DIR` (default: a new folder under "+a.RunsDir()+")")
	asJSON := fs.Bool("json", false, "print one JSON object per evaluation and a final one with test_accuracy")
	dev := deviceFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *steps < 0 {
		return &UsageError{fmt.Sprintf("--steps %d: must be positive", *steps)}
	}
	if err := useDevice(a, fs, *dev, stderr); err != nil {
		return err
	}

	var t *app.Training
	var err error
	name := *preset
	if *resume != "" {
		if t, err = a.OpenCheckpoint(*resume); err != nil {
			return err
		}
		name = strings.TrimSuffix(filepath.Base(*resume), filepath.Ext(*resume))
		if *steps > 0 {
			t.State.Config.Generations = t.State.Gen + *steps
		}
	} else {
		p, err := a.LoadPreset(*preset)
		if err != nil {
			return err
		}
		cfg := p.Config
		if *steps > 0 {
			cfg.Generations = *steps
		}
		if *seed >= 0 {
			cfg.Seed = *seed
		}
		if *dataset != "" && *dataDir != "" {
			return &UsageError{"give --data or --dataset, not both"}
		}
		if *dataset != "" {
			cfg.Dataset = *dataset
		}
		if *dataDir != "" {
			if fi, err := os.Stat(*dataDir); err != nil || !fi.IsDir() {
				return &UsageError{fmt.Sprintf("--data %s: not a folder", *dataDir)}
			}
			cfg.Dataset = *dataDir
		}
		if cfg.Recipe == train.RecipeCIFAR && cfg.Dataset == app.CIFAR10Name {
			if _, err := a.CIFAR10Dir(); err != nil {
				return fmt.Errorf("%s needs CIFAR-10: give --data DIR (a cifar-10-batches-bin folder) or fetch the store's copy with: convas models fetch cifar10", p.Name)
			}
		}
		if errs := cfg.Validate(); len(errs) > 0 {
			return errs[0]
		}
		name = p.Name
		if t, err = a.NewTraining(p.Title, cfg); err != nil {
			return err
		}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(a.RunsDir(), name+"-"+time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	job, err := t.Start()
	if err != nil {
		return err
	}
	bar := isTerminal(os.Stderr) && !*asJSON
	enc := json.NewEncoder(stdout)
	start := time.Now()
	var done *train.Done
	follow(job, t.Events, func(ev train.Event) error {
		switch e := ev.(type) {
		case train.Step:
			if bar {
				progressBar(stderr, e.Gen, e.Of, time.Since(start))
			}
		case train.Eval:
			if bar {
				fmt.Fprint(stderr, "\r\033[K")
			}
			if *asJSON {
				enc.Encode(evalJSON{e.Gen, e.Of, e.TrainLoss, e.TrainAcc / 100, e.TestAcc / 100})
			} else {
				fmt.Fprintln(stdout, e.LogLine())
			}
		case train.Log:
			if bar {
				fmt.Fprint(stderr, "\r\033[K")
			}
			if *asJSON {
				enc.Encode(logJSON{e.Gen, e.Of, e.Loss, e.LR})
			} else {
				fmt.Fprintln(stdout, e.LogLine())
			}
		case train.Done:
			done = &e
		}
		return nil
	})
	if bar {
		fmt.Fprint(stderr, "\r\033[K")
	}
	runErr := job.Wait()
	ckpt := filepath.Join(dir, "checkpoint.convas")
	if err := t.SaveCheckpoint(ckpt); err != nil {
		return err
	}
	if err := app.WriteMetricsCSV(filepath.Join(dir, "metrics.csv"), t.State.History); err != nil {
		return err
	}
	if err := app.WritePlots(dir, t.State.History, t.State.Losses); err != nil {
		return err
	}
	if len(t.State.Losses) > 0 {
		if err := app.WriteLossCSV(filepath.Join(dir, "losses.csv"), t.State.Losses); err != nil {
			return err
		}
	}
	if runErr != nil {
		return fmt.Errorf("%w (checkpoint of generation %d saved in %s)", runErr, t.State.Gen, ckpt)
	}
	if done == nil {
		return fmt.Errorf("interrupted at generation %d; resume with: convas train --resume %s", t.State.Gen, ckpt)
	}
	if *asJSON {
		return enc.Encode(doneJSON{done.Gen, done.TestAcc / 100, done.Correct, done.Total, time.Since(start).Seconds(), dir})
	}
	fmt.Fprintf(stdout, "Test accuracy on all %d test pictures: %.2f%% (%d correct) after %d generations in %s\n",
		done.Total, done.TestAcc, done.Correct, done.Gen, time.Since(start).Round(100*time.Millisecond))
	fmt.Fprintf(stdout, "Wrote %s, metrics.csv, loss.png and accuracy.png in %s\n", filepath.Base(ckpt), dir)
	return nil
}

// progressBar draws "[#####.....] 120/500 generations, ETA 40s" on one terminal line.
func progressBar(w io.Writer, gen, of int, elapsed time.Duration) {
	const width = 30
	filled := width * gen / max(of, 1)
	eta := "?"
	if gen > 0 {
		eta = (time.Duration(float64(elapsed) / float64(gen) * float64(of-gen))).Round(time.Second).String()
	}
	fmt.Fprintf(w, "\r[%s%s] %d/%d generations, ETA %s\033[K", strings.Repeat("#", filled), strings.Repeat(".", width-filled), gen, of, eta)
}
