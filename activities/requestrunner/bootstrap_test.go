package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/lambdalocal"
)

// TestBootstrap runs the real requestrunner bootstrap (main.go) under the local Lambda
// Runtime API with App credentials: the runner it registers connects with the unsealed
// config, and the process's whole output never holds the plaintext.
func TestBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Lambda bootstrap")
	}
	e := newEnv(t, envOptions{app: true, scope: "org"})
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the bootstrap: %v\n%s", err, out)
	}
	logs := &syncBuffer{}
	rt := lambdalocal.New(nil, logs)
	api := httptest.NewServer(rt)
	t.Cleanup(func() { rt.Close(); api.Close() })
	err := rt.Start(context.Background(), strings.TrimPrefix(api.URL, "http://"), lambdalocal.Function{
		Name: "requestrunner", Bootstrap: bin, Timeout: 30 * time.Second,
		Env: []string{
			"GITHUB_SECRET_ARN=" + e.handler.cfg.SecretARN,
			"KMS_KEY_ARN=alias/runner-fleet",
			"RUNNER_SCOPE=org",
			"AWS_ENDPOINT_URL=" + e.awsURL,
			"AWS_REGION=" + awsfake.DefaultRegion,
			"AWS_ACCESS_KEY_ID=" + awsfake.TestAccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + awsfake.TestSecretAccessKey,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
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
	if !eventually(logs, `"msg":"runner registered"`) {
		t.Errorf("the bootstrap's JSON log lacks the registration line:\n%s", logs)
	}
	if strings.Contains(logs.String(), plain) || strings.Contains(string(out), plain) {
		t.Error("the plaintext JIT config appears in the bootstrap's output or answer")
	}
}

// eventually reports whether logs come to contain want: the bootstrap's stdout reaches
// the runtime's log writer through a pipe, after the answer.
func eventually(logs *syncBuffer, want string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(logs.String(), want) {
			return true
		}
	}
	return false
}
