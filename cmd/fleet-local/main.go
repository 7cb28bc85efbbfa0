// Command fleet-local runs the whole Runner Fleet control plane on loopback, with no AWS
// account and no GitHub: AWS and GitHub fakes, the Step Functions engine running the
// statemachine/ definitions, the real Lambda bootstraps, simulated runner tasks. Its
// first line on stdout is one JSON object with the endpoints; logs go to stderr.
//
//	go run ./cmd/fleet-local            # or: make local
//	AWS_ENDPOINT_URL=<aws_endpoint> fleetctl runners list
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/runnerfleet/fleet/local/fleetlocal"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fleet-local:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o fleetlocal.Options
	var failBuilds, scopes string
	var verbose bool
	fs.StringVar(&o.Listen, "listen", "127.0.0.1", "host to listen on")
	fs.IntVar(&o.WebhookPort, "webhook-port", 0, "webhook (Function URL) port; 0 picks a free one")
	fs.IntVar(&o.AWSPort, "aws-port", 0, "AWS endpoint port (every fake service, Step Functions included)")
	fs.IntVar(&o.GitHubPort, "github-port", 0, "fake GitHub port (REST under /api/v3/, control API under /_local/)")
	fs.StringVar(&o.Bootstraps, "bootstraps", "", "folder with <function>/bootstrap built for this machine (default: build them into build/local)")
	fs.Float64Var(&o.TimeScale, "time-scale", 0.02, "multiplies production-equivalent durations (idle timeout, runner TTL, queue timeout, retry intervals)")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", 300*time.Second, "idle timeout, production-equivalent")
	fs.DurationVar(&o.RunnerTTL, "runner-ttl", 6*time.Hour, "runner TTL, production-equivalent")
	fs.DurationVar(&o.QueueTimeout, "queue-timeout", 24*time.Hour, "how long GitHub keeps a job queued, production-equivalent")
	fs.DurationVar(&o.BootDelay, "boot-delay", 2*time.Second, "simulated runner boot time (wall clock)")
	fs.DurationVar(&o.BuildDuration, "build-duration", 3*time.Second, "simulated image build time (wall clock)")
	fs.StringVar(&failBuilds, "fail-builds", "", "comma-separated base images whose builds fail")
	fs.IntVar(&o.Concurrency, "lambda-concurrency", 4, "sandboxes per Lambda function")
	fs.DurationVar(&o.JanitorEvery, "janitor-every", 10*time.Second, "janitor schedule (wall clock; negative disables)")
	fs.StringVar(&scopes, "janitor-scopes", "", "comma-separated runner scopes the janitor sweeps (repo:owner/name, org:name)")
	fs.StringVar(&o.AllowedRepositories, "allowed-repositories", "*", "ALLOWED_REPOSITORIES of the webhook")
	fs.BoolVar(&o.AllowPublic, "allow-public", false, "serve public repositories")
	fs.Float64Var(&o.Faults.GitHub5xxRatio, "github-5xx", 0, "share of GitHub API calls answered 502")
	fs.IntVar(&o.Faults.GitHubWritesPerMinute, "github-writes-per-minute", 0, "GitHub secondary rate limit on writes (0: off)")
	fs.IntVar(&o.Faults.SpotShortage, "spot-shortage", 0, "the next N Fargate Spot placements fail for capacity (-1: all)")
	fs.Float64Var(&o.Faults.ECSThrottleRatio, "ecs-throttle", 0, "share of ECS calls answered ThrottlingException")
	fs.Float64Var(&o.Faults.RunTaskPerSecond, "runtask-rate", 0, "RunTask calls per second after a burst of 100 (0: unlimited)")
	fs.BoolVar(&verbose, "v", false, "log debug detail, including every Lambda's output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: fleet-local takes flags only (fleet-local -h lists them)", fs.Arg(0))
	}
	o.FailBuilds = splitList(failBuilds)
	o.JanitorScopes = splitList(scopes)
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
		o.FunctionLogs = stderr
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.Bootstraps == "" {
		root, err := fleetlocal.FindRoot()
		if err != nil {
			return err
		}
		o.Bootstraps = filepath.Join(root, "build", "local")
		o.Log.Info("building the Lambda bootstraps for this machine", "dir", o.Bootstraps)
		if err := fleetlocal.BuildBootstraps(ctx, root, o.Bootstraps); err != nil {
			return err
		}
	}
	env, err := fleetlocal.Start(ctx, o)
	if err != nil {
		return err
	}
	defer env.Close()
	line, _ := json.Marshal(env.Endpoints())
	fmt.Fprintln(stdout, string(line))
	o.Log.Info("fleet-local is running; Ctrl-C stops it", "webhook_url", env.WebhookURL, "control_url", env.GitHubURL+"/_local/")
	<-ctx.Done()
	o.Log.Info("stopping")
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
