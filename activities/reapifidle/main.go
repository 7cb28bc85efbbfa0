// Command reapifidle is the Lambda behind the ReapIfIdle state: after the idle timeout
// it deletes the runner's registration — which GitHub refuses while the runner runs a
// job, so the delete is the atomic idle check — and stops the reaped runner's task.
// See README.md for its configuration.
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

// awsAttempts is how often the SDK tries a throttled AWS call (with its own backoff)
// before ReapIfIdle raises AWSThrottled for the state machine to retry.
const awsAttempts = 6

func main() {
	log := activity.Logger()
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		// Every invocation then fails as ConfigurationInvalid naming the variables, which
		// the execution reports, rather than as an opaque runtime exit.
		activity.StartMisconfigured[fleet.Reap](log, err)
	}
	awsCfg := activity.AWSConfig(log, awsAttempts)
	github := ghrunner.NewSource(credentials.NewStore(secretsmanager.NewFromConfig(awsCfg), cfg.SecretARN, cfg.SecretTTL),
		ghrunner.Options{Logger: log})
	h := NewHandler(cfg, github, ecs.NewFromConfig(awsCfg), sfn.NewFromConfig(awsCfg), os.Stdout, log)
	activity.Start(log, h.Handle)
}
