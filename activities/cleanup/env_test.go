package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

const (
	testPAT     = "test-pat-cleanup_test_token"
	testScope   = "repo:octo-org/hello-world"
	routeDelete = "actions/delete-self-hosted-runner-from-repo"
	historyDir  = "../../../shared/fixtures/aws/stepfunctions/history/"
	// The recorded ecs:runTask.sync histories: TaskSucceeded's output and TaskFailed's
	// cause are the stopped task in PascalCase, as Step Functions hands them over.
	succeededFixture     = historyDir + "ecs-runtask-sync.succeeded.json"
	failedToStartFixture = historyDir + "ecs-runtask-sync.task-failed-to-start.json"
	codebuildFixture     = "../../../shared/fixtures/aws/codebuild/batch-get-builds.failed.assembled.json"
)

// env is Cleanup under test: an execution in the Step Functions fake, a runner task in
// the ECS fake, a registration in the GitHub fake, the real SDK and go-github clients.
type env struct {
	aws       *awsfake.Server
	awsCfg    aws.Config
	awsURL    string
	gh        *githubfake.Server
	handler   *Handler
	logs      *testenv.Buffer
	cluster   string
	execution string
	job       fleet.Job
	runner    githubfake.Runner
	jit       string
	task      string
	clock     time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{logs: &testenv.Buffer{}, clock: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	e.aws, e.awsURL, e.awsCfg = testenv.AWS(t)
	cfg := e.awsCfg
	var err error
	e.cluster = e.aws.ECS.CreateCluster("runner-fleet")

	var secretARN string
	e.gh, secretARN = testenv.GitHub(t, e.aws, testPAT)

	e.job = fleet.Job{
		JobID: 29679449, RunID: 10959547, RunAttempt: 1, JobName: "build",
		Repository: fleet.Repository{Owner: "octo-org", Name: "hello-world", ID: 1296269, Visibility: "private"},
		Labels:     []string{"self-hosted", "image:ubuntu:24.04", "class:medium"}, ImageRef: "ubuntu:24.04", Class: "medium",
	}
	name := e.job.ExecutionName()
	e.runner, e.jit, err = e.gh.RegisterRunner(testScope, name, e.job.Labels)
	if err != nil {
		t.Fatal(err)
	}

	e.execution = testenv.Execution(t, e.aws, cfg, e.job)

	conf, err := LoadConfig(mapEnv(map[string]string{"GITHUB_SECRET_ARN": secretARN, "CLUSTER_ARN": e.cluster, "CLEANUP_BUSY_WAIT_SECONDS": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	github := ghrunner.NewSource(credentials.NewStore(secretsmanager.NewFromConfig(cfg), conf.SecretARN, conf.SecretTTL), ghrunner.Options{Logger: log})
	e.handler = NewHandler(conf, github, ecs.NewFromConfig(cfg), sfn.NewFromConfig(cfg), log)
	e.handler.retrier = ghrunner.Retrier{
		Logger: log,
		Now:    func() time.Time { return e.clock },
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.clock = e.clock.Add(d)
			return nil
		},
		Jitter: func(c time.Duration) time.Duration { return c },
	}
	return e
}

// launch runs the runner task in the ECS fake (RUNNING) and, when submitted, records
// RunRunner's TaskSubmitted in the execution's history as Step Functions does.
func (e *env) launch(t *testing.T, submitted bool) {
	t.Helper()
	e.task = testenv.RunnerTask(t, e.aws, e.awsCfg, e.cluster)
	if !submitted {
		return
	}
	output := strings.ReplaceAll(string(recorded(t, succeededFixture, "TaskSubmitted", "taskSubmittedEventDetails", "output")), "<task_arn:1>", e.task)
	if _, err := e.aws.SFN.AppendHistory(e.execution,
		awsfake.HistoryEvent{Type: "TaskStateEntered", Details: map[string]any{"name": "RunRunner", "input": "{}"}},
		awsfake.HistoryEvent{Type: "TaskScheduled", Details: map[string]string{"resource": "runTask.sync", "resourceType": "ecs"}},
		awsfake.HistoryEvent{Type: "TaskStarted", Details: map[string]string{"resource": "runTask.sync", "resourceType": "ecs"}},
		awsfake.HistoryEvent{Type: "TaskSubmitted", Details: map[string]any{"resource": "runTask.sync", "resourceType": "ecs", "output": output}},
	); err != nil {
		t.Fatal(err)
	}
}

// recorded returns the member field of the details of the first event typ in a
// recorded history fixture, as the JSON text it is on the wire.
func recorded(t *testing.T, file, typ, details, field string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
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
	for _, ev := range fx.Recorded.History.Events {
		var got string
		_ = json.Unmarshal(ev["type"], &got)
		if got != typ {
			continue
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(ev[details], &d); err != nil || d[field] == nil {
			t.Fatalf("%s: %s has no %s.%s", file, typ, details, field)
		}
		return d[field]
	}
	t.Fatalf("%s has no %s event", file, typ)
	return nil
}

// taskJSON is a recorded stopped task (TaskSucceeded output or TaskFailed cause) made
// this env's task, with edit applied to its decoded form.
func (e *env) taskJSON(t *testing.T, file, typ, details, field string, edit func(task map[string]any)) string {
	t.Helper()
	raw := strings.ReplaceAll(string(recorded(t, file, typ, details, field)), "<task_arn:1>", e.task)
	var task map[string]any
	if err := json.Unmarshal([]byte(raw), &task); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(task)
	}
	b, _ := json.Marshal(task)
	return string(b)
}

// succeededTask is the recorded runTask.sync output: exit 0, EssentialContainerExited.
func (e *env) succeededTask(t *testing.T, edit func(map[string]any)) string {
	return e.taskJSON(t, succeededFixture, "TaskSucceeded", "taskSucceededEventDetails", "output", edit)
}

// exited sets the task's container exit code and stop reason.
func exited(code int, reason string) func(map[string]any) {
	return func(task map[string]any) {
		task["Containers"].([]any)[0].(map[string]any)["ExitCode"] = code
		if reason != "" {
			task["StoppedReason"] = reason
		}
	}
}

// caughtTask is RunnerStopped's branch output for a runTask.sync failure.
func caughtTask(state, errName, cause string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"failure": map[string]fleet.StepFailure{state: {Error: errName, Cause: cause}}})
	return b
}

// lambdaCause is the cause Step Functions records for a Lambda error.
func lambdaCause(errorType, message string) string {
	b, _ := json.Marshal(map[string]any{"errorType": errorType, "errorMessage": message, "trace": []string{}})
	return string(b)
}

// pascal turns a camelCase API document into Step Functions' PascalCase.
func pascal(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, v := range x {
			r := []rune(k)
			r[0] = unicode.ToUpper(r[0])
			out[string(r)] = pascal(v)
		}
		return out
	case []any:
		for i := range x {
			x[i] = pascal(x[i])
		}
	}
	return v
}

// failedBuildCause is BuildImage's caught cause: the child RunnerFleetImageBuild
// execution's description, whose Cause (from BuildFailed) is the CodeBuild build as
// startBuild.sync reports it, {"Build": {...}}, taken from the recorded-shape fixture.
func failedBuildCause(t *testing.T) (cause, deepLink string) {
	t.Helper()
	data, err := os.ReadFile(codebuildFixture)
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Response struct {
			Builds []map[string]any `json:"builds"`
		} `json:"response"`
	}
	if err := json.Unmarshal(data, &fx); err != nil || len(fx.Response.Builds) == 0 {
		t.Fatalf("%s: %v", codebuildFixture, err)
	}
	build := fx.Response.Builds[0]
	deepLink = build["logs"].(map[string]any)["deepLink"].(string)
	inner, _ := json.Marshal(map[string]any{"Build": pascal(build)})
	child, _ := json.Marshal(map[string]any{
		"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:RunnerFleetImageBuild:ubuntu-24.04-abc123",
		"Name":         "ubuntu-24.04-abc123", "Status": "FAILED", "Error": fleet.ErrImageBuildFailed, "Cause": string(inner),
		"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:RunnerFleetImageBuild",
	})
	return string(child), deepLink
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
