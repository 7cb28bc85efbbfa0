package githubfake

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

const (
	testAppID   = 42
	testInstall = 7
	testPAT     = "test-pat-testtokentesttokentesttokentest01"
)

var (
	keyOnce    sync.Once
	appKey     *rsa.PrivateKey
	otherKey   *rsa.PrivateKey
	keyOnceErr error
)

func keys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		if appKey, _, keyOnceErr = NewAppKey(); keyOnceErr != nil {
			return
		}
		otherKey, _, keyOnceErr = NewAppKey()
	})
	if keyOnceErr != nil {
		t.Fatal(keyOnceErr)
	}
	return appKey, otherKey
}

// clock is a settable test clock.
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
	fake  *Server
	srv   *httptest.Server
	clock *clock
}

// newEnv starts a fake with App 42 installed (id 7) on the octo-org organisation with
// runner and hook permissions, and a classic PAT with repo scope.
func newEnv(t *testing.T) *env {
	t.Helper()
	key, _ := keys(t)
	c := &clock{t: time.Now()}
	f := New(Config{Clock: c.Now, Seed: 1})
	f.AddApp(testAppID, "runner-fleet", &key.PublicKey)
	if err := f.AddInstallation(Installation{
		ID: testInstall, AppID: testAppID, Account: "octo-org",
		Permissions: map[string]string{
			"administration": "write", "organization_self_hosted_runners": "write",
			"repository_hooks": "write", "organization_hooks": "write", "metadata": "read",
		},
	}); err != nil {
		t.Fatal(err)
	}
	f.AddPAT(PAT{Token: testPAT, Scopes: []string{"repo"}})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &env{fake: f, srv: srv, clock: c}
}

func signJWT(t *testing.T, key *rsa.PrivateKey, method jwt.SigningMethod, iss any, iat, exp time.Time) string {
	t.Helper()
	claims := jwt.MapClaims{"iss": iss, "iat": iat.Unix(), "exp": exp.Unix()}
	var signKey any = key
	if method == jwt.SigningMethodHS256 {
		signKey = []byte("shared-secret")
	}
	s, err := jwt.NewWithClaims(method, claims).SignedString(signKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) appJWT(t *testing.T) string {
	key, _ := keys(t)
	now := time.Now()
	return signJWT(t, key, jwt.SigningMethodRS256, strconv.Itoa(testAppID), now.Add(-30*time.Second), now.Add(9*time.Minute))
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", a.body, err)
	}
	return m
}

func (a answer) message(t *testing.T) string {
	m, _ := a.json(t)["message"].(string)
	return m
}

func (e *env) do(t *testing.T, method, path, auth, body string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// installationToken mints a token through the HTTP API.
func (e *env) installationToken(t *testing.T, body string) string {
	t.Helper()
	a := e.do(t, "POST", fmt.Sprintf("/api/v3/app/installations/%d/access_tokens", testInstall), "Bearer "+e.appJWT(t), body)
	if a.status != http.StatusCreated {
		t.Fatalf("create token: %d %s", a.status, a.body)
	}
	return a.json(t)["token"].(string)
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "fixtures", "github", "rest", name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture (shared/ must sit beside the checkout): %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sameKeys fails unless got has every key of want (recursively for objects and the
// first element of arrays): the fake's answers carry at least GitHub's documented fields.
func sameKeys(t *testing.T, where string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want an object", where, got)
			return
		}
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s: missing key %q", where, k)
				continue
			}
			sameKeys(t, where+"."+k, gv, v)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s: got %T, want an array", where, got)
			return
		}
		if len(w) > 0 && len(g) > 0 {
			sameKeys(t, where+"[0]", g[0], w[0])
		}
	}
}

func TestOutsideBasePathIs404(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/repos/octo-org/app/actions/runners", "/", "/api/v4/app", "/api/v3/nope"} {
		a := e.do(t, "GET", path, "token "+testPAT, "")
		if a.status != http.StatusNotFound || a.message(t) != "Not Found" {
			t.Errorf("GET %s: got %d %s, want 404 Not Found", path, a.status, a.body)
		}
		if a.header.Get("X-RateLimit-Limit") == "" {
			t.Errorf("GET %s: no rate-limit headers", path)
		}
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	key, other := keys(t)
	now := time.Now()
	tokenPath := fmt.Sprintf("/api/v3/app/installations/%d/access_tokens", testInstall)
	iss := strconv.Itoa(testAppID)
	cases := []struct {
		name, method, path, auth string
		status                   int
		message                  string
	}{
		{"no header", "GET", "/api/v3/repos/octo-org/app/actions/runners", "", 401, "Requires authentication"},
		{"unknown token", "GET", "/api/v3/repos/octo-org/app/actions/runners", "token test-pat-unknown", 401, "Bad credentials"},
		{"PAT as bearer", "GET", "/api/v3/repos/octo-org/app/actions/runners", "Bearer " + testPAT, 200, ""},
		{"PAT as token", "GET", "/api/v3/repos/octo-org/app/actions/runners", "token " + testPAT, 200, ""},
		{"valid JWT", "POST", tokenPath, "Bearer " + e.appJWT(t), 201, ""},
		{"JWT by another key", "POST", tokenPath, "Bearer " + signJWT(t, other, jwt.SigningMethodRS256, iss, now, now.Add(5*time.Minute)), 401, "A JSON web token could not be decoded"},
		{"HS256 JWT", "POST", tokenPath, "Bearer " + signJWT(t, key, jwt.SigningMethodHS256, iss, now, now.Add(5*time.Minute)), 401, "A JSON web token could not be decoded"},
		{"expired JWT", "POST", tokenPath, "Bearer " + signJWT(t, key, jwt.SigningMethodRS256, iss, now.Add(-20*time.Minute), now.Add(-10*time.Minute)), 401, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"},
		{"JWT living too long", "POST", tokenPath, "Bearer " + signJWT(t, key, jwt.SigningMethodRS256, iss, now, now.Add(time.Hour)), 401, "'Expiration time' claim ('exp') is too far in the future"},
		{"numeric iss", "POST", tokenPath, "Bearer " + signJWT(t, key, jwt.SigningMethodRS256, testAppID, now, now.Add(5*time.Minute)), 201, ""},
		{"unknown app", "POST", tokenPath, "Bearer " + signJWT(t, key, jwt.SigningMethodRS256, "999", now, now.Add(5*time.Minute)), 401, "Integration not found"},
		{"PAT on app route", "POST", tokenPath, "Bearer " + testPAT, 401, "A JSON web token could not be decoded"},
		{"JWT on installation route", "GET", "/api/v3/repos/octo-org/app/actions/runners", "Bearer " + e.appJWT(t), 403, "Resource not accessible by integration"},
		{"unknown installation", "POST", "/api/v3/app/installations/999/access_tokens", "Bearer " + e.appJWT(t), 404, "Not Found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, tc.method, tc.path, tc.auth, "")
			if a.status != tc.status {
				t.Fatalf("%s %s: got %d %s, want %d", tc.method, tc.path, a.status, a.body, tc.status)
			}
			if tc.message != "" && a.message(t) != tc.message {
				t.Errorf("message: got %q, want %q", a.message(t), tc.message)
			}
			for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used", "X-RateLimit-Resource"} {
				if a.header.Get(h) == "" {
					t.Errorf("missing header %s", h)
				}
			}
		})
	}
}

func TestInstallationTokens(t *testing.T) {
	e := newEnv(t)
	a := e.do(t, "POST", fmt.Sprintf("/api/v3/app/installations/%d/access_tokens", testInstall), "Bearer "+e.appJWT(t), "")
	if a.status != http.StatusCreated {
		t.Fatalf("got %d %s", a.status, a.body)
	}
	body := a.json(t)
	want := fixture(t, "apps.create-installation-access-token.201.json")
	for _, k := range []string{"token", "expires_at", "permissions", "repository_selection"} {
		if _, ok := want[k]; !ok {
			t.Fatalf("fixture lacks %q", k)
		}
		if _, ok := body[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, a.body)
		}
	}
	tok := body["token"].(string)
	if !strings.HasPrefix(tok, "ghs_") {
		t.Errorf("token %q does not look like an installation token", tok)
	}
	exp, err := time.Parse(time.RFC3339, body["expires_at"].(string))
	if err != nil || exp.Sub(e.clock.Now()) < 59*time.Minute {
		t.Errorf("expires_at %v: want an hour from the fake clock", body["expires_at"])
	}
	if a := e.do(t, "GET", "/api/v3/orgs/octo-org/actions/runners", "token "+tok, ""); a.status != 200 {
		t.Errorf("fresh token: got %d %s", a.status, a.body)
	}
	e.clock.Advance(61 * time.Minute)
	if a := e.do(t, "GET", "/api/v3/orgs/octo-org/actions/runners", "token "+tok, ""); a.status != 401 || a.message(t) != "Bad credentials" {
		t.Errorf("expired token: got %d %s, want 401 Bad credentials", a.status, a.body)
	}
	if n := e.fake.TokenRequests(testInstall); n != 1 {
		t.Errorf("TokenRequests: got %d, want 1", n)
	}

	t.Run("narrowed permissions", func(t *testing.T) {
		tok := e.installationToken(t, `{"permissions":{"metadata":"read"}}`)
		a := e.do(t, "GET", "/api/v3/repos/octo-org/app/actions/runners", "token "+tok, "")
		if a.status != 403 || a.message(t) != "Resource not accessible by integration" {
			t.Errorf("got %d %s, want 403", a.status, a.body)
		}
		if got := a.header.Get("X-Accepted-GitHub-Permissions"); got != "administration=read" {
			t.Errorf("X-Accepted-GitHub-Permissions: got %q", got)
		}
	})
	t.Run("permission beyond the installation", func(t *testing.T) {
		a := e.do(t, "POST", fmt.Sprintf("/api/v3/app/installations/%d/access_tokens", testInstall), "Bearer "+e.appJWT(t), `{"permissions":{"secrets":"write"}}`)
		if a.status != 422 {
			t.Errorf("got %d %s, want 422", a.status, a.body)
		}
	})
	t.Run("uninstalled", func(t *testing.T) {
		tok := e.installationToken(t, "")
		e.fake.RemoveInstallation(testInstall)
		if a := e.do(t, "GET", "/api/v3/orgs/octo-org/actions/runners", "token "+tok, ""); a.status != 401 {
			t.Errorf("got %d, want 401 after uninstall", a.status)
		}
	})
}

func TestInstallationLookup(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		path    string
		status  int
		fixture string
	}{
		{"/api/v3/repos/octo-org/app/installation", 200, "apps.get-repo-installation.200.json"},
		{"/api/v3/orgs/octo-org/installation", 200, "apps.get-org-installation.200.json"},
		{"/api/v3/repos/elsewhere/app/installation", 404, ""},
		{"/api/v3/orgs/elsewhere/installation", 404, ""},
	}
	for _, tc := range cases {
		a := e.do(t, "GET", tc.path, "Bearer "+e.appJWT(t), "")
		if a.status != tc.status {
			t.Errorf("GET %s: got %d %s, want %d", tc.path, a.status, a.body, tc.status)
			continue
		}
		if tc.fixture == "" {
			continue
		}
		got, want := a.json(t), fixture(t, tc.fixture)
		for k := range want {
			if _, ok := got[k]; !ok && k != "account" {
				t.Errorf("GET %s: missing key %q", tc.path, k)
			}
		}
		if id := got["id"].(float64); id != testInstall {
			t.Errorf("GET %s: id %v, want %d", tc.path, id, testInstall)
		}
	}
}

func TestPermissions(t *testing.T) {
	e := newEnv(t)
	key, _ := keys(t)
	_ = key
	if err := e.fake.AddInstallation(Installation{ID: 8, AppID: testAppID, Account: "solo", AccountType: "User",
		Repositories: []string{"one"}, Permissions: map[string]string{"metadata": "read"}}); err != nil {
		t.Fatal(err)
	}
	a := e.do(t, "POST", "/api/v3/app/installations/8/access_tokens", "Bearer "+e.appJWT(t), "")
	solo := a.json(t)["token"].(string)
	orgTok := e.installationToken(t, "")
	e.fake.AddPAT(PAT{Token: "test-pat-hooksonly", Scopes: []string{"admin:repo_hook"}})
	e.fake.AddPAT(PAT{Token: "test-pat-elsewhere", Scopes: []string{"repo", "admin:org"}, Owners: []string{"another"}})
	cases := []struct {
		name, method, path, token string
		status                    int
	}{
		{"installation without administration", "GET", "/api/v3/repos/solo/one/actions/runners", solo, 403},
		{"repository outside the installation", "GET", "/api/v3/repos/solo/two/actions/runners", solo, 404},
		{"user account has no org", "GET", "/api/v3/orgs/solo/actions/runners", solo, 404},
		{"org token on its repo", "GET", "/api/v3/repos/octo-org/anything/actions/runners", orgTok, 200},
		{"org token elsewhere", "GET", "/api/v3/repos/other/anything/actions/runners", orgTok, 404},
		{"PAT without admin:org", "GET", "/api/v3/orgs/octo-org/actions/runners", testPAT, 403},
		{"PAT with repo", "POST", "/api/v3/repos/octo-org/app/actions/runners/registration-token", testPAT, 201},
		{"PAT with hook scope only", "GET", "/api/v3/repos/octo-org/app/actions/runners", "test-pat-hooksonly", 403},
		{"PAT hook scope on hooks", "GET", "/api/v3/repos/octo-org/app/hooks", "test-pat-hooksonly", 200},
		{"PAT limited to another owner", "GET", "/api/v3/repos/octo-org/app/actions/runners", "test-pat-elsewhere", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, tc.method, tc.path, "token "+tc.token, "")
			if a.status != tc.status {
				t.Errorf("%s %s: got %d %s, want %d", tc.method, tc.path, a.status, a.body, tc.status)
			}
		})
	}
}

func jitBody(name string, labels ...string) string {
	b, _ := json.Marshal(map[string]any{"name": name, "runner_group_id": 1, "labels": labels, "work_folder": "_work"})
	return string(b)
}

func TestGenerateJIT(t *testing.T) {
	e := newEnv(t)
	auth := "token " + testPAT
	repoPath := "/api/v3/repos/octo-org/app/actions/runners/generate-jitconfig"
	a := e.do(t, "POST", repoPath, auth, jitBody("runner-1", "self-hosted", "X64", "image:ubuntu"))
	if a.status != http.StatusCreated {
		t.Fatalf("got %d %s", a.status, a.body)
	}
	var got any
	_ = json.Unmarshal(a.body, &got)
	sameKeys(t, "jit", got, fixture(t, "actions.generate-runner-jitconfig-for-repo.201.json"))
	runner := got.(map[string]any)["runner"].(map[string]any)
	if runner["status"] != "offline" || runner["busy"] != false || runner["name"] != "runner-1" {
		t.Errorf("new runner: %v", runner)
	}
	labels := runner["labels"].([]any)
	if typ := labels[0].(map[string]any)["type"]; typ != "read-only" {
		t.Errorf("self-hosted label type %v, want read-only", typ)
	}
	if typ := labels[2].(map[string]any)["type"]; typ != "custom" {
		t.Errorf("image label type %v, want custom", typ)
	}
	jit := got.(map[string]any)["encoded_jit_config"].(string)

	cases := []struct {
		name, path, body string
		status           int
		message          string
	}{
		{"duplicate name", repoPath, jitBody("runner-1", "self-hosted"), 409, "Already exists - A runner with the name runner-1 already exists."},
		{"duplicate name, other case", repoPath, jitBody("RUNNER-1", "self-hosted"), 409, ""},
		{"same name in another repository", "/api/v3/repos/octo-org/other/actions/runners/generate-jitconfig", jitBody("runner-1", "self-hosted"), 201, ""},
		{"same name in the organisation", "/api/v3/orgs/octo-org/actions/runners/generate-jitconfig", jitBody("runner-1", "self-hosted"), 403, ""}, // PAT lacks admin:org
		{"name of 64", repoPath, jitBody(strings.Repeat("a", 64), "self-hosted"), 201, ""},
		{"name of 65", repoPath, jitBody(strings.Repeat("b", 65), "self-hosted"), 422, ""},
		{"no labels", repoPath, `{"name":"x","runner_group_id":1}`, 422, ""},
		{"empty labels", repoPath, jitBody("y"), 422, ""},
		{"no group", repoPath, `{"name":"z","labels":["a"]}`, 422, ""},
		{"unknown group", repoPath, `{"name":"z","labels":["a"],"runner_group_id":5}`, 404, ""},
		{"bad JSON", repoPath, `{"name":`, 400, "Problems parsing JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, "POST", tc.path, auth, tc.body)
			if a.status != tc.status {
				t.Fatalf("got %d %s, want %d", a.status, a.body, tc.status)
			}
			if tc.message != "" && a.message(t) != tc.message {
				t.Errorf("message %q, want %q", a.message(t), tc.message)
			}
		})
	}

	t.Run("connect", func(t *testing.T) {
		r, err := e.fake.ConnectRunner(jit)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != StatusOnline || r.Name != "runner-1" || r.Scope != "repo:octo-org/app" {
			t.Errorf("connected runner: %+v", r)
		}
		if _, err := e.fake.ConnectRunner(jit); !errors.Is(err, ErrJITUsed) {
			t.Errorf("second connect: got %v, want ErrJITUsed", err)
		}
		if _, err := e.fake.ConnectRunner(jit[:len(jit)-8] + "AAAAAAA="); err == nil {
			t.Error("tampered JIT config connected")
		}
		if _, err := e.fake.ConnectRunner("not base64!"); !errors.Is(err, ErrJITInvalid) {
			t.Errorf("garbage: got %v, want ErrJITInvalid", err)
		}
	})
}

func TestOrgJITWithInstallationAndGroups(t *testing.T) {
	e := newEnv(t)
	tok := e.installationToken(t, "")
	e.fake.AddRunnerGroup("octo-org", 3, "fleet")
	path := "/api/v3/orgs/octo-org/actions/runners/generate-jitconfig"
	a := e.do(t, "POST", path, "token "+tok, `{"name":"org-runner","labels":["self-hosted"],"runner_group_id":3}`)
	if a.status != 201 {
		t.Fatalf("got %d %s", a.status, a.body)
	}
	var got any
	_ = json.Unmarshal(a.body, &got)
	sameKeys(t, "org jit", got, fixture(t, "actions.generate-runner-jitconfig-for-org.201.json"))
	if rs := e.fake.Runners("org:octo-org"); len(rs) != 1 || rs[0].RunnerGroupID != 3 {
		t.Errorf("Runners(org): %+v", rs)
	}
	a = e.do(t, "GET", "/api/v3/orgs/octo-org/actions/runner-groups", "token "+tok, "")
	if a.status != 200 {
		t.Fatalf("runner groups: %d %s", a.status, a.body)
	}
	_ = json.Unmarshal(a.body, &got)
	sameKeys(t, "runner groups", got, fixture(t, "actions.list-self-hosted-runner-groups-for-org.200.json"))
}

func parseLinks(h string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(h, ",") {
		url, rel, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok {
			continue
		}
		rel = strings.Trim(strings.TrimPrefix(strings.TrimSpace(rel), "rel="), `"`)
		out[rel] = strings.Trim(url, "<>")
	}
	return out
}

func TestListPagination(t *testing.T) {
	e := newEnv(t)
	for i := range 7 {
		if _, _, err := e.fake.RegisterRunner("octo-org/app", fmt.Sprintf("r%d", i), []string{"self-hosted"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.fake.RegisterRunner("octo-org/other", "elsewhere", []string{"self-hosted"}); err != nil {
		t.Fatal(err)
	}
	auth := "token " + testPAT
	var names []string
	next := e.srv.URL + "/api/v3/repos/octo-org/app/actions/runners"
	pages := 0
	for next != "" {
		pages++
		a := e.do(t, "GET", strings.TrimPrefix(next, e.srv.URL), auth, "")
		if a.status != 200 {
			t.Fatalf("page %d: %d %s", pages, a.status, a.body)
		}
		var body struct {
			TotalCount int `json:"total_count"`
			Runners    []struct {
				Name string `json:"name"`
			} `json:"runners"`
		}
		_ = json.Unmarshal(a.body, &body)
		if body.TotalCount != 7 {
			t.Errorf("total_count %d, want 7", body.TotalCount)
		}
		for _, r := range body.Runners {
			names = append(names, r.Name)
		}
		links := parseLinks(a.header.Get("Link"))
		next = links["next"]
		if pages == 1 && !strings.Contains(links["last"], "page=3") {
			t.Errorf("first page Link %q: want last=page 3", a.header.Get("Link"))
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	want := []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6"}
	if pages != 3 || !slices.Equal(names, want) {
		t.Errorf("got %d pages %v, want 3 pages %v", pages, names, want)
	}
	var got any
	a := e.do(t, "GET", "/api/v3/repos/octo-org/app/actions/runners?per_page=100&name=r4", auth, "")
	_ = json.Unmarshal(a.body, &got)
	sameKeys(t, "list", got, fixture(t, "actions.list-self-hosted-runners-for-repo.200.json"))
	if n := got.(map[string]any)["total_count"]; n != float64(1) || a.header.Get("Link") != "" {
		t.Errorf("name filter: total_count %v, Link %q", n, a.header.Get("Link"))
	}
}

func TestGetAndDeleteRunner(t *testing.T) {
	e := newEnv(t)
	auth := "token " + testPAT
	idle, _, _ := e.fake.RegisterRunner("octo-org/app", "idle", []string{"self-hosted"})
	busy, jit, _ := e.fake.RegisterRunner("octo-org/app", "busy", []string{"self-hosted"})
	if _, err := e.fake.ConnectRunner(jit); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.SetBusy(busy.ID, true); err != nil {
		t.Fatal(err)
	}
	path := func(scope string, id int64) string {
		return fmt.Sprintf("/api/v3/repos/octo-org/%s/actions/runners/%d", scope, id)
	}
	a := e.do(t, "GET", path("app", busy.ID), auth, "")
	var got any
	_ = json.Unmarshal(a.body, &got)
	sameKeys(t, "get", got, fixture(t, "actions.get-self-hosted-runner-for-repo.200.json"))
	if m := got.(map[string]any); m["busy"] != true || m["status"] != "online" {
		t.Errorf("busy runner: %v", m)
	}
	cases := []struct {
		name, method, path string
		status             int
		message            string
	}{
		{"delete busy", "DELETE", path("app", busy.ID), 422, `Bad request - Runner "busy" is still running a job"`},
		{"delete unknown", "DELETE", path("app", 99999), 404, "Not Found"},
		{"delete from another repository", "DELETE", path("other", idle.ID), 404, "Not Found"},
		{"get unknown", "GET", path("app", 99999), 404, "Not Found"},
		{"delete idle", "DELETE", path("app", idle.ID), 204, ""},
		{"delete idle again", "DELETE", path("app", idle.ID), 404, "Not Found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, tc.method, tc.path, auth, "")
			if a.status != tc.status {
				t.Fatalf("got %d %s, want %d", a.status, a.body, tc.status)
			}
			if tc.message != "" && a.message(t) != tc.message {
				t.Errorf("message %q, want %q", a.message(t), tc.message)
			}
		})
	}
	if err := e.fake.SetBusy(busy.ID, false); err != nil {
		t.Fatal(err)
	}
	if a := e.do(t, "DELETE", path("app", busy.ID), auth, ""); a.status != 204 {
		t.Errorf("delete after idle: %d", a.status)
	}
	if err := e.fake.RemoveRunner(busy.ID); !errors.Is(err, ErrUnknownRunner) {
		t.Errorf("RemoveRunner of a deleted runner: %v", err)
	}
}

func TestRegistrationTokens(t *testing.T) {
	e := newEnv(t)
	tok := e.installationToken(t, "")
	for _, tc := range []struct{ path, fixture string }{
		{"/api/v3/repos/octo-org/app/actions/runners/registration-token", "actions.create-registration-token-for-repo.201.json"},
		{"/api/v3/repos/octo-org/app/actions/runners/remove-token", "actions.create-remove-token-for-repo.201.json"},
		{"/api/v3/orgs/octo-org/actions/runners/registration-token", "actions.create-registration-token-for-org.201.json"},
		{"/api/v3/orgs/octo-org/actions/runners/remove-token", "actions.create-remove-token-for-org.201.json"},
	} {
		a := e.do(t, "POST", tc.path, "token "+tok, "")
		if a.status != 201 {
			t.Errorf("POST %s: %d %s", tc.path, a.status, a.body)
			continue
		}
		var got any
		_ = json.Unmarshal(a.body, &got)
		sameKeys(t, tc.path, got, fixture(t, tc.fixture))
		want := "repo:octo-org/app"
		if strings.Contains(tc.path, "/orgs/") {
			want = "org:octo-org"
		}
		if scope, ok := e.fake.RegistrationTokenScope(a.json(t)["token"].(string)); !ok || scope != want {
			t.Errorf("RegistrationTokenScope: %q, %v; want %q", scope, ok, want)
		}
	}
	if _, ok := e.fake.RegistrationTokenScope("NOPE"); ok {
		t.Error("an unknown registration token has a scope")
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("primary", func(t *testing.T) {
		e := newEnv(t)
		e.fake.SetFaults(Faults{PrimaryLimit: 2})
		auth := "token " + testPAT
		for i, want := range []int{200, 200, 403, 403} {
			a := e.do(t, "GET", "/api/v3/repos/octo-org/app/actions/runners", auth, "")
			if a.status != want {
				t.Fatalf("call %d: got %d %s, want %d", i+1, a.status, a.body, want)
			}
			if want == 403 {
				if a.header.Get("X-RateLimit-Remaining") != "0" || !strings.HasPrefix(a.message(t), "API rate limit exceeded for user ID") {
					t.Errorf("exhausted: remaining %q message %q", a.header.Get("X-RateLimit-Remaining"), a.message(t))
				}
			}
		}
		e.clock.Advance(time.Hour)
		if a := e.do(t, "GET", "/api/v3/repos/octo-org/app/actions/runners", auth, ""); a.status != 200 || a.header.Get("X-RateLimit-Remaining") != "1" {
			t.Errorf("after reset: %d remaining %q", a.status, a.header.Get("X-RateLimit-Remaining"))
		}
	})
	t.Run("secondary", func(t *testing.T) {
		e := newEnv(t)
		e.fake.SetFaults(Faults{WritesPerMinute: 2})
		auth := "token " + testPAT
		for i := range 2 {
			if a := e.do(t, "POST", "/api/v3/repos/octo-org/app/actions/runners/generate-jitconfig", auth, jitBody(fmt.Sprint("w", i), "self-hosted")); a.status != 201 {
				t.Fatalf("write %d: %d %s", i, a.status, a.body)
			}
		}
		if a := e.do(t, "GET", "/api/v3/repos/octo-org/app/actions/runners", auth, ""); a.status != 200 {
			t.Errorf("reads are not write-limited: %d", a.status)
		}
		e.clock.Advance(20 * time.Second)
		a := e.do(t, "POST", "/api/v3/repos/octo-org/app/actions/runners/generate-jitconfig", auth, jitBody("w2", "self-hosted"))
		if a.status != 403 {
			t.Fatalf("third write: %d %s, want 403", a.status, a.body)
		}
		if got := a.header.Get("Retry-After"); got != "40" {
			t.Errorf("Retry-After %q, want 40", got)
		}
		if m := a.message(t); !strings.HasPrefix(m, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.") {
			t.Errorf("message %q", m)
		}
		if d := a.json(t)["documentation_url"].(string); !strings.HasSuffix(d, "secondary-rate-limits") {
			t.Errorf("documentation_url %q: go-github recognises the secondary-rate-limits suffix", d)
		}
		e.clock.Advance(41 * time.Second)
		if a := e.do(t, "POST", "/api/v3/repos/octo-org/app/actions/runners/generate-jitconfig", auth, jitBody("w2", "self-hosted")); a.status != 201 {
			t.Errorf("after the window: %d %s", a.status, a.body)
		}
	})
	t.Run("secondary per route", func(t *testing.T) {
		auth := "token " + testPAT
		for _, perRoute := range []bool{false, true} {
			e := newEnv(t)
			e.fake.SetFaults(Faults{WritesPerMinute: 1, WritesPerRoute: perRoute})
			if a := e.do(t, "POST", "/api/v3/repos/octo-org/app/actions/runners/generate-jitconfig", auth, jitBody("r0", "self-hosted")); a.status != 201 {
				t.Fatalf("per route %v: first write: %d %s", perRoute, a.status, a.body)
			}
			if a := e.do(t, "POST", "/api/v3/repos/octo-org/app/actions/runners/generate-jitconfig", auth, jitBody("r1", "self-hosted")); a.status != 403 {
				t.Errorf("per route %v: second JIT config: %d, want 403", perRoute, a.status)
			}
			// A deletion is another endpoint: its own budget only when counted per route
			// (an unknown runner then answers 404, not the secondary limit).
			want := 403
			if perRoute {
				want = 404
			}
			if a := e.do(t, "DELETE", "/api/v3/repos/octo-org/app/actions/runners/424242", auth, ""); a.status != want {
				t.Errorf("per route %v: delete after the JIT budget is spent: %d %s, want %d", perRoute, a.status, a.body, want)
			}
		}
	})
}

func TestFaultsAndCounters(t *testing.T) {
	e := newEnv(t)
	auth := "token " + testPAT
	route := "actions/list-self-hosted-runners-for-repo"
	path := "/api/v3/repos/octo-org/app/actions/runners"
	e.fake.ForceStatus(route, 503, 2)
	for i, want := range []int{503, 503, 200} {
		if a := e.do(t, "GET", path, auth, ""); a.status != want {
			t.Errorf("call %d: %d, want %d", i+1, a.status, want)
		}
	}
	e.fake.ForceResponse(route, Forced{Status: 429, Header: http.Header{"Retry-After": {"7"}}})
	for range 2 {
		if a := e.do(t, "GET", path, auth, ""); a.status != 429 || a.header.Get("Retry-After") != "7" {
			t.Errorf("forced 429: %d %q", a.status, a.header.Get("Retry-After"))
		}
	}
	e.fake.ClearForced()
	e.fake.SetFaults(Faults{ServerErrorRatio: 1})
	if a := e.do(t, "GET", path, auth, ""); a.status != 502 || a.message(t) != "Server Error" {
		t.Errorf("ratio 1: %d %s", a.status, a.body)
	}
	e.fake.SetFaults(Faults{ServerErrorRatio: 0.5})
	fails := 0
	for range 200 {
		if a := e.do(t, "GET", path, auth, ""); a.status == 502 {
			fails++
		}
	}
	if fails < 60 || fails > 140 {
		t.Errorf("ratio 0.5: %d of 200 failed", fails)
	}
	e.fake.SetFaults(Faults{Latency: 30 * time.Millisecond})
	start := time.Now()
	e.do(t, "GET", path, auth, "")
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("latency: answered in %v", d)
	}
	if got := e.fake.CallCount(route); got != 207 {
		t.Errorf("CallCount(%s) = %d, want 207", route, got)
	}
	e.do(t, "POST", "/api/v3/repos/octo-org/app/actions/runners/registration-token", auth, "")
	if calls := e.fake.Calls(); calls["actions/create-registration-token-for-repo"] != 1 || len(calls) != 2 {
		t.Errorf("Calls() = %v", calls)
	}
	e.fake.ResetCalls()
	if n := len(e.fake.Calls()); n != 0 {
		t.Errorf("after ResetCalls: %d routes", n)
	}
}

func TestHooks(t *testing.T) {
	e := newEnv(t)
	tok := "token " + e.installationToken(t, "")
	for _, base := range []string{"/api/v3/repos/octo-org/app/hooks", "/api/v3/orgs/octo-org/hooks"} {
		t.Run(base, func(t *testing.T) {
			create := `{"name":"web","active":true,"events":["workflow_job"],"config":{"url":"https://hooks.example/x","content_type":"json","secret":"s3cret","insecure_ssl":"0"}}`
			a := e.do(t, "POST", base, tok, create)
			if a.status != 201 {
				t.Fatalf("create: %d %s", a.status, a.body)
			}
			h := a.json(t)
			cfg := h["config"].(map[string]any)
			if cfg["secret"] != "********" || cfg["url"] != "https://hooks.example/x" || h["active"] != true {
				t.Errorf("created hook: %v", h)
			}
			id := int64(h["id"].(float64))
			if a := e.do(t, "POST", base, tok, create); a.status != 422 {
				t.Errorf("duplicate: %d %s", a.status, a.body)
			}
			if a := e.do(t, "POST", base, tok, `{"name":"web","config":{}}`); a.status != 422 {
				t.Errorf("no url: %d %s", a.status, a.body)
			}
			a = e.do(t, "PATCH", fmt.Sprintf("%s/%d", base, id), tok, `{"active":false,"config":{"url":"https://hooks.example/y"}}`)
			if a.status != 200 || a.json(t)["active"] != false {
				t.Errorf("patch: %d %s", a.status, a.body)
			}
			a = e.do(t, "GET", base, tok, "")
			var list []map[string]any
			_ = json.Unmarshal(a.body, &list)
			if len(list) != 1 || list[0]["config"].(map[string]any)["url"] != "https://hooks.example/y" {
				t.Errorf("list: %s", a.body)
			}
			hooks := e.fake.Hooks(strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(base, "/api/v3/repos/"), "/api/v3/orgs/"), "/hooks"), ""))
			if len(hooks) != 1 || hooks[0].Secret != "s3cret" || hooks[0].ContentType != "json" {
				t.Errorf("Hooks(): %+v", hooks)
			}
			for i, code := range []int{200, 500, 202, 200} {
				if _, err := e.fake.RecordDelivery(id, Delivery{GUID: fmt.Sprint("g", i), StatusCode: code, Event: "workflow_job", Action: "queued"}); err != nil {
					t.Fatal(err)
				}
			}
			a = e.do(t, "GET", fmt.Sprintf("%s/%d/deliveries?per_page=3", base, id), tok, "")
			var ds []map[string]any
			_ = json.Unmarshal(a.body, &ds)
			if a.status != 200 || len(ds) != 3 || ds[0]["guid"] != "g3" || ds[1]["status_code"] != float64(202) {
				t.Fatalf("deliveries: %d %s", a.status, a.body)
			}
			next := parseLinks(a.header.Get("Link"))["next"]
			a = e.do(t, "GET", strings.TrimPrefix(next, e.srv.URL), tok, "")
			_ = json.Unmarshal(a.body, &ds)
			if len(ds) != 1 || ds[0]["guid"] != "g0" || a.header.Get("Link") != "" {
				t.Errorf("second deliveries page: %s link %q", a.body, a.header.Get("Link"))
			}
			if a := e.do(t, "GET", fmt.Sprintf("%s/%d", base, id), tok, ""); a.json(t)["last_response"].(map[string]any)["code"] != float64(200) {
				t.Errorf("last_response: %s", a.body)
			}
			if a := e.do(t, "DELETE", fmt.Sprintf("%s/%d", base, id), tok, ""); a.status != 204 {
				t.Errorf("delete: %d", a.status)
			}
		})
	}
}

func TestConcurrentRegistrations(t *testing.T) {
	e := newEnv(t)
	tok := "token " + e.installationToken(t, "")
	const n = 40
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two goroutines per name: exactly one of each pair wins.
			name := fmt.Sprint("c", i/2)
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v3/orgs/octo-org/actions/runners/generate-jitconfig", strings.NewReader(jitBody(name, "self-hosted", fmt.Sprint("label-", i))))
			req.Header.Set("Authorization", tok)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	created, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
			conflicts++
		}
	}
	if created != n/2 || conflicts != n/2 {
		t.Errorf("created %d, conflicts %d; want %d each", created, conflicts, n/2)
	}
	ids := map[int64]bool{}
	for _, r := range e.fake.Runners("org:octo-org") {
		ids[r.ID] = true
	}
	if len(ids) != n/2 {
		t.Errorf("%d distinct runners, want %d", len(ids), n/2)
	}
}
