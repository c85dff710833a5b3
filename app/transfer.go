package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"convas/app/modelstore"
	"convas/compute/transfer"
)

// The retraining recipe's types, for the front ends (ui/ talks to app/, never to compute/).
type (
	// TransferConfig is the head's training configuration.
	TransferConfig = transfer.Config
	// TransferScan says where the pictures are and how they are split.
	TransferScan = transfer.ScanConfig
	// TransferData is a scanned folder of pictures.
	TransferData = transfer.DataSet
	// TransferSet is training, validation or testing.
	TransferSet = transfer.Set
	// TransferSkipped is a file left out, with the reason.
	TransferSkipped = transfer.Skipped
	// TransferEvent is a progress report: TransferProgress, TransferSkipped, TransferStepProgress
	// (with distortions or fine-tuning), TransferEvaluation or TransferDone.
	TransferEvent = transfer.Event
	// TransferDistortions are retrain.py's random crop, scale, flip and brightness of the training
	// pictures, which bypass the bottleneck cache.
	TransferDistortions = transfer.Distortions
	// TransferStepProgress reports a training step that distorts its batch, after each batch the
	// backbone runs, or a fine-tuning step (FineTune): such steps take seconds each.
	TransferStepProgress = transfer.StepProgress
	// TransferProgress reports the bottleneck phase.
	TransferProgress = transfer.ExtractProgress
	// TransferEvaluation reports the head's training at an evaluation step.
	TransferEvaluation = transfer.Evaluation
	// TransferDone ends a finished run.
	TransferDone = transfer.Done
	// TransferResult is a finished run's scores and confusion matrix.
	TransferResult = transfer.Result
	// TransferMisclassified is a picture the final model got wrong.
	TransferMisclassified = transfer.Misclassified
	// TransferModel is a retrained classifier.
	TransferModel = transfer.Model
	// TransferPrediction is a class and its probability.
	TransferPrediction = transfer.Prediction
)

// TransferTrunkName is the embedded InceptionV3 trunk's backbone name, the one backbone whose
// last block fine-tuning trains; TransferFineTuneFrom is the layer whose maps feed that block.
const (
	TransferTrunkName    = transfer.TrunkName
	TransferFineTuneFrom = transfer.FineTuneFrom
)

// The sets of a transfer data set.
const (
	TransferTraining   = transfer.Training
	TransferValidation = transfer.Validation
	TransferTesting    = transfer.Testing
)

// DefaultTransferConfig returns retrain.py's head training: plain gradient descent at 0.01,
// batches of 100, 4,000 steps, an evaluation every 10.
func DefaultTransferConfig() TransferConfig { return transfer.DefaultConfig() }

// DefaultTransferScan returns retrain.py's split of dir: 10% validation, 10% testing.
func DefaultTransferScan(dir string) TransferScan { return transfer.DefaultScanConfig(dir) }

// ScanPictures reads a folder of class folders (or a training and a validation tree): classes,
// counts per set, skipped files with their reasons, duplicates. Errors name the folder.
func ScanPictures(cfg TransferScan) (*TransferData, error) { return transfer.Scan(cfg) }

// TransferBackbone is a network the Transfer panel and `convas retrain` can extract bottlenecks
// with.
type TransferBackbone struct {
	Name      string // as the model store names it
	Title     string
	Layer     string // the layer pooled into bottlenecks
	Size      int    // the input side in pixels
	Available bool   // Convas can build it now
	Note      string // why it cannot, when it cannot: how to fetch it
}

// TransferBackbones lists the backbones: the embedded InceptionV3 trunk always; GoogLeNet
// (inception5h) and VGG19 once the model store holds them (before that, listed as unavailable,
// with a hint to the Models tab).
func (a *App) TransferBackbones() []TransferBackbone {
	stored := func(n TransferBackbone) TransferBackbone {
		e, err := a.Store().Lookup(n.Name)
		if err != nil {
			n.Available, n.Note = false, err.Error()
		} else if st := a.Store().Status(e); st.Kind != modelstore.Ready {
			n.Available, n.Note = false, "not downloaded ("+st.String()+"): fetch it in the Models tab or with convas models fetch "+n.Name
		}
		return n
	}
	return []TransferBackbone{
		{Name: transfer.TrunkName, Title: "InceptionV3 trunk (embedded), mixed5 pooled: 768 features",
			Layer: transfer.TrunkLayer, Size: transfer.TrunkSize, Available: true},
		stored(TransferBackbone{Name: transfer.GoogLeNetName, Title: "GoogLeNet (TensorFlow inception5h), mixed5b pooled: 1,024 features",
			Layer: transfer.GoogLeNetLayer, Size: transfer.GoogLeNetSize, Available: true}),
		stored(TransferBackbone{Name: transfer.VGG19Name, Title: "VGG-19 (MatConvNet), relu5_4 pooled: 512 features",
			Layer: transfer.VGG19Layer, Size: transfer.VGG19Size, Available: true}),
	}
}

// transferBackbone loads a backbone by name, for pictures of size x size (0: its own size).
func (a *App) transferBackbone(name string, size int) (transfer.Backbone, error) {
	var names []string
	for _, n := range a.TransferBackbones() {
		names = append(names, n.Name)
		if n.Name != name {
			continue
		}
		if !n.Available {
			return nil, fmt.Errorf("backbone %s: %s", name, n.Note)
		}
		switch name {
		case transfer.GoogLeNetName:
			m, err := a.GoogLeNet()
			if err != nil {
				return nil, err
			}
			return transfer.GoogLeNet{M: m, InputSize: size}, nil
		case transfer.VGG19Name:
			m, err := a.storedVGG19()
			if err != nil {
				return nil, err
			}
			return transfer.VGG19{M: m, InputSize: size}, nil
		}
		m, err := a.Trunk()
		if err != nil {
			return nil, err
		}
		return transfer.Trunk{M: m, InputSize: size}, nil
	}
	return nil, fmt.Errorf("unknown backbone %q (have: %s)", name, strings.Join(names, ", "))
}

// BottleneckDir is where bottlenecks are cached, per backbone, layer and input size.
func (a *App) BottleneckDir() string { return filepath.Join(a.CacheDir, "bottlenecks") }

// TransferRequest is one retraining: the data, the backbone and the head's training.
type TransferRequest struct {
	// Data is a folder already scanned (the panel scans when a folder is chosen); when nil,
	// Scan is read.
	Data *TransferData
	Scan TransferScan
	// Backbone names one of TransferBackbones.
	Backbone string
	// InputSize overrides the backbone's input size when positive (smaller is faster, and
	// coarser).
	InputSize int
	Config    TransferConfig
	// NoCache computes every bottleneck again and stores none.
	NoCache bool
}

// TransferRun is one retraining and, while it runs, its job. Events carries its progress (the
// recipe closes it when it ends); the front end drains it.
type TransferRun struct {
	Request TransferRequest
	Data    *TransferData
	Events  chan TransferEvent

	backbone transfer.Backbone
	cache    *transfer.Cache
	dev      *deviceState // the App's; nil: the CPU

	mu     sync.Mutex
	job    *Job
	model  *TransferModel
	result *TransferResult
	device DeviceUse
}

// NewTransfer prepares a retraining: it checks the configuration, scans the folder unless the
// request has it scanned, and loads the backbone, so that a bad request fails here, before a job
// starts.
func (a *App) NewTransfer(req TransferRequest) (*TransferRun, error) {
	if err := req.Config.Validate(); err != nil {
		return nil, err
	}
	if req.InputSize < 0 {
		return nil, fmt.Errorf("transfer: input size %d: must be positive, or 0 for the backbone's", req.InputSize)
	}
	d := req.Data
	if d == nil {
		var err error
		if d, err = transfer.Scan(req.Scan); err != nil {
			return nil, err
		}
	}
	b, err := a.transferBackbone(req.Backbone, req.InputSize)
	if err != nil {
		return nil, err
	}
	if req.Config.FineTune {
		if err := transfer.CanFineTune(b); err != nil {
			return nil, err
		}
	}
	r := &TransferRun{Request: req, Data: d, Events: make(chan TransferEvent, 256), backbone: b, dev: &a.dev}
	if !req.NoCache {
		r.cache = &transfer.Cache{Dir: a.BottleneckDir()}
	}
	return r, nil
}

// Backbone returns the backbone's name, layer and input size.
func (r *TransferRun) Backbone() (name, layer string, size int) {
	return r.backbone.Name(), r.backbone.Layer(), r.backbone.Size()
}

// Start runs the retraining on its own goroutine: bottlenecks, then the head. A run starts once.
func (r *TransferRun) Start() (*Job, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.job != nil {
		return nil, errors.New("transfer: this run has already been started")
	}
	cfg := r.Request.Config
	var release func()
	cfg.Accel, r.device, release = r.dev.acquire()
	r.job = StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		defer release()
		m, res, err := transfer.Run(ctx, r.backbone, r.Data, r.cache, cfg, gate, r.Events)
		if err == nil {
			r.mu.Lock()
			r.model, r.result = m, res
			r.mu.Unlock()
		}
		return err
	})
	return r.job, nil
}

// Device returns the device the retraining computes on, once started.
func (r *TransferRun) Device() DeviceUse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.device
}

// Model returns the retrained model, or nil until the run has finished.
func (r *TransferRun) Model() *TransferModel {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.model
}

// Result returns the finished run's scores, or nil until it has finished.
func (r *TransferRun) Result() *TransferResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result
}

// SaveTransferModel writes a retrained model as a checkpoint file (kind "transfer", the labels
// and backbone in its metadata, the head's tensors), atomically, making its folder.
func SaveTransferModel(path string, m *TransferModel) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := m.WriteFile(path); err != nil {
		return err
	}
	// The checkpoint's temporary file is private (0600); a model is for sharing.
	if err := os.Chmod(path, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// LoadTransferModel reads a model SaveTransferModel wrote; errors name the file.
func LoadTransferModel(path string) (*TransferModel, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("model %s: %s", path, unwrapPath(err))
	}
	return transfer.ReadFile(path)
}

// TransferModelFile is the model's file name in a run folder.
const TransferModelFile = "retrained.ckpt"

// WriteTransferRun writes a finished run into dir: the model (TransferModelFile), its labels
// one a line (labels.txt, as retrain.py's output_labels.txt), the evaluations as CSV
// (metrics.csv) and the two charts (loss.png, accuracy.png).
func WriteTransferRun(dir string, m *TransferModel, res *TransferResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	if err := SaveTransferModel(filepath.Join(dir, TransferModelFile), m); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "labels.txt"), []byte(strings.Join(m.Labels, "\n")+"\n")); err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"step", "train_loss", "train_accuracy", "validation_loss", "validation_accuracy"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, e := range res.History {
		w.Write([]string{strconv.Itoa(e.Step), f(e.TrainLoss), f(e.TrainAccuracy), f(e.ValidationLoss), f(e.ValidationAccuracy)})
	}
	w.Flush()
	if err := writeFileAtomic(filepath.Join(dir, "metrics.csv"), buf.Bytes()); err != nil {
		return err
	}
	for name, draw := range map[string]func([]TransferEvaluation, vg.Length, vg.Length) (image.Image, error){
		"loss.png": TransferLossPlot, "accuracy.png": TransferAccuracyPlot,
	} {
		img, err := draw(res.History, 6*vg.Inch, 4*vg.Inch)
		if err != nil {
			return err
		}
		buf.Reset()
		if err := png.Encode(&buf, img); err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(dir, name), buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// TransferLossPlot draws the cross-entropy of the training batches and of the validation set
// per step.
func TransferLossPlot(h []TransferEvaluation, w, hgt vg.Length) (image.Image, error) {
	p := plot.New()
	p.Title.Text = "Cross-entropy per Step"
	p.X.Label.Text = "Step"
	p.Y.Label.Text = "Cross-entropy"
	tr, va := make(plotter.XYs, 0, len(h)), make(plotter.XYs, 0, len(h))
	for _, e := range h {
		tr = append(tr, plotter.XY{X: float64(e.Step), Y: e.TrainLoss})
		if !math.IsNaN(e.ValidationLoss) {
			va = append(va, plotter.XY{X: float64(e.Step), Y: e.ValidationLoss})
		}
	}
	if err := addLine(p, tr, lossColour, "Train batch"); err != nil {
		return nil, err
	}
	if err := addLine(p, va, testColour, "Validation"); err != nil {
		return nil, err
	}
	p.Y.Min = 0
	p.Legend.Top = true // the losses fall: the top right is empty
	return render(p, w, hgt)
}

// TransferAccuracyPlot draws the accuracy on the training batches and on the validation set per
// step, in percent.
func TransferAccuracyPlot(h []TransferEvaluation, w, hgt vg.Length) (image.Image, error) {
	p := plot.New()
	p.Title.Text = "Train and Validation Accuracy"
	p.X.Label.Text = "Step"
	p.Y.Label.Text = "Accuracy (%)"
	tr, va := make(plotter.XYs, 0, len(h)), make(plotter.XYs, 0, len(h))
	for _, e := range h {
		tr = append(tr, plotter.XY{X: float64(e.Step), Y: e.TrainAccuracy})
		if !math.IsNaN(e.ValidationAccuracy) {
			va = append(va, plotter.XY{X: float64(e.Step), Y: e.ValidationAccuracy})
		}
	}
	if err := addLine(p, tr, trainColour, "Train batch"); err != nil {
		return nil, err
	}
	if err := addLine(p, va, testColour, "Validation"); err != nil {
		return nil, err
	}
	p.Y.Min, p.Y.Max = 0, 100
	p.Legend.Top = false
	p.Legend.Left = false
	return render(p, w, hgt)
}

// Classifier classifies pictures with a retrained model: the model's backbone, built once for
// one picture at a time on the App's device, and its head. It is safe for use by one goroutine
// at a time; calls from several are serialised.
type Classifier struct {
	Model *TransferModel

	mu      sync.Mutex
	b       transfer.Backbone
	ex      *transfer.Extractor
	dev     *deviceState // the App's; nil: the CPU
	device  DeviceUse
	release func() // lets the device go, once ex is closed
}

// NewClassifier loads the backbone a model was trained on, at the model's input size, and
// checks that it pools the layer the model was trained on; a fine-tuned model's block replaces
// the backbone's own in a copy.
func (a *App) NewClassifier(m *TransferModel) (*Classifier, error) {
	b, err := a.transferBackbone(m.Backbone, m.InputSize)
	if err != nil {
		return nil, fmt.Errorf("classify: the model's %w", err)
	}
	if b.Layer() != m.Layer {
		return nil, fmt.Errorf("classify: the model was trained on %s of %s; this build pools %s", m.Layer, m.Backbone, b.Layer())
	}
	// A fine-tuned model brings its own last block: a private copy of the trunk carries it, the
	// app's shared trunk keeps its weights.
	if b, err = m.TunedBlock(b); err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	return &Classifier{Model: m, b: b, dev: &a.dev}, nil
}

// Classify returns the model's top k classes for a picture file, most probable first. Errors
// name the file.
func (c *Classifier) Classify(path string, k int) ([]TransferPrediction, error) {
	img, err := transfer.LoadPicture(path, c.Model.InputSize)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ex == nil {
		accel, use, release := c.dev.acquire()
		if c.ex, err = transfer.NewExtractorOn(c.b, 1, accel); err != nil {
			release()
			return nil, err
		}
		c.device, c.release = use, release
	}
	f, err := c.ex.Features([]*image.NRGBA{img})
	if err != nil {
		return nil, fmt.Errorf("classify %s: %w", path, err)
	}
	top, err := c.Model.Top(f[0], k)
	if err != nil {
		return nil, fmt.Errorf("classify %s: %w", path, err)
	}
	return top, nil
}

// Device returns the device the classifier computes on, once it has classified a picture.
func (c *Classifier) Device() DeviceUse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.device
}

// Close frees the backbone's machine, and lets the device go.
func (c *Classifier) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ex != nil {
		c.ex.Close()
		c.ex = nil
		c.release()
	}
}
