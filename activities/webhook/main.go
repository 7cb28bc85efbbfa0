// Command webhook is the Lambda behind the fleet's Function URL: it verifies GitHub's
// signature, decides whether a queued workflow_job is ours, and starts exactly one
// RunnerFleet execution per job. See README.md for its configuration and answers.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/credentials"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("loading AWS configuration failed", "error", err)
		os.Exit(1)
	}
	store := credentials.NewStore(secretsmanager.NewFromConfig(awsCfg), cfg.SecretARN, cfg.SecretTTL)
	h := NewHandler(cfg, store, sfn.NewFromConfig(awsCfg), log)
	lambda.Start(h.HandleURL)
}
