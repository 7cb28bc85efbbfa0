package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/runnerfleet/fleet/statemachine"
)

// workflow is the control plane: the activity Lambdas, the two state machines and the
// scheduled janitor.
type workflow struct {
	resolveImage, requestRunner, reapIfIdle, cleanup, janitor *function
	runnerFleet                                               awsstepfunctions.StateMachine
	imageBuild                                                awsstepfunctions.StateMachine
	runnerFleetName, imageBuildName                           string
}

func newWorkflow(scope constructs.Construct, cfg Config, defs Definitions, fns *functionFactory,
	net *network, set *settings, comp *compute, img *images) *workflow {
	// Fixed names (docs/contract.md): formatted ARNs let a function's policy name the
	// machine's executions without depending on the machine, which depends on the functions.
	w := &workflow{
		runnerFleetName: statemachine.RunnerFleetName,
		imageBuildName:  statemachine.ImageBuildName,
	}

	img.grantPull(comp.executionRole)

	w.resolveImage = fns.new("resolveimage", functionOptions{
		description: "Runner Fleet ResolveImage: picks the image and class, registers the runner task definition, plans the build",
		timeout:     60, memory: 256,
		env: map[string]*string{
			"CLASS_TABLE_PARAMETER":   set.classTable.ParameterName(),
			"CLUSTER_ARN":             comp.cluster.ClusterArn(),
			"SUBNETS":                 awscdk.Fn_Join(jsii.String(","), &net.subnetIDs),
			"SECURITY_GROUPS":         net.securityGroup.SecurityGroupId(),
			"ASSIGN_PUBLIC_IP":        jsii.String(strconv.FormatBool(net.publicIP)),
			"ECR_REPOSITORY_NAME":     img.repo.RepositoryName(),
			"ECR_REPOSITORY_URI":      img.repo.RepositoryUri(),
			"IMAGE_ALLOW_LIST":        csv(cfg.ImageAllowList),
			"TASK_EXECUTION_ROLE_ARN": comp.executionRole.RoleArn(),
			"TASK_ROLE_ARN":           comp.taskRole.RoleArn(),
			"RUNNER_LOG_GROUP":        comp.runnerLogs.LogGroupName(),
			"DEFAULT_IMAGE":           jsii.String(cfg.DefaultImage),
			"IDLE_TIMEOUT_SECONDS":    jsii.String(strconv.Itoa(cfg.IdleTimeoutSeconds)),
			"RUNNER_TTL_SECONDS":      jsii.String(strconv.Itoa(cfg.RunnerTTLSeconds)),
			"BUILD_TIMEOUT_SECONDS":   jsii.String(strconv.Itoa(cfg.BuildTimeoutSeconds)),
		},
	})
	w.resolveImage.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ssm:GetParameter"),
		Resources: &[]*string{set.classTable.ParameterArn()},
	}))
	w.resolveImage.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ecr:DescribeImages"),
		Resources: &[]*string{img.repo.RepositoryArn()},
	}))
	w.resolveImage.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"),
		Resources: jsii.Strings("*"),
	}))
	w.resolveImage.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ecs:TagResource"),
		Resources: &[]*string{comp.taskDefinitionArns()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"ecs:CreateAction": "RegisterTaskDefinition"},
		},
	}))
	comp.grantPassRoles(w.resolveImage.role)
	suppress(w.resolveImage.role,
		nagFinding{"AwsSolutions-IAM5", `^Resource::\*$`,
			"ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition support no resource-level permissions (IAM service authorization reference); registration is bounded by iam:PassRole on the two runner roles only."},
		nagFinding{"AwsSolutions-IAM5", `:task-definition/` + comp.taskFamily + `\*:\*>?$`,
			"Task definition revisions are registered at run time, one family per image; tagging is limited to the fleet's runner families and to registration."},
	)

	w.requestRunner = fns.new("requestrunner", functionOptions{
		description: "Runner Fleet RequestRunner: asks GitHub for a JIT runner config and seals it with KMS",
		timeout:     60, memory: 256,
		env: map[string]*string{
			"GITHUB_SECRET_ARN":                  set.secret.SecretArn(),
			"KMS_KEY_ARN":                        set.key.KeyArn(),
			"RUNNER_SCOPE":                       jsii.String(cfg.RunnerScope),
			"RUNNER_GROUP_ID":                    jsii.String(strconv.Itoa(cfg.RunnerGroupID)),
			"GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS": jsii.String(strconv.Itoa(cfg.RateLimitMaxWaitSeconds)),
		},
	})
	set.grantReadSecret(w.requestRunner.role)
	set.grantSeal(w.requestRunner.role)

	w.reapIfIdle = fns.new("reapifidle", functionOptions{
		description: "Runner Fleet ReapIfIdle: deletes an idle runner's registration (GitHub refuses for a busy one) and stops its task",
		timeout:     60, memory: 256,
		env: map[string]*string{
			"GITHUB_SECRET_ARN": set.secret.SecretArn(),
			"CLUSTER_ARN":       comp.cluster.ClusterArn(),
		},
	})
	w.cleanup = fns.new("cleanup", functionOptions{
		description: "Runner Fleet Cleanup: deregisters the runner, stops its task and names the outcome",
		timeout:     120, memory: 256,
		env: map[string]*string{
			"GITHUB_SECRET_ARN": set.secret.SecretArn(),
			"CLUSTER_ARN":       comp.cluster.ClusterArn(),
		},
	})
	// Each grants what its handler calls: the task ARN is in the execution's history
	// (RunRunner's TaskSubmitted event); ReapIfIdle stops the idle runner's task; Cleanup
	// also reads the stopped task's exit.
	for _, g := range []struct {
		f          *function
		ecsActions []string
	}{
		{w.reapIfIdle, []string{"ecs:StopTask"}},
		{w.cleanup, []string{"ecs:StopTask", "ecs:DescribeTasks"}},
	} {
		set.grantReadSecret(g.f.role)
		w.grantExecutions(g.f.role, "states:GetExecutionHistory")
		comp.grantTasks(g.f.role, nil, g.ecsActions...)
	}

	w.imageBuild = w.newImageBuildMachine(scope, cfg, defs, img)
	w.runnerFleet = w.newRunnerFleetMachine(scope, cfg, defs, comp, img)

	w.janitor = fns.new("janitor", functionOptions{
		description: "Runner Fleet janitor: stops orphan runner tasks and deletes offline runner registrations no timeout covered",
		timeout:     300, memory: 256,
		env: map[string]*string{
			"GITHUB_SECRET_ARN": set.secret.SecretArn(),
			"CLUSTER_ARN":       comp.cluster.ClusterArn(),
			"STATE_MACHINE_ARN": w.runnerFleet.StateMachineArn(),
			"RUNNER_SCOPES":     csv(cfg.RunnerScopes()),
		},
	})
	set.grantReadSecret(w.janitor.role)
	// A task's execution is named by its tag; the janitor asks whether it has ended.
	w.grantExecutions(w.janitor.role, "states:DescribeExecution")
	comp.grantTasks(w.janitor.role, nil, "ecs:StopTask", "ecs:DescribeTasks")
	comp.grantListTasks(w.janitor.role)
	awsevents.NewRule(scope, jsii.String("JanitorSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Runner Fleet janitor, every 10 minutes"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(10))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(w.janitor.fn, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(0),
		})},
	})
	return w
}

// grantExecutions lets role act on the RunnerFleet machine's executions.
func (w *workflow) grantExecutions(role awsiam.Role, actions ...string) {
	stack := awscdk.Stack_Of(role)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &[]*string{w.executionArns(stack, w.runnerFleetName)},
	}))
	suppress(role, nagFinding{"AwsSolutions-IAM5", `:execution:` + w.runnerFleetName + `:\*$`,
		"Executions are named per job at run time; the grant is limited to the RunnerFleet machine's executions."})
}

func (w *workflow) executionArns(stack awscdk.Stack, machine string) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("states"), Resource: jsii.String("execution"),
		ResourceName: jsii.String(machine + ":*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// newImageBuildMachine deploys RunnerFleetImageBuild: one execution per image tag, which
// runs the CodeBuild project and waits for it.
func (w *workflow) newImageBuildMachine(scope constructs.Construct, cfg Config, defs Definitions, img *images) awsstepfunctions.StateMachine {
	subs := map[string]*string{
		"ImageBuildProjectName": img.project.ProjectName(),
		"ImageBuildProjectArn":  img.project.ProjectArn(),
		"EcrRepositoryUri":      img.repo.RepositoryUri(),
		"EcrRepositoryName":     img.repo.RepositoryName(),
	}
	role := newStateMachineRole(scope, "ImageBuildMachineRole", "Runner Fleet image build state machine")
	g := &integrationGrants{stack: awscdk.Stack_Of(scope), role: role, img: img}
	g.grant(w.imageBuildName, defs.ImageBuild)
	return w.newMachine(scope, cfg, "ImageBuildMachine", w.imageBuildName, defs.ImageBuild, defs.Keys, subs, role)
}

// newRunnerFleetMachine deploys RunnerFleet: one execution per queued job.
func (w *workflow) newRunnerFleetMachine(scope constructs.Construct, cfg Config, defs Definitions, comp *compute, img *images) awsstepfunctions.StateMachine {
	subs := map[string]*string{
		"ResolveImageFunctionArn":   w.resolveImage.fn.FunctionArn(),
		"RequestRunnerFunctionArn":  w.requestRunner.fn.FunctionArn(),
		"ReapIfIdleFunctionArn":     w.reapIfIdle.fn.FunctionArn(),
		"CleanupFunctionArn":        w.cleanup.fn.FunctionArn(),
		"ImageBuildStateMachineArn": w.imageBuild.StateMachineArn(),
		"ImageBuildProjectName":     img.project.ProjectName(),
		"ClusterArn":                comp.cluster.ClusterArn(),
		"TaskExecutionRoleArn":      comp.executionRole.RoleArn(),
		"TaskRoleArn":               comp.taskRole.RoleArn(),
		"EcrRepositoryUri":          img.repo.RepositoryUri(),
	}
	role := newStateMachineRole(scope, "RunnerFleetMachineRole", "Runner Fleet state machine")
	g := &integrationGrants{
		stack: awscdk.Stack_Of(scope), role: role, img: img, comp: comp,
		functions:      []*function{w.resolveImage, w.requestRunner, w.reapIfIdle, w.cleanup},
		imageBuildName: w.imageBuildName, imageBuildArn: w.imageBuild.StateMachineArn(),
	}
	g.grant(w.runnerFleetName, defs.RunnerFleet)
	return w.newMachine(scope, cfg, "RunnerFleetMachine", w.runnerFleetName, defs.RunnerFleet, defs.Keys, subs, role)
}

func newStateMachineRole(scope constructs.Construct, id, what string) awsiam.Role {
	return awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			},
		}),
		Description: jsii.String(what),
	})
}

// newMachine deploys def unchanged with every ${key} it uses filled from known; a key
// the stack cannot fill fails synth.
func (w *workflow) newMachine(scope constructs.Construct, cfg Config, id, name string, def []byte,
	keys func([]byte) []string, known map[string]*string, role awsiam.Role) awsstepfunctions.StateMachine {
	subs := map[string]*string{}
	var missing []string
	for _, k := range keys(def) {
		v, ok := known[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		subs[k] = v
	}
	if len(missing) > 0 {
		have := make([]string, 0, len(known))
		for k := range known {
			have = append(have, k)
		}
		sort.Strings(have)
		panic(fmt.Errorf("state machine %s uses ${%s}, which the stack does not know how to fill (it fills %s); add it to cdk/workflow.go",
			name, strings.Join(missing, "}, ${"), strings.Join(have, ", ")))
	}
	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		// Step Functions vends its logs to groups under /aws/vendedlogs/.
		LogGroupName:  jsii.String("/aws/vendedlogs/states/" + name),
		Retention:     retention(cfg),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	m := awsstepfunctions.NewStateMachine(scope, jsii.String(id), &awsstepfunctions.StateMachineProps{
		StateMachineName:        jsii.String(name),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(string(def))),
		DefinitionSubstitutions: &subs,
		Role:                    role,
		TracingEnabled:          jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination: logs,
			Level:       awsstepfunctions.LogLevel_ALL,
			// Execution data stays in the execution history; the state document carries
			// only sealed secrets, but logs are kept longer and read more widely.
			IncludeExecutionData: jsii.Bool(false),
		},
	})
	suppress(role,
		nagFinding{"AwsSolutions-IAM5", `^Resource::\*$`,
			"CloudWatch Logs delivery (logs:*LogDelivery, logs:Describe*) and X-Ray (xray:Put*, xray:GetSampling*) accept no resource but *, as Step Functions documents for logging and tracing."},
	)
	return m
}

// integrationGrants grants a state machine role exactly the service integrations its
// definition uses; an integration it does not know fails synth, so a new kind of Task
// state cannot ship without its permissions.
type integrationGrants struct {
	stack          awscdk.Stack
	role           awsiam.Role
	img            *images
	comp           *compute
	functions      []*function
	imageBuildName string
	imageBuildArn  *string
}

func (g *integrationGrants) grant(machine string, def []byte) {
	resources, err := taskResources(def)
	if err != nil {
		panic(fmt.Errorf("state machine %s: %w", machine, err))
	}
	add := func(actions []string, resources ...*string) {
		g.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings(actions...), Resources: &resources,
		}))
	}
	managedRule := func(name string) *string {
		return g.stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("events"), Resource: jsii.String("rule"), ResourceName: jsii.String(name),
		})
	}
	for _, r := range resources {
		switch r {
		case "arn:aws:states:::lambda:invoke":
			if len(g.functions) == 0 {
				panic(fmt.Errorf("state machine %s invokes Lambda, but the stack gives it no function", machine))
			}
			var arns []*string
			for _, f := range g.functions {
				arns = append(arns, f.fn.FunctionArn())
			}
			add([]string{"lambda:InvokeFunction"}, arns...)
		case "arn:aws:states:::ecs:runTask.sync", "arn:aws:states:::ecs:runTask":
			if g.comp == nil {
				panic(fmt.Errorf("state machine %s runs ECS tasks, but the stack gives it no cluster", machine))
			}
			g.comp.grantRunTask(g.role)
			if r == "arn:aws:states:::ecs:runTask.sync" {
				g.comp.grantTasks(g.role, nil, "ecs:StopTask", "ecs:DescribeTasks")
				add([]string{"events:PutTargets", "events:PutRule", "events:DescribeRule"},
					managedRule("StepFunctionsGetEventsForECSTaskRule"))
			}
		case "arn:aws:states:::codebuild:startBuild.sync", "arn:aws:states:::codebuild:startBuild":
			actions := []string{"codebuild:StartBuild"}
			if strings.HasSuffix(r, ".sync") {
				actions = append(actions, "codebuild:StopBuild", "codebuild:BatchGetBuilds")
				add([]string{"events:PutTargets", "events:PutRule", "events:DescribeRule"},
					managedRule("StepFunctionsGetEventsForCodeBuildStartBuildRule"))
			}
			add(actions, g.img.project.ProjectArn())
		case "arn:aws:states:::states:startExecution.sync:2", "arn:aws:states:::states:startExecution.sync",
			"arn:aws:states:::states:startExecution":
			if g.imageBuildArn == nil {
				panic(fmt.Errorf("state machine %s starts executions, but the stack gives it no machine to start", machine))
			}
			add([]string{"states:StartExecution"}, g.imageBuildArn)
			if strings.Contains(r, ".sync") {
				add([]string{"states:DescribeExecution", "states:StopExecution"},
					g.stack.FormatArn(&awscdk.ArnComponents{
						Service: jsii.String("states"), Resource: jsii.String("execution"),
						ResourceName: jsii.String(g.imageBuildName + ":*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
					}))
				suppress(g.role, nagFinding{"AwsSolutions-IAM5", `:execution:` + g.imageBuildName + `:\*$`,
					"Image build executions are named per image tag at run time; startExecution.sync:2 describes and stops only the image build machine's executions."})
				add([]string{"events:PutTargets", "events:PutRule", "events:DescribeRule"},
					managedRule("StepFunctionsGetEventsForStepFunctionsExecutionRule"))
			}
		case "arn:aws:states:::aws-sdk:ecr:describeImages":
			add([]string{"ecr:DescribeImages"}, g.img.repo.RepositoryArn())
		default:
			panic(fmt.Errorf("state machine %s uses the integration %s, which the stack does not grant; add it to integrationGrants in cdk/workflow.go", machine, r))
		}
	}
}

// taskResources lists the distinct Resource of every Task state in an ASL document,
// including states nested in Parallel branches and Map processors, sorted.
func taskResources(def []byte) ([]string, error) {
	var doc any
	if err := json.Unmarshal(def, &doc); err != nil {
		return nil, fmt.Errorf("definition is not JSON: %w", err)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if typ, _ := t["Type"].(string); typ == "Task" {
				if r, ok := t["Resource"].(string); ok {
					seen[r] = true
				}
			}
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(doc)
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, nil
}

// nagFinding is a cdk-nag rule, the findings it applies to (a regular expression), and
// why the finding is acceptable.
type nagFinding struct{ rule, appliesTo, reason string }

func suppress(construct constructs.IConstruct, findings ...nagFinding) {
	s := make([]*cdknag.NagPackSuppression, 0, len(findings))
	for _, f := range findings {
		s = append(s, &cdknag.NagPackSuppression{
			Id:        jsii.String(f.rule),
			Reason:    jsii.String(f.reason),
			AppliesTo: &[]any{regexAppliesTo(f.appliesTo)},
		})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &s, jsii.Bool(true))
}
