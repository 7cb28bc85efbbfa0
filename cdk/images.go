package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// images is where runner images live and are built: the ECR repository and the
// CodeBuild project the image build state machine starts (one build per image tag).
type images struct {
	repo    awsecr.Repository
	project awscodebuild.Project
	logs    awslogs.LogGroup
}

// newImages builds the repository and the build project. The project's source is the
// build context `make build` writes to contextDir (build-image.sh, the Dockerfile, the
// entrypoint binaries); its buildspec is runner/buildspec.yml, inline in the template.
func newImages(scope constructs.Construct, cfg Config, set *settings, buildspecPath, contextDir string) *images {
	i := &images{}
	var rules []*awsecr.LifecycleRule
	rules = append(rules, &awsecr.LifecycleRule{
		RulePriority: jsii.Number(1),
		Description:  jsii.String("Expire untagged images (superseded layers of interrupted or repeated pushes) after a day"),
		TagStatus:    awsecr.TagStatus_UNTAGGED,
		MaxImageAge:  awscdk.Duration_Days(jsii.Number(1)),
	})
	// A runner image expired here is rebuilt when a job asks for it again (ResolveImage
	// checks the tag exists), so the count bounds storage, not correctness.
	for n, pattern := range cfg.EcrTagPatterns {
		rules = append(rules, &awsecr.LifecycleRule{
			RulePriority:   jsii.Number(float64(n + 2)),
			Description:    jsii.String(fmt.Sprintf("Keep the %d most recent images tagged %s", cfg.EcrKeepImages, pattern)),
			TagStatus:      awsecr.TagStatus_TAGGED,
			TagPatternList: jsii.Strings(pattern),
			MaxImageCount:  jsii.Number(float64(cfg.EcrKeepImages)),
		})
	}
	i.repo = awsecr.NewRepository(scope, jsii.String("Images"), &awsecr.RepositoryProps{
		ImageScanOnPush: jsii.Bool(true),
		LifecycleRules:  &rules,
		// Images are rebuilt on demand, but a stack deletion must not fail on a
		// non-empty repository nor silently delete what running tasks pull: retain it.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	spec, err := os.ReadFile(buildspecPath)
	if err != nil {
		panic(fmt.Errorf("read the image buildspec: %w (runner/buildspec.yml is deployed as the CodeBuild project's buildspec; run synth from the repository root)", err))
	}
	if !strings.Contains(string(spec), "phases:") {
		panic(fmt.Errorf("%s has no phases: section; it must be a CodeBuild buildspec (version 0.2)", buildspecPath))
	}

	if st, err := os.Stat(filepath.Join(contextDir, "build-image.sh")); err != nil || st.IsDir() {
		panic(fmt.Errorf("image build context %s is missing build-image.sh; run `make build` first (it makes the context with the entrypoint binaries)", contextDir))
	}
	source := awss3assets.NewAsset(scope, jsii.String("ImageBuildContext"), &awss3assets.AssetProps{
		Path: jsii.String(contextDir),
	})

	i.logs = awslogs.NewLogGroup(scope, jsii.String("ImageBuildLogs"), &awslogs.LogGroupProps{
		Retention:     retention(cfg),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	stack := awscdk.Stack_Of(scope)
	registry := awscdk.Fn_Join(jsii.String(""), &[]*string{
		stack.Account(), jsii.String(".dkr.ecr."), stack.Region(), jsii.String("."), stack.UrlSuffix(),
	})
	i.project = awscodebuild.NewProject(scope, jsii.String("ImageBuild"), &awscodebuild.ProjectProps{
		Description: jsii.String("Runner Fleet: builds one runner image (base image + runner) and pushes it to the fleet repository"),
		// Replaced below by the file's text: BuildSpec_FromAsset would upload it to the
		// asset bucket and grant the build read access there; inline, the template shows it.
		BuildSpec: awscodebuild.BuildSpec_FromObject(&map[string]any{"version": "0.2"}),
		Source: awscodebuild.Source_S3(&awscodebuild.S3SourceProps{
			Bucket: source.Bucket(),
			Path:   source.S3ObjectKey(),
		}),
		Environment: &awscodebuild.BuildEnvironment{
			// x86 by default; the image build workflow overrides the environment type and
			// image (ARM_CONTAINER) for arm64 images.
			BuildImage:  awscodebuild.LinuxBuildImage_STANDARD_7_0(),
			ComputeType: awscodebuild.ComputeType_SMALL,
			// Docker builds need the Docker daemon.
			Privileged: jsii.Bool(true),
			EnvironmentVariables: &map[string]*awscodebuild.BuildEnvironmentVariable{
				"ECR_REPOSITORY_URI":  {Value: i.repo.RepositoryUri()},
				"ECR_REPOSITORY_NAME": {Value: i.repo.RepositoryName()},
				"ECR_REGISTRY":        {Value: registry},
			},
		},
		Timeout:       awscdk.Duration_Seconds(jsii.Number(float64(cfg.BuildTimeoutSeconds))),
		QueuedTimeout: awscdk.Duration_Hours(jsii.Number(1)),
		EncryptionKey: set.key,
		Logging: &awscodebuild.LoggingOptions{
			CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: i.logs},
		},
	})
	cfn := i.project.Node().DefaultChild().(awscodebuild.CfnProject)
	cfn.AddPropertyOverride(jsii.String("Source.BuildSpec"), jsii.String(string(spec)))
	i.grantPush(i.project)
	cdknag.NagSuppressions_AddResourceSuppressions(i.project, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-CB3"),
		Reason: jsii.String("Privileged mode runs the Docker daemon that builds the runner image; the build runs only the fleet's own buildspec on an allow-listed base image."),
	}}, jsii.Bool(false))
	suppress(i.project,
		nagFinding{"AwsSolutions-IAM5", `^Resource::\*$`,
			"ecr:GetAuthorizationToken has no resource-level permission; pushes are limited to the fleet repository by the other statement."},
		nagFinding{"AwsSolutions-IAM5", `:report-group/<ImageBuild[0-9A-F]+>-\*$`,
			"CodeBuild's own grant for the project's test report groups, named after the project; the buildspec defines no reports."},
		nagFinding{"AwsSolutions-IAM5", `:log-group:/aws/codebuild/<ImageBuild[0-9A-F]+>:\*$`,
			"CodeBuild's own grant for the project's default log group; the project logs to ImageBuildLogs."},
		nagFinding{"AwsSolutions-IAM5", `^Action::kms:(GenerateDataKey|ReEncrypt)\*$`,
			"CodeBuild encrypts build output with the fleet key (CDK's encrypt/decrypt grant, limited to that key)."},
		nagFinding{"AwsSolutions-IAM5", `^Action::s3:(GetObject|GetBucket|List)\*$|^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-<AWS::AccountId>-<AWS::Region>/\*$`,
			"Reading the build context, a CDK asset in the bootstrap bucket (CDK's read grant on that bucket's objects)."},
	)
	return i
}

// grantPush lets the build push to this repository only (plus the account-wide
// ecr:GetAuthorizationToken, which has no resource). build-image.sh first asks whether
// the tag exists, so a retried build whose push succeeded does nothing.
func (i *images) grantPush(grantee awsiam.IGrantable) {
	i.repo.GrantPullPush(grantee)
	i.repo.Grant(grantee, jsii.String("ecr:DescribeImages"))
}

// grantPull lets ECS pull runner images from this repository only.
func (i *images) grantPull(grantee awsiam.Role) {
	i.repo.GrantPull(grantee)
	suppress(grantee, nagFinding{"AwsSolutions-IAM5", `^Resource::\*$`,
		"ecr:GetAuthorizationToken has no resource-level permission; pulls are limited to the fleet repository by the other statement."})
}
