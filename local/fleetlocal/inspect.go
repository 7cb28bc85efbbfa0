package fleetlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/fleet"
)

// Execution is one RunnerFleet execution as the operator sees it.
type Execution struct {
	Name, ARN, Status string
	Error, Cause      string
	Start, Stop       time.Time
	Job               fleet.Job
	Result            *fleet.Result
	History           []sfntypes.HistoryEvent
}

// Executions reads every RunnerFleet execution, with its history, through the real SDK.
func (e *Env) Executions(ctx context.Context) ([]Execution, error) {
	client := sfn.NewFromConfig(e.AWSCfg)
	var out []Execution
	p := sfn.NewListExecutionsPaginator(client, &sfn.ListExecutionsInput{StateMachineArn: &e.StateMachineARN})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, item := range page.Executions {
			d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: item.ExecutionArn})
			if err != nil {
				return nil, err
			}
			x := Execution{Name: aws.ToString(d.Name), ARN: aws.ToString(d.ExecutionArn), Status: string(d.Status),
				Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause), Start: aws.ToTime(d.StartDate), Stop: aws.ToTime(d.StopDate)}
			_ = json.Unmarshal([]byte(aws.ToString(d.Input)), &x.Job)
			if d.Output != nil {
				var r fleet.Result
				if json.Unmarshal([]byte(*d.Output), &r) == nil {
					x.Result = &r
				}
			}
			hp := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn, MaxResults: 1000})
			for hp.HasMorePages() {
				h, err := hp.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				x.History = append(x.History, h.Events...)
			}
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// States lists the state names an execution entered, in order.
func (x Execution) States() []string {
	var names []string
	for _, ev := range x.History {
		if d := ev.StateEnteredEventDetails; d != nil {
			names = append(names, aws.ToString(d.Name))
		}
	}
	return names
}

// Leaks are what a settled environment must not hold: ECS tasks still running and
// runner registrations still on GitHub.
type Leaks struct {
	Tasks         []string
	Registrations []string
}

// Empty reports whether nothing leaked.
func (l Leaks) Empty() bool { return len(l.Tasks) == 0 && len(l.Registrations) == 0 }

func (l Leaks) String() string {
	return fmt.Sprintf("%d tasks %v, %d registrations %v", len(l.Tasks), l.Tasks, len(l.Registrations), l.Registrations)
}

// Leaked lists running tasks and remaining registrations.
func (e *Env) Leaked() Leaks {
	var l Leaks
	for _, t := range e.AWS.ECS.Tasks() {
		if t.LastStatus != "STOPPED" {
			l.Tasks = append(l.Tasks, t.ARN)
		}
	}
	for _, r := range e.GitHub.Runners("") {
		l.Registrations = append(l.Registrations, r.Name)
	}
	return l
}

// RunningExecutions counts executions of either state machine still RUNNING.
func (e *Env) RunningExecutions(ctx context.Context) (int, error) {
	client := sfn.NewFromConfig(e.AWSCfg)
	n := 0
	for _, sm := range []string{e.StateMachineARN, e.ImageBuildARN} {
		p := sfn.NewListExecutionsPaginator(client, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), StatusFilter: sfntypes.ExecutionStatusRunning})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, err
			}
			n += len(page.Executions)
		}
	}
	return n, nil
}
