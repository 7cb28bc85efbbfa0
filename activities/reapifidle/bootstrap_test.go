package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/lambdalocal"
)

// TestBootstrap runs the real reapifidle bootstrap (main.go) under the local Lambda
// Runtime API and reaps an idle runner with it; the IdleReaps metric reaches stdout.
func TestBootstrap(t *testing.T) {
	e := newEnv(t)
	e.launch(t)
	rt, logs := testenv.Bootstrap(t, e.awsURL, lambdalocal.Function{
		Name: "reapifidle", Timeout: 30 * time.Second,
		Env: []string{
			"GITHUB_SECRET_ARN=" + e.handler.cfg.SecretARN,
			"CLUSTER_ARN=" + e.cluster,
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	payload, _ := json.Marshal(e.invocation())
	out, err := rt.Invoke(ctx, "reapifidle", payload)
	if err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, logs)
	}
	var got fleet.Reap
	if err := json.Unmarshal(out, &got); err != nil || got.Outcome != fleet.ReapReaped || got.TaskArn != e.task {
		t.Fatalf("answer %s (%v); want reaped with task %s", out, err, e.task)
	}
	if status, reason := e.taskStatus(t); status != awsfake.TaskStopped || reason != fleet.ReapStopReason {
		t.Errorf("task %s (%q); want stopped by the reap", status, reason)
	}
	if !logs.Eventually(`"IdleReaps":1`) || !strings.Contains(logs.String(), `"Namespace":"RunnerFleet"`) {
		t.Errorf("no IdleReaps EMF line on stdout:\n%s", logs)
	}
}
