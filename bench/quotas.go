package bench

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Quota is one published limit that bounds a burst, modelled as a token bucket (Burst
// tokens at once, then PerSecond) or, when Window is set, as a sliding window (at most
// Burst in any Window; PerSecond = Burst/Window is then only the average). PerJob is how
// many tokens one job spends before its runner is launched (a StartExecution, five state
// transitions, one JIT config, one RunTask...). Enforced says how make bench applies it.
type Quota struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Burst     float64       `json:"burst"`
	PerSecond float64       `json:"per_second"`
	Window    time.Duration `json:"window_ns,omitempty"`
	PerJob    float64       `json:"per_job"`
	Source    string        `json:"source"`
	Enforced  string        `json:"enforced"`
}

// Minimum is the least time (production) the quota needs to hand out the tokens for n
// jobs, starting unused.
func (q Quota) Minimum(n int) time.Duration {
	tokens := q.PerJob * float64(n)
	if q.Window > 0 {
		if q.Burst <= 0 || tokens <= q.Burst {
			return 0
		}
		// Burst at 0, the next Burst one Window later, and so on.
		return time.Duration(math.Ceil(tokens/q.Burst)-1) * q.Window
	}
	need := tokens - q.Burst
	if need <= 0 || q.PerSecond <= 0 {
		return 0
	}
	return time.Duration(need / q.PerSecond * float64(time.Second))
}

// Allowed is the most tokens the quota hands out by t (production) from unused.
func (q Quota) Allowed(t time.Duration) float64 {
	if q.Window > 0 {
		return q.Burst * (math.Floor(float64(t)/float64(q.Window)) + 1)
	}
	return q.Burst + q.PerSecond*t.Seconds()
}

// Validate rejects a quota make bench could not enforce or reason about.
func (q Quota) Validate() error {
	if q.Burst < 0 || q.PerSecond <= 0 || q.PerJob < 0 || q.Window < 0 || math.IsNaN(q.Burst+q.PerSecond+q.PerJob) {
		return fmt.Errorf("quota %s: burst %v, rate %v/s, per job %v: the rate must be positive and the rest non-negative", q.ID, q.Burst, q.PerSecond, q.PerJob)
	}
	return nil
}

// Quotas are the limits of quotas.json (shared/fixtures/aws) that a burst meets.
type Quotas struct {
	FargateLaunch    Quota `json:"fargate_task_launch"`
	RunTask          Quota `json:"ecs_runtask_api"`
	StartExecution   Quota `json:"sfn_start_execution"`
	StateTransitions Quota `json:"sfn_state_transitions"`
	GitHubWrites     Quota `json:"github_secondary_writes"`
	// LambdaConcurrency is the account's concurrent executions (production); the local
	// runtime runs LocalConcurrency sandboxes per function.
	LambdaConcurrency int `json:"lambda_concurrency"`
}

const ecsThrottling = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html"
const sfnQuotas = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
const ghSecondary = "https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"

// DefaultQuotas are the published defaults (us-east-1 where regional). transitionsBeforeLaunch
// is how many state transitions a job makes before RunRunner starts its task
// (ResolveImage, ImageReady?, RequestRunner, Runner, RunRunner = 5 when the image exists).
func DefaultQuotas() Quotas {
	return Quotas{
		FargateLaunch: Quota{ID: "fargate.ondemand.task_launch", Name: "Fargate task launch rate",
			Burst: 100, PerSecond: 20, PerJob: 1, Source: ecsThrottling,
			Enforced: "token bucket on the ECS fake's RunTask (one task per call), combined with the RunTask API bucket"},
		RunTask: Quota{ID: "ecs.runtask.api_rate.fargate", Name: "ECS RunTask API rate (Fargate)",
			Burst: 20, PerSecond: 20, PerJob: 1, Source: ecsThrottling + " ('Throttling the RunTask API')",
			Enforced: "token bucket on the ECS fake's RunTask: ThrottlingException 'Rate exceeded', retried by the SDK then by the workflow"},
		StartExecution: Quota{ID: "sfn.standard.StartExecution.major_regions", Name: "Step Functions StartExecution",
			Burst: 1300, PerSecond: 300, PerJob: 1, Source: sfnQuotas,
			Enforced: "token bucket on the Step Functions fake's StartExecution (ThrottlingException to the webhook, which answers 5xx)"},
		StateTransitions: Quota{ID: "sfn.standard.StateTransition.major_regions", Name: "Step Functions state transitions",
			Burst: 5000, PerSecond: 1500, PerJob: 5, Source: sfnQuotas,
			Enforced: "computed only: the local engine does not throttle transitions (two orders of magnitude from binding here)"},
		GitHubWrites: Quota{ID: "github.secondary.rest_points_per_minute", Name: "GitHub secondary limit, writes to one REST endpoint",
			Burst: 180, PerSecond: 3, Window: time.Minute, PerJob: 1,
			Source:   ghSecondary + " (900 points per minute per REST endpoint, 5 points per POST: 180 JIT configs a minute)",
			Enforced: "the GitHub fake's secondary limit per credential and route (WritesPerRoute), a sliding window of 60 s × time scale: 403 with Retry-After; RequestRunner waits a short one in-process, a longer one in the workflow's WaitForGitHub"},
		LambdaConcurrency: 1000,
	}
}

// List returns the bucket quotas in a stable order.
func (q Quotas) List() []Quota {
	return []Quota{q.FargateLaunch, q.RunTask, q.StartExecution, q.StateTransitions, q.GitHubWrites}
}

// Validate checks every quota.
func (q Quotas) Validate() error {
	for _, x := range q.List() {
		if err := x.Validate(); err != nil {
			return err
		}
	}
	if q.LambdaConcurrency <= 0 {
		return fmt.Errorf("lambda concurrency %d must be positive", q.LambdaConcurrency)
	}
	return nil
}

// Bound is one quota's lower bound on a burst.
type Bound struct {
	Quota   Quota         `json:"quota"`
	Minimum time.Duration `json:"minimum_ns"`
}

// Bounds ranks every quota's minimum for n jobs, the binding one (largest) first. Ties
// keep List order.
func (q Quotas) Bounds(n int) []Bound {
	var out []Bound
	for _, x := range q.List() {
		out = append(out, Bound{Quota: x, Minimum: x.Minimum(n)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Minimum > out[j].Minimum })
	return out
}

// TheoreticalMinimum is the time from the first queued job to the last runner launched
// that the binding quota allows for n jobs, never less than floor (e.g. an image build
// the new-image jobs must wait for).
func (q Quotas) TheoreticalMinimum(n int, floor time.Duration) (time.Duration, Bound) {
	b := q.Bounds(n)[0]
	return max(b.Minimum, floor), b
}

// LambdaBound models Lambda's concurrency limit as a rate: with concurrency executions
// at once and secondsPerJob of function time each job needs before its runner launches
// (its queued webhook, ResolveImage, RequestRunner), at most concurrency/secondsPerJob
// jobs a second get through.
func LambdaBound(concurrency int, secondsPerJob float64) Quota {
	rate := math.Inf(1)
	if secondsPerJob > 0 {
		rate = float64(concurrency) / secondsPerJob
	}
	return Quota{ID: "lambda.concurrent_executions", Name: "Lambda concurrent executions", PerSecond: rate, PerJob: 1,
		Source:   "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
		Enforced: fmt.Sprintf("computed from the measured function time before launch (%.0f ms a job)", secondsPerJob*1000)}
}
