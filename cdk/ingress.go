package main

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// ingress is the fleet's front door: the webhook Lambda behind a Function URL.
type ingress struct {
	webhook *function
	url     awslambda.FunctionUrl
}

func newIngress(cfg Config, fns *functionFactory, set *settings, comp *compute, wf *workflow) *ingress {
	in := &ingress{}
	in.webhook = fns.new("webhook", functionOptions{
		description: "Runner Fleet webhook: verifies GitHub's signature and starts one execution per queued job",
		// GitHub gives up on a delivery after 10 seconds.
		timeout: 10, memory: 256,
		reserved: cfg.WebhookReservedConcurrency,
		env: map[string]*string{
			"STATE_MACHINE_ARN":         wf.runnerFleet.StateMachineArn(),
			"GITHUB_SECRET_ARN":         set.secret.SecretArn(),
			"ALLOWED_REPOSITORIES":      csv(cfg.Repositories),
			"ALLOW_PUBLIC_REPOSITORIES": jsii.String(strconv.FormatBool(cfg.AllowPublicRepositories)),
			"DEFAULT_IMAGE":             jsii.String(cfg.DefaultImage),
			"DEFAULT_CLASS":             jsii.String(cfg.DefaultClass),
			"EXTRA_LABELS":              csv(cfg.ExtraLabels),
			"FLEET_LABEL":               jsii.String(cfg.FleetLabel),
			// Job started: tag the runner's task with the job it took. Cancelled before
			// start: reap one idle runner (GitHub registration, task, execution).
			"CLUSTER_ARN":  comp.cluster.ClusterArn(),
			"RUNNER_SCOPE": jsii.String(cfg.RunnerScope),
		},
	})
	set.grantReadSecret(in.webhook.role)
	in.webhook.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("states:StartExecution"),
		Resources: &[]*string{wf.runnerFleet.StateMachineArn()},
	}))
	wf.grantExecutions(in.webhook.role, "states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution")
	comp.grantTasks(in.webhook.role, nil, "ecs:TagResource", "ecs:StopTask")
	// GitHub cannot sign AWS requests: the URL is public and the handler verifies
	// X-Hub-Signature-256 against the secret before doing anything.
	in.url = in.webhook.fn.AddFunctionUrl(&awslambda.FunctionUrlOptions{
		AuthType:   awslambda.FunctionUrlAuthType_NONE,
		InvokeMode: awslambda.InvokeMode_BUFFERED,
	})
	return in
}
