package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/internal/history"
)

// Statuses of the lifecycle answers.
const (
	StatusRecorded = "recorded"
	StatusReaped   = "reaped"
)

// Task tags that record which job a runner actually took: GitHub gives a job to any
// runner whose labels match, so it may not be the job that caused the runner.
const (
	TagJob     = "runner-fleet:job"
	TagJobName = "runner-fleet:job-name"
)

// jobStarted handles in_progress: when the runner is one of ours, it records on the
// runner's task which job it took and publishes the time from queued to job start.
func (h *Handler) jobStarted(ctx context.Context, log *slog.Logger, ev *workflowJobEvent) Response {
	wj := ev.WorkflowJob
	runner := ""
	if wj.RunnerName != nil {
		runner = *wj.RunnerName
	}
	if runner == "" {
		return answer(http.StatusOK, StatusIgnored, "in_progress without a runner name")
	}
	execARN, ours, resp := h.ownExecution(ctx, log, runner)
	if !ours {
		return resp
	}
	log = log.With("execution", runner)
	class, image := "unknown", "unknown"
	if want, err := fleet.Decide(wj.Labels, h.cfg.Labels); err == nil {
		class, image = want.Class, want.ImageRef
	}
	if latency, ok := startLatency(wj.CreatedAt, wj.StartedAt); ok {
		h.emitLatency(class, image, latency, runner)
	}
	if h.deps.ECS == nil || h.cfg.ClusterARN == "" {
		return answer(http.StatusOK, StatusRecorded, "job start recorded (CLUSTER_ARN unset: the task is not tagged)")
	}
	tasks, err := history.SubmittedTasks(ctx, h.deps.SFN, execARN)
	if err != nil {
		log.ErrorContext(ctx, "reading the execution history failed", "error", err)
		return answer(http.StatusBadGateway, StatusError, "could not read the runner's execution history; redeliver later")
	}
	if len(tasks) == 0 {
		return answer(http.StatusOK, StatusRecorded, "job start recorded; the runner's task is not in its history yet")
	}
	job := fmt.Sprintf("%s/%s#%d", ev.Repository.Owner.Login, ev.Repository.Name, *wj.ID)
	_, err = h.deps.ECS.TagResource(ctx, &ecs.TagResourceInput{
		ResourceArn: aws.String(tasks[0]),
		Tags: []ecstypes.Tag{
			{Key: aws.String(TagJob), Value: aws.String(tagValue(job))},
			{Key: aws.String(TagJobName), Value: aws.String(tagValue(wj.Name))},
		},
	})
	if err != nil {
		log.ErrorContext(ctx, "tagging the runner's task failed", "error", err, "task_arn", tasks[0])
		return answer(http.StatusBadGateway, StatusError, "could not tag the runner's task with its job; redeliver later")
	}
	r := answer(http.StatusOK, StatusRecorded, "runner "+runner+" took job "+job)
	r.Body.Execution = runner
	return r
}

// ownExecution decides whether a runner name is one of this fleet's: its execution must
// exist in our state machine. It returns the execution ARN, or the answer to give.
func (h *Handler) ownExecution(ctx context.Context, log *slog.Logger, runner string) (string, bool, Response) {
	if len(runner) > fleet.MaxNameLength || strings.Trim(runner, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return "", false, answer(http.StatusOK, StatusIgnored, fmt.Sprintf("runner %q is not one of this fleet's", runner))
	}
	execARN, err := history.ExecutionARN(h.cfg.StateMachineARN, runner)
	if err != nil {
		return "", false, answer(http.StatusInternalServerError, StatusError, "STATE_MACHINE_ARN is not a state machine ARN")
	}
	_, err = h.deps.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &execARN})
	var missing *sfntypes.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
		return "", false, answer(http.StatusOK, StatusIgnored, fmt.Sprintf("runner %q is not one of this fleet's", runner))
	case err != nil:
		log.ErrorContext(ctx, "DescribeExecution failed", "error", err)
		return "", false, answer(http.StatusBadGateway, StatusError, "could not look up the runner's execution; redeliver later")
	}
	return execARN, true, Response{}
}

// startLatency is started_at − created_at of a workflow_job: from queued to job start.
func startLatency(created, started string) (time.Duration, bool) {
	c, err1 := time.Parse(time.RFC3339, created)
	s, err2 := time.Parse(time.RFC3339, started)
	if err1 != nil || err2 != nil || s.Before(c) {
		return 0, false
	}
	return s.Sub(c), true
}

// emitLatency writes the JobStartLatency metric in CloudWatch embedded metric format:
// one JSON line that Lambda's log stream turns into a metric, no API call.
func (h *Handler) emitLatency(class, image string, d time.Duration, runner string) {
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": h.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "RunnerFleet",
				"Dimensions": [][]string{{"Class", "Image"}, {"Class"}},
				"Metrics":    []any{map[string]string{"Name": "JobStartLatency", "Unit": "Milliseconds"}},
			}},
		},
		"Class":           class,
		"Image":           image,
		"JobStartLatency": d.Milliseconds(),
		"execution":       runner,
	}
	b, _ := json.Marshal(doc)
	_, _ = h.deps.Metrics.Write(append(b, '\n'))
}

// tagValue keeps an ECS tag value within its 256 characters.
func tagValue(v string) string {
	if len(v) > 256 {
		return v[:256]
	}
	return v
}

// jobCompleted handles completed. A job that completed without ever getting a runner
// (runner_name empty: cancelled while queued) leaves one runner of ours idle; reap one
// idle runner with the same labels now instead of at the idle timeout, and stop the
// execution that owned it so the console says why.
func (h *Handler) jobCompleted(ctx context.Context, log *slog.Logger, ev *workflowJobEvent) Response {
	wj := ev.WorkflowJob
	if wj.RunnerName != nil && *wj.RunnerName != "" {
		return answer(http.StatusOK, StatusIgnored, "job completed on runner "+*wj.RunnerName+"; its runner leaves by itself")
	}
	if reason, ok := h.serves(ev); !ok {
		return answer(http.StatusOK, StatusIgnored, reason)
	}
	if _, err := fleet.Decide(wj.Labels, h.cfg.Labels); err != nil {
		return answer(http.StatusOK, StatusIgnored, "not ours: "+err.Error())
	}
	if h.deps.GitHub == nil {
		return answer(http.StatusOK, StatusIgnored, "job completed before start; idle runners are left to the idle timeout")
	}
	sec, err := h.secrets.Get(ctx)
	if err == nil {
		err = sec.ValidateGitHub()
	}
	if err != nil {
		log.ErrorContext(ctx, "GitHub credentials unavailable", "error", err)
		return answer(http.StatusInternalServerError, StatusError, "GitHub credentials are not configured in the fleet's secret")
	}
	gh, err := h.deps.GitHub(ctx, sec)
	if err != nil {
		log.ErrorContext(ctx, "building the GitHub client failed", "error", err)
		return answer(http.StatusInternalServerError, StatusError, "GitHub credentials in the fleet's secret are unusable")
	}
	if ev.Installation != nil && ev.Installation.ID != 0 {
		if app, ok := gh.(interface {
			ForInstallation(int64) *ghrunner.Client
		}); ok {
			gh = app.ForInstallation(ev.Installation.ID)
		}
	}
	scope := ghrunner.RepoScope(ev.Repository.Owner.Login, ev.Repository.Name)
	if h.cfg.RunnerScope == "org" {
		if ev.Organization == nil || ev.Organization.Login == "" {
			return answer(http.StatusOK, StatusIgnored, "RUNNER_SCOPE is org but the repository belongs to no organisation")
		}
		scope = ghrunner.OrgScope(ev.Organization.Login)
	}
	runners, err := gh.ListRunners(ctx, scope, ghrunner.ListOptions{})
	if err != nil {
		log.ErrorContext(ctx, "listing runners failed", "error", err)
		return answer(http.StatusBadGateway, StatusError, "could not list the runners on GitHub; redeliver later")
	}
	own := fleet.ExecutionName(ev.Repository.Owner.Login, ev.Repository.Name, *wj.ID, runAttempt(wj.RunAttempt))
	for _, r := range reapCandidates(runners, wj.Labels, own) {
		execARN, ours, resp := h.ownExecution(ctx, log, r.Name)
		if !ours {
			if resp.Status >= 500 {
				return resp
			}
			continue
		}
		err := gh.DeleteRunner(ctx, scope, r.ID)
		switch {
		case errors.Is(err, fleet.ErrRunnerBusy), errors.Is(err, fleet.ErrRunnerNotFound):
			continue // it took a job meanwhile, or already left
		case err != nil:
			log.ErrorContext(ctx, "deleting an idle runner failed", "error", err, "runner", r.Name)
			return answer(http.StatusBadGateway, StatusError, "could not delete the idle runner on GitHub; redeliver later")
		}
		h.stopReaped(ctx, log, execARN, r.Name, *wj.ID)
		resp = answer(http.StatusOK, StatusReaped, fmt.Sprintf("job %d was cancelled before it started; idle runner %s reaped", *wj.ID, r.Name))
		resp.Body.Execution = r.Name
		return resp
	}
	return answer(http.StatusOK, StatusIgnored, "job completed before start; no idle runner of ours with its labels is registered yet (the idle timeout reaps it)")
}

func runAttempt(p *int) int {
	if p == nil || *p <= 0 {
		return 1
	}
	return *p
}

// reapCandidates lists idle runners whose labels are exactly the job's (compared
// case-insensitively as sets), the job's own runner first, then online before offline.
func reapCandidates(runners []ghrunner.Runner, labels []string, own string) []ghrunner.Runner {
	want := labelSet(labels)
	var out []ghrunner.Runner
	for _, r := range runners {
		if !r.Busy && slices.Equal(labelSet(r.Labels), want) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b ghrunner.Runner) int {
		rank := func(r ghrunner.Runner) int {
			switch {
			case r.Name == own:
				return 0
			case r.Status == "online":
				return 1
			}
			return 2
		}
		return rank(a) - rank(b)
	})
	return out
}

func labelSet(labels []string) []string {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		l = strings.ToLower(strings.TrimSpace(l))
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// stopReaped stops the reaped runner's task and its execution. The registration is
// already gone, so nothing can run there; failures here are logged and left to the
// janitor rather than answered as errors (a redelivery would find nothing to reap).
func (h *Handler) stopReaped(ctx context.Context, log *slog.Logger, execARN, runner string, jobID int64) {
	if h.deps.ECS != nil && h.cfg.ClusterARN != "" {
		tasks, err := history.SubmittedTasks(ctx, h.deps.SFN, execARN)
		if err != nil {
			log.WarnContext(ctx, "reading the reaped runner's history failed; the janitor will stop its task", "error", err, "runner", runner)
		}
		for _, task := range tasks {
			_, err := h.deps.ECS.StopTask(ctx, &ecs.StopTaskInput{Cluster: &h.cfg.ClusterARN, Task: aws.String(task), Reason: aws.String(fleet.ReapStopReason)})
			if err != nil {
				log.WarnContext(ctx, "stopping the reaped runner's task failed; the janitor will", "error", err, "task_arn", task)
			}
		}
	}
	_, err := h.deps.SFN.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: &execARN,
		Error:        aws.String("JobCancelled"),
		Cause:        aws.String("job " + strconv.FormatInt(jobID, 10) + " was cancelled before it started; this idle runner was reaped by the webhook"),
	})
	if err != nil {
		log.WarnContext(ctx, "stopping the reaped runner's execution failed", "error", err, "runner", runner)
	}
}
