// Package history reads facts back out of a RunnerFleet execution's Step Functions
// history. The execution is the record (no runner table): the runner's ECS task ARN,
// for instance, exists only in the TaskSubmitted event of RunRunner, and the states
// that need it — ReapIfIdle, Cleanup, the webhook's job-started and cancellation paths —
// find it here.
package history

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// API is the Step Functions call this package makes (states:GetExecutionHistory).
type API interface {
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// SubmittedTasks returns the ARNs of the ECS tasks the execution's RunRunner states
// submitted, newest first (a Spot fallback submits a second task).
func SubmittedTasks(ctx context.Context, client API, executionARN string) ([]string, error) {
	var arns []string
	err := Walk(ctx, client, executionARN, func(ev sfntypes.HistoryEvent) bool {
		if arn := SubmittedTask(ev); arn != "" && !slices.Contains(arns, arn) {
			arns = append(arns, arn)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return arns, nil
}

// Walk calls fn with each event of the execution's history, newest first, until fn
// returns false or the history ends; it reads a page (100 events) only when fn asks
// for more, so a caller that finds what it wants early makes fewer calls.
func Walk(ctx context.Context, client API, executionARN string, fn func(sfntypes.HistoryEvent) bool) error {
	p := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{
		ExecutionArn:         aws.String(executionARN),
		ReverseOrder:         true,
		MaxResults:           100,
		IncludeExecutionData: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("read history of %s: %w", executionARN, err)
		}
		for _, ev := range page.Events {
			if !fn(ev) {
				return nil
			}
		}
	}
	return nil
}

// SubmittedTask is the task ARN of an ECS runTask TaskSubmitted event, or "". The
// event's output is the RunTask response in Step Functions' PascalCase.
func SubmittedTask(ev sfntypes.HistoryEvent) string {
	d := ev.TaskSubmittedEventDetails
	if ev.Type != sfntypes.HistoryEventTypeTaskSubmitted || d == nil || aws.ToString(d.ResourceType) != "ecs" ||
		!strings.HasPrefix(aws.ToString(d.Resource), "runTask") || d.Output == nil {
		return ""
	}
	var out struct {
		Tasks []struct{ TaskArn string }
	}
	if json.Unmarshal([]byte(*d.Output), &out) != nil || len(out.Tasks) == 0 {
		return ""
	}
	return out.Tasks[0].TaskArn
}

// ExecutionARN is the ARN of execution name of stateMachineARN
// (arn:<partition>:states:<region>:<account>:stateMachine:<machine> →
// arn:<partition>:states:<region>:<account>:execution:<machine>:<name>). With an empty
// name it is the prefix every execution ARN of the machine starts with.
func ExecutionARN(stateMachineARN, name string) (string, error) {
	parts := strings.Split(stateMachineARN, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return "", fmt.Errorf("%q must be a state machine ARN, arn:<partition>:states:<region>:<account>:stateMachine:<name>", stateMachineARN)
	}
	parts[5] = "execution"
	return strings.Join(parts, ":") + ":" + name, nil
}
