package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report is what make bench writes to results/: latest.json is this struct,
// latest.md renders it, launches.svg charts its bursts.
type Report struct {
	Generated time.Time `json:"generated"`
	Machine   string    `json:"machine"`
	Command   string    `json:"command"`
	Config    struct {
		Jobs          int       `json:"jobs"`
		TimeScale     float64   `json:"time_scale"`
		JobSeconds    float64   `json:"job_seconds"`
		BuildSeconds  float64   `json:"build_seconds"`
		IdleSeconds   float64   `json:"idle_timeout_seconds"`
		Concurrency   int       `json:"local_lambda_concurrency"`
		RunnerSize    TaskSize  `json:"runner_size"`
		Boot          BootModel `json:"boot_model"`
		LabelSets     []LabelSet
		WallSeconds   float64 `json:"wall_seconds"`
		FaultScenario Scenario
	} `json:"config"`
	Quotas     Quotas         `json:"quotas"`
	Prices     Prices         `json:"prices"`
	Bursts     []*BurstResult `json:"bursts"`
	Costs      []ScenarioCost `json:"costs_per_1000_jobs"`
	Bootstraps []Bootstrap    `json:"bootstraps"`
	InitNote   string         `json:"init_note"`
	GoBench    []GoBenchmark  `json:"go_benchmarks"`
	Findings   []string       `json:"findings"`
	Extra      map[string]any `json:"extra,omitempty"`
}

// ScenarioCost is one burst priced per 1,000 jobs.
type ScenarioCost struct {
	Scenario     string               `json:"scenario"`
	ControlPlane ControlPlaneCost     `json:"control_plane"`
	NotRunning   map[Capacity]float64 `json:"fargate_not_running_job"`
}

// Price computes every burst's cost per 1,000 jobs.
func (r *Report) Price() error {
	r.Costs = nil
	for _, b := range r.Bursts {
		c := ScenarioCost{Scenario: b.Scenario.Name, ControlPlane: r.Prices.ControlPlane(b.PerJob).Scale(1000), NotRunning: map[Capacity]float64{}}
		for _, capy := range Capacities {
			perSecond, err := r.Prices.FargateSecond(capy, r.Config.RunnerSize)
			if err != nil {
				return err
			}
			c.NotRunning[capy] = perSecond * b.Fargate.PerJob * 1000
		}
		r.Costs = append(r.Costs, c)
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func secs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f s", v)
	case v >= 10:
		return fmt.Sprintf("%.1f s", v)
	}
	return fmt.Sprintf("%.2f s", v)
}

func usd(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("$%.2f", v)
	}
	return fmt.Sprintf("$%.4f", v)
}

// Headline renders the table the README and the closing note quote.
func (r *Report) Headline() string {
	var b strings.Builder
	b.WriteString("| | " + strings.Join(names(r.Bursts), " | ") + " |\n|---|" + strings.Repeat("---|", len(r.Bursts)) + "\n")
	row := func(label string, f func(x *BurstResult, c ScenarioCost) string) {
		b.WriteString("| " + label + " |")
		for i, x := range r.Bursts {
			b.WriteString(" " + f(x, r.Costs[i]) + " |")
		}
		b.WriteString("\n")
	}
	row("jobs queued at once", func(x *BurstResult, _ ScenarioCost) string { return fmt.Sprint(x.Jobs) })
	row("first queued → last runner launched (production s)", func(x *BurstResult, _ ScenarioCost) string { return secs(x.LaunchSpan) })
	row("theoretical minimum (binding quota)", func(x *BurstResult, _ ScenarioCost) string {
		return secs(x.Minimum) + " (" + x.Binding + ")"
	})
	row("**ratio** (measured / minimum)", func(x *BurstResult, _ ScenarioCost) string { return fmt.Sprintf("**%.2f**", x.Ratio) })
	row("lost jobs", func(x *BurstResult, _ ScenarioCost) string { return fmt.Sprint(x.Lost) })
	row("leaked tasks / registrations", func(x *BurstResult, _ ScenarioCost) string {
		return fmt.Sprintf("%d / %d", x.Leaked.Tasks, x.Leaked.Registrations)
	})
	row("wait for a runner p50 / p95 / max", func(x *BurstResult, _ ScenarioCost) string {
		return secs(x.WaitP50) + " / " + secs(x.WaitP95) + " / " + secs(x.WaitMax)
	})
	row("state transitions per job", func(x *BurstResult, _ ScenarioCost) string { return fmt.Sprintf("%.2f", x.PerJob.Transitions) })
	row("Lambda invocations / GB-s per job", func(x *BurstResult, _ ScenarioCost) string {
		return fmt.Sprintf("%.2f / %.4f", x.PerJob.LambdaInvocations, x.PerJob.LambdaGBSeconds)
	})
	row("GitHub API calls per job", func(x *BurstResult, _ ScenarioCost) string { return fmt.Sprintf("%.2f", x.PerJob.GitHubCalls) })
	row("KMS / Secrets Manager calls per job", func(x *BurstResult, _ ScenarioCost) string {
		return fmt.Sprintf("%.2f / %.3f", x.PerJob.KMSRequests, x.PerJob.SecretsManager)
	})
	row("control plane per 1,000 jobs", func(_ *BurstResult, c ScenarioCost) string { return usd(c.ControlPlane.Total) })
	row("Fargate not running a job per 1,000 jobs: on-demand x86 / Spot / arm64", func(_ *BurstResult, c ScenarioCost) string {
		return usd(c.NotRunning[OnDemandX86]) + " / " + usd(c.NotRunning[SpotX86]) + " / " + usd(c.NotRunning[OnDemandARM])
	})
	return b.String()
}

func names(bs []*BurstResult) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Scenario.Name)
	}
	return out
}

// WriteMarkdown renders the whole report.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	c := r.Config
	p("# Runner Fleet burst benchmark\n\n")
	p("Generated %s by `%s` on %s. How to read every number: [docs/bench.md](../docs/bench.md).\n\n",
		r.Generated.UTC().Format(time.RFC3339), r.Command, r.Machine)
	p("%d jobs queued at once through the fake GitHub's control API, over %d label sets (one needs a new image), "+
		"%.0f s jobs, idle timeout %.0f s, image build %.0f s; time scale %.2f (production seconds = wall seconds / %.2f). "+
		"The whole run took %.0f s of wall clock.\n\n",
		c.Jobs, len(c.LabelSets), c.JobSeconds, c.IdleSeconds, c.BuildSeconds, c.TimeScale, c.TimeScale, c.WallSeconds)
	p("## Headline\n\n%s\n", r.Headline())
	if len(r.Bursts) == 2 && r.Bursts[0].LaunchSpan > 0 {
		p("Slowdown with faults injected: **%.2f×** (first queued → last runner launched, faults / baseline).\n\n", r.Bursts[1].LaunchSpan/r.Bursts[0].LaunchSpan)
	}
	p("![runners launched over time](launches.svg)\n\n")
	if len(r.Findings) > 0 {
		p("## Findings\n\n")
		for _, f := range r.Findings {
			p("- %s\n", f)
		}
		p("\n")
	}

	p("## Quotas (production values, enforced by the fakes at rate / time scale)\n\n")
	p("| quota | burst | per second | tokens per job before launch | minimum for %d jobs | how it is applied | source |\n|---|---|---|---|---|---|---|\n", c.Jobs)
	for _, q := range r.Quotas.List() {
		p("| %s (`%s`) | %g | %g | %g | %s | %s | %s |\n", q.Name, q.ID, q.Burst, q.PerSecond, q.PerJob, secs(q.Minimum(c.Jobs).Seconds()), q.Enforced, q.Source)
	}
	lambdaMin, lambdaHow := "–", "not measured"
	if len(r.Bursts) > 0 {
		for _, b := range r.Bursts[0].Bounds {
			if b.Quota.ID == "lambda.concurrent_executions" {
				lambdaMin, lambdaHow = secs(b.Minimum.Seconds()), b.Quota.Enforced
			}
		}
	}
	p("| Lambda concurrent executions | %d at once | – | function time | %s | %s; not enforced: locally %d sandboxes per function (the machine's limit, not AWS's) | https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html |\n\n",
		r.Quotas.LambdaConcurrency, lambdaMin, lambdaHow, c.Concurrency)
	if c.FaultScenario.Name != "" {
		f := c.FaultScenario
		p("Fault scenario (%s), on top of the quotas: %.0f%% of GitHub API calls answer 502; %d JIT-config requests answer GitHub's "+
			"secondary rate limit (403, Retry-After 60); the first %d FARGATE_SPOT placements fail for capacity (the workflow falls back to on-demand)",
			f.Name, f.GitHub5xx*100, f.GitHubSecondary, f.SpotShortage)
		if f.GitHubWritesPerMinute > 0 {
			p("; GitHub writes limited to %.0f a minute", f.GitHubWritesPerMinute)
		}
		if f.ECSThrottle > 0 {
			p("; %.0f%% of ECS calls throttled", f.ECSThrottle*100)
		}
		p(".\n\n")
	}

	for i, x := range r.Bursts {
		p("## Burst: %s\n\n", x.Scenario.Name)
		p("- runners launched: %d for %d jobs; image builds: %d; executions: %d (not succeeded: %v)\n", x.Runners, x.Jobs, x.Builds, x.Executions, mapString(x.ExecutionErrors))
		p("- conclusions: %v; lost: %d; leaked tasks %d, registrations %d\n", mapString(x.Conclusions), x.Lost, x.Leaked.Tasks, x.Leaked.Registrations)
		p("- local environment: .sync tasks polled every %.2f s wall (ecs.DescribeTasks calls: %d, the local engine's, not the fleet's)\n", x.SyncPoll, x.AWSCalls["ecs.DescribeTasks"])
		p("- webhook deliveries: %v; not answered 2xx within GitHub's 10 s: %v (p95 %.0f ms, max %.0f ms)\n",
			mapString(x.Deliveries), mapString(x.DeliveriesFailed), x.DeliveryP95Millis, x.DeliveryMaxMillis)
		p("- first queued → last runner launched: %s production (%s wall); minimum %s, bound by %s\n", secs(x.LaunchSpan), secs(x.LaunchSpanWall), secs(x.Minimum), x.Binding)
		p("- longest waits for a runner (production s):")
		for _, w := range x.Longest {
			p(" job %d (%s) %s;", w.ID, w.Set, secs(w.Wait))
		}
		p("\n")
		for _, w := range x.LostJobs {
			p("- lost: job %d (%s): %s\n", w.ID, w.Set, w.Outcome)
		}
		f := x.Fargate
		p("- Fargate time not running a job, per runner that ran one (production s): boot %s, idle before the job %s, shutdown %s; runners that never got a job: %d (%s per job)\n\n",
			secs(f.Boot), secs(f.Idle), secs(f.Shutdown), f.TasksIdle, secs(f.Unused))
		p("| Lambda function | invocations | per job | mean duration | GB-s | local sandboxes started (whole run), mean init |\n|---|---|---|---|---|---|\n")
		for _, name := range sortedKeys(x.Functions) {
			s := x.Functions[name]
			p("| %s | %d | %.2f | %.1f ms | %.3f | %d, %.1f ms |\n", name, s.Invocations, float64(s.Invocations)/float64(x.Jobs), s.MeanMillis, s.GBSeconds, s.Inits, s.MeanInitMS)
		}
		p("\n| calls | count | per job |\n|---|---|---|\n")
		for _, k := range sortedKeys(x.GitHubCalls) {
			p("| GitHub %s | %d | %.2f |\n", k, x.GitHubCalls[k], float64(x.GitHubCalls[k])/float64(x.Jobs))
		}
		for _, k := range sortedKeys(x.AWSCalls) {
			if strings.HasPrefix(k, "kms.") || strings.HasPrefix(k, "secretsmanager.") || k == "ecs.RunTask" || k == "sfn.StartExecution" {
				p("| AWS %s | %d | %.2f |\n", k, x.AWSCalls[k], float64(x.AWSCalls[k])/float64(x.Jobs))
			}
		}
		cost := r.Costs[i]
		cp := cost.ControlPlane
		p("\nCost per 1,000 jobs: Step Functions %s, Lambda requests %s, Lambda duration %s, KMS %s, Secrets Manager %s: **control plane %s**. "+
			"Fargate time not running a job (%g vCPU / %g GB runner): on-demand x86 %s, Spot x86 %s, on-demand arm64 %s.\n\n",
			usd(cp.StepFunctions), usd(cp.LambdaRequests), usd(cp.LambdaDuration), usd(cp.KMS), usd(cp.SecretsManager), usd(cp.Total),
			c.RunnerSize.VCPU, c.RunnerSize.GB, usd(cost.NotRunning[OnDemandX86]), usd(cost.NotRunning[SpotX86]), usd(cost.NotRunning[OnDemandARM]))
	}

	p("## Prices (us-east-1)\n\n| item | price | as quoted | source | date | note |\n|---|---|---|---|---|---|\n")
	pr := r.Prices
	for _, x := range []struct {
		name string
		p    Price
	}{
		{"Step Functions Standard", pr.StateTransition}, {"Lambda requests", pr.LambdaRequest}, {"Lambda arm64 duration", pr.LambdaGBSecondARM},
		{"KMS", pr.KMSRequest}, {"Secrets Manager", pr.SecretsManagerAPI}, {"Fargate x86 vCPU", pr.FargateVCPUHour}, {"Fargate x86 memory", pr.FargateGBHour},
		{"Fargate arm64 vCPU", pr.FargateARMVCPU}, {"Fargate arm64 memory", pr.FargateARMGB},
	} {
		p("| %s | $%s per %s | %s | %s | %s | %s |\n", x.name, strconv.FormatFloat(x.p.USD, 'f', -1, 64), x.p.Unit, x.p.Quoted, x.p.Source, x.p.Date, x.p.Note)
	}
	p("| Fargate Spot | %.0f%% off on-demand x86 | %s | %s | %s | %s |\n\n", pr.SpotDiscount*100, pr.SpotDiscountSource.Quoted, pr.SpotDiscountSource.Source, pr.SpotDiscountSource.Date, pr.SpotDiscountSource.Note)
	p("ECR storage, CloudWatch Logs and data transfer are out of scope. Boot-time model: %s\n\n", c.Boot.Source)

	if len(r.Bootstraps) > 0 {
		p("## Lambda bootstraps\n\n%s\n\n| function | arm64 size (make build) | cold-start init, median of %d | min | max |\n|---|---|---|---|---|\n", r.InitNote, r.Bootstraps[0].Starts)
		for _, bs := range r.Bootstraps {
			p("| %s | %.1f MiB | %.1f ms | %.1f ms | %.1f ms |\n", bs.Function, float64(bs.SizeBytes)/(1<<20), bs.InitMedianMS, bs.InitMinMS, bs.InitMaxMS)
		}
		p("\n")
	}
	if len(r.GoBench) > 0 {
		p("## Hot paths (go test -bench, this machine)\n\n| benchmark | ns/op | B/op | allocs/op |\n|---|---|---|---|\n")
		for _, g := range r.GoBench {
			p("| %s | %.0f | %.0f | %.0f |\n", g.Name, g.NsPerOp, g.BytesPerOp, g.AllocsPerOp)
		}
		p("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mapString[V int | int64](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Findings states what the numbers say, computed from them.
func Findings(r *Report) []string {
	var out []string
	for i, b := range r.Bursts {
		out = append(out, fmt.Sprintf("%s: the last of %d runners launched %s after the first job was queued; the binding limit (%s) allows %s at best: ratio %.2f.",
			b.Scenario.Name, b.Runners, secs(b.LaunchSpan), b.Binding, secs(b.Minimum), b.Ratio))
		if b.Lost == 0 && b.Leaked.Tasks == 0 && b.Leaked.Registrations == 0 {
			out = append(out, fmt.Sprintf("%s: no job lost, no task or registration leaked.", b.Scenario.Name))
		} else {
			out = append(out, fmt.Sprintf("%s: %d jobs lost, %d tasks and %d registrations leaked (see the burst's section).", b.Scenario.Name, b.Lost, b.Leaked.Tasks, b.Leaked.Registrations))
		}
		if i < len(r.Costs) {
			c := r.Costs[i]
			out = append(out, fmt.Sprintf("%s: the control plane costs %s per 1,000 jobs (Step Functions %.0f%%); Fargate time not running a job costs %s on-demand x86, %s Spot, %s arm64 per 1,000 jobs.",
				b.Scenario.Name, usd(c.ControlPlane.Total), 100*c.ControlPlane.StepFunctions/math.Max(c.ControlPlane.Total, 1e-12),
				usd(c.NotRunning[OnDemandX86]), usd(c.NotRunning[SpotX86]), usd(c.NotRunning[OnDemandARM])))
		}
	}
	if len(r.Bursts) == 2 && r.Bursts[0].LaunchSpan > 0 {
		base, fault := r.Bursts[0], r.Bursts[1]
		out = append(out, fmt.Sprintf("Faults change the time to the last runner %.2f× (%s → %s, same quotas): the retries they cause "+
			"(RequestRunner invocations %d → %d, GitHub calls per job %.2f → %.2f, RunTask calls %d → %d with the Spot fallback, transitions per job %.2f → %.2f) "+
			"fit in the time the binding quota leaves idle.",
			fault.LaunchSpan/base.LaunchSpan, secs(base.LaunchSpan), secs(fault.LaunchSpan),
			base.Functions["requestrunner"].Invocations, fault.Functions["requestrunner"].Invocations,
			base.PerJob.GitHubCalls, fault.PerJob.GitHubCalls,
			base.AWSCalls["ecs.RunTask"], fault.AWSCalls["ecs.RunTask"], base.PerJob.Transitions, fault.PerJob.Transitions))
	}
	return out
}

// ReadReport decodes a report written by WriteJSON, so it can be rendered again.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("read the report: %w", err)
	}
	if len(r.Bursts) == 0 {
		return nil, errors.New("read the report: it holds no burst")
	}
	return &r, nil
}
