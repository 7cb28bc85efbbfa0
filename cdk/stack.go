package main

import (
	"fmt"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// RunnerFleetStackProps configures the RunnerFleet stack.
type RunnerFleetStackProps struct {
	awscdk.StackProps
	// Config is the decoded, validated context (DecodeConfig + Validate).
	Config Config
	// Root is the repository root: Lambda bootstraps are read from Root/build/lambda and
	// the image buildspec from Root/runner/buildspec.yml. Empty means the working directory.
	Root string
	// Definitions are the state machine definitions to deploy; nil means the ones the
	// statemachine package embeds.
	Definitions *Definitions
}

// Physical names the rest of the fleet relies on.
const (
	// runnerTaskFamilyPrefix starts every runner task definition family ResolveImage
	// registers (runner-fleet-<image hash>-<arch>[-<storage>gib]).
	runnerTaskFamilyPrefix = "runner-fleet-"
)

// NewRunnerFleetStack builds the whole fleet: network, configuration store, ECS compute,
// image builds, the activity Lambdas and state machines, the webhook, the janitor, and
// observability. It panics (failing synth) with the field to change when props.Config
// does not validate, or when a file it deploys is missing.
func NewRunnerFleetStack(scope constructs.Construct, id string, props *RunnerFleetStackProps) awscdk.Stack {
	if props == nil {
		props = &RunnerFleetStackProps{Config: DefaultConfig()}
	}
	cfg := props.Config
	if err := cfg.Validate(); err != nil {
		panic(fmt.Errorf("invalid configuration, nothing synthesized:\n%w", err))
	}
	defs := props.Definitions
	if defs == nil {
		d := EmbeddedDefinitions()
		defs = &d
	}
	sprops := props.StackProps
	if sprops.Description == nil {
		sprops.Description = jsii.String("Runner Fleet: ephemeral GitHub Actions runners on ECS Fargate, one Step Functions execution per job")
	}
	stack := awscdk.NewStack(scope, &id, &sprops)
	if len(cfg.Repositories) == 0 {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("runner-fleet:no-repositories"),
			jsii.String("context \"repositories\" is empty: the webhook will answer every job with \"not ours\"; set it to owner/name, owner/* or *"), nil)
	}

	root := props.Root
	if root == "" {
		root = "."
	}
	net := newNetwork(stack, cfg)
	set := newSettings(stack, cfg)
	comp := newCompute(stack, cfg, net, set)
	img := newImages(stack, cfg, set, filepath.Join(root, "runner", "buildspec.yml"), filepath.Join(root, "build", "runner", "context"))
	fns := newFunctionFactory(stack, cfg, filepath.Join(root, "build", "lambda"))
	wf := newWorkflow(stack, cfg, *defs, fns, net, set, comp, img)
	in := newIngress(cfg, fns, set, comp, wf)
	newObservability(stack, cfg, wf, in, img)
	addOutputs(stack, set, comp, img, wf, in)
	addNagChecks(stack)
	return stack
}

func addOutputs(stack awscdk.Stack, set *settings, comp *compute, img *images, wf *workflow, in *ingress) {
	out := func(key, description string, value *string) {
		awscdk.NewCfnOutput(stack, jsii.String(key), &awscdk.CfnOutputProps{
			Value:       value,
			Description: jsii.String(description),
		})
	}
	out("WebhookUrl", "Payload URL of the GitHub webhook (content type application/json, event: Workflow jobs)", in.url.Url())
	out("SecretArn", "Secrets Manager secret to fill: webhook_secret plus app_id and private_key, or token", set.secret.SecretArn())
	out("StateMachineArn", "RunnerFleet state machine: one execution per queued job", wf.runnerFleet.StateMachineArn())
	out("StateMachineConsoleUrl", "The fleet in the Step Functions console", awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("https://"), awscdk.Aws_REGION(), jsii.String(".console.aws.amazon.com/states/home?region="),
		awscdk.Aws_REGION(), jsii.String("#/statemachines/view/"), wf.runnerFleet.StateMachineArn(),
	}))
	out("ClusterName", "ECS cluster the runner tasks run in", comp.cluster.ClusterName())
	out("EcrRepositoryUri", "ECR repository holding the runner images", img.repo.RepositoryUri())
	out("ClassTableParameter", "SSM parameter holding the class table (JSON), editable without a redeploy", set.classTable.ParameterName())
}
