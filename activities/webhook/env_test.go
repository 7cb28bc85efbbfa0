package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/local/awsfake"
)

func registerStateMachine(t *testing.T, fake *awsfake.Server) string {
	t.Helper()
	arn, err := fake.SFN.RegisterStateMachine("RunnerFleet", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, "arn:aws:iam::123456789012:role/sfn")
	if err != nil {
		t.Fatal(err)
	}
	return arn
}

type startedExecution struct{ arn, name, input, status string }

// executions lists what the webhook started, read back through the real SDK.
func (e *env) executions(t *testing.T) []startedExecution {
	t.Helper()
	srv := httptest.NewServer(e.aws)
	defer srv.Close()
	cfg, err := e.aws.AWSConfig(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := sfn.NewFromConfig(cfg)
	var out []startedExecution
	p := sfn.NewListExecutionsPaginator(client, &sfn.ListExecutionsInput{StateMachineArn: &e.smArn})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Executions {
			d, err := client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: item.ExecutionArn})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, startedExecution{arn: *d.ExecutionArn, name: *d.Name, input: *d.Input, status: string(d.Status)})
		}
	}
	return out
}

// finishAll ends every running execution as an engine would.
func (e *env) finishAll(t *testing.T) {
	t.Helper()
	for _, x := range e.executions(t) {
		if x.status == awsfake.StatusRunning {
			if err := e.aws.SFN.Finish(x.arn, awsfake.Result{Status: awsfake.StatusSucceeded, Output: "{}"}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
