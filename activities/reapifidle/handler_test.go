package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

const (
	testPAT     = "test-pat-reapifidle_test_token"
	testScope   = "repo:octo-org/hello-world"
	routeDelete = "actions/delete-self-hosted-runner-from-repo"
	// submittedFixture is a recorded ecs:runTask.sync history; its TaskSubmitted output
	// is the RunTask response Step Functions stores.
	submittedFixture = "../../../shared/fixtures/aws/stepfunctions/history/ecs-runtask-sync.succeeded.json"
)

// env is ReapIfIdle under test: an execution in the Step Functions fake whose history
// the test writes as the engine would, a runner task in the ECS fake, a registration in
// the GitHub fake, real SDK and go-github clients, captured logs and metrics.
type env struct {
	aws       *awsfake.Server
	awsCfg    aws.Config
	awsURL    string
	gh        *githubfake.Server
	handler   *Handler
	logs      *testenv.Buffer
	metrics   *testenv.Buffer
	cluster   string
	execution string
	job       fleet.Job
	runner    githubfake.Runner
	task      string
	waits     []time.Duration
	clock     time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{logs: &testenv.Buffer{}, metrics: &testenv.Buffer{}, clock: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	e.aws, e.awsURL, e.awsCfg = testenv.AWS(t)
	cfg := e.awsCfg
	var err error
	e.cluster = e.aws.ECS.CreateCluster("runner-fleet")

	var secretARN string
	e.gh, secretARN = testenv.GitHub(t, e.aws, testPAT)

	e.job = fleet.Job{
		JobID: 29679449, RunID: 10959547, RunAttempt: 1, JobName: "build",
		Repository: fleet.Repository{Owner: "octo-org", Name: "hello-world", ID: 1296269, Visibility: "private"},
		Labels:     []string{"self-hosted", "class:large"}, ImageRef: "ubuntu:24.04", Class: "large",
	}
	name := e.job.ExecutionName()
	var jit string
	e.runner, jit, err = e.gh.RegisterRunner(testScope, name, e.job.Labels)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.gh.ConnectRunner(jit); err != nil {
		t.Fatal(err)
	}

	e.execution = testenv.Execution(t, e.aws, cfg, e.job)

	conf, err := LoadConfig(mapEnv(map[string]string{"GITHUB_SECRET_ARN": secretARN, "CLUSTER_ARN": e.cluster}))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	github := ghrunner.NewSource(credentials.NewStore(secretsmanager.NewFromConfig(cfg), conf.SecretARN, conf.SecretTTL), ghrunner.Options{Logger: log})
	e.handler = NewHandler(conf, github, ecs.NewFromConfig(cfg), sfn.NewFromConfig(cfg), e.metrics, log)
	e.handler.now = func() time.Time { return e.clock }
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
	return e
}

// launch runs the runner task in the ECS fake and records RunRunner's TaskSubmitted in
// the execution's history, as Step Functions does: the recorded RunTask response with
// this task's ARN.
func (e *env) launch(t *testing.T) {
	t.Helper()
	e.task = testenv.RunnerTask(t, e.aws, e.awsCfg, e.cluster)
	e.appendHistory(t, submittedEvents(t, e.task)...)
}

func (e *env) appendHistory(t *testing.T, events ...awsfake.HistoryEvent) {
	t.Helper()
	if _, err := e.aws.SFN.AppendHistory(e.execution, events...); err != nil {
		t.Fatal(err)
	}
}

// submittedEvents are RunRunner's first history events, from the recording, with
// task as the submitted task.
func submittedEvents(t *testing.T, task string) []awsfake.HistoryEvent {
	t.Helper()
	data, err := os.ReadFile(submittedFixture)
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Recorded struct {
			History struct {
				Events []map[string]json.RawMessage `json:"events"`
			} `json:"get_execution_history"`
		} `json:"recorded"`
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	var out []awsfake.HistoryEvent
	for _, ev := range fx.Recorded.History.Events {
		var typ string
		_ = json.Unmarshal(ev["type"], &typ)
		switch typ {
		case "TaskScheduled", "TaskStarted":
			out = append(out, awsfake.HistoryEvent{Type: typ, Details: map[string]string{"resource": "runTask.sync", "resourceType": "ecs"}})
		case "TaskSubmitted":
			var d struct {
				Output json.RawMessage `json:"output"`
			}
			_ = json.Unmarshal(ev["taskSubmittedEventDetails"], &d)
			// The recording parsed the output; on the wire it is JSON text.
			output := strings.ReplaceAll(string(d.Output), "<task_arn:1>", task)
			out = append(out, awsfake.HistoryEvent{Type: typ, Details: map[string]any{
				"resource": "runTask.sync", "resourceType": "ecs", "output": output,
				"outputDetails": map[string]bool{"truncated": false},
			}})
		}
	}
	if len(out) != 3 {
		t.Fatalf("fixture %s: found %d of the TaskScheduled/Started/Submitted events", submittedFixture, len(out))
	}
	return append([]awsfake.HistoryEvent{{Type: "TaskStateEntered", Details: map[string]any{"name": "RunRunner", "input": "{}"}}}, out...)
}

func (e *env) invocation() fleet.Invocation {
	return fleet.Invocation{
		Execution: e.execution,
		State: fleet.State{Job: e.job, Runner: &fleet.Runner{
			Name: e.runner.Name, ID: e.runner.ID, Scope: testScope, Labels: e.job.Labels, SealedJITConfig: "v1.kms.c2VhbGVk",
		}},
	}
}

func (e *env) taskStatus(t *testing.T) (status, reason string) {
	t.Helper()
	task, ok := e.aws.ECS.Task(e.task)
	if !ok {
		t.Fatalf("task %s not in the ECS fake", e.task)
	}
	return task.LastStatus, task.StoppedReason
}

// metricLines returns the EMF documents written.
func (e *env) metricLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.metrics.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metric line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestReapIfIdle(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(t *testing.T, e *env)
		launch      bool
		want        string
		wantTask    bool // task_arn in the answer
		wantStopped bool
		wantMetric  bool
		wantDeleted bool
	}{
		{name: "idle: registration deleted, task stopped", launch: true,
			want: fleet.ReapReaped, wantTask: true, wantStopped: true, wantMetric: true, wantDeleted: true},
		{name: "busy: GitHub refuses the delete (422), nothing touched", launch: true,
			setup: func(t *testing.T, e *env) { _ = e.gh.SetBusy(e.runner.ID, true) },
			want:  fleet.ReapBusy},
		{name: "the delete decides: 422 although the runner looks idle is busy", launch: true,
			setup: func(t *testing.T, e *env) { e.gh.ForceStatus(routeDelete, http.StatusUnprocessableEntity, 1) },
			want:  fleet.ReapBusy},
		{name: "gone: the ephemeral runner finished and left (404)", launch: true,
			setup: func(t *testing.T, e *env) { _ = e.gh.RemoveRunner(e.runner.ID) },
			want:  fleet.ReapGone, wantDeleted: true},
		{name: "task not submitted yet: reaped, Cleanup stops it later", launch: false,
			want: fleet.ReapReaped, wantMetric: true, wantDeleted: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.launch {
				e.launch(t)
			}
			if tc.setup != nil {
				tc.setup(t, e)
			}
			got, err := e.handler.Handle(context.Background(), e.invocation())
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got.Outcome != tc.want {
				t.Errorf("outcome %q; want %q", got.Outcome, tc.want)
			}
			if tc.wantTask && got.TaskArn != e.task || !tc.wantTask && got.TaskArn != "" {
				t.Errorf("task_arn %q; want %q (%v)", got.TaskArn, e.task, tc.wantTask)
			}
			if tc.launch {
				status, reason := e.taskStatus(t)
				if tc.wantStopped != (status == awsfake.TaskStopped) {
					t.Errorf("task is %s; want stopped=%v", status, tc.wantStopped)
				}
				if tc.wantStopped && reason != fleet.ReapStopReason {
					t.Errorf("stopped reason %q; want %q", reason, fleet.ReapStopReason)
				}
			}
			// One delete, and the history read only when the answer needs it (the task of a
			// reap, or telling a gone runner from an earlier attempt's reap).
			wantHistory := map[string]int{fleet.ReapReaped: 1, fleet.ReapGone: 1, fleet.ReapBusy: 0}[tc.want]
			if d, h := e.gh.CallCount(routeDelete), e.aws.Calls("sfn", "GetExecutionHistory"); d != 1 || h != wantHistory {
				t.Errorf("%d deletes and %d history reads; want 1 and %d", d, h, wantHistory)
			}
			for _, route := range []string{"actions/get-self-hosted-runner-for-repo", "actions/list-self-hosted-runners-for-repo"} {
				if n := e.gh.CallCount(route); n != 0 {
					t.Errorf("%s called %d times; the busy flag is never consulted, the delete is the check", route, n)
				}
			}
			if _, exists := e.gh.RunnerByID(e.runner.ID); exists == tc.wantDeleted {
				t.Errorf("registration exists=%v; want deleted=%v", exists, tc.wantDeleted)
			}
			metrics := e.metricLines(t)
			if !tc.wantMetric {
				if len(metrics) != 0 {
					t.Errorf("metrics %v; want none", metrics)
				}
				return
			}
			if len(metrics) != 1 {
				t.Fatalf("%d metric lines; want 1", len(metrics))
			}
			m := metrics[0]
			meta, _ := json.Marshal(m["_aws"])
			if m["Class"] != "large" || m["IdleReaps"] != float64(1) ||
				!strings.Contains(string(meta), `"Namespace":"RunnerFleet"`) || !strings.Contains(string(meta), `"Dimensions":[["Class"]]`) ||
				!strings.Contains(string(meta), `"Name":"IdleReaps"`) {
				t.Errorf("metric %v is not IdleReaps{Class=large} in namespace RunnerFleet", m)
			}
		})
	}
}

// TestReapIfIdleECSThrottled: the registration is deleted but StopTask stays throttled.
// The activity raises AWSThrottled; the state machine's retry then finds the
// registration gone and, from the earlier attempt's failure in the history, knows it
// was this reap, so it stops the task instead of answering "gone".
func TestReapIfIdleECSThrottled(t *testing.T) {
	e := newEnv(t)
	e.launch(t)
	if err := e.aws.SetFault("ecs", "StopTask", awsfake.Fault{Err: &awsfake.APIError{Code: "ThrottlingException", Message: "Rate exceeded"}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.handler.Handle(context.Background(), e.invocation())
	first := activity.Classify(err)
	if first.Type != fleet.ErrAWSThrottled || !strings.Contains(first.Message, pendingMarker) {
		t.Fatalf("first attempt: %s %q; want AWSThrottled carrying %q", first.Type, first.Message, pendingMarker)
	}
	if n := e.aws.Calls("ecs", "StopTask"); n != 3 {
		t.Errorf("StopTask called %d times; want the SDK's 3 attempts", n)
	}
	if _, exists := e.gh.RunnerByID(e.runner.ID); exists {
		t.Fatal("registration not deleted by the first attempt")
	}
	if status, _ := e.taskStatus(t); status == awsfake.TaskStopped {
		t.Fatal("task stopped although StopTask was throttled")
	}
	// Step Functions records the failed attempt (lambda:invoke TaskFailed, the Lambda
	// error as cause) and retries.
	cause, _ := json.Marshal(map[string]string{"errorType": first.Type, "errorMessage": first.Message})
	e.appendHistory(t, awsfake.HistoryEvent{Type: "TaskFailed", Details: map[string]string{
		"error": first.Type, "cause": string(cause), "resource": "invoke", "resourceType": "lambda",
	}})
	e.aws.ClearFaults()

	got, err := e.handler.Handle(context.Background(), e.invocation())
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got.Outcome != fleet.ReapReaped || got.TaskArn != e.task {
		t.Errorf("retry answered %+v; want reaped with task %s", got, e.task)
	}
	if status, reason := e.taskStatus(t); status != awsfake.TaskStopped || reason != fleet.ReapStopReason {
		t.Errorf("task %s (%q); want stopped by the reap", status, reason)
	}
	if n := len(e.metricLines(t)); n != 1 {
		t.Errorf("%d IdleReaps metrics; want exactly 1 for one reap", n)
	}
}

func TestReapIfIdleFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(e *env, in *fleet.Invocation)
		wantErr string
		want    string
	}{
		{name: "GitHub 5xx outlasting the budget",
			setup:   func(e *env, _ *fleet.Invocation) { e.gh.ForceStatus(routeDelete, http.StatusBadGateway, 0) },
			wantErr: fleet.ErrGitHubUnavailable, want: "unavailable"},
		{name: "GitHub rate limit beyond the budget",
			setup: func(e *env, _ *fleet.Invocation) {
				e.gh.ForceResponse(routeDelete, githubfake.Forced{Status: http.StatusForbidden, Message: "You have exceeded a secondary rate limit.", Header: http.Header{"Retry-After": {"120"}}})
			},
			wantErr: fleet.ErrGitHubRateLimited, want: "rate limit"},
		{name: "credentials rejected",
			setup:   func(e *env, _ *fleet.Invocation) { e.gh.ForceStatus(routeDelete, http.StatusUnauthorized, 1) },
			wantErr: fleet.ErrGitHubAuthFailed, want: "token is invalid"},
		{name: "no runner in the state",
			setup:   func(e *env, in *fleet.Invocation) { in.State.Runner = nil },
			wantErr: fleet.ErrInvalidInput, want: "after RequestRunner"},
		{name: "malformed scope",
			setup:   func(e *env, in *fleet.Invocation) { in.State.Runner.Scope = "repo:octo-org" },
			wantErr: fleet.ErrInvalidInput, want: "runner.scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.launch(t)
			in := e.invocation()
			tc.setup(e, &in)
			_, err := e.handler.Handle(context.Background(), in)
			got := activity.Classify(err)
			if got.Type != tc.wantErr || !strings.Contains(got.Message, tc.want) {
				t.Fatalf("error %s %q; want %s mentioning %q", got.Type, got.Message, tc.wantErr, tc.want)
			}
			if status, _ := e.taskStatus(t); status == awsfake.TaskStopped {
				t.Error("task stopped although the reap failed")
			}
			if _, exists := e.gh.RunnerByID(e.runner.ID); !exists {
				t.Error("registration deleted although the reap failed")
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	good := map[string]string{"GITHUB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s", "CLUSTER_ARN": "arn:aws:ecs:us-east-1:123456789012:cluster/runner-fleet"}
	c, err := LoadConfig(mapEnv(good))
	if err != nil || c.Budget != 20*time.Second {
		t.Fatalf("LoadConfig(%v) = %+v, %v", good, c, err)
	}
	_, err = LoadConfig(mapEnv(map[string]string{"CLUSTER_ARN": "runner-fleet", "GITHUB_BUDGET_SECONDS": "0"}))
	for _, v := range []string{"GITHUB_SECRET_ARN", "CLUSTER_ARN", "GITHUB_BUDGET_SECONDS"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("error %v does not name %s", err, v)
		}
	}
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
