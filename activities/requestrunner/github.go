package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// secretGetter yields the fleet's secret, cached (*credentials.Store).
type secretGetter interface {
	Get(ctx context.Context) (credentials.Secret, error)
}

// githubSource builds the GitHub client from the fleet's secret and keeps it while the
// secret is unchanged, so ghrunner's installation-token cache lives across invocations
// of a warm Lambda and a rotated secret takes effect within the secret's cache time.
type githubSource struct {
	secrets    secretGetter
	httpClient *http.Client // nil: ghrunner's default
	log        *slog.Logger

	mu     sync.Mutex
	key    [sha256.Size]byte
	client *ghrunner.Client
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
	if err := sec.ValidateGitHub(); err != nil {
		return nil, activity.Misconfigured("GitHub credentials in GITHUB_SECRET_ARN: %v", err)
	}
	key := sha256.Sum256([]byte(strconv.FormatInt(sec.AppID, 10) + "\x00" + sec.PrivateKey + "\x00" + sec.Token + "\x00" + sec.APIURL))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil || key != s.key {
		opts := ghrunner.Options{APIURL: sec.APIURL, HTTPClient: s.httpClient, Logger: s.log}
		if sec.AppID != 0 {
			// A GitHub App is preferred when the secret holds both.
			opts.AppID, opts.PrivateKey = sec.AppID, []byte(sec.PrivateKey)
		} else {
			opts.Token = sec.Token
		}
		c, err := ghrunner.New(ctx, opts)
		if err != nil {
			return nil, activity.Misconfigured("GitHub credentials in GITHUB_SECRET_ARN: %v", err)
		}
		s.client, s.key = c, key
	}
	if installation != 0 && s.client.IsApp() {
		return s.client.ForInstallation(installation), nil
	}
	return s.client, nil
}
