package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/lambdalocal"
)

// TestBootstrap runs the real requestrunner bootstrap (main.go) under the local Lambda
// Runtime API with App credentials: the runner it registers connects with the unsealed
// config, and the process's whole output never holds the plaintext.
func TestBootstrap(t *testing.T) {
	e := newEnv(t, envOptions{app: true, scope: "org"})
	rt, logs := testenv.Bootstrap(t, e.awsURL, lambdalocal.Function{
		Name: "requestrunner", Timeout: 30 * time.Second,
		Env: []string{
			"GITHUB_SECRET_ARN=" + e.handler.cfg.SecretARN,
			"KMS_KEY_ARN=alias/runner-fleet",
			"RUNNER_SCOPE=org",
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	payload, _ := json.Marshal(invocation(testJob()))
	out, err := rt.Invoke(ctx, "requestrunner", payload)
	if err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, logs)
	}
	var got fleet.Runner
	if err := json.Unmarshal(out, &got); err != nil || got.Scope != "org:octo-org" || got.ID == 0 {
		t.Fatalf("answer %s (%v); want an organisation runner", out, err)
	}
	plain := e.open(t, got)
	if _, err := e.gh.ConnectRunner(plain); err != nil {
		t.Errorf("the unsealed config does not connect: %v", err)
	}
	if !logs.Eventually(`"msg":"runner registered"`) {
		t.Errorf("the bootstrap's JSON log lacks the registration line:\n%s", logs)
	}
	if strings.Contains(logs.String(), plain) || strings.Contains(string(out), plain) {
		t.Error("the plaintext JIT config appears in the bootstrap's output or answer")
	}
}
