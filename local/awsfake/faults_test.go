package awsfake

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
)

// Every service's throttle answer must be one the SDK's retryer retries as a throttle.
func TestThrottleIsRetryableForEveryService(t *testing.T) {
	srv, cfg, _ := newTestFake(t, Options{})
	ctx := context.Background()
	calls := []struct {
		service, op string
		call        func() error
	}{
		{"sfn", "DescribeExecution", func() error {
			_, err := sfn.NewFromConfig(cfg).DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("x")})
			return err
		}},
		{"secretsmanager", "GetSecretValue", func() error {
			_, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")})
			return err
		}},
		{"kms", "Encrypt", func() error {
			_, err := kms.NewFromConfig(cfg).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("x"), Plaintext: []byte("x")})
			return err
		}},
		{"ecs", "ListTasks", func() error {
			_, err := ecs.NewFromConfig(cfg).ListTasks(ctx, &ecs.ListTasksInput{})
			return err
		}},
		{"ssm", "GetParameter", func() error {
			_, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("x")})
			return err
		}},
		{"ecr", "DescribeImages", func() error {
			_, err := ecr.NewFromConfig(cfg).DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("x")})
			return err
		}},
		{"codebuild", "StartBuild", func() error {
			_, err := codebuild.NewFromConfig(cfg).StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("x")})
			return err
		}},
		{"cloudformation", "DescribeStacks", func() error {
			_, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.service, func(t *testing.T) {
			if err := srv.SetFault(c.service, "*", Fault{ThrottleRatio: 1}); err != nil {
				t.Fatal(err)
			}
			err := c.call()
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorMessage() != "Rate exceeded" {
				t.Fatalf("%s.%s = %v, want the throttle", c.service, c.op, err)
			}
			if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
				t.Errorf("%s: code %q is not a throttle to the SDK", c.service, apiErr.ErrorCode())
			}
			if srv.Calls(c.service, c.op) != 1 {
				t.Errorf("%s.%s counted %d calls, want 1", c.service, c.op, srv.Calls(c.service, c.op))
			}
		})
	}
}

func TestForcedErrors(t *testing.T) {
	srv, client, smARN := newSFNFake(t)
	ctx := context.Background()
	start := func(name string) error {
		_, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String(name)})
		return err
	}
	limit := &APIError{Code: "ExecutionLimitExceeded", Message: "Execution Limit Exceeded"}
	if err := srv.SetFault("sfn", "StartExecution", Fault{Err: limit, Count: 1}); err != nil {
		t.Fatal(err)
	}
	wantAPIError[*sfntypes.ExecutionLimitExceeded](t, start("a"), "ExecutionLimitExceeded", "Execution Limit Exceeded")
	if err := start("a"); err != nil {
		t.Errorf("after the one forced error: %v", err)
	}

	// A 5xx is retried by the standard retryer.
	unavailable := &APIError{Status: 503, Code: "ServiceUnavailable", Message: "try again"}
	if err := srv.SetFault("sfn", "*", Fault{Err: unavailable, Count: 2}); err != nil {
		t.Fatal(err)
	}
	retrying := sfn.New(client.Options(), func(o *sfn.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxBackoff = time.Millisecond })
	})
	before := srv.Calls("sfn", "DescribeExecution")
	if _, err := retrying.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:a")}); err != nil {
		t.Fatalf("DescribeExecution through two 503s: %v", err)
	}
	if got := srv.Calls("sfn", "DescribeExecution") - before; got != 3 {
		t.Errorf("the fake saw %d calls, want 3", got)
	}

	// An operation's own fault is checked first; the service-wide one applies as well.
	srv.SetFault("sfn", "*", Fault{Err: unavailable, Count: 1})
	srv.SetFault("sfn", "ListExecutions", Fault{Err: &APIError{Code: "InvalidToken", Message: "forced"}, Count: 1})
	_, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN)})
	wantAPIError[*sfntypes.InvalidToken](t, err, "InvalidToken", "forced")
	_, err = client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN)})
	wantAPIError[smithy.APIError](t, err, "ServiceUnavailable", "try again")
	if _, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN)}); err != nil {
		t.Errorf("after both counted faults ran out: %v", err)
	}
	srv.SetFault("sfn", "*", Fault{Err: unavailable})
	srv.ClearFault("sfn", "*")
	srv.ClearFault("sfn", "ListExecutions")
	if _, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN)}); err != nil {
		t.Errorf("after ClearFault: %v", err)
	}

	for _, bad := range []struct{ service, op string }{{"lambda", "Invoke"}, {"sfn", "CreateActivity"}} {
		if err := srv.SetFault(bad.service, bad.op, Fault{}); err == nil {
			t.Errorf("SetFault(%s, %s) accepted", bad.service, bad.op)
		}
	}
	if err := srv.SetFault("sfn", "*", Fault{ThrottleRatio: 1.5}); err == nil {
		t.Error("a throttle ratio over 1 was accepted")
	}
}

func TestThrottleRatioRepeatsWithTheSeed(t *testing.T) {
	pattern := func(seed uint64) []bool {
		srv, cfg, _ := newTestFake(t, Options{Seed: seed})
		srv.SecretsManager.Put("s", "v")
		if err := srv.SetFault("secretsmanager", "GetSecretValue", Fault{ThrottleRatio: 0.3}); err != nil {
			t.Fatal(err)
		}
		client := secretsmanager.NewFromConfig(cfg)
		var out []bool
		for range 200 {
			_, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
			out = append(out, err != nil)
		}
		return out
	}
	a, b := pattern(7), pattern(7)
	throttled := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: runs with the same seed differ", i)
		}
		if a[i] {
			throttled++
		}
	}
	if throttled < 30 || throttled > 90 {
		t.Errorf("%d of 200 calls throttled at ratio 0.3", throttled)
	}
}

func TestTokenBucketRefills(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	b := NewTokenBucket(2, 4)
	b.now = func() time.Time { return now }
	if !b.Take(1) || !b.Take(1) || b.Take(1) {
		t.Fatal("a full bucket of 2 must allow exactly 2 takes")
	}
	now = now.Add(250 * time.Millisecond) // 4 per second: one token back
	if !b.Take(1) || b.Take(1) {
		t.Fatal("after 250ms at 4/s exactly one token must be back")
	}
	now = now.Add(10 * time.Second)
	if got := b.Tokens(); got != 2 {
		t.Errorf("tokens after a long wait = %v, want the capacity 2", got)
	}
}

func TestLogsNeverCarrySecrets(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, cfg, _ := newTestFake(t, Options{Logger: logger})
	ctx := context.Background()
	const secret = "test-pat-supersecretvalue123"
	srv.SecretsManager.Put("fleet", "old")
	sm := secretsmanager.NewFromConfig(cfg)
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("fleet"), SecretString: aws.String(secret)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("fleet")}); err != nil {
		t.Fatal(err)
	}
	keyARN, _ := srv.KMS.CreateKey("k")
	if _, err := kms.NewFromConfig(cfg).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte(secret + secret)}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("operation=PutSecretValue")) {
		t.Fatalf("expected one debug line per call, got:\n%s", buf.String())
	}
	if bytes.Contains(buf.Bytes(), []byte(secret)) {
		t.Errorf("a log line carries the secret:\n%s", buf.String())
	}
}

func TestServerTokenBucketUsesTheServerClock(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	srv := New(Options{Now: func() time.Time { return now }})
	b := srv.NewTokenBucket(1, 1)
	if !b.Take(1) || b.Take(1) {
		t.Fatal("a bucket of 1 must allow one take")
	}
	now = now.Add(time.Second)
	if !b.Take(1) {
		t.Error("the bucket did not refill when the server's clock advanced")
	}
}

func TestFaultDelay(t *testing.T) {
	srv, cfg, _ := newTestFake(t, Options{})
	srv.SecretsManager.Put("s", "v")
	if err := srv.SetFault("secretsmanager", "GetSecretValue", Fault{Delay: 150 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	client := secretsmanager.NewFromConfig(cfg)
	start := time.Now()
	if _, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("answer came after %v, want at least the 150ms delay", took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller timeout during the delay = %v, want context.DeadlineExceeded", err)
	}
	if err := srv.SetFault("secretsmanager", "*", Fault{Delay: -time.Second}); err == nil {
		t.Error("a negative delay was accepted")
	}
}
