package history

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/local/awsfake"
)

// recordedSubmitted is the TaskSubmitted output of the recorded ecs:runTask.sync run.
func recordedSubmitted(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../../shared/fixtures/aws/stepfunctions/history/ecs-runtask-sync.succeeded.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Recorded struct {
			GetExecutionHistory struct {
				Events []struct {
					Type    string `json:"type"`
					Details *struct {
						Output json.RawMessage `json:"output"`
					} `json:"taskSubmittedEventDetails"`
				} `json:"events"`
			} `json:"get_execution_history"`
		} `json:"recorded"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, ev := range doc.Recorded.GetExecutionHistory.Events {
		if ev.Type == "TaskSubmitted" {
			return string(ev.Details.Output)
		}
	}
	t.Fatal("no TaskSubmitted in the recording")
	return ""
}

func TestSubmittedTasks(t *testing.T) {
	fake := awsfake.New(awsfake.Options{})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg, err := fake.AWSConfig(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := sfn.NewFromConfig(cfg)
	smARN, err := fake.SFN.RegisterStateMachine("RunnerFleet", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: &smARN, Name: aws.String("octo-api-1-1")})
	if err != nil {
		t.Fatal(err)
	}
	exec := *out.ExecutionArn
	if want, _ := ExecutionARN(smARN, "octo-api-1-1"); want != exec {
		t.Fatalf("ExecutionARN = %s; want %s", want, exec)
	}
	if arns, err := SubmittedTasks(context.Background(), client, exec); err != nil || len(arns) != 0 {
		t.Fatalf("before RunRunner: %v, %v", arns, err)
	}
	submitted := recordedSubmitted(t)
	second := `{"Tasks":[{"TaskArn":"arn:aws:ecs:us-east-1:123456789012:task/fleet/second"}],"Failures":[]}`
	for _, o := range []string{submitted, second} {
		if _, err := fake.SFN.AppendHistory(exec, awsfake.HistoryEvent{Type: "TaskSubmitted", Details: map[string]any{
			"resourceType": "ecs", "resource": "runTask.sync", "output": o,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	// A Lambda task's TaskSubmitted-like noise is ignored.
	if _, err := fake.SFN.AppendHistory(exec, awsfake.HistoryEvent{Type: "TaskSucceeded", Details: map[string]any{"resourceType": "lambda", "resource": "invoke", "output": "{}"}}); err != nil {
		t.Fatal(err)
	}
	arns, err := SubmittedTasks(context.Background(), client, exec)
	if err != nil {
		t.Fatal(err)
	}
	if len(arns) != 2 || arns[0] != "arn:aws:ecs:us-east-1:123456789012:task/fleet/second" || arns[1] != "<task_arn:1>" {
		t.Fatalf("got %q; want the fallback task first, then the recorded one", arns)
	}
	if _, err := SubmittedTasks(context.Background(), client, exec+"-absent"); err == nil {
		t.Fatal("want ExecutionDoesNotExist")
	}
}

func TestExecutionARN(t *testing.T) {
	if _, err := ExecutionARN("arn:aws:states:us-east-1:1:execution:M:x", "y"); err == nil {
		t.Fatal("want error for an execution ARN")
	}
}
