package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// RunnersStopCommand stops a runner: its execution, its task(s) and its registration.
// Each step accepts "already done", so the command is safe to repeat.
type RunnersStopCommand struct {
	m *Main
}

// RunnersStopOptions are the command's flags.
type RunnersStopOptions struct {
	Name string
}

// Operator-stop vocabulary: the execution's error and the task's stopped reason.
const (
	StopError  = "StoppedByOperator"
	StopCause  = "stopped by an operator with fleetctl runners stop"
	StopReason = "runner-fleet: stopped by operator (fleetctl runners stop)"
)

// Run parses args and stops the runner.
func (c *RunnersStopCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetctl runners stop", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, OutputStateMachineARN, OutputClusterName, OutputSecretARN)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetctl runners stop NAME [options]\n\nStops the runner's execution (error %s), stops its ECS task(s) and deletes its\nGitHub registration. Steps already done are reported as such: the command is safe to repeat.\n\noptions:\n", StopError)
		fs.PrintDefaults()
	}
	name, err := parseNamed(fs, args, c.m.Stdout)
	if err != nil {
		return err
	}
	f, err := c.m.fleet(ctx, &ff)
	if err != nil {
		return err
	}
	return c.stop(ctx, f, RunnersStopOptions{Name: name}, c.m.Stdout)
}

func (c *RunnersStopCommand) stop(ctx context.Context, f *Fleet, opts RunnersStopOptions, w io.Writer) error {
	arn, err := executionARN(ctx, f, opts.Name)
	if err != nil {
		return err
	}
	desc, err := f.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("stop runner %s: %w", opts.Name, notFound(err, opts.Name))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()

	// 1. The execution, first: a running workflow would otherwise react to its task
	// stopping (Cleanup) or start another.
	if desc.Status == sfntypes.ExecutionStatusRunning {
		_, err := f.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn), Error: aws.String(StopError), Cause: aws.String(StopCause)})
		if err != nil {
			return fmt.Errorf("stop execution %s (Step Functions StopExecution): %w", arn, err)
		}
		fmt.Fprintf(tw, "execution\tstopped (error %s)\n", StopError)
	} else {
		fmt.Fprintf(tw, "execution\talready ended (%s)\n", desc.Status)
	}

	events, _, err := fullHistory(ctx, f.SFN, arn)
	if err != nil {
		return err
	}
	p := readProgress(events)

	// 2. The task(s): a Spot fallback leaves two.
	if len(p.tasks) == 0 {
		fmt.Fprintf(tw, "task\tnone started\n")
	}
	if len(p.tasks) > 0 {
		tasks, err := describeTasks(ctx, f.ECS, p.tasks, func() (string, error) { return f.Resource(ctx, OutputClusterName) })
		if err != nil {
			return err
		}
		for _, t := range p.tasks {
			info, ok := tasks[t]
			switch {
			case !ok:
				fmt.Fprintf(tw, "task\t%s: already gone\n", t)
			case aws.ToString(info.LastStatus) == "STOPPED" || aws.ToString(info.DesiredStatus) == "STOPPED":
				fmt.Fprintf(tw, "task\t%s: already stopped (%s)\n", t, aws.ToString(info.StoppedReason))
			default:
				_, err := f.ECS.StopTask(ctx, &ecs.StopTaskInput{Cluster: info.ClusterArn, Task: aws.String(t), Reason: aws.String(StopReason)})
				if err != nil {
					return fmt.Errorf("stop task %s (ECS StopTask): %w; stop it in the ECS console", t, err)
				}
				fmt.Fprintf(tw, "task\t%s: stopping\n", t)
			}
		}
	}

	// 3. The registration, in the scope RequestRunner recorded.
	doc := latestState(events)
	if doc == nil || doc.Runner == nil {
		fmt.Fprintf(tw, "registration\tnone recorded (RequestRunner did not register one; the janitor removes strays)\n")
		return nil
	}
	scope, err := ghrunner.ParseScope(doc.Runner.Scope)
	if err != nil {
		return fmt.Errorf("runner %s: recorded scope: %w", opts.Name, err)
	}
	gh, _, err := c.m.github(ctx, f)
	if err != nil {
		return fmt.Errorf("delete the registration of %s: %w", opts.Name, err)
	}
	gh = gh.ForInstallation(doc.Job.InstallationID)
	if doc.Runner.ID != 0 {
		err = gh.DeleteRunner(ctx, scope, doc.Runner.ID)
	} else {
		err = gh.DeleteRunnerByName(ctx, scope, doc.Runner.Name)
	}
	switch {
	case errors.Is(err, fleet.ErrRunnerNotFound):
		fmt.Fprintf(tw, "registration\talready gone from %s\n", scope)
	case errors.Is(err, fleet.ErrRunnerBusy):
		tw.Flush()
		return fmt.Errorf("delete the registration of %s in %s: GitHub still sees it running a job; run fleetctl runners stop %s again in a minute, once GitHub notices the stopped task", opts.Name, scope, opts.Name)
	case err != nil:
		tw.Flush()
		return fmt.Errorf("delete the registration of %s in %s: %w", opts.Name, scope, err)
	default:
		fmt.Fprintf(tw, "registration\tdeleted from %s\n", scope)
	}
	return nil
}
