package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/awsfake"
)

const (
	testSecret  = "It's a Secret to Everybody"
	secretName  = "runner-fleet/github"
	fixturesDir = "../../../shared/fixtures/github/webhooks"
)

// env is one webhook under test with its own AWS fake, real SDK clients and log capture.
type env struct {
	aws     *awsfake.Server
	awsCfg  aws.Config
	handler *Handler
	smArn   string
	logs    *bytes.Buffer
	metrics bytes.Buffer
	cfg     Config
}

func newEnv(t *testing.T, mutate ...func(*Config)) *env {
	t.Helper()
	fake := awsfake.New(awsfake.Options{})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	awsCfg, err := fake.AWSConfig(context.Background(), srv.URL, func(c *aws.Config) {
		c.RetryMaxAttempts = 2
	})
	if err != nil {
		t.Fatal(err)
	}
	secretArn := fake.SecretsManager.Put(secretName, `{"webhook_secret":"`+testSecret+`","token":"test-pat-not_a_real_token"}`)
	smArn := registerStateMachine(t, fake)
	cfg, err := LoadConfig(mapEnv(map[string]string{
		"STATE_MACHINE_ARN":    smArn,
		"GITHUB_SECRET_ARN":    secretArn,
		"ALLOWED_REPOSITORIES": "*",
		"DEFAULT_IMAGE":        "ubuntu:24.04",
		"DEFAULT_CLASS":        "medium",
		"FLEET_LABEL":          "runner-fleet",
		"EXTRA_LABELS":         "team-a",
		"SECRET_CACHE_SECONDS": "300",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mutate {
		m(&cfg)
	}
	e := &env{aws: fake, smArn: smArn, cfg: cfg}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := credentials.NewStore(secretsmanager.NewFromConfig(awsCfg), cfg.SecretARN, cfg.SecretTTL)
	h := NewHandler(cfg, Deps{Secrets: store, SFN: sfn.NewFromConfig(awsCfg), ECS: ecs.NewFromConfig(awsCfg), Metrics: &e.metrics}, log)
	h.now = func() time.Time { return time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC) }
	e.handler, e.logs, e.awsCfg = h, logs, awsCfg
	return e
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// delivery builds a signed POST the way GitHub sends it.
func delivery(event string, body []byte, secret string) Request {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/044aadd")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("X-GitHub-Hook-ID", "292430182")
	if secret != "" {
		h.Set("X-Hub-Signature-256", Sign(secret, body))
	}
	return Request{Method: http.MethodPost, Headers: h, Body: body}
}

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSharedFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixturesDir, "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("shared fixtures not found in %s: %v", fixturesDir, err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		if base == "MANIFEST.json" {
			continue
		}
		t.Run(base, func(t *testing.T) {
			e := newEnv(t)
			event := strings.SplitN(base, ".", 2)[0]
			resp := e.handler.Serve(context.Background(), delivery(event, readFixture(t, f), testSecret))
			// None of GitHub's examples is a private self-hosted job with our labels: each
			// gets 200 with a reason and starts nothing.
			if resp.Status != http.StatusOK {
				t.Fatalf("%s: got %d %+v; want 200", base, resp.Status, resp.Body)
			}
			if resp.Body.Reason == "" {
				t.Errorf("%s: answer has no reason", base)
			}
			if n := len(e.executions(t)); n != 0 {
				t.Errorf("%s started %d executions; want 0", base, n)
			}
		})
	}
}

func TestLabelFixtures(t *testing.T) {
	tests := []struct {
		file       string
		wantStatus int
		wantImage  string
		wantClass  string
		reason     string
	}{
		{file: "workflow_job.queued.ours.image-and-class.json", wantStatus: 202, wantImage: "ubuntu:24.04", wantClass: "medium"},
		{file: "workflow_job.queued.ours.class-only.json", wantStatus: 202, wantImage: "ubuntu:24.04", wantClass: "large"},
		{file: "workflow_job.queued.ours.mixed-case.json", wantStatus: 202, wantImage: "ubuntu:24.04", wantClass: "small"},
		{file: "workflow_job.queued.ours.fleet-label.json", wantStatus: 202, wantImage: "ubuntu:24.04", wantClass: "medium"},
		{file: "workflow_job.queued.ours.same-image-twice.json", wantStatus: 202, wantImage: "ubuntu:24.04", wantClass: "medium"},
		{file: "workflow_job.queued.notours.unknown-label.json", wantStatus: 200, reason: `"gpu"`},
		{file: "workflow_job.queued.notours.missing-self-hosted.json", wantStatus: 200, reason: "self-hosted"},
		{file: "workflow_job.queued.notours.two-images.json", wantStatus: 200, reason: "two images"},
		{file: "workflow_job.queued.notours.nothing-named.json", wantStatus: 200, reason: "names none"},
		{file: "workflow_job.queued.public-ours.json", wantStatus: 200, reason: "ALLOW_PUBLIC_REPOSITORIES"},
		{file: "workflow_job.completed.cancelled-before-start.json", wantStatus: 200, reason: "completed"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			e := newEnv(t)
			body := readFixture(t, filepath.Join("testdata", tc.file))
			resp := e.handler.Serve(context.Background(), delivery("workflow_job", body, testSecret))
			if resp.Status != tc.wantStatus {
				t.Fatalf("got %d %+v; want %d", resp.Status, resp.Body, tc.wantStatus)
			}
			execs := e.executions(t)
			if tc.wantStatus != 202 {
				if !strings.Contains(resp.Body.Reason, tc.reason) {
					t.Errorf("reason %q; want it to mention %s", resp.Body.Reason, tc.reason)
				}
				if len(execs) != 0 {
					t.Errorf("started %d executions; want 0", len(execs))
				}
				return
			}
			if len(execs) != 1 {
				t.Fatalf("started %d executions; want 1", len(execs))
			}
			var job fleet.Job
			if err := json.Unmarshal([]byte(execs[0].input), &job); err != nil {
				t.Fatal(err)
			}
			if job.ImageRef != tc.wantImage || job.Class != tc.wantClass {
				t.Errorf("input image %q class %q; want %q %q", job.ImageRef, job.Class, tc.wantImage, tc.wantClass)
			}
			if execs[0].name != job.ExecutionName() || resp.Body.Execution != execs[0].name {
				t.Errorf("execution %q, answer names %q, job derives %q", execs[0].name, resp.Body.Execution, job.ExecutionName())
			}
			if err := job.Validate(); err != nil {
				t.Errorf("execution input invalid: %v", err)
			}
			if job.Organization != "lineville-org" || job.InstallationID == 0 || job.Repository.Visibility != "private" || job.DeliveryID == "" {
				t.Errorf("execution input misses context: %+v", job)
			}
		})
	}
}

func TestRedeliveryStartsOneExecution(t *testing.T) {
	e := newEnv(t)
	body := readFixture(t, "testdata/workflow_job.queued.ours.image-and-class.json")
	first := e.handler.Serve(context.Background(), delivery("workflow_job", body, testSecret))
	if first.Status != 202 || first.Body.Status != StatusStarted {
		t.Fatalf("first delivery: %d %+v", first.Status, first.Body)
	}
	// Same delivery again, and a redelivery with a new delivery id (GitHub's "Redeliver").
	again := delivery("workflow_job", body, testSecret)
	redeliver := delivery("workflow_job", body, testSecret)
	redeliver.Headers.Set("X-GitHub-Delivery", "0b989ba4-242f-11e5-81e1-c7b6b8f7bd2b")
	for _, req := range []Request{again, redeliver} {
		resp := e.handler.Serve(context.Background(), req)
		// Identical input while running is AWS's idempotent replay (same ARN, "started");
		// a different input (new delivery id) is ExecutionAlreadyExists ("already_started").
		if resp.Status != 202 || resp.Body.Execution != first.Body.Execution {
			t.Fatalf("redelivery: %d %+v; want 202 naming %s", resp.Status, resp.Body, first.Body.Execution)
		}
	}
	// After the execution finished, a redelivery is still "already handled".
	e.finishAll(t)
	resp := e.handler.Serve(context.Background(), redeliver)
	if resp.Status != 202 || resp.Body.Status != StatusAlreadyStarted {
		t.Fatalf("redelivery after finish: %d %+v", resp.Status, resp.Body)
	}
	if n := len(e.executions(t)); n != 1 {
		t.Fatalf("%d executions; want exactly 1", n)
	}
}

func TestBadInputs(t *testing.T) {
	ours := mustRead("testdata/workflow_job.queued.ours.image-and-class.json")
	big := append(append([]byte(`{"pad":"`), bytes.Repeat([]byte("a"), MaxBodyBytes)...), []byte(`"}`)...)
	tampered := bytes.Replace(ours, []byte(`"class:medium"`), []byte(`"class:large" `), 1)
	tests := []struct {
		name   string
		req    func() Request
		status int
		reason string
	}{
		{"tampered body", func() Request {
			r := delivery("workflow_job", ours, testSecret)
			r.Body = tampered
			return r
		}, 401, "does not match"},
		{"wrong secret", func() Request { return delivery("workflow_job", ours, "not the secret") }, 401, "does not match"},
		{"missing signature header", func() Request { return delivery("workflow_job", ours, "") }, 401, "missing X-Hub-Signature-256"},
		{"sha1 only", func() Request {
			r := delivery("workflow_job", ours, "")
			r.Headers.Set("X-Hub-Signature", "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6")
			return r
		}, 401, "missing X-Hub-Signature-256"},
		{"sha1 in the sha256 header", func() Request {
			r := delivery("workflow_job", ours, "")
			r.Headers.Set("X-Hub-Signature-256", "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6")
			return r
		}, 401, "sha256="},
		{"malformed signature", func() Request {
			r := delivery("workflow_job", ours, "")
			r.Headers.Set("X-Hub-Signature-256", "sha256=zz"+strings.Repeat("0", 62))
			return r
		}, 401, "hex digest"},
		{"short signature", func() Request {
			r := delivery("workflow_job", ours, "")
			r.Headers.Set("X-Hub-Signature-256", "sha256=abcd")
			return r
		}, 401, "hex digest"},
		{"body over 1 MiB", func() Request { return delivery("workflow_job", big, testSecret) }, 413, "over"},
		{"malformed JSON", func() Request { return delivery("workflow_job", []byte(`{"action":"queued",`), testSecret) }, 400, "malformed JSON"},
		{"trailing data", func() Request {
			return delivery("workflow_job", append(append([]byte{}, ours...), []byte(`{}`)...), testSecret)
		}, 400, "trailing"},
		{"JSON missing workflow_job", func() Request { return delivery("workflow_job", []byte(`{"action":"queued"}`), testSecret) }, 400, "workflow_job"},
		{"JSON missing run_attempt", func() Request {
			return delivery("workflow_job", bytes.Replace(ours, []byte(`"run_attempt": 1`), []byte(`"run_attempt_x": 1`), 1), testSecret)
		}, 400, "run_attempt"},
		{"JSON missing repository", func() Request {
			return delivery("workflow_job", []byte(`{"action":"queued","workflow_job":{"id":1,"run_id":2,"run_attempt":1,"labels":[]}}`), testSecret)
		}, 400, "repository"},
		{"unknown content type", func() Request {
			r := delivery("workflow_job", ours, testSecret)
			r.Headers.Set("Content-Type", "text/plain")
			return r
		}, 415, "text/plain"},
		{"missing content type", func() Request {
			r := delivery("workflow_job", ours, testSecret)
			r.Headers.Del("Content-Type")
			return r
		}, 415, "Content-Type"},
		{"form without payload", func() Request {
			body := []byte("nothing=here")
			r := delivery("workflow_job", body, testSecret)
			r.Headers.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 400, "payload"},
		{"empty body", func() Request { return delivery("workflow_job", []byte{}, testSecret) }, 400, "malformed JSON"},
		{"empty body unsigned", func() Request { return delivery("workflow_job", []byte{}, "") }, 401, "missing"},
		{"missing event header", func() Request {
			r := delivery("workflow_job", ours, testSecret)
			r.Headers.Del("X-GitHub-Event")
			return r
		}, 400, "X-GitHub-Event"},
		{"GET", func() Request {
			r := delivery("workflow_job", ours, testSecret)
			r.Method = http.MethodGet
			return r
		}, 405, "POST"},
		{"other event", func() Request { return delivery("push", []byte(`{}`), testSecret) }, 200, "push"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.handler.Serve(context.Background(), tc.req())
			if resp.Status != tc.status || !strings.Contains(resp.Body.Reason, tc.reason) {
				t.Fatalf("got %d %+v; want %d with reason mentioning %q", resp.Status, resp.Body, tc.status, tc.reason)
			}
			if n := len(e.executions(t)); n != 0 {
				t.Fatalf("bad input started %d executions", n)
			}
		})
	}
}

func mustRead(p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		panic(err)
	}
	return b
}

func TestFormEncodedAndBase64(t *testing.T) {
	ours := mustRead("testdata/workflow_job.queued.ours.class-only.json")
	form := []byte("payload=" + url.QueryEscape(string(ours)))
	t.Run("form-urlencoded", func(t *testing.T) {
		e := newEnv(t)
		r := delivery("workflow_job", form, testSecret)
		r.Headers.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp := e.handler.Serve(context.Background(), r); resp.Status != 202 {
			t.Fatalf("got %d %+v", resp.Status, resp.Body)
		}
	})
	t.Run("function URL base64 body", func(t *testing.T) {
		e := newEnv(t)
		ev := events.LambdaFunctionURLRequest{
			Headers: map[string]string{
				"content-type":        "application/json",
				"x-github-event":      "workflow_job",
				"x-github-delivery":   "d1",
				"x-hub-signature-256": Sign(testSecret, ours),
			},
			Body:            base64.StdEncoding.EncodeToString(ours),
			IsBase64Encoded: true,
		}
		ev.RequestContext.HTTP.Method = "POST"
		out, err := e.handler.HandleURL(context.Background(), ev)
		if err != nil || out.StatusCode != 202 || !strings.Contains(out.Body, `"status":"started"`) {
			t.Fatalf("got %+v, %v", out, err)
		}
	})
	t.Run("function URL invalid base64", func(t *testing.T) {
		e := newEnv(t)
		ev := events.LambdaFunctionURLRequest{Body: "***", IsBase64Encoded: true}
		ev.RequestContext.HTTP.Method = "POST"
		out, _ := e.handler.HandleURL(context.Background(), ev)
		if out.StatusCode != 400 {
			t.Fatalf("got %+v", out)
		}
	})
	t.Run("plain HTTP", func(t *testing.T) {
		e := newEnv(t)
		srv := httptest.NewServer(e.handler)
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(ours))
		req.Header = delivery("workflow_job", ours, testSecret).Headers
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 202 || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("got %d %s", res.StatusCode, b)
		}
	})
}

func TestSecretProblems(t *testing.T) {
	ours := mustRead("testdata/workflow_job.queued.ours.image-and-class.json")
	t.Run("empty webhook secret answers 500 and accepts nothing unsigned", func(t *testing.T) {
		e := newEnv(t)
		e.aws.SecretsManager.Put(secretName, `{"webhook_secret":"","token":"x"}`)
		for _, secret := range []string{"", "anything"} {
			r := delivery("workflow_job", ours, secret)
			if secret == "" {
				r.Headers.Set("X-Hub-Signature-256", Sign("", ours))
			}
			if resp := e.handler.Serve(context.Background(), r); resp.Status != 500 {
				t.Fatalf("got %d %+v; want 500", resp.Status, resp.Body)
			}
		}
		if n := len(e.executions(t)); n != 0 {
			t.Fatalf("%d executions started", n)
		}
	})
	t.Run("secret not valid JSON", func(t *testing.T) {
		e := newEnv(t)
		e.aws.SecretsManager.Put(secretName, `webhook_secret=`+testSecret)
		resp := e.handler.Serve(context.Background(), delivery("workflow_job", ours, testSecret))
		if resp.Status != 500 || strings.Contains(e.logs.String(), testSecret) {
			t.Fatalf("got %d %+v; logs leak the secret: %v", resp.Status, resp.Body, strings.Contains(e.logs.String(), testSecret))
		}
	})
	t.Run("secret missing answers 5xx so GitHub can redeliver", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.SecretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf" })
		e.handler.secrets = credentials.NewStore(e.handler.secrets.(*credentials.Store).Client(), e.cfg.SecretARN, time.Minute)
		resp := e.handler.Serve(context.Background(), delivery("workflow_job", ours, testSecret))
		if resp.Status != 502 {
			t.Fatalf("got %d %+v; want 502", resp.Status, resp.Body)
		}
	})
	t.Run("rotated secret is refetched once", func(t *testing.T) {
		e := newEnv(t)
		if resp := e.handler.Serve(context.Background(), delivery("ping", []byte(`{"zen":"x"}`), testSecret)); resp.Status != 200 {
			t.Fatalf("warm-up ping: %d", resp.Status)
		}
		e.aws.SecretsManager.Put(secretName, `{"webhook_secret":"rotated","token":"x"}`)
		// The cache is young (< 30 s): a forged delivery does not trigger a refetch...
		before := e.aws.Calls("secretsmanager", "GetSecretValue")
		if resp := e.handler.Serve(context.Background(), delivery("workflow_job", ours, "rotated")); resp.Status != 401 {
			t.Fatalf("young cache: got %d; want 401", resp.Status)
		}
		if got := e.aws.Calls("secretsmanager", "GetSecretValue"); got != before {
			t.Fatalf("young cache refetched the secret (%d -> %d calls)", before, got)
		}
		// ...once it is older, the failed signature refetches and the new secret verifies.
		e.handler.secrets.(*credentials.Store).SetClock(func() time.Time { return time.Now().Add(time.Minute) })
		if resp := e.handler.Serve(context.Background(), delivery("workflow_job", ours, "rotated")); resp.Status != 202 {
			t.Fatalf("after rotation: got %d %+v; want 202", resp.Status, resp.Body)
		}
	})
}

func TestStepFunctionsFailures(t *testing.T) {
	ours := mustRead("testdata/workflow_job.queued.ours.image-and-class.json")
	e := newEnv(t)
	if err := e.aws.SetFault("sfn", "StartExecution", awsfake.Fault{ThrottleRatio: 1}); err != nil {
		t.Fatal(err)
	}
	resp := e.handler.Serve(context.Background(), delivery("workflow_job", ours, testSecret))
	if resp.Status != 502 || !strings.Contains(resp.Body.Reason, "redeliver") {
		t.Fatalf("throttled StartExecution: got %d %+v; want 502 asking for a redelivery", resp.Status, resp.Body)
	}
	if calls := e.aws.Calls("sfn", "StartExecution"); calls < 2 {
		t.Errorf("StartExecution called %d times; the SDK should have retried the throttle", calls)
	}
	e.aws.ClearFaults()
	if resp := e.handler.Serve(context.Background(), delivery("workflow_job", ours, testSecret)); resp.Status != 202 {
		t.Fatalf("after recovery: got %d %+v", resp.Status, resp.Body)
	}
}

func TestNoSecretInLogs(t *testing.T) {
	e := newEnv(t)
	for _, f := range []string{"workflow_job.queued.ours.image-and-class.json", "workflow_job.queued.notours.unknown-label.json"} {
		e.handler.Serve(context.Background(), delivery("workflow_job", mustRead("testdata/"+f), testSecret))
		e.handler.Serve(context.Background(), delivery("workflow_job", mustRead("testdata/"+f), "wrong"))
	}
	if logs := e.logs.String(); strings.Contains(logs, testSecret) || strings.Contains(logs, "test-pat-not_a_real_token") || strings.Contains(logs, Sign(testSecret, nil)[:20]) {
		t.Fatalf("logs contain a secret:\n%s", logs)
	}
	if !strings.Contains(e.logs.String(), `"delivery_id"`) {
		t.Fatalf("logs lack the delivery id:\n%s", e.logs.String())
	}
}

func TestConfig(t *testing.T) {
	base := map[string]string{
		"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:RunnerFleet",
		"GITHUB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:gh",
		"DEFAULT_IMAGE":     "ubuntu:24.04", "DEFAULT_CLASS": "medium",
	}
	tests := []struct {
		name, key, value, wantErr string
	}{
		{name: "valid", key: "ALLOWED_REPOSITORIES", value: "octo/*, octo-org/api"},
		{name: "bad repository entry", key: "ALLOWED_REPOSITORIES", value: "octo", wantErr: "ALLOWED_REPOSITORIES"},
		{name: "partial wildcard", key: "ALLOWED_REPOSITORIES", value: "octo/api-*", wantErr: "ALLOWED_REPOSITORIES"},
		{name: "bad bool", key: "ALLOW_PUBLIC_REPOSITORIES", value: "yes please", wantErr: "ALLOW_PUBLIC_REPOSITORIES"},
		{name: "missing arn", key: "STATE_MACHINE_ARN", value: "", wantErr: "STATE_MACHINE_ARN"},
		{name: "missing secret", key: "GITHUB_SECRET_ARN", value: "", wantErr: "GITHUB_SECRET_ARN"},
		{name: "bad ttl", key: "SECRET_CACHE_SECONDS", value: "0", wantErr: "SECRET_CACHE_SECONDS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range base {
				m[k] = v
			}
			m[tc.key] = tc.value
			_, err := LoadConfig(mapEnv(m))
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("LoadConfig(%s=%q) error %v; want %q", tc.key, tc.value, err, tc.wantErr)
			}
		})
	}
	f, _ := ParseRepositoryFilter("Octo/*, other/API")
	for _, c := range []struct {
		o, n string
		want bool
	}{{"octo", "x", true}, {"OCTO", "y", true}, {"other", "api", true}, {"other", "web", false}, {"else", "api", false}} {
		if got := f.Allows(c.o, c.n); got != c.want {
			t.Errorf("Allows(%s/%s) = %v; want %v", c.o, c.n, got, c.want)
		}
	}
	if empty, _ := ParseRepositoryFilter(""); !empty.Empty() {
		t.Error("empty filter should serve nothing")
	}
}

func TestEmptyAllowListServesNothing(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Repositories = RepositoryFilter{} })
	resp := e.handler.Serve(context.Background(), delivery("workflow_job", mustRead("testdata/workflow_job.queued.ours.image-and-class.json"), testSecret))
	if resp.Status != 200 || !strings.Contains(resp.Body.Reason, "ALLOWED_REPOSITORIES is empty") {
		t.Fatalf("got %d %+v", resp.Status, resp.Body)
	}
}
