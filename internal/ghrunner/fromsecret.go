package ghrunner

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
)

// SecretGetter yields the fleet's secret, cached (*credentials.Store).
type SecretGetter interface {
	Get(ctx context.Context) (credentials.Secret, error)
}

// Source reads the fleet's secret (GITHUB_SECRET_ARN) and hands out the Client built
// from it, kept while the secret is unchanged (ClientCache). It is what an activity
// Lambda holds: safe for concurrent use, built once in main.
type Source struct {
	secrets SecretGetter
	clients *ClientCache
}

// NewSource reads the secret from secrets and builds clients with opts (as
// NewClientCache).
func NewSource(secrets SecretGetter, opts Options) *Source {
	return &Source{secrets: secrets, clients: NewClientCache(opts)}
}

// Client returns the client acting as installation (0: looked up per scope; ignored
// with a token). A secret that is missing, unreadable by this function (access
// denied, not found, undecryptable) or without usable GitHub credentials is a
// fleet.ErrConfigurationInvalid error, which retrying cannot fix; any other failure
// to read it (throttling, say) stays wrapped, so the Lambda boundary can classify it.
func (s *Source) Client(ctx context.Context, installation int64) (*Client, error) {
	sec, err := s.secrets.Get(ctx)
	if err != nil {
		var api smithy.APIError
		switch {
		case errors.Is(err, credentials.ErrNotConfigured):
			return nil, fleet.Errorf(fleet.ErrConfigurationInvalid, "GitHub credentials: %v", err)
		case errors.As(err, &api) && (api.ErrorCode() == "AccessDeniedException" || api.ErrorCode() == "ResourceNotFoundException" || api.ErrorCode() == "DecryptionFailure"):
			return nil, fleet.Errorf(fleet.ErrConfigurationInvalid, "GITHUB_SECRET_ARN must name a secret this function may read (secretsmanager:GetSecretValue, and kms:Decrypt on its key): %v", err)
		}
		return nil, fmt.Errorf("read the GitHub credentials: %w", err)
	}
	c, err := s.clients.For(ctx, sec)
	if err != nil {
		return nil, fleet.Errorf(fleet.ErrConfigurationInvalid, "GitHub credentials in GITHUB_SECRET_ARN: %v", err)
	}
	return c.ForInstallation(installation), nil
}

// ClientCache builds the Client from the fleet's secret and keeps it while the
// secret's GitHub credentials are unchanged, so the installation-token cache of a
// warm Lambda lives across invocations and a rotated secret takes effect as soon as
// the caller reads the new one. It is safe for concurrent use.
type ClientCache struct {
	opts Options

	mu     sync.Mutex
	key    [sha256.Size]byte
	client *Client
}

// NewClientCache returns a cache whose clients are built with opts (HTTPClient,
// Logger, Clock, TokenMargin, UserAgent). The credential fields of opts (AppID,
// PrivateKey, Token, APIURL) are ignored: they come from the secret.
func NewClientCache(opts Options) *ClientCache {
	opts.AppID, opts.PrivateKey, opts.Token, opts.APIURL = 0, nil, "", ""
	return &ClientCache{opts: opts}
}

// For returns the Client for sec's GitHub credentials, built on the first call and
// again only when they change. A secret holding both an App (app_id + private_key)
// and a token authenticates as the App. An error means the secret's credentials are
// missing or unusable (it wraps credentials.ErrNotConfigured when a field is
// missing); it never carries a credential.
func (c *ClientCache) For(ctx context.Context, sec credentials.Secret) (*Client, error) {
	if err := sec.ValidateGitHub(); err != nil {
		return nil, err
	}
	opts := c.opts
	opts.APIURL = sec.APIURL
	if sec.AppID != 0 {
		opts.AppID, opts.PrivateKey = sec.AppID, []byte(sec.PrivateKey)
	} else {
		opts.Token = sec.Token
	}
	key := fingerprint(opts)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil && key == c.key {
		return c.client, nil
	}
	client, err := New(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("build the GitHub client from the secret: %w", err)
	}
	c.client, c.key = client, key
	return client, nil
}

// fingerprint identifies the credentials in opts in a fixed-size key that is cheap to
// compare and safe to hold. Each field is length-prefixed, so no two different sets
// of credentials share a fingerprint short of a SHA-256 collision.
func fingerprint(opts Options) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(opts.AppID))
	h.Write(n[:])
	for _, f := range [][]byte{opts.PrivateKey, []byte(opts.Token), []byte(opts.APIURL)} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}
