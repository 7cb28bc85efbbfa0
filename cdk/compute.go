package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// compute is where runners run: the ECS cluster (Fargate and Fargate Spot), the two
// roles ResolveImage puts in each runner task definition, and the runner log group.
type compute struct {
	cluster awsecs.Cluster
	// executionRole is ECS's: pull the image, ship the container's logs.
	executionRole awsiam.Role
	// taskRole is the runner's: open its own seal, write its logs, nothing else.
	taskRole   awsiam.Role
	runnerLogs awslogs.LogGroup
	// taskFamily prefixes the task definition families ResolveImage registers; RunTask
	// is granted on these families only.
	taskFamily string
}

func newCompute(scope constructs.Construct, cfg Config, net *network, set *settings) *compute {
	c := &compute{taskFamily: runnerTaskFamilyPrefix}
	c.cluster = awsecs.NewCluster(scope, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                            net.vpc,
		EnableFargateCapacityProviders: jsii.Bool(true),
		ContainerInsightsV2:            awsecs.ContainerInsights_ENABLED,
	})
	c.runnerLogs = awslogs.NewLogGroup(scope, jsii.String("RunnerLogs"), &awslogs.LogGroupProps{
		Retention:     retention(cfg),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	c.executionRole = awsiam.NewRole(scope, jsii.String("RunnerExecutionRole"), &awsiam.RoleProps{
		AssumedBy:   ecsTasksPrincipal(),
		Description: jsii.String("Runner Fleet: ECS pulls runner images and ships runner container logs"),
	})
	c.runnerLogs.GrantWrite(c.executionRole)
	// Pull rights on the fleet's repository are added by images.grantPull.

	c.taskRole = awsiam.NewRole(scope, jsii.String("RunnerTaskRole"), &awsiam.RoleProps{
		AssumedBy:   ecsTasksPrincipal(),
		Description: jsii.String("Runner Fleet: the runner itself; opens its own sealed JIT config and writes its logs, nothing of the control plane"),
	})
	set.grantOpen(c.taskRole)
	c.runnerLogs.GrantWrite(c.taskRole)
	for _, r := range []awsiam.Role{c.executionRole, c.taskRole} {
		cdknag.NagSuppressions_AddResourceSuppressions(r, &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String("Log streams are named per task at run time; the grant is limited to the runner log group's streams."),
			AppliesTo: &[]any{regexAppliesTo(`^Resource::<RunnerLogs[0-9A-F]+\.Arn>:\*$`)},
		}}, jsii.Bool(true))
	}
	return c
}

// ecsTasksPrincipal is ECS tasks, confused-deputy protected to this account.
func ecsTasksPrincipal() awsiam.IPrincipal {
	return awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), &awsiam.ServicePrincipalOpts{
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	})
}

// taskArns are the ARNs of the cluster's tasks.
func (c *compute) taskArns() *string {
	return awscdk.Stack_Of(c.cluster).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("ecs"),
		Resource:     jsii.String("task"),
		ResourceName: awscdk.Fn_Join(jsii.String(""), &[]*string{c.cluster.ClusterName(), jsii.String("/*")}),
	})
}

// taskDefinitionArns are the runner task definition families, every revision.
func (c *compute) taskDefinitionArns() *string {
	return awscdk.Stack_Of(c.cluster).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("ecs"),
		Resource:     jsii.String("task-definition"),
		ResourceName: jsii.String(c.taskFamily + "*:*"),
	})
}

// clusterCondition limits an ECS action to this cluster.
func (c *compute) clusterCondition() *map[string]any {
	return &map[string]any{"ArnEquals": map[string]any{"ecs:cluster": c.cluster.ClusterArn()}}
}

// grantTasks lets role act on the cluster's runner tasks (StopTask, DescribeTasks,
// TagResource), optionally only under conditions.
func (c *compute) grantTasks(role awsiam.Role, conditions *map[string]any, actions ...string) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings(actions...),
		Resources:  &[]*string{c.taskArns()},
		Conditions: conditions,
	}))
	suppress(role, nagFinding{"AwsSolutions-IAM5", `:task/<Cluster[0-9A-F]+>/\*$`,
		"Runner task ids are assigned by ECS at run time; the grant is limited to tasks of the fleet cluster."})
}

// grantListTasks lets role list the cluster's tasks. ListTasks takes no task resource,
// so the statement names * and limits it to the cluster by condition.
func (c *compute) grantListTasks(role awsiam.Role) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("ecs:ListTasks"),
		Resources:  jsii.Strings("*"),
		Conditions: c.clusterCondition(),
	}))
	suppress(role, nagFinding{"AwsSolutions-IAM5", `^Resource::\*$`,
		"ecs:ListTasks takes no task resource; the statement is limited to the fleet cluster by the ecs:cluster condition."})
}

// grantRunTask lets role run the runner task definitions (any family ResolveImage
// registers, any revision) in the cluster, tagging the new task.
func (c *compute) grantRunTask(role awsiam.Role) {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("ecs:RunTask"),
		Resources:  &[]*string{c.taskDefinitionArns()},
		Conditions: c.clusterCondition(),
	}))
	suppress(role, nagFinding{"AwsSolutions-IAM5", `:task-definition/` + c.taskFamily + `\*:\*>?$`,
		"ResolveImage registers one task definition family per image at run time; RunTask is limited to the fleet's runner families and cluster."})
	// RunTask with tags needs ecs:TagResource on the new task.
	c.grantTasks(role, &map[string]any{"StringEquals": map[string]any{"ecs:CreateAction": "RunTask"}}, "ecs:TagResource")
	c.grantPassRoles(role)
}

// grantPassRoles lets grantee hand the two runner roles to ECS.
func (c *compute) grantPassRoles(grantee awsiam.IGrantable) {
	grantee.GrantPrincipal().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("iam:PassRole"),
		Resources: &[]*string{c.executionRole.RoleArn(), c.taskRole.RoleArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"iam:PassedToService": "ecs-tasks.amazonaws.com"},
		},
	}))
}
