// Command runner-fleet-entrypoint is the runner container's program (tini is PID 1 and
// starts it). It opens the sealed JIT config with KMS, starts the GitHub Actions runner
// with it, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT to the runner (Fargate Spot gives two
// minutes' notice with SIGTERM), and exits with the runner's status. When the launch
// itself fails it prints one line saying what went wrong and what to check, and exits
// with a code from runner/launch (docs/runner.md lists them).
//
// Environment: RUNNER_FLEET_SEALED_JIT, RUNNER_FLEET_EXECUTION, optional
// RUNNER_FLEET_RUNNER_DIR, and the AWS SDK's usual variables (AWS_REGION, the ECS task
// role's container credentials, AWS_ENDPOINT_URL_KMS for the local environment).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/runnerfleet/fleet/runner/launch"
)

func main() {
	os.Exit(run())
}

func run() int {
	// Catch signals before anything else, so one that arrives while KMS answers is not
	// lost (and does not kill us without a word).
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)

	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "runner-fleet-entrypoint")
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fail(&launch.Error{Code: launch.ExitKMSUnavailable, Message: "cannot configure the AWS SDK (check AWS_REGION and the task role's credentials)", Err: err})
	}
	code, err := launch.Run(ctx, launch.Options{
		KMS:     kms.NewFromConfig(cfg),
		Getenv:  os.Getenv,
		Environ: os.Environ(),
		Signals: signals,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Log:     log,
	})
	if err != nil {
		return fail(err)
	}
	return code
}

// fail prints the launch failure as one line on stderr and returns its exit code.
func fail(err error) int {
	fmt.Fprintf(os.Stderr, "runner-fleet-entrypoint: %s\n", oneLine(err.Error()))
	return launch.ExitCode(err)
}

func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
