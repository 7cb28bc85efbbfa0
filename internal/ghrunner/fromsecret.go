package ghrunner

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/runnerfleet/fleet/internal/credentials"
)

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
