package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

func TestAWSRetriesQuickly(t *testing.T) {
	tests := []struct {
		name      string
		throttled int // calls answered ThrottlingException before the fake answers
		wantErr   bool
	}{
		{"no throttling", 0, false},
		{"throttled then answered", AWSAttempts - 1, false},
		{"throttled on every attempt", AWSAttempts, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, url, cfg := AWS(t)
			if url == "" {
				t.Fatal("no URL")
			}
			id := fake.SecretsManager.Put("fleet", `{"token":"x"}`)
			if tt.throttled > 0 {
				if err := fake.SetFault("secretsmanager", "GetSecretValue", awsfake.Fault{
					Err: &awsfake.APIError{Code: "ThrottlingException", Message: "Rate exceeded"}, Count: tt.throttled,
				}); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			_, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			var api smithy.APIError
			if gotErr := err != nil; gotErr != tt.wantErr || (gotErr && (!errors.As(err, &api) || api.ErrorCode() != "ThrottlingException")) {
				t.Fatalf("GetSecretValue: %v; want error %v", err, tt.wantErr)
			}
			if n, want := fake.Calls("secretsmanager", "GetSecretValue"), min(tt.throttled+1, AWSAttempts); n != want {
				t.Errorf("%d calls; want %d", n, want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("retries took %v; want them quick", d)
			}
		})
	}
}

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if !b.Eventually("line 49\n") || !b.Eventually("line 0\n") {
		t.Fatalf("concurrent writes lost: %q", b.String())
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		fmt.Fprint(&b, "late")
	}()
	if !b.Eventually("late") {
		t.Fatal("Eventually missed a write that came after it started waiting")
	}
}

func TestGitHubAndExecution(t *testing.T) {
	fake, _, cfg := AWS(t)
	gh, secretARN := GitHub(t, fake, "test-pat-testenv")
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: &secretARN})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &doc); err != nil || doc["token"] != "test-pat-testenv" || !strings.HasSuffix(doc["api_url"], githubfake.BasePath+"/") {
		t.Fatalf("secret document %v (%v)", doc, err)
	}
	if _, _, err := gh.RegisterRunner("repo:octo-org/hello", "r", []string{"self-hosted"}); err != nil {
		t.Fatal(err)
	}
	job := fleet.Job{JobID: 7, RunID: 8, RunAttempt: 1, Repository: fleet.Repository{Owner: "octo-org", Name: "hello"}}
	arn := Execution(t, fake, cfg, job)
	if st, ok := fake.SFN.Status(arn); !ok || st != awsfake.StatusRunning || !strings.HasSuffix(arn, ":"+job.ExecutionName()) {
		t.Fatalf("execution %s: %s %v", arn, st, ok)
	}
}
