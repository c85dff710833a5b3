package cli

import (
	"os"
	"os/signal"

	"convas/app"
)

// follow hands every event of a running job to handle until the job ends, then the events still
// buffered. Ctrl+C cancels the job (which ends at its next step and keeps what it made), and so
// does the first error handle returns (say, a frame that cannot be written); follow returns that
// error. A closed events channel is fine: the recipe may close it when it ends. The job's own
// error is the caller's to take from job.Wait.
func follow[E any](job *app.Job, events <-chan E, handle func(E) error) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)

	var first error
	take := func(ev E) {
		if err := handle(ev); err != nil && first == nil {
			first = err
			job.Cancel()
		}
	}
	for {
		select {
		case <-sig:
			job.Cancel()
		case ev, ok := <-events:
			if !ok {
				events = nil // closed: wait for the job alone
				continue
			}
			take(ev)
		case <-job.Done():
			for events != nil && len(events) > 0 {
				take(<-events)
			}
			return first
		}
	}
}
