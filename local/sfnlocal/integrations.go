package sfnlocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/lambdalocal"
)

// Call is one Task state to perform.
type Call struct {
	Execution *awsfake.Execution
	State     string
	Resource  string
	Input     json.RawMessage // the effective parameters
	// Submitted records the TaskSubmitted event of a .sync integration (its output is
	// the start call's response).
	Submitted func(output []byte)
}

// Failure is a failed Task: the error name Retry/Catch match and its cause.
type Failure struct {
	Error string
	Cause string
}

// Invoker runs a Lambda function synchronously (lambdalocal.Runtime).
type Invoker interface {
	Invoke(ctx context.Context, name string, payload []byte) ([]byte, error)
}

// Integrations performs the service integrations the fleet's definitions use, with the
// real SDK clients pointed at the AWS fakes.
type Integrations struct {
	Lambda    Invoker
	ECS       *ecs.Client
	SFN       *sfn.Client
	CodeBuild *codebuild.Client
	// Poll is how often a .sync integration checks its job (Step Functions is event
	// driven; locally a short poll is enough). Default 100 ms.
	Poll time.Duration
}

// Run performs call. A nil Failure means success with the returned output.
func (in *Integrations) Run(ctx context.Context, call Call) (json.RawMessage, *Failure) {
	switch call.Resource {
	case "arn:aws:states:::lambda:invoke":
		return in.lambdaInvoke(ctx, call)
	case "arn:aws:states:::ecs:runTask.sync":
		return in.ecsRunTaskSync(ctx, call)
	case "arn:aws:states:::states:startExecution.sync:2":
		return in.startExecutionSync2(ctx, call)
	case "arn:aws:states:::codebuild:startBuild.sync":
		return in.codeBuildSync(ctx, call)
	}
	return nil, &Failure{Error: "States.Runtime", Cause: fmt.Sprintf("fleet-local does not emulate the integration %s (state %s)", call.Resource, call.State)}
}

func (in *Integrations) poll() time.Duration {
	if in.Poll <= 0 {
		return 100 * time.Millisecond
	}
	return in.Poll
}

// launchContext is for the call that creates a long-running resource (a task, a build):
// it is not cancelled when the state stops waiting, so the caller learns what it created
// and can stop it, as Step Functions does.
func launchContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// lambdaInvoke is arn:aws:states:::lambda:invoke: output {ExecutedVersion, Payload,
// StatusCode}; a function error fails with the errorType and the Lambda error document as
// cause; a timeout or crash is Lambda.Unknown (fixtures/aws/stepfunctions/integrations.json).
func (in *Integrations) lambdaInvoke(ctx context.Context, call Call) (json.RawMessage, *Failure) {
	var p struct {
		FunctionName string          `json:"FunctionName"`
		Payload      json.RawMessage `json:"Payload"`
	}
	if err := json.Unmarshal(call.Input, &p); err != nil || p.FunctionName == "" {
		return nil, &Failure{Error: "States.Runtime", Cause: "lambda:invoke needs FunctionName"}
	}
	name := p.FunctionName
	if i := strings.Index(name, ":function:"); i >= 0 {
		name = strings.SplitN(name[i+len(":function:"):], ":", 2)[0]
	}
	payload := p.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	out, err := in.Lambda.Invoke(ctx, name, payload)
	var fe *lambdalocal.FunctionError
	switch {
	case errors.As(err, &fe):
		doc, _ := json.Marshal(map[string]string{"errorType": fe.Type, "errorMessage": fe.Message})
		if fe.Type == "Sandbox.Timedout" || fe.Type == "Runtime.ExitError" {
			return nil, &Failure{Error: "Lambda.Unknown", Cause: "The cause could not be determined because Lambda did not return an error type. Returned payload: " + string(doc)}
		}
		return nil, &Failure{Error: fe.Type, Cause: string(doc)}
	case err != nil:
		return nil, &Failure{Error: "Lambda.ServiceException", Cause: err.Error()}
	}
	if !json.Valid(out) {
		return nil, &Failure{Error: "States.Runtime", Cause: "the function's response is not JSON"}
	}
	res, _ := json.Marshal(map[string]any{"ExecutedVersion": "$LATEST", "Payload": json.RawMessage(out), "StatusCode": 200})
	return res, nil
}

// pascal renders an SDK output struct the way optimized integrations do: PascalCase
// keys (the Go field names), nulls dropped.
func pascal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("{}")
	}
	var doc any
	_ = json.Unmarshal(b, &doc)
	out, _ := json.Marshal(dropNulls(doc))
	return out
}

func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if x == nil {
				delete(t, k)
				continue
			}
			t[k] = dropNulls(x)
		}
	case []any:
		for i := range t {
			t[i] = dropNulls(t[i])
		}
	}
	return v
}

func apiFailure(prefix string, err error) *Failure {
	var api smithy.APIError
	if errors.As(err, &api) {
		return &Failure{Error: prefix + "." + api.ErrorCode(), Cause: api.ErrorMessage()}
	}
	return &Failure{Error: prefix + ".SdkClientException", Cause: err.Error()}
}

// ecsRunTaskSync is arn:aws:states:::ecs:runTask.sync: RunTask (Step Functions adds
// StartedBy), the RunTask response as TaskSubmitted, then wait until the task stops.
// Output: the stopped task; any non-zero exit or a task that never started fails with
// States.TaskFailed and the task as cause. Errors of RunTask itself surface as
// ECS.AmazonECSException, a non-empty failures[] as AmazonECS.Unknown. When Step
// Functions stops waiting (timeout, stop) the task is stopped.
func (in *Integrations) ecsRunTaskSync(ctx context.Context, call Call) (json.RawMessage, *Failure) {
	var req ecs.RunTaskInput
	dec := json.NewDecoder(bytes.NewReader(call.Input))
	if err := dec.Decode(&req); err != nil {
		return nil, &Failure{Error: "States.Runtime", Cause: "ecs:runTask parameters do not match RunTask: " + err.Error()}
	}
	req.StartedBy = aws.String("AWS Step Functions")
	// RunTask outlives a stop that arrives while it is in flight, so the task it created
	// is known and stopped below rather than left running.
	launchCtx, cancelLaunch := launchContext(ctx)
	out, err := in.ECS.RunTask(launchCtx, &req)
	cancelLaunch()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		var api smithy.APIError
		cause := err.Error()
		if errors.As(err, &api) {
			cause = api.ErrorCode() + ": " + api.ErrorMessage()
		}
		return nil, &Failure{Error: "ECS.AmazonECSException", Cause: cause}
	}
	call.Submitted(pascal(out))
	if len(out.Failures) > 0 || len(out.Tasks) == 0 {
		return nil, &Failure{Error: "AmazonECS.Unknown", Cause: string(pascal(out.Failures))}
	}
	taskARN := aws.ToString(out.Tasks[0].TaskArn)
	cluster := req.Cluster
	t := time.NewTicker(in.poll())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = in.ECS.StopTask(stopCtx, &ecs.StopTaskInput{Cluster: cluster, Task: &taskARN, Reason: aws.String("Task stopped by Step Functions: the state timed out or the execution stopped")})
			cancel()
			return nil, nil
		case <-t.C:
		}
		d, err := in.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: cluster, Tasks: []string{taskARN}})
		if err != nil || len(d.Tasks) == 0 {
			continue // transient; Step Functions keeps waiting
		}
		task := d.Tasks[0]
		if aws.ToString(task.LastStatus) != "STOPPED" {
			continue
		}
		doc := pascal(task)
		failed := string(task.StopCode) == "TaskFailedToStart"
		for _, c := range task.Containers {
			if c.ExitCode == nil || *c.ExitCode != 0 {
				failed = true
			}
		}
		if failed {
			return nil, &Failure{Error: "States.TaskFailed", Cause: string(doc)}
		}
		return doc, nil
	}
}

// startExecutionSync2 is arn:aws:states:::states:startExecution.sync:2: start the child
// (idempotent for identical name and input while it runs), wait for it, output its
// description with Input and Output as JSON; a failed, timed-out or aborted child is
// States.TaskFailed with the description as cause. The child is not stopped when the
// parent stops waiting: RunnerFleetImageBuild is shared by every job wanting the image.
func (in *Integrations) startExecutionSync2(ctx context.Context, call Call) (json.RawMessage, *Failure) {
	var p struct {
		StateMachineArn string          `json:"StateMachineArn"`
		Name            string          `json:"Name"`
		Input           json.RawMessage `json:"Input"`
	}
	if err := json.Unmarshal(call.Input, &p); err != nil {
		return nil, &Failure{Error: "States.Runtime", Cause: "startExecution parameters: " + err.Error()}
	}
	input := string(p.Input)
	var s string
	if json.Unmarshal(p.Input, &s) == nil {
		input = s // Input given as a JSON string
	}
	start := &sfn.StartExecutionInput{StateMachineArn: &p.StateMachineArn, Input: &input}
	if p.Name != "" {
		start.Name = &p.Name
	}
	out, err := in.SFN.StartExecution(ctx, start)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		var exists *sfntypes.ExecutionAlreadyExists
		if errors.As(err, &exists) {
			return nil, &Failure{Error: "StepFunctions.ExecutionAlreadyExistsException", Cause: exists.ErrorMessage()}
		}
		return nil, apiFailure("StepFunctions", err)
	}
	call.Submitted(pascal(out))
	t := time.NewTicker(in.poll())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-t.C:
		}
		d, err := in.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		if err != nil || d.Status == sfntypes.ExecutionStatusRunning {
			continue
		}
		desc := map[string]any{}
		_ = json.Unmarshal(pascal(d), &desc)
		for _, k := range []string{"Input", "Output"} {
			if s, ok := desc[k].(string); ok {
				var v any
				if json.Unmarshal([]byte(s), &v) == nil {
					desc[k] = v
				}
			}
		}
		doc, _ := json.Marshal(desc)
		if d.Status != sfntypes.ExecutionStatusSucceeded {
			return nil, &Failure{Error: "States.TaskFailed", Cause: string(doc)}
		}
		return doc, nil
	}
}

// codeBuildSync is arn:aws:states:::codebuild:startBuild.sync: StartBuild, wait until
// the build completes; output {"Build": …}; a build that did not succeed fails with
// States.TaskFailed and {"Build": …} as cause (AWS documents no failure shape).
func (in *Integrations) codeBuildSync(ctx context.Context, call Call) (json.RawMessage, *Failure) {
	var req codebuild.StartBuildInput
	if err := json.Unmarshal(call.Input, &req); err != nil {
		return nil, &Failure{Error: "States.Runtime", Cause: "codebuild:startBuild parameters do not match StartBuild: " + err.Error()}
	}
	launchCtx, cancelLaunch := launchContext(ctx) // as RunTask: a stopped execution stops its build
	out, err := in.CodeBuild.StartBuild(launchCtx, &req)
	cancelLaunch()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, apiFailure("CodeBuild", err)
	}
	call.Submitted(pascal(out))
	id := aws.ToString(out.Build.Id)
	t := time.NewTicker(in.poll())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = in.CodeBuild.StopBuild(stopCtx, &codebuild.StopBuildInput{Id: &id})
			cancel()
			return nil, nil
		case <-t.C:
		}
		b, err := in.CodeBuild.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{id}})
		if err != nil || len(b.Builds) == 0 || !b.Builds[0].BuildComplete {
			continue
		}
		doc, _ := json.Marshal(map[string]json.RawMessage{"Build": pascal(b.Builds[0])})
		if b.Builds[0].BuildStatus != cbtypes.StatusTypeSucceeded {
			return nil, &Failure{Error: "States.TaskFailed", Cause: string(doc)}
		}
		return doc, nil
	}
}
