package main

import (
	"context"
	"encoding/json"
	"errors"
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

// TestBootstrap runs the real cleanup bootstrap (main.go: configuration from the
// environment, SDK clients from AWS_ENDPOINT_URL, activity.Start) under the local Lambda
// Runtime API, as fleet-local and AWS run it, and invokes it with a state document.
func TestBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Lambda bootstrap")
	}
	e := newEnv(t)
	st := e.baseState()
	for _, c := range cleanupCases() {
		if c.name == "RunnerFailed: the runner crashed mid-job" {
			c.setup(t, e, &st)
		}
	}
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
	awsEnv := []string{
		"AWS_ENDPOINT_URL=" + e.awsURL,
		"AWS_REGION=" + awsfake.DefaultRegion,
		"AWS_ACCESS_KEY_ID=" + awsfake.TestAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + awsfake.TestSecretAccessKey,
	}
	err := rt.Start(context.Background(), strings.TrimPrefix(api.URL, "http://"),
		lambdalocal.Function{
			Name: "cleanup", Bootstrap: bin, Timeout: 30 * time.Second,
			Env: append([]string{"GITHUB_SECRET_ARN=" + e.handler.cfg.SecretARN, "CLUSTER_ARN=" + e.cluster}, awsEnv...),
		},
		lambdalocal.Function{
			Name: "cleanup-misconfigured", Bootstrap: bin, Timeout: 30 * time.Second,
			Env: append([]string{"GITHUB_SECRET_ARN=" + e.handler.cfg.SecretARN}, awsEnv...),
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	payload, _ := json.Marshal(fleet.Invocation{State: st, Execution: e.execution})
	out, err := rt.Invoke(ctx, "cleanup", payload)
	if err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, logs)
	}
	var res fleet.Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("answer %s is not a fleet.Result: %v", out, err)
	}
	if res.Outcome != fleet.OutcomeFailed || res.Error != fleet.ErrRunnerFailed || res.ExitCode == nil || *res.ExitCode != 2 {
		t.Errorf("result %+v; want failed RunnerFailed with exit code 2", res)
	}
	if _, exists := e.gh.RunnerByID(e.runner.ID); exists {
		t.Error("the bootstrap did not delete the registration")
	}

	// A named error reaches Step Functions as the Lambda errorType.
	_, err = rt.Invoke(ctx, "cleanup", []byte(`{"state":{},"execution":"not-an-arn"}`))
	var fe *lambdalocal.FunctionError
	if !errors.As(err, &fe) || fe.Type != fleet.ErrInvalidInput {
		t.Errorf("invalid invocation: %v; want errorType InvalidInput", err)
	}
	// A missing variable fails every invocation as ConfigurationInvalid, naming it.
	_, err = rt.Invoke(ctx, "cleanup-misconfigured", payload)
	if !errors.As(err, &fe) || fe.Type != fleet.ErrConfigurationInvalid || !strings.Contains(fe.Message, "CLUSTER_ARN") {
		t.Errorf("misconfigured function: %v; want errorType ConfigurationInvalid naming CLUSTER_ARN", err)
	}
	if !eventually(logs, `"msg":"execution cleaned up"`) {
		t.Errorf("the bootstrap's JSON log lacks the cleanup line:\n%s", logs)
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
