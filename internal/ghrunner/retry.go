package ghrunner

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Retrier retries GitHub calls inside a time budget: *UnavailableError with
// exponential backoff and full jitter, *RateLimitError after its RetryAfter. A wait
// that does not fit in the budget ends the loop with the typed error, so the state
// machine's own Retry takes over. The zero value uses the defaults below.
type Retrier struct {
	// Base is the first backoff ceiling (default 200ms); it doubles per attempt up to
	// Cap (default 5s). Each wait is uniform in [0, ceiling) ("full jitter").
	Base, Cap time.Duration
	// MaxAttempts bounds the calls made (default 8), whatever the budget.
	MaxAttempts int
	// ContextMargin is kept free before the context's deadline so the caller still has
	// time to report (default 1s).
	ContextMargin time.Duration
	// Now, Sleep and Jitter replace the clock, the wait and the random source in tests.
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func(ceiling time.Duration) time.Duration
	Logger *slog.Logger
}

// Do runs op until it succeeds, fails with a non-transient error, or the next wait
// would overrun budget (or ctx's deadline less a margin); see Retrier.
func Do(ctx context.Context, budget time.Duration, op func(context.Context) error) error {
	return Retrier{}.Do(ctx, budget, op)
}

// Do is the package-level Do with r's settings.
func (r Retrier) Do(ctx context.Context, budget time.Duration, op func(context.Context) error) error {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	sleep := r.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	jitter := r.Jitter
	if jitter == nil {
		jitter = func(c time.Duration) time.Duration {
			if c <= 0 {
				return 0
			}
			return rand.N(c)
		}
	}
	base, ceil := r.Base, r.Cap
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	if ceil <= 0 {
		ceil = 5 * time.Second
	}
	margin := r.ContextMargin
	if margin <= 0 {
		margin = time.Second
	}
	attempts := r.MaxAttempts
	if attempts <= 0 {
		attempts = 8
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	deadline := now().Add(budget)
	if d, ok := ctx.Deadline(); ok && d.Add(-margin).Before(deadline) {
		deadline = d.Add(-margin)
	}
	for attempt := 0; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		backoff := jitter(min(ceil, base<<min(attempt, 30)))
		var wait time.Duration
		var un *UnavailableError
		var rl *RateLimitError
		switch {
		case errors.As(err, &rl):
			wait = rl.RetryAfter
			if wait <= 0 {
				// A reset already past: GitHub has not caught up yet; back off anyway.
				wait = backoff
			}
		case errors.As(err, &un):
			wait = backoff
		default:
			return err
		}
		if attempt+1 >= attempts || now().Add(wait).After(deadline) || ctx.Err() != nil {
			return err
		}
		log.Warn("github call failed; retrying", "attempt", attempt+1, "wait", wait, "error", err)
		if serr := sleep(ctx, wait); serr != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
