package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"convas/app"
)

// retrainSummary is what `convas retrain --json` prints: the data, the run and its scores.
// Accuracies are percentages; null when their set is empty.
type retrainSummary struct {
	Data               string                `json:"data"`
	ValidationData     string                `json:"validation_data,omitempty"`
	Backbone           string                `json:"backbone"`
	Layer              string                `json:"layer"`
	InputSize          int                   `json:"input_size"`
	Classes            []retrainClass        `json:"classes"`
	Skipped            []app.TransferSkipped `json:"skipped"`
	Duplicates         [][]string            `json:"duplicates"`
	Config             app.TransferConfig    `json:"config"`
	Computed           int                   `json:"bottlenecks_computed"`
	Distorted          int                   `json:"distorted_pictures"`
	Cached             int                   `json:"bottlenecks_cached"`
	TrainAccuracy      *float64              `json:"train_accuracy"`
	ValidationAccuracy *float64              `json:"validation_accuracy"`
	TestAccuracy       *float64              `json:"test_accuracy"`
	Validation         int                   `json:"validation_pictures"`
	Test               int                   `json:"test_pictures"`
	ConfusionSet       string                `json:"confusion_set"`
	Confusion          [][]int               `json:"confusion"`
	Model              string                `json:"model"`
	Out                string                `json:"out"`
	Seconds            float64               `json:"seconds"`
}

type retrainClass struct {
	Name       string `json:"name"`
	Train      int    `json:"train"`
	Validation int    `json:"validation"`
	Test       int    `json:"test"`
}

// retrainCmd is `convas retrain`: TensorFlow's retrain.py on a folder of class folders, headless.
func retrainCmd(a *app.App, args []string, stdout, stderr io.Writer) error {
	def := app.DefaultTransferConfig()
	defScan := app.DefaultTransferScan("")
	fs := newFlags("retrain", stderr)
	data := fs.String("data", "", "folder `DIR` with one sub-folder of pictures per class (or train_dir and validation_dir, each with them)")
	valData := fs.String("validation-data", "", "a second tree `DIR` of the same classes for validation (then --data is all for training)")
	model := fs.String("model", "inceptionv3-trunk", "the backbone `NAME`: inceptionv3-trunk (embedded), inception5h or vgg19 (once fetched)")
	steps := fs.Int("steps", def.Steps, "training `N` steps of the new head")
	valPct := fs.Float64("validation-percent", defScan.ValidationPercent, "share `P` of the pictures for validation, by a hash of each file name")
	testPct := fs.Float64("test-percent", defScan.TestPercent, "share `P` of the pictures for the final test")
	lr := fs.Float64("learning-rate", def.LearningRate, "the solver's step `SIZE`")
	optimizer := fs.String("optimizer", def.Optimizer, "`sgd` (retrain.py's) or adam")
	batch := fs.Int("batch-size", def.BatchSize, "training bottlenecks `N` drawn per step")
	hidden := fs.Int("hidden", 0, "`UNITS` of a hidden ReLU layer before the softmax (0: none)")
	evalEvery := fs.Int("eval-every", def.EvalEvery, "score the validation set every `N` steps")
	seed := fs.Uint64("seed", def.Seed, "random `SEED` of the head's weights and batches")
	size := fs.Int("input-size", 0, "resize pictures to `PX` square instead of the backbone's size (299 or 224)")
	noCache := fs.Bool("no-cache", false, "compute every bottleneck again and cache none")
	crop := fs.Float64("random-crop", 0, "distort: a margin of `P` percent around the part of each training picture kept, at a random place")
	scale := fs.Float64("random-scale", 0, "distort: enlarge each training picture by a random `P` percent at most before the crop")
	flip := fs.Bool("flip-left-right", false, "distort: mirror half the training pictures at random")
	brightness := fs.Float64("random-brightness", 0, "distort: multiply each training picture's values by a random factor within `P` percent of 1 (distortions bypass the bottleneck cache: each step runs its batch through the backbone, which is slow)")
	fineTune := fs.Bool("fine-tune", false, "also train the backbone's last block (the trunk's mixed5; inceptionv3-trunk only): mixed4's maps are cached instead of the bottlenecks and every step runs its batch through the block, which is slow")
	fineLR := fs.Float64("fine-tune-learning-rate", 0, "the last block's step `SIZE` with --fine-tune (0: a tenth of --learning-rate)")
	out := fs.String("out", "", "write the model (retrained.ckpt), labels.txt, metrics.csv and the charts into `DIR` (default: a new folder under the runs folder)")
	asJSON := fs.Bool("json", false, "print a JSON summary on stdout instead of the log")
	dev := deviceFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return &UsageError{"retrain: --data DIR is required"}
	}
	if *size < 0 || (*size > 0 && *size < 75) {
		return &UsageError{fmt.Sprintf("retrain: --input-size %d: at least 75 pixels", *size)}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"random-crop", *crop}, {"random-scale", *scale}, {"random-brightness", *brightness}} {
		if !(f.v >= 0 && f.v <= 100) {
			return &UsageError{fmt.Sprintf("retrain: --%s %g: a percentage from 0 to 100", f.name, f.v)}
		}
	}
	if !(*fineLR >= 0) || math.IsInf(*fineLR, 0) {
		return &UsageError{fmt.Sprintf("retrain: --fine-tune-learning-rate %g: a positive step size (0: a tenth of --learning-rate)", *fineLR)}
	}
	if *fineLR > 0 && !*fineTune {
		return &UsageError{"retrain: --fine-tune-learning-rate needs --fine-tune"}
	}
	if *fineTune && *model != app.TransferTrunkName {
		return &UsageError{fmt.Sprintf("retrain: --fine-tune: only %s's last block can be fine-tuned, not %s's", app.TransferTrunkName, *model)}
	}
	cfg := app.TransferConfig{Hidden: *hidden, Optimizer: *optimizer, LearningRate: *lr, BatchSize: *batch,
		Steps: *steps, EvalEvery: *evalEvery, Seed: *seed,
		Distortions:          app.TransferDistortions{Crop: *crop, Scale: *scale, Flip: *flip, Brightness: *brightness},
		FineTune:             *fineTune,
		FineTuneLearningRate: *fineLR}
	if err := cfg.Validate(); err != nil {
		return &UsageError{"retrain: " + strings.TrimPrefix(err.Error(), "transfer: ")}
	}
	if err := useDevice(a, fs, *dev, stderr); err != nil {
		return err
	}
	scan := app.TransferScan{Dir: *data, ValidationDir: *valData, ValidationPercent: *valPct, TestPercent: *testPct}
	start := time.Now()
	r, err := a.NewTransfer(app.TransferRequest{Scan: scan, Backbone: *model, InputSize: *size, Config: cfg, NoCache: *noCache})
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(a.RunsDir(), "transfer-"+time.Now().Format("20060102-150405"))
	}
	name, layer, inSize := r.Backbone()
	counts := r.Data.Counts()
	log := stdout
	if *asJSON {
		log = io.Discard
	}
	fmt.Fprintf(log, "%d classes from %s; backbone %s, %s pooled at %dx%d\n", len(r.Data.Classes), *data, name, layer, inSize, inSize)
	for i, c := range r.Data.Classes {
		fmt.Fprintf(log, "  %-20s %5d training, %4d validation, %4d test\n", c, counts[i][0], counts[i][1], counts[i][2])
	}
	for _, s := range r.Data.Skipped {
		fmt.Fprintf(stderr, "skipped %s: %s\n", s.Path, s.Reason)
	}
	for _, d := range r.Data.Duplicates {
		fmt.Fprintf(stderr, "duplicates%s: %s\n", dupNote(d.Classes, d.Sets), strings.Join(d.Paths, ", "))
	}
	if cfg.FineTune {
		fmt.Fprintf(log, "Fine-tuning %s's last block at learning rate %g: every step runs its %d pictures' cached %s maps through it\n",
			name, cfg.BlockLearningRate(), cfg.BatchSize, app.TransferFineTuneFrom)
	}
	if cfg.Distortions.Any() {
		fmt.Fprintf(log, "Distortions on: every step runs its %d training pictures through the backbone (the cache is for validation and test only)\n", cfg.BatchSize)
	}

	job, err := r.Start()
	if err != nil {
		return err
	}
	bar := isTerminal(os.Stderr)
	var last app.TransferEvaluation
	every := max(cfg.EvalEvery, cfg.Steps/20/cfg.EvalEvery*cfg.EvalEvery)
	var prog app.TransferProgress
	lastLine := time.Time{}
	var decodeFailed []app.TransferSkipped
	handle := func(ev app.TransferEvent) {
		switch e := ev.(type) {
		case app.TransferProgress:
			prog = e
			if bar {
				retrainBar(stderr, "bottlenecks", e.Done, e.Of, fmt.Sprintf("%d cached", e.Cached))
			} else if time.Since(lastLine) > 5*time.Second || e.Done == e.Of {
				fmt.Fprintf(stderr, "bottlenecks: %d of %d (%d cached)\n", e.Done, e.Of, e.Cached)
				lastLine = time.Now()
			}
		case app.TransferStepProgress:
			note := fmt.Sprintf("step %d: %d of %d distorted pictures", e.Step, e.Pictures, e.Batch)
			if e.FineTune {
				note = fmt.Sprintf("step %d: fine-tuning the last block", e.Step)
			}
			if bar {
				retrainBar(stderr, "steps", e.Step-1, e.Steps, note)
			} else if time.Since(lastLine) > 5*time.Second {
				fmt.Fprintf(stderr, "steps: %d of %d done, %s\n", e.Step-1, e.Steps, note)
				lastLine = time.Now()
			}
		case app.TransferSkipped:
			if bar {
				fmt.Fprint(stderr, "\r\033[K")
			}
			fmt.Fprintf(stderr, "skipped %s: %s\n", e.Path, e.Reason)
			decodeFailed = append(decodeFailed, e)
		case app.TransferEvaluation:
			last = e
			if bar {
				retrainBar(stderr, "steps", e.Step, e.Steps, fmt.Sprintf("validation %.1f%%", e.ValidationAccuracy))
			}
			if e.Step%every == 0 || e.Step == e.Steps {
				if bar {
					fmt.Fprint(stderr, "\r\033[K")
				}
				fmt.Fprintf(log, "Step %d: train accuracy %.1f%%, cross entropy %.4f, validation accuracy %.1f%%\n",
					e.Step, e.TrainAccuracy, e.TrainLoss, e.ValidationAccuracy)
			}
		}
	}
	follow(job, r.Events, func(ev app.TransferEvent) error { handle(ev); return nil })
	if bar {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err := job.Wait(); err != nil {
		return err
	}
	m, res := r.Model(), r.Result()
	if m == nil {
		return fmt.Errorf("interrupted at step %d of %d (bottlenecks %d of %d)", last.Step, cfg.Steps, prog.Done, prog.Of)
	}
	if err := app.WriteTransferRun(*out, m, res); err != nil {
		return err
	}
	modelPath := filepath.Join(*out, app.TransferModelFile)
	if !*asJSON {
		fmt.Fprintf(stdout, "Final test accuracy %s (N=%d); validation accuracy %s (N=%d)\n", pct(res.TestAccuracy), res.Counts[app.TransferTesting],
			pct(res.ValidationAccuracy), res.Counts[app.TransferValidation])
		fmt.Fprintf(stdout, "Confusion on the %s set (rows: true class, columns: predicted):\n", res.ConfusionSet)
		for i, row := range res.Confusion {
			fmt.Fprintf(stdout, "  %-20s %v\n", r.Data.Classes[i], row)
		}
		fmt.Fprintf(stdout, "Wrote %s (%d bottlenecks computed, %d from the cache) in %s\n", modelPath, res.Computed,
			res.Extraction.Cached, time.Since(start).Round(100*time.Millisecond))
		return nil
	}
	s := retrainSummary{Data: *data, ValidationData: *valData, Backbone: name, Layer: layer, InputSize: inSize,
		Skipped: append(append([]app.TransferSkipped{}, r.Data.Skipped...), decodeFailed...), Duplicates: [][]string{},
		Config: cfg, Computed: res.Computed, Distorted: res.Distorted, Cached: res.Extraction.Cached,
		TrainAccuracy: finite(last.TrainAccuracy), ValidationAccuracy: finite(res.ValidationAccuracy), TestAccuracy: finite(res.TestAccuracy),
		Validation: res.Counts[app.TransferValidation], Test: res.Counts[app.TransferTesting],
		ConfusionSet: res.ConfusionSet.String(), Confusion: res.Confusion, Model: modelPath, Out: *out,
		Seconds: math.Round(time.Since(start).Seconds()*10) / 10}
	for i, c := range r.Data.Classes {
		s.Classes = append(s.Classes, retrainClass{c, counts[i][0], counts[i][1], counts[i][2]})
	}
	for _, d := range r.Data.Duplicates {
		s.Duplicates = append(s.Duplicates, d.Paths)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func dupNote(classes, sets bool) string {
	switch {
	case classes:
		return " under different classes"
	case sets:
		return " across sets (they flatter the validation score)"
	}
	return ""
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", v)
}

// retrainBar draws "what [#####.....] done/of note" on one terminal line.
func retrainBar(w io.Writer, what string, done, of int, note string) {
	const width = 30
	filled := width * done / max(of, 1)
	fmt.Fprintf(w, "\r%s [%s%s] %d/%d, %s\033[K", what, strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, of, note)
}
