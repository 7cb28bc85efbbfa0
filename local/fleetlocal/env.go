// Package fleetlocal assembles the whole fleet on loopback — the local environment
// behind fleet-local, make demo, the end-to-end suite and the burst benchmark. It wires
// the AWS fakes (local/awsfake), the Step Functions engine running the statemachine/
// definitions (local/sfnlocal), the real Lambda bootstraps behind a Lambda Runtime API
// (local/lambdalocal), the fake GitHub with its job queue and dispatcher
// (local/githubfake) and simulated runner tasks (local/simrunner), configured the way
// the CDK stack configures AWS.
package fleetlocal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
	"github.com/runnerfleet/fleet/local/lambdalocal"
	"github.com/runnerfleet/fleet/local/sfnlocal"
	"github.com/runnerfleet/fleet/local/simrunner"
	"github.com/runnerfleet/fleet/statemachine"
)

// Functions are the fleet's Lambda functions, as make build names them.
var Functions = []string{"webhook", "resolveimage", "requestrunner", "reapifidle", "cleanup", "janitor"}

// Names of the resources the environment creates (the stack's equivalents).
const (
	StackName          = "RunnerFleet"
	SecretName         = "runner-fleet/github"
	ClassTableName     = "/runner-fleet/classes"
	ClusterName        = "runner-fleet"
	RepositoryName     = "runner-fleet/runners"
	BuildProject       = "runner-fleet-image-build"
	RunnerLogGroup     = "/runner-fleet/runners"
	DefaultImage       = "ubuntu:24.04"
	DefaultClass       = "medium"
	FleetLabel         = "runner-fleet"
	githubToken        = "test-pat-fleetlocal0000000000000000000000000"
	defaultTimeScale   = 0.02
	defaultConcurrency = 4
)

// Options configure the environment. Durations marked production-equivalent are scaled
// by TimeScale; wall-clock ones are not.
type Options struct {
	// Root is the repository root (statemachine/, local/_sfnengine). Default: found from
	// the working directory.
	Root string
	// Bootstraps is a folder holding <function>/bootstrap built for this machine
	// (GOARCH=amd64 make build into it, or BuildBootstraps). Required.
	Bootstraps string
	// Listen is the host to listen on (127.0.0.1); ports 0 pick free ones.
	Listen                           string
	WebhookPort, AWSPort, GitHubPort int

	// TimeScale multiplies production-equivalent durations (default 0.02: five minutes
	// of idle timeout take six seconds).
	TimeScale float64
	// IdleTimeout, RunnerTTL, QueueTimeout are production-equivalent (defaults 300 s,
	// 6 h, 24 h).
	IdleTimeout, RunnerTTL, QueueTimeout time.Duration
	// BootDelay is how long a simulated runner task takes to boot (wall clock, default 2 s).
	BootDelay time.Duration
	// BuildDuration is how long an image build takes (wall clock, default 3 s).
	BuildDuration time.Duration
	// FailBuilds lists base image references whose builds fail.
	FailBuilds []string
	// Concurrency is the number of sandboxes per Lambda function (default 4).
	Concurrency int
	// SyncPoll is how often a running .sync task (RunRunner, BuildImage, RunBuild)
	// checks its job (wall clock, default 50 ms). Each running task polls on its own, so
	// a burst of a thousand runners should poll less often (make bench uses 1 s).
	SyncPoll time.Duration
	// JanitorEvery is the janitor's schedule (wall clock, default 10 s; negative disables).
	JanitorEvery time.Duration
	// JanitorScopes are the runner scopes the janitor sweeps (RUNNER_SCOPES).
	JanitorScopes []string
	// AllowedRepositories is ALLOWED_REPOSITORIES (default "*": every repository; public
	// ones are still refused unless AllowPublic).
	AllowedRepositories string
	AllowPublic         bool

	Faults Faults

	// BootDelayFor, when set, gives each runner task its own boot time (see simrunner).
	BootDelayFor func(t *awsfake.Task) time.Duration
	// OnOpened, for tests, receives every plaintext JIT config a simulated runner opened.
	OnOpened func(execution string, jit []byte)

	// Log receives the environment's own log; FunctionLogs every Lambda's output.
	Log          *slog.Logger
	FunctionLogs io.Writer
}

// Faults are injected into the fakes.
type Faults struct {
	GitHub5xxRatio        float64 // share of GitHub API calls answered 502
	GitHubWritesPerMinute int     // secondary rate limit on writes (0: off)
	SpotShortage          int     // the next N FARGATE_SPOT placements fail for capacity
	ECSThrottleRatio      float64 // share of ECS calls answered ThrottlingException
	RunTaskPerSecond      float64 // RunTask token bucket refill (0: unlimited)
}

// Env is a running local environment.
type Env struct {
	Opts    Options
	AWS     *awsfake.Server
	GitHub  *githubfake.Server
	Runtime *lambdalocal.Runtime
	Engine  *sfnlocal.Engine
	Runners *simrunner.Fleet
	AWSCfg  aws.Config

	WebhookURL, AWSEndpoint, GitHubAPIURL, GitHubURL string
	WebhookSecret                                    string
	StateMachineARN, ImageBuildARN, ClusterARN       string
	SecretARN, KeyARN                                string

	log     *slog.Logger
	servers []*http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	extra   []func()
}

func (o *Options) defaults() error {
	if o.Root == "" {
		root, err := FindRoot()
		if err != nil {
			return err
		}
		o.Root = root
	}
	if o.Bootstraps == "" {
		return errors.New("Options.Bootstraps is required (build them with BuildBootstraps or `make local`)")
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1"
	}
	if o.TimeScale <= 0 {
		o.TimeScale = defaultTimeScale
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 300 * time.Second
	}
	if o.RunnerTTL <= 0 {
		o.RunnerTTL = 6 * time.Hour
	}
	if o.QueueTimeout <= 0 {
		o.QueueTimeout = 24 * time.Hour
	}
	if o.BootDelay <= 0 {
		o.BootDelay = 2 * time.Second
	}
	if o.BuildDuration <= 0 {
		o.BuildDuration = 3 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = defaultConcurrency
	}
	if o.SyncPoll <= 0 {
		o.SyncPoll = 50 * time.Millisecond
	}
	if o.JanitorEvery == 0 {
		o.JanitorEvery = 10 * time.Second
	}
	if o.AllowedRepositories == "" {
		o.AllowedRepositories = "*"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.FunctionLogs == nil {
		o.FunctionLogs = io.Discard
	}
	return nil
}

// Scaled converts a production-equivalent duration to wall-clock time.
func (o Options) Scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * o.TimeScale)
}

// FindRoot walks up from the working directory to the folder holding go.mod.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the runner fleet repository (no go.mod above the working directory)")
		}
		dir = parent
	}
}

// BuildBootstraps compiles every Lambda for this machine into dir/<function>/bootstrap,
// with the flags make build uses (only the architecture differs).
func BuildBootstraps(ctx context.Context, root, dir string) error {
	for _, fn := range Functions {
		out := filepath.Join(dir, fn, "bootstrap")
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
			"-ldflags=-s -w -buildid=", "-o", out, "./activities/"+fn)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", fn, err, b)
		}
	}
	return nil
}

func listen(host string, port int) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
}

func (e *Env) serve(l net.Listener, h http.Handler) string {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	e.servers = append(e.servers, srv)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("server stopped", "addr", l.Addr().String(), "error", err)
		}
	}()
	return "http://" + l.Addr().String()
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Start builds and starts the environment. Close it when done.
func Start(ctx context.Context, opts Options) (*Env, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &Env{Opts: opts, log: opts.Log, cancel: cancel, WebhookSecret: randomSecret()}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()

	// AWS fakes on one endpoint.
	e.AWS = awsfake.New(awsfake.Options{Logger: opts.Log})
	awsL, err := listen(opts.Listen, opts.AWSPort)
	if err != nil {
		return nil, fmt.Errorf("aws endpoint: %w", err)
	}
	e.AWSEndpoint = e.serve(awsL, e.AWS)
	if e.AWSCfg, err = e.AWS.AWSConfig(ctx, e.AWSEndpoint); err != nil {
		return nil, err
	}

	// Fake GitHub.
	e.GitHub = githubfake.New(githubfake.Config{Logger: opts.Log})
	e.GitHub.AddPAT(githubfake.PAT{Token: githubToken, Scopes: []string{"repo", "admin:org", "admin:org_hook", "admin:repo_hook"}})
	ghL, err := listen(opts.Listen, opts.GitHubPort)
	if err != nil {
		return nil, fmt.Errorf("github endpoint: %w", err)
	}
	e.GitHubURL = e.serve(ghL, e.GitHub)
	e.GitHubAPIURL = e.GitHubURL + githubfake.BasePath

	if err := e.provision(); err != nil {
		return nil, err
	}

	// Lambda functions: the real bootstraps behind a Runtime API.
	e.Runtime = lambdalocal.New(opts.Log, opts.FunctionLogs)
	rtL, err := listen("127.0.0.1", 0)
	if err != nil {
		return nil, err
	}
	e.serve(rtL, e.Runtime)
	webhookL, err := listen(opts.Listen, opts.WebhookPort)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoint: %w", err)
	}
	e.WebhookURL = e.serve(webhookL, e.Runtime.FunctionURL("webhook")) + "/"
	e.setStack()
	if err := e.Runtime.Start(ctx, rtL.Addr().String(), e.functions()...); err != nil {
		return nil, err
	}

	// Step Functions engine.
	integ := &sfnlocal.Integrations{
		Lambda:    &scaledPlans{inv: e.Runtime, scale: opts.TimeScale},
		ECS:       ecs.NewFromConfig(e.AWSCfg),
		SFN:       sfn.NewFromConfig(e.AWSCfg),
		CodeBuild: codebuild.NewFromConfig(e.AWSCfg),
		Poll:      opts.SyncPoll,
	}
	if e.Engine, err = sfnlocal.Start(ctx, e.AWS, integ, sfnlocal.Options{Root: opts.Root, RetryScale: opts.TimeScale, Log: opts.Log}); err != nil {
		return nil, err
	}

	// GitHub Actions side: job queue, deliveries to the webhook, simulated runners.
	if err := e.actions(ctx, kms.NewFromConfig(e.AWSCfg)); err != nil {
		return nil, err
	}
	// Faults last: setting up (the webhook registered on GitHub, above) is not the test.
	if err := e.faults(); err != nil {
		return nil, err
	}
	if opts.JanitorEvery > 0 {
		e.wg.Add(1)
		go e.janitor(ctx)
	}
	ok = true
	return e, nil
}

// provision creates what the CDK stack creates.
func (e *Env) provision() error {
	var err error
	e.KeyARN, err = e.AWS.KMS.CreateKey("runner-fleet JIT config seal", "alias/runner-fleet")
	if err != nil {
		return err
	}
	secret, _ := json.Marshal(map[string]string{"webhook_secret": e.WebhookSecret, "token": githubToken, "api_url": e.GitHubAPIURL})
	e.SecretARN = e.AWS.SecretsManager.Put(SecretName, string(secret))
	classes, _ := json.Marshal(fleet.DefaultClassTable())
	e.AWS.SSM.Put(ClassTableName, string(classes))
	e.ClusterARN = e.AWS.ECS.CreateCluster(ClusterName)
	e.AWS.ECR.CreateRepository(RepositoryName)
	e.AWS.CodeBuild.CreateProject(BuildProject, "aws/codebuild/amazonlinux-x86_64-standard:5.0")
	e.AWS.CodeBuild.OnBuildStarted = e.onBuild

	ib, err := statemachine.Substitute(statemachine.ImageBuild(), map[string]string{"ImageBuildProjectName": BuildProject})
	if err != nil {
		return err
	}
	if e.ImageBuildARN, err = e.AWS.SFN.RegisterStateMachine(statemachine.ImageBuildName, string(ib), e.roleARN("image-build")); err != nil {
		return err
	}
	rf, err := statemachine.Substitute(statemachine.RunnerFleet(), map[string]string{
		"ResolveImageFunctionArn":   e.functionARN("resolveimage"),
		"RequestRunnerFunctionArn":  e.functionARN("requestrunner"),
		"ReapIfIdleFunctionArn":     e.functionARN("reapifidle"),
		"CleanupFunctionArn":        e.functionARN("cleanup"),
		"ImageBuildStateMachineArn": e.ImageBuildARN,
	})
	if err != nil {
		return err
	}
	if e.StateMachineARN, err = e.AWS.SFN.RegisterStateMachine(statemachine.RunnerFleetName, string(rf), e.roleARN("workflow")); err != nil {
		return err
	}
	return nil
}

// setStack publishes the outputs the real stack has, so fleetctl finds everything
// through DescribeStacks.
func (e *Env) setStack() {
	region := e.AWS.Region()
	e.AWS.CloudFormation.SetStack(StackName, map[string]string{
		"WebhookUrl":             e.WebhookURL,
		"SecretArn":              e.SecretARN,
		"StateMachineArn":        e.StateMachineARN,
		"StateMachineConsoleUrl": "https://" + region + ".console.aws.amazon.com/states/home?region=" + region + "#/statemachines/view/" + e.StateMachineARN,
		"ClusterName":            ClusterName,
		"EcrRepositoryUri":       e.AWS.ECR.RepositoryURI(RepositoryName),
		"ClassTableParameter":    ClassTableName,
	})
}

func (e *Env) functionARN(name string) string {
	return "arn:aws:lambda:" + e.AWS.Region() + ":" + e.AWS.Account() + ":function:" + name
}

func (e *Env) roleARN(name string) string {
	return "arn:aws:iam::" + e.AWS.Account() + ":role/runner-fleet-" + name
}

// onBuild plays CodeBuild: after BuildDuration the image is pushed and the build
// succeeds, or it fails in BUILD for a base listed in FailBuilds.
func (e *Env) onBuild(b *awsfake.Build) {
	id, env := b.ID, b.Environment
	go func() {
		time.Sleep(e.Opts.BuildDuration)
		for _, bad := range e.Opts.FailBuilds {
			if strings.EqualFold(env["BASE_IMAGE"], bad) || strings.HasSuffix(strings.ToLower(env["BASE_IMAGE"]), "/"+strings.ToLower(bad)) {
				_ = e.AWS.CodeBuild.FailBuild(id, "BUILD", "Error while executing command: ./build-image.sh. Reason: exit status 1")
				return
			}
		}
		e.AWS.ECR.PushImage(RepositoryName, env["IMAGE_TAG"], 412_000_000)
		_ = e.AWS.CodeBuild.SucceedBuild(id)
	}()
}

// functions configures each Lambda as the stack does.
func (e *Env) functions() []lambdalocal.Function {
	o := e.Opts
	secs := func(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }
	common := []string{
		"AWS_ENDPOINT_URL=" + e.AWSEndpoint,
		"AWS_REGION=" + e.AWS.Region(),
		"AWS_DEFAULT_REGION=" + e.AWS.Region(),
		"AWS_ACCESS_KEY_ID=" + awsfake.TestAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + awsfake.TestSecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"GITHUB_SECRET_ARN=" + e.SecretARN,
		"CLUSTER_ARN=" + e.ClusterARN,
		"STATE_MACHINE_ARN=" + e.StateMachineARN,
	}
	repoURI := e.AWS.ECR.RepositoryURI(RepositoryName)
	env := map[string][]string{
		"webhook": {
			"ALLOWED_REPOSITORIES=" + o.AllowedRepositories,
			"ALLOW_PUBLIC_REPOSITORIES=" + strconv.FormatBool(o.AllowPublic),
			"DEFAULT_IMAGE=" + DefaultImage, "DEFAULT_CLASS=" + DefaultClass, "FLEET_LABEL=" + FleetLabel,
			"RUNNER_SCOPE=repo",
		},
		"resolveimage": {
			"CLASS_TABLE_PARAMETER=" + ClassTableName,
			"SUBNETS=subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002",
			"SECURITY_GROUPS=sg-0a1b2c3d4e5f60001",
			"ASSIGN_PUBLIC_IP=true",
			"ECR_REPOSITORY_NAME=" + RepositoryName,
			"ECR_REPOSITORY_URI=" + repoURI,
			"IMAGE_ALLOW_LIST=ubuntu:*,debian:*,public.ecr.aws/docker/library/*,fedora:*,alpine:*",
			"DEFAULT_IMAGE=" + DefaultImage,
			"TASK_EXECUTION_ROLE_ARN=" + e.roleARN("task-execution"),
			"TASK_ROLE_ARN=" + e.roleARN("runner-task"),
			"RUNNER_LOG_GROUP=" + RunnerLogGroup,
			"IDLE_TIMEOUT_SECONDS=" + secs(o.IdleTimeout),
			"RUNNER_TTL_SECONDS=" + secs(o.RunnerTTL),
		},
		// RequestRunner's 20 s budget for in-process GitHub waits is production time too:
		// scaled, a Retry-After beyond it goes through the workflow's WaitForGitHub as on AWS.
		"requestrunner": {"KMS_KEY_ARN=" + e.KeyARN, "RUNNER_SCOPE=repo", "GITHUB_BUDGET_SECONDS=" + secs(max(time.Second, o.Scaled(20*time.Second)))},
		"reapifidle":    {},
		"cleanup":       {},
		"janitor":       {"RUNNER_SCOPES=" + strings.Join(o.JanitorScopes, ","), "ORPHAN_GRACE_SECONDS=60"},
	}
	var fns []lambdalocal.Function
	for _, name := range Functions {
		fns = append(fns, lambdalocal.Function{
			Name:        name,
			Bootstrap:   filepath.Join(o.Bootstraps, name, "bootstrap"),
			Env:         append(append([]string{}, common...), env[name]...),
			Concurrency: o.Concurrency,
			Timeout:     120 * time.Second,
			MemoryMB:    256,
		})
	}
	return fns
}

// scaledPlans is fleet-local's clock: it scales the timeouts ResolveImage plans
// (plan.timeouts: idle wait, runner TTL, build) by the time scale, so a five-minute idle
// timeout passes in seconds while the activity keeps its production limits. Nothing else
// in any payload changes.
type scaledPlans struct {
	inv   sfnlocal.Invoker
	scale float64
}

func (s *scaledPlans) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	out, err := s.inv.Invoke(ctx, name, payload)
	if err != nil || name != "resolveimage" {
		return out, err
	}
	var plan map[string]json.RawMessage
	if json.Unmarshal(out, &plan) != nil || plan["timeouts"] == nil {
		return out, nil
	}
	var t map[string]float64
	if json.Unmarshal(plan["timeouts"], &t) != nil {
		return out, nil
	}
	for k, v := range t {
		t[k] = max(1, float64(int(v*s.scale+0.5)))
	}
	plan["timeouts"], _ = json.Marshal(t)
	return json.Marshal(plan)
}

// janitor runs the scheduled janitor like EventBridge would.
func (e *Env) janitor(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.Opts.JanitorEvery)
	defer t.Stop()
	event := []byte(`{"version":"0","id":"local","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := e.Runtime.Invoke(ctx, "janitor", event); err != nil && ctx.Err() == nil {
				e.log.Warn("janitor run failed", "error", err)
			}
		}
	}
}

// InvokeJanitor runs one janitor sweep now and returns its summary.
func (e *Env) InvokeJanitor(ctx context.Context) (json.RawMessage, error) {
	return e.Runtime.Invoke(ctx, "janitor", []byte(`{"version":"0","id":"manual","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`))
}

// Close stops everything.
func (e *Env) Close() {
	if e.cancel != nil {
		e.cancel()
	}
	for _, f := range e.extra {
		f()
	}
	if e.Engine != nil {
		_ = e.Engine.Close()
	}
	if e.Runtime != nil {
		e.Runtime.Close()
	}
	for _, s := range e.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	e.wg.Wait()
}

// Endpoints is what fleet-local prints as its first line.
type Endpoints struct {
	WebhookURL      string `json:"webhook_url"`
	SFNEndpoint     string `json:"sfn_endpoint"`
	AWSEndpoint     string `json:"aws_endpoint"`
	GitHubAPIURL    string `json:"github_api_url"`
	ControlURL      string `json:"control_url"`
	WebhookSecret   string `json:"webhook_secret"`
	StateMachineARN string `json:"state_machine_arn"`
	ClusterARN      string `json:"cluster_arn"`
	Region          string `json:"region"`
	StackName       string `json:"stack_name"`
}

// Endpoints lists the environment's addresses.
func (e *Env) Endpoints() Endpoints {
	return Endpoints{
		WebhookURL: e.WebhookURL, SFNEndpoint: e.AWSEndpoint, AWSEndpoint: e.AWSEndpoint,
		GitHubAPIURL: e.GitHubAPIURL, ControlURL: e.GitHubURL + "/_local/", WebhookSecret: e.WebhookSecret,
		StateMachineARN: e.StateMachineARN, ClusterARN: e.ClusterARN, Region: e.AWS.Region(), StackName: StackName,
	}
}
