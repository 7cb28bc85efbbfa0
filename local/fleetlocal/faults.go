package fleetlocal

import (
	"time"

	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

// faults applies Options.Faults to the fakes.
func (e *Env) faults() error {
	f := e.Opts.Faults
	// GitHub's secondary limit counts writes per minute; the window follows the time scale.
	e.GitHub.SetFaults(githubfake.Faults{
		ServerErrorRatio: f.GitHub5xxRatio, WritesPerMinute: f.GitHubWritesPerMinute,
		WriteWindow: e.Opts.Scaled(time.Minute),
	})
	if f.SpotShortage != 0 {
		e.AWS.ECS.SetCapacityShortage("FARGATE_SPOT", f.SpotShortage)
	}
	if f.ECSThrottleRatio > 0 {
		if err := e.AWS.SetFault("ecs", "*", awsfake.Fault{ThrottleRatio: f.ECSThrottleRatio}); err != nil {
			return err
		}
	}
	if f.RunTaskPerSecond > 0 {
		// Fargate's RunTask API bucket: burst 100, refill as configured (quotas.json).
		if err := e.AWS.SetFault("ecs", "RunTask", awsfake.Fault{Bucket: awsfake.NewTokenBucket(100, f.RunTaskPerSecond)}); err != nil {
			return err
		}
	}
	return nil
}
