package awsfake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

const testDefinition = `{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}`

func newSFNFake(t *testing.T) (*Server, *sfn.Client, string) {
	t.Helper()
	srv, cfg, _ := newTestFake(t, Options{})
	smARN, err := srv.SFN.RegisterStateMachine("RunnerFleet", testDefinition, "arn:aws:iam::123456789012:role/fleet")
	if err != nil {
		t.Fatal(err)
	}
	return srv, sfn.NewFromConfig(cfg), smARN
}

func TestSFNStartExecutionIdempotency(t *testing.T) {
	srv, client, smARN := newSFNFake(t)
	ctx := context.Background()
	start := func(name, input string) (*sfn.StartExecutionOutput, error) {
		return client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String(name), Input: aws.String(input)})
	}
	first, err := start("octo-repo-1-1", `{"job_id":1}`)
	if err != nil {
		t.Fatal(err)
	}
	wantARN := "arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:octo-repo-1-1"
	if aws.ToString(first.ExecutionArn) != wantARN {
		t.Fatalf("ARN = %q, want %q", aws.ToString(first.ExecutionArn), wantARN)
	}

	// Same name, same input, still RUNNING: the original answer.
	again, err := start("octo-repo-1-1", `{"job_id":1}`)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.ExecutionArn) != wantARN || !again.StartDate.Equal(*first.StartDate) {
		t.Errorf("idempotent start = %s %v, want %s %v", aws.ToString(again.ExecutionArn), again.StartDate, wantARN, first.StartDate)
	}

	// Same name, different input: ExecutionAlreadyExists, message as recorded.
	_, err = start("octo-repo-1-1", `{"job_id":2}`)
	wantAPIError[*types.ExecutionAlreadyExists](t, err, "ExecutionAlreadyExists", "Execution Already Exists: '"+wantARN+"'")

	// Same name and input once the execution closed: ExecutionAlreadyExists too.
	if err := srv.SFN.Finish(wantARN, Result{Status: StatusSucceeded, Output: `{"ok":true}`}); err != nil {
		t.Fatal(err)
	}
	_, err = start("octo-repo-1-1", `{"job_id":1}`)
	wantAPIError[*types.ExecutionAlreadyExists](t, err, "ExecutionAlreadyExists", "")
}

func TestSFNConcurrentDuplicateStartsRunOnce(t *testing.T) {
	srv, client, smARN := newSFNFake(t)
	var mu sync.Mutex
	started := 0
	srv.SFN.OnStart = func(ctx context.Context, e *Execution) {
		mu.Lock()
		started++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	arns := make([]string, 16)
	errs := make([]error, 16)
	for i := range arns {
		wg.Go(func() {
			out, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("dup"), Input: aws.String(`{}`)})
			errs[i] = err
			if err == nil {
				arns[i] = aws.ToString(out.ExecutionArn)
			}
		})
	}
	wg.Wait()
	for i := range arns {
		if errs[i] != nil || arns[i] != arns[0] {
			t.Errorf("start %d: %v %q, want %q", i, errs[i], arns[i], arns[0])
		}
	}
	if started != 1 {
		t.Errorf("OnStart ran %d times, want 1", started)
	}
}

func TestSFNStartExecutionValidation(t *testing.T) {
	_, client, smARN := newSFNFake(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		in    sfn.StartExecutionInput
		check func(t *testing.T, err error)
	}{
		{"unknown state machine", sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:Nope")}, func(t *testing.T, err error) {
			wantAPIError[*types.StateMachineDoesNotExist](t, err, "StateMachineDoesNotExist", "State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:Nope'")
		}},
		{"malformed ARN", sfn.StartExecutionInput{StateMachineArn: aws.String("invalid_state_machine_arn")}, func(t *testing.T, err error) {
			wantAPIError[*types.InvalidArn](t, err, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: invalid_state_machine_arn'")
		}},
		{"name over 80 characters", sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String(strings.Repeat("a", 81))}, func(t *testing.T, err error) {
			wantAPIError[*types.ValidationException](t, err, "ValidationException", "")
		}},
		{"name with a slash", sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("owner/repo")}, func(t *testing.T, err error) {
			wantAPIError[*types.InvalidName](t, err, "InvalidName", "Invalid Name: 'owner/repo'")
		}},
		{"input not JSON", sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("x"), Input: aws.String("{")}, func(t *testing.T, err error) {
			wantAPIError[*types.InvalidExecutionInput](t, err, "InvalidExecutionInput", "")
		}},
		{"input over 256 KiB", sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("y"), Input: aws.String(`"` + strings.Repeat("a", maxSFNPayload) + `"`)}, func(t *testing.T, err error) {
			wantAPIError[*types.ValidationException](t, err, "ValidationException", "")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.StartExecution(ctx, &tc.in)
			tc.check(t, err)
		})
	}
	// An 80-character name of the allowed set is accepted.
	if _, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String(strings.Repeat("a-_9", 20))}); err != nil {
		t.Errorf("80-character name: %v", err)
	}
}

func TestSFNDescribeExecutionLifecycle(t *testing.T) {
	srv, client, smARN := newSFNFake(t)
	ctx := context.Background()
	tests := []struct {
		name       string
		result     Result
		wantOutput *string
		redrive    types.ExecutionRedriveStatus
	}{
		{"succeeded", Result{Status: StatusSucceeded, Output: `{"result":1}`}, aws.String(`{"result":1}`), types.ExecutionRedriveStatusNotRedrivable},
		{"failed", Result{Status: StatusFailed, Error: "RunnerFailed", Cause: "exit 1"}, nil, types.ExecutionRedriveStatusRedrivable},
		{"timed-out", Result{Status: StatusTimedOut}, nil, types.ExecutionRedriveStatusRedrivable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String(tc.name), Input: aws.String(`{"a":1}`)})
			if err != nil {
				t.Fatal(err)
			}
			running, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
			if err != nil {
				t.Fatal(err)
			}
			if running.Status != types.ExecutionStatusRunning || running.StopDate != nil || aws.ToString(running.Input) != `{"a":1}` || aws.ToString(running.Name) != tc.name || aws.ToString(running.StateMachineArn) != smARN {
				t.Errorf("running = %+v", running)
			}
			if err := srv.SFN.Finish(aws.ToString(start.ExecutionArn), tc.result); err != nil {
				t.Fatal(err)
			}
			done, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
			if err != nil {
				t.Fatal(err)
			}
			if string(done.Status) != tc.result.Status || done.StopDate == nil || done.RedriveStatus != tc.redrive {
				t.Errorf("done = status %s stop %v redrive %s", done.Status, done.StopDate, done.RedriveStatus)
			}
			if aws.ToString(done.Output) != aws.ToString(tc.wantOutput) || aws.ToString(done.Error) != tc.result.Error || aws.ToString(done.Cause) != tc.result.Cause {
				t.Errorf("output %q error %q cause %q", aws.ToString(done.Output), aws.ToString(done.Error), aws.ToString(done.Cause))
			}
			if err := srv.SFN.Finish(aws.ToString(start.ExecutionArn), tc.result); !errors.Is(err, ErrExecutionClosed) {
				t.Errorf("second Finish = %v, want ErrExecutionClosed", err)
			}
		})
	}
}

func TestSFNErrors(t *testing.T) {
	_, client, _ := newSFNFake(t)
	ctx := context.Background()
	unknownExec := "arn:aws:states:us-east-1:123456789012:execution:RunnerFleet:nope"
	_, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(unknownExec)})
	wantAPIError[*types.ExecutionDoesNotExist](t, err, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+unknownExec+"'")
	_, err = client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(unknownExec)})
	wantAPIError[*types.ExecutionDoesNotExist](t, err, "ExecutionDoesNotExist", "")
	_, err = client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(unknownExec)})
	wantAPIError[*types.ExecutionDoesNotExist](t, err, "ExecutionDoesNotExist", "")
	_, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("invalid_state_machine_arn")})
	wantAPIError[*types.InvalidArn](t, err, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: invalid_state_machine_arn'")
	_, err = client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("invalid_state_machine_arn")})
	wantAPIError[*types.InvalidArn](t, err, "InvalidArn", "Invalid Arn: 'Invalid ARN prefix: invalid_state_machine_arn'")
	_, err = client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:ssm_nonexistent")})
	wantAPIError[*types.StateMachineDoesNotExist](t, err, "StateMachineDoesNotExist", "State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:ssm_nonexistent'")
}

func TestSFNListExecutionsFilterAndPages(t *testing.T) {
	srv, client, smARN := newSFNFake(t)
	ctx := context.Background()
	var arns []string
	for i := range 5 {
		out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String(fmt.Sprintf("job-%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(out.ExecutionArn))
	}
	for _, i := range []int{1, 3} {
		if err := srv.SFN.Finish(arns[i], Result{Status: StatusSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(filter types.ExecutionStatus) ([]string, int) {
		t.Helper()
		var names []string
		pages := 0
		p := sfn.NewListExecutionsPaginator(client, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN), StatusFilter: filter, MaxResults: 2})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, e := range page.Executions {
				names = append(names, aws.ToString(e.Name))
			}
		}
		return names, pages
	}
	tests := []struct {
		filter    types.ExecutionStatus
		want      string
		wantPages int
	}{
		{types.ExecutionStatusRunning, "job-4 job-2 job-0", 2},
		{types.ExecutionStatusSucceeded, "job-3 job-1", 1},
		{"", "job-4 job-3 job-2 job-1 job-0", 3},
		{types.ExecutionStatusAborted, "", 1},
	}
	for _, tc := range tests {
		got, pages := list(tc.filter)
		if strings.Join(got, " ") != tc.want || pages != tc.wantPages {
			t.Errorf("filter %q: %v in %d pages, want %s in %d", tc.filter, got, pages, tc.want, tc.wantPages)
		}
	}

	_, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN), StatusFilter: "succeeded"})
	wantAPIError[*types.ValidationException](t, err, "ValidationException",
		"1 validation error detected: Value 'succeeded' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]")
	_, err = client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN), NextToken: aws.String("forged")})
	wantAPIError[*types.InvalidToken](t, err, "InvalidToken", "")
}

func TestSFNStopExecutionNotifiesEngine(t *testing.T) {
	srv, client, smARN := newSFNFake(t)
	ctx := context.Background()
	got := make(chan error, 1)
	srv.SFN.OnStart = func(ctx context.Context, e *Execution) {
		go func() {
			<-ctx.Done()
			got <- context.Cause(ctx)
		}()
	}
	start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("stop-me")})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: start.ExecutionArn, Error: aws.String("Cancelled"), Cause: aws.String("job cancelled")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-got:
		var sc *StopCause
		if !errors.As(cause, &sc) || sc.Status != StatusAborted || sc.ErrorName != "Cancelled" || sc.Cause != "job cancelled" {
			t.Errorf("cause = %#v", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the engine was not told about StopExecution")
	}
	if err := srv.SFN.Finish(aws.ToString(start.ExecutionArn), Result{Status: StatusSucceeded}); !errors.Is(err, ErrExecutionClosed) {
		t.Errorf("Finish after stop = %v, want ErrExecutionClosed", err)
	}
	if _, err := srv.SFN.AppendHistory(aws.ToString(start.ExecutionArn), HistoryEvent{Type: "PassStateEntered"}); !errors.Is(err, ErrExecutionClosed) {
		t.Errorf("AppendHistory after stop = %v, want ErrExecutionClosed", err)
	}
	desc, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if desc.Status != types.ExecutionStatusAborted || !desc.StopDate.Equal(*stop.StopDate) || aws.ToString(desc.Error) != "Cancelled" {
		t.Errorf("after stop: %s %v %q", desc.Status, desc.StopDate, aws.ToString(desc.Error))
	}
	// Stopping again changes nothing.
	again, err := client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: start.ExecutionArn})
	if err != nil || !again.StopDate.Equal(*stop.StopDate) {
		t.Errorf("second stop: %v %v", err, again)
	}
	hist, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	last := hist.Events[len(hist.Events)-1]
	if last.Type != types.HistoryEventTypeExecutionAborted || aws.ToString(last.ExecutionAbortedEventDetails.Error) != "Cancelled" || last.PreviousEventId != 0 {
		t.Errorf("last event = %s %+v prev %d", last.Type, last.ExecutionAbortedEventDetails, last.PreviousEventId)
	}
}

func TestSFNGetExecutionHistory(t *testing.T) {
	srv, client, smARN := newSFNFake(t)
	ctx := context.Background()
	start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("hist"), Input: aws.String(`{"job":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(start.ExecutionArn)
	ids, err := srv.SFN.AppendHistory(arn,
		HistoryEvent{Type: "TaskStateEntered", PreviousEventID: 1, Details: map[string]any{"name": "ResolveImage", "input": `{"job":1}`, "inputDetails": map[string]bool{"truncated": false}}},
		HistoryEvent{Type: "TaskScheduled", PreviousEventID: 2, Details: map[string]any{"resourceType": "lambda", "resource": "invoke", "region": "us-east-1", "parameters": `{"FunctionName":"resolveimage"}`}},
		HistoryEvent{Type: "TaskSucceeded", PreviousEventID: 3, Details: map[string]any{"resourceType": "lambda", "resource": "invoke", "output": `{"Payload":{}}`}},
		HistoryEvent{Type: "TaskStateExited", PreviousEventID: 4, Details: map[string]any{"name": "ResolveImage", "output": `{"plan":{}}`}},
	)
	if err != nil || fmt.Sprint(ids) != "[2 3 4 5]" {
		t.Fatalf("AppendHistory = %v, %v", ids, err)
	}
	if _, err := srv.SFN.AppendHistory(arn, HistoryEvent{Type: "ExecutionSucceeded"}); err == nil {
		t.Error("appending a terminal event was accepted; Finish must be used")
	}
	if err := srv.SFN.Finish(arn, Result{Status: StatusSucceeded, Output: `{"plan":{}}`}); err != nil {
		t.Fatal(err)
	}

	var events []types.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, MaxResults: 4})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, page.Events...)
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, fmt.Sprintf("%d:%s<%d", e.Id, e.Type, e.PreviousEventId))
		if e.Timestamp == nil {
			t.Errorf("event %d has no timestamp", e.Id)
		}
	}
	want := "1:ExecutionStarted<0 2:TaskStateEntered<1 3:TaskScheduled<2 4:TaskSucceeded<3 5:TaskStateExited<4 6:ExecutionSucceeded<5"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("history = %s\nwant      %s", strings.Join(kinds, " "), want)
	}
	if d := events[0].ExecutionStartedEventDetails; d == nil || aws.ToString(d.Input) != `{"job":1}` || aws.ToString(d.RoleArn) != "arn:aws:iam::123456789012:role/fleet" {
		t.Errorf("ExecutionStarted details = %+v", d)
	}
	if d := events[1].StateEnteredEventDetails; d == nil || aws.ToString(d.Name) != "ResolveImage" {
		t.Errorf("TaskStateEntered details = %+v", d)
	}
	if d := events[2].TaskScheduledEventDetails; d == nil || aws.ToString(d.ResourceType) != "lambda" || aws.ToString(d.Parameters) != `{"FunctionName":"resolveimage"}` {
		t.Errorf("TaskScheduled details = %+v", d)
	}
	if d := events[4].StateExitedEventDetails; d == nil || aws.ToString(d.Output) != `{"plan":{}}` {
		t.Errorf("TaskStateExited details = %+v", d)
	}
	if d := events[5].ExecutionSucceededEventDetails; d == nil || aws.ToString(d.Output) != `{"plan":{}}` {
		t.Errorf("ExecutionSucceeded details = %+v", d)
	}

	rev, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, ReverseOrder: true, MaxResults: 1, IncludeExecutionData: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Events) != 1 || rev.Events[0].Type != types.HistoryEventTypeExecutionSucceeded || rev.NextToken == nil {
		t.Fatalf("reverse page = %+v", rev)
	}
	if d := rev.Events[0].ExecutionSucceededEventDetails; d == nil || d.Output != nil {
		t.Errorf("includeExecutionData=false still sent output: %+v", d)
	}
}

func TestSFNWireForm(t *testing.T) {
	srv, _, url := newTestFake(t, Options{})
	smARN, _ := srv.SFN.RegisterStateMachine("RunnerFleet", testDefinition, "")
	status, ct, body := rawCall(t, url, "AWSStepFunctions.StartExecution", "application/x-amz-json-1.0", `{"stateMachineArn":"`+smARN+`","name":"w"}`, true)
	if status != 200 || ct != "application/x-amz-json-1.0" {
		t.Fatalf("status %d content type %q", status, ct)
	}
	if _, ok := body["startDate"].(float64); !ok {
		t.Errorf("startDate = %#v, want epoch seconds as a JSON number", body["startDate"])
	}
	status, _, body = rawCall(t, url, "AWSStepFunctions.StartExecution", "application/x-amz-json-1.0", `{"stateMachineArn":"`+smARN+`","name":"w","input":"{\"x\":1}"}`, true)
	if status != 400 || body["__type"] != "com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists" || !strings.HasPrefix(body["message"].(string), "Execution Already Exists: '") {
		t.Errorf("already exists = %d %v", status, body)
	}
	status, _, body = rawCall(t, url, "AWSStepFunctions.StartExecution", "application/x-amz-json-1.0", `{}`, false)
	if status != 400 || body["__type"] != "com.amazon.coral.service#MissingAuthenticationTokenException" {
		t.Errorf("unsigned call = %d %v", status, body)
	}
	status, _, body = rawCall(t, url, "AWSStepFunctions.CreateActivity", "application/x-amz-json-1.0", `{}`, true)
	if status != 400 || body["__type"] != "com.amazon.coral.service#UnknownOperationException" {
		t.Errorf("unknown operation = %d %v", status, body)
	}
	status, _, body = rawCall(t, url, "AWSStepFunctions.StartExecution", "application/x-amz-json-1.0", `{not json`, true)
	if status != 400 || body["__type"] != "com.amazon.coral.service#SerializationException" {
		t.Errorf("bad JSON = %d %v", status, body)
	}
}

func TestSFNDescribeAndListStateMachines(t *testing.T) {
	srv, client, smARN := newSFNFake(t)
	ctx := context.Background()
	if _, err := srv.SFN.RegisterStateMachine("RunnerFleetImageBuild", testDefinition, ""); err != nil {
		t.Fatal(err)
	}
	desc, err := client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(smARN)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(desc.Name) != "RunnerFleet" || aws.ToString(desc.Definition) != testDefinition || desc.Status != types.StateMachineStatusActive || desc.Type != types.StateMachineTypeStandard || desc.CreationDate == nil {
		t.Errorf("DescribeStateMachine = %+v", desc)
	}
	_, err = client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(smARN + "Nope")})
	wantAPIError[*types.StateMachineDoesNotExist](t, err, "StateMachineDoesNotExist", "")
	var names []string
	p := sfn.NewListStateMachinesPaginator(client, &sfn.ListStateMachinesInput{MaxResults: 1})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range page.StateMachines {
			names = append(names, aws.ToString(sm.Name))
		}
	}
	if strings.Join(names, " ") != "RunnerFleet RunnerFleetImageBuild" {
		t.Errorf("ListStateMachines = %v", names)
	}
}
