package ghrunner

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/githubfake"
)

const (
	appID       = 101
	orgInstall  = 11
	thinInstall = 12
	pat         = "test-pat-patpatpatpatpatpatpatpatpatpatpat01"
)

var (
	keyOnce sync.Once
	keyPEM  []byte
	keyErr  error
	fakeKey *rsa.PrivateKey
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	fake  *githubfake.Server
	srv   *httptest.Server
	clock *clock
	url   string // the GHES API URL, ".../api/v3/"
}

// newEnv starts a fake GitHub with the App installed on octo-org (id 11, runner and
// administration permissions), on the user "thin" with one repository and no
// administration (id 12), and a classic PAT with the repo scope.
func newEnv(t testing.TB) *env {
	t.Helper()
	keyOnce.Do(func() {
		k, p, err := githubfake.NewAppKey()
		fakeKey, keyPEM, keyErr = k, p, err
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	c := &clock{t: time.Now()}
	f := githubfake.New(githubfake.Config{Clock: c.Now, Seed: 3})
	f.AddApp(appID, "runner-fleet", &fakeKey.PublicKey)
	must(t, f.AddInstallation(githubfake.Installation{ID: orgInstall, AppID: appID, Account: "octo-org",
		Permissions: map[string]string{"administration": "write", "organization_self_hosted_runners": "write", "metadata": "read"}}))
	must(t, f.AddInstallation(githubfake.Installation{ID: thinInstall, AppID: appID, Account: "thin", AccountType: "User",
		Repositories: []string{"repo"}, Permissions: map[string]string{"metadata": "read"}}))
	f.AddPAT(githubfake.PAT{Token: pat, Scopes: []string{"repo"}})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &env{fake: f, srv: srv, clock: c, url: srv.URL + "/api/v3/"}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) app(t *testing.T, mod ...func(*Options)) *Client {
	t.Helper()
	o := Options{AppID: appID, PrivateKey: keyPEM, APIURL: e.url, Clock: e.clock.Now, HTTPClient: e.srv.Client()}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) pat(t *testing.T, token string) *Client {
	t.Helper()
	c, err := New(context.Background(), Options{Token: token, APIURL: e.url, HTTPClient: e.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	repo = RepoScope("octo-org", "app")
	org  = OrgScope("octo-org")
)

func jitReq(name string) JITRequest {
	return JITRequest{Name: name, Labels: []string{"self-hosted", "linux", "image:ubuntu:24.04", "class:medium"}}
}

func TestGenerateJITConfig(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		client func() *Client
		scope  Scope
	}{
		{"app on a repository", func() *Client { return e.app(t).ForInstallation(orgInstall) }, repo},
		{"app on the organisation", func() *Client { return e.app(t).ForInstallation(orgInstall) }, org},
		{"app, installation looked up", func() *Client { return e.app(t) }, RepoScope("octo-org", "lookup")},
		{"PAT on a repository", func() *Client { return e.pat(t, pat) }, RepoScope("octo-org", "pat")},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := fleet.ExecutionName("octo-org", "app", int64(1000+i), 1)
			jit, err := tc.client().GenerateJITConfig(ctx, tc.scope, jitReq(name))
			if err != nil {
				t.Fatal(err)
			}
			if jit.RunnerID == 0 || jit.Name != name || !slices.Equal(jit.Labels, jitReq(name).Labels) {
				t.Errorf("jit: %v", jit)
			}
			r, err := e.fake.ConnectRunner(jit.EncodedConfig.Reveal())
			if err != nil {
				t.Fatalf("the returned JIT config does not connect: %v", err)
			}
			if r.ID != jit.RunnerID || r.Scope != strings.ToLower(tc.scope.String()) || r.RunnerGroupID != 1 {
				t.Errorf("registration %+v does not match %v in %s", r, jit, tc.scope)
			}
		})
	}
}

func TestRunnerOperations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.app(t).ForInstallation(orgInstall)
	idle, err := c.GenerateJITConfig(ctx, repo, jitReq("idle"))
	must(t, err)
	busy, err := c.GenerateJITConfig(ctx, repo, jitReq("busy"))
	must(t, err)
	_, err = e.fake.ConnectRunner(busy.EncodedConfig.Reveal())
	must(t, err)
	must(t, e.fake.SetBusy(busy.RunnerID, true))

	r, err := c.GetRunner(ctx, repo, busy.RunnerID)
	if err != nil || !r.Busy || r.Status != "online" || r.Name != "busy" {
		t.Errorf("GetRunner: %+v, %v", r, err)
	}
	if err := c.DeleteRunner(ctx, repo, busy.RunnerID); !errors.Is(err, fleet.ErrRunnerBusy) {
		t.Errorf("delete busy: got %v, want ErrRunnerBusy", err)
	}
	if err := c.DeleteRunnerByName(ctx, repo, "busy"); !errors.Is(err, fleet.ErrRunnerBusy) {
		t.Errorf("delete busy by name: got %v, want ErrRunnerBusy", err)
	}
	if err := c.DeleteRunner(ctx, repo, idle.RunnerID); err != nil {
		t.Errorf("delete idle: %v", err)
	}
	if err := c.DeleteRunner(ctx, repo, idle.RunnerID); !errors.Is(err, fleet.ErrRunnerNotFound) {
		t.Errorf("delete twice: got %v, want ErrRunnerNotFound", err)
	}
	if _, err := c.GetRunner(ctx, repo, idle.RunnerID); !errors.Is(err, fleet.ErrRunnerNotFound) {
		t.Errorf("get deleted: got %v, want ErrRunnerNotFound", err)
	}
	if _, err := c.GenerateJITConfig(ctx, repo, jitReq("busy")); !errors.Is(err, ErrRunnerExists) {
		t.Errorf("duplicate name: got %v, want ErrRunnerExists", err)
	}
	must(t, e.fake.SetBusy(busy.RunnerID, false))
	if err := c.DeleteRunnerByName(ctx, repo, "busy"); err != nil {
		t.Errorf("delete idle by name: %v", err)
	}
	if err := c.DeleteRunnerByName(ctx, repo, "busy"); !errors.Is(err, fleet.ErrRunnerNotFound) {
		t.Errorf("delete missing by name: got %v, want ErrRunnerNotFound", err)
	}
}

func TestListRunnersFollowsPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var want []string
	for i := range 8 {
		name := fmt.Sprintf("r%02d", i)
		_, _, err := e.fake.RegisterRunner("org:octo-org", name, []string{"self-hosted"})
		must(t, err)
		want = append(want, name)
	}
	_, _, err := e.fake.RegisterRunner("octo-org/app", "not-org", []string{"self-hosted"})
	must(t, err)
	c := e.app(t).ForInstallation(orgInstall)
	route := "actions/list-self-hosted-runners-for-org"
	cases := []struct {
		name      string
		opts      ListOptions
		want      []string
		wantCalls int64
	}{
		{"pages of 3", ListOptions{PerPage: 3}, want, 3},
		{"pages of 4", ListOptions{PerPage: 4}, want, 2},
		{"default page size", ListOptions{}, want, 1},
		{"name filter", ListOptions{Name: "r05", PerPage: 3}, []string{"r05"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.fake.ResetCalls()
			got, err := c.ListRunners(ctx, org, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range got {
				names = append(names, r.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("got %v, want %v", names, tc.want)
			}
			if n := e.fake.CallCount(route); n != tc.wantCalls {
				t.Errorf("%d list calls, want %d", n, tc.wantCalls)
			}
		})
	}
}

func TestAppTokenCaching(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.app(t)
	inst := c.ForInstallation(orgInstall)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Views made per call share the parent's cache.
			if _, err := c.ForInstallation(orgInstall).ListRunners(ctx, org, ListOptions{}); err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for range 10 {
		_, err := inst.ListRunners(ctx, repo, ListOptions{})
		must(t, err)
	}
	tokenRoute := "apps/create-installation-access-token"
	if n := e.fake.CallCount(tokenRoute); n != 1 {
		t.Fatalf("30 calls minted %d tokens, want 1", n)
	}
	e.clock.Advance(54 * time.Minute) // 6 minutes left: still beyond the 5-minute margin
	_, err := inst.ListRunners(ctx, org, ListOptions{})
	must(t, err)
	if n := e.fake.CallCount(tokenRoute); n != 1 {
		t.Errorf("at 54 min: %d token requests, want 1", n)
	}
	e.clock.Advance(2 * time.Minute) // 4 minutes left: refresh
	for range 5 {
		_, err := inst.ListRunners(ctx, org, ListOptions{})
		must(t, err)
	}
	if n := e.fake.CallCount(tokenRoute); n != 2 {
		t.Errorf("at 56 min: %d token requests, want 2", n)
	}
	// Another installation has its own token; the first stays cached.
	_, err = c.ForInstallation(thinInstall).ListRunners(ctx, RepoScope("thin", "repo"), ListOptions{})
	var auth *AuthError
	if !errors.As(err, &auth) {
		t.Errorf("thin installation lacks administration: got %v, want *AuthError", err)
	}
	if n := e.fake.CallCount(tokenRoute); n != 3 {
		t.Errorf("after a second installation: %d token requests, want 3", n)
	}
	_, err = inst.ListRunners(ctx, org, ListOptions{})
	must(t, err)
	if n := e.fake.CallCount(tokenRoute); n != 3 {
		t.Errorf("first installation re-minted: %d token requests, want 3", n)
	}
}

func TestInstallationLookupIsCached(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.app(t)
	for range 4 {
		_, err := c.ListRunners(ctx, repo, ListOptions{})
		must(t, err)
		_, err = c.ListRunners(ctx, org, ListOptions{})
		must(t, err)
	}
	if n, m := e.fake.CallCount("apps/get-repo-installation"), e.fake.CallCount("apps/get-org-installation"); n != 1 || m != 1 {
		t.Errorf("installation lookups: repo %d, org %d; want 1 each", n, m)
	}
	id, err := c.FindInstallation(ctx, RepoScope("thin", "repo"))
	if err != nil || id != thinInstall {
		t.Errorf("FindInstallation(thin/repo) = %d, %v", id, err)
	}
	_, err = c.FindInstallation(ctx, RepoScope("nobody", "repo"))
	var auth *AuthError
	if !errors.As(err, &auth) || !strings.Contains(err.Error(), "not installed on the repository repo:nobody/repo") {
		t.Errorf("not installed: got %v", err)
	}
}

func TestGHESBasePath(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, u := range []string{e.srv.URL + "/api/v3/", e.srv.URL + "/api/v3", e.srv.URL, e.srv.URL + "/"} {
		t.Run(u, func(t *testing.T) {
			c := e.app(t, func(o *Options) { o.APIURL = u }).ForInstallation(orgInstall)
			if _, err := c.ListRunners(ctx, repo, ListOptions{}); err != nil {
				t.Errorf("APIURL %q: %v", u, err)
			}
		})
	}
	for _, bad := range []string{"ftp://ghe.example.com/", "https://user:secretpw@ghe.example.com/api/v3/", "://nope"} {
		_, err := New(ctx, Options{Token: pat, APIURL: bad})
		if err == nil {
			t.Errorf("APIURL %q accepted", bad)
		} else if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("error reveals the URL's password: %v", err)
		}
	}
}

func TestNewValidatesCredentials(t *testing.T) {
	newEnv(t) // generates the key
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"nothing", Options{}, "none given"},
		{"both", Options{AppID: 1, PrivateKey: keyPEM, Token: pat}, "not both"},
		{"app without key", Options{AppID: 1}, "needs both"},
		{"key without app", Options{PrivateKey: keyPEM}, "needs both"},
		{"bad PEM", Options{AppID: 1, PrivateKey: []byte(junkKey)}, "not a PEM-encoded RSA key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestScope(t *testing.T) {
	cases := []struct {
		in      string
		want    Scope
		wantErr bool
	}{
		{"repo:octo-org/app", repo, false},
		{"org:octo-org", org, false},
		{"octo-org/app", repo, false},
		{"octo-org", org, false},
		{"repo:octo-org", Scope{}, true},
		{"org:", Scope{}, true},
		{"repo:a/b/c", Scope{}, true},
		{"", Scope{}, true},
	}
	for _, tc := range cases {
		got, err := ParseScope(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseScope(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil {
			if back, _ := ParseScope(got.String()); back != got {
				t.Errorf("round trip of %q: %v", tc.in, back)
			}
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const plain = "eyJzZWNyZXQiOiJ2YWx1ZSJ9"
	jit := JIT{RunnerID: 5, Name: "r", Labels: []string{"self-hosted"}, EncodedConfig: NewSecret(plain)}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		outs = append(outs, fmt.Sprintf(verb, jit), fmt.Sprintf(verb, jit.EncodedConfig), fmt.Sprintf(verb, &jit), fmt.Sprintf(verb, []JIT{jit}))
	}
	outs = append(outs, jit.String(), jit.EncodedConfig.String(), fmt.Sprint(jit), fmt.Sprintln(jit.EncodedConfig))
	b, err := json.Marshal(jit)
	must(t, err)
	outs = append(outs, string(b))
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("runner registered", "jit", jit, "config", jit.EncodedConfig, "ptr", &jit)
		l.Info("group", slog.Group("g", "jit", jit))
	}
	outs = append(outs, logs.String())
	for _, o := range outs {
		if strings.Contains(o, plain) {
			t.Errorf("output reveals the JIT config: %s", o)
		}
	}
	if !strings.Contains(logs.String(), `"runner_id":5`) || !strings.Contains(fmt.Sprintf("%+v", jit), "[redacted]") {
		t.Errorf("redacted output lost the useful parts: %s / %+v", logs.String(), jit)
	}
	opts := Options{AppID: 3, PrivateKey: []byte(junkKey), Token: "test-pat-optsecret", APIURL: "https://ghe.example.com/api/v3/"}
	var optLogs bytes.Buffer
	slog.New(slog.NewJSONHandler(&optLogs, nil)).Info("config", "github", opts)
	for _, o := range []string{fmt.Sprintf("%v %+v %#v %s", opts, opts, opts, opts), optLogs.String()} {
		if strings.Contains(o, junkKeyBody) || strings.Contains(o, "test-pat-optsecret") || !strings.Contains(o, "ghe.example.com") {
			t.Errorf("Options print: %s", o)
		}
	}
	if jit.EncodedConfig.Reveal() != plain {
		t.Error("Reveal lost the value")
	}
}

func TestRecoversFromRevokedTokenAndReinstall(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t.Run("revoked token", func(t *testing.T) {
		c := e.app(t).ForInstallation(orgInstall)
		before := e.fake.TokenRequests(orgInstall)
		_, err := c.ListRunners(ctx, org, ListOptions{})
		must(t, err)
		e.fake.RevokeTokens(orgInstall)
		_, err = c.ListRunners(ctx, org, ListOptions{})
		var auth *AuthError
		if !errors.As(err, &auth) || auth.Status != 401 {
			t.Fatalf("with a revoked token: got %v, want a 401 *AuthError", err)
		}
		if _, err := c.ListRunners(ctx, org, ListOptions{}); err != nil {
			t.Errorf("the next call did not mint a fresh token: %v", err)
		}
		if n := e.fake.TokenRequests(orgInstall) - before; n != 2 {
			t.Errorf("%d tokens minted, want 2", n)
		}
	})
	t.Run("reinstalled under a new id", func(t *testing.T) {
		c := e.app(t) // installation looked up per scope
		_, err := c.ListRunners(ctx, org, ListOptions{})
		must(t, err)
		e.fake.RemoveInstallation(orgInstall)
		must(t, e.fake.AddInstallation(githubfake.Installation{ID: 77, AppID: appID, Account: "octo-org",
			Permissions: map[string]string{"organization_self_hosted_runners": "write"}}))
		if _, err := c.ListRunners(ctx, org, ListOptions{}); ErrorName(err) != fleet.ErrGitHubAuthFailed {
			t.Fatalf("first call after the reinstall: got %v, want GitHubAuthFailed", err)
		}
		if _, err := c.ListRunners(ctx, org, ListOptions{}); err != nil {
			t.Errorf("the next call did not look the installation up again: %v", err)
		}
		if id, _ := c.FindInstallation(ctx, org); id != 77 {
			t.Errorf("installation %d, want 77", id)
		}
	})
}

// BenchmarkRunnerLifecycle measures one runner's GitHub traffic through the adapter
// and the fake: register (JIT), read, delete.
func BenchmarkRunnerLifecycle(b *testing.B) {
	e := newEnv(b)
	e.fake.SetFaults(githubfake.Faults{PrimaryLimit: 1 << 30})
	ctx := context.Background()
	c, err := New(ctx, Options{AppID: appID, PrivateKey: keyPEM, APIURL: e.url, Clock: e.clock.Now, HTTPClient: e.srv.Client()})
	if err != nil {
		b.Fatal(err)
	}
	inst := c.ForInstallation(orgInstall)
	b.ResetTimer()
	for i := range b.N {
		jit, err := inst.GenerateJITConfig(ctx, org, jitReq(fmt.Sprint("bench-", i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inst.GetRunner(ctx, org, jit.RunnerID); err != nil {
			b.Fatal(err)
		}
		if err := inst.DeleteRunner(ctx, org, jit.RunnerID); err != nil {
			b.Fatal(err)
		}
	}
}

// junkKey is a PEM block labelled as an RSA private key whose bytes are no key (and
// junkKeyBody its base64 text, which no output may show). It is built here rather than
// committed as a key-shaped literal.
var junkKey, junkKeyBody = func() (string, string) {
	body := []byte("runner-fleet test: not a key")
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: body})), base64.StdEncoding.EncodeToString(body)
}()
