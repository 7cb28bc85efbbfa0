package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// secretGetter yields the fleet's secret, cached (*credentials.Store).
type secretGetter interface {
	Get(ctx context.Context) (credentials.Secret, error)
}

// githubSource reads the fleet's secret and hands out the GitHub client built from
// it; the client is kept while the secret is unchanged (ghrunner.ClientCache), so
// installation tokens live across invocations of a warm Lambda and a rotated secret
// takes effect within the secret's cache time.
type githubSource struct {
	secrets secretGetter
	clients *ghrunner.ClientCache
}

// newGitHubSource builds clients with opts (HTTPClient, Logger; the credentials come
// from the secret).
func newGitHubSource(secrets secretGetter, opts ghrunner.Options) *githubSource {
	return &githubSource{secrets: secrets, clients: ghrunner.NewClientCache(opts)}
}

// Client returns the GitHub client for installation (0: looked up per scope, or a PAT).
// A missing or incomplete secret is ConfigurationInvalid; Secrets Manager throttling
// stays wrapped so the Lambda boundary reports AWSThrottled.
func (s *githubSource) Client(ctx context.Context, installation int64) (*ghrunner.Client, error) {
	sec, err := s.secrets.Get(ctx)
	if err != nil {
		var api smithy.APIError
		switch {
		case errors.Is(err, credentials.ErrNotConfigured):
			return nil, activity.Misconfigured("GitHub credentials: %v", err)
		case errors.As(err, &api) && (api.ErrorCode() == "AccessDeniedException" || api.ErrorCode() == "ResourceNotFoundException" || api.ErrorCode() == "DecryptionFailure"):
			return nil, activity.Misconfigured("GITHUB_SECRET_ARN must name a secret this function may read (secretsmanager:GetSecretValue, and kms:Decrypt on its key): %v", err)
		}
		return nil, fmt.Errorf("read the GitHub credentials: %w", err)
	}
	c, err := s.clients.For(ctx, sec)
	if err != nil {
		return nil, activity.Misconfigured("GitHub credentials in GITHUB_SECRET_ARN: %v", err)
	}
	// With a token, ForInstallation acts as c does.
	return c.ForInstallation(installation), nil
}
