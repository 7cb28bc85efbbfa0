package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v66/github"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// secret reads and decodes the fleet's secret document.
func (m *Main) secret(ctx context.Context, f *Fleet) (credentials.Secret, string, error) {
	arn, err := f.Resource(ctx, OutputSecretARN)
	if err != nil {
		return credentials.Secret{}, "", err
	}
	sec, err := credentials.NewStore(f.SecretsManager, arn, 0).Get(ctx)
	if err != nil {
		return credentials.Secret{}, arn, err
	}
	return sec, arn, nil
}

// github builds the runner-registration client from the fleet's secret.
func (m *Main) github(ctx context.Context, f *Fleet) (*ghrunner.Client, credentials.Secret, error) {
	sec, arn, err := m.secret(ctx, f)
	if err != nil {
		return nil, sec, err
	}
	if err := sec.ValidateGitHub(); err != nil {
		return nil, sec, fmt.Errorf("secret %s: %w; run fleetctl setup github", arn, err)
	}
	c, err := ghrunner.New(ctx, ghOptions(sec, m.HTTPClient))
	if err != nil {
		return nil, sec, fmt.Errorf("secret %s: %w", arn, err)
	}
	return c, sec, nil
}

func ghOptions(sec credentials.Secret, hc *http.Client) ghrunner.Options {
	o := ghrunner.Options{APIURL: sec.APIURL, HTTPClient: hc, UserAgent: "runner-fleet-fleetctl"}
	if sec.AppID != 0 {
		o.AppID, o.PrivateKey = sec.AppID, []byte(sec.PrivateKey)
	} else {
		o.Token = sec.Token
	}
	return o
}

// hookClient is a go-github client that may manage scope's webhooks: the token's, or
// the App installation's that covers scope. ghrunner has no webhook calls (the
// workflow never needs them), so fleetctl talks to go-github directly here.
func hookClient(ctx context.Context, sec credentials.Secret, scope ghrunner.Scope, hc *http.Client) (*github.Client, error) {
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	newClient := func(tr http.RoundTripper) (*github.Client, error) {
		c := github.NewClient(&http.Client{Transport: tr, Timeout: hc.Timeout})
		c.UserAgent = "runner-fleet-fleetctl"
		if sec.APIURL == "" {
			return c, nil
		}
		api := sec.APIURL
		if !strings.HasSuffix(api, "/") {
			api += "/"
		}
		return c.WithEnterpriseURLs(api, api)
	}
	if sec.AppID == 0 {
		c, err := newClient(base)
		if err != nil {
			return nil, fmt.Errorf("github api_url: %w", err)
		}
		return c.WithAuthToken(sec.Token), nil
	}
	atr, err := ghinstallation.NewAppsTransport(base, sec.AppID, []byte(sec.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("github credentials: private_key is not a PEM-encoded RSA key: %w", err)
	}
	if sec.APIURL != "" {
		atr.BaseURL = strings.TrimRight(sec.APIURL, "/")
	}
	app, err := newClient(atr)
	if err != nil {
		return nil, fmt.Errorf("github api_url: %w", err)
	}
	var inst *github.Installation
	if scope.IsOrg() {
		inst, _, err = app.Apps.FindOrganizationInstallation(ctx, scope.Owner)
	} else {
		inst, _, err = app.Apps.FindRepositoryInstallation(ctx, scope.Owner, scope.Repo)
	}
	if err != nil {
		return nil, fmt.Errorf("find the GitHub App's installation on %s: %w; install the App there", scope, ghError(err))
	}
	return newClient(ghinstallation.NewFromAppsTransport(atr, inst.GetID()))
}

// ghError shortens a go-github error to its status and message (its text also holds
// the request URL, which is noise for the operator).
func ghError(err error) error {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return fmt.Errorf("GitHub answered %d %s", er.Response.StatusCode, er.Message)
	}
	return err
}

// hookAPI is the repository or organisation webhook service for scope.
type hookAPI struct {
	c     *github.Client
	scope ghrunner.Scope
}

func (h hookAPI) list(ctx context.Context) ([]*github.Hook, error) {
	var all []*github.Hook
	opts := &github.ListOptions{PerPage: 100}
	for range 100 {
		var page []*github.Hook
		var resp *github.Response
		var err error
		if h.scope.IsOrg() {
			page, resp, err = h.c.Organizations.ListHooks(ctx, h.scope.Owner, opts)
		} else {
			page, resp, err = h.c.Repositories.ListHooks(ctx, h.scope.Owner, h.scope.Repo, opts)
		}
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
	return nil, errors.New("list webhooks: more than 100 pages")
}

func (h hookAPI) create(ctx context.Context, hook *github.Hook) (*github.Hook, error) {
	if h.scope.IsOrg() {
		hook.Name = github.String("web")
		out, _, err := h.c.Organizations.CreateHook(ctx, h.scope.Owner, hook)
		return out, err
	}
	out, _, err := h.c.Repositories.CreateHook(ctx, h.scope.Owner, h.scope.Repo, hook)
	return out, err
}

func (h hookAPI) edit(ctx context.Context, id int64, hook *github.Hook) (*github.Hook, error) {
	if h.scope.IsOrg() {
		out, _, err := h.c.Organizations.EditHook(ctx, h.scope.Owner, id, hook)
		return out, err
	}
	out, _, err := h.c.Repositories.EditHook(ctx, h.scope.Owner, h.scope.Repo, id, hook)
	return out, err
}

// lastDelivery is the hook's newest delivery, nil when it has none.
func (h hookAPI) lastDelivery(ctx context.Context, id int64) (*github.HookDelivery, error) {
	opts := &github.ListCursorOptions{PerPage: 1}
	var ds []*github.HookDelivery
	var err error
	if h.scope.IsOrg() {
		ds, _, err = h.c.Organizations.ListHookDeliveries(ctx, h.scope.Owner, id, opts)
	} else {
		ds, _, err = h.c.Repositories.ListHookDeliveries(ctx, h.scope.Owner, h.scope.Repo, id, opts)
	}
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return ds[0], nil
}

// findHook is the hook whose URL is url, or nil.
func findHook(hooks []*github.Hook, url string) *github.Hook {
	for _, h := range hooks {
		if h.GetConfig() != nil && strings.TrimRight(h.GetConfig().GetURL(), "/") == strings.TrimRight(url, "/") {
			return h
		}
	}
	return nil
}
