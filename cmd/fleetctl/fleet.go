package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/statemachine"
)

// DefaultStack is the CloudFormation stack the CDK app deploys (and fleet-local serves).
const DefaultStack = "RunnerFleet"

// Stack output keys (cdk/stack.go addOutputs).
const (
	OutputWebhookURL          = "WebhookUrl"
	OutputSecretARN           = "SecretArn"
	OutputStateMachineARN     = "StateMachineArn"
	OutputClusterName         = "ClusterName"
	OutputEcrRepositoryURI    = "EcrRepositoryUri"
	OutputClassTableParameter = "ClassTableParameter"
)

// resource is one fleet resource: its stack output, flag and environment variable.
type resource struct {
	output, flag, env, usage string
}

var resources = []resource{
	{OutputStateMachineARN, "state-machine-arn", "FLEET_STATE_MACHINE_ARN", "RunnerFleet state machine ARN"},
	{OutputClusterName, "cluster", "FLEET_CLUSTER", "ECS cluster of the runner tasks"},
	{OutputSecretARN, "secret-arn", "FLEET_SECRET_ARN", "Secrets Manager secret holding the GitHub credentials"},
	{OutputClassTableParameter, "class-table-parameter", "FLEET_CLASS_TABLE_PARAMETER", "SSM parameter of the class table"},
	{OutputEcrRepositoryURI, "ecr-repository-uri", "FLEET_ECR_REPOSITORY_URI", "ECR repository of the runner images"},
	{OutputWebhookURL, "webhook-url", "FLEET_WEBHOOK_URL", "the fleet's webhook URL"},
}

// fleetFlags are the resource flags every command accepts.
type fleetFlags struct {
	stack  string
	values map[string]*string // by output key
}

func (f *fleetFlags) register(fs *flag.FlagSet, only ...string) {
	fs.StringVar(&f.stack, "stack", "", "CloudFormation stack whose outputs name the fleet's resources (env FLEET_STACK; default "+DefaultStack+")")
	f.values = map[string]*string{}
	for _, r := range resources {
		if len(only) > 0 && !contains(only, r.output) {
			continue
		}
		f.values[r.output] = fs.String(r.flag, "", r.usage+" (env "+r.env+"; default: stack output "+r.output+")")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Fleet resolves the fleet's resources and holds the AWS clients of one command run.
type Fleet struct {
	m     *Main
	flags *fleetFlags
	cfg   aws.Config

	once    sync.Once
	outputs map[string]string
	stack   string
	err     error

	SFN            *sfn.Client
	ECS            *ecs.Client
	ECR            *ecr.Client
	SSM            *ssm.Client
	SecretsManager *secretsmanager.Client
	CloudFormation *cloudformation.Client
}

// fleet loads the AWS configuration and builds the clients; resources are looked up
// lazily, the stack only when a flag or variable does not name one.
func (m *Main) fleet(ctx context.Context, flags *fleetFlags) (*Fleet, error) {
	cfg, err := m.LoadAWSConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w; set AWS_PROFILE or AWS credentials and AWS_REGION", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region configured; set AWS_REGION or a region in your AWS profile")
	}
	return &Fleet{
		m: m, flags: flags, cfg: cfg,
		SFN:            sfn.NewFromConfig(cfg),
		ECS:            ecs.NewFromConfig(cfg),
		ECR:            ecr.NewFromConfig(cfg),
		SSM:            ssm.NewFromConfig(cfg),
		SecretsManager: secretsmanager.NewFromConfig(cfg),
		CloudFormation: cloudformation.NewFromConfig(cfg),
	}, nil
}

// Region is the configured AWS region.
func (f *Fleet) Region() string { return f.cfg.Region }

// StackName is the stack the outputs come from.
func (f *Fleet) StackName() string {
	if f.flags.stack != "" {
		return f.flags.stack
	}
	if v := f.m.Getenv("FLEET_STACK"); v != "" {
		return v
	}
	return DefaultStack
}

// Outputs reads the stack's outputs once.
func (f *Fleet) Outputs(ctx context.Context) (map[string]string, error) {
	f.once.Do(func() {
		f.stack = f.StackName()
		out, err := f.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(f.stack)})
		if err != nil {
			f.err = fmt.Errorf("read the outputs of stack %s (CloudFormation DescribeStacks): %w; deploy the stack, pass --stack/FLEET_STACK, or name the resources with flags", f.stack, brief(err))
			return
		}
		if len(out.Stacks) == 0 {
			f.err = fmt.Errorf("stack %s not found; deploy it or pass --stack", f.stack)
			return
		}
		f.outputs = map[string]string{}
		for _, o := range out.Stacks[0].Outputs {
			f.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
	})
	return f.outputs, f.err
}

// Resource returns the value of a stack output key: the flag, then the environment
// variable, then the stack's output.
func (f *Fleet) Resource(ctx context.Context, output string) (string, error) {
	var r resource
	for _, x := range resources {
		if x.output == output {
			r = x
		}
	}
	if p := f.flags.values[output]; p != nil && *p != "" {
		return *p, nil
	}
	if v := f.m.Getenv(r.env); v != "" {
		return v, nil
	}
	outs, err := f.Outputs(ctx)
	if err != nil {
		return "", err
	}
	v := outs[output]
	if v == "" {
		return "", fmt.Errorf("stack %s has no output %s; update the stack, or pass --%s / %s", f.stack, output, r.flag, r.env)
	}
	return v, nil
}

// ImageBuildStateMachineARN is the RunnerFleetImageBuild state machine, the
// RunnerFleet machine's sibling (the stack names both; cdk/workflow.go).
func (f *Fleet) ImageBuildStateMachineARN(ctx context.Context) (string, error) {
	arn, err := f.Resource(ctx, OutputStateMachineARN)
	if err != nil {
		return "", err
	}
	prefix, _, ok := strings.Cut(arn, ":stateMachine:")
	if !ok {
		return "", fmt.Errorf("%q is not a state machine ARN; check --state-machine-arn", arn)
	}
	return prefix + ":stateMachine:" + statemachine.ImageBuildName, nil
}

// briefError shows an AWS API error as "Code: message", without the SDK's operation
// and request id, for one-line messages; it unwraps to the original.
type briefError struct {
	api smithy.APIError
	err error
}

func (e *briefError) Error() string { return e.api.ErrorCode() + ": " + e.api.ErrorMessage() }
func (e *briefError) Unwrap() error { return e.err }

// brief shortens err when it is an AWS API error.
func brief(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &briefError{api: ae, err: err}
	}
	return err
}

// apiCode is the AWS error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
