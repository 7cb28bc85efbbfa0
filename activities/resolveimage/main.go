// Command resolveimage is the ResolveImage activity of the RunnerFleet state machine: it
// checks a job's image against the allow-list, looks up its class, decides the runner
// image's ECR tag and whether it must be built first, registers (or reuses) the task
// definition, and returns the Plan the later states run from. See README.md.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/runner"
	"github.com/runnerfleet/fleet/runner/imageref"
)

func main() {
	log := activity.Logger()
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	awsCfg := activity.AWSConfig(log, 0)
	recipe := imageref.Recipe{RunnerVersion: runner.RunnerVersion, RecipeHash: runner.RecipeHash()}
	h := NewHandler(cfg, recipe, Clients{
		SSM: ssm.NewFromConfig(awsCfg),
		ECR: ecr.NewFromConfig(awsCfg),
		ECS: ecs.NewFromConfig(awsCfg),
	}, log)
	activity.Start(log, h.Resolve)
}
