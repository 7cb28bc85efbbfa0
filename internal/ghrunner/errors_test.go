package ghrunner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/githubfake"
)

// want describes the error a case expects.
type want struct {
	is        error // errors.Is target
	auth      bool  // *AuthError
	rate      bool  // *RateLimitError
	secondary bool  // RateLimitError.Secondary
	retryMin  time.Duration
	retryMax  time.Duration
	unavail   bool   // *UnavailableError
	status    int    // UnavailableError.Status / AuthError.Status
	text      string // substring of Error()
	name      string // ErrorName
}

func check(t *testing.T, err error, w want) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %+v", w)
	}
	t.Logf("error: %v", err)
	if w.is != nil && !errors.Is(err, w.is) {
		t.Errorf("got %v, want errors.Is %v", err, w.is)
	}
	var auth *AuthError
	if errors.As(err, &auth) != w.auth {
		t.Errorf("got %T %v; *AuthError wanted: %v", err, err, w.auth)
	}
	if w.auth && w.status != 0 && auth.Status != w.status {
		t.Errorf("AuthError.Status %d, want %d", auth.Status, w.status)
	}
	var rl *RateLimitError
	if errors.As(err, &rl) != w.rate {
		t.Errorf("got %T %v; *RateLimitError wanted: %v", err, err, w.rate)
	}
	if w.rate && rl != nil {
		if rl.Secondary != w.secondary {
			t.Errorf("Secondary %v, want %v", rl.Secondary, w.secondary)
		}
		if rl.RetryAfter < w.retryMin || rl.RetryAfter > w.retryMax {
			t.Errorf("RetryAfter %v, want between %v and %v", rl.RetryAfter, w.retryMin, w.retryMax)
		}
	}
	var un *UnavailableError
	if errors.As(err, &un) != w.unavail {
		t.Errorf("got %T %v; *UnavailableError wanted: %v", err, err, w.unavail)
	}
	if w.unavail && un != nil && un.Status != w.status {
		t.Errorf("UnavailableError.Status %d, want %d", un.Status, w.status)
	}
	if w.text != "" && !strings.Contains(err.Error(), w.text) {
		t.Errorf("error %q does not say %q", err, w.text)
	}
	if got := ErrorName(err); got != w.name {
		t.Errorf("ErrorName = %q, want %q", got, w.name)
	}
	if w.name != "" {
		if got := fleet.NameOf(Classify(err)); got != w.name {
			t.Errorf("Classify named %q, want %q", got, w.name)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	ctx := context.Background()
	type setup struct {
		e *env
		c *Client
	}
	cases := []struct {
		name string
		// arrange prepares the fake and returns the client to call with.
		arrange func(t *testing.T, s *setup) *Client
		call    func(ctx context.Context, c *Client) error
		want    want
	}{
		{
			name:    "401 bad PAT",
			arrange: func(t *testing.T, s *setup) *Client { return s.e.pat(t, "test-pat-revoked") },
			call:    listRepo,
			want:    want{auth: true, status: 401, text: "token is invalid or expired", name: fleet.ErrGitHubAuthFailed},
		},
		{
			name: "403 App lacks Administration on the repository",
			arrange: func(t *testing.T, s *setup) *Client {
				return s.c.ForInstallation(thinInstall)
			},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GenerateJITConfig(ctx, RepoScope("thin", "repo"), jitReq("x"))
				return err
			},
			want: want{auth: true, status: 403, text: "the GitHub App needs Administration: write on the repository", name: fleet.ErrGitHubAuthFailed},
		},
		{
			name: "403 App lacks Self-hosted runners on the organisation",
			arrange: func(t *testing.T, s *setup) *Client {
				must(t, s.e.fake.SetInstallationPermissions(orgInstall, map[string]string{"administration": "write"}))
				return s.c.ForInstallation(orgInstall)
			},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GenerateJITConfig(ctx, org, jitReq("x"))
				return err
			},
			want: want{auth: true, status: 403, text: "Self-hosted runners: write on the organisation", name: fleet.ErrGitHubAuthFailed},
		},
		{
			name:    "403 PAT without admin:org",
			arrange: func(t *testing.T, s *setup) *Client { return s.e.pat(t, pat) },
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ListRunners(ctx, org, ListOptions{})
				return err
			},
			want: want{auth: true, status: 403, text: "the token needs the admin:org scope", name: fleet.ErrGitHubAuthFailed},
		},
		{
			name: "404 on JIT: repository outside the installation",
			arrange: func(t *testing.T, s *setup) *Client {
				return s.c.ForInstallation(thinInstall)
			},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GenerateJITConfig(ctx, RepoScope("thin", "other"), jitReq("x"))
				return err
			},
			want: want{auth: true, status: 404, text: "Administration: write on the repository (and runner_group_id must exist); GitHub Enterprise Server needs version 3.10", name: fleet.ErrGitHubAuthFailed},
		},
		{
			name:    "installation token for an unknown installation",
			arrange: func(t *testing.T, s *setup) *Client { return s.c.ForInstallation(999) },
			call:    listRepo,
			want:    want{auth: true, status: 404, text: "no installation 999", name: fleet.ErrGitHubAuthFailed},
		},
		{
			name: "App JWT rejected (wrong App id)",
			arrange: func(t *testing.T, s *setup) *Client {
				return s.e.app(t, func(o *Options) { o.AppID = 555 }).ForInstallation(orgInstall)
			},
			call: listRepo,
			want: want{auth: true, status: 401, text: "check app_id and private_key", name: fleet.ErrGitHubAuthFailed},
		},
		{
			name: "primary rate limit",
			arrange: func(t *testing.T, s *setup) *Client {
				s.e.fake.SetFaults(githubfake.Faults{PrimaryLimit: 1})
				c := s.e.pat(t, pat)
				_, err := c.ListRunners(ctx, repo, ListOptions{})
				must(t, err)
				return c
			},
			call: listRepo,
			want: want{rate: true, retryMin: 59 * time.Minute, retryMax: time.Hour + time.Second, text: "primary rate limit", name: fleet.ErrGitHubRateLimited},
		},
		{
			name: "429 with X-RateLimit-Remaining 0",
			arrange: func(t *testing.T, s *setup) *Client {
				s.e.fake.ForceResponse("actions/list-self-hosted-runners-for-repo", githubfake.Forced{Status: 429, Header: http.Header{
					"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {fmt.Sprint(time.Now().Add(90 * time.Second).Unix())},
				}})
				return s.e.pat(t, pat)
			},
			call: listRepo,
			want: want{rate: true, retryMin: 80 * time.Second, retryMax: 91 * time.Second, name: fleet.ErrGitHubRateLimited},
		},
		{
			name: "secondary rate limit on writes",
			arrange: func(t *testing.T, s *setup) *Client {
				s.e.fake.SetFaults(githubfake.Faults{WritesPerMinute: 1})
				c := s.e.pat(t, pat)
				_, err := c.GenerateJITConfig(ctx, repo, jitReq("first"))
				must(t, err)
				return c
			},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GenerateJITConfig(ctx, repo, jitReq("second"))
				return err
			},
			want: want{rate: true, secondary: true, retryMin: 59 * time.Second, retryMax: 60 * time.Second, text: "secondary rate limit", name: fleet.ErrGitHubRateLimited},
		},
		{
			name: "429 with Retry-After",
			arrange: func(t *testing.T, s *setup) *Client {
				s.e.fake.ForceResponse("actions/delete-self-hosted-runner-from-repo", githubfake.Forced{Status: 429, Header: http.Header{"Retry-After": {"7"}}})
				return s.e.pat(t, pat)
			},
			call: func(ctx context.Context, c *Client) error { return c.DeleteRunner(ctx, repo, 1) },
			want: want{rate: true, secondary: true, retryMin: 7 * time.Second, retryMax: 7 * time.Second, name: fleet.ErrGitHubRateLimited},
		},
		{
			name: "403 with the secondary-limit message but no Retry-After",
			arrange: func(t *testing.T, s *setup) *Client {
				s.e.fake.ForceResponse("actions/list-self-hosted-runners-for-repo", githubfake.Forced{Status: 403,
					Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."})
				return s.e.pat(t, pat)
			},
			call: listRepo,
			want: want{rate: true, secondary: true, retryMin: time.Second, retryMax: time.Hour + time.Second, name: fleet.ErrGitHubRateLimited},
		},
		{
			name: "502",
			arrange: func(t *testing.T, s *setup) *Client {
				s.e.fake.ForceStatus("actions/generate-runner-jitconfig-for-repo", 502, 1)
				return s.c.ForInstallation(orgInstall)
			},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GenerateJITConfig(ctx, repo, jitReq("x"))
				return err
			},
			want: want{unavail: true, status: 502, text: "GitHub is unavailable (502 Bad Gateway)", name: fleet.ErrGitHubUnavailable},
		},
		{
			name: "503 while minting the installation token",
			arrange: func(t *testing.T, s *setup) *Client {
				s.e.fake.ForceStatus("apps/create-installation-access-token", 503, 1)
				return s.c.ForInstallation(orgInstall)
			},
			call: listRepo,
			want: want{unavail: true, status: 503, text: "create installation token", name: fleet.ErrGitHubUnavailable},
		},
		{
			name: "timeout",
			arrange: func(t *testing.T, s *setup) *Client {
				s.e.fake.SetFaults(githubfake.Faults{Latency: 300 * time.Millisecond})
				hc := *s.e.srv.Client()
				hc.Timeout = 50 * time.Millisecond
				c, err := New(ctx, Options{Token: pat, APIURL: s.e.url, HTTPClient: &hc})
				must(t, err)
				return c
			},
			call: listRepo,
			want: want{unavail: true, text: "timed out", name: fleet.ErrGitHubUnavailable},
		},
		{
			name: "connection refused",
			arrange: func(t *testing.T, s *setup) *Client {
				dead := httptest.NewServer(http.NotFoundHandler())
				dead.Close()
				c, err := New(ctx, Options{Token: pat, APIURL: dead.URL + "/api/v3/"})
				must(t, err)
				return c
			},
			call: listRepo,
			want: want{unavail: true, text: "could not be reached", name: fleet.ErrGitHubUnavailable},
		},
		{
			name: "422 on delete: busy",
			arrange: func(t *testing.T, s *setup) *Client {
				r, jit, err := s.e.fake.RegisterRunner("octo-org/app", "busy-one", []string{"self-hosted"})
				must(t, err)
				_, err = s.e.fake.ConnectRunner(jit)
				must(t, err)
				must(t, s.e.fake.SetBusy(r.ID, true))
				return s.c.ForInstallation(orgInstall)
			},
			call: func(ctx context.Context, c *Client) error { return c.DeleteRunnerByName(ctx, repo, "busy-one") },
			want: want{is: fleet.ErrRunnerBusy, text: "still running a job"},
		},
		{
			name:    "404 on get",
			arrange: func(t *testing.T, s *setup) *Client { return s.c.ForInstallation(orgInstall) },
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetRunner(ctx, org, 424242)
				return err
			},
			want: want{is: fleet.ErrRunnerNotFound},
		},
		{
			name: "409 on JIT",
			arrange: func(t *testing.T, s *setup) *Client {
				_, _, _ = s.e.fake.RegisterRunner("org:octo-org", "taken", []string{"x"})
				return s.c.ForInstallation(orgInstall)
			},
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GenerateJITConfig(ctx, org, jitReq("taken"))
				return err
			},
			want: want{is: ErrRunnerExists, text: "Already exists"},
		},
		{
			name:    "caller's context cancelled",
			arrange: func(t *testing.T, s *setup) *Client { return s.e.pat(t, pat) },
			call: func(ctx context.Context, c *Client) error {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				_, err := c.ListRunners(ctx, repo, ListOptions{})
				return err
			},
			want: want{is: context.Canceled},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := &setup{e: e, c: e.app(t)}
			c := tc.arrange(t, s)
			check(t, tc.call(ctx, c), tc.want)
		})
	}
}

func listRepo(ctx context.Context, c *Client) error {
	_, err := c.ListRunners(ctx, repo, ListOptions{})
	return err
}

// TestNoSecretsInErrorsOrLogs drives successes and failures through a client whose
// logger is captured, then looks for every credential and JIT config in all of it.
func TestNoSecretsInErrorsOrLogs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := e.app(t, func(o *Options) { o.Logger = logger })
	inst := c.ForInstallation(orgInstall)
	p := e.pat(t, pat)

	var texts []string
	record := func(err error) {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
			logger.Error("github call failed", "error", err)
		}
	}
	jit, err := inst.GenerateJITConfig(ctx, repo, jitReq("secretive"))
	must(t, err)
	logger.Info("runner registered", "jit", jit, "config", jit.EncodedConfig)
	texts = append(texts, fmt.Sprintf("%v %+v %#v %s", jit, jit, jit, jit.EncodedConfig))
	_, err = inst.GenerateJITConfig(ctx, repo, jitReq("secretive"))
	record(err)
	_, err = p.GenerateJITConfig(ctx, org, jitReq("y"))
	record(err)
	record(e.pat(t, pat+"x").DeleteRunner(ctx, repo, 1))
	e.fake.ForceStatus("actions/list-self-hosted-runners-for-repo", 500, 1)
	_, err = inst.ListRunners(ctx, repo, ListOptions{})
	record(err)
	e.clock.Advance(58 * time.Minute)
	_, err = c.ForInstallation(999).ListRunners(ctx, repo, ListOptions{})
	record(err)
	_, err = inst.ListRunners(ctx, repo, ListOptions{}) // refresh, logged
	must(t, err)
	r := Retrier{Logger: logger, Base: time.Millisecond}
	e.fake.ForceStatus("actions/list-self-hosted-runners-for-repo", 502, 2)
	must(t, r.Do(ctx, 5*time.Second, func(ctx context.Context) error { _, err := inst.ListRunners(ctx, repo, ListOptions{}); return err }))

	all := strings.Join(texts, "\n") + "\n" + logs.String()
	if !strings.Contains(logs.String(), "github installation token refreshed") || !strings.Contains(logs.String(), "retrying") {
		t.Fatalf("the logs do not hold the lines this test inspects:\n%s", logs.String())
	}
	secrets := map[string]string{
		"JIT config":         jit.EncodedConfig.Reveal(),
		"PAT":                pat,
		"private key":        string(keyPEM[40:80]),
		"PEM header":         "PRIVATE KEY",
		"installation token": "ghs_",
	}
	for what, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("a %s appears in errors or logs", what)
		}
	}
	// A JWT would appear as three base64url segments starting with eyJ.
	if regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.`).MatchString(all) {
		t.Error("a JWT appears in errors or logs")
	}
}

func TestRetrier(t *testing.T) {
	unavailable := &UnavailableError{Op: "op", Status: 502, Err: errors.New("Server Error")}
	cases := []struct {
		name       string
		budget     time.Duration
		errs       []error // returned by successive attempts; nil ends
		wantCalls  int
		wantSleeps []time.Duration
		wantErr    error
	}{
		{"success at once", time.Second, []error{nil}, 1, nil, nil},
		{"5xx twice then success", 10 * time.Second, []error{unavailable, unavailable, nil}, 3,
			[]time.Duration{200 * time.Millisecond, 400 * time.Millisecond}, nil},
		{"attempts are bounded", time.Hour, []error{unavailable}, 8,
			[]time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}, unavailable},
		{"rate limit already reset backs off", 10 * time.Second, []error{&RateLimitError{}, nil}, 2, []time.Duration{200 * time.Millisecond}, nil},
		{"backoff is capped", time.Minute, []error{unavailable, unavailable, unavailable, unavailable, unavailable, unavailable, nil}, 7,
			[]time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second}, nil},
		{"budget runs out", time.Second, []error{unavailable, unavailable, unavailable, unavailable}, 3,
			[]time.Duration{200 * time.Millisecond, 400 * time.Millisecond}, unavailable},
		{"retry-after fits", 10 * time.Second, []error{&RateLimitError{RetryAfter: 3 * time.Second, Secondary: true}, nil}, 2,
			[]time.Duration{3 * time.Second}, nil},
		{"retry-after beyond the budget", 10 * time.Second, []error{&RateLimitError{RetryAfter: time.Minute, Secondary: true}}, 1, nil, &RateLimitError{}},
		{"not transient", 10 * time.Second, []error{fmt.Errorf("delete: %w", fleet.ErrRunnerBusy)}, 1, nil, fleet.ErrRunnerBusy},
		{"auth is final", 10 * time.Second, []error{&AuthError{Status: 401}}, 1, nil, &AuthError{}},
		{"wrapped unavailable", 10 * time.Second, []error{fmt.Errorf("runner 3: %w", unavailable), nil}, 2, []time.Duration{200 * time.Millisecond}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			var sleeps []time.Duration
			r := Retrier{
				Now: func() time.Time { return now },
				Sleep: func(_ context.Context, d time.Duration) error {
					sleeps = append(sleeps, d)
					now = now.Add(d)
					return nil
				},
				Jitter: func(c time.Duration) time.Duration { return c }, // the ceiling, to see it
			}
			calls := 0
			err := r.Do(context.Background(), tc.budget, func(context.Context) error {
				e := tc.errs[min(calls, len(tc.errs)-1)]
				calls++
				return e
			})
			if calls != tc.wantCalls {
				t.Errorf("calls %d, want %d", calls, tc.wantCalls)
			}
			if fmt.Sprint(sleeps) != fmt.Sprint(tc.wantSleeps) {
				t.Errorf("sleeps %v, want %v", sleeps, tc.wantSleeps)
			}
			switch w := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Errorf("err %v, want nil", err)
				}
			case *RateLimitError:
				var rl *RateLimitError
				if !errors.As(err, &rl) {
					t.Errorf("err %v, want *RateLimitError", err)
				}
			case *AuthError:
				var ae *AuthError
				if !errors.As(err, &ae) {
					t.Errorf("err %v, want *AuthError", err)
				}
			default:
				if !errors.Is(err, w) {
					t.Errorf("err %v, want %v", err, w)
				}
			}
		})
	}
}

func TestRetrierHonoursContextDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	calls := 0
	start := time.Now()
	err := Retrier{Base: 300 * time.Millisecond, Jitter: func(c time.Duration) time.Duration { return c }}.Do(ctx, time.Hour, func(context.Context) error {
		calls++
		return &UnavailableError{Status: 503}
	})
	var un *UnavailableError
	if !errors.As(err, &un) {
		t.Fatalf("got %v, want the last *UnavailableError", err)
	}
	// Deadline 1.5s less the 1s margin leaves 0.5s: one 300ms wait fits, 600ms does not,
	// so the retrier gives up after the second call instead of sleeping into the deadline.
	if calls != 2 {
		t.Errorf("calls %d in %v; want 2 within the deadline less the margin", calls, time.Since(start))
	}
}

func TestDoAgainstFake(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.app(t).ForInstallation(orgInstall)
	e.fake.ForceStatus("actions/generate-runner-jitconfig-for-repo", 502, 2)
	var jit JIT
	err := Retrier{Base: time.Millisecond}.Do(ctx, 5*time.Second, func(ctx context.Context) error {
		var err error
		jit, err = c.GenerateJITConfig(ctx, repo, jitReq("after-502s"))
		return err
	})
	if err != nil || jit.RunnerID == 0 {
		t.Fatalf("Do: %v, %v", jit, err)
	}
	if n := e.fake.CallCount("actions/generate-runner-jitconfig-for-repo"); n != 3 {
		t.Errorf("%d JIT calls, want 3", n)
	}
	e.fake.ForceResponse("actions/generate-runner-jitconfig-for-repo", githubfake.Forced{Status: 429, Times: 1, Header: http.Header{"Retry-After": {"1"}}})
	start := time.Now()
	err = Do(ctx, 5*time.Second, func(ctx context.Context) error {
		_, err := c.GenerateJITConfig(ctx, repo, jitReq("after-429"))
		return err
	})
	if err != nil {
		t.Fatalf("Do after 429: %v", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("Retry-After 1s not honoured: took %v", d)
	}
}
