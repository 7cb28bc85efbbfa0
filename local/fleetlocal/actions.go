package fleetlocal

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/runnerfleet/fleet/local/githubfake"
	"github.com/runnerfleet/fleet/local/simrunner"
)

// actions switches on GitHub's side of a job's life — the job queue, the dispatcher
// that gives jobs to matching idle runners, signed workflow_job deliveries to the
// webhook — and the simulated runner tasks that boot in the ECS fake.
func (e *Env) actions(_ context.Context, kmsClient *kms.Client) error {
	err := e.GitHub.EnableActions(githubfake.ActionsConfig{
		WebhookURL:    e.WebhookURL,
		WebhookSecret: e.WebhookSecret,
		QueueTimeout:  e.Opts.Scaled(e.Opts.QueueTimeout),
		// GitHub fails a job whose runner vanished once the runner's heartbeat lapses;
		// locally that is immediate, so Cleanup finds the registration idle, not busy.
		LostRunnerDelay: 100 * time.Millisecond,
		Logger:          e.log,
	})
	if err != nil {
		return err
	}
	e.extra = append(e.extra, e.GitHub.CloseActions)
	e.Runners = simrunner.Attach(e.AWS, e.GitHub, kmsClient, simrunner.Options{
		BootDelay:    e.Opts.BootDelay,
		BootDelayFor: e.Opts.BootDelayFor,
		Scale:        e.Opts.TimeScale,
		OnOpened:     e.Opts.OnOpened,
		Logger:       e.log,
	})
	e.extra = append([]func(){e.Runners.Close}, e.extra...)
	return nil
}
