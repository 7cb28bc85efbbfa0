package main

import (
	"context"

	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// githubFrom adapts src, which builds the GitHub client from the fleet's secret and
// keeps it while the secret is unchanged (so installation tokens are reused across
// sweeps of one Lambda instance), to the janitor's GitHub dependency.
func githubFrom(src *ghrunner.Source) func(context.Context) (runnerAPI, error) {
	return func(ctx context.Context) (runnerAPI, error) {
		c, err := src.Client(ctx, 0)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return c, nil
	}
}
