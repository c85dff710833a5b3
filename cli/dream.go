package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"convas/app"
	"convas/compute/dream"
)

// dreamCmd is `convas dream`: DeepDream on a picture or on noise, headless.
func dreamCmd(a *app.App, args []string, stdout, stderr io.Writer) error {
	def := dream.DefaultConfig()
	fs := newFlags("dream", stderr)
	preset := fs.String("preset", "", "start from a dream preset `NAME` or TOML FILE; the flags given override it")
	in := fs.String("in", "", "the `PICTURE` to dream on (PNG, JPEG, ...), or noise (the recipe's grey noise)")
	var nets []string
	for _, n := range a.DreamNetworks() {
		if n.Available {
			nets = append(nets, n.Name)
		} else {
			nets = append(nets, n.Name+" (once fetched)")
		}
	}
	model := fs.String("model", dream.TrunkName, "the `NETWORK` to dream with: "+strings.Join(nets, ", "))
	layer := fs.String("layer", "", "the `LAYER` to raise (default: the network's own, mixed3 for the trunk)")
	channel := fs.Int("channel", -1, "raise one `CHANNEL` of the layer only; -1: the whole layer")
	octaves := fs.Int("octaves", def.Octaves, "number of scales `N`")
	scale := fs.Float64("scale", def.OctaveScale, "ratio `S` of the sides of two successive octaves")
	iterations := fs.Int("iterations", def.Iterations, "gradient steps `N` per octave")
	step := fs.Float64("step", def.Step, "mean change `S` of a pixel per step, in pixel values 0..255")
	seed := fs.Int64("seed", def.Seed, "random seed `S` of the shifts and the noise")
	tile := fs.Int("tile", def.TileSize, "side `N` of the tiles the gradient is computed over")
	roll := fs.Int("roll", def.Roll, "largest random shift `N` before each step (0: the tile size, as the recipe)")
	size := fs.Int("size", 0, "resize the picture so that its long side is `N` pixels (0: as it is; noise: 224)")
	memory := fs.Int("memory", dream.DefaultMemoryMiB, "memory budget in `MiB` (on a GPU at most its free memory less a tenth, 512 MiB at least)")
	out := fs.String("out", "", "write the dream to `OUT.png`, its settings inside")
	frames := fs.String("frames", "", "also write every iteration's picture as a PNG into `DIR`")
	dev := deviceFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *in == "" || *out == "" {
		return &UsageError{"dream: --in PICTURE (or noise) and --out OUT.png are required"}
	}
	if err := useDevice(a, fs, *dev, stderr); err != nil {
		return err
	}

	// The configuration: the preset's or the network's defaults, then every flag given.
	req := app.DreamRequest{Network: *model, Picture: *in, LongSide: *size, KeepFrames: true}
	req.Config = a.DefaultDreamConfig(*model)
	if *preset != "" {
		p, err := a.LoadDreamPreset(*preset)
		if err != nil {
			return err
		}
		req.Config, req.LongSide = p.Config, p.LongSide
		if !set["model"] {
			req.Network = p.Network
		}
		if set["size"] {
			req.LongSide = *size
		}
	}
	c := &req.Config
	for name, apply := range map[string]func(){
		"layer": func() { c.Layer = *layer }, "channel": func() { c.Channel = *channel },
		"octaves": func() { c.Octaves = *octaves }, "scale": func() { c.OctaveScale = *scale },
		"iterations": func() { c.Iterations = *iterations }, "step": func() { c.Step = *step },
		"seed": func() { c.Seed = *seed }, "tile": func() { c.TileSize = *tile }, "roll": func() { c.Roll = *roll },
		"memory": func() { c.MemoryMiB = *memory },
	} {
		if set[name] {
			apply()
		}
	}
	if set["layer"] && !set["channel"] && *preset == "" {
		c.Channel = -1
	}

	d, err := a.NewDream(req)
	if err != nil {
		return err
	}
	if *frames != "" {
		if err := os.MkdirAll(*frames, 0o755); err != nil {
			return err
		}
	}
	job, err := d.Start()
	if err != nil {
		return err
	}
	// Follow the events: a progress bar on a terminal, the frames on request.
	bar := isTerminal(os.Stderr)
	work := newDreamWork(d.Input.H, d.Input.W, *c)
	start := time.Now()
	var first, last float64
	var steps int
	handle := func(ev dream.Event) error {
		it, ok := ev.(dream.Iteration)
		if !ok {
			return nil
		}
		if steps++; steps == 1 {
			first = it.Objective
		}
		last = it.Objective
		if bar {
			work.bar(stderr, it, time.Since(start))
		}
		if *frames == "" {
			return nil
		}
		n := (it.Octave-1)*it.Iters + it.Iter
		return app.SaveDreamPNG(filepath.Join(*frames, fmt.Sprintf("frame-%04d.png", n)), it.Frame, d.Settings())
	}
	frameErr := follow(job, d.Events, handle)
	if bar {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err := job.Wait(); err != nil {
		return err
	}
	if frameErr != nil {
		return frameErr
	}
	res := d.Result()
	if res == nil {
		return errors.New("interrupted")
	}
	if err := app.SaveDreamPNG(*out, res, d.Settings()); err != nil {
		return err
	}
	s := d.Settings().Config
	what := s.Layer
	if s.Channel >= 0 {
		what = fmt.Sprintf("%s channel %d", s.Layer, s.Channel)
	}
	fmt.Fprintf(stdout, "Wrote %s (%dx%d): %s of %s, %d steps in %s; mean activation %.4f -> %.4f\n",
		*out, res.W, res.H, what, d.Network.Name, steps, time.Since(start).Round(100*time.Millisecond), first, last)
	return nil
}

// dreamWork weighs a run's steps by their octave's area, for an ETA that knows the last octave
// costs most.
type dreamWork struct {
	area  []float64 // pixels of each octave, the smallest first
	total float64   // the run's work: every octave's area times the steps per octave
	iters int
}

func newDreamWork(h, w int, cfg dream.Config) *dreamWork {
	d := &dreamWork{iters: cfg.Iterations}
	fh, fw := float64(h), float64(w)
	for range cfg.Octaves {
		d.area = append([]float64{fh * fw}, d.area...)
		fh, fw = max(1, fh/cfg.OctaveScale), max(1, fw/cfg.OctaveScale)
	}
	for _, a := range d.area {
		d.total += a * float64(cfg.Iterations)
	}
	return d
}

// bar draws "[#####.....] octave 2/4, iteration 5/10, ETA 40s" on one terminal line.
func (d *dreamWork) bar(w io.Writer, it dream.Iteration, elapsed time.Duration) {
	var done float64
	for k := 0; k < it.Octave-1 && k < len(d.area); k++ {
		done += d.area[k] * float64(d.iters)
	}
	if k := it.Octave - 1; k < len(d.area) {
		done += d.area[k] * float64(it.Iter)
	}
	frac := min(1, done/max(d.total, 1))
	eta := "?"
	if frac > 0 {
		eta = time.Duration(float64(elapsed) * (1 - frac) / frac).Round(time.Second).String()
	}
	const width = 30
	filled := int(width * frac)
	fmt.Fprintf(w, "\r[%s%s] octave %d/%d, iteration %d/%d, ETA %s\033[K", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		it.Octave, it.Octaves, it.Iter, it.Iters, eta)
}
