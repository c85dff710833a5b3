package app

import (
	"context"
	"errors"
	"sync"
)

// JobState is where a job is in its life.
type JobState int

// The states of a job.
const (
	Running JobState = iota
	Paused
	Finished  // ended by itself, successfully
	Cancelled // stopped by the user
	Failed    // ended with an error
)

func (s JobState) String() string {
	return [...]string{"running", "paused", "finished", "cancelled", "failed"}[s]
}

// Job runs one piece of long work on its own goroutine and lets another goroutine pause, resume
// and cancel it. The work calls Gate between its steps; Gate blocks while the job is paused.
type Job struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	paused  bool
	state   JobState
	err     error
	pending []func() // run on the job's goroutine at its next step boundary
	ended   bool     // the work has returned; nothing queued will run on its goroutine
}

// StartJob runs work on a new goroutine. work receives a context that is cancelled by Cancel and
// the job's Gate to call between steps.
func StartJob(work func(ctx context.Context, gate func(context.Context) error) error) *Job {
	ctx, cancel := context.WithCancel(context.Background())
	j := &Job{cancel: cancel, done: make(chan struct{})}
	j.cond = sync.NewCond(&j.mu)
	go func() {
		defer close(j.done)
		err := work(ctx, j.gate)
		j.mu.Lock()
		switch {
		case err == nil:
			j.state = Finished
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			j.state = Cancelled
		default:
			j.state, j.err = Failed, err
		}
		pending := j.pending
		j.pending, j.ended = nil, true
		j.mu.Unlock()
		for _, f := range pending {
			f()
		}
		cancel()
	}()
	// Wake a paused gate when the context is cancelled.
	context.AfterFunc(ctx, func() {
		j.mu.Lock()
		j.cond.Broadcast()
		j.mu.Unlock()
	})
	return j
}

// gate blocks while the job is paused and returns the context's error once it is cancelled.
// Functions queued by Between run here, on the job's goroutine, while paused too.
func (j *Job) gate(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		for len(j.pending) > 0 {
			f := j.pending[0]
			j.pending = j.pending[1:]
			j.mu.Unlock()
			f()
			j.mu.Lock()
		}
		if !j.paused || ctx.Err() != nil {
			return ctx.Err()
		}
		j.cond.Wait()
	}
}

// Between runs f at the job's next step boundary, when the work's state is consistent (for a
// snapshot), and returns once f has run. If the job has ended, f runs at once.
func (j *Job) Between(f func()) {
	ran := make(chan struct{})
	g := func() { f(); close(ran) }
	j.mu.Lock()
	if j.ended {
		j.mu.Unlock()
		g()
		return
	}
	j.pending = append(j.pending, g)
	j.cond.Broadcast()
	j.mu.Unlock()
	<-ran
}

// Pause holds the job at its next step.
func (j *Job) Pause() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state == Running {
		j.paused, j.state = true, Paused
	}
}

// Resume lets a paused job go on.
func (j *Job) Resume() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state == Paused {
		j.paused, j.state = false, Running
		j.cond.Broadcast()
	}
}

// TogglePause pauses a running job or resumes a paused one, and returns the state it asked
// for (Paused or Running); a job that has ended stays as it is.
func (j *Job) TogglePause() JobState {
	if j.State() == Paused {
		j.Resume()
		return Running
	}
	j.Pause()
	return Paused
}

// Cancel stops the job at its next step; Wait returns when it has.
func (j *Job) Cancel() { j.cancel() }

// Wait blocks until the job has ended and returns its error (nil when it finished or was
// cancelled).
func (j *Job) Wait() error {
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// State returns the job's state.
func (j *Job) State() JobState {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state
}
