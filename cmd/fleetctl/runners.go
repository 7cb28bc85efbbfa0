package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/history"
)

// Runner states fleetctl shows (docs/fleetctl.md, "The STATE column").
const (
	StateStarting      = "STARTING"
	StateBuildingImage = "BUILDING_IMAGE"
	StateWaitingForJob = "WAITING_FOR_JOB"
	StateRunning       = "RUNNING"
	StateDone          = "DONE"
	StateReaped        = "REAPED"
	StateFailed        = "FAILED"
)

var allStates = []string{StateStarting, StateBuildingImage, StateWaitingForJob, StateRunning, StateDone, StateReaped, StateFailed}

// liveStates are the states of a RUNNING execution only.
var liveStates = []string{StateStarting, StateBuildingImage, StateWaitingForJob, StateRunning}

// jobTag is the task tag the webhook sets when the runner takes a job (docs/contract.md).
const jobTag = "runner-fleet:job"

// recentEventsLimit bounds the history read per running execution by runners list: one
// page, newest first. A RunnerFleet history is a few dozen events; the newest hundred
// always hold the state it is in.
const recentEventsLimit = 100

// Runner is one runner (= one RunnerFleet execution) as fleetctl shows it.
type Runner struct {
	Name            string     `json:"runner"`
	Repository      string     `json:"repository"`
	JobID           int64      `json:"job_id"`
	State           string     `json:"state"`
	Image           string     `json:"image"`
	Class           string     `json:"class"`
	StartedAt       time.Time  `json:"started_at"`
	StoppedAt       *time.Time `json:"stopped_at,omitempty"`
	DurationSeconds int64      `json:"duration_seconds"`
	Status          string     `json:"execution_status"`
	ExecutionARN    string     `json:"execution_arn"`
	TaskARN         string     `json:"task_arn,omitempty"`

	// job is the execution input; result its output (a SUCCEEDED execution's).
	job    fleet.Job
	result *fleet.Result
	// progress is read from the history of a RUNNING execution.
	progress progress
}

// progress is what a RUNNING execution's recent history says about where it is.
type progress struct {
	entered map[string]bool
	// reap is ReapIfIdle's outcome when it has answered.
	reap string
	// runnerExited: RunRunner or RunRunnerOnDemand succeeded: the task stopped with exit 0.
	runnerExited bool
	// tasks are the runner tasks submitted, newest first.
	tasks []string
}

// readProgress scans events (any order) for the signals the STATE column needs.
func readProgress(events []sfntypes.HistoryEvent) progress {
	p := progress{entered: map[string]bool{}}
	var submitted []submission
	for _, ev := range events {
		if d := ev.StateEnteredEventDetails; d != nil && strings.HasSuffix(string(ev.Type), "StateEntered") {
			p.entered[aws.ToString(d.Name)] = true
		}
		if d := ev.StateExitedEventDetails; d != nil && ev.Type == sfntypes.HistoryEventTypeTaskStateExited && aws.ToString(d.Name) == "ReapIfIdle" {
			var r fleet.Reap
			if json.Unmarshal([]byte(aws.ToString(d.Output)), &r) == nil {
				p.reap = r.Outcome
			}
		}
		// A caught failure exits its state too (TaskFailed, then TaskStateExited), so the
		// runner's normal end is the runTask's TaskSucceeded: the only ECS runTask Tasks
		// are RunRunner and RunRunnerOnDemand.
		if d := ev.TaskSucceededEventDetails; d != nil && aws.ToString(d.ResourceType) == "ecs" && strings.HasPrefix(aws.ToString(d.Resource), "runTask") {
			p.runnerExited = true
		}
		if arn := history.SubmittedTask(ev); arn != "" && !slices.ContainsFunc(submitted, func(s submission) bool { return s.arn == arn }) {
			submitted = append(submitted, submission{ev.Id, arn})
		}
	}
	// Newest first, whichever order the events came in.
	slices.SortFunc(submitted, func(a, b submission) int { return cmp.Compare(b.id, a.id) })
	for _, s := range submitted {
		p.tasks = append(p.tasks, s.arn)
	}
	return p
}

type submission struct {
	id  int64
	arn string
}

// deriveState maps an execution to its STATE. tagged reports whether the runner's
// task carries the job tag (the webhook's job-started signal).
func deriveState(status sfntypes.ExecutionStatus, result *fleet.Result, p progress, tagged bool) string {
	switch status {
	case sfntypes.ExecutionStatusSucceeded:
		if result != nil && result.Outcome == fleet.OutcomeReapedIdle {
			return StateReaped
		}
		return StateDone
	case sfntypes.ExecutionStatusRunning:
	default: // FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
		return StateFailed
	}
	e := p.entered
	switch {
	case p.reap == fleet.ReapReaped:
		return StateReaped
	case e["LaunchFailure"] || e["RunnerStopped"]:
		// The runner stopped with an error (non-zero exit, TTL, launch failure); Cleanup
		// is about to name it.
		return StateFailed
	case p.runnerExited:
		return StateDone
	case e["Cleanup"]:
		// Cleanup without a runner that ran: an earlier state failed.
		return StateFailed
	case len(p.tasks) > 0 && tagged:
		return StateRunning
	case len(p.tasks) > 0:
		return StateWaitingForJob
	case e["BuildImage"] && !e["RecheckImage"] && !e["RequestRunner"]:
		return StateBuildingImage
	}
	return StateStarting
}

// describeRunner reads an execution's input and output (DescribeExecution) into r.
func describeRunner(ctx context.Context, client *sfn.Client, arn string, now time.Time) (*Runner, *sfn.DescribeExecutionOutput, error) {
	out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil, nil, err
	}
	r := &Runner{
		Name: aws.ToString(out.Name), ExecutionARN: arn, Status: string(out.Status),
		StartedAt: aws.ToTime(out.StartDate).UTC(),
	}
	if out.StopDate != nil {
		t := out.StopDate.UTC()
		r.StoppedAt = &t
		r.DurationSeconds = int64(t.Sub(r.StartedAt).Round(time.Second).Seconds())
	} else {
		r.DurationSeconds = int64(now.Sub(r.StartedAt).Round(time.Second).Seconds())
	}
	// A hand-started execution may carry anything; show what decodes.
	_ = json.Unmarshal([]byte(aws.ToString(out.Input)), &r.job)
	r.Repository = strings.Trim(r.job.Repository.FullName(), "/")
	r.JobID, r.Image, r.Class = r.job.JobID, r.job.ImageRef, r.job.Class
	if out.Output != nil {
		var res fleet.Result
		if json.Unmarshal([]byte(*out.Output), &res) == nil && res.Outcome != "" {
			r.result = &res
			r.TaskARN = res.TaskArn
		}
	}
	return r, out, nil
}

// recentEvents reads the newest events of an execution's history (one page).
func recentEvents(ctx context.Context, client *sfn.Client, arn string, limit int32) ([]sfntypes.HistoryEvent, error) {
	out, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(arn), ReverseOrder: true, MaxResults: limit, IncludeExecutionData: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read the history of %s: %w", arn, err)
	}
	return out.Events, nil
}

// taskCluster is the cluster named in a task ARN
// (arn:aws:ecs:region:account:task/cluster/id), or "" for the old ARN format.
func taskCluster(taskARN string) string {
	_, res, ok := strings.Cut(taskARN, ":task/")
	if !ok {
		return ""
	}
	cluster, _, ok := strings.Cut(res, "/")
	if !ok {
		return ""
	}
	return cluster
}

// describeTasks describes task ARNs with their tags, batched by cluster (100 a call).
// fallbackCluster serves ARNs in the old format.
func describeTasks(ctx context.Context, client *ecs.Client, arns []string, fallbackCluster func() (string, error)) (map[string]ecstypes.Task, error) {
	byCluster := map[string][]string{}
	for _, a := range arns {
		c := taskCluster(a)
		if c == "" {
			var err error
			if c, err = fallbackCluster(); err != nil {
				return nil, err
			}
		}
		byCluster[c] = append(byCluster[c], a)
	}
	out := map[string]ecstypes.Task{}
	for c, list := range byCluster {
		for start := 0; start < len(list); start += 100 {
			batch := list[start:min(len(list), start+100)]
			resp, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{
				Cluster: aws.String(c), Tasks: batch, Include: []ecstypes.TaskField{ecstypes.TaskFieldTags},
			})
			if err != nil {
				return nil, fmt.Errorf("describe runner tasks in cluster %s (ECS DescribeTasks): %w", c, err)
			}
			for _, t := range resp.Tasks {
				out[aws.ToString(t.TaskArn)] = t
			}
		}
	}
	return out, nil
}

func hasTag(t ecstypes.Task, key string) bool {
	for _, tag := range t.Tags {
		if aws.ToString(tag.Key) == key && aws.ToString(tag.Value) != "" {
			return true
		}
	}
	return false
}

// executionARN is the ARN of the runner (execution) name, or name itself when it is
// already an execution ARN.
func executionARN(ctx context.Context, f *Fleet, name string) (string, error) {
	if strings.HasPrefix(name, "arn:") {
		return name, nil
	}
	sm, err := f.Resource(ctx, OutputStateMachineARN)
	if err != nil {
		return "", err
	}
	arn, err := history.ExecutionARN(sm, name)
	if err != nil {
		return "", fmt.Errorf("%w; check --state-machine-arn", err)
	}
	return arn, nil
}

// consoleURL links the execution in the Step Functions console.
func consoleURL(region, executionARN string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/states/home?region=%s#/v2/executions/details/%s", region, region, executionARN)
}

// humanDuration renders d compactly: 45s, 12m03s, 3h04m, 2d05h.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}
