package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

const (
	fixtureRepo = "lineville/elastic-machines-testing"
	ghToken     = "test-pat-webhooktests000000000000000000000"
)

// lifecycleEnv adds an ECS cluster and a fake GitHub (credentials in the secret) to env.
type lifecycleEnv struct {
	*env
	gh      *githubfake.Server
	cluster string
	ecs     *ecs.Client
	sfn     *sfn.Client
}

func newLifecycleEnv(t *testing.T) *lifecycleEnv {
	t.Helper()
	gh := githubfake.New(githubfake.Config{})
	gh.AddPAT(githubfake.PAT{Token: ghToken, Scopes: []string{"repo"}})
	ghSrv := httptest.NewServer(gh)
	t.Cleanup(ghSrv.Close)
	var cluster string
	e := newEnv(t, func(c *Config) {})
	cluster = e.aws.ECS.CreateCluster("runner-fleet")
	e.handler.cfg.ClusterARN = cluster
	e.aws.SecretsManager.Put(secretName, `{"webhook_secret":"`+testSecret+`","token":"`+ghToken+`","api_url":"`+ghSrv.URL+githubfake.BasePath+`"}`)
	e.handler.deps.GitHub = GitHubFromSecret(slog.New(slog.DiscardHandler))
	return &lifecycleEnv{env: e, gh: gh, cluster: cluster, ecs: ecs.NewFromConfig(e.awsCfg), sfn: sfn.NewFromConfig(e.awsCfg)}
}

// runner starts an execution named name with a submitted task, as RunRunner leaves it.
func (l *lifecycleEnv) runner(t *testing.T, name string) (execARN, taskARN string) {
	t.Helper()
	ctx := context.Background()
	out, err := l.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &l.smArn, Name: &name, Input: aws.String("{}")})
	if err != nil {
		t.Fatal(err)
	}
	td, err := l.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("runner-fleet-test"), RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		NetworkMode: ecstypes.NetworkModeAwsvpc, Cpu: aws.String("1024"), Memory: aws.String("2048"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("runner"), Image: aws.String("runner:latest"), Essential: aws.Bool(true)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := l.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: &l.cluster, TaskDefinition: td.TaskDefinition.TaskDefinitionArn, LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
	})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, run)
	}
	submitted, _ := json.Marshal(map[string]any{"Tasks": []map[string]any{{"TaskArn": *run.Tasks[0].TaskArn}}, "Failures": []any{}})
	if _, err := l.aws.SFN.AppendHistory(*out.ExecutionArn, awsfake.HistoryEvent{Type: "TaskSubmitted", Details: map[string]any{
		"resourceType": "ecs", "resource": "runTask.sync", "output": string(submitted),
	}}); err != nil {
		t.Fatal(err)
	}
	return *out.ExecutionArn, *run.Tasks[0].TaskArn
}

// jobEvent rewrites the self-hosted fixture into the given action on runnerName.
func jobEvent(t *testing.T, action, runnerName string, labels []string) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(mustRead("testdata/workflow_job.queued.ours.image-and-class.json"), &doc); err != nil {
		t.Fatal(err)
	}
	doc["action"] = action
	wj := doc["workflow_job"].(map[string]any)
	wj["labels"] = labels
	wj["created_at"] = "2026-11-27T08:00:00Z"
	if runnerName != "" {
		wj["runner_name"], wj["status"], wj["started_at"] = runnerName, "in_progress", "2026-11-27T08:00:42Z"
	} else {
		wj["runner_name"], wj["status"], wj["conclusion"] = nil, "completed", "cancelled"
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return b
}

var ourLabels = []string{"self-hosted", "image:ubuntu:24.04", "class:medium"}

func TestJobStartedTagsTheTaskAndPublishesLatency(t *testing.T) {
	l := newLifecycleEnv(t)
	_, task := l.runner(t, "lineville-elastic-machines-testing-999-1")
	resp := l.handler.Serve(context.Background(), delivery("workflow_job", jobEvent(t, "in_progress", "lineville-elastic-machines-testing-999-1", ourLabels), testSecret))
	if resp.Status != http.StatusOK || resp.Body.Status != StatusRecorded {
		t.Fatalf("got %d %+v", resp.Status, resp.Body)
	}
	tags, err := l.ecs.ListTagsForResource(context.Background(), &ecs.ListTagsForResourceInput{ResourceArn: &task})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range tags.Tags {
		got[*tg.Key] = *tg.Value
	}
	if got[TagJob] != fixtureRepo+"#12877621891" {
		t.Errorf("task tags %v; want %s = %s#12877621891", got, TagJob, fixtureRepo)
	}
	var metric map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(l.metrics.Bytes()), &metric); err != nil {
		t.Fatalf("metric line %q: %v", l.metrics.String(), err)
	}
	if metric["JobStartLatency"] != float64(42000) || metric["Class"] != "medium" || metric["Image"] != "ubuntu:24.04" {
		t.Errorf("metric %v; want 42000 ms for class medium, image ubuntu:24.04", metric)
	}
}

func TestJobStartedOnSomeoneElsesRunner(t *testing.T) {
	l := newLifecycleEnv(t)
	for _, name := range []string{"my runner", "octo-api-1-1"} {
		resp := l.handler.Serve(context.Background(), delivery("workflow_job", jobEvent(t, "in_progress", name, ourLabels), testSecret))
		if resp.Status != http.StatusOK || resp.Body.Status != StatusIgnored || !strings.Contains(resp.Body.Reason, "not one of this fleet's") {
			t.Fatalf("%q: got %d %+v", name, resp.Status, resp.Body)
		}
	}
	if l.metrics.Len() != 0 {
		t.Fatalf("metric published for a foreign runner: %s", l.metrics.String())
	}
}

func TestCancelledBeforeStartReapsAnIdleRunner(t *testing.T) {
	l := newLifecycleEnv(t)
	scope := "repo:" + fixtureRepo
	own := "lineville-elastic-machines-testing-12877621891-1"
	// A busy runner with the same labels (it took another job) and an idle one that is
	// not the job's own; plus an idle runner with other labels.
	busyExec, busyTask := l.runner(t, "lineville-elastic-machines-testing-7-1")
	idleExec, idleTask := l.runner(t, "lineville-elastic-machines-testing-8-1")
	busy, _, _ := l.gh.RegisterRunner(scope, "lineville-elastic-machines-testing-7-1", ourLabels)
	if err := l.gh.SetBusy(busy.ID, true); err != nil {
		t.Fatal(err)
	}
	idle, _, _ := l.gh.RegisterRunner(scope, "lineville-elastic-machines-testing-8-1", ourLabels)
	other, _, _ := l.gh.RegisterRunner(scope, "lineville-elastic-machines-testing-9-1", []string{"self-hosted", "class:large"})

	resp := l.handler.Serve(context.Background(), delivery("workflow_job", jobEvent(t, "completed", "", ourLabels), testSecret))
	if resp.Status != http.StatusOK || resp.Body.Status != StatusReaped || resp.Body.Execution != idle.Name {
		t.Fatalf("got %d %+v; want %s reaped (own runner %s not registered yet)", resp.Status, resp.Body, idle.Name, own)
	}
	if _, ok := l.gh.RunnerByID(idle.ID); ok {
		t.Error("idle registration still exists")
	}
	for _, id := range []int64{busy.ID, other.ID} {
		if _, ok := l.gh.RunnerByID(id); !ok {
			t.Errorf("runner %d should not have been touched", id)
		}
	}
	if st, _ := l.aws.SFN.Status(idleExec); st != awsfake.StatusAborted {
		t.Errorf("reaped execution is %s; want ABORTED", st)
	}
	if st, _ := l.aws.SFN.Status(busyExec); st != awsfake.StatusRunning {
		t.Errorf("busy runner's execution is %s; want RUNNING", st)
	}
	if tk, _ := l.aws.ECS.Task(idleTask); tk.DesiredStatus != "STOPPED" {
		t.Errorf("reaped task desired status %s; want STOPPED", tk.DesiredStatus)
	}
	if tk, _ := l.aws.ECS.Task(busyTask); tk.DesiredStatus == "STOPPED" {
		t.Error("busy runner's task was stopped")
	}

	// The same cancellation again finds nothing left to reap and touches nothing.
	resp = l.handler.Serve(context.Background(), delivery("workflow_job", jobEvent(t, "completed", "", ourLabels), testSecret))
	if resp.Status != http.StatusOK || resp.Body.Status != StatusIgnored || !strings.Contains(resp.Body.Reason, "no idle runner") {
		t.Fatalf("second cancellation: %d %+v", resp.Status, resp.Body)
	}
	if st, _ := l.aws.SFN.Status(busyExec); st != awsfake.StatusRunning {
		t.Errorf("busy runner's execution is %s; want RUNNING", st)
	}
}

func TestCancelledBeforeStartPrefersTheJobsOwnRunner(t *testing.T) {
	l := newLifecycleEnv(t)
	scope := "repo:" + fixtureRepo
	own := "lineville-elastic-machines-testing-12877621891-1"
	l.runner(t, "lineville-elastic-machines-testing-8-1")
	ownExec, _ := l.runner(t, own)
	if _, _, err := l.gh.RegisterRunner(scope, "lineville-elastic-machines-testing-8-1", ourLabels); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.gh.RegisterRunner(scope, own, ourLabels); err != nil {
		t.Fatal(err)
	}
	resp := l.handler.Serve(context.Background(), delivery("workflow_job", jobEvent(t, "completed", "", ourLabels), testSecret))
	if resp.Body.Status != StatusReaped || resp.Body.Execution != own {
		t.Fatalf("got %+v; want the job's own runner %s reaped", resp.Body, own)
	}
	if st, _ := l.aws.SFN.Status(ownExec); st != awsfake.StatusAborted {
		t.Errorf("own execution is %s; want ABORTED", st)
	}
}

func TestCancelledBeforeStartGitHubDown(t *testing.T) {
	l := newLifecycleEnv(t)
	l.runner(t, "lineville-elastic-machines-testing-8-1")
	l.gh.RegisterRunner("repo:"+fixtureRepo, "lineville-elastic-machines-testing-8-1", ourLabels)
	l.gh.SetFaults(githubfake.Faults{ServerErrorRatio: 1})
	resp := l.handler.Serve(context.Background(), delivery("workflow_job", jobEvent(t, "completed", "", ourLabels), testSecret))
	if resp.Status != http.StatusBadGateway {
		t.Fatalf("got %d %+v; want 502 so the delivery can be redelivered", resp.Status, resp.Body)
	}
	if strings.Contains(l.logs.String(), ghToken) {
		t.Fatal("the GitHub token reached the logs")
	}
}
