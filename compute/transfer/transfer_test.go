package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"convas/compute/models"
	"convas/compute/nn"
)

const (
	trunkFile  = "../../assets/inceptionv3/inceptionv3-mixed5.cnvm"
	samplesDir = "../../../shared/samples"
)

// TestSplitPercentage checks the hash split against retrain.py's which_set, computed with
// Python's hashlib: ((int(sha1(name).hexdigest(), 16) % (2**27)) * (100.0 / (2**27 - 1))).
func TestSplitPercentage(t *testing.T) {
	for _, c := range []struct {
		name string
		want float64
	}{
		{"cat_001.jpg", 45.76377232196757},
		{"dog_nohash_3.jpg", 89.45877618684452},
		{"dog.jpg", 23.822978316418663},
		{"IMG_1234.JPG", 42.38669084300615},
		{"a.png", 69.72195409031178},
		{"b.png", 25.96187685401646},
		{"c.png", 5.052533038351931},
		{"zebra_nohash_0.png", 22.63507189329767},
		{"/some/folder/c.png", 5.052533038351931}, // the base name only
	} {
		if got := SplitPercentage(c.name); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("SplitPercentage(%q) = %.12f, retrain.py gives %.12f", c.name, got, c.want)
		}
	}
	// "dog_nohash_3.jpg" hashes as "dog": it must fall where "dog" falls.
	if SplitPercentage("dog_nohash_3.jpg") != SplitPercentage("dog") {
		t.Error("the _nohash_ suffix is not ignored")
	}
	for _, c := range []struct {
		name string
		want Set
	}{
		{"c.png", Validation},     // 5.05 < 10
		{"dog.jpg", Testing},      // 10 <= 23.82 < 10+20
		{"b.png", Testing},        // 10 <= 25.96 < 30
		{"a.png", Training},       // 69.72 >= 30
		{"cat_001.jpg", Training}, // 45.76
	} {
		if got := SetOf(c.name, 10, 20); got != c.want {
			t.Errorf("SetOf(%q, 10, 20) = %v, want %v", c.name, got, c.want)
		}
	}
}

// writePNG writes a solid or patterned picture.
func writePNG(t testing.TB, path string, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// TestScanStableWhenFilesAreAdded scans a folder, adds pictures and scans again: every old
// picture keeps its set, and each set is the one SetOf gives.
func TestScanStableWhenFilesAreAdded(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	add := func(from, to int) {
		for _, class := range []string{"red", "blue"} {
			for i := from; i < to; i++ {
				c := color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(i), 255}
				writePNG(t, filepath.Join(dir, class, class+"_"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+".png"), solid(4, 4, c))
			}
		}
	}
	add(0, 40)
	cfg := ScanConfig{Dir: dir, ValidationPercent: 20, TestPercent: 15}
	d1, err := Scan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d1.Classes, []string{"blue", "red"}) {
		t.Fatalf("classes %v", d1.Classes)
	}
	before := map[string]Set{}
	for _, p := range d1.Pictures {
		before[p.Path] = p.Set
		if want := SetOf(p.Path, 20, 15); p.Set != want {
			t.Errorf("%s in %v, SetOf says %v", p.Path, p.Set, want)
		}
	}
	counts := d1.Counts()
	for c, n := range counts {
		if n[Training]+n[Validation]+n[Testing] != 40 || n[Validation] == 0 || n[Testing] == 0 {
			t.Errorf("class %s: counts %v", d1.Classes[c], n)
		}
	}
	add(40, 120)
	d2, err := Scan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(d2.Pictures) != 240 {
		t.Fatalf("%d pictures after adding, want 240", len(d2.Pictures))
	}
	for _, p := range d2.Pictures {
		if s, ok := before[p.Path]; ok && s != p.Set {
			t.Errorf("%s moved from %v to %v", p.Path, s, p.Set)
		}
	}
	// With 240 pictures the shares come near the percentages asked for.
	n := [3]int{}
	for _, p := range d2.Pictures {
		n[p.Set]++
	}
	if v := 100 * float64(n[Validation]) / 240; v < 12 || v > 28 {
		t.Errorf("validation share %.1f%%, asked for 20%%", v)
	}
}

// TestScanSeparateTrees reads a training and a validation tree.
func TestScanSeparateTrees(t *testing.T) {
	tr, va := t.TempDir(), t.TempDir()
	writePNG(t, filepath.Join(tr, "a", "1.png"), solid(3, 3, color.NRGBA{1, 2, 3, 255}))
	writePNG(t, filepath.Join(tr, "b", "1.png"), solid(3, 3, color.NRGBA{4, 5, 6, 255}))
	writePNG(t, filepath.Join(va, "b", "2.png"), solid(3, 3, color.NRGBA{7, 8, 9, 255}))
	writePNG(t, filepath.Join(va, "c", "2.png"), solid(3, 3, color.NRGBA{7, 8, 10, 255}))
	d, err := Scan(ScanConfig{Dir: tr, ValidationDir: va, ValidationPercent: 50})
	if err != nil {
		t.Fatal(err)
	}
	got := d.Counts()
	want := [][3]int{{1, 0, 0}, {1, 1, 0}, {0, 1, 0}}
	if !slices.Equal(d.Classes, []string{"a", "b", "c"}) || !slices.Equal(got, want) {
		t.Errorf("classes %v counts %v, want [a b c] %v", d.Classes, got, want)
	}
}

// TestScanFindsTwoTrees reads a folder of train_dir and validation_dir, as the recipe's script
// and the CIFAR-10 export lay it out, as two trees; a folder whose classes happen to be called
// train and validation (pictures directly inside) stays a folder of classes.
func TestScanFindsTwoTrees(t *testing.T) {
	dir := t.TempDir()
	for i, p := range []string{"train_dir/cat/1.png", "train_dir/cat/2.png", "train_dir/dog/1.png", "validation_dir/cat/3.png", "validation_dir/dog/4.png"} {
		writePNG(t, filepath.Join(dir, filepath.FromSlash(p)), solid(3, 3, color.NRGBA{uint8(i), 0, 0, 255}))
	}
	d, err := Scan(DefaultScanConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Counts(); !slices.Equal(d.Classes, []string{"cat", "dog"}) || !slices.Equal(got, [][3]int{{2, 1, 0}, {1, 1, 0}}) ||
		d.Config.ValidationDir != filepath.Join(dir, "validation_dir") {
		t.Errorf("classes %v, counts %v, config %+v", d.Classes, got, d.Config)
	}
	flat := t.TempDir()
	writePNG(t, filepath.Join(flat, "train", "1.png"), solid(3, 3, color.NRGBA{1, 0, 0, 255}))
	writePNG(t, filepath.Join(flat, "validation", "2.png"), solid(3, 3, color.NRGBA{2, 0, 0, 255}))
	if _, _, ok := Trees(flat); ok {
		t.Error("class folders named train and validation taken for two trees")
	}
	if d, err := Scan(DefaultScanConfig(flat)); err != nil || !slices.Equal(d.Classes, []string{"train", "validation"}) {
		t.Errorf("flat folder: %v, %v", d, err)
	}
}

// TestScanErrors checks the folders Scan refuses.
func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Scan(DefaultScanConfig(filepath.Join(dir, "missing"))); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing folder: %v", err)
	}
	if _, err := Scan(DefaultScanConfig(dir)); !errors.Is(err, ErrNoClasses) {
		t.Errorf("empty folder: %v", err)
	}
	writePNG(t, filepath.Join(dir, "only", "1.png"), solid(2, 2, color.NRGBA{A: 255}))
	if _, err := Scan(DefaultScanConfig(dir)); !errors.Is(err, ErrOneClass) {
		t.Errorf("one class: %v", err)
	}
	if _, err := Scan(ScanConfig{Dir: dir, ValidationPercent: 60, TestPercent: 40}); err == nil {
		t.Error("validation 60% + test 40% accepted")
	}
}

// meanRGB is a backbone whose bottleneck is a picture's mean red, green and blue: simple enough
// to check by hand. It counts its builds.
type meanRGB struct {
	size   int
	builds *int
}

func (m meanRGB) Name() string  { return "mean-rgb" }
func (m meanRGB) Layer() string { return "input" }
func (m meanRGB) Size() int     { return m.size }
func (m meanRGB) Build(batch int) (*G.ExprGraph, *G.Node, *G.Node, error) {
	*m.builds++
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, 3, m.size, m.size), G.WithName("input"))
	f, err := nn.GlobalAvgPool2D(x)
	return g, x, f, err
}

// TestDamagedPicturesSkipped scans a folder with files that are not pictures, an empty one, a
// damaged one, a truncated one (whose header reads but whose pixels do not) and duplicates:
// each is reported with its reason and the rest are extracted and trained on.
func TestDamagedPicturesSkipped(t *testing.T) {
	dir := t.TempDir()
	red := writePNG(t, filepath.Join(dir, "red", "r1.png"), solid(8, 8, color.NRGBA{200, 10, 10, 255}))
	writePNG(t, filepath.Join(dir, "red", "r2.png"), solid(8, 8, color.NRGBA{220, 30, 0, 255}))
	writePNG(t, filepath.Join(dir, "blue", "b1.png"), solid(8, 8, color.NRGBA{0, 10, 200, 255}))
	writePNG(t, filepath.Join(dir, "blue", "b2.png"), solid(8, 8, color.NRGBA{20, 0, 230, 255}))
	os.WriteFile(filepath.Join(dir, "red", "copy.png"), red, 0o644)              // duplicate, same class
	os.WriteFile(filepath.Join(dir, "blue", "mislabelled.png"), red, 0o644)      // duplicate, other class
	os.WriteFile(filepath.Join(dir, "red", "notes.txt"), []byte("hello"), 0o644) // not a picture
	os.WriteFile(filepath.Join(dir, "red", "empty.jpg"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "blue", "garbage.png"), []byte("this is not a png at all"), 0o644)
	big := writePNG(t, filepath.Join(dir, "tmp.png"), noise(64, 64, 3))
	os.Remove(filepath.Join(dir, "tmp.png"))
	os.WriteFile(filepath.Join(dir, "blue", "truncated.png"), big[:len(big)/2], 0o644)
	os.WriteFile(filepath.Join(dir, "stray.png"), red, 0o644) // not in a class folder: ignored

	d, err := Scan(ScanConfig{Dir: dir}) // everything for training
	if err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{}
	for _, s := range d.Skipped {
		skipped[filepath.Base(s.Path)] = s.Reason
	}
	for name, want := range map[string]string{"notes.txt": "not a picture", "empty.jpg": "empty file", "garbage.png": "cannot decode"} {
		if !strings.Contains(skipped[name], want) {
			t.Errorf("%s: reason %q, want one with %q", name, skipped[name], want)
		}
	}
	if len(d.Skipped) != 3 {
		t.Errorf("skipped %v, want 3", d.Skipped)
	}
	if len(d.Pictures) != 7 {
		t.Fatalf("%d pictures, want 7 (the truncated one reads its header)", len(d.Pictures))
	}
	if len(d.Duplicates) != 1 || len(d.Duplicates[0].Paths) != 3 || !d.Duplicates[0].Classes || d.Duplicates[0].Sets {
		t.Errorf("duplicates %+v, want one group of 3 across classes, one set", d.Duplicates)
	}

	builds := 0
	bn, err := Extract(context.Background(), meanRGB{size: 4, builds: &builds}, d, nil, 4, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(bn.Failed) != 1 || filepath.Base(bn.Failed[0].Path) != "truncated.png" || strings.Contains(bn.Failed[0].Reason, dir) {
		t.Errorf("failed %+v, want truncated.png with a reason that does not repeat the path", bn.Failed)
	}
	// Five distinct contents: four decoded and run (the copies share theirs), the truncated one
	// tried and reported.
	if bn.Computed != 4 {
		t.Errorf("computed %d, want 4 distinct decodable contents", bn.Computed)
	}
	for i, p := range d.Pictures {
		f := bn.Features[i]
		if filepath.Base(p.Path) == "truncated.png" {
			if f != nil {
				t.Errorf("truncated.png has features")
			}
			continue
		}
		if bytes.Equal(p.SHA256[:], d.Pictures[0].SHA256[:]) && !slices.Equal(f, bn.Features[0]) {
			t.Errorf("%s: copy has other features", p.Path)
		}
	}
	cfg := DefaultConfig()
	cfg.Steps, cfg.BatchSize = 5, 4
	if _, err := Train(context.Background(), cfg, d, bn, nil, nil); err != nil {
		t.Errorf("training after skips: %v", err)
	}
}

// noise returns a picture of random pixels (which PNG cannot compress much).
func noise(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, seed))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	return img
}

// TestCacheHit extracts twice: the first run computes every picture, whose bottleneck is its
// mean colour (by hand: a solid picture's colour); the second reads them all from the cache and
// builds no graph. A damaged cache entry is computed again.
func TestCacheHit(t *testing.T) {
	dir := t.TempDir()
	colours := map[string]color.NRGBA{"a/1.png": {10, 20, 30, 255}, "a/2.png": {40, 50, 60, 255},
		"b/1.png": {70, 80, 90, 255}, "b/2.png": {100, 110, 120, 255}, "b/3.png": {130, 140, 150, 255}}
	for name, c := range colours {
		writePNG(t, filepath.Join(dir, filepath.FromSlash(name)), solid(6, 5, c))
	}
	d, err := Scan(ScanConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cache := &Cache{Dir: t.TempDir()}
	builds := 0
	b := meanRGB{size: 3, builds: &builds}
	var reports []ExtractProgress
	bn1, err := Extract(context.Background(), b, d, cache, 2, nil, func(p ExtractProgress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}
	if bn1.Computed != 5 || bn1.Cached != 0 || builds != 1 {
		t.Fatalf("first run: computed %d, cached %d, builds %d; want 5, 0, 1", bn1.Computed, bn1.Cached, builds)
	}
	if last := reports[len(reports)-1]; last.Done != 5 || last.Of != 5 || len(reports) != 4 { // 0, 2, 4, 5
		t.Errorf("progress %+v", reports)
	}
	for i, p := range d.Pictures {
		rel, _ := filepath.Rel(dir, p.Path)
		c := colours[filepath.ToSlash(rel)]
		want := []float32{float32(c.R), float32(c.G), float32(c.B)}
		if !slices.Equal(bn1.Features[i], want) {
			t.Errorf("%s: features %v, want its colour %v", rel, bn1.Features[i], want)
		}
	}
	bn2, err := Extract(context.Background(), b, d, cache, 2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bn2.Computed != 0 || bn2.Cached != 5 || builds != 1 {
		t.Errorf("second run: computed %d, cached %d, builds %d; want 0, 5, still 1", bn2.Computed, bn2.Cached, builds)
	}
	if !slices.EqualFunc(bn1.Features, bn2.Features, slices.Equal) {
		t.Error("the cache gave other features")
	}
	// Damage one entry: it is computed again, the rest still come from the cache.
	path := cache.Path(b, d.Pictures[0].SHA256)
	raw, _ := os.ReadFile(path)
	raw[len(raw)-6] ^= 0xff
	os.WriteFile(path, raw, 0o644)
	bn3, err := Extract(context.Background(), b, d, cache, 2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bn3.Computed != 1 || bn3.Cached != 4 {
		t.Errorf("after damage: computed %d, cached %d; want 1, 4", bn3.Computed, bn3.Cached)
	}
	// Another input size is another entry.
	if cache.Path(meanRGB{size: 4}, d.Pictures[0].SHA256) == path {
		t.Error("the cache key ignores the input size")
	}
}

// refLoss is the head's mean cross-entropy computed in float64 with plain loops, independently
// of head.go's BLAS calls.
func refLoss(h *Head, x []float32, labels []int) float64 {
	var total float64
	for i, y := range labels {
		a := make([]float64, h.In)
		for j := range a {
			a[j] = float64(x[i*h.In+j])
		}
		if h.Hidden > 0 {
			hid := make([]float64, h.Hidden)
			for k := range hid {
				s := float64(h.B1[k])
				for j := range a {
					s += a[j] * float64(h.W1[j*h.Hidden+k])
				}
				hid[k] = math.Max(s, 0)
			}
			a = hid
		}
		z := make([]float64, h.Classes)
		hi := math.Inf(-1)
		for c := range z {
			z[c] = float64(h.B2[c])
			for j := range a {
				z[c] += a[j] * float64(h.W2[j*h.Classes+c])
			}
			hi = math.Max(hi, z[c])
		}
		var s float64
		for _, v := range z {
			s += math.Exp(v - hi)
		}
		total += -(z[y] - hi - math.Log(s))
	}
	return total / float64(len(labels))
}

// TestHeadGradient checks the head's gradients against central differences of refLoss, with
// and without a hidden layer.
func TestHeadGradient(t *testing.T) {
	for _, hidden := range []int{0, 5} {
		rng := rand.New(rand.NewPCG(3, uint64(hidden)))
		h, err := NewHead(6, hidden, 3, rng)
		if err != nil {
			t.Fatal(err)
		}
		// Larger final weights than retrain.py's 0.001 so that the hidden layer's gradients are
		// not vanishingly small.
		for i := range h.W2 {
			h.W2[i] = float32(rng.NormFloat64() * 0.5)
		}
		for i := range h.B1 {
			h.B1[i] = 0.1
		}
		n := 4
		x := make([]float32, n*6)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		labels := []int{0, 2, 1, 2}
		ps := h.params()
		p := h.forward(x, n)
		if l, _ := p.loss(labels, 3); math.Abs(l-refLoss(h, x, labels)) > 1e-5 {
			t.Errorf("hidden %d: loss %g, reference %g", hidden, l, refLoss(h, x, labels))
		}
		h.backward(p, labels, ps)
		for _, q := range ps {
			for i := range q.Value {
				v := q.Value[i]
				const eps = 1e-2
				q.Value[i] = v + eps
				up := refLoss(h, x, labels)
				q.Value[i] = v - eps
				down := refLoss(h, x, labels)
				q.Value[i] = v
				num := (up - down) / (2 * eps)
				if d := math.Abs(num - float64(q.Grad[i])); d > 1e-3+1e-2*math.Abs(num) {
					t.Errorf("hidden %d: %s[%d]: gradient %g, numeric %g", hidden, q.Name, i, q.Grad[i], num)
				}
			}
		}
	}
}

// TestTrainSeparable trains on two clusters in feature space, with both solvers and with and
// without a hidden layer: the validation and test sets are classified perfectly, the loss falls,
// the same seed gives the same head, and the confusion matrix counts every picture.
func TestTrainSeparable(t *testing.T) {
	d := &DataSet{Classes: []string{"left", "right"}}
	bn := &Bottlenecks{}
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 90; i++ {
		c := i % 2
		f := make([]float32, 8)
		for j := range f {
			f[j] = float32(rng.NormFloat64() * 0.3)
		}
		f[0] += float32(2*c - 1)
		d.Pictures = append(d.Pictures, Picture{Path: "p", Class: c, Set: Set(i / 30)})
		bn.Features = append(bn.Features, f)
	}
	for _, cfg := range []Config{
		{Optimizer: "sgd", LearningRate: 0.5, BatchSize: 16, Steps: 200, EvalEvery: 20, Seed: 1},
		{Optimizer: "adam", LearningRate: 0.01, BatchSize: 16, Steps: 200, EvalEvery: 20, Seed: 1, Hidden: 16},
	} {
		var evals []Evaluation
		res, err := Train(context.Background(), cfg, d, bn, nil, func(e Evaluation) { evals = append(evals, e) })
		if err != nil {
			t.Fatal(err)
		}
		if len(evals) != 10 || evals[9].Step != 200 {
			t.Errorf("%s: %d evaluations", cfg.Optimizer, len(evals))
		}
		// Each evaluation lists exactly the validation pictures its confusion matrix counts wrong;
		// the history keeps the scores without the list.
		for _, e := range evals {
			wrong := e.Confusion[0][1] + e.Confusion[1][0]
			if len(e.Misclassified) != wrong {
				t.Errorf("%s step %d: %d misclassified listed, the matrix %v counts %d", cfg.Optimizer, e.Step, len(e.Misclassified), e.Confusion, wrong)
			}
			for _, m := range e.Misclassified {
				if m.True == m.Predicted || m.Probability < 0.5 {
					t.Errorf("%s step %d: %+v is not a mistake of a two-class head", cfg.Optimizer, e.Step, m)
				}
			}
		}
		for _, h := range res.History {
			if h.Misclassified != nil {
				t.Errorf("%s: the history keeps the misclassified pictures of step %d", cfg.Optimizer, h.Step)
			}
		}
		if res.ValidationAccuracy != 100 || res.TestAccuracy != 100 {
			t.Errorf("%s hidden %d: validation %.1f%%, test %.1f%%", cfg.Optimizer, cfg.Hidden, res.ValidationAccuracy, res.TestAccuracy)
		}
		if evals[len(evals)-1].ValidationLoss >= evals[0].ValidationLoss {
			t.Errorf("%s: validation loss went from %g to %g", cfg.Optimizer, evals[0].ValidationLoss, evals[len(evals)-1].ValidationLoss)
		}
		if res.ConfusionSet != Testing || res.Confusion[0][0]+res.Confusion[1][1] != 30 || res.Counts != [3]int{30, 30, 30} {
			t.Errorf("confusion %v on %v, counts %v", res.Confusion, res.ConfusionSet, res.Counts)
		}
		again, _ := Train(context.Background(), cfg, d, bn, nil, nil)
		if !slices.Equal(again.Head.W2, res.Head.W2) {
			t.Errorf("%s: the same seed gave another head", cfg.Optimizer)
		}
	}
	// Three validation pictures labelled against their features: the trained head gets exactly
	// those wrong, and the last evaluation lists them.
	flipped := &DataSet{Classes: d.Classes, Pictures: slices.Clone(d.Pictures)}
	var want []string
	for i := range flipped.Pictures {
		flipped.Pictures[i].Path = fmt.Sprintf("p%02d", i)
		if flipped.Pictures[i].Set == Validation && len(want) < 3 {
			flipped.Pictures[i].Class = 1 - flipped.Pictures[i].Class
			want = append(want, flipped.Pictures[i].Path)
		}
	}
	var last Evaluation
	if _, err := Train(context.Background(), Config{Optimizer: "sgd", LearningRate: 0.5, BatchSize: 16, Steps: 200, EvalEvery: 200, Seed: 1},
		flipped, bn, nil, func(e Evaluation) { last = e }); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range last.Misclassified {
		got = append(got, m.Path)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("misclassified validation pictures %q, want the flipped %q", got, want)
	}
	bad := DefaultConfig()
	bad.LearningRate = 0
	if _, err := Train(context.Background(), bad, d, bn, nil, nil); err == nil || !strings.Contains(err.Error(), "learning rate") {
		t.Errorf("learning rate 0: %v", err)
	}
}

// TestModelRoundTrip saves a model with a hidden layer and reads it back: the same predictions;
// a checkpoint of another kind or with a missing tensor is refused.
func TestModelRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	h, _ := NewHead(4, 3, 3, rng)
	for i := range h.W2 {
		h.W2[i] = float32(rng.NormFloat64())
	}
	m := &Model{Backbone: TrunkName, Layer: TrunkLayer, InputSize: 128, Labels: []string{"x", "y", "z"}, Head: h,
		ValidationAccuracy: 97.5, TestAccuracy: math.NaN(), Config: DefaultConfig()}
	path := filepath.Join(t.TempDir(), "m.ckpt")
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Backbone != m.Backbone || got.Layer != m.Layer || got.InputSize != 128 || !slices.Equal(got.Labels, m.Labels) ||
		got.ValidationAccuracy != 97.5 || !math.IsNaN(got.TestAccuracy) || got.Config != m.Config {
		t.Errorf("read back %+v", got)
	}
	f := []float32{0.5, -1, 2, 0.25}
	want, _ := m.Top(f, 5)
	top, err := got.Top(f, 5)
	if err != nil || !slices.Equal(top, want) || len(top) != 3 {
		t.Fatalf("top %v (%v), want %v", top, err, want)
	}
	var sum float64
	for i, p := range top {
		sum += p.Probability
		if i > 0 && p.Probability > top[i-1].Probability {
			t.Errorf("top not sorted: %v", top)
		}
	}
	if math.Abs(sum-1) > 1e-6 {
		t.Errorf("probabilities sum to %g", sum)
	}
	if _, err := got.Top(f[:3], 5); err == nil {
		t.Error("3 features for a head of 4 accepted")
	}
	c, _ := m.Checkpoint()
	c.Kind = "mnist"
	if _, err := FromCheckpoint(c); err == nil || !strings.Contains(err.Error(), `"mnist"`) {
		t.Errorf("another kind: %v", err)
	}
	c, _ = m.Checkpoint()
	c.Tensors = c.Tensors[1:]
	if _, err := FromCheckpoint(c); err == nil || !strings.Contains(err.Error(), tensorW1) {
		t.Errorf("missing tensor: %v", err)
	}
}

func loadTrunk(tb testing.TB) *models.InceptionV3 {
	tb.Helper()
	f, err := os.Open(trunkFile)
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("no %s", trunkFile)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	m, err := models.LoadInceptionV3(f)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// MakeCrops writes perClass random crops (a third to two thirds of each side, some mirrored)
// of each sample picture, as 96x96 PNGs under dir/<class>/, for a small real retraining set.
func makeCrops(tb testing.TB, dir string, perClass int, classes map[string]string) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	for class, file := range classes {
		src, err := imaging.Open(filepath.Join(samplesDir, file))
		if errors.Is(err, os.ErrNotExist) {
			tb.Skipf("no %s", file)
		}
		if err != nil {
			tb.Fatal(err)
		}
		b := src.Bounds()
		for i := 0; i < perClass; i++ {
			w := b.Dx() * (33 + rng.IntN(34)) / 100
			h := b.Dy() * (33 + rng.IntN(34)) / 100
			x0, y0 := rng.IntN(b.Dx()-w), rng.IntN(b.Dy()-h)
			crop := imaging.Crop(src, image.Rect(x0, y0, x0+w, y0+h))
			if rng.IntN(2) == 0 {
				crop = imaging.FlipH(crop)
			}
			name := class + "_" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + ".png"
			writePNG(tb, filepath.Join(dir, class, name), imaging.Resize(crop, 96, 96, imaging.Linear))
		}
	}
}

// TestRetrainTrunk is the recipe end to end on the embedded trunk: three classes of crops of
// three sample photos (a cat, a cup of coffee, the Hubble deep field), split 25% validation and
// 15% test by the hash, reach at least 95% validation accuracy; the saved model classifies a
// validation picture as its class; a second run reads every bottleneck from the cache.
func TestRetrainTrunk(t *testing.T) {
	trunk := Trunk{M: loadTrunk(t), InputSize: 128}
	dir := t.TempDir()
	makeCrops(t, dir, 20, map[string]string{"cat": "chelsea.png", "coffee": "coffee.png", "space": "hubble_deep_field.jpg"})
	d, err := Scan(ScanConfig{Dir: dir, ValidationPercent: 25, TestPercent: 15})
	if err != nil {
		t.Fatal(err)
	}
	cache := &Cache{Dir: t.TempDir()}
	cfg := DefaultConfig()
	cfg.Steps, cfg.EvalEvery = 400, 50
	events := make(chan Event, 1024)
	m, res, err := Run(context.Background(), trunk, d, cache, cfg, nil, events)
	if err != nil {
		t.Fatal(err)
	}
	var evals int
	var done bool
	for e := range events {
		switch e.(type) {
		case Evaluation:
			evals++
		case Done:
			done = true
		}
	}
	if evals != 8 || !done {
		t.Errorf("%d evaluations, done %v", evals, done)
	}
	t.Logf("counts %v, validation %.1f%%, test %.1f%%, confusion %v", res.Counts, res.ValidationAccuracy, res.TestAccuracy, res.Confusion)
	if res.Counts[Validation] < 8 || res.ValidationAccuracy < 95 {
		t.Errorf("validation accuracy %.1f%% on %d pictures, want at least 95%%", res.ValidationAccuracy, res.Counts[Validation])
	}
	if res.Computed != 60 || m.InputSize != 128 || m.Backbone != TrunkName || m.Head.In != 768 {
		t.Errorf("computed %d, model %s/%s at %d with %d features", res.Computed, m.Backbone, m.Layer, m.InputSize, m.Head.In)
	}
	// Classify one validation picture through the saved model.
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := NewExtractor(Trunk{M: trunk.M, InputSize: m2.InputSize}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	v := d.Pictures[d.Of(Validation)[0]]
	img, err := LoadPicture(v.Path, m2.InputSize)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ex.Features([]*image.NRGBA{img})
	if err != nil {
		t.Fatal(err)
	}
	top, err := m2.Top(f[0], 5)
	if err != nil || top[0].Label != d.Classes[v.Class] {
		t.Errorf("%s classified %v (%v), want %s first", v.Path, top, err, d.Classes[v.Class])
	}
	// The second run computes nothing.
	_, res2, err := Run(context.Background(), trunk, d, cache, cfg, nil, make(chan Event, 1024))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Computed != 0 || res2.Extraction.Cached != 60 {
		t.Errorf("second run computed %d, cached %d", res2.Computed, res2.Extraction.Cached)
	}
	if res2.ValidationAccuracy != res.ValidationAccuracy {
		t.Errorf("same seed, same bottlenecks: validation %.2f then %.2f", res.ValidationAccuracy, res2.ValidationAccuracy)
	}
}

// TestRunCancelled stops a run from its gate: Run returns the context's error and closes events.
func TestRunCancelled(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a", "1.png"), solid(4, 4, color.NRGBA{1, 2, 3, 255}))
	writePNG(t, filepath.Join(dir, "b", "1.png"), solid(4, 4, color.NRGBA{4, 5, 6, 255}))
	d, err := Scan(ScanConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	gate := func(ctx context.Context) error {
		if steps++; steps == 10 {
			cancel()
		}
		return ctx.Err()
	}
	builds := 0
	events := make(chan Event, 4096)
	_, _, err = Run(ctx, meanRGB{size: 2, builds: &builds}, d, nil, DefaultConfig(), gate, events)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	for range events { // closed
	}
}
