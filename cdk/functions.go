package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// functionFactory builds the fleet's Lambdas the one way they are all built: Go on
// provided.al2023, arm64, the bootstrap `make build` wrote to build/lambda/<name>/, a
// role of its own (no managed policy) and a log group of its own with JSON logs.
type functionFactory struct {
	scope     constructs.Construct
	cfg       Config
	bootstrap string
}

func newFunctionFactory(scope constructs.Construct, cfg Config, bootstrapDir string) *functionFactory {
	return &functionFactory{scope: scope, cfg: cfg, bootstrap: bootstrapDir}
}

// function is one Lambda with its role and log group.
type function struct {
	name string
	fn   awslambda.Function
	role awsiam.Role
	logs awslogs.LogGroup
}

type functionOptions struct {
	description string
	timeout     float64 // seconds
	memory      float64 // MiB
	env         map[string]*string
	// reserved is the reserved concurrency; 0 reserves none.
	reserved int
}

// Function IDs (construct ids) and folder names (activities/<name>, build/lambda/<name>).
var functionNames = map[string]string{
	"webhook":       "Webhook",
	"resolveimage":  "ResolveImage",
	"requestrunner": "RequestRunner",
	"reapifidle":    "ReapIfIdle",
	"cleanup":       "Cleanup",
	"janitor":       "Janitor",
}

func (f *functionFactory) new(name string, o functionOptions) *function {
	id, ok := functionNames[name]
	if !ok {
		panic(fmt.Errorf("no function named %q", name))
	}
	dir := filepath.Join(f.bootstrap, name)
	if st, err := os.Stat(filepath.Join(dir, "bootstrap")); err != nil || st.IsDir() {
		panic(fmt.Errorf("Lambda %s: %s/bootstrap is missing; run `make build` first (it builds every activities/<name>)", name, dir))
	}
	logs := awslogs.NewLogGroup(f.scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     retention(f.cfg),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(f.scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Runner Fleet " + name + " Lambda"),
	})
	// Instead of AWSLambdaBasicExecutionRole: write to this function's log group only.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{logs.LogGroupArn()},
	}))
	env := map[string]*string{}
	for k, v := range o.env {
		env[k] = v
	}
	props := &awslambda.FunctionProps{
		Description:           jsii.String(o.description),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          awslambda.Architecture_ARM_64(),
		Handler:               jsii.String("bootstrap"),
		Code:                  awslambda.Code_FromAsset(jsii.String(dir), nil),
		Role:                  role,
		LogGroup:              logs,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		Timeout:               awscdk.Duration_Seconds(jsii.Number(o.timeout)),
		MemorySize:            jsii.Number(o.memory),
		Environment:           &env,
	}
	if o.reserved > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(float64(o.reserved))
	}
	fn := awslambda.NewFunction(f.scope, jsii.String(id), props)
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Lambda names its log streams at run time; the grant is limited to this function's own log group."),
		AppliesTo: &[]any{regexAppliesTo(`^Resource::<` + id + `Logs[0-9A-F]+\.Arn>:\*$`)},
	}}, jsii.Bool(true))
	return &function{name: name, fn: fn, role: role, logs: logs}
}

// csv joins values for a comma-separated environment variable.
func csv(values []string) *string { return jsii.String(strings.Join(values, ",")) }

// regexAppliesTo is a cdk-nag appliesTo matching findings by regular expression.
func regexAppliesTo(pattern string) *cdknag.RegexAppliesTo {
	return &cdknag.RegexAppliesTo{Regex: jsii.String("/" + pattern + "/")}
}
