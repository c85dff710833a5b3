package style

import (
	"context"
	"sync"
	"testing"

	"convas/compute/models"
)

// TestEstimateWhileRunning builds estimate graphs of VGG19 (random weights, the real shapes,
// nn.ReLU) over and over on one goroutine while a run builds and runs its own on another, as
// the Style panel does when its settings are edited during a run. Under go test -race it fails
// on any state that Gorgonia or the network builders share between graphs (Rectify's counter
// was one, before the models moved to nn.ReLU).
func TestEstimateWhileRunning(t *testing.T) {
	net := VGG{models.NewVGG19Random(3)}
	run := DefaultConfig()
	run.Iterations, run.Every, run.Init = 2, 1, "content"
	est := DefaultConfig()
	est.Size = 48
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var builds int
	go func() {
		defer wg.Done()
		for {
			if _, err := Estimate(est, net, Timing{}); err != nil {
				t.Error(err)
				return
			}
			builds++
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	events := make(chan Event, 64)
	go func() {
		for range events {
		}
	}()
	out, err := Run(context.Background(), run, net, waves(32, 32), []*Image{waves(40, 32)}, nil, nil, events)
	close(done)
	close(events)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if out.H != 32 || out.W != 32 || builds == 0 {
		t.Errorf("result %dx%d, %d estimates built meanwhile", out.W, out.H, builds)
	}
	t.Logf("%d estimates built while the run went", builds)
}
