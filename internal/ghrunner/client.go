// Package ghrunner is the fleet's single adapter to GitHub's REST API: it registers
// just-in-time runners, reads and lists runner registrations, and deletes them — the
// atomic "reap if idle" check, because GitHub refuses to delete a busy runner.
//
// It wraps go-github and translates its answers into the fleet's vocabulary in one
// place (errors.go): 422 on delete becomes fleet.ErrRunnerBusy, 404 becomes
// fleet.ErrRunnerNotFound, credential and permission problems become *AuthError
// naming the missing permission, rate limits become *RateLimitError carrying how long
// to wait, and 5xx or transport failures become *UnavailableError. Do retries the
// transient ones within a Lambda's time budget.
//
// Authentication is a GitHub App (preferred: one Client serves every installation,
// caching each installation token until shortly before it expires) or a personal
// access token. Neither a token nor a JIT config is ever written into an error or a
// log line; JIT configs travel as Secret, which prints "[redacted]".
package ghrunner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v66/github"
)

// DefaultTokenMargin is how long before expiry a cached installation token is
// replaced. GitHub's tokens live an hour; five minutes leaves room for a call that
// starts just before the refresh and for clock skew.
const DefaultTokenMargin = 5 * time.Minute

// Options configures New. Credentials arrive as values (the caller reads them from
// Secrets Manager); set either AppID and PrivateKey, or Token.
type Options struct {
	// AppID and PrivateKey (PEM) authenticate as a GitHub App.
	AppID      int64
	PrivateKey []byte
	// Token is a personal access token (classic: scopes repo and/or admin:org).
	Token string
	// APIURL is the REST base URL of GitHub Enterprise Server, e.g.
	// "https://ghe.example.com/api/v3/"; empty means github.com.
	APIURL string
	// HTTPClient supplies the transport and timeout; nil means a client with a
	// 30-second timeout over http.DefaultTransport.
	HTTPClient *http.Client
	// Clock decides when cached installation tokens are refreshed; nil is time.Now.
	Clock func() time.Time
	// TokenMargin overrides DefaultTokenMargin.
	TokenMargin time.Duration
	// Logger receives token refreshes; nil discards.
	Logger *slog.Logger
	// UserAgent defaults to "runner-fleet".
	UserAgent string
}

// Client talks to GitHub. It is safe for concurrent use. A Client built with App
// credentials serves every installation: use ForInstallation, or leave the
// installation unset and it is looked up per repository or organisation.
type Client struct {
	shared       *shared
	installation int64
}

// shared is what every installation view of one Client has in common.
type shared struct {
	opts       Options
	log        *slog.Logger
	now        func() time.Time
	margin     time.Duration
	httpClient *http.Client
	// pat is the PAT-authenticated client; nil in App mode.
	pat *github.Client
	// app is the JWT-authenticated client (App mode only).
	app *github.Client

	mu       sync.Mutex
	tokens   map[int64]*tokenEntry
	clients  map[int64]*github.Client
	installs map[string]int64 // scope key → installation id
}

// New validates opts and builds a Client. It makes no request.
func New(ctx context.Context, opts Options) (*Client, error) {
	_ = ctx // reserved: construction does no I/O today
	appAuth := opts.AppID != 0 || len(opts.PrivateKey) > 0
	switch {
	case appAuth && opts.Token != "":
		return nil, errors.New("github credentials: set either app_id and private_key or token, not both")
	case appAuth && (opts.AppID <= 0 || len(opts.PrivateKey) == 0):
		return nil, errors.New("github credentials: a GitHub App needs both app_id (a positive number) and private_key (PEM)")
	case !appAuth && opts.Token == "":
		return nil, errors.New("github credentials: none given; set app_id and private_key (GitHub App) or token (personal access token)")
	}
	if err := validateAPIURL(opts.APIURL); err != nil {
		return nil, err
	}
	sh := &shared{
		opts:     opts,
		log:      opts.Logger,
		now:      opts.Clock,
		margin:   opts.TokenMargin,
		tokens:   map[int64]*tokenEntry{},
		clients:  map[int64]*github.Client{},
		installs: map[string]int64{},
	}
	if sh.log == nil {
		sh.log = slog.New(slog.DiscardHandler)
	}
	if sh.now == nil {
		sh.now = time.Now
	}
	if sh.margin <= 0 {
		sh.margin = DefaultTokenMargin
	}
	sh.httpClient = opts.HTTPClient
	if sh.httpClient == nil {
		sh.httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	base := sh.httpClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if appAuth {
		atr, err := ghinstallation.NewAppsTransport(base, opts.AppID, opts.PrivateKey)
		if err != nil {
			// ghinstallation's message names the parse failure, never the key bytes.
			return nil, fmt.Errorf("github credentials: private_key is not a PEM-encoded RSA key: %w", err)
		}
		c, err := sh.newGitHub(atr)
		if err != nil {
			return nil, err
		}
		sh.app = c
	} else {
		c, err := sh.newGitHub(base)
		if err != nil {
			return nil, err
		}
		sh.pat = c.WithAuthToken(opts.Token)
	}
	return &Client{shared: sh}, nil
}

func validateAPIURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("github api_url %q is not an http(s) URL; use the GitHub Enterprise Server REST base, e.g. https://ghe.example.com/api/v3/", redactURL(raw))
	}
	if u.User != nil {
		return errors.New("github api_url must not carry credentials; put the token in the secret's token field")
	}
	return nil
}

func (sh *shared) newGitHub(tr http.RoundTripper) (*github.Client, error) {
	c := github.NewClient(&http.Client{Transport: tr, Timeout: sh.httpClient.Timeout, Jar: sh.httpClient.Jar})
	c.UserAgent = sh.opts.UserAgent
	if c.UserAgent == "" {
		c.UserAgent = "runner-fleet"
	}
	if sh.opts.APIURL == "" {
		return c, nil
	}
	base := sh.opts.APIURL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	ec, err := c.WithEnterpriseURLs(base, base)
	if err != nil {
		return nil, fmt.Errorf("github api_url %q: %w", redactURL(sh.opts.APIURL), err)
	}
	return ec, nil
}

// ForInstallation returns a view of c that acts as the App installation id; it shares
// c's token cache. With PAT credentials, or id 0 (look the installation up per scope),
// it acts as c does.
func (c *Client) ForInstallation(id int64) *Client {
	return &Client{shared: c.shared, installation: id}
}

// IsApp reports whether c authenticates as a GitHub App.
func (c *Client) IsApp() bool { return c.shared.app != nil }

// client returns the go-github client to act on scope with, and the installation it
// acts as (0 with a PAT).
func (c *Client) client(ctx context.Context, scope Scope) (*github.Client, int64, error) {
	sh := c.shared
	if sh.pat != nil {
		return sh.pat, 0, nil
	}
	id := c.installation
	if id == 0 {
		var err error
		if id, err = c.FindInstallation(ctx, scope); err != nil {
			return nil, 0, err
		}
	}
	gh, err := sh.installationClient(id)
	return gh, id, err
}

// fail maps err (mapError) and forgets state GitHub just contradicted: a cached
// installation token it rejected (401: revoked, or the App reinstalled), and the
// looked-up installation id, so the next attempt looks up and mints afresh.
func (c *Client) fail(ctx context.Context, op string, scope Scope, installation int64, err error) error {
	mapped := mapError(ctx, op, scope, authInfo{app: c.IsApp(), installation: installation, ghes: c.shared.opts.APIURL != ""}, err)
	var auth *AuthError
	if installation != 0 && errors.As(mapped, &auth) && auth.Status == http.StatusUnauthorized && auth.Op != opCreateToken {
		c.shared.forgetToken(installation)
		if c.installation == 0 {
			c.shared.forgetInstallation(installation)
		}
	}
	return mapped
}

// FindInstallation returns the id of the App's installation that covers scope
// (GET /repos/{owner}/{repo}/installation or /orgs/{org}/installation), cached.
func (c *Client) FindInstallation(ctx context.Context, scope Scope) (int64, error) {
	sh := c.shared
	if sh.app == nil {
		return 0, errors.New("find installation: the client authenticates with a token, not as a GitHub App")
	}
	if err := scope.Validate(); err != nil {
		return 0, err
	}
	sh.mu.Lock()
	id, ok := sh.installs[scope.key()]
	sh.mu.Unlock()
	if ok {
		return id, nil
	}
	var inst *github.Installation
	var err error
	if scope.IsOrg() {
		inst, _, err = sh.app.Apps.FindOrganizationInstallation(ctx, scope.Owner)
	} else {
		inst, _, err = sh.app.Apps.FindRepositoryInstallation(ctx, scope.Owner, scope.Repo)
	}
	if err != nil {
		return 0, mapError(ctx, opFindInstallation, scope, authInfo{app: true}, err)
	}
	id = inst.GetID()
	sh.mu.Lock()
	sh.installs[scope.key()] = id
	sh.mu.Unlock()
	return id, nil
}

// installationClient returns the go-github client of installation id, built once.
func (sh *shared) installationClient(id int64) (*github.Client, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c, ok := sh.clients[id]; ok {
		return c, nil
	}
	base := sh.httpClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c, err := sh.newGitHub(&tokenTransport{sh: sh, installation: id, base: base})
	if err != nil {
		return nil, err
	}
	sh.clients[id] = c
	return c, nil
}

// String prints the options without the credentials; GoString, Format and LogValue
// do the same, so no %v, %+v, %#v or log line of Options shows a key or token.
func (o Options) String() string {
	return fmt.Sprintf("ghrunner.Options{AppID: %d, PrivateKey: %s, Token: %s, APIURL: %q}",
		o.AppID, mask(len(o.PrivateKey) > 0), mask(o.Token != ""), redactURL(o.APIURL))
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// Format prints String for every verb.
func (o Options) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(o.String())) }

// LogValue logs the options with the credentials redacted (slog.LogValuer).
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("app_id", o.AppID),
		slog.String("private_key", mask(len(o.PrivateKey) > 0)),
		slog.String("token", mask(o.Token != "")),
		slog.String("api_url", redactURL(o.APIURL)),
	)
}

func mask(set bool) string {
	if set {
		return redacted
	}
	return "(none)"
}
