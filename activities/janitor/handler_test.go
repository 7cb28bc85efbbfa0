package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

const testToken = "test-pat-janitor_test_token_not_real"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one janitor with its own AWS and GitHub fakes, real SDK clients and captured
// logs and metrics.
type env struct {
	aws     *awsfake.Server
	gh      *githubfake.Server
	ecs     *ecs.Client
	sfn     *sfn.Client
	clock   *clock
	smArn   string
	cluster string
	h       *Handler
	logs    *bytes.Buffer
	metrics *bytes.Buffer
}

func newEnv(t *testing.T, mutate ...func(*Config)) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	fake := awsfake.New(awsfake.Options{Now: c.Now})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	awsCfg, err := fake.AWSConfig(context.Background(), srv.URL, testenv.AnswerOnce)
	if err != nil {
		t.Fatal(err)
	}
	gh := githubfake.New(githubfake.Config{Clock: c.Now, Seed: 7})
	gh.AddPAT(githubfake.PAT{Token: testToken, Scopes: []string{"repo", "admin:org"}})
	ghSrv := httptest.NewServer(gh)
	t.Cleanup(ghSrv.Close)

	e := &env{aws: fake, gh: gh, ecs: ecs.NewFromConfig(awsCfg), sfn: sfn.NewFromConfig(awsCfg), clock: c,
		logs: &bytes.Buffer{}, metrics: &bytes.Buffer{}}
	e.cluster = fake.ECS.CreateCluster("runner-fleet")
	e.smArn, err = fake.SFN.RegisterStateMachine("RunnerFleet", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, "arn:aws:iam::123456789012:role/sfn")
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := json.Marshal(credentials.Secret{WebhookSecret: "w", Token: testToken, APIURL: ghSrv.URL + githubfake.BasePath + "/"})
	secretArn := fake.SecretsManager.Put("runner-fleet/github", string(secret))
	cfg, err := LoadConfig(mapEnv(map[string]string{
		"CLUSTER_ARN":          e.cluster,
		"STATE_MACHINE_ARN":    e.smArn,
		"GITHUB_SECRET_ARN":    secretArn,
		"RUNNER_SCOPES":        "repo:octo/app, org:acme",
		"ORPHAN_GRACE_SECONDS": "600",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mutate {
		m(&cfg)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ghc := githubFrom(ghrunner.NewSource(credentials.NewStore(secretsmanager.NewFromConfig(awsCfg), cfg.SecretARN, cfg.SecretTTL), ghrunner.Options{Logger: log}))
	e.h, err = NewHandler(cfg, e.ecs, e.sfn, ghc, log, e.metrics)
	if err != nil {
		t.Fatal(err)
	}
	e.h.now = c.Now

	_, err = e.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("runner"), Cpu: aws.String("1024"), Memory: aws.String("2048"),
		NetworkMode: ecstypes.NetworkModeAwsvpc, RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("runner"), Image: aws.String("runner:1"), Essential: aws.Bool(true)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// task starts a runner task tagged with execution ("" for a task that is not the fleet's).
func (e *env) task(t *testing.T, execution string) string {
	t.Helper()
	in := &ecs.RunTaskInput{
		Cluster: aws.String(e.cluster), TaskDefinition: aws.String("runner"), LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
	}
	if execution != "" {
		in.Tags = []ecstypes.Tag{{Key: aws.String("runner-fleet:execution"), Value: aws.String(execution)}}
	}
	out, err := e.ecs.RunTask(context.Background(), in)
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, out)
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	if err := e.aws.ECS.SetTaskRunning(arn); err != nil {
		t.Fatal(err)
	}
	return arn
}

// execution starts an execution named name and, unless status is RUNNING, ends it so.
func (e *env) execution(t *testing.T, name, status string) {
	t.Helper()
	out, err := e.sfn.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: &e.smArn, Name: &name, Input: aws.String("{}")})
	if err != nil {
		t.Fatal(err)
	}
	if status != awsfake.StatusRunning {
		if err := e.aws.SFN.Finish(*out.ExecutionArn, awsfake.Result{Status: status, Output: "{}", Error: "X", Cause: "y"}); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) taskState(t *testing.T, arn string) *awsfake.Task {
	t.Helper()
	task, ok := e.aws.ECS.Task(arn)
	if !ok {
		t.Fatalf("task %s vanished", arn)
	}
	return task
}

func TestTaskSweep(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Scopes = nil })
	e.execution(t, "octo-app-1-1", awsfake.StatusRunning)
	e.execution(t, "octo-app-2-1", awsfake.StatusSucceeded)
	e.execution(t, "octo-app-3-1", awsfake.StatusFailed)
	e.execution(t, "octo-app-4-1", awsfake.StatusSucceeded)

	running := e.task(t, "octo-app-1-1")
	succeeded := e.task(t, "octo-app-2-1")
	failed := e.task(t, "octo-app-3-1")
	missing := e.task(t, "octo-app-99-1") // its execution never existed (or aged out)
	notOurs := e.task(t, "")
	e.clock.Advance(11 * time.Minute)
	young := e.task(t, "octo-app-4-1") // its execution ended, but the task is within the grace

	sum, err := e.h.Sweep(context.Background())
	if err != nil {
		t.Fatalf("Sweep: %v\nlogs:\n%s", err, e.logs)
	}
	want := Summary{TasksChecked: 5, TasksStopped: 3}
	if sum != want {
		t.Errorf("summary = %+v, want %+v\nlogs:\n%s", sum, want, e.logs)
	}
	for arn, wantReason := range map[string]string{
		succeeded: "runner-fleet janitor: execution octo-app-2-1 is SUCCEEDED",
		failed:    "runner-fleet janitor: execution octo-app-3-1 is FAILED",
		missing:   "runner-fleet janitor: execution octo-app-99-1 is missing",
	} {
		task := e.taskState(t, arn)
		if task.DesiredStatus != "STOPPED" || task.StoppedReason != wantReason {
			t.Errorf("task of %s: desired %s, reason %q; want STOPPED with %q", task.Tags["runner-fleet:execution"], task.DesiredStatus, task.StoppedReason, wantReason)
		}
	}
	for name, arn := range map[string]string{"running execution": running, "not the fleet's": notOurs, "within the grace": young} {
		if task := e.taskState(t, arn); task.DesiredStatus != "RUNNING" {
			t.Errorf("task (%s) was stopped: %s", name, task.StoppedReason)
		}
	}
	// One DescribeExecution per distinct execution of an old enough task.
	if n := e.aws.Calls("sfn", "DescribeExecution"); n != 4 {
		t.Errorf("DescribeExecution called %d times, want 4", n)
	}

	// The grace passes for the young task: the next sweep stops it, and leaves the rest.
	e.clock.Advance(10 * time.Minute)
	sum, err = e.h.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := (Summary{TasksChecked: 2, TasksStopped: 1}); sum != want {
		t.Errorf("second sweep = %+v, want %+v", sum, want)
	}
	if task := e.taskState(t, young); task.DesiredStatus != "STOPPED" {
		t.Errorf("task past the grace was left running")
	}
}

func TestTaskSweepPaginatesAndBatches(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Scopes = nil })
	e.execution(t, "octo-app-1-1", awsfake.StatusSucceeded)
	const n = 205 // three ListTasks pages of 100 and three DescribeTasks batches
	for range n {
		e.task(t, "octo-app-1-1")
	}
	e.clock.Advance(time.Hour)
	sum, err := e.h.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.TasksChecked != n || sum.TasksStopped != n || sum.Errors != 0 {
		t.Errorf("summary = %+v, want %d checked and stopped", sum, n)
	}
	if got := e.aws.Calls("ecs", "DescribeTasks"); got != 3 {
		t.Errorf("DescribeTasks called %d times, want 3 batches", got)
	}
	if got := e.aws.Calls("sfn", "DescribeExecution"); got != 1 {
		t.Errorf("DescribeExecution called %d times for one execution, want 1", got)
	}
}

func TestTaskSweepCountsItemFailures(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Scopes = nil })
	e.execution(t, "octo-app-1-1", awsfake.StatusSucceeded)
	e.execution(t, "octo-app-2-1", awsfake.StatusSucceeded)
	e.execution(t, "octo-app-3-1", awsfake.StatusSucceeded)
	a := e.task(t, "octo-app-1-1")
	b := e.task(t, "octo-app-2-1")
	c := e.task(t, "octo-app-3-1")
	e.clock.Advance(time.Hour)
	// The first StopTask fails for good; the first DescribeExecution is throttled.
	must(t, e.aws.SetFault("ecs", "StopTask", awsfake.Fault{Err: &awsfake.APIError{Status: 500, Code: "ServerException", Message: "boom"}, Count: 1}))
	must(t, e.aws.SetFault("sfn", "DescribeExecution", awsfake.Fault{Err: &awsfake.APIError{Code: "ThrottlingException", Message: "Rate exceeded"}, Count: 1}))

	sum, err := e.h.Sweep(context.Background())
	if err != nil {
		t.Fatalf("item failures must not fail the sweep: %v", err)
	}
	if want := (Summary{TasksChecked: 3, TasksStopped: 1, Errors: 2}); sum != want {
		t.Errorf("summary = %+v, want %+v\nlogs:\n%s", sum, want, e.logs)
	}
	stopped := 0
	for _, arn := range []string{a, b, c} {
		if e.taskState(t, arn).DesiredStatus == "STOPPED" {
			stopped++
		}
	}
	if stopped != 1 {
		t.Errorf("%d tasks stopped, want 1", stopped)
	}
	if !strings.Contains(e.logs.String(), "janitor could not stop an orphaned task") {
		t.Errorf("the StopTask failure was not logged:\n%s", e.logs)
	}
}

func TestSweepListFailureIsNamed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Scopes = nil })
	must(t, e.aws.SetFault("ecs", "ListTasks", awsfake.Fault{ThrottleRatio: 1}))
	sum, err := Invoke(e.h)(context.Background(), json.RawMessage(`{"source":"aws.events","detail-type":"Scheduled Event"}`))
	var lambdaErr messages.InvokeResponse_Error
	if !errors.As(err, &lambdaErr) || lambdaErr.Type != fleet.ErrAWSThrottled {
		t.Fatalf("Invoke error = %#v, want type %s", err, fleet.ErrAWSThrottled)
	}
	if sum.Errors != 1 {
		t.Errorf("summary = %+v, want 1 error", sum)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRegistrationSweep(t *testing.T) {
	e := newEnv(t)
	e.execution(t, "octo-app-1-1", awsfake.StatusRunning)
	e.execution(t, "octo-app-2-1", awsfake.StatusSucceeded)
	e.execution(t, "octo-app-3-1", awsfake.StatusSucceeded)
	e.execution(t, "acme-tool-4-1", awsfake.StatusTimedOut)
	e.execution(t, "acme-tool-5-1", awsfake.StatusAborted)
	e.execution(t, "acme-tool-6-1", awsfake.StatusFailed)

	reg := func(scope, name string) (int64, string) {
		r, jit, err := e.gh.RegisterRunner(scope, name, []string{"self-hosted"})
		must(t, err)
		return r.ID, jit
	}
	stillRunning, _ := reg("repo:octo/app", "octo-app-1-1") // offline: its task is still booting
	ended, _ := reg("repo:octo/app", "octo-app-2-1")
	online, jit := reg("repo:octo/app", "octo-app-3-1") // its execution ended but the runner is up
	_, err := e.gh.ConnectRunner(jit)
	must(t, err)
	// Org runners are listed (and swept) in id order: "raced" is the first org delete,
	// and GitHub refuses it with 422 because it took a job after the listing.
	raced, _ := reg("org:acme", "acme-tool-6-1")
	e.gh.ForceStatus("actions/delete-self-hosted-runner-from-org", 422, 1)
	timedOut, _ := reg("org:acme", "acme-tool-4-1")
	busy, _ := reg("org:acme", "acme-tool-5-1")
	must(t, e.gh.SetBusy(busy, true))
	notOurs, _ := reg("org:acme", "build-box-7-1")      // execution-shaped name, no such execution
	other, _ := reg("org:acme", "someone-elses-runner") // not execution-shaped at all

	sum, err := e.h.Sweep(context.Background())
	if err != nil {
		t.Fatalf("Sweep: %v\nlogs:\n%s", err, e.logs)
	}
	all := map[string]int64{"still running": stillRunning, "ended": ended, "online": online, "timed out": timedOut,
		"busy": busy, "raced": raced, "not ours": notOurs, "other": other}
	wantDeleted := map[string]bool{"ended": true, "timed out": true}
	for what, id := range all {
		_, present := e.gh.RunnerByID(id)
		if present == wantDeleted[what] {
			t.Errorf("runner %q (%d): present = %v, want %v", what, id, present, !wantDeleted[what])
		}
	}
	if want := (Summary{RegistrationsChecked: 8, RegistrationsDeleted: 2}); sum != want {
		t.Errorf("summary = %+v, want %+v\nlogs:\n%s", sum, want, e.logs)
	}
	// Only execution-shaped names of offline, idle runners cost a Step Functions call.
	if n := e.aws.Calls("sfn", "DescribeExecution"); n != 5 {
		t.Errorf("DescribeExecution called %d times, want 5", n)
	}
}

func TestScopeFailureIsCountedAndNamed(t *testing.T) {
	e := newEnv(t)
	e.execution(t, "octo-app-2-1", awsfake.StatusSucceeded)
	orphan := e.task(t, "octo-app-2-1")
	r, _, err := e.gh.RegisterRunner("org:acme", "octo-app-2-1", []string{"self-hosted"})
	must(t, err)
	e.clock.Advance(time.Hour)
	// GitHub refuses to list the repository's runners (the token lost its access).
	e.gh.ForceStatus("actions/list-self-hosted-runners-for-repo", 403, 0)

	sum, err := Invoke(e.h)(context.Background(), json.RawMessage(`{}`))
	var lambdaErr messages.InvokeResponse_Error
	if !errors.As(err, &lambdaErr) || lambdaErr.Type != fleet.ErrGitHubAuthFailed {
		t.Fatalf("Invoke error = %#v, want type %s", err, fleet.ErrGitHubAuthFailed)
	}
	if sum.TasksStopped != 1 || sum.RegistrationsDeleted != 1 || sum.Errors != 1 {
		t.Errorf("summary = %+v: the other sweeps must still run, and the failure be counted", sum)
	}
	if e.taskState(t, orphan).DesiredStatus != "STOPPED" {
		t.Error("orphaned task left running")
	}
	if _, ok := e.gh.RunnerByID(r.ID); ok {
		t.Error("the org scope's offline runner was not deleted")
	}
	if strings.Contains(e.logs.String(), testToken) {
		t.Error("the GitHub token appears in the logs")
	}
}

func TestMetricsLine(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Scopes = nil })
	e.execution(t, "octo-app-2-1", awsfake.StatusSucceeded)
	e.task(t, "octo-app-2-1")
	e.clock.Advance(time.Hour)
	if _, err := e.h.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Stopped int `json:"JanitorTasksStopped"`
		Deleted int `json:"JanitorRegistrationsDeleted"`
		Errors  int `json:"JanitorErrors"`
	}
	line := strings.TrimSpace(e.metrics.String())
	if strings.Count(line, "\n") != 0 {
		t.Fatalf("want one EMF line, got:\n%s", line)
	}
	if err := json.Unmarshal([]byte(line), &doc); err != nil {
		t.Fatalf("metrics line is not JSON: %v\n%s", err, line)
	}
	if len(doc.AWS.CloudWatchMetrics) != 1 || doc.AWS.CloudWatchMetrics[0].Namespace != "RunnerFleet" {
		t.Fatalf("metrics directive = %+v, want namespace RunnerFleet", doc.AWS.CloudWatchMetrics)
	}
	names := map[string]bool{}
	for _, m := range doc.AWS.CloudWatchMetrics[0].Metrics {
		names[m.Name] = true
	}
	if !names["JanitorTasksStopped"] || !names["JanitorRegistrationsDeleted"] {
		t.Errorf("metrics = %+v, want JanitorTasksStopped and JanitorRegistrationsDeleted", doc.AWS.CloudWatchMetrics[0].Metrics)
	}
	if doc.Stopped != 1 || doc.Deleted != 0 || doc.Errors != 0 {
		t.Errorf("metric values = %d stopped, %d deleted, %d errors; want 1, 0, 0", doc.Stopped, doc.Deleted, doc.Errors)
	}
	if doc.AWS.Timestamp != e.clock.Now().UnixMilli() {
		t.Errorf("timestamp = %d, want %d", doc.AWS.Timestamp, e.clock.Now().UnixMilli())
	}
}

func TestLoadConfig(t *testing.T) {
	good := map[string]string{
		"CLUSTER_ARN":       "arn:aws:ecs:us-east-1:123456789012:cluster/runner-fleet",
		"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:RunnerFleet",
		"GITHUB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:runner-fleet-AbCdEf",
		"RUNNER_SCOPES":     "repo:octo/app, org:acme",
	}
	cfg, err := LoadConfig(mapEnv(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Scopes) != 2 || cfg.Scopes[0].String() != "repo:octo/app" || cfg.Scopes[1].String() != "org:acme" || cfg.OrphanGrace != 10*time.Minute {
		t.Errorf("config = %+v", cfg)
	}
	if p, _ := executionARNPrefix(good["STATE_MACHINE_ARN"]); p != "arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:" {
		t.Errorf("execution ARN prefix = %q", p)
	}
	tests := []struct {
		name, key, value, wantVar string
	}{
		{"cluster missing", "CLUSTER_ARN", "", "CLUSTER_ARN"},
		{"state machine is an execution", "STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:x", "STATE_MACHINE_ARN"},
		{"scope without kind", "RUNNER_SCOPES", "octo/app", "RUNNER_SCOPES"},
		{"malformed scope", "RUNNER_SCOPES", "repo:octo", "RUNNER_SCOPES"},
		{"scopes without a secret", "GITHUB_SECRET_ARN", "", "GITHUB_SECRET_ARN"},
		{"grace not a number", "ORPHAN_GRACE_SECONDS", "ten minutes", "ORPHAN_GRACE_SECONDS"},
		{"grace too short", "ORPHAN_GRACE_SECONDS", "5", "ORPHAN_GRACE_SECONDS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range good {
				env[k] = v
			}
			env[tt.key] = tt.value
			_, err := LoadConfig(mapEnv(env))
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Var != tt.wantVar {
				t.Errorf("%s=%q: error %v, want a ConfigError naming %s", tt.key, tt.value, err, tt.wantVar)
			}
		})
	}
	// Without scopes the secret is not needed: the registration sweep is off.
	noScopes := map[string]string{"CLUSTER_ARN": good["CLUSTER_ARN"], "STATE_MACHINE_ARN": good["STATE_MACHINE_ARN"]}
	if _, err := LoadConfig(mapEnv(noScopes)); err != nil {
		t.Errorf("config without scopes: %v", err)
	}
}
