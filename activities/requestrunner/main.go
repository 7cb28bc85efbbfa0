// Command requestrunner is the Lambda behind the RequestRunner state: it registers a
// just-in-time GitHub Actions runner for the job, named after the execution and with
// the job's labels, and returns it with its JIT config sealed by KMS for this execution
// only. See README.md for its configuration.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// awsAttempts is how often the SDK tries a throttled AWS call (with its own backoff)
// before RequestRunner raises AWSThrottled for the state machine to retry.
const awsAttempts = 6

func main() {
	log := activity.Logger()
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		// Every invocation then fails as ConfigurationInvalid naming the variables, which
		// the execution reports, rather than as an opaque runtime exit.
		activity.StartMisconfigured[fleet.Runner](log, err)
	}
	awsCfg := activity.AWSConfig(log, awsAttempts)
	github := ghrunner.NewSource(credentials.NewStore(secretsmanager.NewFromConfig(awsCfg), cfg.SecretARN, cfg.SecretTTL),
		ghrunner.Options{Logger: log})
	h := NewHandler(cfg, github, kms.NewFromConfig(awsCfg), log)
	activity.Start(log, h.Handle)
}
