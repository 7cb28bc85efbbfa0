package awsfake

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

type ecsFixture struct {
	srv      *Server
	client   *ecs.Client
	cluster  string
	taskDef  string
	network  *types.NetworkConfiguration
	started  []*Task
	startedM sync.Mutex
}

func newECSFake(t *testing.T) *ecsFixture {
	t.Helper()
	srv, cfg, _ := newTestFake(t, Options{})
	f := &ecsFixture{srv: srv, client: ecs.NewFromConfig(cfg)}
	f.cluster = srv.ECS.CreateCluster("runner-fleet")
	srv.ECS.OnTaskStarted = func(task *Task) {
		f.startedM.Lock()
		f.started = append(f.started, task)
		f.startedM.Unlock()
	}
	out, err := f.client.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("runner"), Cpu: aws.String("1024"), Memory: aws.String("2048"),
		NetworkMode: types.NetworkModeAwsvpc, RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("runner"), Image: aws.String("ghcr.io/actions/runner:latest"), Essential: aws.Bool(true),
			Environment: []types.KeyValuePair{{Name: aws.String("FROM_DEF"), Value: aws.String("1")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.taskDef = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	f.network = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-1"}}}
	return f
}

func (f *ecsFixture) run(t *testing.T, mutate func(*ecs.RunTaskInput)) (*ecs.RunTaskOutput, error) {
	t.Helper()
	in := &ecs.RunTaskInput{
		Cluster: aws.String("runner-fleet"), TaskDefinition: aws.String("runner"),
		CapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 1}},
		NetworkConfiguration:     f.network, StartedBy: aws.String("octo-repo-1-1"),
		Tags: []types.Tag{{Key: aws.String("runner-fleet:execution"), Value: aws.String("octo-repo-1-1")}},
		Overrides: &types.TaskOverride{Cpu: aws.String("2048"), Memory: aws.String("4096"), ContainerOverrides: []types.ContainerOverride{{
			Name: aws.String("runner"), Environment: []types.KeyValuePair{{Name: aws.String("RUNNER_FLEET_SEALED_JIT"), Value: aws.String("sealed")}},
		}}},
	}
	if mutate != nil {
		mutate(in)
	}
	return f.client.RunTask(context.Background(), in)
}

func (f *ecsFixture) describe(t *testing.T, arn string, include ...types.TaskField) types.Task {
	t.Helper()
	out, err := f.client.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String(f.cluster), Tasks: []string{arn}, Include: include})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("DescribeTasks(%s) = %d tasks, failures %+v", arn, len(out.Tasks), out.Failures)
	}
	return out.Tasks[0]
}

func TestECSRunTaskFargateSpot(t *testing.T) {
	f := newECSFake(t)
	out, err := f.run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 1 || len(out.Failures) != 0 {
		t.Fatalf("RunTask = %d tasks, failures %+v", len(out.Tasks), out.Failures)
	}
	task := out.Tasks[0]
	arn := aws.ToString(task.TaskArn)
	if !strings.HasPrefix(arn, "arn:aws:ecs:us-east-1:123456789012:task/runner-fleet/") || len(arn) != len("arn:aws:ecs:us-east-1:123456789012:task/runner-fleet/")+32 {
		t.Errorf("task ARN = %q", arn)
	}
	checks := map[string][2]string{
		"lastStatus":           {aws.ToString(task.LastStatus), "PROVISIONING"},
		"desiredStatus":        {aws.ToString(task.DesiredStatus), "RUNNING"},
		"launchType":           {string(task.LaunchType), "FARGATE"},
		"capacityProviderName": {aws.ToString(task.CapacityProviderName), "FARGATE_SPOT"},
		"cpu":                  {aws.ToString(task.Cpu), "2048"},
		"memory":               {aws.ToString(task.Memory), "4096"},
		"startedBy":            {aws.ToString(task.StartedBy), "octo-repo-1-1"},
		"group":                {aws.ToString(task.Group), "family:runner"},
		"taskDefinitionArn":    {aws.ToString(task.TaskDefinitionArn), f.taskDef},
		"clusterArn":           {aws.ToString(task.ClusterArn), f.cluster},
		"containers[0].name":   {aws.ToString(task.Containers[0].Name), "runner"},
		"override env":         {aws.ToString(task.Overrides.ContainerOverrides[0].Environment[0].Value), "sealed"},
	}
	for field, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", field, c[0], c[1])
		}
	}
	if task.CreatedAt == nil || time.Since(*task.CreatedAt) > time.Minute {
		t.Errorf("createdAt = %v", task.CreatedAt)
	}
	if len(f.started) != 1 || f.started[0].ARN != arn {
		t.Fatalf("OnTaskStarted saw %+v", f.started)
	}
	env := f.started[0].Containers[0].Environment
	if env["RUNNER_FLEET_SEALED_JIT"] != "sealed" || env["FROM_DEF"] != "1" || f.started[0].Tags["runner-fleet:execution"] != "octo-repo-1-1" {
		t.Errorf("started task env %v tags %v", env, f.started[0].Tags)
	}
}

func TestECSRunTaskValidation(t *testing.T) {
	f := newECSFake(t)
	big := strings.Repeat("x", 8200)
	tests := []struct {
		name    string
		mutate  func(*ecs.RunTaskInput)
		code    string
		message string
	}{
		{"overrides over 8 KiB", func(in *ecs.RunTaskInput) {
			in.Overrides.ContainerOverrides[0].Environment[0].Value = aws.String(big)
		}, "InvalidParameterException", "Container Overrides length must be at most 8192"},
		{"startedBy over 36", func(in *ecs.RunTaskInput) { in.StartedBy = aws.String(strings.Repeat("a", 37)) }, "InvalidParameterException", ""},
		{"tag value over 256", func(in *ecs.RunTaskInput) { in.Tags[0].Value = aws.String(strings.Repeat("v", 257)) }, "InvalidParameterException", ""},
		{"no network configuration", func(in *ecs.RunTaskInput) { in.NetworkConfiguration = nil }, "InvalidParameterException", "Network Configuration must be provided when networkMode 'awsvpc' is specified."},
		{"launch type and strategy", func(in *ecs.RunTaskInput) { in.LaunchType = types.LaunchTypeFargate }, "InvalidParameterException", "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."},
		{"unknown cluster", func(in *ecs.RunTaskInput) { in.Cluster = aws.String("nope") }, "ClusterNotFoundException", "Cluster not found."},
		{"unknown task definition", func(in *ecs.RunTaskInput) { in.TaskDefinition = aws.String("nope:1") }, "InvalidParameterException", "TaskDefinition not found."},
		{"cpu and memory Fargate refuses", func(in *ecs.RunTaskInput) { in.Overrides.Memory = aws.String("1024") }, "ClientException", ""},
		{"override for unknown container", func(in *ecs.RunTaskInput) { in.Overrides.ContainerOverrides[0].Name = aws.String("sidecar") }, "InvalidParameterException", ""},
		{"count over 10", func(in *ecs.RunTaskInput) { in.Count = aws.Int32(11) }, "InvalidParameterException", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.run(t, tc.mutate)
			switch tc.code {
			case "ClusterNotFoundException":
				wantAPIError[*types.ClusterNotFoundException](t, err, tc.code, tc.message)
			case "ClientException":
				wantAPIError[*types.ClientException](t, err, tc.code, tc.message)
			default:
				wantAPIError[*types.InvalidParameterException](t, err, tc.code, tc.message)
			}
		})
	}
	if len(f.started) != 0 {
		t.Errorf("refused calls started %d tasks", len(f.started))
	}
	// Exactly at the limits is fine: 36-character startedBy, 256-character tag value.
	if _, err := f.run(t, func(in *ecs.RunTaskInput) {
		in.StartedBy = aws.String(strings.Repeat("a", 36))
		in.Tags[0].Value = aws.String(strings.Repeat("v", 256))
	}); err != nil {
		t.Errorf("at the limits: %v", err)
	}
}

func TestECSWireForm(t *testing.T) {
	srv, _, url := newTestFake(t, Options{})
	srv.ECS.CreateCluster("c")
	// The SDK refuses an empty subnet list itself; other clients reach the fake with it.
	status, ct, body := rawCall(t, url, "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition", "application/x-amz-json-1.1",
		`{"family":"x","cpu":"256","memory":"512","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],"containerDefinitions":[{"name":"c","image":"i"}]}`, true)
	if status != 200 || ct != "application/x-amz-json-1.1" {
		t.Fatalf("RegisterTaskDefinition = %d %q %v", status, ct, body)
	}
	if td := body["taskDefinition"].(map[string]any); td["revision"] != 1.0 {
		t.Errorf("taskDefinition = %v", td)
	}
	status, _, body = rawCall(t, url, "AmazonEC2ContainerServiceV20141113.RunTask", "application/x-amz-json-1.1",
		`{"cluster":"c","taskDefinition":"x","launchType":"FARGATE","networkConfiguration":{"awsvpcConfiguration":{"subnets":[]}}}`, true)
	if status != 400 || body["__type"] != "InvalidParameterException" || body["message"] != "subnets can not be empty." {
		t.Errorf("RunTask without subnets = %d %v", status, body)
	}
	if err := srv.SetFault("ecs", "ListTasks", Fault{ThrottleRatio: 1}); err != nil {
		t.Fatal(err)
	}
	status, _, body = rawCall(t, url, "AmazonEC2ContainerServiceV20141113.ListTasks", "application/x-amz-json-1.1", `{"cluster":"c"}`, true)
	if status != 400 || body["__type"] != "ThrottlingException" || body["message"] != "Rate exceeded" {
		t.Errorf("throttled ListTasks = %d %v, want the documented 400 ThrottlingException 'Rate exceeded'", status, body)
	}
	if err := srv.SetFault("ecs", "NoSuchOperation", Fault{}); err == nil {
		t.Error("SetFault accepted an operation the fake does not emulate")
	}
}

func TestECSCapacityShortageAnswersFailures(t *testing.T) {
	f := newECSFake(t)
	f.srv.ECS.SetCapacityShortage("FARGATE_SPOT", 1)
	out, err := f.run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != CapacityReason {
		t.Fatalf("RunTask = tasks %d failures %+v, want the capacity failure", len(out.Tasks), out.Failures)
	}
	// The shortage was for one placement, and only on Spot.
	out, err = f.run(t, nil)
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("second RunTask = %v %+v", err, out)
	}
	f.srv.ECS.SetCapacityShortage("FARGATE_SPOT", -1)
	out, err = f.run(t, func(in *ecs.RunTaskInput) {
		in.CapacityProviderStrategy = nil
		in.LaunchType = types.LaunchTypeFargate
	})
	if err != nil || len(out.Tasks) != 1 || aws.ToString(out.Tasks[0].CapacityProviderName) != "" {
		t.Fatalf("on-demand RunTask during a Spot shortage = %v %+v", err, out)
	}
}

func TestECSThrottling(t *testing.T) {
	f := newECSFake(t)
	if err := f.srv.SetFault("ecs", "RunTask", Fault{Bucket: NewTokenBucket(1, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run(t, nil); err != nil {
		t.Fatal(err)
	}
	_, err := f.run(t, nil)
	wantAPIError[*smithy.GenericAPIError](t, err, "ThrottlingException", "Rate exceeded")
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Error("the SDK's retryer does not classify the answer as a throttle")
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
		t.Error("the SDK's retryer does not retry the answer")
	}

	// With the standard retryer, two throttles then success: one SDK call, three HTTP calls.
	f.srv.ClearFaults()
	f.srv.ResetCalls()
	throttle := &APIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	if err := f.srv.SetFault("ecs", "*", Fault{Err: throttle, Count: 2}); err != nil {
		t.Fatal(err)
	}
	retrying := ecs.New(f.client.Options(), func(o *ecs.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxBackoff = time.Millisecond })
	})
	out, err := retrying.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String(f.cluster), Tasks: []string{"x"}})
	if err != nil || len(out.Failures) != 1 {
		t.Fatalf("DescribeTasks through throttles = %v %+v", err, out)
	}
	if n := f.srv.Calls("ecs", "DescribeTasks"); n != 3 {
		t.Errorf("DescribeTasks reached the fake %d times, want 3 (two throttled, one answered)", n)
	}
	if counts := f.srv.CallCounts(); counts["ecs.DescribeTasks"] != 3 {
		t.Errorf("CallCounts = %v", counts)
	}

	f.srv.ClearFaults()
	f.srv.ECS.LaunchBucket = NewTokenBucket(2, 0)
	_, err = f.run(t, func(in *ecs.RunTaskInput) { in.Count = aws.Int32(3) })
	wantAPIError[*smithy.GenericAPIError](t, err, "ThrottlingException", "Rate exceeded")
}

func TestECSTaskLifecycle(t *testing.T) {
	f := newECSFake(t)
	ecsAPI := f.srv.ECS
	tests := []struct {
		name         string
		run          bool
		exit         int
		stopCode     string
		wantExit     *int32
		wantStopCode types.TaskStopCode
		wantReason   string
	}{
		{"job done", true, 0, "", aws.Int32(0), types.TaskStopCodeEssentialContainerExited, "Essential container in task exited"},
		{"job failed", true, 2, "", aws.Int32(2), types.TaskStopCodeEssentialContainerExited, "Essential container in task exited"},
		{"image pull failed", false, 0, StopCodeTaskFailedToStart, nil, types.TaskStopCodeTaskFailedToStart, "CannotPullContainerError: pull access denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := f.run(t, nil)
			if err != nil {
				t.Fatal(err)
			}
			arn := aws.ToString(out.Tasks[0].TaskArn)
			if tc.run {
				if err := ecsAPI.SetTaskRunning(arn); err != nil {
					t.Fatal(err)
				}
				running := f.describe(t, arn)
				if aws.ToString(running.LastStatus) != "RUNNING" || running.StartedAt == nil || aws.ToString(running.Containers[0].LastStatus) != "RUNNING" {
					t.Errorf("running task = %s started %v", aws.ToString(running.LastStatus), running.StartedAt)
				}
			}
			reason := ""
			if tc.stopCode == StopCodeTaskFailedToStart {
				reason = tc.wantReason
			}
			if err := ecsAPI.StopTaskWithExit(arn, tc.exit, tc.stopCode, reason); err != nil {
				t.Fatal(err)
			}
			stopped := f.describe(t, arn)
			if aws.ToString(stopped.LastStatus) != "STOPPED" || aws.ToString(stopped.DesiredStatus) != "STOPPED" || stopped.StopCode != tc.wantStopCode || aws.ToString(stopped.StoppedReason) != tc.wantReason || stopped.StoppedAt == nil {
				t.Errorf("stopped task = %s/%s %s %q %v", aws.ToString(stopped.LastStatus), aws.ToString(stopped.DesiredStatus), stopped.StopCode, aws.ToString(stopped.StoppedReason), stopped.StoppedAt)
			}
			got := stopped.Containers[0].ExitCode
			if (got == nil) != (tc.wantExit == nil) || (got != nil && *got != *tc.wantExit) {
				t.Errorf("exitCode = %v, want %v", got, tc.wantExit)
			}
			if err := ecsAPI.StopTaskWithExit(arn, 0, "", ""); err == nil {
				t.Error("stopping a STOPPED task again was accepted")
			}
		})
	}
}

func TestECSStopTaskWithExitNeedsARunningTask(t *testing.T) {
	f := newECSFake(t)
	out, err := f.run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	if err := f.srv.ECS.StopTaskWithExit(arn, 0, "", ""); err == nil {
		t.Fatal("a task that never ran stopped with EssentialContainerExited")
	}
	if err := f.srv.ECS.StopTaskWithExit(arn, 1, StopCodeSpotInterruption, ""); err != nil {
		t.Fatal(err)
	}
	got := f.describe(t, arn)
	if got.Containers[0].ExitCode != nil || got.StopCode != types.TaskStopCodeSpotInterruption || aws.ToString(got.StoppedReason) != "Your Spot Task was interrupted." {
		t.Errorf("interrupted while provisioning = exit %v, %s %q", got.Containers[0].ExitCode, got.StopCode, aws.ToString(got.StoppedReason))
	}
}

func TestECSDescribeTasksTagsAndMissing(t *testing.T) {
	f := newECSFake(t)
	out, err := f.run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	if tags := f.describe(t, arn).Tags; len(tags) != 0 {
		t.Errorf("tags without include TAGS: %+v", tags)
	}
	tags := f.describe(t, arn, types.TaskFieldTags).Tags
	if len(tags) != 1 || aws.ToString(tags[0].Key) != "runner-fleet:execution" {
		t.Errorf("tags with include TAGS: %+v", tags)
	}
	id := arn[strings.LastIndex(arn, "/")+1:]
	if got := f.describe(t, id); aws.ToString(got.TaskArn) != arn {
		t.Errorf("by id: %q", aws.ToString(got.TaskArn))
	}
	desc, err := f.client.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String("runner-fleet"), Tasks: []string{"0123456789abcdef0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Tasks) != 0 || len(desc.Failures) != 1 || aws.ToString(desc.Failures[0].Reason) != "MISSING" {
		t.Errorf("unknown task = %+v", desc)
	}
}

func TestECSStopTask(t *testing.T) {
	t.Run("without a stop hook the task stops at once", func(t *testing.T) {
		f := newECSFake(t)
		out, _ := f.run(t, nil)
		arn := aws.ToString(out.Tasks[0].TaskArn)
		f.srv.ECS.SetTaskRunning(arn)
		stop, err := f.client.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("runner-fleet"), Task: aws.String(arn), Reason: aws.String("runner timed out")})
		if err != nil {
			t.Fatal(err)
		}
		task := stop.Task
		if aws.ToString(task.LastStatus) != "STOPPED" || task.StopCode != types.TaskStopCodeUserInitiated || aws.ToString(task.StoppedReason) != "runner timed out" || aws.ToInt32(task.Containers[0].ExitCode) != 143 {
			t.Errorf("stopped = %s %s %q exit %v", aws.ToString(task.LastStatus), task.StopCode, aws.ToString(task.StoppedReason), task.Containers[0].ExitCode)
		}
	})
	t.Run("with a stop hook the owner ends the task", func(t *testing.T) {
		f := newECSFake(t)
		var asked []*Task
		f.srv.ECS.OnTaskStopping = func(task *Task) { asked = append(asked, task) }
		out, _ := f.run(t, nil)
		arn := aws.ToString(out.Tasks[0].TaskArn)
		f.srv.ECS.SetTaskRunning(arn)
		stop, err := f.client.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("runner-fleet"), Task: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(stop.Task.DesiredStatus) != "STOPPED" || aws.ToString(stop.Task.LastStatus) != "RUNNING" || len(asked) != 1 {
			t.Fatalf("stopping = %s/%s, hook calls %d", aws.ToString(stop.Task.LastStatus), aws.ToString(stop.Task.DesiredStatus), len(asked))
		}
		if err := f.srv.ECS.StopTaskWithExit(arn, 0, "", ""); err != nil {
			t.Fatal(err)
		}
		got := f.describe(t, arn)
		if got.StopCode != types.TaskStopCodeUserInitiated || aws.ToString(got.StoppedReason) != "Task stopped by user" || aws.ToInt32(got.Containers[0].ExitCode) != 0 {
			t.Errorf("after the owner ended it: %s %q %v", got.StopCode, aws.ToString(got.StoppedReason), got.Containers[0].ExitCode)
		}
	})
	t.Run("an owner that never ends the task is overtaken by the stop timeout", func(t *testing.T) {
		f := newECSFake(t)
		f.srv.ECS.OnTaskStopping = func(*Task) {}
		f.srv.ECS.StopTimeout = 20 * time.Millisecond
		out, _ := f.run(t, nil)
		arn := aws.ToString(out.Tasks[0].TaskArn)
		f.srv.ECS.SetTaskRunning(arn)
		if _, err := f.client.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("runner-fleet"), Task: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := f.describe(t, arn)
			if aws.ToString(got.LastStatus) == "STOPPED" {
				if aws.ToInt32(got.Containers[0].ExitCode) != 137 || got.StopCode != types.TaskStopCodeUserInitiated {
					t.Errorf("killed task: exit %v stop code %s", got.Containers[0].ExitCode, got.StopCode)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the task was never killed after StopTimeout")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("unknown task", func(t *testing.T) {
		f := newECSFake(t)
		_, err := f.client.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("runner-fleet"), Task: aws.String("nope")})
		wantAPIError[*types.InvalidParameterException](t, err, "InvalidParameterException", "")
	})
}

func TestECSListTasks(t *testing.T) {
	f := newECSFake(t)
	var arns []string
	for i := range 5 {
		out, err := f.run(t, func(in *ecs.RunTaskInput) {
			if i%2 == 1 {
				in.StartedBy = aws.String("janitor")
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(out.Tasks[0].TaskArn))
	}
	if err := f.srv.ECS.SetTaskRunning(arns[0]); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.ECS.StopTaskWithExit(arns[0], 0, "", ""); err != nil {
		t.Fatal(err)
	}
	list := func(in ecs.ListTasksInput) []string {
		t.Helper()
		in.Cluster, in.MaxResults = aws.String("runner-fleet"), aws.Int32(2)
		var got []string
		p := ecs.NewListTasksPaginator(f.client, &in)
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.TaskArns...)
		}
		return got
	}
	tests := []struct {
		name string
		in   ecs.ListTasksInput
		want []string
	}{
		{"running by default", ecs.ListTasksInput{}, arns[1:]},
		{"stopped", ecs.ListTasksInput{DesiredStatus: types.DesiredStatusStopped}, arns[:1]},
		{"started by", ecs.ListTasksInput{StartedBy: aws.String("janitor")}, []string{arns[1], arns[3]}},
		{"family", ecs.ListTasksInput{Family: aws.String("runner")}, arns[1:]},
		{"other family", ecs.ListTasksInput{Family: aws.String("other")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.in); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("ListTasks = %v\nwant %v", got, tc.want)
			}
		})
	}
	_, err := f.client.ListTasks(context.Background(), &ecs.ListTasksInput{Cluster: aws.String("nope")})
	wantAPIError[*types.ClusterNotFoundException](t, err, "ClusterNotFoundException", "Cluster not found.")
}

func TestECSTags(t *testing.T) {
	f := newECSFake(t)
	ctx := context.Background()
	out, _ := f.run(t, nil)
	arn := out.Tasks[0].TaskArn
	if _, err := f.client.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{{Key: aws.String("runner-fleet:job"), Value: aws.String("42")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"runner-fleet:execution"}}); err != nil {
		t.Fatal(err)
	}
	list, err := f.client.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tags) != 1 || aws.ToString(list.Tags[0].Key) != "runner-fleet:job" || aws.ToString(list.Tags[0].Value) != "42" {
		t.Errorf("tags = %+v", list.Tags)
	}
	_, err = f.client.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}}})
	wantAPIError[*types.InvalidParameterException](t, err, "InvalidParameterException", "")
	_, err = f.client.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecs:us-east-1:123456789012:task/runner-fleet/0000")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown resource = %T %v", err, err)
	}
}

func TestECSTaskDefinitions(t *testing.T) {
	f := newECSFake(t)
	ctx := context.Background()
	second, err := f.client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("runner"), Cpu: aws.String("2048"), Memory: aws.String("4096"), NetworkMode: types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ContainerDefinitions:    []types.ContainerDefinition{{Name: aws.String("runner"), Image: aws.String("img:2")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.TaskDefinition.Revision != 2 {
		t.Fatalf("revision = %d, want 2", second.TaskDefinition.Revision)
	}
	for ref, wantRev := range map[string]int32{"runner": 2, "runner:1": 1, f.taskDef: 1} {
		out, err := f.client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		td := out.TaskDefinition
		if td.Revision != wantRev || aws.ToString(td.Family) != "runner" || td.Status != types.TaskDefinitionStatusActive || len(td.ContainerDefinitions) != 1 || td.RegisteredAt == nil {
			t.Errorf("%s = rev %d %+v", ref, td.Revision, td)
		}
	}
	_, err = f.client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("runner:9")})
	wantAPIError[*types.ClientException](t, err, "ClientException", "Unable to describe task definition.")
	_, err = f.client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("bad"), Cpu: aws.String("2048"), Memory: aws.String("2048"), NetworkMode: types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ContainerDefinitions:    []types.ContainerDefinition{{Name: aws.String("c"), Image: aws.String("i")}},
	})
	wantAPIError[*types.ClientException](t, err, "ClientException", "No Fargate configuration exists for given values: 2048 CPU, 2048 memory. See the Amazon ECS documentation for the valid values.")
}
