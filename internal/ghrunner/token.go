package ghrunner

import (
	"context"
	"errors"
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
		mapped := mapError(ctx, opCreateToken, Scope{}, authInfo{app: true, installation: id}, err)
		var auth *AuthError
		if errors.As(mapped, &auth) && auth.Status == http.StatusNotFound {
			// The installation is gone (uninstalled, or reinstalled under a new id):
			// forget the scopes looked up to it so the next call looks again.
			sh.forgetInstallation(id)
		}
		return "", mapped
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

// forgetToken drops installation id's cached token.
func (sh *shared) forgetToken(id int64) {
	sh.mu.Lock()
	e := sh.tokens[id]
	sh.mu.Unlock()
	if e == nil {
		return
	}
	e.sem <- struct{}{}
	e.token, e.expires = "", time.Time{}
	<-e.sem
}

// forgetInstallation drops every scope → id lookup result.
func (sh *shared) forgetInstallation(id int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for k, v := range sh.installs {
		if v == id {
			delete(sh.installs, k)
		}
	}
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
