package awsfake

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// Owners drive resources from inside the hooks (a simulated runner marks its task
// RUNNING as soon as it starts), so every hook must run with the fake's locks released.
func TestHooksMayCallBackIntoTheFake(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"OnTaskStarted -> SetTaskRunning", func(t *testing.T) {
			f := newECSFake(t)
			f.srv.ECS.OnTaskStarted = func(task *Task) {
				if err := f.srv.ECS.SetTaskRunning(task.ARN); err != nil {
					t.Error(err)
				}
			}
			out, err := f.run(t, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.describe(t, aws.ToString(out.Tasks[0].TaskArn)); aws.ToString(got.LastStatus) != "RUNNING" {
				t.Errorf("lastStatus = %s", aws.ToString(got.LastStatus))
			}
		}},
		{"OnTaskStopping -> StopTaskWithExit", func(t *testing.T) {
			f := newECSFake(t)
			f.srv.ECS.OnTaskStopping = func(task *Task) {
				if err := f.srv.ECS.StopTaskWithExit(task.ARN, 0, "", ""); err != nil {
					t.Error(err)
				}
			}
			out, _ := f.run(t, nil)
			arn := out.Tasks[0].TaskArn
			f.srv.ECS.SetTaskRunning(aws.ToString(arn))
			if _, err := f.client.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("runner-fleet"), Task: arn}); err != nil {
				t.Fatal(err)
			}
			if got := f.describe(t, aws.ToString(arn)); aws.ToString(got.LastStatus) != "STOPPED" {
				t.Errorf("lastStatus = %s", aws.ToString(got.LastStatus))
			}
		}},
		{"OnStart -> Finish", func(t *testing.T) {
			srv, client, smARN := newSFNFake(t)
			srv.SFN.OnStart = func(ctx context.Context, e *Execution) {
				if err := srv.SFN.Finish(e.ARN, Result{Status: StatusSucceeded}); err != nil {
					t.Error(err)
				}
			}
			out, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("quick")})
			if err != nil {
				t.Fatal(err)
			}
			if st, _ := srv.SFN.Status(aws.ToString(out.ExecutionArn)); st != StatusSucceeded {
				t.Errorf("status = %s", st)
			}
		}},
		{"OnBuildStarted -> SucceedBuild", func(t *testing.T) {
			srv, client, _ := newCodeBuildFake(t)
			srv.CodeBuild.OnBuildStarted = func(b *Build) {
				if err := srv.CodeBuild.SucceedBuild(b.ID); err != nil {
					t.Error(err)
				}
			}
			if _, err := client.StartBuild(context.Background(), &codebuild.StartBuildInput{ProjectName: aws.String("runner-fleet-images")}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		// A hook that cannot take the lock hangs here until go test's timeout
		// reports the deadlock with every goroutine's stack.
		t.Run(tc.name, tc.run)
	}
}
