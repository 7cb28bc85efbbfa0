package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// taskAPI is the part of the ECS client the janitor uses.
type taskAPI interface {
	ListTasks(ctx context.Context, in *ecs.ListTasksInput, optFns ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
	StopTask(ctx context.Context, in *ecs.StopTaskInput, optFns ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
}

// executionDescriber is the Step Functions call the janitor makes.
type executionDescriber interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// runnerAPI is the part of the GitHub adapter the janitor uses.
type runnerAPI interface {
	ListRunners(ctx context.Context, scope ghrunner.Scope, opts ghrunner.ListOptions) ([]ghrunner.Runner, error)
	DeleteRunner(ctx context.Context, scope ghrunner.Scope, runnerID int64) error
}

// executionTag is the task tag naming the execution a runner task belongs to.
const executionTag = "runner-fleet:execution"

// describeBatch is DescribeTasks' limit of tasks per call.
const describeBatch = 100

// executionNameRE is the shape of fleet.ExecutionName (…-<job id>-<attempt>, at most
// fleet.MaxNameLength characters): a registration whose name does not have it is not
// one of ours, and costs no Step Functions call.
var executionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+-[0-9]+-[0-9]+$`)

// Summary is what one sweep did; the janitor returns it, logs it and emits its counts
// as CloudWatch metrics.
type Summary struct {
	TasksChecked         int `json:"tasks_checked"`
	TasksStopped         int `json:"tasks_stopped"`
	RegistrationsChecked int `json:"registrations_checked"`
	RegistrationsDeleted int `json:"registrations_deleted"`
	Errors               int `json:"errors"`
}

// Handler sweeps what no timeout covers: runner tasks whose execution has ended (or
// never existed), and offline runner registrations whose execution has ended.
type Handler struct {
	cfg        Config
	ecs        taskAPI
	sfn        executionDescriber
	github     func(ctx context.Context) (runnerAPI, error)
	log        *slog.Logger
	metrics    io.Writer
	now        func() time.Time
	execPrefix string
}

// NewHandler builds the janitor. github returns the GitHub client (built from the
// fleet's secret); it is called only when cfg.Scopes is not empty. Metrics (EMF JSON
// lines) go to metrics, stdout in Lambda.
func NewHandler(cfg Config, tasks taskAPI, executions executionDescriber, github func(context.Context) (runnerAPI, error), log *slog.Logger, metrics io.Writer) (*Handler, error) {
	prefix, err := executionARNPrefix(cfg.StateMachineARN)
	if err != nil {
		return nil, &ConfigError{Var: "STATE_MACHINE_ARN", Problem: err.Error()}
	}
	return &Handler{cfg: cfg, ecs: tasks, sfn: executions, github: github, log: log, metrics: metrics, now: time.Now, execPrefix: prefix}, nil
}

// sweep is one run's state: the counts and the execution statuses already looked up.
type sweep struct {
	h        *Handler
	sum      Summary
	statuses map[string]string // execution name -> status ("" = does not exist)
}

// Sweep runs both sweeps. A failure on one item (a task, a registration) is logged and
// counted and the sweep goes on. The returned error is non-nil only when a whole sweep
// could not run (the cluster's tasks or a scope's runners could not be listed, the
// GitHub credentials are unusable), after everything else was swept, so the Lambda's
// error metric shows a janitor that cannot do its job.
func (h *Handler) Sweep(ctx context.Context) (Summary, error) {
	s := &sweep{h: h, statuses: map[string]string{}}
	var fatal []error
	if err := s.tasks(ctx); err != nil {
		fatal = append(fatal, err)
	}
	if len(h.cfg.Scopes) > 0 {
		if err := s.registrations(ctx); err != nil {
			fatal = append(fatal, err)
		}
	}
	s.sum.Errors += len(fatal)
	h.log.InfoContext(ctx, "janitor sweep done",
		"tasks_checked", s.sum.TasksChecked, "tasks_stopped", s.sum.TasksStopped,
		"registrations_checked", s.sum.RegistrationsChecked, "registrations_deleted", s.sum.RegistrationsDeleted,
		"errors", s.sum.Errors)
	h.emitMetrics(s.sum)
	if len(fatal) > 0 {
		return s.sum, errors.Join(fatal...)
	}
	return s.sum, nil
}

// executionStatus returns the status of the named execution of the state machine, ""
// when it does not exist; it asks Step Functions once per name and sweep.
func (s *sweep) executionStatus(ctx context.Context, name string) (string, error) {
	if st, ok := s.statuses[name]; ok {
		return st, nil
	}
	out, err := s.h.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(s.h.execPrefix + name)})
	var missing *sfntypes.ExecutionDoesNotExist
	switch {
	case errors.As(err, &missing):
		s.statuses[name] = ""
		return "", nil
	case err != nil:
		return "", fmt.Errorf("describe execution %s: %w", name, err)
	}
	st := string(out.Status)
	s.statuses[name] = st
	return st, nil
}

// tasks stops fleet tasks older than the grace whose execution is not RUNNING.
func (s *sweep) tasks(ctx context.Context) error {
	var arns []string
	p := ecs.NewListTasksPaginator(s.h.ecs, &ecs.ListTasksInput{Cluster: aws.String(s.h.cfg.Cluster), DesiredStatus: ecstypes.DesiredStatusRunning})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			s.h.log.ErrorContext(ctx, "janitor could not list tasks", "cluster", s.h.cfg.Cluster, "error", err)
			return fmt.Errorf("list running tasks of cluster %s: %w", s.h.cfg.Cluster, err)
		}
		arns = append(arns, page.TaskArns...)
	}
	for start := 0; start < len(arns); start += describeBatch {
		batch := arns[start:min(start+describeBatch, len(arns))]
		out, err := s.h.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{
			Cluster: aws.String(s.h.cfg.Cluster), Tasks: batch, Include: []ecstypes.TaskField{ecstypes.TaskFieldTags},
		})
		if err != nil {
			// This batch is skipped; the next sweep sees its tasks again.
			s.sum.Errors++
			s.h.log.ErrorContext(ctx, "janitor could not describe tasks", "tasks", len(batch), "error", err)
			continue
		}
		for _, f := range out.Failures {
			// MISSING: the task ended between ListTasks and DescribeTasks; nothing to do.
			if aws.ToString(f.Reason) != "MISSING" {
				s.sum.Errors++
				s.h.log.ErrorContext(ctx, "janitor could not describe a task", "task_arn", aws.ToString(f.Arn), "reason", aws.ToString(f.Reason))
			}
		}
		for i := range out.Tasks {
			s.task(ctx, &out.Tasks[i])
		}
	}
	return nil
}

func (s *sweep) task(ctx context.Context, t *ecstypes.Task) {
	execution := ""
	for _, tag := range t.Tags {
		if aws.ToString(tag.Key) == executionTag {
			execution = aws.ToString(tag.Value)
		}
	}
	if execution == "" {
		return // not a fleet task
	}
	s.sum.TasksChecked++
	arn := aws.ToString(t.TaskArn)
	log := s.h.log.With("execution", execution, "task_arn", arn)
	created := aws.ToTime(t.CreatedAt)
	if created.IsZero() || s.h.now().Sub(created) < s.h.cfg.OrphanGrace {
		return
	}
	status, err := s.executionStatus(ctx, execution)
	if err != nil {
		s.sum.Errors++
		log.ErrorContext(ctx, "janitor could not check a task's execution", "error", err)
		return
	}
	if status == string(sfntypes.ExecutionStatusRunning) {
		return
	}
	_, err = s.h.ecs.StopTask(ctx, &ecs.StopTaskInput{
		Cluster: aws.String(s.h.cfg.Cluster), Task: aws.String(arn), Reason: aws.String(stopReason(execution, status)),
	})
	if err != nil {
		s.sum.Errors++
		log.ErrorContext(ctx, "janitor could not stop an orphaned task", "execution_status", statusWord(status), "error", err)
		return
	}
	s.sum.TasksStopped++
	log.InfoContext(ctx, "janitor stopped an orphaned task", "execution_status", statusWord(status), "age_seconds", int(s.h.now().Sub(created).Seconds()))
}

// stopReason is what ECS shows as the task's stopped reason (at most 255 characters).
func stopReason(execution, status string) string {
	r := "runner-fleet janitor: execution " + execution + " is " + statusWord(status)
	return r[:min(len(r), 255)]
}

func statusWord(status string) string {
	if status == "" {
		return "missing"
	}
	return status
}

// registrations deletes offline fleet runners whose execution is not RUNNING. A
// runner is the fleet's when its name is the name of an execution of the state machine.
func (s *sweep) registrations(ctx context.Context) error {
	gh, err := s.h.github(ctx)
	if err != nil {
		s.h.log.ErrorContext(ctx, "janitor cannot reach GitHub", "error", err)
		return fmt.Errorf("github credentials: %w", err)
	}
	var fatal []error
	for _, scope := range s.h.cfg.Scopes {
		runners, err := gh.ListRunners(ctx, scope, ghrunner.ListOptions{})
		if err != nil {
			s.h.log.ErrorContext(ctx, "janitor could not list runners", "scope", scope.String(), "error", err)
			fatal = append(fatal, ghrunner.Classify(fmt.Errorf("list runners of %s: %w", scope, err)))
			continue
		}
		for _, r := range runners {
			s.registration(ctx, gh, scope, r)
		}
	}
	return errors.Join(fatal...)
}

func (s *sweep) registration(ctx context.Context, gh runnerAPI, scope ghrunner.Scope, r ghrunner.Runner) {
	s.sum.RegistrationsChecked++
	if r.Status != "offline" || r.Busy || len(r.Name) > fleet.MaxNameLength || !executionNameRE.MatchString(r.Name) {
		return
	}
	log := s.h.log.With("execution", r.Name, "runner_id", r.ID, "scope", scope.String())
	status, err := s.executionStatus(ctx, r.Name)
	if err != nil {
		s.sum.Errors++
		log.ErrorContext(ctx, "janitor could not check a runner's execution", "error", err)
		return
	}
	if status == "" || status == string(sfntypes.ExecutionStatusRunning) {
		return // not ours, or still in use
	}
	err = gh.DeleteRunner(ctx, scope, r.ID)
	switch {
	case errors.Is(err, fleet.ErrRunnerBusy):
		log.InfoContext(ctx, "janitor left a runner that took a job", "execution_status", status)
	case errors.Is(err, fleet.ErrRunnerNotFound):
		log.InfoContext(ctx, "runner registration already gone")
	case err != nil:
		s.sum.Errors++
		log.ErrorContext(ctx, "janitor could not delete a runner registration", "execution_status", status, "error", err)
	default:
		s.sum.RegistrationsDeleted++
		log.InfoContext(ctx, "janitor deleted an offline runner registration", "execution_status", status)
	}
}

// emitMetrics writes the summary as one CloudWatch Embedded Metric Format line
// (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
// Lambda ships stdout to CloudWatch Logs, which extracts the metrics, with no API call.
func (h *Handler) emitMetrics(sum Summary) {
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": h.now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  "RunnerFleet",
				"Dimensions": [][]string{{}},
				"Metrics": []metric{
					{"JanitorTasksStopped", "Count"},
					{"JanitorRegistrationsDeleted", "Count"},
					{"JanitorErrors", "Count"},
				},
			}},
		},
		"JanitorTasksStopped":         sum.TasksStopped,
		"JanitorRegistrationsDeleted": sum.RegistrationsDeleted,
		"JanitorErrors":               sum.Errors,
		"tasks_checked":               sum.TasksChecked,
		"registrations_checked":       sum.RegistrationsChecked,
	}
	data, err := json.Marshal(doc)
	if err != nil {
		h.log.Error("encode janitor metrics", "error", err)
		return
	}
	if _, err := h.metrics.Write(append(data, '\n')); err != nil {
		h.log.Error("write janitor metrics", "error", err)
	}
}
