package main

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

const capacityCause = "Capacity is unavailable at this time. Please try again later or in a different availability zone"

// registration is what should become of the runner's GitHub registration.
type registration int

const (
	regAny     registration = iota // not checked
	regDeleted                     // gone after Cleanup
	regKept                        // still there (busy, or not Cleanup's to delete)
)

type cleanupCase struct {
	name  string
	setup func(t *testing.T, e *env, st *fleet.State)

	outcome  string
	errName  string
	causeHas []string
	exitCode *int
	jobRan   bool
	taskArn  bool // result names the env's task
	// stops is how many StopTask calls the first run makes.
	stops        int
	registration registration
	readsHistory bool
}

func code(n int) *int { return &n }

func cleanupCases() []cleanupCase {
	return []cleanupCase{
		{
			name: "job completed, the ephemeral runner had left",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, false)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 0, "", ""))
				mustNoErr(t, e.gh.RemoveRunner(e.runner.ID))
				st.Run = &fleet.Run{Task: json.RawMessage(e.succeededTask(t, nil)), Reap: &fleet.Reap{Outcome: fleet.ReapGone}}
			},
			outcome: fleet.OutcomeJobCompleted, exitCode: code(0), jobRan: true, taskArn: true, registration: regDeleted,
		},
		{
			name: "job completed after the reaper found the runner busy",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, false)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 0, "", ""))
				mustNoErr(t, e.gh.RemoveRunner(e.runner.ID))
				st.Run = &fleet.Run{Task: json.RawMessage(e.succeededTask(t, nil)), Reap: &fleet.Reap{Outcome: fleet.ReapBusy}}
			},
			outcome: fleet.OutcomeJobCompleted, exitCode: code(0), jobRan: true, taskArn: true, registration: regDeleted,
		},
		{
			name: "reaped idle: the task was stopped by the reap",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, true)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 143, awsfake.StopCodeUserInitiated, fleet.ReapStopReason))
				mustNoErr(t, e.gh.RemoveRunner(e.runner.ID))
				st.Run = &fleet.Run{
					Task: caughtTask("RunRunner", errTaskFailed, e.succeededTask(t, exited(143, fleet.ReapStopReason))),
					Reap: &fleet.Reap{Outcome: fleet.ReapReaped, TaskArn: e.task},
				}
			},
			outcome: fleet.OutcomeReapedIdle, exitCode: code(143), taskArn: true, registration: regDeleted,
		},
		{
			name: "reaped idle before the task came up: the task then failed to register",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, false)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 1, "", ""))
				mustNoErr(t, e.gh.RemoveRunner(e.runner.ID))
				st.Run = &fleet.Run{
					Task: caughtTask("RunRunner", errTaskFailed, e.succeededTask(t, exited(1, ""))),
					Reap: &fleet.Reap{Outcome: fleet.ReapReaped},
				}
			},
			outcome: fleet.OutcomeReapedIdle, exitCode: code(1), taskArn: true, registration: regDeleted,
		},
		{
			name: "job completed although ReapIfIdle had failed",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, false)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 0, "", ""))
				mustNoErr(t, e.gh.RemoveRunner(e.runner.ID))
				st.Run = &fleet.Run{Task: json.RawMessage(e.succeededTask(t, nil)), Reap: &fleet.Reap{Outcome: fleet.ReapError,
					Failure: &fleet.StepFailure{Error: fleet.ErrGitHubUnavailable, Cause: lambdaCause(fleet.ErrGitHubUnavailable, "delete runner: GitHub is unavailable (502 Bad Gateway)")}}}
			},
			outcome: fleet.OutcomeJobCompleted, exitCode: code(0), jobRan: true, taskArn: true, registration: regDeleted,
		},
		{
			name: "ImageNotAllowed from ResolveImage",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				st.Runner, st.Plan = nil, nil
				st.Failure = map[string]fleet.StepFailure{"ResolveImage": {Error: fleet.ErrImageNotAllowed,
					Cause: lambdaCause(fleet.ErrImageNotAllowed, `image "evil/miner:latest" is not on the allow-list (ALLOWED_IMAGES); change the job's image: label or the list`)}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrImageNotAllowed, causeHas: []string{"ResolveImage: image \"evil/miner:latest\" is not on the allow-list"},
			registration: regKept,
		},
		{
			name: "ClassNotFound from ResolveImage",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				st.Runner, st.Plan = nil, nil
				st.Failure = map[string]fleet.StepFailure{"ResolveImage": {Error: fleet.ErrClassNotFound,
					Cause: lambdaCause(fleet.ErrClassNotFound, `class "huge" is not in the class table; known: large, medium, small`)}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrClassNotFound, causeHas: []string{`class "huge" is not in the class table`},
			registration: regKept,
		},
		{
			name: "ImageBuildFailed: the build's log link is the cause",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				st.Runner = nil
				cause, _ := failedBuildCause(t)
				st.Failure = map[string]fleet.StepFailure{"BuildImage": {Error: errTaskFailed, Cause: cause}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrImageBuildFailed,
			causeHas: []string{"image build of ubuntu:24.04 (tag ubuntu-24.04-abc123) failed (CodeBuild FAILED)",
				"build log: https://console.aws.amazon.com/cloudwatch/home?region=us-west-2#logEvent:group=/aws/codebuild/codebuild-demo-project;stream=46472baf-8f6b-43c2-9255-b3b963af2732"},
			registration: regKept,
		},
		{
			name: "ImageBuildFailed: the build outlasted build_seconds",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				st.Runner = nil
				st.Failure = map[string]fleet.StepFailure{"BuildImage": {Error: errTimeout}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrImageBuildFailed, causeHas: []string{"build_seconds (3600 s)"},
			registration: regKept,
		},
		{
			name: "ImageBuildFailed from RecheckImage after another execution's build",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				st.Runner = nil
				st.Failure = map[string]fleet.StepFailure{"RecheckImage": {Error: fleet.ErrImageBuildFailed,
					Cause: lambdaCause(fleet.ErrImageBuildFailed, "the build of tag ubuntu-24.04-abc123 finished without pushing the image")}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrImageBuildFailed, causeHas: []string{"RecheckImage: the build of tag"},
			registration: regKept,
		},
		requestRunnerFailure(fleet.ErrGitHubAuthFailed, "generate JIT config for repo:octo-org/hello-world: GitHub refused the request (403 Resource not accessible by integration): the GitHub App needs Administration: write on the repository"),
		requestRunnerFailure(fleet.ErrGitHubUnavailable, "generate JIT config for repo:octo-org/hello-world: GitHub is unavailable (502 Bad Gateway)"),
		requestRunnerFailure(fleet.ErrGitHubRateLimited, "generate JIT config for repo:octo-org/hello-world: GitHub secondary rate limit reached; retry after 1m0s"),
		requestRunnerFailure(fleet.ErrConfigurationInvalid, "GitHub credentials in GITHUB_SECRET_ARN: secret is not configured: neither app_id + private_key (GitHub App) nor token is set"),
		requestRunnerFailure(fleet.ErrInvalidInput, "state document's job is invalid: labels must not be empty"),
		requestRunnerFailure("Lambda.Unknown", "The cause could not be determined because Lambda did not return an error type. Returned payload: Task timed out after 180.00 seconds"),
		{
			name: "RunnerLaunchFailed: no capacity, even on demand",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				attempts, _ := json.Marshal(map[string]fleet.StepFailure{
					"RunRunner":         {Error: "AmazonECS.Unknown", Cause: capacityCause},
					"RunRunnerOnDemand": {Error: "ECS.AmazonECSException", Cause: capacityCause + " (Service: AmazonECS; Status Code: 400)"},
				})
				st.Failure = map[string]fleet.StepFailure{"Runner": {Error: fleet.ErrRunnerLaunchFailed, Cause: string(attempts)}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrRunnerLaunchFailed,
			causeHas:     []string{"ECS could not start the runner task: RunRunner: AmazonECS.Unknown: Capacity is unavailable", "RunRunnerOnDemand: ECS.AmazonECSException"},
			registration: regDeleted, readsHistory: true,
		},
		{
			name: "RunnerLaunchFailed: the image could not be pulled (TaskFailedToStart)",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, true)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 0, awsfake.StopCodeTaskFailedToStart, "CannotPullContainerError: pull access denied"))
				// The runner never connected; after the idle timeout the reaper deleted
				// its registration. The launch failure is still what the operator must see.
				mustNoErr(t, e.gh.RemoveRunner(e.runner.ID))
				cause := e.taskJSON(t, failedToStartFixture, "TaskFailed", "taskFailedEventDetails", "cause", nil)
				st.Run = &fleet.Run{Task: caughtTask("RunRunner", errTaskFailed, cause), Reap: &fleet.Reap{Outcome: fleet.ReapReaped, TaskArn: e.task}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrRunnerLaunchFailed,
			causeHas: []string{"failed to start: CannotPullContainerError: pull image manifest has been retried 1 time(s)"},
			taskArn:  true, registration: regDeleted,
		},
		{
			name: "RunnerTimedOut: still busy with a job at the runner TTL",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, true)
				if _, err := e.gh.ConnectRunner(e.jit); err != nil {
					t.Fatal(err)
				}
				mustNoErr(t, e.gh.SetBusy(e.runner.ID, true))
				st.Run = &fleet.Run{Task: caughtTask("RunRunner", errTimeout, ""), Reap: &fleet.Reap{Outcome: fleet.ReapBusy}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrRunnerTimedOut,
			causeHas: []string{"runner_ttl_seconds = 21600 s", "was running a job when Cleanup tore it down"},
			jobRan:   true, taskArn: true, stops: 1, registration: regKept, readsHistory: true,
		},
		{
			name: "RunnerTimedOut: busy at the TTL, released once its task stopped",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, true)
				if _, err := e.gh.ConnectRunner(e.jit); err != nil {
					t.Fatal(err)
				}
				mustNoErr(t, e.gh.SetBusy(e.runner.ID, true))
				// GitHub fails the job and frees the runner soon after its task is gone.
				id := e.runner.ID
				time.AfterFunc(300*time.Millisecond, func() { _ = e.gh.SetBusy(id, false) })
				st.Run = &fleet.Run{Task: caughtTask("RunRunner", errTimeout, ""), Reap: &fleet.Reap{Outcome: fleet.ReapBusy}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrRunnerTimedOut,
			causeHas: []string{"runner_ttl_seconds = 21600 s"},
			jobRan:   true, taskArn: true, stops: 1, registration: regDeleted, readsHistory: true,
		},
		{
			name: "RunnerFailed: the runner crashed mid-job",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, true)
				if _, err := e.gh.ConnectRunner(e.jit); err != nil {
					t.Fatal(err)
				}
				mustNoErr(t, e.gh.DisconnectRunner(e.runner.ID))
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 2, "", ""))
				st.Run = &fleet.Run{Task: caughtTask("RunRunner", errTaskFailed, e.succeededTask(t, exited(2, ""))), Reap: &fleet.Reap{Outcome: fleet.ReapBusy}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrRunnerFailed,
			causeHas: []string{"exited with code 2 (EssentialContainerExited: Essential container in task exited)"},
			exitCode: code(2), jobRan: true, taskArn: true, registration: regDeleted,
		},
		{
			name: "RunnerFailed: crashed mid-job before the idle timeout; the job tag says a job ran",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, true)
				_, err := ecs.NewFromConfig(e.awsCfg).TagResource(context.Background(), &ecs.TagResourceInput{
					ResourceArn: aws.String(e.task), Tags: []ecstypes.Tag{{Key: aws.String(jobTag), Value: aws.String("29679449")}},
				})
				mustNoErr(t, err)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 1, "", ""))
				// The crashed runner's offline registration was deleted by the reaper.
				mustNoErr(t, e.gh.RemoveRunner(e.runner.ID))
				st.Run = &fleet.Run{Task: caughtTask("RunRunner", errTaskFailed, e.succeededTask(t, exited(1, ""))), Reap: &fleet.Reap{Outcome: fleet.ReapReaped, TaskArn: e.task}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrRunnerFailed, causeHas: []string{"exited with code 1"},
			exitCode: code(1), jobRan: true, taskArn: true, registration: regDeleted,
		},
		{
			name: "RunnerFailed: the runner could not open its seal",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, false)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 65, "", ""))
				// The runner never connected; at the idle timeout the reaper deleted it.
				mustNoErr(t, e.gh.RemoveRunner(e.runner.ID))
				st.Run = &fleet.Run{Task: caughtTask("RunRunner", errTaskFailed, e.succeededTask(t, exited(65, ""))), Reap: &fleet.Reap{Outcome: fleet.ReapReaped, TaskArn: e.task}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrRunnerFailed, causeHas: []string{"exited with code 65: the seal cannot be opened"},
			exitCode: code(65), taskArn: true, registration: regDeleted,
		},
		{
			name: "RunnerFailed: Spot interruption, no exit code",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, false)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 0, awsfake.StopCodeSpotInterruption, ""))
				task := e.succeededTask(t, func(m map[string]any) {
					delete(m["Containers"].([]any)[0].(map[string]any), "ExitCode")
					m["StopCode"], m["StoppedReason"] = "SpotInterruption", "Your Spot Task was interrupted."
				})
				st.Run = &fleet.Run{Task: caughtTask("RunRunner", errTaskFailed, task), Reap: &fleet.Reap{Outcome: fleet.ReapGone}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrRunnerFailed,
			causeHas: []string{"stopped before its runner finished: SpotInterruption: Your Spot Task was interrupted."},
			jobRan:   true, taskArn: true, registration: regKept,
		},
		{
			name: "RunnerFailed: the on-demand fallback's task is the one reported",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				e.launch(t, false)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 137, "", ""))
				b, _ := json.Marshal(map[string]any{"failure": map[string]fleet.StepFailure{
					"RunRunner":         {Error: "AmazonECS.Unknown", Cause: capacityCause},
					"RunRunnerOnDemand": {Error: errTaskFailed, Cause: e.succeededTask(t, exited(137, ""))},
				}})
				st.Run = &fleet.Run{Task: b, Reap: &fleet.Reap{Outcome: fleet.ReapBusy}}
			},
			outcome: fleet.OutcomeFailed, errName: fleet.ErrRunnerFailed, causeHas: []string{"exited with code 137: ended by signal 9"},
			exitCode: code(137), jobRan: true, taskArn: true, registration: regDeleted,
		},
		{
			name: "another error of the Runner state keeps its raw name",
			setup: func(t *testing.T, e *env, st *fleet.State) {
				// The task ran and exited by itself; only the history knows it.
				e.launch(t, true)
				mustNoErr(t, e.aws.ECS.StopTaskWithExit(e.task, 0, "", ""))
				st.Failure = map[string]fleet.StepFailure{"Runner": {Error: "States.Runtime",
					Cause: "An error occurred while executing the state 'Runner'. The JSONPath '$[1]' specified for the field 'reap.$' could not be found"}}
			},
			outcome: fleet.OutcomeFailed, errName: "States.Runtime", causeHas: []string{"the Runner state failed: An error occurred"},
			exitCode: code(0), taskArn: true, registration: regDeleted, readsHistory: true,
		},
	}
}

func requestRunnerFailure(name, message string) cleanupCase {
	return cleanupCase{
		name: name + " from RequestRunner",
		setup: func(t *testing.T, e *env, st *fleet.State) {
			st.Runner = nil
			st.Failure = map[string]fleet.StepFailure{"RequestRunner": {Error: name, Cause: lambdaCause(name, message)}}
		},
		outcome: fleet.OutcomeFailed, errName: name, causeHas: []string{"RequestRunner: " + message},
		registration: regKept,
	}
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// baseState is the state document after RequestRunner.
func (e *env) baseState() fleet.State {
	return fleet.State{
		Job: e.job,
		Plan: &fleet.Plan{
			Image:    fleet.ImagePlan{Ref: "ubuntu:24.04", Tag: "ubuntu-24.04-abc123", Exists: true},
			Timeouts: fleet.Timeouts{BuildSeconds: 3600, IdleSeconds: 300, RunnerTTLSeconds: 21600},
		},
		Runner: &fleet.Runner{Name: e.runner.Name, ID: e.runner.ID, Scope: testScope, Labels: e.job.Labels, SealedJITConfig: "v1.kms.c2VhbGVk"},
	}
}

func TestCleanup(t *testing.T) {
	for _, tc := range cleanupCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			st := e.baseState()
			tc.setup(t, e, &st)
			in := fleet.Invocation{State: st, Execution: e.execution}

			got, err := e.handler.Handle(context.Background(), in)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got.Outcome != tc.outcome || got.Error != tc.errName {
				t.Errorf("outcome %q error %q (cause %q); want %q %q", got.Outcome, got.Error, got.Cause, tc.outcome, tc.errName)
			}
			for _, want := range tc.causeHas {
				if !strings.Contains(got.Cause, want) {
					t.Errorf("cause %q; want it to contain %q", got.Cause, want)
				}
			}
			if tc.errName == "" && got.Cause != "" {
				t.Errorf("cause %q on a success", got.Cause)
			}
			if strings.Contains(got.Cause, "\n") || len(got.Cause) > maxCause+len("…") {
				t.Errorf("cause is not one bounded line: %q", got.Cause)
			}
			if !reflect.DeepEqual(got.ExitCode, tc.exitCode) {
				t.Errorf("exit code %v; want %v", deref(got.ExitCode), deref(tc.exitCode))
			}
			if got.JobRan != tc.jobRan {
				t.Errorf("job_ran %v; want %v", got.JobRan, tc.jobRan)
			}
			if got.RunnerName != e.job.ExecutionName() {
				t.Errorf("runner_name %q; want %q", got.RunnerName, e.job.ExecutionName())
			}
			if (got.TaskArn == e.task && e.task != "") != tc.taskArn {
				t.Errorf("task_arn %q; want the task %q: %v", got.TaskArn, e.task, tc.taskArn)
			}
			if n := e.aws.Calls("ecs", "StopTask"); n != tc.stops {
				t.Errorf("StopTask called %d times; want %d", n, tc.stops)
			}
			if e.task != "" {
				if task, _ := e.aws.ECS.Task(e.task); task.LastStatus != awsfake.TaskStopped {
					t.Errorf("task is %s after Cleanup; want STOPPED", task.LastStatus)
				}
			}
			_, exists := e.gh.RunnerByID(e.runner.ID)
			switch {
			case tc.registration == regDeleted && exists:
				t.Error("runner registration still exists; want it deleted")
			case tc.registration == regKept && !exists:
				t.Error("runner registration deleted; want it kept")
			}
			if reads := e.aws.Calls("sfn", "GetExecutionHistory") > 0; reads != tc.readsHistory {
				t.Errorf("read the execution history: %v; want %v", reads, tc.readsHistory)
			}

			// Idempotent: the state machine may run it again with the same input.
			stops := e.aws.Calls("ecs", "StopTask")
			again, err := e.handler.Handle(context.Background(), in)
			if err != nil {
				t.Fatalf("second Handle: %v", err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("second run answered %+v; first %+v", again, got)
			}
			if n := e.aws.Calls("ecs", "StopTask"); n != stops {
				t.Errorf("second run called StopTask %d more times; want none", n-stops)
			}
			out, _ := json.Marshal(got)
			if strings.Contains(string(out), "sealed") || strings.Contains(e.logs.String(), "v1.kms.c2VhbGVk") {
				t.Error("the sealed JIT config leaked into the result or the logs")
			}
		})
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestCleanupTransientFailureNeverHidesTheVerdict: Cleanup's own transient failures are
// raised for the state machine to retry, named so it does, and carry the execution's
// verdict; the retry's result is the verdict, never the transient error.
func TestCleanupTransientFailureNeverHidesTheVerdict(t *testing.T) {
	tests := []struct {
		name    string
		base    string // case of cleanupCases to start from
		fault   func(t *testing.T, e *env)
		wantErr string
	}{
		{
			name: "ECS DescribeTasks throttled", base: "RunnerFailed: the runner crashed mid-job",
			fault: func(t *testing.T, e *env) {
				mustNoErr(t, e.aws.SetFault("ecs", "DescribeTasks", awsfake.Fault{Err: &awsfake.APIError{Code: "ThrottlingException", Message: "Rate exceeded"}}))
			},
			wantErr: fleet.ErrAWSThrottled,
		},
		{
			name: "ECS StopTask throttled", base: "RunnerTimedOut: still busy with a job at the runner TTL",
			fault: func(t *testing.T, e *env) {
				mustNoErr(t, e.aws.SetFault("ecs", "StopTask", awsfake.Fault{Err: &awsfake.APIError{Code: "ThrottlingException", Message: "Rate exceeded"}}))
			},
			wantErr: fleet.ErrAWSThrottled,
		},
		{
			name: "execution history throttled", base: "RunnerLaunchFailed: no capacity, even on demand",
			fault: func(t *testing.T, e *env) {
				mustNoErr(t, e.aws.SetFault("sfn", "GetExecutionHistory", awsfake.Fault{Err: &awsfake.APIError{Code: "ThrottlingException", Message: "Rate exceeded"}}))
			},
			wantErr: fleet.ErrAWSThrottled,
		},
		{
			name: "GitHub 5xx outlasting the budget", base: "RunnerLaunchFailed: no capacity, even on demand",
			fault:   func(t *testing.T, e *env) { e.gh.ForceStatus(routeDelete, http.StatusBadGateway, 0) },
			wantErr: fleet.ErrGitHubUnavailable,
		},
		{
			name: "GitHub rate limit beyond the budget", base: "RunnerFailed: the runner crashed mid-job",
			fault: func(t *testing.T, e *env) {
				e.gh.ForceResponse(routeDelete, githubForced(http.StatusForbidden, "You have exceeded a secondary rate limit.", "600"))
			},
			wantErr: fleet.ErrGitHubRateLimited,
		},
	}
	cases := map[string]cleanupCase{}
	for _, c := range cleanupCases() {
		cases[c.name] = c
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, ok := cases[tc.base]
			if !ok {
				t.Fatalf("no case %q", tc.base)
			}
			e := newEnv(t)
			st := e.baseState()
			base.setup(t, e, &st)
			in := fleet.Invocation{State: st, Execution: e.execution}
			tc.fault(t, e)

			_, err := e.handler.Handle(context.Background(), in)
			got := activity.Classify(err)
			if got.Type != tc.wantErr {
				t.Fatalf("error %s %q; want %s", got.Type, got.Message, tc.wantErr)
			}
			if !strings.Contains(got.Message, base.errName) || !strings.Contains(got.Message, "will be retried") {
				t.Errorf("message %q does not carry the verdict %s", got.Message, base.errName)
			}

			e.aws.ClearFaults()
			e.gh.ClearForced()
			res, err := e.handler.Handle(context.Background(), in)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if res.Outcome != base.outcome || res.Error != base.errName {
				t.Errorf("retry answered %s %s (%s); want the verdict %s %s", res.Outcome, res.Error, res.Cause, base.outcome, base.errName)
			}
			if e.task != "" {
				if task, _ := e.aws.ECS.Task(e.task); task.LastStatus != awsfake.TaskStopped {
					t.Errorf("task %s after the retry; want STOPPED", task.LastStatus)
				}
			}
		})
	}
}

// TestCleanupCredentialFailure: a registration Cleanup cannot delete because GitHub
// rejects the credentials is reported (retrying would not help), the task is stopped
// anyway, and a failure's own name is kept.
func TestCleanupCredentialFailure(t *testing.T) {
	cases := map[string]cleanupCase{}
	for _, c := range cleanupCases() {
		cases[c.name] = c
	}
	unauthorized := func(t *testing.T, e *env) { e.gh.ForceStatus(routeDelete, http.StatusUnauthorized, 0) }
	tests := []struct {
		base        string
		fault       func(t *testing.T, e *env)
		wantOutcome string
		wantErr     string
		causeHas    string
		problem     string
	}{
		{base: "RunnerFailed: the runner crashed mid-job", fault: unauthorized, wantOutcome: fleet.OutcomeFailed, wantErr: fleet.ErrRunnerFailed,
			causeHas: "also, the runner's registration could not be deleted", problem: "token is invalid"},
		{base: "job completed after the reaper found the runner busy", fault: unauthorized, wantOutcome: fleet.OutcomeFailed, wantErr: fleet.ErrGitHubAuthFailed,
			causeHas: "the run itself ended job_completed", problem: "token is invalid"},
		{base: "RunnerFailed: the runner crashed mid-job", wantOutcome: fleet.OutcomeFailed, wantErr: fleet.ErrRunnerFailed,
			fault: func(t *testing.T, e *env) {
				mustNoErr(t, e.aws.SetFault("secretsmanager", "GetSecretValue", awsfake.Fault{Err: &awsfake.APIError{Code: "AccessDeniedException", Message: "not authorized"}}))
			},
			causeHas: "also, the runner's registration could not be deleted", problem: "GITHUB_SECRET_ARN must name a secret this function may read"},
	}
	for _, tc := range tests {
		t.Run(tc.problem+"/"+tc.base, func(t *testing.T) {
			e := newEnv(t)
			st := e.baseState()
			cases[tc.base].setup(t, e, &st)
			tc.fault(t, e)
			res, err := e.handler.Handle(context.Background(), fleet.Invocation{State: st, Execution: e.execution})
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome != tc.wantOutcome || res.Error != tc.wantErr || !strings.Contains(res.Cause, tc.causeHas) || !strings.Contains(res.Cause, tc.problem) {
				t.Errorf("result %+v; want %s %s with a cause containing %q and the credential problem", res, tc.wantOutcome, tc.wantErr, tc.causeHas)
			}
			if task, _ := e.aws.ECS.Task(e.task); task.LastStatus != awsfake.TaskStopped {
				t.Errorf("task %s; want STOPPED", task.LastStatus)
			}
		})
	}
}

// TestCleanupWithoutTagPermission: describing tasks with their tags is denied; Cleanup
// describes them without and still stops the task.
func TestCleanupWithoutTagPermission(t *testing.T) {
	var base cleanupCase
	for _, c := range cleanupCases() {
		if strings.HasPrefix(c.name, "RunnerTimedOut") {
			base = c
		}
	}
	e := newEnv(t)
	st := e.baseState()
	base.setup(t, e, &st)
	mustNoErr(t, e.aws.SetFault("ecs", "DescribeTasks", awsfake.Fault{Count: 1,
		Err: &awsfake.APIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: ecs:ListTagsForResource"}}))
	res, err := e.handler.Handle(context.Background(), fleet.Invocation{State: st, Execution: e.execution})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if res.Error != fleet.ErrRunnerTimedOut {
		t.Errorf("result %+v; want RunnerTimedOut", res)
	}
	if n := e.aws.Calls("ecs", "DescribeTasks"); n != 2 {
		t.Errorf("DescribeTasks called %d times; want 2 (with tags, denied; without)", n)
	}
	if task, _ := e.aws.ECS.Task(e.task); task.LastStatus != awsfake.TaskStopped {
		t.Errorf("task %s; want STOPPED", task.LastStatus)
	}
}

func TestCleanupRejectsANonExecution(t *testing.T) {
	e := newEnv(t)
	_, err := e.handler.Handle(context.Background(), fleet.Invocation{State: e.baseState(), Execution: "RunnerFleet"})
	if got := activity.Classify(err); got.Type != fleet.ErrInvalidInput {
		t.Errorf("error %s %q; want InvalidInput", got.Type, got.Message)
	}
}

func TestLoadConfig(t *testing.T) {
	good := map[string]string{"GITHUB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s", "CLUSTER_ARN": "arn:aws:ecs:us-east-1:123456789012:cluster/runner-fleet"}
	c, err := LoadConfig(mapEnv(good))
	if err != nil || c.Budget.Seconds() != 60 {
		t.Fatalf("LoadConfig(%v) = %+v, %v", good, c, err)
	}
	_, err = LoadConfig(mapEnv(map[string]string{"CLUSTER_ARN": "arn:aws:ecs:us-east-1:1:service/x", "CLEANUP_BUDGET_SECONDS": "abc"}))
	for _, v := range []string{"GITHUB_SECRET_ARN", "CLUSTER_ARN", "CLEANUP_BUDGET_SECONDS"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("error %v does not name %s", err, v)
		}
	}
}

func githubForced(status int, message, retryAfter string) githubfake.Forced {
	return githubfake.Forced{Status: status, Message: message, Header: http.Header{"Retry-After": {retryAfter}}}
}

// TestCleanupCallsOnTheHappyPath pins what the common case costs: the job completed and
// the reaper found the runner gone, so Cleanup reads no secret, calls no GitHub API and
// reads no history; one DescribeTasks confirms the task stopped.
func TestCleanupCallsOnTheHappyPath(t *testing.T) {
	var base cleanupCase
	for _, c := range cleanupCases() {
		if c.name == "job completed, the ephemeral runner had left" {
			base = c
		}
	}
	e := newEnv(t)
	st := e.baseState()
	base.setup(t, e, &st)
	e.aws.ResetCalls()
	e.gh.ResetCalls()
	if _, err := e.handler.Handle(context.Background(), fleet.Invocation{State: st, Execution: e.execution}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"ecs.DescribeTasks": 1}
	if got := e.aws.CallCounts(); !reflect.DeepEqual(got, want) {
		t.Errorf("AWS calls %v; want %v", got, want)
	}
	if got := e.gh.Calls(); len(got) != 0 {
		t.Errorf("GitHub calls %v; want none", got)
	}
}
