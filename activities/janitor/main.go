// Command janitor is the fleet's scheduled sweeper (EventBridge, every ten minutes): it
// stops runner tasks whose RunnerFleet execution has ended or never existed, and deletes
// offline runner registrations whose execution has ended — the few leftovers no timeout
// covers. See README.md.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

func main() {
	log := activity.Logger()
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	awsCfg := activity.AWSConfig(log, 0)
	gh := githubFrom(ghrunner.NewSource(credentials.NewStore(secretsmanager.NewFromConfig(awsCfg), cfg.SecretARN, cfg.SecretTTL), ghrunner.Options{Logger: log}))
	h, err := NewHandler(cfg, ecs.NewFromConfig(awsCfg), sfn.NewFromConfig(awsCfg), gh, log, os.Stdout)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(Invoke(h))
}

// Invoke adapts the sweep to the Lambda handler shape. The scheduled event's content is
// ignored. An error is reported under the name activity.Classify gives it
// (AWSThrottled, GitHubAuthFailed, ConfigurationInvalid, ...), as every activity does.
func Invoke(h *Handler) func(ctx context.Context, event json.RawMessage) (Summary, error) {
	return func(ctx context.Context, _ json.RawMessage) (Summary, error) {
		sum, err := h.Sweep(ctx)
		if err != nil {
			return sum, activity.Classify(err)
		}
		return sum, nil
	}
}
