package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

const (
	testPAT       = "test-pat-requestrunner_test_token"
	testAppID     = 4711
	testInstallID = 90001
	testOrg       = "octo-org"
	testRepo      = "hello-world"
)

// env is RequestRunner under test: its own AWS fake (Secrets Manager, KMS, ECS), its own
// GitHub fake under /api/v3/, the real SDK and go-github clients, and captured logs.
type env struct {
	aws     *awsfake.Server
	awsCfg  aws.Config
	awsURL  string
	gh      *githubfake.Server
	apiURL  string
	keyARN  string
	handler *Handler
	store   *credentials.Store
	logs    *testenv.Buffer
	// waits records the retrier's sleeps; clock is the retrier's time, advanced by them.
	waits []time.Duration
	clock time.Time
}

type envOptions struct {
	app   bool   // authenticate as a GitHub App instead of a PAT
	scope string // RUNNER_SCOPE
	// appPerms are the installation's permissions (App only).
	appPerms map[string]string
	// patScopes are the PAT's scopes; nil means repo and admin:org.
	patScopes []string
	// patOwners limits the PAT's accounts.
	patOwners []string
	// secret replaces the secret document.
	secret string
	// httpTimeout is the GitHub client's timeout (default ghrunner's 30 s).
	httpTimeout time.Duration
}

var (
	appKeyOnce sync.Once
	appKey     *rsa.PrivateKey
)

func testAppKey(t testing.TB) *rsa.PrivateKey {
	appKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		appKey = k
	})
	return appKey
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{logs: &testenv.Buffer{}, clock: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	e.aws, e.awsURL, e.awsCfg = testenv.AWS(t)
	cfg := e.awsCfg
	var err error
	e.keyARN, err = e.aws.KMS.CreateKey("runner-fleet JIT configs", "alias/runner-fleet")
	if err != nil {
		t.Fatal(err)
	}

	e.gh = githubfake.New(githubfake.Config{})
	ghSrv := httptest.NewServer(e.gh)
	t.Cleanup(ghSrv.Close)
	e.apiURL = ghSrv.URL + githubfake.BasePath + "/"

	secret := strings.ReplaceAll(o.secret, "%API%", e.apiURL)
	if secret == "" {
		doc := map[string]any{"webhook_secret": "whsec", "api_url": e.apiURL}
		if o.app {
			key := testAppKey(t)
			e.gh.AddApp(testAppID, "runner-fleet", &key.PublicKey)
			perms := o.appPerms
			if perms == nil {
				perms = map[string]string{"administration": "write", "organization_self_hosted_runners": "write"}
			}
			if err := e.gh.AddInstallation(githubfake.Installation{ID: testInstallID, AppID: testAppID, Account: testOrg, Permissions: perms}); err != nil {
				t.Fatal(err)
			}
			doc["app_id"] = testAppID
			doc["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
		} else {
			scopes := o.patScopes
			if scopes == nil {
				scopes = []string{"repo", "admin:org"}
			}
			e.gh.AddPAT(githubfake.PAT{Token: testPAT, Scopes: scopes, Owners: o.patOwners})
			doc["token"] = testPAT
		}
		b, _ := json.Marshal(doc)
		secret = string(b)
	}
	secretARN := e.aws.SecretsManager.Put("runner-fleet/github", secret)

	conf, err := LoadConfig(mapEnv(map[string]string{
		"GITHUB_SECRET_ARN": secretARN,
		"KMS_KEY_ARN":       e.keyARN,
		"RUNNER_SCOPE":      o.scope,
	}))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.store = credentials.NewStore(secretsmanager.NewFromConfig(cfg), conf.SecretARN, conf.SecretTTL)
	ghOpts := ghrunner.Options{Logger: log}
	if o.httpTimeout > 0 {
		ghOpts.HTTPClient = &http.Client{Timeout: o.httpTimeout}
	}
	github := ghrunner.NewSource(e.store, ghOpts)
	e.handler = NewHandler(conf, github, kms.NewFromConfig(cfg), log)
	e.handler.retrier = ghrunner.Retrier{
		Logger: log,
		Now:    func() time.Time { return e.clock },
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.waits = append(e.waits, d)
			e.clock = e.clock.Add(d)
			return nil
		},
		Jitter: func(c time.Duration) time.Duration { return c },
	}
	e.handler.now = func() time.Time { return e.clock }
	e.handler.spread = func(int) int { return 0 }
	return e
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// testJob is a queued job of octo-org/hello-world.
func testJob() fleet.Job {
	return fleet.Job{
		JobID: 29679449, RunID: 10959547, RunAttempt: 1, JobName: "build",
		Repository:     fleet.Repository{Owner: testOrg, Name: testRepo, ID: 1296269, Visibility: "private"},
		Organization:   testOrg,
		InstallationID: testInstallID,
		Labels:         []string{"self-hosted", "image:ubuntu:24.04", "class:medium"},
		ImageRef:       "ubuntu:24.04",
		Class:          "medium",
		ReceivedAt:     time.Date(2026, 11, 27, 7, 59, 0, 0, time.UTC),
	}
}

func executionARN(name string) string {
	return "arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:" + name
}

func invocation(job fleet.Job) fleet.Invocation {
	return fleet.Invocation{State: fleet.State{Job: job}, Execution: executionARN(job.ExecutionName())}
}
