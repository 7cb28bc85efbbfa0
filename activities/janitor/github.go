package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// githubClients builds the GitHub client from the fleet's secret and keeps it while the
// secret is unchanged, so installation tokens are reused across sweeps of one Lambda
// instance and a rotated secret takes effect once the store's cache expires.
type githubClients struct {
	store *credentials.Store
	log   *slog.Logger

	mu     sync.Mutex
	key    [sha256.Size]byte
	client *ghrunner.Client
}

func (g *githubClients) get(ctx context.Context) (runnerAPI, error) {
	sec, err := g.store.Get(ctx)
	if err != nil {
		return nil, err
	}
	if err := sec.ValidateGitHub(); err != nil {
		return nil, activity.Misconfigured("GitHub credentials in GITHUB_SECRET_ARN: %v", err)
	}
	// A fingerprint of the credentials, never logged, decides whether to rebuild.
	key := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%s\x00%s", sec.AppID, sec.PrivateKey, sec.Token, sec.APIURL)))
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.client != nil && key == g.key {
		return g.client, nil
	}
	c, err := ghrunner.New(ctx, ghrunner.Options{
		AppID: sec.AppID, PrivateKey: []byte(sec.PrivateKey), Token: sec.Token, APIURL: sec.APIURL, Logger: g.log,
	})
	if err != nil {
		return nil, activity.Misconfigured("GitHub credentials in GITHUB_SECRET_ARN: %v", err)
	}
	g.client, g.key = c, key
	return c, nil
}
