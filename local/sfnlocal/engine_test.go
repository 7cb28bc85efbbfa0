package sfnlocal

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/lambdalocal"
)

// harness is an awsfake with this engine attached and the echo Lambda behind lambdalocal.
type harness struct {
	fake     *awsfake.Server
	eng      *Engine
	sfn      *sfn.Client
	ecs      *ecs.Client
	cluster  string
	taskDef  string
	exitCode int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fake := awsfake.New(awsfake.Options{})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg, err := fake.AWSConfig(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "../lambdalocal/testdata/echo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build echo: %v\n%s", err, out)
	}
	rt := lambdalocal.New(nil, nil)
	rtSrv := httptest.NewServer(rt)
	t.Cleanup(func() { rt.Close(); rtSrv.Close() })
	if err := rt.Start(context.Background(), strings.TrimPrefix(rtSrv.URL, "http://"), lambdalocal.Function{Name: "echo", Bootstrap: bin, Concurrency: 2, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	h := &harness{fake: fake, sfn: sfn.NewFromConfig(cfg), ecs: ecs.NewFromConfig(cfg)}
	integ := &Integrations{Lambda: rt, ECS: h.ecs, SFN: h.sfn, CodeBuild: codebuild.NewFromConfig(cfg), Poll: 20 * time.Millisecond}
	eng, err := Start(context.Background(), fake, integ, Options{Root: root, RetryScale: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	h.eng = eng
	h.cluster = fake.ECS.CreateCluster("fleet")
	td, err := h.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("runner"), RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		NetworkMode: ecstypes.NetworkModeAwsvpc, Cpu: aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("runner"), Image: aws.String("img"), Essential: aws.Bool(true)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.taskDef = *td.TaskDefinition.TaskDefinitionArn
	// Tasks run for 50 ms, then exit with h.exitCode (a simulated runner).
	fake.ECS.OnTaskStarted = func(task *awsfake.Task) {
		arn, code := task.ARN, h.exitCode
		go func() {
			_ = fake.ECS.SetTaskRunning(arn)
			time.Sleep(50 * time.Millisecond)
			_ = fake.ECS.StopTaskWithExit(arn, code, "", "")
		}()
	}
	return h
}

func (h *harness) definition() string {
	d := map[string]any{
		"StartAt": "Invoke",
		"States": map[string]any{
			"Invoke": map[string]any{
				"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 30,
				"Parameters":     map[string]any{"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:echo", "Payload": map[string]any{"value.$": "$.greeting"}},
				"ResultSelector": map[string]any{"echoed.$": "$.Payload"},
				"ResultPath":     "$.invoke", "Next": "Run",
			},
			"Run": map[string]any{
				"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "TimeoutSeconds": 30,
				"Parameters": map[string]any{
					"Cluster": h.cluster, "TaskDefinition": h.taskDef, "LaunchType": "FARGATE",
					"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": map[string]any{"Subnets": []string{"subnet-1"}}},
					"Overrides":            map[string]any{"ContainerOverrides": []any{map[string]any{"Name": "runner", "Environment": []any{map[string]any{"Name": "X", "Value.$": "$$.Execution.Name"}}}}},
				},
				"ResultSelector": map[string]any{"exit.$": "$.Containers[0].ExitCode"},
				"ResultPath":     "$.run",
				"Catch":          []any{map[string]any{"ErrorEquals": []string{"States.TaskFailed"}, "ResultPath": "$.failure", "Next": "Failed"}},
				"End":            true,
			},
			"Failed": map[string]any{"Type": "Fail", "Error": "RunnerFailed", "Cause": "the task exited non-zero"},
		},
	}
	b, _ := json.Marshal(d)
	return string(b)
}

func (h *harness) run(t *testing.T, name string) *sfn.DescribeExecutionOutput {
	t.Helper()
	ctx := context.Background()
	arn, err := h.fake.SFN.RegisterStateMachine("Test", h.definition(), "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn, Name: &name, Input: aws.String(`{"greeting":"hello"}`)})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d, err := h.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			return d
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("execution did not finish in 30 s")
	return nil
}

func (h *harness) historyTypes(t *testing.T, arn string) []string {
	t.Helper()
	out, err := h.sfn.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range out.Events {
		types = append(types, string(e.Type))
	}
	return types
}

func TestLambdaThenRunTaskSync(t *testing.T) {
	h := newHarness(t)
	d := h.run(t, "ok-1")
	if d.Status != sfntypes.ExecutionStatusSucceeded {
		h.dump(t, *d.ExecutionArn)
		t.Fatalf("status %s error %v cause %v", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil {
		t.Fatal(err)
	}
	if out["invoke"].(map[string]any)["echoed"] != "hello" || out["run"].(map[string]any)["exit"] != float64(0) {
		t.Fatalf("output %v", out)
	}
	got := strings.Join(h.historyTypes(t, *d.ExecutionArn), ",")
	want := "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskSucceeded,TaskStateExited,TaskStateEntered,TaskScheduled,TaskStarted,TaskSubmitted,TaskSucceeded,TaskStateExited,ExecutionSucceeded"
	if got != want {
		t.Fatalf("history\n got %s\nwant %s", got, want)
	}
	// Two Task states, no retry: two billed transitions, as the engine counts them.
	if n, ok := h.eng.Transitions(*d.ExecutionArn); !ok || n != 2 {
		t.Errorf("Transitions = %d, %v; want 2, true", n, ok)
	}
	if _, ok := h.eng.Transitions("arn:aws:states:us-east-1:123456789012:execution:nope:nope"); ok {
		t.Error("Transitions reports a count for an execution that never ran")
	}
	// The container got the execution name from the Context Object, and Step Functions' StartedBy.
	tasks := h.fake.ECS.Tasks()
	if len(tasks) != 1 || tasks[0].StartedBy != "AWS Step Functions" || !strings.Contains(tasks[0].Containers[0].Environment["X"], "ok-1") {
		t.Fatalf("task %+v", tasks[0])
	}
}

func TestNonZeroExitIsCaught(t *testing.T) {
	h := newHarness(t)
	h.exitCode = 2
	d := h.run(t, "fail-1")
	if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "RunnerFailed" {
		t.Fatalf("status %s error %s", d.Status, aws.ToString(d.Error))
	}
	types := h.historyTypes(t, *d.ExecutionArn)
	if !strings.Contains(strings.Join(types, ","), "TaskSubmitted,TaskFailed,TaskStateExited,FailStateEntered,ExecutionFailed") &&
		!strings.Contains(strings.Join(types, ","), "TaskSubmitted,TaskFailed,FailStateEntered,ExecutionFailed") {
		t.Fatalf("history %v", types)
	}
}

func TestStopExecutionStopsTheTask(t *testing.T) {
	for _, tc := range []struct {
		name string
		// duringRunTask stops the execution inside RunTask, after ECS created the task
		// and before its answer reaches the integration (whose context is then done).
		duringRunTask bool
	}{
		{name: "while waiting for the task"},
		{name: "while RunTask is answering", duringRunTask: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			arn, _ := h.fake.SFN.RegisterStateMachine("Test", h.definition(), "")
			execARN := strings.Replace(arn, ":stateMachine:", ":execution:", 1) + ":stop-1"
			stop := func() {
				if _, err := h.sfn.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: &execARN}); err != nil {
					t.Error(err)
				}
			}
			started := make(chan struct{})
			h.fake.ECS.OnTaskStarted = func(task *awsfake.Task) {
				if tc.duringRunTask {
					stop()
				} else {
					arn := task.ARN
					go func() { _ = h.fake.ECS.SetTaskRunning(arn) }() // runs until stopped
				}
				close(started)
			}
			out, err := h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &arn, Name: aws.String("stop-1"), Input: aws.String(`{"greeting":"x"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.ExecutionArn) != execARN {
				t.Fatalf("execution ARN %s, want %s", aws.ToString(out.ExecutionArn), execARN)
			}
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("RunTask was not called in 10 s")
			}
			if !tc.duringRunTask {
				stop()
			}
			waitFor(t, func() bool { return h.fake.ECS.Tasks()[0].DesiredStatus == "STOPPED" })
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition not met in 10 s")
}

func (h *harness) dump(t *testing.T, arn string) {
	out, _ := h.sfn.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: &arn, MaxResults: 1000})
	for _, e := range out.Events {
		b, _ := json.Marshal(e)
		t.Log(string(b))
	}
}
