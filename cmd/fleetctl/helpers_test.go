package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
	"github.com/runnerfleet/fleet/statemachine"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Test fixtures' names.
const (
	testToken      = "test-pat-fleetctltesttoken000000000000000000"
	testWebhookKey = "whsec-test-0123456789"
	testCluster    = "runner-fleet"
	testRepo       = "runner-fleet"
	testClassParam = "/runner-fleet/classes"
	testSecretName = "runner-fleet/github"
	testWebhookURL = "https://fleet.example.com/webhook"
)

// clock is a settable test clock shared by the fakes and fleetctl.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a fleet on the fakes: AWS (with the stack's outputs) and GitHub.
type env struct {
	t         *testing.T
	clock     *clock
	aws       *awsfake.Server
	awsURL    string
	gh        *githubfake.Server
	ghURL     string
	cfg       aws.Config
	sfn       *sfn.Client
	ecs       *ecs.Client
	smARN     string
	ibARN     string
	secretARN string
	taskDef   string
	vars      map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}, vars: map[string]string{}}
	e.aws = awsfake.New(awsfake.Options{Now: e.clock.Now})
	hs := httptest.NewServer(e.aws)
	t.Cleanup(hs.Close)
	e.awsURL = hs.URL
	e.gh = githubfake.New(githubfake.Config{Clock: e.clock.Now})
	gs := httptest.NewServer(e.gh)
	t.Cleanup(gs.Close)
	e.ghURL = gs.URL
	e.gh.AddPAT(githubfake.PAT{Token: testToken, Scopes: []string{"repo", "admin:repo_hook"}})

	var err error
	if e.cfg, err = e.aws.AWSConfig(context.Background(), e.awsURL); err != nil {
		t.Fatal(err)
	}
	e.sfn, e.ecs = sfn.NewFromConfig(e.cfg), ecs.NewFromConfig(e.cfg)
	if e.smARN, err = e.aws.SFN.RegisterStateMachine(statemachine.RunnerFleetName, string(statemachine.RunnerFleet()), "arn:aws:iam::123456789012:role/fleet"); err != nil {
		t.Fatal(err)
	}
	if e.ibARN, err = e.aws.SFN.RegisterStateMachine(statemachine.ImageBuildName, string(statemachine.ImageBuild()), "arn:aws:iam::123456789012:role/build"); err != nil {
		t.Fatal(err)
	}
	e.secretARN = e.aws.SecretsManager.Put(testSecretName, e.secretDoc(testWebhookKey, testToken))
	e.aws.ECS.CreateCluster(testCluster)
	e.aws.ECR.CreateRepository(testRepo)
	table, _ := json.Marshal(fleet.DefaultClassTable())
	e.aws.SSM.Put(testClassParam, string(table))
	e.aws.CloudFormation.SetStack(DefaultStack, map[string]string{
		OutputWebhookURL: testWebhookURL, OutputSecretARN: e.secretARN, OutputStateMachineARN: e.smARN,
		"StateMachineConsoleUrl": "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/statemachines/view/" + e.smARN,
		OutputClusterName:        testCluster, OutputEcrRepositoryURI: e.aws.ECR.ImageURI(testRepo, "")[:len(e.aws.ECR.ImageURI(testRepo, ""))-1],
		OutputClassTableParameter: testClassParam,
	})
	td, err := e.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("runner-fleet-0123456789abcdef0123-x64"), Cpu: aws.String("1024"), Memory: aws.String("2048"),
		NetworkMode: ecstypes.NetworkModeAwsvpc, RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String(fleet.RunnerContainer), Image: aws.String("runner:latest"), Essential: aws.Bool(true),
			LogConfiguration: &ecstypes.LogConfiguration{LogDriver: ecstypes.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": "/runner-fleet/runners", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "runner",
			}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.taskDef = aws.ToString(td.TaskDefinition.TaskDefinitionArn)
	return e
}

func (e *env) secretDoc(webhookSecret, token string) string {
	doc, _ := json.Marshal(map[string]any{"webhook_secret": webhookSecret, "token": token, "api_url": e.ghURL + githubfake.BasePath + "/"})
	return string(doc)
}

// result is one fleetctl run.
type result struct {
	stdout, stderr string
	code           int
}

// run runs fleetctl in-process with args and stdin.
func (e *env) run(stdin string, args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	m := NewMainFor(e)
	m.Stdin, m.Stdout, m.Stderr = strings.NewReader(stdin), &out, &errb
	code := m.Exit(m.Run(context.Background(), args))
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// NewMainFor is a Main on e's fakes, clock and variables, with empty streams.
func NewMainFor(e *env) *Main {
	return &Main{
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv: func(k string) string { return e.vars[k] },
		LoadAWSConfig: func(ctx context.Context) (aws.Config, error) {
			return e.aws.AWSConfig(ctx, e.awsURL)
		},
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Now:        e.clock.Now,
	}
}

// mustFleet resolves the fleet as a command without flags would.
func mustFleet(t *testing.T, e *env) *Fleet {
	t.Helper()
	f, err := NewMainFor(e).fleet(context.Background(), &fleetFlags{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// phase is how far a seeded runner got.
type phase int

const (
	phaseResolving phase = iota
	phaseBuilding
	phaseWaiting
	phaseRunning
	phaseDone
	phaseReaped
	phaseFailed
)

// seed describes one runner to create.
type seed struct {
	owner, repo string
	job         int64
	image       string
	class       string
	phase       phase
	// registered registers the runner on the fake GitHub (its id goes into the state).
	registered bool
}

// seeded is what seedRunner made.
type seeded struct {
	name, arn, task string
	runnerID        int64
}

// seedRunner starts an execution through the SDK and writes the history the engine
// would (local/sfnlocal/events.go shapes) up to s.phase.
func (e *env) seedRunner(s seed) seeded {
	e.t.Helper()
	ctx := context.Background()
	if s.owner == "" {
		s.owner, s.repo = "octo", "hello"
	}
	if s.image == "" {
		s.image = "ubuntu:24.04"
	}
	if s.class == "" {
		s.class = "medium"
	}
	job := fleet.Job{
		JobID: s.job, RunID: 9000 + s.job, RunAttempt: 1, JobName: "build", WorkflowName: "CI",
		Repository: fleet.Repository{Owner: s.owner, Name: s.repo, ID: 77, Visibility: "private"},
		Labels:     []string{"self-hosted", "image:" + s.image, "class:" + s.class},
		ImageRef:   s.image, Class: s.class, DeliveryID: fmt.Sprintf("d-%d", s.job), ReceivedAt: e.clock.Now(),
	}
	input, _ := json.Marshal(job)
	name := job.ExecutionName()
	out, err := e.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(e.smARN), Name: aws.String(name), Input: aws.String(string(input))})
	if err != nil {
		e.t.Fatal(err)
	}
	res := seeded{name: name, arn: aws.ToString(out.ExecutionArn)}
	state := fleet.State{Job: job}
	doc := func() string { b, _ := json.Marshal(state); return string(b) }
	appendEv := func(typ string, details any) {
		e.clock.Advance(2 * time.Second)
		if _, err := e.aws.SFN.AppendHistory(res.arn, awsfake.HistoryEvent{Type: typ, Details: details}); err != nil {
			e.t.Fatal(err)
		}
	}
	lambda := func(stateName, output string) {
		appendEv("TaskStateEntered", map[string]any{"name": stateName, "input": doc(), "inputDetails": map[string]bool{"truncated": false}})
		appendEv("TaskScheduled", map[string]any{"resourceType": "lambda", "resource": "invoke", "region": "us-east-1", "parameters": `{"FunctionName":"x"}`})
		appendEv("TaskStarted", map[string]any{"resourceType": "lambda", "resource": "invoke"})
		appendEv("TaskSucceeded", map[string]any{"resourceType": "lambda", "resource": "invoke", "output": `{"Payload":` + output + `}`, "outputDetails": map[string]bool{"truncated": false}})
		appendEv("TaskStateExited", map[string]any{"name": stateName, "output": doc(), "outputDetails": map[string]bool{"truncated": false}})
	}
	choice := func(stateName string) {
		appendEv("ChoiceStateEntered", map[string]any{"name": stateName, "input": doc()})
		appendEv("ChoiceStateExited", map[string]any{"name": stateName, "output": doc()})
	}

	exists := s.phase != phaseBuilding
	state.Plan = &fleet.Plan{
		Image: fleet.ImagePlan{Ref: s.image, Tag: "ubuntu-24.04-x64-0123456789abcdef0123", Exists: exists, Arch: "x64", TaskDefinitionArn: e.taskDef,
			BuildName: "ubuntu-24_04-x64-0123456789abcdef0123-2026112708"},
		Class:    fleet.DefaultClassTable()[s.class],
		Timeouts: fleet.Timeouts{BuildSeconds: 3600, IdleSeconds: 300, RunnerTTLSeconds: 21600},
	}
	planJSON, _ := json.Marshal(state.Plan)
	lambda("ResolveImage", string(planJSON))
	choice("ImageReady?")
	if s.phase == phaseResolving {
		return res
	}
	if s.phase == phaseBuilding {
		appendEv("TaskStateEntered", map[string]any{"name": "BuildImage", "input": doc()})
		appendEv("TaskScheduled", map[string]any{"resourceType": "states", "resource": "startExecution.sync:2", "region": "us-east-1", "parameters": "{}"})
		appendEv("TaskStarted", map[string]any{"resourceType": "states", "resource": "startExecution.sync:2"})
		return res
	}

	state.Runner = &fleet.Runner{Name: name, ID: 4242, Scope: "repo:" + s.owner + "/" + s.repo, Labels: job.Labels, SealedJITConfig: "sealed:AAAA"}
	if s.registered {
		r, _, err := e.gh.RegisterRunner(state.Runner.Scope, name, job.Labels)
		if err != nil {
			e.t.Fatal(err)
		}
		state.Runner.ID, res.runnerID = r.ID, r.ID
	}
	runnerJSON, _ := json.Marshal(state.Runner)
	lambda("RequestRunner", string(runnerJSON))
	appendEv("ParallelStateEntered", map[string]any{"name": "Runner", "input": doc()})
	appendEv("ParallelStateStarted", nil)
	appendEv("TaskStateEntered", map[string]any{"name": "RunRunner", "input": doc()})
	appendEv("WaitStateEntered", map[string]any{"name": "WaitForIdleTimeout", "input": doc()})
	appendEv("TaskScheduled", map[string]any{"resourceType": "ecs", "resource": "runTask.sync", "region": "us-east-1", "parameters": "{}"})
	appendEv("TaskStarted", map[string]any{"resourceType": "ecs", "resource": "runTask.sync"})
	rt, err := e.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(testCluster), TaskDefinition: aws.String(e.taskDef),
		CapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE"), Weight: 1}},
		NetworkConfiguration:     &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		Tags:                     []ecstypes.Tag{{Key: aws.String("runner-fleet:execution"), Value: aws.String(name)}},
	})
	if err != nil || len(rt.Tasks) == 0 {
		e.t.Fatalf("RunTask: %v %+v", err, rt)
	}
	res.task = aws.ToString(rt.Tasks[0].TaskArn)
	if err := e.aws.ECS.SetTaskRunning(res.task); err != nil {
		e.t.Fatal(err)
	}
	appendEv("TaskSubmitted", map[string]any{"resourceType": "ecs", "resource": "runTask.sync", "output": `{"Tasks":[{"TaskArn":"` + res.task + `","LastStatus":"PROVISIONING"}]}`})
	if s.phase == phaseWaiting {
		return res
	}
	if _, err := e.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(res.task), Tags: []ecstypes.Tag{{Key: aws.String(jobTag), Value: aws.String(fmt.Sprint(s.job))}}}); err != nil {
		e.t.Fatal(err)
	}
	if s.phase == phaseRunning {
		return res
	}

	e.clock.Advance(5 * time.Minute)
	exit := 0
	outcome, errName, cause := fleet.OutcomeJobCompleted, "", ""
	switch s.phase {
	case phaseReaped:
		outcome = fleet.OutcomeReapedIdle
		if err := e.aws.ECS.StopTaskWithExit(res.task, 143, "UserInitiated", fleet.ReapStopReason); err != nil {
			e.t.Fatal(err)
		}
		exit = 143
		appendEv("TaskStateEntered", map[string]any{"name": "ReapIfIdle", "input": doc()})
		appendEv("TaskStateExited", map[string]any{"name": "ReapIfIdle", "output": `{"outcome":"reaped","task_arn":"` + res.task + `"}`})
	case phaseFailed:
		exit = 2
		outcome, errName, cause = fleet.OutcomeFailed, fleet.ErrRunnerFailed, "the runner exited with code 2 mid-job; see its log"
		if err := e.aws.ECS.StopTaskWithExit(res.task, 2, "EssentialContainerExited", "Essential container in task exited"); err != nil {
			e.t.Fatal(err)
		}
		appendEv("TaskFailed", map[string]any{"resourceType": "ecs", "resource": "runTask.sync", "error": "States.TaskFailed", "cause": `{"TaskArn":"` + res.task + `"}`})
		appendEv("PassStateEntered", map[string]any{"name": "RunnerStopped", "input": doc()})
	default:
		if err := e.aws.ECS.StopTaskWithExit(res.task, 0, "EssentialContainerExited", "Essential container in task exited"); err != nil {
			e.t.Fatal(err)
		}
		appendEv("TaskSucceeded", map[string]any{"resourceType": "ecs", "resource": "runTask.sync", "output": `{"TaskArn":"` + res.task + `"}`})
		appendEv("TaskStateExited", map[string]any{"name": "RunRunner", "output": `{"TaskArn":"` + res.task + `"}`})
	}
	resultDoc, _ := json.Marshal(fleet.Result{Outcome: outcome, RunnerName: name, TaskArn: res.task, ExitCode: &exit, JobRan: s.phase != phaseReaped, Error: errName, Cause: cause})
	lambda("Cleanup", string(resultDoc))
	if s.phase == phaseFailed {
		appendEv("ChoiceStateEntered", map[string]any{"name": "Outcome?", "input": string(resultDoc)})
		appendEv("FailStateEntered", map[string]any{"name": "Failed", "input": string(resultDoc)})
		if err := e.aws.SFN.Finish(res.arn, awsfake.Result{Status: awsfake.StatusFailed, Error: errName, Cause: cause}); err != nil {
			e.t.Fatal(err)
		}
		return res
	}
	appendEv("ChoiceStateEntered", map[string]any{"name": "Outcome?", "input": string(resultDoc)})
	appendEv("SucceedStateEntered", map[string]any{"name": "Done", "input": string(resultDoc)})
	if err := e.aws.SFN.Finish(res.arn, awsfake.Result{Status: awsfake.StatusSucceeded, Output: string(resultDoc)}); err != nil {
		e.t.Fatal(err)
	}
	return res
}
