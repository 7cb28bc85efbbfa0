// Command fleet-demo is `make demo`: it starts the whole fleet on loopback
// (local/fleetlocal), plays a realistic scenario through the fake GitHub's control API —
// a first job that builds the default image as on a fresh deploy, then a matrix across
// two images and two classes with one image that needs a build, a job cancelled while
// queued and a duplicated delivery — and prints each job's timeline and a summary. It
// exits 1 if a job ended wrongly or anything leaked.
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
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/runnerfleet/fleet/local/fleetlocal"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fleet-demo:", err)
		}
		os.Exit(1)
	}
}

type step struct {
	label  string
	req    fleetlocal.JobRequest
	cancel bool // cancel as soon as it is queued
	want   string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bootstraps := fs.String("bootstraps", "", "folder with <function>/bootstrap for this machine (default: build into build/local)")
	verbose := fs.Bool("v", false, "log the environment's steps to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: fleet-demo takes flags only (fleet-demo -h lists them)", fs.Arg(0))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	root, err := fleetlocal.FindRoot()
	if err != nil {
		return err
	}
	if *bootstraps == "" {
		*bootstraps = filepath.Join(root, "build", "local")
		fmt.Fprintln(stdout, "building the Lambda bootstraps for this machine ...")
		if err := fleetlocal.BuildBootstraps(ctx, root, *bootstraps); err != nil {
			return err
		}
	}
	began := time.Now()
	env, err := fleetlocal.Start(ctx, fleetlocal.Options{
		Root: root, Bootstraps: *bootstraps, Log: log,
		JanitorEvery: 5 * time.Second, JanitorScopes: []string{"repo:octo-org/api", "repo:octo-org/web"},
	})
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Fprintf(stdout, "fleet-local up in %.1fs: webhook %s, Step Functions/AWS %s, GitHub %s\n",
		time.Since(began).Seconds(), env.WebhookURL, env.AWSEndpoint, env.GitHubAPIURL)
	fmt.Fprintf(stdout, "time scale %.2f: a 300 s idle timeout takes %s, a 120 s job %s\n\n",
		env.Opts.TimeScale, env.Opts.Scaled(300*time.Second), env.Opts.Scaled(120*time.Second))
	ctl := env.Control()
	start := time.Now()

	small := []string{"self-hosted", "class:small"}
	fmt.Fprintln(stdout, "1. a first job on a fresh deploy: the default image (ubuntu:24.04) is built on first use")
	first := step{"api / build", fleetlocal.JobRequest{Repo: "octo-org/api", Name: "build", Labels: small, DurationSeconds: 120}, false, "success"}
	steps := []step{first}
	ids := map[int64]step{}
	id, err := ctl.QueueJob(ctx, first.req)
	if err != nil {
		return err
	}
	ids[id] = first
	if err := waitJob(ctx, ctl, id, 90*time.Second); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "2. a matrix: two images (debian:12 needs a build, shared by three jobs) x two classes,")
	fmt.Fprintln(stdout, "   one job cancelled while queued, one delivery duplicated")
	matrix := []step{
		{"api / test (small)", fleetlocal.JobRequest{Repo: "octo-org/api", Name: "test-small", Labels: small, DurationSeconds: 180}, false, "success"},
		{"api / test (medium)", fleetlocal.JobRequest{Repo: "octo-org/api", Name: "test-medium", Labels: []string{"self-hosted", "class:medium"}, DurationSeconds: 180}, false, "success"},
		{"web / lint (debian)", fleetlocal.JobRequest{Repo: "octo-org/web", Name: "lint", Labels: []string{"self-hosted", "image:debian:12", "class:small"}, DurationSeconds: 60}, false, "success"},
		{"web / e2e (debian, dup)", fleetlocal.JobRequest{Repo: "octo-org/web", Name: "e2e", Labels: []string{"self-hosted", "image:debian:12", "class:medium"}, DurationSeconds: 240, Duplicate: true}, false, "success"},
		{"web / deploy (cancelled)", fleetlocal.JobRequest{Repo: "octo-org/web", Name: "deploy", Labels: []string{"self-hosted", "image:debian:12", "class:large"}, DurationSeconds: 60}, true, "cancelled"},
	}
	for _, s := range matrix {
		id, err := ctl.QueueJob(ctx, s.req)
		if err != nil {
			return err
		}
		ids[id] = s
		steps = append(steps, s)
	}
	// The cancellation comes once the job's runner is being requested: GitHub then tells
	// the webhook the job completed without a runner, and an idle runner is reaped.
	time.Sleep(1500 * time.Millisecond)
	for id, s := range ids {
		if s.cancel {
			if err := ctl.Cancel(ctx, id); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(stdout, "   waiting for every job, execution and runner to finish ...")
	if err := env.Settle(ctx, 100*time.Second); err != nil {
		return err
	}
	return report(ctx, stdout, env, ids, start)
}

func waitJob(ctx context.Context, ctl *fleetlocal.Control, id int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		jobs, err := ctl.Jobs(ctx)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.ID == id && j.Status == "completed" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("job %d did not complete within %s", id, timeout)
}

func rel(t *time.Time, start time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("+%5.1fs", t.Sub(start).Seconds())
}

func report(ctx context.Context, w io.Writer, env *fleetlocal.Env, ids map[int64]step, start time.Time) error {
	jobs, err := env.Control().Jobs(ctx)
	if err != nil {
		return err
	}
	execs, err := env.Executions(ctx)
	if err != nil {
		return err
	}
	launched := map[string]time.Time{}
	for _, r := range env.Runners.Runs() {
		if r.Execution != "" {
			launched[r.Execution] = r.StartedAt
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tQUEUED\tRUNNER LAUNCHED\tJOB STARTED\tDONE\tCONCLUSION\tRUNNER")
	var problems []string
	slices.SortFunc(jobs, func(a, b fleetlocal.JobStatus) int { return int(a.ID - b.ID) })
	for _, j := range jobs {
		s := ids[j.ID]
		runner, conclusion := "-", "-"
		var launch *time.Time
		if j.RunnerName != nil {
			runner = *j.RunnerName
			if t, ok := launched[runner]; ok {
				launch = &t
			}
		}
		if j.Conclusion != nil {
			conclusion = *j.Conclusion
		}
		if conclusion != s.want {
			problems = append(problems, fmt.Sprintf("job %q ended %s, want %s", s.label, conclusion, s.want))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.label, rel(j.CreatedAt, start), rel(launch, start), rel(j.StartedAt, start), rel(j.CompletedAt, start), conclusion, runner)
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EXECUTION\tSTATUS\tOUTCOME\tSTATES")
	reaped, failed := 0, 0
	for _, x := range execs {
		outcome := "-"
		if x.Result != nil {
			outcome = x.Result.Outcome
			if outcome == "reaped_idle" {
				reaped++
			}
		}
		if x.Status == "ABORTED" && x.Error == "JobCancelled" {
			outcome = "reaped by the webhook (JobCancelled)"
			reaped++
		}
		if x.Status == "FAILED" {
			failed++
			outcome = x.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Name, x.Status, outcome, strings.Join(x.States(), " > "))
	}
	_ = tw.Flush()

	leaks := env.Leaked()
	deliveries := env.GitHub.Deliveries()
	dups := 0
	for _, d := range deliveries {
		if d.Duplicate {
			dups++
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "summary: %d jobs, %d runners (executions), %d image builds, %d reaped, %d failed, %d leaked tasks, %d leaked registrations\n",
		len(jobs), len(execs), env.AWS.Calls("codebuild", "StartBuild"), reaped, failed, len(leaks.Tasks), len(leaks.Registrations))
	fmt.Fprintf(w, "         %d webhook deliveries (%d duplicated, still one execution per job), %d Lambda invocations\n",
		len(deliveries), dups, invocations(env))
	fmt.Fprintf(w, "         wall time %.1fs\n", time.Since(start).Seconds())
	if !leaks.Empty() {
		problems = append(problems, "leaked: "+leaks.String())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintln(w, "OK: every job ended as expected, nothing leaked")
	return nil
}

func invocations(env *fleetlocal.Env) int {
	n := 0
	for _, s := range env.Runtime.Stats() {
		n += s.Invocations
	}
	return n
}
