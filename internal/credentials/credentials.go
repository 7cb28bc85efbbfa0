// Package credentials loads the fleet's GitHub credentials — one Secrets Manager secret
// holding a JSON document — and caches them across Lambda invocations for a bounded time,
// so a rotated secret is picked up without a redeploy and Secrets Manager is not called
// on every webhook delivery. Values never appear in logs or error text.
package credentials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Secret is the fleet's secret document:
//
//	{"webhook_secret": "...", "app_id": 123, "private_key": "-----BEGIN...", "token": "...", "api_url": "https://ghe.example.com/api/v3/"}
//
// webhook_secret plus either app_id + private_key (a GitHub App, preferred) or token (a
// personal access token). api_url is only for GitHub Enterprise Server.
type Secret struct {
	WebhookSecret string `json:"webhook_secret"`
	AppID         int64  `json:"app_id,omitempty"`
	PrivateKey    string `json:"private_key,omitempty"`
	Token         string `json:"token,omitempty"`
	APIURL        string `json:"api_url,omitempty"`
}

// String never prints a secret value.
func (s Secret) String() string {
	return fmt.Sprintf("credentials.Secret{webhook_secret:%s app_id:%d private_key:%s token:%s api_url:%q}",
		redacted(s.WebhookSecret), s.AppID, redacted(s.PrivateKey), redacted(s.Token), s.APIURL)
}

// GoString keeps %#v from printing the fields.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps slog from printing the fields.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("webhook_secret_set", s.WebhookSecret != ""),
		slog.Int64("app_id", s.AppID),
		slog.Bool("private_key_set", s.PrivateKey != ""),
		slog.Bool("token_set", s.Token != ""),
		slog.String("api_url", s.APIURL),
	)
}

func redacted(v string) string {
	if v == "" {
		return "<unset>"
	}
	return "<redacted>"
}

// ErrNotConfigured means the secret exists but lacks what the caller needs; the message
// names the missing field. Callers answer it as a configuration error, never by falling
// back to something weaker.
var ErrNotConfigured = errors.New("secret is not configured")

// ValidateWebhook checks the document has a webhook secret.
func (s Secret) ValidateWebhook() error {
	if strings.TrimSpace(s.WebhookSecret) == "" {
		return fmt.Errorf("%w: webhook_secret is empty; set it in the fleet's secret (fleetctl setup github does)", ErrNotConfigured)
	}
	return nil
}

// ValidateGitHub checks the document has GitHub API credentials.
func (s Secret) ValidateGitHub() error {
	switch {
	case s.AppID != 0 && strings.TrimSpace(s.PrivateKey) != "":
		return nil
	case s.AppID != 0:
		return fmt.Errorf("%w: app_id is set but private_key is empty", ErrNotConfigured)
	case strings.TrimSpace(s.PrivateKey) != "":
		return fmt.Errorf("%w: private_key is set but app_id is missing", ErrNotConfigured)
	case strings.TrimSpace(s.Token) != "":
		return nil
	}
	return fmt.Errorf("%w: neither app_id + private_key (GitHub App) nor token is set", ErrNotConfigured)
}

// SecretsManagerAPI is the part of the Secrets Manager client the store uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Store reads the secret and caches it for TTL.
type Store struct {
	client SecretsManagerAPI
	id     string
	ttl    time.Duration
	now    func() time.Time

	mu        sync.Mutex
	cached    Secret
	fetchedAt time.Time
	valid     bool
}

// NewStore caches secret id (name or ARN) for ttl (5 minutes when zero).
func NewStore(client SecretsManagerAPI, id string, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &Store{client: client, id: id, ttl: ttl, now: time.Now}
}

// SetClock replaces the store's clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Get returns the cached secret, fetching it when the cache is empty or older than TTL.
func (s *Store) Get(ctx context.Context) (Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.valid && s.now().Sub(s.fetchedAt) < s.ttl {
		return s.cached, nil
	}
	return s.fetchLocked(ctx)
}

// Refresh refetches the secret unless the cached copy is younger than minAge; it returns
// the secret and whether a fetch happened. The webhook calls it once when a signature
// fails to verify (the secret may have been rotated); minAge stops a stream of forged
// deliveries from turning into a stream of Secrets Manager calls.
func (s *Store) Refresh(ctx context.Context, minAge time.Duration) (Secret, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.valid && s.now().Sub(s.fetchedAt) < minAge {
		return s.cached, false, nil
	}
	sec, err := s.fetchLocked(ctx)
	return sec, err == nil, err
}

func (s *Store) fetchLocked(ctx context.Context) (Secret, error) {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &s.id})
	if err != nil {
		return Secret{}, fmt.Errorf("read secret %s from Secrets Manager: %w", s.id, err)
	}
	if out.SecretString == nil || strings.TrimSpace(*out.SecretString) == "" {
		return Secret{}, fmt.Errorf("%w: secret %s has no string value; store the JSON document described in the README", ErrNotConfigured, s.id)
	}
	var sec Secret
	if err := json.Unmarshal([]byte(*out.SecretString), &sec); err != nil {
		// The JSON error could quote part of the value; keep only its position.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return Secret{}, fmt.Errorf("%w: secret %s is not valid JSON (offset %d); store the JSON document described in the README", ErrNotConfigured, s.id, syn.Offset)
		}
		return Secret{}, fmt.Errorf("%w: secret %s is not the expected JSON document (check field types: app_id is a number)", ErrNotConfigured, s.id)
	}
	s.cached, s.fetchedAt, s.valid = sec, s.now(), true
	return sec, nil
}

// Client returns the Secrets Manager client the store reads with.
func (s *Store) Client() SecretsManagerAPI { return s.client }
