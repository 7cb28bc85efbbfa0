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
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/runner/imageref"
)

const (
	classParam = "/runner-fleet/classes"
	repoName   = "runner-fleet"
	repoURI    = "123456789012.dkr.ecr.us-east-1.amazonaws.com/runner-fleet"
	execPrefix = "arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:"
)

const classTable = `{
  "small":       {"cpu": 1024, "memory": 2048},
  "medium":      {"cpu": 2048, "memory": 4096},
  "medium-arm":  {"cpu": 2048, "memory": 4096, "arch": "arm64"},
  "medium-spot": {"cpu": 2048, "memory": 4096, "spot": true},
  "big-disk":    {"cpu": 4096, "memory": 8192, "ephemeral_storage_gib": 100}
}`

var testRecipe = imageref.Recipe{RunnerVersion: "2.334.0", RecipeHash: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}

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

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func baseEnv(cluster string) map[string]string {
	return map[string]string{
		"AWS_REGION":              "us-east-1",
		"CLASS_TABLE_PARAMETER":   classParam,
		"CLUSTER_ARN":             cluster,
		"SUBNETS":                 "subnet-a, subnet-b",
		"SECURITY_GROUPS":         "sg-1",
		"ASSIGN_PUBLIC_IP":        "false",
		"ECR_REPOSITORY_NAME":     repoName,
		"ECR_REPOSITORY_URI":      repoURI,
		"IMAGE_ALLOW_LIST":        "ubuntu:*, public.ecr.aws/docker/library/*",
		"DEFAULT_IMAGE":           "ubuntu:24.04",
		"TASK_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/runner-execution",
		"TASK_ROLE_ARN":           "arn:aws:iam::123456789012:role/runner-task",
		"RUNNER_LOG_GROUP":        "/runner-fleet/runners",
	}
}

// env is one ResolveImage under test with its own AWS fake and real SDK clients.
type env struct {
	aws     *awsfake.Server
	awsCfg  aws.Config
	clock   *clock
	cluster string
	cfg     Config
	h       *Handler
	logs    *bytes.Buffer
}

func newEnv(t *testing.T, overrides ...map[string]string) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)}
	fake := awsfake.New(awsfake.Options{Now: c.Now})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	awsCfg, err := fake.AWSConfig(context.Background(), srv.URL, testenv.AnswerOnce)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{aws: fake, awsCfg: awsCfg, clock: c, logs: &bytes.Buffer{}}
	e.cluster = fake.ECS.CreateCluster("runner-fleet")
	fake.SSM.Put(classParam, classTable)
	fake.ECR.CreateRepository(repoName)
	vars := baseEnv(e.cluster)
	for _, o := range overrides {
		for k, v := range o {
			vars[k] = v
		}
	}
	e.cfg, err = LoadConfig(mapEnv(vars))
	if err != nil {
		t.Fatal(err)
	}
	e.h = e.handler(testRecipe)
	return e
}

// handler is a fresh ResolveImage (a new Lambda instance: empty caches) on the same fakes.
func (e *env) handler(r imageref.Recipe) *Handler {
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := NewHandler(e.cfg, r, Clients{SSM: ssm.NewFromConfig(e.awsCfg), ECR: ecr.NewFromConfig(e.awsCfg), ECS: ecs.NewFromConfig(e.awsCfg)}, log)
	h.now = e.clock.Now
	return h
}

func job(image, class string, labels ...string) fleet.Job {
	if labels == nil {
		labels = []string{"self-hosted", "image:" + image, "class:" + class}
	}
	return fleet.Job{
		JobID: 501, RunID: 77, RunAttempt: 1, JobName: "build",
		Repository: fleet.Repository{Owner: "octo", Name: "app", ID: 9, Visibility: "private"},
		Labels:     labels, ImageRef: image, Class: class,
		ReceivedAt: time.Date(2026, 11, 27, 8, 29, 0, 0, time.UTC),
	}
}

func invocation(j fleet.Job) fleet.Invocation {
	return fleet.Invocation{State: fleet.State{Job: j}, Execution: execPrefix + j.ExecutionName()}
}

// invoke runs the handler through the Lambda boundary, as Step Functions reaches it.
func (e *env) invoke(t *testing.T, h *Handler, in any) (fleet.Plan, error) {
	t.Helper()
	payload, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return activity.Wrap(slog.New(slog.DiscardHandler), h.Resolve)(context.Background(), payload)
}

// errorMessage is the cause the console would show.
func errorMessage(err error) string {
	var e messages.InvokeResponse_Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func errorType(err error) string {
	var e messages.InvokeResponse_Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ""
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name     string
		job      fleet.Job
		wantErr  string   // error type, "" for success
		wantText []string // substrings of the error message
		check    func(t *testing.T, p fleet.Plan)
	}{
		{
			name: "default image on demand",
			job:  job("ubuntu:24.04", "medium"),
			check: func(t *testing.T, p fleet.Plan) {
				if p.Image.Exists || len(p.Image.BuildInput) == 0 {
					t.Errorf("image exists = %v, build input %q; want a missing image with a build input", p.Image.Exists, p.Image.BuildInput)
				}
				if p.Image.Arch != "x64" || p.Class.Name != "medium" || p.Launch.Cpu != "2048" || p.Launch.Memory != "4096" {
					t.Errorf("plan = %+v", p)
				}
				wantStrategy(t, p.Launch.CapacityProviderStrategy, "FARGATE")
				wantStrategy(t, p.Launch.OnDemandStrategy, "FARGATE")
			},
		},
		{
			name: "allow-list hit",
			job:  job("public.ecr.aws/docker/library/node:20", "small"),
			check: func(t *testing.T, p fleet.Plan) {
				if p.Image.Ref != "public.ecr.aws/docker/library/node:20" || !strings.HasPrefix(p.Image.Tag, "node-20-x64-") {
					t.Errorf("image = %+v", p.Image)
				}
			},
		},
		{
			name:     "allow-list miss",
			job:      job("debian:12", "medium"),
			wantErr:  fleet.ErrImageNotAllowed,
			wantText: []string{`"debian:12"`, "IMAGE_ALLOW_LIST", "ubuntu:*"},
		},
		{
			name:     "allow-list cannot be escaped through a registry port",
			job:      job("ubuntu:5000/evil/image:1", "medium"),
			wantErr:  fleet.ErrImageNotAllowed,
			wantText: []string{"IMAGE_ALLOW_LIST"},
		},
		{
			name:     "not a reference",
			job:      job("ubuntu:24.04;rm -rf /", "medium"),
			wantErr:  fleet.ErrImageNotAllowed,
			wantText: []string{"not a valid image reference"},
		},
		{
			name:     "unknown class",
			job:      job("ubuntu:24.04", "huge"),
			wantErr:  fleet.ErrClassNotFound,
			wantText: []string{`"huge"`, "big-disk, medium, medium-arm, medium-spot, small"},
		},
		{
			name:     "arm64 label on an x64 class",
			job:      job("ubuntu:24.04", "medium", "self-hosted", "ARM64", "class:medium"),
			wantErr:  fleet.ErrClassNotFound,
			wantText: []string{`class "medium" runs on x64`, "ask for arm64", "medium-arm"},
		},
		{
			name:     "x64 label on an arm64 class",
			job:      job("ubuntu:24.04", "medium-arm", "self-hosted", "x86_64", "class:medium-arm"),
			wantErr:  fleet.ErrClassNotFound,
			wantText: []string{"runs on arm64", "ask for x64"},
		},
		{
			name: "arm64 label on an arm64 class",
			job:  job("ubuntu:24.04", "medium-arm", "self-hosted", "aarch64", "class:medium-arm"),
			check: func(t *testing.T, p fleet.Plan) {
				if p.Image.Arch != "arm64" || !strings.Contains(p.Image.Tag, "-arm64-") {
					t.Errorf("image = %+v, want arm64", p.Image)
				}
			},
		},
		{
			name: "spot class falls back to on-demand",
			job:  job("ubuntu:24.04", "medium-spot"),
			check: func(t *testing.T, p fleet.Plan) {
				wantStrategy(t, p.Launch.CapacityProviderStrategy, "FARGATE_SPOT")
				wantStrategy(t, p.Launch.OnDemandStrategy, "FARGATE")
			},
		},
		{
			name: "ephemeral storage",
			job:  job("ubuntu:24.04", "big-disk"),
			check: func(t *testing.T, p fleet.Plan) {
				if p.Launch.EphemeralStorageGiB != 100 || !strings.Contains(p.Image.TaskDefinitionArn, "-100gib:") {
					t.Errorf("storage %d, task definition %s; want 100 GiB in its own family", p.Launch.EphemeralStorageGiB, p.Image.TaskDefinitionArn)
				}
			},
		},
		{
			name:     "invalid job",
			job:      func() fleet.Job { j := job("ubuntu:24.04", "medium"); j.JobID = 0; return j }(),
			wantErr:  fleet.ErrInvalidInput,
			wantText: []string{"job_id"},
		},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := e.invoke(t, e.h, invocation(tt.job))
			if got := errorType(err); got != tt.wantErr {
				t.Fatalf("labels %q image %q class %q: error %v (type %q), want type %q", tt.job.Labels, tt.job.ImageRef, tt.job.Class, err, got, tt.wantErr)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(errorMessage(err), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if tt.check != nil {
				tt.check(t, plan)
			}
		})
	}
}

func wantStrategy(t *testing.T, s []fleet.CapacityProviderUse, provider string) {
	t.Helper()
	if len(s) != 1 || s[0].CapacityProvider != provider || s[0].Weight != 1 {
		t.Errorf("strategy = %+v, want %s with weight 1", s, provider)
	}
}

func TestPlanIsWhatTheWorkflowNeeds(t *testing.T) {
	e := newEnv(t, map[string]string{"ASSIGN_PUBLIC_IP": "true", "IDLE_TIMEOUT_SECONDS": "120", "RUNNER_TTL_SECONDS": "7200", "BUILD_TIMEOUT_SECONDS": "1800"})
	j := job("ubuntu:24.04", "medium")
	plan, err := e.invoke(t, e.h, invocation(j))
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := imageref.ImageTag("ubuntu:24.04", "x64", testRecipe)
	if plan.Image.Tag != tag || plan.Image.URI != repoURI+":"+tag {
		t.Errorf("image = %+v, want tag %s", plan.Image, tag)
	}
	if want := imageref.BuildName(tag, e.clock.Now()); plan.Image.BuildName != want {
		t.Errorf("build name = %q, want %q", plan.Image.BuildName, want)
	}
	if plan.Timeouts != (fleet.Timeouts{BuildSeconds: 1800, IdleSeconds: 120, RunnerTTLSeconds: 7200}) {
		t.Errorf("timeouts = %+v", plan.Timeouts)
	}
	net := plan.Launch.NetworkConfiguration.AwsvpcConfiguration
	if strings.Join(net.Subnets, ",") != "subnet-a,subnet-b" || strings.Join(net.SecurityGroups, ",") != "sg-1" || net.AssignPublicIp != "ENABLED" {
		t.Errorf("network = %+v", net)
	}
	tags := map[string]string{}
	for _, tg := range plan.Launch.Tags {
		tags[tg.Key] = tg.Value
	}
	want := map[string]string{
		"runner-fleet:execution":  j.ExecutionName(),
		"runner-fleet:repository": "octo/app",
		"runner-fleet:class":      "medium",
		"runner-fleet:image":      "ubuntu:24.04",
	}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}

	var in imageref.BuildInput
	if err := json.Unmarshal(plan.Image.BuildInput, &in); err != nil {
		t.Fatal(err)
	}
	if in.BaseImage != "ubuntu:24.04" || in.ImageTag != tag || in.RepositoryURI != repoURI || in.Arch != "x64" || in.BuildTimeoutSeconds != 1800 || len(in.Environment) != 4 {
		t.Errorf("build input = %+v", in)
	}

	// The plan is a RunTask request ECS accepts, as RunRunner sends it.
	client := ecs.NewFromConfig(e.awsCfg)
	l := plan.Launch
	var ecsTags []ecstypes.Tag
	for _, tg := range l.Tags {
		ecsTags = append(ecsTags, ecstypes.Tag{Key: aws.String(tg.Key), Value: aws.String(tg.Value)})
	}
	out, err := client.RunTask(context.Background(), &ecs.RunTaskInput{
		Cluster: aws.String(l.Cluster), TaskDefinition: aws.String(l.TaskDefinition),
		CapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String(l.CapacityProviderStrategy[0].CapacityProvider), Weight: int32(l.CapacityProviderStrategy[0].Weight)}},
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: net.Subnets, SecurityGroups: net.SecurityGroups, AssignPublicIp: ecstypes.AssignPublicIp(net.AssignPublicIp)}},
		Overrides: &ecstypes.TaskOverride{Cpu: aws.String(l.Cpu), Memory: aws.String(l.Memory), ContainerOverrides: []ecstypes.ContainerOverride{{
			Name: aws.String(fleet.RunnerContainer), Environment: []ecstypes.KeyValuePair{{Name: aws.String("RUNNER_FLEET_EXECUTION"), Value: aws.String(j.ExecutionName())}}}}},
		Tags: ecsTags,
	})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask with the plan: %v %+v", err, out)
	}
	task, _ := e.aws.ECS.Task(aws.ToString(out.Tasks[0].TaskArn))
	if task.Containers[0].Image != plan.Image.URI {
		t.Errorf("task runs image %q, want %q", task.Containers[0].Image, plan.Image.URI)
	}
}

func TestTaskDefinition(t *testing.T) {
	e := newEnv(t)
	first, err := e.invoke(t, e.h, invocation(job("ubuntu:24.04", "medium")))
	if err != nil {
		t.Fatal(err)
	}
	// The same image for another job and another class: same task definition, no new call.
	second, err := e.invoke(t, e.h, invocation(job("ubuntu:24.04", "small")))
	if err != nil {
		t.Fatal(err)
	}
	// A new Lambda instance (empty cache) finds the registered definition.
	third, err := e.invoke(t, e.handler(testRecipe), invocation(job("ubuntu:24.04", "medium")))
	if err != nil {
		t.Fatal(err)
	}
	arn := first.Image.TaskDefinitionArn
	if second.Image.TaskDefinitionArn != arn || third.Image.TaskDefinitionArn != arn || first.Launch.TaskDefinition != arn {
		t.Errorf("task definitions %s, %s, %s; want one", arn, second.Image.TaskDefinitionArn, third.Image.TaskDefinitionArn)
	}
	if n := e.aws.Calls("ecs", "RegisterTaskDefinition"); n != 1 {
		t.Errorf("RegisterTaskDefinition called %d times, want 1", n)
	}
	if n := e.aws.Calls("ecs", "DescribeTaskDefinition"); n != 2 {
		t.Errorf("DescribeTaskDefinition called %d times, want 2 (one per instance)", n)
	}

	out, err := ecs.NewFromConfig(e.awsCfg).DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	td := out.TaskDefinition
	if !strings.HasPrefix(aws.ToString(td.Family), "runner-fleet-") || !strings.HasSuffix(aws.ToString(td.Family), "-x64") {
		t.Errorf("family = %s", aws.ToString(td.Family))
	}
	if td.NetworkMode != ecstypes.NetworkModeAwsvpc || td.RuntimePlatform == nil || td.RuntimePlatform.CpuArchitecture != ecstypes.CPUArchitectureX8664 ||
		td.RuntimePlatform.OperatingSystemFamily != ecstypes.OSFamilyLinux || aws.ToString(td.Cpu) != "2048" || aws.ToString(td.Memory) != "4096" ||
		aws.ToString(td.ExecutionRoleArn) != e.cfg.ExecutionRoleARN || aws.ToString(td.TaskRoleArn) != e.cfg.TaskRoleARN {
		t.Errorf("task definition = %+v", td)
	}
	if len(td.ContainerDefinitions) != 1 {
		t.Fatalf("containers = %+v", td.ContainerDefinitions)
	}
	c := td.ContainerDefinitions[0]
	if aws.ToString(c.Name) != "runner" || aws.ToString(c.Image) != first.Image.URI || !aws.ToBool(c.Essential) || aws.ToInt32(c.StopTimeout) != 120 {
		t.Errorf("container = %+v", c)
	}
	if c.LogConfiguration == nil || c.LogConfiguration.LogDriver != ecstypes.LogDriverAwslogs ||
		c.LogConfiguration.Options["awslogs-group"] != "/runner-fleet/runners" || c.LogConfiguration.Options["awslogs-region"] != "us-east-1" ||
		c.LogConfiguration.Options["awslogs-stream-prefix"] == "" {
		t.Errorf("log configuration = %+v", c.LogConfiguration)
	}

	// Another image: its own family.
	other, err := e.invoke(t, e.h, invocation(job("ubuntu:22.04", "medium")))
	if err != nil {
		t.Fatal(err)
	}
	if other.Image.TaskDefinitionArn == arn {
		t.Error("two images share a task definition")
	}
	// A changed task role (redeploy): the old revision no longer fits; a new one is registered.
	e.cfg.TaskRoleARN = "arn:aws:iam::123456789012:role/runner-task-v2"
	again, err := e.invoke(t, e.handler(testRecipe), invocation(job("ubuntu:24.04", "medium")))
	if err != nil {
		t.Fatal(err)
	}
	if again.Image.TaskDefinitionArn == arn || !strings.HasSuffix(again.Image.TaskDefinitionArn, ":2") {
		t.Errorf("after a role change: %s, want revision 2 of the family", again.Image.TaskDefinitionArn)
	}
	if n := e.aws.Calls("ecs", "RegisterTaskDefinition"); n != 3 {
		t.Errorf("RegisterTaskDefinition called %d times, want 3", n)
	}
}

func TestImageExists(t *testing.T) {
	e := newEnv(t)
	tag, _ := imageref.ImageTag("ubuntu:24.04", "x64", testRecipe)
	e.aws.ECR.PushImage(repoName, tag, 123456)
	plan, err := e.invoke(t, e.h, invocation(job("ubuntu:24.04", "medium")))
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Image.Exists || len(plan.Image.BuildInput) != 0 {
		t.Errorf("image = %+v, want an existing image and no build input", plan.Image)
	}
	// Changing the recipe changes the tag: the old image no longer counts.
	changed := imageref.Recipe{RunnerVersion: testRecipe.RunnerVersion, RecipeHash: "ffff"}
	plan, err = e.invoke(t, e.handler(changed), invocation(job("ubuntu:24.04", "medium")))
	if err != nil {
		t.Fatal(err)
	}
	if plan.Image.Exists || plan.Image.Tag == tag {
		t.Errorf("after a recipe change: image = %+v, want a new, missing tag", plan.Image)
	}
}

func TestRecheck(t *testing.T) {
	e := newEnv(t)
	j := job("ubuntu:24.04", "medium")
	first, err := e.invoke(t, e.h, invocation(j))
	if err != nil {
		t.Fatal(err)
	}
	// The build another execution owned ended; an hour later this one looks again.
	e.clock.Advance(time.Hour)
	in := invocation(j)
	in.State.Plan = &first
	in.Recheck = true
	_, err = e.invoke(t, e.h, in)
	if errorType(err) != fleet.ErrImageBuildFailed {
		t.Fatalf("recheck of a missing image: %v, want %s", err, fleet.ErrImageBuildFailed)
	}
	for _, s := range []string{"ubuntu:24.04", first.Image.BuildName, "history"} {
		if !strings.Contains(errorMessage(err), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	e.aws.ECR.PushImage(repoName, first.Image.Tag, 1)
	plan, err := e.invoke(t, e.h, in)
	if err != nil || !plan.Image.Exists {
		t.Errorf("recheck of a built image: %v, exists %v", err, plan.Image.Exists)
	}
}

func TestBuildInputIsSharedByJobs(t *testing.T) {
	e := newEnv(t)
	a := job("ubuntu:24.04", "medium")
	b := job("ubuntu:24.04", "small")
	b.JobID, b.Repository.Name = 9001, "other"
	pa, err := e.invoke(t, e.h, invocation(a))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(20 * time.Minute) // 08:50, same hour
	pb, err := e.invoke(t, e.handler(testRecipe), invocation(b))
	if err != nil {
		t.Fatal(err)
	}
	if pa.Image.BuildName != pb.Image.BuildName || !bytes.Equal(pa.Image.BuildInput, pb.Image.BuildInput) {
		t.Errorf("two jobs for one image in one hour: builds %q / %q, inputs\n%s\n%s", pa.Image.BuildName, pb.Image.BuildName, pa.Image.BuildInput, pb.Image.BuildInput)
	}
	e.clock.Advance(20 * time.Minute) // 09:10: a failed build may be retried
	pc, err := e.invoke(t, e.h, invocation(a))
	if err != nil {
		t.Fatal(err)
	}
	if pc.Image.BuildName == pa.Image.BuildName || !bytes.Equal(pc.Image.BuildInput, pa.Image.BuildInput) {
		t.Errorf("next hour: build %q (was %q); input must stay the same", pc.Image.BuildName, pa.Image.BuildName)
	}
}

func TestAWSErrors(t *testing.T) {
	tests := []struct {
		name        string
		service, op string
		fault       awsfake.Fault
		wantErr     string
		wantText    string
		setup       func(e *env)
	}{
		{name: "ECR throttled", service: "ecr", op: "DescribeImages", fault: awsfake.Fault{ThrottleRatio: 1}, wantErr: fleet.ErrAWSThrottled},
		{name: "ECS describe throttled", service: "ecs", op: "DescribeTaskDefinition", fault: awsfake.Fault{ThrottleRatio: 1}, wantErr: fleet.ErrAWSThrottled},
		{name: "ECS register throttled", service: "ecs", op: "RegisterTaskDefinition", fault: awsfake.Fault{ThrottleRatio: 1}, wantErr: fleet.ErrAWSThrottled},
		{name: "SSM throttled with nothing cached", service: "ssm", op: "GetParameter", fault: awsfake.Fault{ThrottleRatio: 1}, wantErr: fleet.ErrAWSThrottled},
		{name: "ECS access denied", service: "ecs", op: "DescribeTaskDefinition",
			fault: awsfake.Fault{Err: &awsfake.APIError{Code: "AccessDeniedException", Message: "not authorized to perform ecs:DescribeTaskDefinition"}}, wantErr: "ActivityFailed", wantText: "ecs:DescribeTaskDefinition"},
		{name: "missing repository", wantErr: fleet.ErrConfigurationInvalid, wantText: "ECR_REPOSITORY_NAME",
			setup: func(e *env) { e.cfg.RepositoryName = "nope"; e.h = e.handler(testRecipe) }},
		{name: "missing class table", wantErr: fleet.ErrConfigurationInvalid, wantText: "CLASS_TABLE_PARAMETER",
			setup: func(e *env) { e.cfg.ClassTableParameter = "/nope"; e.h = e.handler(testRecipe) }},
		{name: "invalid class table", wantErr: fleet.ErrConfigurationInvalid, wantText: "cpu 3",
			setup: func(e *env) { e.aws.SSM.Put(classParam, `{"tiny": {"cpu": 3, "memory": 1}}`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			if tt.service != "" {
				if err := e.aws.SetFault(tt.service, tt.op, tt.fault); err != nil {
					t.Fatal(err)
				}
			}
			_, err := e.invoke(t, e.h, invocation(job("ubuntu:24.04", "medium")))
			if got := errorType(err); got != tt.wantErr {
				t.Fatalf("error %v (type %q), want type %q", err, got, tt.wantErr)
			}
			if !strings.Contains(errorMessage(err), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
		})
	}
}

func TestClassTableCache(t *testing.T) {
	e := newEnv(t)
	resolve := func() (fleet.Plan, error) { return e.invoke(t, e.h, invocation(job("ubuntu:24.04", "medium"))) }
	if _, err := resolve(); err != nil {
		t.Fatal(err)
	}
	e.aws.SSM.Put(classParam, `{"medium": {"cpu": 4096, "memory": 8192}}`)
	p, err := resolve()
	if err != nil {
		t.Fatal(err)
	}
	if p.Launch.Cpu != "2048" || e.aws.Calls("ssm", "GetParameter") != 1 {
		t.Errorf("within the cache time: cpu %s, %d reads; want the cached 2048 and one read", p.Launch.Cpu, e.aws.Calls("ssm", "GetParameter"))
	}
	e.clock.Advance(61 * time.Second)
	if p, err = resolve(); err != nil || p.Launch.Cpu != "4096" {
		t.Errorf("after the cache time: cpu %s (%v), want the edited 4096", p.Launch.Cpu, err)
	}
	// SSM throttled later: the copy in hand is used rather than failing the job.
	e.clock.Advance(61 * time.Second)
	if err := e.aws.SetFault("ssm", "GetParameter", awsfake.Fault{ThrottleRatio: 1}); err != nil {
		t.Fatal(err)
	}
	if p, err = resolve(); err != nil || p.Launch.Cpu != "4096" {
		t.Errorf("SSM throttled with a stale copy: cpu %s, error %v; want the stale copy", p.Launch.Cpu, err)
	}
	if !strings.Contains(e.logs.String(), "using the previous copy") {
		t.Error("falling back to the stale class table was not logged")
	}
}

func TestLoadConfig(t *testing.T) {
	cluster := "arn:aws:ecs:us-east-1:123456789012:cluster/runner-fleet"
	cfg, err := LoadConfig(mapEnv(baseEnv(cluster)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IdleSeconds != 300 || cfg.RunnerTTLSeconds != 21600 || cfg.BuildSeconds != 3600 || cfg.ClassCacheTTL != time.Minute || cfg.AssignPublicIP {
		t.Errorf("defaults = %+v", cfg)
	}
	tests := []struct{ key, value string }{
		{"AWS_REGION", ""},
		{"CLASS_TABLE_PARAMETER", ""},
		{"CLUSTER_ARN", "runner-fleet"},
		{"SUBNETS", " , "},
		{"SECURITY_GROUPS", ""},
		{"ASSIGN_PUBLIC_IP", "maybe"},
		{"ECR_REPOSITORY_NAME", ""},
		{"ECR_REPOSITORY_URI", "runner-fleet:latest"},
		{"IMAGE_ALLOW_LIST", "ubuntu:[0-9]*"},
		{"DEFAULT_IMAGE", ""},
		{"DEFAULT_IMAGE", "Not A Reference"},
		{"TASK_EXECUTION_ROLE_ARN", "runner-execution"},
		{"TASK_ROLE_ARN", ""},
		{"RUNNER_LOG_GROUP", ""},
		{"IDLE_TIMEOUT_SECONDS", "5"},
		{"IDLE_TIMEOUT_SECONDS", "30000"}, // longer than the TTL
		{"RUNNER_TTL_SECONDS", "forever"},
		{"BUILD_TIMEOUT_SECONDS", "100000"},
		{"CLASS_CACHE_SECONDS", "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			env := baseEnv(cluster)
			env[tt.key] = tt.value
			_, err := LoadConfig(mapEnv(env))
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Var != tt.key {
				t.Errorf("%s=%q: error %v, want a ConfigError naming %s", tt.key, tt.value, err, tt.key)
			}
		})
	}
}

func TestBurstRegistersOnce(t *testing.T) {
	e := newEnv(t)
	const n = 20
	var wg sync.WaitGroup
	arns := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := job("ubuntu:24.04", "medium")
			j.JobID = int64(1000 + i)
			p, err := e.invoke(t, e.h, invocation(j))
			arns[i], errs[i] = p.Image.TaskDefinitionArn, err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || arns[i] != arns[0] {
			t.Errorf("job %d: %s, %v; want %s", i, arns[i], errs[i], arns[0])
		}
	}
	if got := e.aws.Calls("ecs", "RegisterTaskDefinition"); got != 1 {
		t.Errorf("a burst of %d jobs registered %d task definitions, want 1", n, got)
	}
	if got := e.aws.Calls("ssm", "GetParameter"); got != 1 {
		t.Errorf("a burst of %d jobs read the class table %d times, want 1", n, got)
	}
}
