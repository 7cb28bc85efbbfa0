// Command fleetctl is the Runner Fleet operator's CLI: it lists, inspects and stops
// runners (one Step Functions execution each), edits the class table, lists and builds
// runner images, connects the fleet to GitHub, and checks that every piece is in place.
//
// Resources are found through the CloudFormation stack's outputs (stack RunnerFleet,
// --stack or FLEET_STACK to change it) or given by flags and environment variables; the
// AWS SDK is configured as usual (profile, AWS_REGION, AWS_ENDPOINT_URL…), so pointing
// AWS_ENDPOINT_URL at fleet-local makes every command work against it. docs/fleetctl.md
// documents each command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	os.Exit(m.Exit(m.Run(ctx, os.Args[1:])))
}

// Main holds what every command shares: its streams, its environment, and how it builds
// AWS and GitHub clients. Tests replace the fields to run commands in-process.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (os.Getenv).
	Getenv func(string) string
	// LoadAWSConfig builds the AWS configuration (config.LoadDefaultConfig, which reads
	// the profile, AWS_REGION and AWS_ENDPOINT_URL[_<SERVICE>]).
	LoadAWSConfig func(ctx context.Context) (aws.Config, error)
	// HTTPClient carries GitHub API calls.
	HTTPClient *http.Client
	// Now is the clock (durations, --since).
	Now func() time.Time
}

// NewMain returns a Main wired to the process.
func NewMain() *Main {
	return &Main{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		LoadAWSConfig: func(ctx context.Context) (aws.Config, error) {
			return config.LoadDefaultConfig(ctx)
		},
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
		Now:        time.Now,
	}
}

// UsageError is a command line fleetctl cannot understand; the exit status is 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Exit prints err once, as one line, and returns the process exit status: 0 on
// success or --help, 2 for a usage error, 1 otherwise.
func (m *Main) Exit(err error) int {
	var usage *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(m.Stderr, "fleetctl: %s (see fleetctl --help)\n", oneLine(err.Error()))
		return 2
	}
	fmt.Fprintf(m.Stderr, "fleetctl: %s\n", oneLine(err.Error()))
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Run dispatches args to a command.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		m.usage(m.Stderr)
		return usageErrorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	sub := ""
	if len(rest) > 0 {
		sub = rest[0]
	}
	switch cmd {
	case "-h", "--help", "-help", "help":
		m.usage(m.Stdout)
		return nil
	case "runners":
		switch sub {
		case "list", "ls":
			return (&RunnersListCommand{m: m}).Run(ctx, rest[1:])
		case "show":
			return (&RunnersShowCommand{m: m}).Run(ctx, rest[1:])
		case "stop":
			return (&RunnersStopCommand{m: m}).Run(ctx, rest[1:])
		}
		return m.group(sub, "runners", "list | show NAME | stop NAME")
	case "classes":
		switch sub {
		case "list", "ls":
			return (&ClassesListCommand{m: m}).Run(ctx, rest[1:])
		case "set":
			return (&ClassesSetCommand{m: m}).Run(ctx, rest[1:])
		}
		return m.group(sub, "classes", "list | set NAME --cpu N --memory MiB")
	case "images":
		switch sub {
		case "list", "ls":
			return (&ImagesListCommand{m: m}).Run(ctx, rest[1:])
		case "build":
			return (&ImagesBuildCommand{m: m}).Run(ctx, rest[1:])
		}
		return m.group(sub, "images", "list | build REF")
	case "setup":
		if sub == "github" {
			return (&SetupGitHubCommand{m: m}).Run(ctx, rest[1:])
		}
		return m.group(sub, "setup", "github --repo OWNER/NAME | --org NAME")
	case "doctor":
		return (&DoctorCommand{m: m}).Run(ctx, rest)
	}
	return usageErrorf("unknown command %q; commands: runners, classes, images, setup, doctor", cmd)
}

// group answers a command group without (or with an unknown) subcommand.
func (m *Main) group(sub, group, subs string) error {
	if sub == "-h" || sub == "--help" || sub == "-help" || sub == "help" {
		fmt.Fprintf(m.Stdout, "usage: fleetctl %s %s\n", group, subs)
		return nil
	}
	if sub == "" {
		return usageErrorf("fleetctl %s needs a subcommand: %s", group, subs)
	}
	return usageErrorf("unknown subcommand %q of %s; use %s", sub, group, subs)
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprint(w, `fleetctl: operate a Runner Fleet (ephemeral GitHub Actions runners on ECS Fargate)

usage: fleetctl COMMAND [options]   (fleetctl COMMAND --help for each command's options)

  runners list [--state S] [--repo OWNER/NAME] [--since D] [--limit N] [--json]
  runners show NAME [--json]          timeline, task, exit code, error, console and log links
  runners stop NAME                   stop the execution, its task and its registration (repeatable)
  classes list [--json]               the class table (SSM)
  classes set NAME --cpu N --memory MiB [--arch x64|arm64] [--spot] [--ephemeral-storage-gib N]
  images list [--json]                runner images in ECR
  images build REF [--class NAME]     build the runner image for REF now
  setup github --repo OWNER/NAME | --org NAME [--token-stdin | --token-env VAR | --app-id N --private-key-file F]
  doctor                              check the secret, GitHub, the webhook, the state machine and the class table

Resources come from the CloudFormation stack's outputs (--stack, FLEET_STACK; default
RunnerFleet) unless given by flags or FLEET_* variables. AWS credentials, region and
endpoints are the SDK's usual ones (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL...).
Exit status: 0 ok, 1 failure, 2 usage error.
`)
}
