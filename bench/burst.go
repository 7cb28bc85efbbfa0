package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/fleetlocal"
	"github.com/runnerfleet/fleet/local/githubfake"
	"github.com/runnerfleet/fleet/local/lambdalocal"
	"github.com/runnerfleet/fleet/local/simrunner"
)

// LabelSet is one kind of job in the burst. Share is its fraction of the jobs; New marks
// the image nobody built yet, so its jobs wait for one build.
type LabelSet struct {
	Name   string   `json:"name"`
	Repo   string   `json:"repo"`
	Labels []string `json:"labels"`
	Share  float64  `json:"share"`
	New    bool     `json:"new_image,omitempty"`
}

// DefaultLabelSets spread a burst over the classes (on-demand x86 and arm64, Spot) and
// two prebuilt images, plus one new image that must be built during the burst.
func DefaultLabelSets() []LabelSet {
	return []LabelSet{
		{Name: "small", Repo: "octo-org/api", Labels: []string{"self-hosted", "class:small"}, Share: 0.25},
		{Name: "medium", Repo: "octo-org/api", Labels: []string{"self-hosted", "linux", "class:medium"}, Share: 0.25},
		{Name: "debian medium", Repo: "octo-org/web", Labels: []string{"self-hosted", "image:debian:12", "class:medium"}, Share: 0.20},
		{Name: "medium Spot", Repo: "octo-org/web", Labels: []string{"self-hosted", "class:medium-spot"}, Share: 0.15},
		{Name: "medium arm64", Repo: "octo-org/api", Labels: []string{"self-hosted", "class:medium-arm"}, Share: 0.10},
		{Name: "new image (fedora:41)", Repo: "octo-org/tools", Labels: []string{"self-hosted", "image:fedora:41", "class:small"}, Share: 0.05, New: true},
	}
}

// BootModel is what the simulation cannot measure: how long a Fargate task takes from
// RunTask to a running container, and from the runner's exit to the task's end of
// billing. Both are production seconds.
type BootModel struct {
	Boot     time.Duration `json:"boot_ns"`
	Shutdown time.Duration `json:"shutdown_ns"`
	Source   string        `json:"source"`
}

// DefaultBootModel states the assumption the report prints beside every Fargate number.
func DefaultBootModel() BootModel {
	return BootModel{
		Boot:     60 * time.Second,
		Shutdown: 5 * time.Second,
		Source: "assumption, not a measurement: 60 s from RunTask to a running runner on Fargate. AWS documents that every " +
			"Fargate task pulls its whole image (no cache, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html), " +
			"that image download is 76% of container start time and that SOCI lazy loading starts tasks up to 50-60% faster " +
			"(https://aws.amazon.com/blogs/aws/aws-fargate-enables-faster-container-startup-using-seekable-oci/, re:Invent 2023 CON307); " +
			"the simulated runner pretends it pulls a 412 MB image. Shutdown: 5 s from the runner's own exit to STOPPED (no SIGTERM " +
			"wait: the entrypoint exits by itself). Billing runs from the start of the image pull to the task's end, per second " +
			"with a one-minute minimum per task (https://www.vantage.sh/blog/fargate-pricing); flags -boot and -shutdown.",
	}
}

// Scenario is what is injected on top of the quotas.
type Scenario struct {
	Name string `json:"name"`
	// GitHub5xx is the share of GitHub API calls answered 502.
	GitHub5xx float64 `json:"github_5xx_ratio"`
	// GitHubWritesPerMinute overrides the GitHub write quota (per minute, production);
	// 0 keeps Quotas.GitHubWrites.
	GitHubWritesPerMinute float64 `json:"github_writes_per_minute,omitempty"`
	// GitHubSecondary is how many JIT-config requests GitHub answers with its
	// secondary rate limit (403, Retry-After: 60) on top of the enforced quota.
	GitHubSecondary int `json:"github_secondary_limited"`
	// SpotShortage is how many FARGATE_SPOT placements fail for capacity.
	SpotShortage int `json:"spot_shortage"`
	// ECSThrottle is the share of every ECS call answered ThrottlingException.
	ECSThrottle float64 `json:"ecs_throttle_ratio"`
}

// BurstConfig configures one burst.
type BurstConfig struct {
	Jobs      int
	TimeScale float64
	Quotas    Quotas
	Boot      BootModel
	// JobDuration, BuildDuration and IdleTimeout are production durations.
	JobDuration   time.Duration
	BuildDuration time.Duration
	IdleTimeout   time.Duration
	LabelSets     []LabelSet
	// Concurrency is the local Lambda sandboxes per function.
	Concurrency int
	// SyncPoll is how often the local engine's .sync tasks poll (wall clock; default 1 s).
	SyncPoll time.Duration
	// QueueWorkers is how many control-API requests queue the burst in parallel.
	QueueWorkers int
	Root         string
	Bootstraps   string
	Scenario     Scenario
	// Timeout bounds the whole burst (wall clock).
	Timeout time.Duration
	Log     *slog.Logger
}

func (c *BurstConfig) defaults() error {
	if c.Jobs <= 0 {
		return fmt.Errorf("jobs %d: a burst needs at least one job", c.Jobs)
	}
	if c.TimeScale <= 0 || c.TimeScale > 1 {
		return fmt.Errorf("time scale %v must be in (0, 1]", c.TimeScale)
	}
	if err := c.Quotas.Validate(); err != nil {
		return err
	}
	if c.LabelSets == nil {
		c.LabelSets = DefaultLabelSets()
	}
	if c.Boot.Boot == 0 && c.Boot.Source == "" {
		c.Boot = DefaultBootModel()
	}
	if c.JobDuration <= 0 {
		c.JobDuration = 120 * time.Second
	}
	if c.BuildDuration <= 0 {
		c.BuildDuration = 180 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 300 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.SyncPoll <= 0 {
		c.SyncPoll = time.Second
	}
	if c.QueueWorkers <= 0 {
		c.QueueWorkers = 16
	}
	if c.Timeout <= 0 {
		c.Timeout = 8 * time.Minute
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// prod converts a wall-clock duration of the scaled run to production seconds.
func (c *BurstConfig) prod(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.TimeScale)
}

func (c *BurstConfig) wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.TimeScale)
}

// JobWait is how long one job waited for a runner (production seconds).
type JobWait struct {
	ID      int64   `json:"id"`
	Set     string  `json:"label_set"`
	Wait    float64 `json:"wait_seconds"`
	Outcome string  `json:"outcome"`
}

// FunctionStats is one Lambda function's share of the burst.
type FunctionStats struct {
	Invocations int     `json:"invocations"`
	Errors      int     `json:"errors"`
	GBSeconds   float64 `json:"gb_seconds"`
	MemoryMB    int     `json:"memory_mb"`
	MeanMillis  float64 `json:"mean_duration_ms"`
	Inits       int     `json:"sandbox_starts"` // whole run, warm-up included
	MeanInitMS  float64 `json:"mean_init_ms"`
}

// NotRunning is the Fargate time per runner task spent not running a job, split by
// phase, in production seconds.
type NotRunning struct {
	Boot      float64 `json:"boot_seconds"`
	Idle      float64 `json:"idle_before_job_seconds"`
	Shutdown  float64 `json:"shutdown_seconds"`
	Unused    float64 `json:"unused_runner_seconds"` // whole life of runners that never got a job, per job
	PerJob    float64 `json:"total_per_job_seconds"`
	Tasks     int     `json:"tasks"`
	TasksIdle int     `json:"tasks_without_job"`
}

// BurstResult is everything one burst measured.
type BurstResult struct {
	Scenario  Scenario `json:"scenario"`
	SyncPoll  float64  `json:"sync_poll_seconds"`
	Jobs      int      `json:"jobs"`
	TimeScale float64  `json:"time_scale"`
	WallTotal float64  `json:"wall_seconds_total"`
	// LaunchSpan is first queued -> last runner launched, production seconds; LaunchSpanWall the same on the wall clock.
	LaunchSpan     float64 `json:"launch_span_seconds"`
	LaunchSpanWall float64 `json:"launch_span_wall_seconds"`
	Minimum        float64 `json:"theoretical_minimum_seconds"`
	Binding        string  `json:"binding_quota"`
	Bounds         []Bound `json:"bounds"`
	Ratio          float64 `json:"ratio"`

	Completed   int            `json:"jobs_succeeded"`
	Lost        int            `json:"jobs_lost"`
	LostJobs    []JobWait      `json:"lost_jobs,omitempty"`
	Conclusions map[string]int `json:"conclusions"`
	Leaked      struct {
		Tasks         int `json:"tasks"`
		Registrations int `json:"registrations"`
	} `json:"leaked"`
	Runners         int            `json:"runners_launched"`
	Builds          int            `json:"image_builds"`
	ExecutionErrors map[string]int `json:"execution_errors"`
	Executions      int            `json:"executions"`

	WaitP50  float64   `json:"wait_p50_seconds"`
	WaitP95  float64   `json:"wait_p95_seconds"`
	WaitMax  float64   `json:"wait_max_seconds"`
	Longest  []JobWait `json:"longest_waits"`
	Launches []float64 `json:"launches_seconds"` // each runner launch, production seconds after the first queued job

	PerJob      Usage                    `json:"per_job"`
	Functions   map[string]FunctionStats `json:"lambda_functions"`
	GitHubCalls map[string]int64         `json:"github_calls"`
	AWSCalls    map[string]int           `json:"aws_calls"`
	Fargate     NotRunning               `json:"fargate_not_running_job"`
	// Deliveries counts the burst's workflow_job deliveries by action; Failed those the
	// webhook did not answer with 2xx within GitHub's 10 s (locally the invocation still
	// runs, as Lambda's does; on GitHub a failed queued delivery is not retried).
	Deliveries        map[string]int `json:"deliveries"`
	DeliveriesFailed  map[string]int `json:"deliveries_failed"`
	DeliveryP95Millis float64        `json:"delivery_p95_ms"`
	DeliveryMaxMillis float64        `json:"delivery_max_ms"`
}

// RunBurst starts a fresh local environment, warms the prebuilt images up, queues the
// burst at once through the control API and measures it until everything settled.
func RunBurst(ctx context.Context, cfg BurstConfig) (*BurstResult, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	log := cfg.Log.With("scenario", cfg.Scenario.Name)
	env, err := fleetlocal.Start(ctx, fleetlocal.Options{
		Root: cfg.Root, Bootstraps: cfg.Bootstraps, TimeScale: cfg.TimeScale,
		IdleTimeout: cfg.IdleTimeout, BootDelay: cfg.wall(cfg.Boot.Boot), BuildDuration: cfg.wall(cfg.BuildDuration),
		Concurrency: cfg.Concurrency, SyncPoll: cfg.SyncPoll, JanitorEvery: -1, Log: cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("start the local environment: %w", err)
	}
	defer env.Close()

	// Warm up: one job per prebuilt image, so the burst finds them in ECR, as a fleet
	// in use would. Not measured.
	// Warm-up builds take no time: they are not measured. BuildDuration is read when a
	// build starts, and every warm-up build has ended before the burst begins.
	began := time.Now()
	env.Opts.BuildDuration = 100 * time.Millisecond
	if err := warmUp(ctx, env, cfg); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	env.Opts.BuildDuration = cfg.wall(cfg.BuildDuration)
	log.Info("warm-up done", "seconds", time.Since(began).Seconds())
	if err := applyQuotas(env, cfg); err != nil {
		return nil, err
	}
	env.AWS.ResetCalls()
	env.GitHub.ResetCalls()
	before := env.Runtime.Stats()
	start := time.Now()

	ids, err := queueBurst(ctx, env.Control(), cfg)
	if err != nil {
		return nil, err
	}
	log.Info("burst queued", "jobs", len(ids), "seconds", time.Since(start).Seconds())
	if err := waitJobs(ctx, env, ids, log); err != nil {
		log.Warn("jobs did not all finish", "error", err)
	}
	// Executions end after the idle wait (scaled); then cleanup has run everywhere.
	if err := env.Settle(ctx, max(30*time.Second, 3*cfg.wall(cfg.IdleTimeout)+30*time.Second)); err != nil {
		log.Warn("environment did not settle", "error", err)
	}
	res, err := measure(ctx, env, cfg, ids, before, start)
	if err != nil {
		return nil, err
	}
	res.WallTotal = time.Since(start).Seconds()
	return res, nil
}

func warmUp(ctx context.Context, env *fleetlocal.Env, cfg BurstConfig) error {
	ctl := env.Control()
	var ids []int64
	seen := map[string]bool{}
	for _, s := range cfg.LabelSets {
		key := imageKey(s.Labels)
		if s.New || seen[key] {
			continue
		}
		seen[key] = true
		id, err := ctl.QueueJob(ctx, fleetlocal.JobRequest{Repo: s.Repo, Labels: s.Labels, DurationSeconds: 1, Name: "warm-up"})
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	return waitJobs(ctx, env, ids, cfg.Log)
}

// imageKey groups label sets by the image they need: the image label and whether the
// class is arm64 (an arm64 class needs its own build).
func imageKey(labels []string) string {
	img, arm := "default", false
	for _, l := range labels {
		l = strings.ToLower(l)
		if strings.HasPrefix(l, "image:") {
			img = l
		}
		if strings.HasSuffix(l, "-arm") || l == "arm64" {
			arm = true
		}
	}
	return fmt.Sprintf("%s/%v", img, arm)
}

// applyQuotas enforces the quotas in the fakes, their rates divided by the time scale
// (a scaled second holds 1/scale production seconds of tokens); bursts are unchanged.
func applyQuotas(env *fleetlocal.Env, cfg BurstConfig) error {
	q, s := cfg.Quotas, cfg.TimeScale
	// One task per RunTask call: both the API bucket and the launch bucket take a token
	// per call, so the tighter of the two governs.
	burst := math.Min(q.RunTask.Burst, q.FargateLaunch.Burst)
	rate := math.Min(q.RunTask.PerSecond, q.FargateLaunch.PerSecond)
	if err := env.AWS.SetFault("ecs", "RunTask", awsfake.Fault{Bucket: env.AWS.NewTokenBucket(burst, rate/s)}); err != nil {
		return err
	}
	if err := env.AWS.SetFault("sfn", "StartExecution", awsfake.Fault{Bucket: env.AWS.NewTokenBucket(q.StartExecution.Burst, q.StartExecution.PerSecond/s)}); err != nil {
		return err
	}
	gw := githubQuota(cfg)
	// A sliding window of Window × scale wall time holds Window of production time.
	env.GitHub.SetFaults(githubfake.Faults{
		ServerErrorRatio: cfg.Scenario.GitHub5xx,
		WritesPerMinute:  int(gw.Burst),
		WriteWindow:      cfg.wall(gw.Window),
		WritesPerRoute:   true,
	})
	if n := cfg.Scenario.GitHubSecondary; n > 0 {
		env.GitHub.ForceResponse(jitRoute, githubfake.Forced{Status: 403, Times: n,
			Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			Header:  map[string][]string{"Retry-After": {"60"}}})
	}
	if cfg.Scenario.SpotShortage > 0 {
		env.AWS.ECS.SetCapacityShortage("FARGATE_SPOT", cfg.Scenario.SpotShortage)
	}
	if cfg.Scenario.ECSThrottle > 0 {
		if err := env.AWS.SetFault("ecs", "*", awsfake.Fault{ThrottleRatio: cfg.Scenario.ECSThrottle}); err != nil {
			return err
		}
	}
	return nil
}

// jitRoute is the GitHub operation RequestRunner calls for a repository runner.
const jitRoute = "actions/generate-runner-jitconfig-for-repo"

// githubQuota is the GitHub write quota the scenario runs under.
func githubQuota(cfg BurstConfig) Quota {
	q := cfg.Quotas.GitHubWrites
	if q.Window <= 0 {
		q.Window = time.Minute
	}
	if pm := cfg.Scenario.GitHubWritesPerMinute; pm > 0 {
		q.Burst = pm * q.Window.Minutes()
		q.PerSecond = pm / 60
	}
	return q
}

type queued struct {
	id  int64
	set string
}

// queueBurst queues cfg.Jobs jobs at once, label sets interleaved by share.
func queueBurst(ctx context.Context, ctl *fleetlocal.Control, cfg BurstConfig) ([]queued, error) {
	plan := assign(cfg.Jobs, cfg.LabelSets)
	out := make([]queued, len(plan))
	errs := make([]error, len(plan))
	work := make(chan int)
	var wg sync.WaitGroup
	for range cfg.QueueWorkers {
		wg.Go(func() {
			for i := range work {
				s := cfg.LabelSets[plan[i]]
				id, err := ctl.QueueJob(ctx, fleetlocal.JobRequest{Repo: s.Repo, Labels: s.Labels,
					DurationSeconds: cfg.JobDuration.Seconds(), Name: fmt.Sprintf("burst-%d", i)})
				out[i], errs[i] = queued{id: id, set: s.Name}, err
			}
		})
	}
	for i := range plan {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("queue the burst: %w", err)
	}
	return out, nil
}

// assign spreads n jobs over the label sets in proportion to their shares, interleaved
// (largest remainder first), so every set is present from the first second.
func assign(n int, sets []LabelSet) []int {
	total := 0.0
	for _, s := range sets {
		total += s.Share
	}
	out := make([]int, 0, n)
	credit := make([]float64, len(sets))
	for range n {
		best := 0
		for i, s := range sets {
			credit[i] += s.Share / total
			if credit[i] > credit[best] {
				best = i
			}
		}
		credit[best]--
		out = append(out, best)
	}
	return out
}

func waitJobs[T int64 | queued](ctx context.Context, env *fleetlocal.Env, ids []T, log *slog.Logger) error {
	want := map[int64]bool{}
	for _, x := range ids {
		switch v := any(x).(type) {
		case int64:
			want[v] = true
		case queued:
			want[v.id] = true
		}
	}
	ctl := env.Control()
	for last := time.Now(); ; {
		jobs, err := ctl.Jobs(ctx)
		if err == nil {
			open := 0
			for _, j := range jobs {
				if want[j.ID] && j.Status != "completed" {
					open++
				}
			}
			if open == 0 {
				return nil
			}
			if time.Since(last) > 10*time.Second {
				log.Info("waiting for jobs", "open", open)
				last = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("jobs still open when the burst's time ran out: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func measure(ctx context.Context, env *fleetlocal.Env, cfg BurstConfig, ids []queued, before map[string]lambdalocal.Stats, start time.Time) (*BurstResult, error) {
	res := &BurstResult{Scenario: cfg.Scenario, SyncPoll: cfg.SyncPoll.Seconds(), Jobs: len(ids), TimeScale: cfg.TimeScale,
		Conclusions: map[string]int{}, ExecutionErrors: map[string]int{}}
	setOf := map[int64]string{}
	for _, q := range ids {
		setOf[q.id] = q.set
	}
	jobs, err := env.Control().Jobs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the jobs: %w", err)
	}
	var first time.Time
	byID := map[int64]fleetlocal.JobStatus{}
	var waits []JobWait
	for _, j := range jobs {
		if _, ok := setOf[j.ID]; !ok {
			continue
		}
		byID[j.ID] = j
		if j.CreatedAt != nil && (first.IsZero() || j.CreatedAt.Before(first)) {
			first = *j.CreatedAt
		}
	}
	for _, q := range ids {
		j := byID[q.id]
		outcome := j.Status
		if j.Conclusion != nil {
			outcome = *j.Conclusion
		}
		res.Conclusions[outcome]++
		w := JobWait{ID: q.id, Set: q.set, Outcome: outcome}
		if j.StartedAt != nil && j.CreatedAt != nil && j.RunnerName != nil {
			w.Wait = cfg.prod(j.StartedAt.Sub(*j.CreatedAt)).Seconds()
		}
		if outcome == "success" {
			res.Completed++
			waits = append(waits, w)
		} else {
			res.Lost++
			res.LostJobs = append(res.LostJobs, w)
		}
	}
	sort.Slice(waits, func(a, b int) bool { return waits[a].Wait > waits[b].Wait })
	if len(waits) > 0 {
		res.WaitMax = waits[0].Wait
		res.WaitP50 = waits[len(waits)/2].Wait
		res.WaitP95 = waits[len(waits)*5/100].Wait
		res.Longest = waits[:min(5, len(waits))]
	}

	// Runner launches: every task RunTask created after the burst began.
	var lastLaunch time.Time
	completedAt := map[string]time.Time{}
	for _, j := range jobs {
		if j.RunnerName != nil && j.CompletedAt != nil {
			completedAt[*j.RunnerName] = *j.CompletedAt
		}
	}
	stoppedAt := map[string]time.Time{}
	for _, t := range env.AWS.ECS.Tasks() {
		if t.CreatedAt.Before(start) {
			continue
		}
		stoppedAt[t.ARN] = t.StoppedAt
		res.Runners++
		res.Launches = append(res.Launches, cfg.prod(t.CreatedAt.Sub(first)).Seconds())
		if t.CreatedAt.After(lastLaunch) {
			lastLaunch = t.CreatedAt
		}
	}
	sort.Float64s(res.Launches)
	if !first.IsZero() && !lastLaunch.IsZero() {
		res.LaunchSpanWall = lastLaunch.Sub(first).Seconds()
		res.LaunchSpan = cfg.prod(lastLaunch.Sub(first)).Seconds()
	}
	floor := time.Duration(0)
	for _, s := range cfg.LabelSets {
		if s.New {
			floor = cfg.BuildDuration
		}
	}
	q := cfg.Quotas
	q.GitHubWrites = githubQuota(cfg)
	minimum, binding := q.TheoreticalMinimum(len(ids), floor)
	res.Minimum, res.Bounds = minimum.Seconds(), q.Bounds(len(ids))
	res.Binding = binding.Quota.Name
	if floor > binding.Minimum {
		res.Binding = "the new image's build (" + floor.String() + ")"
	}
	if res.Minimum > 0 {
		res.Ratio = res.LaunchSpan / res.Minimum
	}

	res.Fargate = notRunning(env.Runners.Runs(), stoppedAt, completedAt, start, len(ids), cfg.TimeScale, cfg.Boot.Shutdown)

	leaks := env.Leaked()
	res.Leaked.Tasks, res.Leaked.Registrations = len(leaks.Tasks), len(leaks.Registrations)

	// Executions: transitions as the engine bills them, errors by name.
	transitions, err := executions(ctx, env, start, res)
	if err != nil {
		return nil, err
	}

	// Lambda: this burst's share of each function's counters.
	res.Functions = map[string]FunctionStats{}
	var inv, gbs float64
	for name, after := range env.Runtime.Stats() {
		b := before[name]
		d := lambdalocal.Stats{Invocations: after.Invocations - b.Invocations, Errors: after.Errors - b.Errors,
			Billed: after.Billed - b.Billed, Inits: after.Inits - b.Inits, InitTotal: after.InitTotal - b.InitTotal, MemoryMB: after.MemoryMB}
		// Sandboxes start with the environment, before the burst: their inits are the
		// whole run's (a cross-check of the emulator's cold starts, under load).
		fs := FunctionStats{Invocations: d.Invocations, Errors: d.Errors, GBSeconds: d.GBSeconds(), MemoryMB: d.MemoryMB, Inits: after.Inits}
		if d.Invocations > 0 {
			fs.MeanMillis = float64(d.Billed.Microseconds()) / 1000 / float64(d.Invocations)
		}
		if after.Inits > 0 {
			fs.MeanInitMS = float64(after.InitTotal.Microseconds()) / 1000 / float64(after.Inits)
		}
		res.Functions[name] = fs
		if name == "janitor" {
			continue // scheduled, not per job (and off during the burst)
		}
		inv += float64(d.Invocations)
		gbs += d.GBSeconds()
	}

	res.Deliveries, res.DeliveriesFailed = map[string]int{}, map[string]int{}
	var took []float64
	for _, d := range env.GitHub.Deliveries() {
		if _, ok := setOf[d.JobID]; !ok {
			continue
		}
		res.Deliveries[d.Action]++
		if d.StatusCode < 200 || d.StatusCode > 299 {
			res.DeliveriesFailed[d.Action]++
		}
		took = append(took, float64(d.Duration.Microseconds())/1000)
	}
	if len(took) > 0 {
		sort.Float64s(took)
		res.DeliveryP95Millis, res.DeliveryMaxMillis = took[len(took)*95/100], took[len(took)-1]
	}

	// Lambda's concurrency as a bound: the function time each job needs before launch.
	perJob := 0.0
	for name, share := range map[string]float64{"webhook": 1.0 / 3, "resolveimage": 1, "requestrunner": 1} {
		f := res.Functions[name]
		perJob += share * float64(f.Invocations) / float64(len(ids)) * f.MeanMillis / 1000
	}
	if lb := LambdaBound(cfg.Quotas.LambdaConcurrency, perJob); lb.Validate() == nil {
		b := Bound{Quota: lb, Minimum: lb.Minimum(len(ids))}
		res.Bounds = append(res.Bounds, b)
		sort.SliceStable(res.Bounds, func(i, j int) bool { return res.Bounds[i].Minimum > res.Bounds[j].Minimum })
		if s := b.Minimum.Seconds(); s > res.Minimum {
			res.Minimum, res.Binding = s, lb.Name
			res.Ratio = res.LaunchSpan / s
		}
	}

	res.GitHubCalls = env.GitHub.Calls()
	res.AWSCalls = env.AWS.CallCounts()
	var gh, kmsCalls, sm float64
	for _, n := range res.GitHubCalls {
		gh += float64(n)
	}
	for k, n := range res.AWSCalls {
		switch {
		case strings.HasPrefix(k, "kms."):
			kmsCalls += float64(n)
		case strings.HasPrefix(k, "secretsmanager."):
			sm += float64(n)
		}
	}
	n := float64(len(ids))
	res.PerJob = Usage{Transitions: float64(transitions) / n, LambdaInvocations: inv / n, LambdaGBSeconds: gbs / n,
		KMSRequests: kmsCalls / n, SecretsManager: sm / n, GitHubCalls: gh / n}
	return res, nil
}

// executions counts both state machines' executions started by the burst and the
// transitions the engine billed them.
func executions(ctx context.Context, env *fleetlocal.Env, start time.Time, res *BurstResult) (int, error) {
	client := sfn.NewFromConfig(env.AWSCfg)
	total := 0
	for _, arn := range []string{env.StateMachineARN, env.ImageBuildARN} {
		p := sfn.NewListExecutionsPaginator(client, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, fmt.Errorf("list executions: %w", err)
			}
			for _, x := range page.Executions {
				if aws.ToTime(x.StartDate).Before(start) {
					continue
				}
				n, ok := env.Engine.Transitions(aws.ToString(x.ExecutionArn))
				if !ok {
					res.ExecutionErrors["(no transition count: "+string(x.Status)+")"]++
				}
				total += n
				if arn == env.ImageBuildARN {
					res.Builds++
					continue
				}
				res.Executions++
				if x.Status != "SUCCEEDED" {
					d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
					if err != nil {
						return 0, fmt.Errorf("describe execution: %w", err)
					}
					res.ExecutionErrors[string(x.Status)+" "+aws.ToString(d.Error)]++
				}
			}
		}
	}
	return total, nil
}

// notRunning sums, over the runner tasks launched since start, the Fargate time not spent
// on a job, in production seconds (wall / scale): boot (launch → running), idle (running
// → job started) and shutdown (job completed → task stopped, plus the shutdown model) per
// runner that ran a job; a runner that never got one counts whole (its life plus the
// shutdown model), spread over the jobs. stoppedAt is by task ARN, completedAt (the job's
// completion) by runner name.
func notRunning(runs []simrunner.Run, stoppedAt, completedAt map[string]time.Time, start time.Time, jobs int, scale float64, shutdownModel time.Duration) NotRunning {
	prod := func(d time.Duration) float64 { return d.Seconds() / scale }
	var nr NotRunning
	for _, r := range runs {
		if r.StartedAt.Before(start) {
			continue
		}
		nr.Tasks++
		end := r.ExitedAt
		if s := stoppedAt[r.TaskARN]; !s.IsZero() {
			end = s
		}
		if r.JobID == 0 || r.JobStartedAt.IsZero() {
			nr.TasksIdle++
			if !end.IsZero() {
				nr.Unused += prod(end.Sub(r.StartedAt)) + shutdownModel.Seconds()
			}
			continue
		}
		booted := r.BootedAt
		if booted.IsZero() {
			booted = r.StartedAt
		}
		nr.Boot += prod(booted.Sub(r.StartedAt))
		nr.Idle += prod(r.JobStartedAt.Sub(booted))
		shutdown := shutdownModel.Seconds()
		if c, ok := completedAt[r.RunnerName]; ok && !end.IsZero() && end.After(c) {
			shutdown += prod(end.Sub(c))
		}
		nr.Shutdown += shutdown
	}
	ran := float64(nr.Tasks - nr.TasksIdle)
	if ran > 0 {
		nr.Boot, nr.Idle, nr.Shutdown = nr.Boot/ran, nr.Idle/ran, nr.Shutdown/ran
	}
	if jobs > 0 {
		nr.Unused /= float64(jobs)
	}
	nr.PerJob = (nr.Boot+nr.Idle+nr.Shutdown)*ran/float64(max(1, jobs)) + nr.Unused
	return nr
}
