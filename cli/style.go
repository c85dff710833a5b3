package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"convas/app"
	"convas/compute/style"
)

// styleCmd is `convas style`: neural style transfer, headless. The settings come from a preset
// (the recipe's with VGG-19, the embedded trunk's otherwise); every flag given overrides one.
func styleCmd(a *app.App, args []string, stdout, stderr io.Writer) error {
	def := style.DefaultConfig()
	fs := newFlags("style", stderr)
	preset := fs.String("preset", "", "start from a style preset `NAME` ("+app.StyleRecipePreset+", "+app.StyleTrunkPreset+
		") or TOML FILE; the flags given override it (default: "+app.StyleRecipePreset+" when VGG-19 is in the model store, else "+app.StyleTrunkPreset+")")
	model := fs.String("model", "", "the `NETWORK`: "+style.TrunkName+" (embedded) or "+style.VGG19Name+" (default: the preset's)")
	content := fs.String("content", "", "the content `PICTURE` (PNG, JPEG, ...)")
	var styles styleFlags
	fs.Var(&styles, "style", "a style `PICTURE[:WEIGHT]`; repeat it to blend several (weight 1 unless given)")
	out := fs.String("out", "", "write the result to `OUT.png`, its settings inside")
	// The flags below default to the preset's values; their help gives the recipe's.
	size := fs.Int("size", 0, fmt.Sprintf("long side `PX` of the result; 0 keeps the content picture's (recipe: %d)", def.Size))
	iterations := fs.Int("iterations", 0, fmt.Sprintf("optimiser steps `N` (recipe: %d)", def.Iterations))
	optimizer := fs.String("optimizer", "", "`adam` (the recipe) or lbfgs")
	contentWeight := fs.Float64("content-weight", 0, fmt.Sprintf("weight `W` of the content loss (recipe: %g)", def.ContentWeight))
	styleWeight := fs.Float64("style-weight", 0, fmt.Sprintf("weight `W` of the style loss (recipe: %g)", def.StyleWeight))
	tvWeight := fs.Float64("tv-weight", 0, fmt.Sprintf("weight `W` of the total-variation loss (recipe: %g)", def.TVWeight))
	preserve := fs.Bool("preserve-colors", false, "keep the content picture's colours: transfer the luminance only")
	styleScale := fs.Float64("style-scale", 0, fmt.Sprintf("size `S` of the style pictures, as a multiple of the result's width (recipe: %g)", def.StyleScale))
	coarse := fs.Bool("coarse-to-fine", false, fmt.Sprintf("start at a long side of %d px and step up by sqrt(2) to --size, --iterations steps at each", style.CoarseStart))
	init := fs.String("init", "", "start from `noise` (the recipe), content, or a picture FILE")
	seed := fs.Int64("seed", 0, "random seed `S` of the starting noise")
	every := fs.Int("every", 0, fmt.Sprintf("log the losses and write the picture as OUT-NNNN.png every `N` steps (default: log only, every preset's every steps; recipe: %d)", def.Every))
	estimate := fs.Bool("estimate", false, "print the memory and the time an iteration needs (one step timed at small sizes) and stop; --out is not needed")
	memory := fs.Int("memory", 0, fmt.Sprintf("memory budget in `MiB` (default %d; on a GPU at most its free memory less a tenth, 512 MiB at least)", style.DefaultMemoryMiB))
	dev := deviceFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *content == "" || len(styles) == 0 || (*out == "" && !*estimate) {
		return &UsageError{"style: --content PICTURE, --style PICTURE and --out OUT.png are required"}
	}
	if set["every"] && *every <= 0 {
		return &UsageError{fmt.Sprintf("style: --every %d: must be positive", *every)}
	}
	if err := useDevice(a, fs, *dev, stderr); err != nil {
		return err
	}

	// The configuration: the preset's, then every flag given.
	p, err := a.LoadStylePreset(stylePreset(a, *preset, *model, set["model"]))
	if err != nil {
		return err
	}
	cfg := p.Config
	cfg.Content, cfg.Styles = *content, styles
	for name, apply := range map[string]func(){
		"model": func() { cfg.Model = *model }, "size": func() { cfg.Size = *size },
		"iterations": func() { cfg.Iterations = *iterations }, "optimizer": func() { cfg.Optimizer = *optimizer },
		"content-weight": func() { cfg.ContentWeight = *contentWeight }, "style-weight": func() { cfg.StyleWeight = *styleWeight },
		"tv-weight": func() { cfg.TVWeight = *tvWeight }, "preserve-colors": func() { cfg.PreserveColors = *preserve },
		"init": func() { cfg.Init = *init }, "seed": func() { cfg.Seed = *seed }, "every": func() { cfg.Every = *every },
		"memory": func() { cfg.MemoryMiB = *memory }, "style-scale": func() { cfg.StyleScale = *styleScale },
		"coarse-to-fine": func() { cfg.CoarseToFine = *coarse },
	} {
		if set[name] {
			apply()
		}
	}

	if *estimate {
		return printStyleEstimate(a, cfg, stdout)
	}
	r, err := a.NewStyle(cfg)
	if err != nil {
		return err
	}
	job, err := r.Start()
	if err != nil {
		return err
	}
	// Follow the events: a progress bar on a terminal, the losses every Every steps, and the
	// pictures every --every steps.
	bar := isTerminal(os.Stderr)
	start := time.Now()
	var first, last style.Iteration
	handle := func(ev style.Event) error {
		switch e := ev.(type) {
		case style.Iteration:
			if e.Step == 1 {
				first = e
			}
			last = e
			if bar {
				styleBar(stderr, e)
			}
		case style.Saved:
			if bar {
				fmt.Fprint(stderr, "\r\033[K")
			}
			l := last.Losses
			fmt.Fprintf(stdout, "step %d/%d: content %.4g, style %.4g, tv %.4g, total %.4g (%s)\n",
				e.Step, last.Of, l.Content, l.Style, l.TV, l.Total, last.Elapsed.Round(100*time.Millisecond))
			if set["every"] {
				return app.SaveStylePNG(numbered(*out, e.Step), e.Img, r.Settings())
			}
		}
		return nil
	}
	saveErr := follow(job, r.Events, handle)
	if bar {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err := job.Wait(); err != nil {
		return err
	}
	if saveErr != nil {
		return saveErr
	}
	res := r.Result()
	if res == nil {
		return fmt.Errorf("interrupted at step %d of %d", last.Step, last.Of)
	}
	if err := app.SaveStylePNG(*out, res, r.Settings()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s (%dx%d) with %s, %d steps of %s in %s; loss %.4g -> %.4g\n", *out, res.W, res.H,
		cfg.Model, last.Step, cfg.Optimizer, time.Since(start).Round(100*time.Millisecond), first.Losses.Total, last.Losses.Total)
	return nil
}

// printStyleEstimate prints what a transfer of cfg needs: the memory against the budget (with
// the largest size that fits when it does not) and the time of an iteration, timed here.
func printStyleEstimate(a *app.App, cfg style.Config, stdout io.Writer) error {
	e, err := a.NewStyleEstimator().Estimate(context.Background(), cfg, true)
	if err != nil {
		return err
	}
	mib := func(b int64) int64 { return (b + 1<<20 - 1) >> 20 }
	budget := fmt.Sprintf("the %d MiB budget", mib(e.Budget))
	if e.BudgetNote != "" {
		budget += " (" + e.BudgetNote + ")"
	}
	fmt.Fprintf(stdout, "%s up to %dx%d px: about %d MiB of %s\n", cfg.Model, e.W, e.H, mib(e.Bytes), budget)
	if !e.Fits() {
		fmt.Fprintln(stdout, strings.TrimPrefix(e.Err().Error(), "style: "))
	}
	t := e.Timing
	fmt.Fprintf(stdout, "about %s an iteration (%s for %d): one step timed at %d and %d px (%s, %s), scaled by operations to %.3g GFLOP\n",
		e.Step.Round(time.Millisecond), (time.Duration(cfg.Iterations) * e.Step).Round(time.Second), cfg.Iterations,
		t.Sides[0], t.Sides[1], t.Times[0].Round(time.Millisecond), t.Times[1].Round(time.Millisecond), float64(e.FLOPs)/1e9)
	return nil
}

// stylePreset names the preset a run starts from: the one given; else the preset of the network
// given; else the default (the recipe's when VGG-19 is there).
func stylePreset(a *app.App, preset, model string, modelSet bool) string {
	if preset != "" {
		return preset
	}
	if modelSet {
		for _, n := range a.StyleNetworks() {
			if n.Name == model {
				return n.Preset
			}
		}
	}
	return a.DefaultStylePreset()
}

// styleFlags collects the --style flags: PICTURE or PICTURE:WEIGHT.
type styleFlags []style.StyleImage

func (s *styleFlags) String() string {
	var parts []string
	for _, x := range *s {
		parts = append(parts, fmt.Sprintf("%s:%g", x.Image, x.Weight))
	}
	return strings.Join(parts, ",")
}

// Set reads PICTURE[:WEIGHT]; a suffix after the last colon that is not a number is part of the
// file name.
func (s *styleFlags) Set(v string) error {
	img, weight := v, 1.0
	if i := strings.LastIndexByte(v, ':'); i >= 0 {
		if w, err := strconv.ParseFloat(v[i+1:], 64); err == nil {
			img, weight = v[:i], w
		}
	}
	if img == "" {
		return errors.New("no picture")
	}
	if !(weight > 0 && weight < 1e30) {
		return fmt.Errorf("weight %v of %s: must be above 0", weight, img)
	}
	*s = append(*s, style.StyleImage{Image: img, Weight: weight})
	return nil
}

// numbered returns path with -NNNN (the step) before its extension.
func numbered(path string, step int) string {
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-%04d%s", strings.TrimSuffix(path, ext), step, ext)
}

// styleBar draws "[#####.....] 40/100 steps, loss 1.2e+03, ETA 30s" on one terminal line.
func styleBar(w io.Writer, it style.Iteration) {
	const width = 30
	filled := width * it.Step / max(it.Of, 1)
	eta := (time.Duration(float64(it.Elapsed) / float64(it.Step) * float64(it.Of-it.Step))).Round(time.Second)
	fmt.Fprintf(w, "\r[%s%s] %d/%d steps, loss %.4g, ETA %s\033[K", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		it.Step, it.Of, it.Losses.Total, eta)
}
