package cli

import (
	"context"
	"errors"
	"testing"

	"convas/app"
)

// TestFollowHandlesEveryEvent: events sent before the job ends, including those still buffered
// when it ends, all reach the handler, in order.
func TestFollowHandlesEveryEvent(t *testing.T) {
	events := make(chan int, 8)
	job := app.StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		for i := range 5 {
			events <- i
		}
		return nil
	})
	var got []int
	if err := follow(job, events, func(i int) error { got = append(got, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0] != 0 || got[4] != 4 {
		t.Fatalf("handled %v, want 0 to 4", got)
	}
}

// TestFollowCancelsOnHandlerError: the first handler error cancels the job and comes back.
func TestFollowCancelsOnHandlerError(t *testing.T) {
	events := make(chan int)
	job := app.StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		for i := 0; ; i++ {
			select {
			case events <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	bad := errors.New("disk full")
	err := follow(job, events, func(i int) error {
		if i == 3 {
			return bad
		}
		return nil
	})
	if !errors.Is(err, bad) {
		t.Fatalf("follow = %v, want %v", err, bad)
	}
	if err := job.Wait(); err != nil || job.State() != app.Cancelled {
		t.Fatalf("job ended %v with %v, want cancelled", job.State(), err)
	}
}

// TestFollowClosedChannel: a recipe that closes its events channel before it ends is followed to
// the end without spinning on the closed channel.
func TestFollowClosedChannel(t *testing.T) {
	events := make(chan int, 2)
	release := make(chan struct{})
	job := app.StartJob(func(ctx context.Context, gate func(context.Context) error) error {
		events <- 1
		close(events)
		<-release
		return nil
	})
	n := 0
	go func() {
		for len(events) > 0 {
		}
		close(release)
	}()
	if err := follow(job, events, func(int) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("follow = %v after %d events, want nil after 1", err, n)
	}
}
