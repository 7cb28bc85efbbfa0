// Package testenv holds what the activity tests share, so each activity's tests keep
// only what is particular to it: the AWS fake behind a loopback server with an SDK
// configuration that retries quickly, the GitHub fake with the fleet's secret, a
// running execution and its runner task, a log buffer safe for concurrent writers, and
// the activity's real Lambda bootstrap running under the local Lambda Runtime API. Only
// _test.go files import it.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
	"github.com/runnerfleet/fleet/local/lambdalocal"
)

// AWSAttempts is how many times the configuration AWS returns tries a call: a
// throttling test sees the SDK's retries without waiting for its real backoff.
const AWSAttempts = 3

// AWS starts the AWS fake on a loopback server, closed when the test ends, and returns
// it, its URL and an SDK configuration pointed at it that tries each call AWSAttempts
// times, a millisecond apart.
func AWS(t testing.TB) (*awsfake.Server, string, aws.Config) {
	t.Helper()
	fake := awsfake.New(awsfake.Options{})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg, err := fake.AWSConfig(context.Background(), srv.URL, func(c *aws.Config) {
		c.Retryer = func() aws.Retryer {
			return retry.AddWithMaxAttempts(retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			}), AWSAttempts)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return fake, srv.URL, cfg
}

// Buffer is a bytes.Buffer safe for the concurrent writes of a logger or of a
// process's output.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Eventually reports whether b comes to contain want within five seconds: a
// bootstrap's stdout reaches the runtime's log writer through a pipe, after the answer.
func (b *Buffer) Eventually(want string) bool {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(b.String(), want) {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
	}
}

// Bootstrap builds the activity in the current directory as AWS runs it (go build
// -tags lambda.norpc, CGO off) and starts it under the local Lambda Runtime API as each
// of fns, their Bootstrap set to the binary and their Env extended with the AWS
// variables that point the SDK at the fake at awsURL. It returns the runtime, closed
// when the test ends, and the buffer receiving every process's output. It skips the
// test in -short mode, since building takes seconds.
func Bootstrap(t *testing.T, awsURL string, fns ...lambdalocal.Function) (*lambdalocal.Runtime, *Buffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the Lambda bootstrap")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the bootstrap: %v\n%s", err, out)
	}
	awsEnv := []string{
		"AWS_ENDPOINT_URL=" + awsURL,
		"AWS_REGION=" + awsfake.DefaultRegion,
		"AWS_ACCESS_KEY_ID=" + awsfake.TestAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + awsfake.TestSecretAccessKey,
	}
	for i := range fns {
		fns[i].Bootstrap = bin
		fns[i].Env = append(append([]string(nil), fns[i].Env...), awsEnv...)
	}
	logs := &Buffer{}
	rt := lambdalocal.New(nil, logs)
	api := httptest.NewServer(rt)
	t.Cleanup(func() { rt.Close(); api.Close() })
	if err := rt.Start(context.Background(), strings.TrimPrefix(api.URL, "http://"), fns...); err != nil {
		t.Fatal(err)
	}
	return rt, logs
}

// RunnerTask starts a runner task in the ECS fake's cluster and makes it RUNNING, as
// RunRunner leaves it once the runner booted, and returns its ARN. The task definition
// has the runner container of docs/contract.md.
func RunnerTask(t testing.TB, fake *awsfake.Server, cfg aws.Config, cluster string) string {
	t.Helper()
	ctx := context.Background()
	client := ecs.NewFromConfig(cfg)
	td, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("runner-fleet-runner"), RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		NetworkMode: ecstypes.NetworkModeAwsvpc, Cpu: aws.String("1024"), Memory: aws.String("2048"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String(fleet.RunnerContainer), Image: aws.String("runner:abc"), Essential: aws.Bool(true)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := client.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(cluster), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, LaunchType: ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-0123456789abcdef0"}}},
	})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, run)
	}
	task := aws.ToString(run.Tasks[0].TaskArn)
	if err := fake.ECS.SetTaskRunning(task); err != nil {
		t.Fatal(err)
	}
	return task
}

// AnswerOnce is an aws.Config option for tests that count calls or expect a throttle to
// surface at once: every call AWS answers gets one attempt, and only a connection the
// loopback transport dropped (aws-sdk-go-v2 #2737, seen on loaded machines) is retried,
// once.
func AnswerOnce(cfg *aws.Config) {
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 2
			o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	}
}

// GitHub starts the GitHub fake on a loopback server, closed when the test ends, with
// one personal access token holding the repo scope, and stores the fleet's secret
// document for that token in fake's Secrets Manager. It returns the GitHub fake and the
// secret's ARN.
func GitHub(t testing.TB, fake *awsfake.Server, token string) (*githubfake.Server, string) {
	t.Helper()
	gh := githubfake.New(githubfake.Config{})
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	gh.AddPAT(githubfake.PAT{Token: token, Scopes: []string{"repo"}})
	secret, err := json.Marshal(map[string]string{"webhook_secret": "w", "token": token, "api_url": srv.URL + githubfake.BasePath + "/"})
	if err != nil {
		t.Fatal(err)
	}
	return gh, fake.SecretsManager.Put("runner-fleet/github", string(secret))
}

// Execution starts job's RunnerFleet execution, named as the webhook names it, on a
// one-state stand-in for the workflow, and returns its ARN: the record ReapIfIdle and
// Cleanup read their execution's history from.
func Execution(t testing.TB, fake *awsfake.Server, cfg aws.Config, job fleet.Job) string {
	t.Helper()
	smARN, err := fake.SFN.RegisterStateMachine("RunnerFleet", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, "arn:aws:iam::123456789012:role/sfn")
	if err != nil {
		t.Fatal(err)
	}
	input, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	started, err := sfn.NewFromConfig(cfg).StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(smARN), Name: aws.String(job.ExecutionName()), Input: aws.String(string(input)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(started.ExecutionArn)
}
