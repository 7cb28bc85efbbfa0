// Package simrunner runs simulated GitHub Actions runners inside the ECS fake: each task
// RunTask starts boots after a delay, opens its sealed JIT config through KMS with the
// runner entrypoint's own code (runner/launch), connects to the fake GitHub with it,
// takes whatever job GitHub's dispatcher gives it, runs it for the job's (scaled)
// duration, reports it and exits 0 — as the real runner container does. StopTask ends
// it as SIGTERM ends the real one (exit 143).
//
// Attach wires it to an awsfake.Server and a githubfake.Server (with EnableActions
// called) through the ECS fake's task hooks:
//
//	fleet := simrunner.Attach(awsSrv, ghSrv, kms.NewFromConfig(awsCfg), simrunner.Options{
//		BootDelay: 200 * time.Millisecond, Scale: 0.01, Logger: log,
//	})
//	defer fleet.Close()
//
// Exit codes are the entrypoint's (docs/runner.md): 78 bad environment, 65 seal that
// cannot be opened, 69 KMS unavailable, 75 stopped while KMS answered; 0 after the job
// or when the registration was deleted before a job came (the runner leaves on its
// own); 1 when GitHub refused the JIT config or a "crash" job killed the runner; 143
// after StopTask.
package simrunner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/seal"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
	"github.com/runnerfleet/fleet/runner/launch"
)

// Exit codes beyond the entrypoint's own (runner/launch).
const (
	// ExitRunnerError is the runner's "terminated error": GitHub refused the JIT
	// config, or the job crashed the runner.
	ExitRunnerError = 1
	// ExitSIGTERM is 128+SIGTERM: StopTask reached the runner.
	ExitSIGTERM = 143
)

// DefaultContainer is the runner container's name in the fleet's task definition.
const DefaultContainer = fleet.RunnerContainer

// Options tune the simulated runners.
type Options struct {
	// BootDelay is how long a task stays PROVISIONING (image pull, ENI) before it
	// runs; Fargate takes 30-60 s.
	BootDelay time.Duration
	// BootDelayFor, when set, gives each task its own boot time (Fargate's varies),
	// overriding BootDelay; scenarios use it to make one runner connect before another.
	BootDelayFor func(t *awsfake.Task) time.Duration
	// Scale multiplies job durations (0.01 runs a 100-second job in one second);
	// 0 means 1.
	Scale float64
	// Container names the container whose environment carries RUNNER_FLEET_*;
	// default DefaultContainer, else the task's first container.
	Container string
	// OpenTimeout bounds the KMS call, as the entrypoint's does; default 30 s.
	OpenTimeout time.Duration
	// Filter, when set, picks the tasks that are runners; others are left alone.
	Filter func(t *awsfake.Task) bool
	// OnOpened, for tests only, receives each plaintext JIT config a runner opened,
	// so a suite can search histories and logs for it. It gets a copy.
	OnOpened func(execution string, jit []byte)
	// Logger gets one line per lifecycle step; nil discards. JIT configs are never logged.
	Logger *slog.Logger
}

// Stats counts what the simulated runners did.
type Stats struct {
	TasksStarted        int // tasks RunTask created (and Filter accepted)
	TasksBooted         int // reached RUNNING
	StoppedBeforeBoot   int // StopTask while PROVISIONING
	BadEnvironment      int // exit 78
	SealFailures        int // exit 65
	KMSFailures         int // exit 69
	ConnectFailures     int // GitHub refused the JIT config
	RegistrationDeleted int // the registration was deleted before a job came
	JobsRun             int // jobs taken
	JobsSucceeded       int
	JobsCancelled       int
	JobsCrashed         int
	StoppedByStopTask   int // StopTask reached a running runner
	// ExitCodes counts the exit codes the runners' tasks stopped with.
	ExitCodes map[int]int
}

// Run is one simulated runner's life, for timelines.
type Run struct {
	TaskARN      string
	Execution    string
	RunnerID     int64
	RunnerName   string
	JobID        int64 // the job it took, 0 if none
	StartedAt    time.Time
	BootedAt     time.Time
	ConnectedAt  time.Time
	JobStartedAt time.Time
	ExitedAt     time.Time
	ExitCode     int
	// Outcome is "job", "stopped", "crashed", "seal", "kms", "environment",
	// "connect", "deleted", "stopped-before-boot" or "closed" (Fleet.Close); "" while
	// running.
	Outcome string
}

// Fleet is the set of simulated runners attached to a pair of fakes.
type Fleet struct {
	aws  *awsfake.Server
	gh   *githubfake.Server
	kms  seal.Decrypter
	opts Options
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	tasks map[string]context.CancelCauseFunc // running runners by task ARN
	runs  map[string]*Run
	order []string
	stats Stats
}

var (
	errStopTask = errors.New("StopTask")
	errClosed   = errors.New("simrunner closed")
)

// Attach sets the ECS fake's OnTaskStarted and OnTaskStopping hooks (calling any hooks
// set before) so every task RunTask starts becomes a simulated runner. Call it before
// the fakes take requests; Close stops the runners.
func Attach(aws *awsfake.Server, gh *githubfake.Server, kms seal.Decrypter, o Options) *Fleet {
	if o.Scale <= 0 {
		o.Scale = 1
	}
	if o.Container == "" {
		o.Container = DefaultContainer
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 30 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fleet{
		aws: aws, gh: gh, kms: kms, opts: o, log: log, ctx: ctx, cancel: cancel,
		tasks: map[string]context.CancelCauseFunc{}, runs: map[string]*Run{},
		stats: Stats{ExitCodes: map[int]int{}},
	}
	prevStarted, prevStopping := aws.ECS.OnTaskStarted, aws.ECS.OnTaskStopping
	aws.ECS.OnTaskStarted = func(t *awsfake.Task) {
		if prevStarted != nil {
			prevStarted(t)
		}
		f.started(t)
	}
	aws.ECS.OnTaskStopping = func(t *awsfake.Task) {
		if prevStopping != nil {
			prevStopping(t)
		}
		f.stopping(t)
	}
	return f
}

// started is OnTaskStarted: it must not block, so the runner lives in a goroutine.
func (f *Fleet) started(t *awsfake.Task) {
	if f.opts.Filter != nil && !f.opts.Filter(t) {
		return
	}
	f.mu.Lock()
	if f.ctx.Err() != nil {
		f.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancelCause(f.ctx)
	f.tasks[t.ARN] = cancel
	f.runs[t.ARN] = &Run{TaskARN: t.ARN, StartedAt: time.Now()}
	f.order = append(f.order, t.ARN)
	f.stats.TasksStarted++
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		defer cancel(nil)
		f.lifecycle(ctx, t)
	}()
}

// stopping is OnTaskStopping: StopTask reached a RUNNING task.
func (f *Fleet) stopping(t *awsfake.Task) {
	f.mu.Lock()
	cancel, ok := f.tasks[t.ARN]
	f.mu.Unlock()
	if ok {
		cancel(errStopTask)
		return
	}
	if f.opts.Filter != nil && !f.opts.Filter(t) {
		return
	}
	// Not (or no longer) one of ours, e.g. started before Attach: end it as the fake
	// would without the hook, so it does not stay STOPPING.
	go func() { _ = f.aws.ECS.StopTaskWithExit(t.ARN, ExitSIGTERM, "", "") }()
}

func (f *Fleet) update(arn string, fn func(r *Run, s *Stats)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.runs[arn], &f.stats)
}

// lifecycle is one runner task from PROVISIONING to STOPPED.
func (f *Fleet) lifecycle(ctx context.Context, t *awsfake.Task) {
	log := f.log.With("task_arn", t.ARN)
	boot := f.opts.BootDelay
	if f.opts.BootDelayFor != nil {
		boot = f.opts.BootDelayFor(t)
	}
	timer := time.NewTimer(boot)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		// Only Close gets here: StopTask stops a PROVISIONING task at once without
		// OnTaskStopping, which SetTaskRunning below finds out. The task is left as it is.
		f.finish(t.ARN, 0, "closed", false)
		return
	}
	if err := f.aws.ECS.SetTaskRunning(t.ARN); err != nil {
		log.Info("task stopped before it booted", "err", err)
		f.finish(t.ARN, 0, "stopped-before-boot", false)
		return
	}
	f.update(t.ARN, func(r *Run, s *Stats) { r.BootedAt = time.Now(); s.TasksBooted++ })
	code, outcome := f.runRunner(ctx, log, t)
	if context.Cause(ctx) == errClosed {
		f.finish(t.ARN, code, outcome, false)
		return
	}
	// An empty stop code keeps UserInitiated after StopTask, else
	// EssentialContainerExited: the runner container is the essential one.
	if err := f.aws.ECS.StopTaskWithExit(t.ARN, code, "", ""); err != nil {
		log.Warn("cannot stop the task", "err", err)
	}
	log.Info("runner exited", "exit_code", code, "outcome", outcome)
	f.finish(t.ARN, code, outcome, true)
}

func (f *Fleet) finish(arn string, code int, outcome string, exited bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tasks, arn)
	r := f.runs[arn]
	r.ExitedAt, r.Outcome = time.Now(), outcome
	if outcome == "stopped-before-boot" {
		f.stats.StoppedBeforeBoot++
		return
	}
	r.ExitCode = code
	if exited {
		f.stats.ExitCodes[code]++
	}
}

// containerEnv is the environment of the runner container.
func (f *Fleet) containerEnv(t *awsfake.Task) map[string]string {
	for _, c := range t.Containers {
		if c.Name == f.opts.Container {
			return c.Environment
		}
	}
	if len(t.Containers) > 0 {
		return t.Containers[0].Environment
	}
	return nil
}

// runRunner does what the entrypoint and the runner do inside the container and
// returns the exit code and an outcome word.
func (f *Fleet) runRunner(ctx context.Context, log *slog.Logger, t *awsfake.Task) (int, string) {
	env := f.containerEnv(t)
	cfg, err := launch.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		log.Warn("runner-fleet-entrypoint: " + err.Error())
		f.update(t.ARN, func(_ *Run, s *Stats) { s.BadEnvironment++ })
		return launch.ExitCode(err), "environment"
	}
	f.update(t.ARN, func(r *Run, _ *Stats) { r.Execution = cfg.Execution })
	log = log.With("execution", cfg.Execution)

	// As in the entrypoint, a stop signal does not interrupt the KMS call; it is
	// looked at once the seal is open.
	openCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.opts.OpenTimeout)
	jit, err := launch.Open(openCtx, f.kms, cfg)
	cancel()
	if err != nil {
		code := launch.ExitCode(err)
		log.Warn("runner-fleet-entrypoint: "+err.Error(), "exit_code", code)
		if code == launch.ExitSealInvalid {
			f.update(t.ARN, func(_ *Run, s *Stats) { s.SealFailures++ })
			return code, "seal"
		}
		f.update(t.ARN, func(_ *Run, s *Stats) { s.KMSFailures++ })
		return code, "kms"
	}
	log.Info("sealed JIT config opened", "bytes", jit.Len())
	if f.opts.OnOpened != nil {
		f.opts.OnOpened(cfg.Execution, bytes.Clone(jit))
	}
	if context.Cause(ctx) != nil {
		// A stop that arrived while KMS answered: no runner is started (launch.Run).
		jit.Zero()
		return launch.ExitStopped, "stopped"
	}
	ss, err := f.gh.Connect(string(jit))
	jit.Zero()
	if errors.Is(err, githubfake.ErrUnknownRunner) || errors.Is(err, githubfake.ErrRunnerRemoved) {
		// Deleted before the runner came up (a reap): it exits without a job.
		log.Info("runner registration deleted before the runner connected")
		f.update(t.ARN, func(_ *Run, s *Stats) { s.RegistrationDeleted++ })
		return 0, "deleted"
	}
	if err != nil {
		log.Warn("GitHub refused the JIT config", "err", err)
		f.update(t.ARN, func(_ *Run, s *Stats) { s.ConnectFailures++ })
		return ExitRunnerError, "connect"
	}
	defer ss.Close()
	rn := ss.Runner()
	log = log.With("runner", rn.Name, "runner_id", rn.ID)
	f.update(t.ARN, func(r *Run, _ *Stats) { r.RunnerID, r.RunnerName, r.ConnectedAt = rn.ID, rn.Name, time.Now() })
	log.Info("runner listening for jobs")

	job, err := ss.Next(ctx)
	switch {
	case context.Cause(ctx) != nil:
		return f.stopped(ctx, t.ARN, log)
	case errors.Is(err, githubfake.ErrRunnerRemoved):
		log.Info("runner registration deleted; the runner leaves")
		f.update(t.ARN, func(_ *Run, s *Stats) { s.RegistrationDeleted++ })
		return 0, "deleted"
	case err != nil:
		log.Warn("runner session ended", "err", err)
		return ExitRunnerError, "connect"
	}
	f.update(t.ARN, func(r *Run, s *Stats) { r.JobID, r.JobStartedAt = job.ID, time.Now(); s.JobsRun++ })
	log = log.With("job_id", job.ID, "repo", job.Repo)
	log.Info("job started", "duration", job.Duration)

	d := time.Duration(float64(job.Duration) * f.opts.Scale)
	if job.Crash {
		d /= 2
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-job.Cancelled:
		if err := ss.Finish(job.ID, githubfake.ConclusionCancelled); err != nil {
			log.Warn("cannot report the cancelled job", "err", err)
		}
		f.update(t.ARN, func(_ *Run, s *Stats) { s.JobsCancelled++ })
		log.Info("job cancelled")
		return 0, "job"
	case <-ctx.Done():
		return f.stopped(ctx, t.ARN, log)
	}
	if job.Crash {
		// The runner process dies: no report; GitHub fails the job once it notices.
		ss.Close()
		f.update(t.ARN, func(_ *Run, s *Stats) { s.JobsCrashed++ })
		log.Info("runner crashed mid-job")
		return ExitRunnerError, "crashed"
	}
	if err := ss.Finish(job.ID, githubfake.ConclusionSuccess); err != nil {
		log.Warn("cannot report the job", "err", err)
		return ExitRunnerError, "job"
	}
	f.update(t.ARN, func(_ *Run, s *Stats) { s.JobsSucceeded++ })
	log.Info("job done")
	return 0, "job"
}

// stopped is the runner's end after StopTask (or Close): the session closes (deferred)
// and a job it ran fails as on GitHub when a runner receives a shutdown signal.
func (f *Fleet) stopped(ctx context.Context, arn string, log *slog.Logger) (int, string) {
	if context.Cause(ctx) == errStopTask {
		f.update(arn, func(_ *Run, s *Stats) { s.StoppedByStopTask++ })
		log.Info("runner received SIGTERM (StopTask)")
	}
	return ExitSIGTERM, "stopped"
}

// Stats returns the counters so far.
func (f *Fleet) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.ExitCodes = maps.Clone(f.stats.ExitCodes)
	return s
}

// Runs returns every runner's life so far, in task start order.
func (f *Fleet) Runs() []Run {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Run, 0, len(f.order))
	for _, arn := range f.order {
		out = append(out, *f.runs[arn])
	}
	return out
}

// Active is the number of runner tasks not yet exited.
func (f *Fleet) Active() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tasks)
}

// Wait blocks until no simulated runner is active, or ctx ends.
func (f *Fleet) Wait(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for f.Active() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("simrunner: %d runners still active: %w", f.Active(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close ends every simulated runner (sessions closed, tasks left as they are) and
// waits for them; later tasks are ignored.
func (f *Fleet) Close() {
	f.mu.Lock()
	for _, cancel := range f.tasks {
		cancel(errClosed)
	}
	f.cancel()
	f.mu.Unlock()
	f.wg.Wait()
}
