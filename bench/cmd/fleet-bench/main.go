// Command fleet-bench is make bench: it queues a burst of jobs in the local environment
// with the production quotas enforced by the fakes, once as is and once with faults
// injected, measures the Lambda bootstraps and the hot paths, prices it all, and writes
// results/latest.md, results/latest.json and results/launches.svg. docs/bench.md
// explains every number and flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/runnerfleet/fleet/bench"
	"github.com/runnerfleet/fleet/local/fleetlocal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fleet-bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	q := bench.DefaultQuotas()
	prices := bench.DefaultPrices()
	boot := bench.DefaultBootModel()
	var (
		jobs        = fs.Int("jobs", 1000, "jobs queued at once")
		scale       = fs.Float64("time-scale", 0.2, "wall seconds per production second (quota rates are divided by it)")
		jobSecs     = fs.Float64("job-seconds", 120, "each job's duration (production seconds)")
		buildSecs   = fs.Float64("build-seconds", 180, "the new image's build (production seconds)")
		idleSecs    = fs.Float64("idle-seconds", 300, "idle timeout (production seconds)")
		concurrency = fs.Int("concurrency", 4, "local Lambda sandboxes per function")
		syncPoll    = fs.Duration("sync-poll", time.Second, "how often the local engine's .sync tasks poll (wall clock)")
		scenarios   = fs.String("scenarios", "baseline,faults", "bursts to run: baseline, faults")
		out         = fs.String("out", "results", "folder for latest.md, latest.json, launches.svg")
		bootstraps  = fs.String("bootstraps", "build/local", "Lambda bootstraps built for this machine (make local-bootstraps)")
		armDir      = fs.String("arm64", "build/lambda", "arm64 bootstraps (make build), for their sizes")
		rie         = fs.String("rie", "", "aws-lambda-rie binary for cold starts (default: $(go env GOPATH)/bin/aws-lambda-rie if present; 'none' skips)")
		starts      = fs.Int("starts", 15, "cold starts per function")
		goBench     = fs.Bool("go-bench", true, "run the hot-path Go benchmarks")
		verbose     = fs.Bool("v", false, "log the environment at info level")
		vcpu        = fs.Float64("runner-vcpu", 2, "runner task vCPU for the Fargate prices (class medium)")
		memGB       = fs.Float64("runner-gb", 4, "runner task memory GB for the Fargate prices (class medium)")
		fault5xx    = fs.Float64("fault-github-5xx", 0.05, "faults: share of GitHub API calls answered 502")
		faultWrites = fs.Float64("fault-github-writes-per-minute", 0, "faults: GitHub write limit per minute instead of the quota's (e.g. 80, the content-creation limit)")
		faultSecond = fs.Int("fault-github-secondary", -1, "faults: JIT-config calls answered with the secondary rate limit (default: jobs/10)")
		faultSpot   = fs.Int("fault-spot-shortage", -1, "faults: FARGATE_SPOT placements that fail for capacity (default: jobs/10)")
		faultECS    = fs.Float64("fault-ecs-throttle", 0, "faults: share of every ECS call throttled")
		render      = fs.String("render", "", "only render latest.md and launches.svg again from this latest.json (no burst)")
	)
	fs.DurationVar(&boot.Boot, "boot", boot.Boot, "boot model: RunTask to a running runner (production)")
	fs.DurationVar(&boot.Shutdown, "shutdown", boot.Shutdown, "boot model: runner exit to task stopped (production)")
	fs.Float64Var(&q.RunTask.Burst, "runtask-burst", q.RunTask.Burst, "ECS RunTask API bucket size")
	fs.Float64Var(&q.RunTask.PerSecond, "runtask-rate", q.RunTask.PerSecond, "ECS RunTask API refill per second")
	fs.Float64Var(&q.FargateLaunch.Burst, "launch-burst", q.FargateLaunch.Burst, "Fargate task launch bucket size")
	fs.Float64Var(&q.FargateLaunch.PerSecond, "launch-rate", q.FargateLaunch.PerSecond, "Fargate task launches per second")
	fs.Float64Var(&q.StartExecution.Burst, "start-burst", q.StartExecution.Burst, "Step Functions StartExecution bucket size")
	fs.Float64Var(&q.StartExecution.PerSecond, "start-rate", q.StartExecution.PerSecond, "Step Functions StartExecution per second")
	fs.Float64Var(&q.StateTransitions.Burst, "transition-burst", q.StateTransitions.Burst, "Step Functions state transition bucket size")
	fs.Float64Var(&q.StateTransitions.PerSecond, "transition-rate", q.StateTransitions.PerSecond, "Step Functions state transitions per second")
	writesPerMinute := fs.Float64("github-writes-per-minute", q.GitHubWrites.PerSecond*60, "GitHub secondary limit: writes per minute to one endpoint (900 points / 5)")
	fs.IntVar(&q.LambdaConcurrency, "lambda-concurrency", q.LambdaConcurrency, "Lambda concurrent executions (production; for the report)")
	fs.Float64Var(&prices.SpotDiscount, "spot-discount", prices.SpotDiscount, "Fargate Spot's share off on-demand x86")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *render != "" {
		return rerender(*render, stdout)
	}
	q.GitHubWrites.PerSecond, q.GitHubWrites.Burst = *writesPerMinute/60, *writesPerMinute
	if err := q.Validate(); err != nil {
		return err
	}
	if err := prices.Validate(); err != nil {
		return err
	}
	if *faultSpot < 0 {
		*faultSpot = *jobs / 10
	}
	if *faultSecond < 0 {
		*faultSecond = *jobs / 10
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	root, err := fleetlocal.FindRoot()
	if err != nil {
		return err
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	began := time.Now()

	r := &bench.Report{Generated: began, Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
		Command: strings.TrimSpace("fleet-bench " + strings.Join(shown(args), " ")), Quotas: q, Prices: prices}
	if r.Command == "fleet-bench" {
		r.Command = "make bench"
	}
	c := &r.Config
	c.Jobs, c.TimeScale, c.JobSeconds, c.BuildSeconds, c.IdleSeconds = *jobs, *scale, *jobSecs, *buildSecs, *idleSecs
	c.Concurrency, c.RunnerSize, c.Boot, c.LabelSets = *concurrency, bench.TaskSize{VCPU: *vcpu, GB: *memGB}, boot, bench.DefaultLabelSets()
	faults := bench.Scenario{Name: "faults", GitHub5xx: *fault5xx, GitHubWritesPerMinute: *faultWrites, GitHubSecondary: *faultSecond,
		SpotShortage: *faultSpot, ECSThrottle: *faultECS}
	c.FaultScenario = faults

	for _, name := range strings.Split(*scenarios, ",") {
		sc := bench.Scenario{Name: "baseline"}
		switch strings.TrimSpace(name) {
		case "baseline":
		case "faults":
			sc = faults
		default:
			return fmt.Errorf("unknown scenario %q; use baseline and/or faults", name)
		}
		fmt.Fprintf(stderr, "burst %q: %d jobs at time scale %.2f ...\n", sc.Name, *jobs, *scale)
		t0 := time.Now()
		res, err := bench.RunBurst(ctx, bench.BurstConfig{
			Jobs: *jobs, TimeScale: *scale, Quotas: q, Boot: boot,
			JobDuration: secondsDur(*jobSecs), BuildDuration: secondsDur(*buildSecs), IdleTimeout: secondsDur(*idleSecs),
			LabelSets: c.LabelSets, Concurrency: *concurrency, SyncPoll: *syncPoll, Root: root, Bootstraps: abs(*bootstraps), Scenario: sc,
			Timeout: 9 * time.Minute, Log: log,
		})
		if err != nil {
			return fmt.Errorf("burst %s: %w", sc.Name, err)
		}
		fmt.Fprintf(stderr, "burst %q done in %.0f s: launch span %.0f s (minimum %.0f s), lost %d, leaked %d/%d\n",
			sc.Name, time.Since(t0).Seconds(), res.LaunchSpan, res.Minimum, res.Lost, res.Leaked.Tasks, res.Leaked.Registrations)
		r.Bursts = append(r.Bursts, res)
	}
	if err := r.Price(); err != nil {
		return err
	}

	rieBin := *rie
	if rieBin == "" {
		if gp := goEnv("GOPATH"); gp != "" {
			if _, err := os.Stat(filepath.Join(gp, "bin", "aws-lambda-rie")); err == nil {
				rieBin = filepath.Join(gp, "bin", "aws-lambda-rie")
			}
		}
	}
	if rieBin == "none" {
		rieBin = ""
	}
	if rieBin == "" {
		r.InitNote = "Cold starts skipped: aws-lambda-rie not installed (make bench installs " + bench.RIEVersion + ")."
	} else {
		r.InitNote = fmt.Sprintf("Sizes: the arm64 bootstraps of make build. Cold start: each amd64 bootstrap (this machine) started %d times under the "+
			"Lambda Runtime Interface Emulator %s with a valid configuration; the emulator's INIT REPORT duration (process spawn to the runtime's "+
			"first /next). AWS adds its own sandbox and code-download time, not measured here.", *starts, bench.RIEVersion)
	}
	fmt.Fprintln(stderr, "measuring the Lambda bootstraps ...")
	if r.Bootstraps, err = bench.MeasureBootstraps(ctx, fleetlocal.Functions, abs(*armDir), abs(*bootstraps), rieBin, *starts); err != nil {
		return err
	}
	if *goBench {
		fmt.Fprintln(stderr, "running the hot-path Go benchmarks ...")
		if r.GoBench, err = bench.RunGoBench(ctx, root, "300ms", "./internal/fleet", "./activities/webhook"); err != nil {
			return err
		}
	}
	r.Findings = bench.Findings(r)
	c.WallSeconds = time.Since(began).Seconds()
	return write(abs(*out), r, stdout)
}

// shown drops the machine-specific -rie path from the command the report prints.
func shown(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-rie" || args[i] == "--rie":
			i++
		case strings.HasPrefix(args[i], "-rie=") || strings.HasPrefix(args[i], "--rie="):
		default:
			out = append(out, args[i])
		}
	}
	return out
}

func secondsDur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func goEnv(key string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, "go")
}

// rerender writes latest.md and launches.svg beside the JSON report path names.
func rerender(path string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	r, err := bench.ReadReport(f)
	f.Close()
	if err != nil {
		return err
	}
	if err := r.Price(); err != nil {
		return err
	}
	r.Findings = bench.Findings(r)
	return write(filepath.Dir(path), r, stdout)
}

func write(dir string, r *bench.Report, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]func(io.Writer) error{
		"latest.json": r.WriteJSON,
		"latest.md":   r.WriteMarkdown,
		"launches.svg": func(w io.Writer) error {
			return bench.Chart(w, r)
		},
	}
	for name, f := range files {
		fh, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := f(fh); err != nil {
			fh.Close()
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := fh.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s\nwrote %s/latest.md, latest.json, launches.svg\n", r.Headline(), dir)
	return nil
}
