package ghrunner

import (
	"context"
	"net/http"
	"time"
)

// tokenEntry caches one installation's token. sem (capacity 1) lets a single caller
// refresh while the others wait for its result, and honours their contexts.
type tokenEntry struct {
	sem     chan struct{}
	token   string
	expires time.Time
}

// installationToken returns a token for installation id valid for at least the
// margin, minting one (POST /app/installations/{id}/access_tokens) when needed.
func (sh *shared) installationToken(ctx context.Context, id int64) (string, error) {
	sh.mu.Lock()
	e, ok := sh.tokens[id]
	if !ok {
		e = &tokenEntry{sem: make(chan struct{}, 1)}
		sh.tokens[id] = e
	}
	sh.mu.Unlock()

	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-e.sem }()
	if e.token != "" && sh.now().Before(e.expires.Add(-sh.margin)) {
		return e.token, nil
	}
	tok, _, err := sh.app.Apps.CreateInstallationToken(ctx, id, nil)
	if err != nil {
		return "", mapError(ctx, opCreateToken, Scope{}, authInfo{app: true, installation: id}, err)
	}
	e.token = tok.GetToken()
	e.expires = tok.GetExpiresAt().Time
	if e.expires.IsZero() {
		// GitHub always sends expires_at; without it, assume the documented hour.
		e.expires = sh.now().Add(time.Hour)
	}
	sh.log.Info("github installation token refreshed", "installation_id", id, "expires_at", e.expires)
	return e.token, nil
}

// tokenTransport authenticates each request as one installation.
type tokenTransport struct {
	sh           *shared
	installation int64
	base         http.RoundTripper
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.sh.installationToken(req.Context(), t.installation)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "token "+tok)
	return t.base.RoundTrip(r)
}
