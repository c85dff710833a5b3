package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"convas/app"
	"convas/internal/testpics"
)

// TestRetrainAndClassifyEndToEnd runs `convas retrain --json` on a folder of generated patterns
// with the embedded trunk (a damaged picture and a duplicate among them), then `convas classify`
// on pictures of each class with the model it wrote.
func TestRetrainAndClassifyEndToEnd(t *testing.T) {
	d := setHome(t)
	data, out := filepath.Join(d, "pictures"), filepath.Join(d, "out")
	patterns(t, data, 12)
	os.WriteFile(filepath.Join(data, "checks", "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	dup, _ := os.ReadFile(filepath.Join(data, "vertical", "vertical_aa.png"))
	os.WriteFile(filepath.Join(data, "vertical", "copy.png"), dup, 0o644)

	var stdout, stderr bytes.Buffer
	args := []string{"retrain", "--data", data, "--model", "inceptionv3-trunk", "--steps", "150", "--eval-every", "25",
		"--validation-percent", "30", "--test-percent", "20", "--optimizer", "adam", "--input-size", "96", "--out", out, "--json"}
	if status := Main(args, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	var s retrainSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("%v in %q", err, stdout.String())
	}
	total := 0
	for _, c := range s.Classes {
		total += c.Train + c.Validation + c.Test
	}
	if len(s.Classes) != 3 || total != 37 || s.Backbone != "inceptionv3-trunk" || s.Layer != "mixed5" || s.InputSize != 96 {
		t.Errorf("summary %+v", s)
	}
	if s.ValidationAccuracy == nil || *s.ValidationAccuracy < 95 || s.Validation == 0 || s.TestAccuracy == nil || s.Test == 0 {
		t.Errorf("validation %v on %d, test %v on %d", s.ValidationAccuracy, s.Validation, s.TestAccuracy, s.Test)
	}
	if len(s.Skipped) != 1 || !strings.HasSuffix(s.Skipped[0].Path, "broken.png") || len(s.Duplicates) != 1 || len(s.Duplicates[0]) != 2 {
		t.Errorf("skipped %v, duplicates %v", s.Skipped, s.Duplicates)
	}
	if s.Computed != 36 || s.Cached != 0 || s.Model != filepath.Join(out, "retrained.ckpt") || len(s.Confusion) != 3 {
		t.Errorf("computed %d, cached %d, model %s, confusion %v", s.Computed, s.Cached, s.Model, s.Confusion)
	}
	if !strings.Contains(stderr.String(), "skipped "+filepath.Join(data, "checks", "broken.png")) {
		t.Errorf("stderr %q does not report the damaged picture", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	pics := []string{filepath.Join(data, "checks", "checks_ab.png"), filepath.Join(data, "horizontal", "horizontal_ab.png"),
		filepath.Join(data, "vertical", "vertical_ab.png")}
	if status := Main(append([]string{"classify", "--model", s.Model}, pics...), &stdout, &stderr); status != 0 {
		t.Fatalf("classify status %d: %s", status, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 12 { // each picture, then its 3 classes
		t.Fatalf("classify printed %q", stdout.String())
	}
	for i, want := range []string{"checks", "horizontal", "vertical"} {
		if lines[4*i] != pics[i] || strings.Fields(lines[4*i+1])[0] != want {
			t.Errorf("%s: %q first, want %s", pics[i], lines[4*i+1], want)
		}
	}

	// A picture that cannot be read: one line naming it, status 2; with another that can, that
	// one is still classified.
	junk := filepath.Join(d, "junk.jpg")
	os.WriteFile(junk, []byte("not a picture"), 0o644)
	stdout.Reset()
	stderr.Reset()
	if status := Main([]string{"classify", "--model", s.Model, junk}, &stdout, &stderr); status != 2 ||
		strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "junk.jpg") {
		t.Errorf("junk picture: status %d, stderr %q", status, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if status := Main([]string{"classify", "--model", s.Model, junk, pics[0], "--json"}, &stdout, &stderr); status != 2 ||
		!strings.Contains(stderr.String(), "1 of 2 pictures") {
		t.Errorf("junk and a picture: status %d, stderr %q", status, stderr.String())
	}
	var res []classified
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res) != 2 || res[0].Error == "" || res[1].Top[0].Label != "checks" {
		t.Errorf("classify --json gave %q (%v)", stdout.String(), err)
	}

	// A second run reads every bottleneck from the cache; the log goes to stdout.
	stdout.Reset()
	if status := Main(append(args[:len(args)-1], "--out", filepath.Join(d, "out2")), &stdout, &stderr); status != 0 {
		t.Fatalf("second run: status %d: %s", status, stderr.String())
	}
	if o := stdout.String(); !strings.Contains(o, "0 bottlenecks computed, 36 from the cache") || !strings.Contains(o, "Step 150:") ||
		!strings.Contains(o, "Final test accuracy") {
		t.Errorf("second run printed %q", o)
	}
}

// TestRetrainDistorted runs `convas retrain --json` with every distortion flag: the summary
// counts the distorted pictures run through the backbone (steps x batch) and echoes the
// distortions, and only the validation and test pictures' bottlenecks are computed.
func TestRetrainDistorted(t *testing.T) {
	d := setHome(t)
	data := filepath.Join(d, "pictures")
	patterns(t, data, 3)
	var stdout, stderr bytes.Buffer
	args := []string{"retrain", "--data", data, "--steps", "2", "--batch-size", "3", "--eval-every", "1", "--input-size", "75",
		"--validation-percent", "30", "--test-percent", "0", "--random-crop", "10", "--random-scale", "5", "--flip-left-right",
		"--random-brightness", "15", "--out", filepath.Join(d, "out"), "--json"}
	if status := Main(args, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	var s retrainSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("%v in %q", err, stdout.String())
	}
	want := app.TransferDistortions{Crop: 10, Scale: 5, Flip: true, Brightness: 15}
	if s.Distorted != 6 || s.Config.Distortions != want || s.Computed != s.Validation {
		t.Errorf("distorted %d, distortions %+v, computed %d for %d validation pictures", s.Distorted, s.Config.Distortions, s.Computed, s.Validation)
	}
}

// TestRetrainFineTune runs `convas retrain --fine-tune --json`: the summary echoes the setting,
// the model file carries the tuned block, and `convas classify` reads it.
func TestRetrainFineTune(t *testing.T) {
	d := setHome(t)
	data := filepath.Join(d, "pictures")
	patterns(t, data, 3)
	var stdout, stderr bytes.Buffer
	args := []string{"retrain", "--data", data, "--steps", "2", "--batch-size", "3", "--eval-every", "1", "--input-size", "75",
		"--validation-percent", "30", "--test-percent", "0", "--fine-tune", "--fine-tune-learning-rate", "0.002",
		"--out", filepath.Join(d, "out"), "--json"}
	if status := Main(args, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	var s retrainSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("%v in %q", err, stdout.String())
	}
	if !s.Config.FineTune || s.Config.FineTuneLearningRate != 0.002 || s.Computed != 9 {
		t.Errorf("config %+v, computed %d", s.Config, s.Computed)
	}
	m, err := app.LoadTransferModel(s.Model)
	if err != nil || len(m.Block) != 20 {
		t.Fatalf("model %s: %v, %d tuned weights", s.Model, err, len(m.Block))
	}
	stdout.Reset()
	if status := Main([]string{"classify", "--model", s.Model, filepath.Join(data, "checks", "checks_aa.png")}, &stdout, &stderr); status != 0 ||
		strings.Count(stdout.String(), "\n") != 4 {
		t.Errorf("classify status %d, printed %q (%s)", status, stdout.String(), stderr.String())
	}
}

func TestRetrainClassifyBadInput(t *testing.T) {
	d := setHome(t)
	data := filepath.Join(d, "pictures")
	patterns(t, data, 2)
	junk := filepath.Join(d, "junk.png")
	os.WriteFile(junk, []byte("not a picture"), 0o644)
	notModel := filepath.Join(d, "model.ckpt")
	os.WriteFile(notModel, []byte("CONVASCK...."), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"retrain"}, "--data DIR is required"},
		{[]string{"retrain", "--data", filepath.Join(d, "none")}, "none"},
		{[]string{"retrain", "--data", data, "--steps", "-1"}, "steps -1"},
		{[]string{"retrain", "--data", data, "--model", "alexnet"}, `unknown backbone "alexnet"`},
		{[]string{"retrain", "--data", data, "--model", "vgg19"}, "convas models fetch vgg19"},
		{[]string{"retrain", "--data", data, "--validation-percent", "95", "--test-percent", "10"}, "below 100"},
		{[]string{"retrain", "--data", data, "--input-size", "20"}, "--input-size 20"},
		{[]string{"retrain", "--data", data, "--optimizer", "lbfgs"}, "lbfgs"},
		{[]string{"retrain", "--bogus"}, "bogus"},
		{[]string{"retrain", "--data", data, "--random-crop", "-5"}, "--random-crop -5: a percentage from 0 to 100"},
		{[]string{"retrain", "--data", data, "--random-scale", "250"}, "--random-scale 250"},
		{[]string{"retrain", "--data", data, "--random-brightness", "NaN"}, "--random-brightness NaN"},
		{[]string{"retrain", "--data", data, "--random-brightness", "lots"}, "random-brightness"},
		{[]string{"retrain", "--data", data, "--flip-left-right=maybe"}, "flip-left-right"},
		{[]string{"retrain", "--data", data, "--fine-tune", "--fine-tune-learning-rate", "-0.1"}, "--fine-tune-learning-rate -0.1"},
		{[]string{"retrain", "--data", data, "--fine-tune", "--fine-tune-learning-rate", "Inf"}, "--fine-tune-learning-rate +Inf"},
		{[]string{"retrain", "--data", data, "--fine-tune-learning-rate", "0.01"}, "needs --fine-tune"},
		{[]string{"retrain", "--data", data, "--fine-tune", "--model", "inception5h"}, "not inception5h's"},
		{[]string{"retrain", "--data", data, "--fine-tune", "--flip-left-right"}, "fine-tuning and distortions cannot be combined"},
		{[]string{"retrain", "--data", data, "--fine-tune=often"}, "fine-tune"},
		{[]string{"classify", junk}, "--model FILE"},
		{[]string{"classify", "--model", filepath.Join(d, "none.ckpt"), junk}, "none.ckpt"},
		{[]string{"classify", "--model", notModel, junk}, "model.ckpt"},
		{[]string{"classify", "--model", notModel, "--top", "0", junk}, "--top 0"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		status := Main(c.args, &out, &errb)
		msg := errb.String()
		if status != 2 {
			t.Errorf("%v: status %d, want 2 (stderr %q)", c.args, status, msg)
		}
		if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.want) {
			t.Errorf("%v: stderr %q, want one line containing %q", c.args, msg, c.want)
		}
	}
}

// patterns writes perClass pictures of three generated patterns under dir/<class>/.
func patterns(t *testing.T, dir string, perClass int) {
	t.Helper()
	if err := testpics.WritePatterns(dir, perClass, 31); err != nil {
		t.Fatal(err)
	}
}
