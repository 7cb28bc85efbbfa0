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

// TestBootstrap runs the real reapifidle bootstrap (main.go) under the local Lambda
// Runtime API and reaps an idle runner with it; the IdleReaps metric reaches stdout.
func TestBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Lambda bootstrap")
	}
	e := newEnv(t)
	e.launch(t)
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
		Name: "reapifidle", Bootstrap: bin, Timeout: 30 * time.Second,
		Env: []string{
			"GITHUB_SECRET_ARN=" + e.handler.cfg.SecretARN,
			"CLUSTER_ARN=" + e.cluster,
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
	if !eventually(logs, `"IdleReaps":1`) || !strings.Contains(logs.String(), `"Namespace":"RunnerFleet"`) {
		t.Errorf("no IdleReaps EMF line on stdout:\n%s", logs)
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
