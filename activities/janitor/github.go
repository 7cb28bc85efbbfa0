package main

import (
	"context"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// githubClients reads the fleet's secret and hands out the GitHub client built from
// it; the client is kept while the secret is unchanged (ghrunner.ClientCache), so
// installation tokens are reused across sweeps of one Lambda instance and a rotated
// secret takes effect once the store's cache expires.
type githubClients struct {
	store   *credentials.Store
	clients *ghrunner.ClientCache
}

func (g *githubClients) get(ctx context.Context) (runnerAPI, error) {
	sec, err := g.store.Get(ctx)
	if err != nil {
		return nil, err
	}
	c, err := g.clients.For(ctx, sec)
	if err != nil {
		return nil, activity.Misconfigured("GitHub credentials in GITHUB_SECRET_ARN: %v", err)
	}
	return c, nil
}
