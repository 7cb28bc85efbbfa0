package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/internal/history"
)

// pendingMarker is in the message of every error raised after the registration was
// deleted. The state machine retries such an error; the retry finds the registration
// gone (404) and, seeing the marker on the earlier attempt's failure in the history,
// finishes the reap instead of answering "gone".
const pendingMarker = "registration deleted, task not yet stopped"

// taskStopper is the ECS call ReapIfIdle makes.
type taskStopper interface {
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

// Handler is the ReapIfIdle activity.
type Handler struct {
	cfg     Config
	github  githubSource
	ecs     taskStopper
	history history.API
	log     *slog.Logger
	retrier ghrunner.Retrier
	now     func() time.Time

	metricsMu sync.Mutex
	metrics   io.Writer
}

// NewHandler wires a handler; clients are built once in main. metrics receives the
// CloudWatch embedded-metric-format lines (stdout in Lambda).
func NewHandler(cfg Config, github githubSource, stopper taskStopper, history history.API, metrics io.Writer, log *slog.Logger) *Handler {
	return &Handler{cfg: cfg, github: github, ecs: stopper, history: history, metrics: metrics, log: log,
		retrier: ghrunner.Retrier{Logger: log}, now: time.Now}
}

// Handle reaps the runner if it is still idle. Deleting the registration is the idle
// check: GitHub refuses (422) while the runner runs a job, and a runner whose
// registration is gone can never take one, so check and reap are one atomic step.
// GitHub's busy flag is never consulted.
func (h *Handler) Handle(ctx context.Context, in fleet.Invocation) (fleet.Reap, error) {
	if err := activity.RequireJob(in); err != nil {
		return fleet.Reap{}, err
	}
	st := in.State
	if st.Runner == nil || st.Runner.ID <= 0 {
		return fleet.Reap{}, activity.Invalid("state document has no runner with an id; ReapIfIdle runs after RequestRunner")
	}
	scope, err := ghrunner.ParseScope(st.Runner.Scope)
	if err != nil {
		return fleet.Reap{}, activity.Invalid("runner.scope: %v", err)
	}
	log := h.log.With("execution", activity.ExecutionName(in.Execution), "job_id", st.JobID, "runner_id", st.Runner.ID)
	gh, err := h.github.Client(ctx, st.InstallationID)
	if err != nil {
		return fleet.Reap{}, err
	}
	err = h.retrier.Do(ctx, h.cfg.Budget, func(ctx context.Context) error {
		return deleteRunner(ctx, gh, scope, st.Runner.ID)
	})
	switch {
	case errors.Is(err, fleet.ErrRunnerBusy):
		log.InfoContext(ctx, "runner is busy; left running", "reap_outcome", fleet.ReapBusy)
		return fleet.Reap{Outcome: fleet.ReapBusy}, nil
	case errors.Is(err, fleet.ErrRunnerNotFound):
		task, pending, herr := h.scanHistory(ctx, in.Execution, true)
		if herr != nil {
			return fleet.Reap{}, fmt.Errorf("runner registration is gone; read the execution history to tell whether an earlier attempt deleted it: %w", herr)
		}
		if !pending {
			log.InfoContext(ctx, "runner registration already gone", "reap_outcome", fleet.ReapGone)
			return fleet.Reap{Outcome: fleet.ReapGone}, nil
		}
		log.InfoContext(ctx, "an earlier attempt deleted the registration; finishing the reap")
		return h.stop(ctx, log, st, task)
	case err != nil:
		return fleet.Reap{}, githubError(err)
	}
	log.InfoContext(ctx, "idle runner's registration deleted", "scope", scope.String())
	task, _, err := h.scanHistory(ctx, in.Execution, false)
	if err != nil {
		return fleet.Reap{}, pending(fmt.Errorf("find the runner task in the execution history: %w", err))
	}
	return h.stop(ctx, log, st, task)
}

func deleteRunner(ctx context.Context, gh runnerDeleter, scope ghrunner.Scope, id int64) error {
	return gh.DeleteRunner(ctx, scope, id)
}

// stop stops the reaped runner's task, if it has started, and records the reap.
func (h *Handler) stop(ctx context.Context, log *slog.Logger, st fleet.State, task string) (fleet.Reap, error) {
	if task == "" {
		// Still launching: the task cannot register with a deleted registration, and
		// Cleanup stops it once the task branch ends.
		log.InfoContext(ctx, "idle runner reaped before its task was submitted", "reap_outcome", fleet.ReapReaped)
		h.emitIdleReap(st.Class)
		return fleet.Reap{Outcome: fleet.ReapReaped}, nil
	}
	_, err := h.ecs.StopTask(ctx, &ecs.StopTaskInput{
		Cluster: aws.String(h.cfg.ClusterARN),
		Task:    aws.String(task),
		Reason:  aws.String(fleet.ReapStopReason),
	})
	if err != nil {
		return fleet.Reap{}, pending(fmt.Errorf("stop task %s: %w", task, err))
	}
	log.InfoContext(ctx, "idle runner reaped", "reap_outcome", fleet.ReapReaped, "task_arn", task)
	h.emitIdleReap(st.Class)
	return fleet.Reap{Outcome: fleet.ReapReaped, TaskArn: task}, nil
}

// pending marks an error raised after the registration was deleted (pendingMarker);
// throttling stays AWSThrottled so the state machine retries it.
func pending(err error) error {
	msg := "idle runner reaped (" + pendingMarker + ")"
	if activity.IsThrottle(err) {
		return &fleet.WorkflowError{Name: fleet.ErrAWSThrottled, Message: msg, Err: err}
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// githubError names a GitHub failure for the state machine; a budget that ran out in
// the middle of a call is GitHubUnavailable.
func githubError(err error) error {
	if ghrunner.ErrorName(err) != "" || fleet.NameOf(err) != "" {
		return ghrunner.Classify(err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fleet.Errorf(fleet.ErrGitHubUnavailable, "delete runner registration: GitHub did not answer in time: %w", err)
	}
	return fmt.Errorf("delete runner registration: %w", err)
}

// scanHistory reads the execution's history, newest first, for the task the RunRunner
// states submitted (the ECS TaskSubmitted event's output is the RunTask response: the
// task ARN is not in the state document, because the task branch is still running)
// and, when wantPending, for an earlier attempt's failure carrying pendingMarker.
func (h *Handler) scanHistory(ctx context.Context, executionARN string, wantPending bool) (task string, pendingFound bool, err error) {
	err = history.Walk(ctx, h.history, executionARN, func(ev sfntypes.HistoryEvent) bool {
		if task == "" {
			task = history.SubmittedTask(ev)
		}
		if d := ev.TaskFailedEventDetails; wantPending && d != nil && aws.ToString(d.ResourceType) == "lambda" &&
			strings.Contains(aws.ToString(d.Cause), pendingMarker) {
			pendingFound = true
		}
		return task == "" || (wantPending && !pendingFound)
	})
	if err != nil {
		return "", false, err
	}
	return task, pendingFound, nil
}

// emitIdleReap writes the IdleReaps metric in CloudWatch's embedded metric format:
// one JSON line on stdout becomes a metric without a PutMetricData call.
func (h *Handler) emitIdleReap(class string) {
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": h.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "RunnerFleet",
				"Dimensions": [][]string{{"Class"}},
				"Metrics":    []any{map[string]string{"Name": "IdleReaps", "Unit": "Count"}},
			}},
		},
		"Class":     class,
		"IdleReaps": 1,
	}
	line, _ := json.Marshal(doc)
	h.metricsMu.Lock()
	defer h.metricsMu.Unlock()
	if _, err := h.metrics.Write(append(line, '\n')); err != nil {
		h.log.Warn("writing the IdleReaps metric failed", "error", err)
	}
}
