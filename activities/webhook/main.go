// Command webhook is the Lambda behind the fleet's Function URL: it verifies GitHub's
// signature, decides whether a queued workflow_job is ours, and starts exactly one
// RunnerFleet execution per job. On in_progress it records which job a runner took; on
// a job cancelled before it started it reaps an idle runner. See README.md.
package main

import (
	"context"
	"log/slog"
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
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	awsCfg := activity.AWSConfig(log, 0)
	h := NewHandler(cfg, Deps{
		Secrets: credentials.NewStore(secretsmanager.NewFromConfig(awsCfg), cfg.SecretARN, cfg.SecretTTL),
		SFN:     sfn.NewFromConfig(awsCfg),
		ECS:     ecs.NewFromConfig(awsCfg),
		GitHub:  GitHubFromSecret(log),
		Metrics: os.Stdout,
	}, log)
	lambda.Start(h.HandleURL)
}

// GitHubFromSecret builds GitHub clients from the secret, reusing one while the
// credentials are unchanged so App installation tokens stay cached across invocations
// (ghrunner.ClientCache; a secret holding both an App and a token uses the App).
func GitHubFromSecret(log *slog.Logger) func(context.Context, credentials.Secret) (Runners, error) {
	clients := ghrunner.NewClientCache(ghrunner.Options{Logger: log})
	return func(ctx context.Context, s credentials.Secret) (Runners, error) {
		c, err := clients.For(ctx, s)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return c, nil
	}
}
