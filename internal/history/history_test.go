package history

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

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

// newExecution starts execution octo-api-1-1 of a RunnerFleet machine in the Step
// Functions fake and returns the fake, a client and the machine and execution ARNs.
func newExecution(t *testing.T) (fake *awsfake.Server, client *sfn.Client, smARN, exec string) {
	t.Helper()
	fake = awsfake.New(awsfake.Options{})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg, err := fake.AWSConfig(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	client = sfn.NewFromConfig(cfg)
	smARN, err = fake.SFN.RegisterStateMachine("RunnerFleet", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: &smARN, Name: aws.String("octo-api-1-1")})
	if err != nil {
		t.Fatal(err)
	}
	return fake, client, smARN, *out.ExecutionArn
}

func TestSubmittedTasks(t *testing.T) {
	fake, client, smARN, exec := newExecution(t)
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

func TestWalk(t *testing.T) {
	fake, client, _, exec := newExecution(t)
	ctx := context.Background()
	const added = 150 // with the execution's own events, more than one page of 100
	for i := range added {
		if _, err := fake.SFN.AppendHistory(exec, awsfake.HistoryEvent{Type: "TaskSucceeded", Details: map[string]any{
			"resourceType": "lambda", "resource": "invoke", "output": fmt.Sprintf(`{"i":%d}`, i),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	reads := func() int { return fake.Calls("sfn", "GetExecutionHistory") }

	// Stopping at the first event reads one page, and it is the newest event.
	before := reads()
	var first sfntypes.HistoryEvent
	if err := Walk(ctx, client, exec, func(ev sfntypes.HistoryEvent) bool { first = ev; return false }); err != nil {
		t.Fatal(err)
	}
	// The SDK retries a transport error transparently (seen on loaded machines: the body
	// read fails on a closed connection), so one extra request is tolerated.
	if n := reads() - before; n < 1 || n > 2 {
		t.Errorf("stopping early read %d pages; want 1 (2 with one SDK retry)", n)
	}
	if d := first.TaskSucceededEventDetails; d == nil || aws.ToString(d.Output) != fmt.Sprintf(`{"i":%d}`, added-1) {
		t.Errorf("first event = %s #%d; want the last one appended", first.Type, first.Id)
	}

	// Walking to the end visits every event once, newest first, over two pages.
	before = reads()
	var ids []int64
	if err := Walk(ctx, client, exec, func(ev sfntypes.HistoryEvent) bool { ids = append(ids, ev.Id); return true }); err != nil {
		t.Fatal(err)
	}
	if n := reads() - before; n < 2 || n > 3 {
		t.Errorf("a full walk read %d pages; want 2 (3 with one SDK retry)", n)
	}
	if len(ids) < added+1 || !slices.IsSortedFunc(ids, func(a, b int64) int { return cmp.Compare(b, a) }) || ids[len(ids)-1] != 1 {
		t.Errorf("visited %d events, ids %v; want all of them, newest first", len(ids), ids)
	}

	// A failed read names the execution and keeps the cause.
	err := Walk(ctx, client, exec+"-absent", func(sfntypes.HistoryEvent) bool { return true })
	var missing *sfntypes.ExecutionDoesNotExist
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), exec+"-absent") {
		t.Fatalf("Walk(absent) = %v; want ExecutionDoesNotExist naming the execution", err)
	}
}

func TestExecutionARN(t *testing.T) {
	const sm = "arn:aws:states:us-east-1:123456789012:stateMachine:RunnerFleet"
	tests := []struct {
		name, arn, exec, want string // want "" means an error
	}{
		{"execution", sm, "octo-api-1-1", "arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:octo-api-1-1"},
		{"prefix", sm, "", "arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:"},
		{"other partition", "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:M", "x", "arn:aws-cn:states:cn-north-1:123456789012:execution:M:x"},
		{"execution ARN", "arn:aws:states:us-east-1:1:execution:M:x", "y", ""},
		{"empty", "", "y", ""},
		{"no machine name", "arn:aws:states:us-east-1:1:stateMachine:", "y", ""},
		{"not an ARN", "x:aws:states:us-east-1:1:stateMachine:M", "y", ""},
		{"another service", "arn:aws:lambda:us-east-1:1:stateMachine:M", "y", ""},
		{"a version or alias", sm + ":1", "y", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExecutionARN(tt.arn, tt.exec)
			switch {
			case tt.want == "" && err == nil:
				t.Fatalf("ExecutionARN(%q) = %q; want an error", tt.arn, got)
			case tt.want != "" && (err != nil || got != tt.want):
				t.Fatalf("ExecutionARN(%q, %q) = %q, %v; want %q", tt.arn, tt.exec, got, err, tt.want)
			}
		})
	}
}
