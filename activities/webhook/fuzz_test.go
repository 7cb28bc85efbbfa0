package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/credentials"
)

// staticSecrets serves a fixed secret without I/O; the fuzz and benchmark targets
// measure the handler's own work, not Secrets Manager.
type staticSecrets struct{ s credentials.Secret }

func (s staticSecrets) Get(context.Context) (credentials.Secret, error) { return s.s, nil }
func (s staticSecrets) Refresh(context.Context, time.Duration) (credentials.Secret, bool, error) {
	return s.s, false, nil
}

// countingStarter records StartExecution calls in memory; the benchmark measures the
// handler, not Step Functions. Only queued deliveries reach it.
type countingStarter struct {
	StepFunctions
	n int
}

func (c *countingStarter) DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist")}
}

func (c *countingStarter) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	c.n++
	arn := "arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:" + *in.Name
	return &sfn.StartExecutionOutput{ExecutionArn: &arn}, nil
}

func offlineHandler(tb testing.TB) (*Handler, *countingStarter) {
	cfg, err := LoadConfig(mapEnv(map[string]string{
		"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:RunnerFleet",
		"GITHUB_SECRET_ARN": "gh", "ALLOWED_REPOSITORIES": "*", "DEFAULT_IMAGE": "ubuntu:24.04",
		"DEFAULT_CLASS": "medium", "FLEET_LABEL": "runner-fleet",
	}))
	if err != nil {
		tb.Fatal(err)
	}
	st := &countingStarter{}
	return NewHandler(cfg, Deps{Secrets: staticSecrets{credentials.Secret{WebhookSecret: testSecret}}, SFN: st}, slog.New(slog.DiscardHandler)), st
}

// FuzzWebhook drives the whole request path with signed arbitrary bodies and headers:
// nothing may panic, every answer is a documented status, and only a 202 starts work.
func FuzzWebhook(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	shared, _ := filepath.Glob(filepath.Join(fixturesDir, "*.json"))
	for _, p := range append(files, shared...) {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add("workflow_job", "application/json", b, true)
		}
	}
	f.Add("ping", "application/json", []byte(`{"zen":"x","hook_id":1}`), true)
	f.Add("workflow_job", "application/x-www-form-urlencoded", []byte(`payload=%7B%7D`), true)
	f.Add("workflow_job", "application/json", []byte(`{"action":"queued"}`), false)
	f.Fuzz(func(t *testing.T, event, contentType string, body []byte, sign bool) {
		h, st := offlineHandler(t)
		hdr := http.Header{}
		hdr.Set("X-GitHub-Event", event)
		hdr.Set("Content-Type", contentType)
		if sign {
			hdr.Set("X-Hub-Signature-256", Sign(testSecret, body))
		}
		resp := h.Serve(context.Background(), Request{Method: http.MethodPost, Headers: hdr, Body: body})
		switch resp.Status {
		case 200, 202, 400, 401, 413, 415:
		default:
			t.Fatalf("status %d (%+v) is not in the answer table", resp.Status, resp.Body)
		}
		if !sign && resp.Status != 401 && resp.Status != 413 {
			t.Fatalf("unsigned delivery answered %d", resp.Status)
		}
		if (st.n > 0) != (resp.Status == 202) {
			t.Fatalf("status %d but %d executions started", resp.Status, st.n)
		}
		if resp.Body.Reason == "" {
			t.Fatalf("status %d without a reason", resp.Status)
		}
	})
}

// BenchmarkVerifyParseDecide measures one queued delivery, the largest fixture, from
// signature check to the StartExecution request (the AWS call itself is not measured).
func BenchmarkVerifyParseDecide(b *testing.B) {
	body, err := os.ReadFile("testdata/workflow_job.queued.ours.image-and-class.json")
	if err != nil {
		b.Fatal(err)
	}
	h, _ := offlineHandler(b)
	req := delivery("workflow_job", body, testSecret)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if resp := h.Serve(context.Background(), req); resp.Status != 202 {
			b.Fatalf("got %d %+v", resp.Status, resp.Body)
		}
	}
}
