package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/seal"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

const (
	routeJITRepo    = "actions/generate-runner-jitconfig-for-repo"
	routeJITOrg     = "actions/generate-runner-jitconfig-for-org"
	routeDeleteRepo = "actions/delete-self-hosted-runner-from-repo"
)

// open unseals the runner's config as the runner task does.
func (e *env) open(t *testing.T, r fleet.Runner) string {
	t.Helper()
	plain, err := seal.Open(context.Background(), kms.NewFromConfig(e.awsCfg), r.Name, r.SealedJITConfig)
	if err != nil {
		t.Fatalf("open the sealed JIT config: %v", err)
	}
	return string(plain.Bytes())
}

func TestRequestRunner(t *testing.T) {
	tests := []struct {
		name      string
		opts      envOptions
		wantScope string
		route     string
	}{
		{name: "PAT on the repository", opts: envOptions{}, wantScope: "repo:octo-org/hello-world", route: routeJITRepo},
		{name: "App on the repository", opts: envOptions{app: true}, wantScope: "repo:octo-org/hello-world", route: routeJITRepo},
		{name: "App on the organisation", opts: envOptions{app: true, scope: "org"}, wantScope: "org:octo-org", route: routeJITOrg},
		{name: "PAT on the organisation", opts: envOptions{scope: "org"}, wantScope: "org:octo-org", route: routeJITOrg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			job := testJob()
			got, err := e.handler.Handle(context.Background(), invocation(job))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got.Name != job.ExecutionName() || got.Scope != tc.wantScope || got.ID == 0 {
				t.Errorf("runner = %+v; want name %q scope %q and an id", got, job.ExecutionName(), tc.wantScope)
			}
			if strings.Join(got.Labels, ",") != strings.Join(job.Labels, ",") {
				t.Errorf("labels %q; want the job's %q", got.Labels, job.Labels)
			}
			if !strings.HasPrefix(got.SealedJITConfig, "v1.kms.") {
				t.Errorf("sealed config %.20q… is not a v1 KMS seal", got.SealedJITConfig)
			}
			reg, ok := e.gh.RunnerByID(got.ID)
			if !ok || reg.Name != got.Name || strings.Join(reg.Labels, ",") != strings.Join(job.Labels, ",") {
				t.Fatalf("GitHub registration %+v (found %v); want name %q with the job's labels", reg, ok, got.Name)
			}
			// The seal opens for this execution only, and the config inside is the one
			// GitHub issued: the fake accepts it to connect this very runner.
			connected, err := e.gh.ConnectRunner(e.open(t, got))
			if err != nil || connected.ID != got.ID {
				t.Fatalf("connect with the unsealed config: runner %d, %v; want runner %d", connected.ID, err, got.ID)
			}
			if _, err := seal.Open(context.Background(), kms.NewFromConfig(e.awsCfg), "octo-org-other-1-1", got.SealedJITConfig); !errors.Is(err, seal.ErrInvalidSeal) {
				t.Errorf("opening under another execution: %v; want ErrInvalidSeal", err)
			}
			if n := e.gh.CallCount(tc.route); n != 1 {
				t.Errorf("%s called %d times; want 1", tc.route, n)
			}
		})
	}
}

func TestRequestRunnerAppTokenIsCachedAcrossInvocations(t *testing.T) {
	e := newEnv(t, envOptions{app: true})
	for attempt := 1; attempt <= 3; attempt++ {
		job := testJob()
		job.RunAttempt = attempt
		if _, err := e.handler.Handle(context.Background(), invocation(job)); err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
	}
	if n := e.gh.TokenRequests(testInstallID); n != 1 {
		t.Errorf("installation tokens minted: %d; want 1 for three invocations of a warm Lambda", n)
	}
}

// TestRequestRunnerPicksUpARotatedSecret: the client built from the secret is kept while
// the secret is unchanged and rebuilt once the cached secret expires and has changed.
func TestRequestRunnerPicksUpARotatedSecret(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	e.store.SetClock(func() time.Time { return now })
	job := testJob()
	if _, err := e.handler.Handle(context.Background(), invocation(job)); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	rotated := `{"webhook_secret":"w","token":"test-pat-rotated_token","api_url":"` + e.apiURL + `"}`
	e.aws.SecretsManager.Put("runner-fleet/github", rotated)
	e.gh.AddPAT(githubfake.PAT{Token: "test-pat-rotated_token", Scopes: []string{"repo"}})

	job.RunAttempt = 2
	if _, err := e.handler.Handle(context.Background(), invocation(job)); err != nil {
		t.Fatalf("within the cache time: %v", err)
	}
	now = now.Add(6 * time.Minute)
	job.RunAttempt = 3
	e.gh.ResetCalls()
	got, err := e.handler.Handle(context.Background(), invocation(job))
	if err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if _, ok := e.gh.RunnerByID(got.ID); !ok {
		t.Fatal("runner not registered with the rotated token")
	}
	// Revoke the rotated token's scope: a client still holding the old token would not notice.
	e.gh.AddPAT(githubfake.PAT{Token: "test-pat-rotated_token", Scopes: []string{"read:org"}})
	job.RunAttempt = 4
	_, err = e.handler.Handle(context.Background(), invocation(job))
	if got := activity.Classify(err); got.Type != fleet.ErrGitHubAuthFailed {
		t.Errorf("with the rotated token's scope revoked: %s %q; want GitHubAuthFailed (the new token is in use)", got.Type, got.Message)
	}
}

func TestRequestRunnerReplacesItsStaleRegistration(t *testing.T) {
	e := newEnv(t, envOptions{})
	job := testJob()
	// An earlier attempt registered the runner, then its answer was lost.
	stale, _, err := e.gh.RegisterRunner("repo:octo-org/hello-world", job.ExecutionName(), job.Labels)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.handler.Handle(context.Background(), invocation(job))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if got.ID == stale.ID {
		t.Errorf("got the stale runner %d; want a new registration", got.ID)
	}
	if _, ok := e.gh.RunnerByID(stale.ID); ok {
		t.Errorf("stale registration %d still exists", stale.ID)
	}
	if rs := e.gh.Runners("repo:octo-org/hello-world"); len(rs) != 1 || rs[0].ID != got.ID {
		t.Errorf("registrations %+v; want only runner %d", rs, got.ID)
	}
	if n := e.gh.CallCount(routeJITRepo); n != 2 {
		t.Errorf("generate-jitconfig called %d times; want 2 (409, then success)", n)
	}
	if _, err := e.gh.ConnectRunner(e.open(t, got)); err != nil {
		t.Errorf("the new config does not connect: %v", err)
	}
}

func TestRequestRunnerRefusesToReplaceABusyRunnerOfTheSameName(t *testing.T) {
	e := newEnv(t, envOptions{})
	job := testJob()
	busy, jit, err := e.gh.RegisterRunner("repo:octo-org/hello-world", job.ExecutionName(), job.Labels)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.gh.ConnectRunner(jit); err != nil {
		t.Fatal(err)
	}
	if err := e.gh.SetBusy(busy.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err = e.handler.Handle(context.Background(), invocation(job))
	if err == nil || !errors.Is(err, fleet.ErrRunnerBusy) {
		t.Fatalf("err = %v; want one wrapping ErrRunnerBusy", err)
	}
	if _, ok := e.gh.RunnerByID(busy.ID); !ok {
		t.Error("the busy runner was deleted")
	}
}

func TestRequestRunnerRetriesGitHubWithinItsBudget(t *testing.T) {
	secondary := func(retryAfter string) githubfake.Forced {
		return githubfake.Forced{Status: http.StatusForbidden, Times: 1,
			Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			Header:  http.Header{"Retry-After": {retryAfter}}}
	}
	tests := []struct {
		name      string
		setup     func(gh *githubfake.Server)
		wantErr   string // workflow error name; "" for success
		wantCalls int64
		wantWaits []time.Duration // nil: do not check
		// httpTimeout shortens the GitHub client's timeout.
		httpTimeout time.Duration
	}{
		{
			name:        "timeouts outlasting the budget",
			setup:       func(gh *githubfake.Server) { gh.SetFaults(githubfake.Faults{Latency: 300 * time.Millisecond}) },
			httpTimeout: 50 * time.Millisecond,
			wantErr:     fleet.ErrGitHubUnavailable,
			wantCalls:   8,
		},
		{
			name:      "5xx burst then success",
			setup:     func(gh *githubfake.Server) { gh.ForceStatus(routeJITRepo, http.StatusBadGateway, 3) },
			wantCalls: 4,
			wantWaits: []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond},
		},
		{
			name:      "5xx outlasting the budget",
			setup:     func(gh *githubfake.Server) { gh.ForceStatus(routeJITRepo, http.StatusServiceUnavailable, 0) },
			wantErr:   fleet.ErrGitHubUnavailable,
			wantCalls: 8, // 0.2+0.4+0.8+1.6+3.2+5+5 = 16.2 s slept; the next 5 s wait would pass 20 s
		},
		{
			name:      "secondary rate limit with Retry-After inside the budget",
			setup:     func(gh *githubfake.Server) { gh.ForceResponse(routeJITRepo, secondary("7")) },
			wantCalls: 2,
			wantWaits: []time.Duration{7 * time.Second},
		},
		{
			name:      "secondary rate limit with Retry-After beyond the budget",
			setup:     func(gh *githubfake.Server) { gh.ForceResponse(routeJITRepo, secondary("60")) },
			wantErr:   fleet.ErrGitHubRetryAfter,
			wantCalls: 1,
			wantWaits: []time.Duration{},
		},
		{
			name: "429 without Retry-After waits GitHub's minute: beyond the budget",
			setup: func(gh *githubfake.Server) {
				gh.ForceResponse(routeJITRepo, githubfake.Forced{Status: http.StatusTooManyRequests, Times: 1})
			},
			wantErr:   fleet.ErrGitHubRetryAfter,
			wantCalls: 1,
			wantWaits: []time.Duration{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{httpTimeout: tc.httpTimeout})
			tc.setup(e.gh)
			got, err := e.handler.Handle(context.Background(), invocation(testJob()))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				if _, ok := e.gh.RunnerByID(got.ID); !ok {
					t.Errorf("runner %d not registered", got.ID)
				}
			} else if name := activity.Classify(err).Type; name != tc.wantErr {
				t.Fatalf("error %v named %q; want %q", err, name, tc.wantErr)
			}
			if n := e.gh.CallCount(routeJITRepo); n != tc.wantCalls {
				t.Errorf("generate-jitconfig called %d times; want %d", n, tc.wantCalls)
			}
			if tc.wantWaits != nil && !equalDurations(e.waits, tc.wantWaits) {
				t.Errorf("waited %v; want %v", e.waits, tc.wantWaits)
			}
			var total time.Duration
			for _, w := range e.waits {
				total += w
			}
			if total > e.handler.cfg.Budget {
				t.Errorf("waited %v in all; the budget is %v", total, e.handler.cfg.Budget)
			}
		})
	}
}

// A rate limit longer than the budget goes to the state machine as GitHubRetryAfter
// with the wait in its message, until the job has been queued too long.
func TestRequestRunnerHandsLongRateLimitsToTheWorkflow(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	limited := func(h http.Header) func(gh *githubfake.Server) {
		return func(gh *githubfake.Server) {
			gh.ForceResponse(routeJITRepo, githubfake.Forced{Status: http.StatusForbidden, Times: 1,
				Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", Header: h})
		}
	}
	primaryReset := time.Now().Add(30 * time.Minute)
	tests := []struct {
		name     string
		setup    func(gh *githubfake.Server)
		queued   time.Time // the job's ReceivedAt
		spread   int       // what the random spread adds
		wantErr  string
		wantSecs [2]int // GitHubRetryAfter's seconds, inclusive range
		wantIn   string // in the message
	}{
		{name: "Retry-After 60", setup: limited(http.Header{"Retry-After": {"60"}}), queued: now.Add(-time.Minute),
			wantErr: fleet.ErrGitHubRetryAfter, wantSecs: [2]int{60, 60}},
		{name: "spread: up to a tenth more", setup: limited(http.Header{"Retry-After": {"60"}}), queued: now, spread: 6,
			wantErr: fleet.ErrGitHubRetryAfter, wantSecs: [2]int{66, 66}},
		{name: "primary limit: until X-RateLimit-Reset", queued: now,
			setup: func(gh *githubfake.Server) {
				gh.ForceResponse(routeJITRepo, githubfake.Forced{Status: http.StatusForbidden, Times: 1, Message: "API rate limit exceeded for installation ID 1.",
					Header: http.Header{"X-RateLimit-Remaining": {"0"}, "X-RateLimit-Reset": {strconv.FormatInt(primaryReset.Unix(), 10)}}})
			},
			wantErr: fleet.ErrGitHubRetryAfter, wantSecs: [2]int{1797, 1800}},
		{name: "queued too long by the end of the wait", setup: limited(http.Header{"Retry-After": {"120"}}), queued: now.Add(-6*time.Hour + time.Minute),
			wantErr: fleet.ErrGitHubRateLimited, wantIn: "GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS (21600)"},
		{name: "no queued time: no bound but the execution's", setup: limited(http.Header{"Retry-After": {"120"}}),
			wantErr: fleet.ErrGitHubRetryAfter, wantSecs: [2]int{120, 120}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.clock = now
			var spreadOver int
			e.handler.spread = func(n int) int { spreadOver = n; return tc.spread }
			tc.setup(e.gh)
			job := testJob()
			job.ReceivedAt = tc.queued
			_, err := e.handler.Handle(context.Background(), invocation(job))
			c := activity.Classify(err)
			if c.Type != tc.wantErr {
				t.Fatalf("error %v named %q; want %q", err, c.Type, tc.wantErr)
			}
			if !strings.Contains(c.Message, tc.wantIn) || !strings.Contains(c.Message, "rate limit") {
				t.Errorf("message %q; want it to contain %q and the rate limit", c.Message, tc.wantIn)
			}
			if tc.wantErr == fleet.ErrGitHubRetryAfter {
				words := strings.Split(c.Message, " ")
				secs, _ := strconv.Atoi(words[2])
				if words[0] != "retry" || secs < tc.wantSecs[0] || secs > tc.wantSecs[1] {
					t.Errorf("message %q; want \"retry after N s\" with N in %v", c.Message, tc.wantSecs)
				}
				if want := (secs-tc.spread)/10 + 1; spreadOver != want {
					t.Errorf("spread drawn over %d; want %d (a tenth of the wait)", spreadOver, want)
				}
			}
			if rs := e.gh.Runners("repo:octo-org/hello-world"); len(rs) != 0 {
				t.Errorf("registrations %+v left by a rate-limited request", rs)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRequestRunnerAuthFailuresNameThePermission(t *testing.T) {
	tests := []struct {
		name string
		opts envOptions
		want string
	}{
		{
			name: "401 unknown token",
			opts: envOptions{secret: `{"webhook_secret":"w","token":"test-pat-revoked","api_url":"%API%"}`},
			want: "token is invalid or expired",
		},
		{
			name: "403 PAT without the repo scope",
			opts: envOptions{patScopes: []string{"read:org"}},
			want: "needs the repo scope",
		},
		{
			name: "404 PAT of a user who cannot administer the repository",
			opts: envOptions{patOwners: []string{"someone-else"}},
			want: "does not exist or the token cannot administer it",
		},
		{
			name: "403 App without Administration write",
			opts: envOptions{app: true, appPerms: map[string]string{"administration": "read"}},
			want: "Administration: write",
		},
		{
			name: "403 App without organisation self-hosted runners write",
			opts: envOptions{app: true, scope: "org", appPerms: map[string]string{"administration": "write"}},
			want: "Self-hosted runners: write",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertAuthFailed(t, newEnv(t, tc.opts), tc.want)
		})
	}
}

func assertAuthFailed(t *testing.T, e *env, want string) {
	t.Helper()
	_, err := e.handler.Handle(context.Background(), invocation(testJob()))
	got := activity.Classify(err)
	if got.Type != fleet.ErrGitHubAuthFailed || !strings.Contains(got.Message, want) {
		t.Fatalf("error %s: %q; want GitHubAuthFailed mentioning %q", got.Type, got.Message, want)
	}
	if len(e.waits) != 0 {
		t.Errorf("retried an auth failure (waits %v)", e.waits)
	}
}

func TestRequestRunnerSealFailures(t *testing.T) {
	tests := []struct {
		name    string
		fault   func(e *env)
		wantErr string
		want    string
	}{
		{
			name:    "disabled key",
			fault:   func(e *env) { _ = e.aws.KMS.SetKeyEnabled(e.keyARN, false) },
			wantErr: fleet.ErrConfigurationInvalid,
			want:    "KMS_KEY_ARN",
		},
		{
			name: "access denied",
			fault: func(e *env) {
				_ = e.aws.SetFault("kms", "Encrypt", awsfake.Fault{Err: &awsfake.APIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: kms:Encrypt"}})
			},
			wantErr: fleet.ErrConfigurationInvalid,
			want:    "kms:Encrypt",
		},
		{
			name: "throttled after the SDK's retries",
			fault: func(e *env) {
				_ = e.aws.SetFault("kms", "Encrypt", awsfake.Fault{Err: &awsfake.APIError{Code: "ThrottlingException", Message: "Rate exceeded"}})
			},
			wantErr: fleet.ErrAWSThrottled,
			want:    "seal the JIT config",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			tc.fault(e)
			_, err := e.handler.Handle(context.Background(), invocation(testJob()))
			got := activity.Classify(err)
			if got.Type != tc.wantErr || !strings.Contains(got.Message, tc.want) {
				t.Fatalf("error %s: %q; want %s mentioning %q", got.Type, got.Message, tc.wantErr, tc.want)
			}
			// The registration whose config could not be sealed is not left behind.
			if rs := e.gh.Runners(""); len(rs) != 0 {
				t.Errorf("registrations left: %+v", rs)
			}
		})
	}
}

func TestSealErrorTooLarge(t *testing.T) {
	h := &Handler{cfg: Config{KMSKeyARN: "alias/runner-fleet"}}
	err := h.sealError(errors.Join(errors.New("seal"), seal.ErrTooLarge), 9000, 100)
	got := activity.Classify(err)
	if got.Type != fleet.ErrInvalidInput || !strings.Contains(got.Message, "fewer or shorter labels") {
		t.Errorf("error %s: %q; want InvalidInput asking for fewer labels", got.Type, got.Message)
	}
}

func TestRequestRunnerRejects(t *testing.T) {
	tests := []struct {
		name    string
		opts    envOptions
		mutate  func(*fleet.Invocation)
		fault   func(*env)
		wantErr string
		want    string
	}{
		{
			name:    "execution name not the job's",
			mutate:  func(in *fleet.Invocation) { in.Execution = executionARN("octo-org-hello-world-1-1") },
			wantErr: fleet.ErrInvalidInput,
			want:    "is not the job's name",
		},
		{
			name:    "org scope for a user-owned repository",
			opts:    envOptions{scope: "org"},
			mutate:  func(in *fleet.Invocation) { in.State.Organization = "" },
			wantErr: fleet.ErrConfigurationInvalid,
			want:    "owned by a user",
		},
		{
			name:    "invalid job",
			mutate:  func(in *fleet.Invocation) { in.State.Labels = nil },
			wantErr: fleet.ErrInvalidInput,
			want:    "labels",
		},
		{
			name: "secret the function may not read",
			fault: func(e *env) {
				_ = e.aws.SetFault("secretsmanager", "GetSecretValue", awsfake.Fault{Err: &awsfake.APIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: secretsmanager:GetSecretValue"}})
			},
			wantErr: fleet.ErrConfigurationInvalid,
			want:    "GITHUB_SECRET_ARN must name a secret this function may read",
		},
		{
			name:    "secret without GitHub credentials",
			opts:    envOptions{secret: `{"webhook_secret":"w"}`},
			wantErr: fleet.ErrConfigurationInvalid,
			want:    "neither app_id + private_key",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			in := invocation(testJob())
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			if tc.fault != nil {
				tc.fault(e)
			}
			_, err := e.handler.Handle(context.Background(), in)
			got := activity.Classify(err)
			if got.Type != tc.wantErr || !strings.Contains(got.Message, tc.want) {
				t.Fatalf("error %s: %q; want %s mentioning %q", got.Type, got.Message, tc.wantErr, tc.want)
			}
			if rs := e.gh.Runners(""); len(rs) != 0 {
				t.Errorf("registered %+v; want nothing", rs)
			}
		})
	}
}

// TestJITConfigNeverLeaks follows the plaintext config from GitHub to the runner task:
// it appears in no activity output, no log line (the activity's, ghrunner's, the Lambda
// boundary's) and nowhere in the RunTask request the ECS fake recorded or in
// DescribeTasks, which carry only the seal.
func TestJITConfigNeverLeaks(t *testing.T) {
	for _, app := range []bool{false, true} {
		t.Run(map[bool]string{false: "PAT", true: "App"}[app], func(t *testing.T) {
			e := newEnv(t, envOptions{app: app})
			job := testJob()
			payload, _ := json.Marshal(invocation(job))
			log := e.handler.log
			out, err := activity.Wrap(log, e.handler.Handle)(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			outJSON, _ := json.Marshal(out)
			plain := e.open(t, out)
			if len(plain) < 100 {
				t.Fatalf("unsealed config is %d bytes; want a real JIT config", len(plain))
			}

			// Launch the runner as RunRunner does, with the sealed config in the overrides.
			clusterARN := e.aws.ECS.CreateCluster("runner-fleet")
			client := ecs.NewFromConfig(e.awsCfg)
			ctx := context.Background()
			td, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
				Family:                  aws.String("runner-fleet-runner"),
				RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
				NetworkMode:             ecstypes.NetworkModeAwsvpc,
				Cpu:                     aws.String("1024"),
				Memory:                  aws.String("2048"),
				ContainerDefinitions: []ecstypes.ContainerDefinition{{
					Name: aws.String(fleet.RunnerContainer), Image: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/runner:abc"), Essential: aws.Bool(true),
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			run, err := client.RunTask(ctx, &ecs.RunTaskInput{
				Cluster:        aws.String(clusterARN),
				TaskDefinition: td.TaskDefinition.TaskDefinitionArn,
				LaunchType:     ecstypes.LaunchTypeFargate,
				StartedBy:      aws.String(awsfake.StartedByStepFunctions),
				NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
					Subnets: []string{"subnet-0123456789abcdef0"}, SecurityGroups: []string{"sg-0123456789abcdef0"},
				}},
				Overrides: &ecstypes.TaskOverride{ContainerOverrides: []ecstypes.ContainerOverride{{
					Name: aws.String(fleet.RunnerContainer),
					Environment: []ecstypes.KeyValuePair{
						{Name: aws.String("RUNNER_FLEET_SEALED_JIT"), Value: aws.String(out.SealedJITConfig)},
						{Name: aws.String("RUNNER_FLEET_EXECUTION"), Value: aws.String(out.Name)},
					},
				}}},
			})
			if err != nil {
				t.Fatalf("RunTask with the sealed config: %v", err)
			}
			if len(run.Tasks) != 1 {
				t.Fatalf("RunTask started %d tasks, failures %+v", len(run.Tasks), run.Failures)
			}
			recorded, ok := e.aws.ECS.Task(aws.ToString(run.Tasks[0].TaskArn))
			if !ok {
				t.Fatal("the ECS fake recorded no task")
			}
			recordedJSON, _ := json.Marshal(recorded)
			if env := recorded.Containers[0].Environment; env["RUNNER_FLEET_SEALED_JIT"] != out.SealedJITConfig {
				t.Errorf("task environment %v lacks the seal", env)
			}
			desc, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(clusterARN), Tasks: []string{aws.ToString(run.Tasks[0].TaskArn)}})
			if err != nil {
				t.Fatal(err)
			}
			descJSON, _ := json.Marshal(desc.Tasks)

			for where, text := range map[string]string{
				"activity output":      string(outJSON),
				"log lines":            e.logs.String(),
				"recorded RunTask":     string(recordedJSON),
				"DescribeTasks answer": string(descJSON),
			} {
				if strings.Contains(text, plain) {
					t.Errorf("the plaintext JIT config appears in the %s", where)
				}
			}
			if !strings.Contains(e.logs.String(), "runner registered") {
				t.Errorf("logs lack the registration line:\n%s", e.logs.String())
			}
		})
	}
}
