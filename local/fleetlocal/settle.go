package fleetlocal

import (
	"context"
	"fmt"
	"time"
)

// Settle waits until every job completed, no execution of either state machine runs
// and no simulated runner is alive: the moment leaks are counted. It gives up at
// timeout (wall clock) and says what was still going.
func (e *Env) Settle(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pending, err := e.pending(ctx)
		if err == nil && pending == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("not settled after %s: %w", timeout, err)
			}
			return fmt.Errorf("not settled after %s: %s", timeout, pending)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (e *Env) pending(ctx context.Context) (string, error) {
	open := 0
	for _, j := range e.GitHub.Jobs() {
		if j.Status != "completed" {
			open++
		}
	}
	if open > 0 {
		return fmt.Sprintf("%d jobs not completed", open), nil
	}
	running, err := e.RunningExecutions(ctx)
	if err != nil {
		return "", err
	}
	if running > 0 {
		return fmt.Sprintf("%d executions running", running), nil
	}
	if n := e.Runners.Active(); n > 0 {
		return fmt.Sprintf("%d simulated runners alive", n), nil
	}
	return "", nil
}
