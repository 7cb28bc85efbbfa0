package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/lambdalocal"
)

// TestBootstrap runs the real cleanup bootstrap (main.go: configuration from the
// environment, SDK clients from AWS_ENDPOINT_URL, activity.Start) under the local Lambda
// Runtime API, as fleet-local and AWS run it, and invokes it with a state document.
func TestBootstrap(t *testing.T) {
	e := newEnv(t)
	st := e.baseState()
	for _, c := range cleanupCases() {
		if c.name == "RunnerFailed: the runner crashed mid-job" {
			c.setup(t, e, &st)
		}
	}
	rt, logs := testenv.Bootstrap(t, e.awsURL,
		lambdalocal.Function{
			Name: "cleanup", Timeout: 30 * time.Second,
			Env: []string{"GITHUB_SECRET_ARN=" + e.handler.cfg.SecretARN, "CLUSTER_ARN=" + e.cluster},
		},
		lambdalocal.Function{
			Name: "cleanup-misconfigured", Timeout: 30 * time.Second,
			Env: []string{"GITHUB_SECRET_ARN=" + e.handler.cfg.SecretARN},
		},
	)
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
	if !logs.Eventually(`"msg":"execution cleaned up"`) {
		t.Errorf("the bootstrap's JSON log lacks the cleanup line:\n%s", logs)
	}
}
