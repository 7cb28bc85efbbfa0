package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/internal/history"
)

// cleanupStopPrefix starts the stopped reason Cleanup gives the tasks it stops.
const cleanupStopPrefix = "runner-fleet: cleanup, "

// jobTag is the task tag naming the job the runner actually took (docs/contract.md).
const jobTag = "runner-fleet:job"

// ecsAPI is the part of the ECS client Cleanup uses.
type ecsAPI interface {
	DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
	StopTask(ctx context.Context, in *ecs.StopTaskInput, optFns ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
}

// runnerDeleter deletes a runner registration; GitHub refuses while it runs a job.
type runnerDeleter interface {
	DeleteRunner(ctx context.Context, scope ghrunner.Scope, runnerID int64) error
}

// githubSource hands out the GitHub client acting as an installation, built from the
// fleet's secret (*ghrunner.Source); its errors are already named for the workflow.
type githubSource interface {
	Client(ctx context.Context, installation int64) (*ghrunner.Client, error)
}

// Handler is the Cleanup activity.
type Handler struct {
	cfg     Config
	github  githubSource
	ecs     ecsAPI
	history history.API
	log     *slog.Logger
	retrier ghrunner.Retrier
}

// NewHandler wires a handler; clients are built once in main.
func NewHandler(cfg Config, github githubSource, ecsClient ecsAPI, history history.API, log *slog.Logger) *Handler {
	return &Handler{cfg: cfg, github: github, ecs: ecsClient, history: history, log: log, retrier: ghrunner.Retrier{Logger: log}}
}

// Handle tears down what the execution started and names what happened. It is
// idempotent: a stopped task and a deleted registration are left as they are, so the
// state machine may retry it. Its own transient failures are raised (AWSThrottled,
// GitHubUnavailable, GitHubRateLimited) with the execution's verdict in the message;
// they never become the verdict.
func (h *Handler) Handle(ctx context.Context, in fleet.Invocation) (fleet.Result, error) {
	if !strings.HasPrefix(in.Execution, "arn:") {
		return fleet.Result{}, activity.Invalid("execution %q is not an execution ARN; the state machine passes $$.Execution.Id", in.Execution)
	}
	st := in.State
	name := activity.ExecutionName(in.Execution)
	log := h.log.With("execution", name, "job_id", st.JobID)
	v := analyze(st)
	if st.Run != nil && st.Run.Reap != nil && st.Run.Reap.Failure != nil {
		log.WarnContext(ctx, "ReapIfIdle had failed; cleaning up what it left", "reap_error", st.Run.Reap.Failure.Error, "reap_cause", oneLine(st.Run.Reap.Failure.Cause))
	}
	res := fleet.Result{
		Outcome:    v.outcome,
		RunnerName: name,
		ExitCode:   v.exitCode,
		JobRan:     v.jobRan,
		Error:      v.errName,
		Cause:      v.cause,
	}
	if st.Runner != nil && st.Runner.Name != "" {
		res.RunnerName = st.Runner.Name
	}
	var notes []string

	// The registration first: a deleted runner takes no new job while its task stops.
	busy := false
	ghErr := h.deleteRegistration(ctx, log, st)
	switch {
	case ghErr == nil:
	case errors.Is(ghErr, fleet.ErrRunnerBusy):
		log.WarnContext(ctx, "runner was running a job while being torn down; stopping its task first", "runner_id", st.Runner.ID, "error", ghErr)
		busy = true
		res.JobRan = true
		ghErr = nil
	case isPermanentGitHub(ghErr):
		// Retrying cannot fix credentials; report it beside the verdict.
		log.ErrorContext(ctx, "runner registration could not be deleted", "error", ghErr)
		if res.Error == "" {
			res.Outcome, res.Error = fleet.OutcomeFailed, errorNameOf(ghErr)
			notes = append(notes, "the runner's registration could not be deleted ("+ghErr.Error()+"); the run itself ended "+v.outcome)
		} else {
			notes = append(notes, "also, the runner's registration could not be deleted: "+ghErr.Error())
		}
		ghErr = nil
	}

	// Then every task the execution started.
	stopErr := h.stopTasks(ctx, log, in.Execution, st, v, &res)

	// A busy runner (the TTL or a failure stopped it mid-job) is freed by GitHub once
	// its task is gone and the job fails; delete it then, within the budget, rather than
	// leave it to the janitor.
	if busy && stopErr == nil {
		if err := h.deleteOnceIdle(ctx, log, st); err != nil {
			log.WarnContext(ctx, "runner registration still busy after its task stopped; the janitor removes it", "runner_id", st.Runner.ID, "error", err)
			notes = append(notes, fmt.Sprintf("runner %s was running a job when Cleanup tore it down; its task was stopped, GitHub fails that job once the runner stops answering, and the janitor removes the registration", res.RunnerName))
		}
	}

	if err := errors.Join(stopErr, ghErr); err != nil {
		return fleet.Result{}, h.transient(err, v)
	}
	if len(notes) > 0 {
		res.Cause = oneLine(strings.TrimPrefix(res.Cause+"; "+strings.Join(notes, "; "), "; "))
	}
	log.InfoContext(ctx, "execution cleaned up", "outcome", res.Outcome, "error_name", res.Error, "cause", res.Cause,
		"task_arn", res.TaskArn, "exit_code", res.ExitCode, "job_ran", res.JobRan)
	return res, nil
}

// deleteRegistration deletes the runner's registration unless the reap already did;
// 404 is success.
func (h *Handler) deleteRegistration(ctx context.Context, log *slog.Logger, st fleet.State) error {
	if st.Runner == nil || st.Runner.ID == 0 {
		return nil
	}
	if st.Run != nil && st.Run.Reap != nil && (st.Run.Reap.Outcome == fleet.ReapReaped || st.Run.Reap.Outcome == fleet.ReapGone) {
		return nil
	}
	scope, err := ghrunner.ParseScope(st.Runner.Scope)
	if err != nil {
		return activity.Invalid("runner.scope: %v", err)
	}
	gh, err := h.github.Client(ctx, st.InstallationID)
	if err != nil {
		return err
	}
	err = h.retrier.Do(ctx, h.cfg.Budget, func(ctx context.Context) error {
		return deleteRunner(ctx, gh, scope, st.Runner.ID)
	})
	if errors.Is(err, fleet.ErrRunnerNotFound) {
		return nil
	}
	if err == nil {
		log.InfoContext(ctx, "runner registration deleted", "runner_id", st.Runner.ID, "scope", scope.String())
	}
	return err
}

// deleteOnceIdle retries the registration delete while GitHub still counts the runner
// busy, backing off from 250 ms to 2 s, for at most BusyWait.
func (h *Handler) deleteOnceIdle(ctx context.Context, log *slog.Logger, st fleet.State) error {
	deadline := time.Now().Add(h.cfg.BusyWait)
	wait := 250 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		err := h.deleteRegistration(ctx, log, st)
		if !errors.Is(err, fleet.ErrRunnerBusy) || time.Now().Add(wait).After(deadline) {
			return err
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func deleteRunner(ctx context.Context, gh runnerDeleter, scope ghrunner.Scope, id int64) error {
	return gh.DeleteRunner(ctx, scope, id)
}

// isPermanentGitHub reports errors a retry cannot fix: credentials, permissions, an
// incomplete or unreadable secret, a malformed runner scope.
func isPermanentGitHub(err error) bool {
	switch errorNameOf(err) {
	case fleet.ErrGitHubAuthFailed, fleet.ErrConfigurationInvalid, fleet.ErrInvalidInput:
		return true
	}
	return false
}

func errorNameOf(err error) string {
	if n := fleet.NameOf(err); n != "" {
		return n
	}
	return ghrunner.ErrorName(err)
}

// stopTasks finds the execution's runner tasks, stops those still running and fills
// the result's task, exit code and job facts.
func (h *Handler) stopTasks(ctx context.Context, log *slog.Logger, executionARN string, st fleet.State, v verdict, res *fleet.Result) error {
	var arns []string
	if v.task != nil {
		arns = append(arns, v.task.TaskArn)
	}
	if st.Run != nil && st.Run.Reap != nil && st.Run.Reap.TaskArn != "" && !slices.Contains(arns, st.Run.Reap.TaskArn) {
		arns = append(arns, st.Run.Reap.TaskArn)
	}
	if len(arns) == 0 && v.launched {
		found, err := history.SubmittedTasks(ctx, h.history, executionARN)
		if err != nil {
			return fmt.Errorf("find the runner task in the execution history: %w", err)
		}
		arns = found
	}
	if len(arns) == 0 {
		return nil
	}
	res.TaskArn = arns[0]
	in := &ecs.DescribeTasksInput{
		Cluster: aws.String(h.cfg.ClusterARN),
		Tasks:   arns,
		Include: []ecstypes.TaskField{ecstypes.TaskFieldTags},
	}
	out, err := h.ecs.DescribeTasks(ctx, in)
	var denied *ecstypes.AccessDeniedException
	if errors.As(err, &denied) {
		// The tags only refine job_ran; stopping the task must not depend on them.
		log.WarnContext(ctx, "describing runner tasks with their tags was denied; describing them without", "error", err)
		in.Include = nil
		out, err = h.ecs.DescribeTasks(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("describe runner tasks %v: %w", arns, err)
	}
	reason := cleanupStopPrefix + v.outcome
	if v.errName != "" {
		reason += " (" + v.errName + ")"
	}
	for _, t := range out.Tasks {
		arn := aws.ToString(t.TaskArn)
		for _, tag := range t.Tags {
			if aws.ToString(tag.Key) == jobTag && aws.ToString(tag.Value) != "" {
				res.JobRan = res.Outcome != fleet.OutcomeReapedIdle
			}
		}
		if aws.ToString(t.LastStatus) == "STOPPED" {
			// The state's own view of the task wins; the exit code of a task someone
			// stopped (Cleanup, Step Functions at a timeout: SIGTERM) says nothing about
			// the runner, only one whose runner exited by itself does.
			if v.task == nil && arn == res.TaskArn && t.StopCode == ecstypes.TaskStopCodeEssentialContainerExited {
				res.ExitCode = runnerExit(t.Containers)
			}
			continue
		}
		if aws.ToString(t.DesiredStatus) == "STOPPED" {
			log.InfoContext(ctx, "runner task is already stopping", "task_arn", arn)
			continue
		}
		if _, err := h.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(h.cfg.ClusterARN), Task: aws.String(arn), Reason: aws.String(reason)}); err != nil {
			var nf *ecstypes.InvalidParameterException
			if errors.As(err, &nf) && strings.Contains(strings.ToLower(nf.ErrorMessage()), "not found") {
				continue
			}
			return fmt.Errorf("stop runner task %s: %w", arn, err)
		}
		log.InfoContext(ctx, "runner task stopped", "task_arn", arn, "last_status", aws.ToString(t.LastStatus))
	}
	for _, f := range out.Failures {
		if aws.ToString(f.Reason) != "MISSING" {
			return fmt.Errorf("describe runner task %s: ECS answered %s", aws.ToString(f.Arn), aws.ToString(f.Reason))
		}
	}
	return nil
}

// runnerExit is the runner container's exit code, else the first reported.
func runnerExit(cs []ecstypes.Container) *int {
	var first *int
	for _, c := range cs {
		if c.ExitCode == nil {
			continue
		}
		code := int(*c.ExitCode)
		if aws.ToString(c.Name) == fleet.RunnerContainer {
			return &code
		}
		if first == nil {
			first = &code
		}
	}
	return first
}

// transient turns a failure of Cleanup itself into the error the state machine
// retries, keeping the execution's verdict in the message so that, should the
// retries run out, the console still shows what happened to the job.
func (h *Handler) transient(err error, v verdict) error {
	msg := "cleanup is incomplete and will be retried; the execution's verdict is " + v.summary()
	var api smithy.APIError
	switch {
	case activity.IsThrottle(err):
		return &fleet.WorkflowError{Name: fleet.ErrAWSThrottled, Message: msg, Err: err}
	case ghrunner.ErrorName(err) != "":
		return &fleet.WorkflowError{Name: ghrunner.ErrorName(err), Message: msg, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &fleet.WorkflowError{Name: fleet.ErrGitHubUnavailable, Message: msg, Err: err}
	case errors.As(err, &api) && (api.ErrorCode() == "ClusterNotFoundException" || api.ErrorCode() == "AccessDeniedException"):
		return &fleet.WorkflowError{Name: fleet.ErrConfigurationInvalid, Message: "check CLUSTER_ARN and the function's ECS permissions; " + msg, Err: err}
	case fleet.NameOf(err) != "":
		return &fleet.WorkflowError{Name: fleet.NameOf(err), Message: msg, Err: err}
	}
	return fmt.Errorf("%s: %w", msg, err)
}
