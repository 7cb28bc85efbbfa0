// Command cleanup is the Lambda behind the Cleanup state, reached on every path of a
// RunnerFleet execution: it deletes the runner's registration, stops its task, and
// names what happened — job_completed, reaped_idle, or failed with the named error the
// execution then fails with. See README.md for its configuration.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// awsAttempts is how often the SDK tries a throttled or failed AWS call (with its own
// backoff) before Cleanup raises AWSThrottled for the state machine to retry.
const awsAttempts = 8

func main() {
	log := activity.Logger()
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		// Every invocation then fails as ConfigurationInvalid naming the variables, which
		// the execution reports, rather than as an opaque runtime exit.
		activity.StartMisconfigured[fleet.Result](log, err)
	}
	awsCfg := activity.AWSConfig(log, awsAttempts)
	github := ghrunner.NewSource(credentials.NewStore(secretsmanager.NewFromConfig(awsCfg), cfg.SecretARN, cfg.SecretTTL),
		ghrunner.Options{Logger: log})
	h := NewHandler(cfg, github, ecs.NewFromConfig(awsCfg), sfn.NewFromConfig(awsCfg), log)
	activity.Start(log, h.Handle)
}
