package awsfake

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/codebuild/types"
)

func newCodeBuildFake(t *testing.T) (*Server, *codebuild.Client, *[]*Build) {
	t.Helper()
	srv, cfg, _ := newTestFake(t, Options{})
	srv.CodeBuild.CreateProject("runner-fleet-images", "aws/codebuild/standard:7.0")
	var started []*Build
	srv.CodeBuild.OnBuildStarted = func(b *Build) { started = append(started, b) }
	return srv, codebuild.NewFromConfig(cfg), &started
}

func phasesOf(b types.Build) string {
	var parts []string
	for _, p := range b.Phases {
		parts = append(parts, fmt.Sprintf("%s:%s", p.PhaseType, p.PhaseStatus))
	}
	return strings.Join(parts, " ")
}

func TestCodeBuildLifecycle(t *testing.T) {
	tests := []struct {
		name       string
		end        func(cb *CodeBuild, id string) error
		wantStatus types.StatusType
		wantPhases string
	}{
		{"succeeded", func(cb *CodeBuild, id string) error { return cb.SucceedBuild(id) }, types.StatusTypeSucceeded,
			"SUBMITTED:SUCCEEDED QUEUED:SUCCEEDED PROVISIONING:SUCCEEDED DOWNLOAD_SOURCE:SUCCEEDED INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED:"},
		{"failed in BUILD", func(cb *CodeBuild, id string) error { return cb.FailBuild(id, "BUILD", "") }, types.StatusTypeFailed,
			"SUBMITTED:SUCCEEDED QUEUED:SUCCEEDED PROVISIONING:SUCCEEDED DOWNLOAD_SOURCE:SUCCEEDED INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED FINALIZING:SUCCEEDED COMPLETED:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, client, started := newCodeBuildFake(t)
			ctx := context.Background()
			out, err := client.StartBuild(ctx, &codebuild.StartBuildInput{
				ProjectName:                  aws.String("runner-fleet-images"),
				EnvironmentVariablesOverride: []types.EnvironmentVariable{{Name: aws.String("IMAGE_REF"), Value: aws.String("ubuntu:24.04"), Type: types.EnvironmentVariableTypePlaintext}},
			})
			if err != nil {
				t.Fatal(err)
			}
			b := out.Build
			id := aws.ToString(b.Id)
			if !strings.HasPrefix(id, "runner-fleet-images:") || aws.ToString(b.Arn) != "arn:aws:codebuild:us-east-1:123456789012:build/"+id || aws.ToInt64(b.BuildNumber) != 1 {
				t.Errorf("build id %q arn %q number %d", id, aws.ToString(b.Arn), aws.ToInt64(b.BuildNumber))
			}
			if b.BuildStatus != types.StatusTypeInProgress || b.BuildComplete || aws.ToString(b.CurrentPhase) != "QUEUED" || phasesOf(*b) != "SUBMITTED:SUCCEEDED QUEUED:" {
				t.Errorf("started build = %s complete %v phase %s phases %s", b.BuildStatus, b.BuildComplete, aws.ToString(b.CurrentPhase), phasesOf(*b))
			}
			if len(*started) != 1 || (*started)[0].Environment["IMAGE_REF"] != "ubuntu:24.04" {
				t.Fatalf("OnBuildStarted saw %+v", *started)
			}
			if err := srv.CodeBuild.AdvanceBuild(id, "BUILD"); err != nil {
				t.Fatal(err)
			}
			if err := srv.CodeBuild.AdvanceBuild(id, "INSTALL"); err == nil {
				t.Error("moving a build backwards was accepted")
			}
			if err := tc.end(srv.CodeBuild, id); err != nil {
				t.Fatal(err)
			}
			got, err := client.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{id, "runner-fleet-images:missing"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Builds) != 1 || len(got.BuildsNotFound) != 1 || got.BuildsNotFound[0] != "runner-fleet-images:missing" {
				t.Fatalf("BatchGetBuilds = %d builds, not found %v", len(got.Builds), got.BuildsNotFound)
			}
			done := got.Builds[0]
			if done.BuildStatus != tc.wantStatus || !done.BuildComplete || done.EndTime == nil || aws.ToString(done.CurrentPhase) != "COMPLETED" || phasesOf(done) != tc.wantPhases {
				t.Errorf("done = %s complete %v end %v phases %s", done.BuildStatus, done.BuildComplete, done.EndTime, phasesOf(done))
			}
			wantLink := "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEvent:group=/aws/codebuild/runner-fleet-images;stream=" + strings.TrimPrefix(id, "runner-fleet-images:")
			if aws.ToString(done.Logs.DeepLink) != wantLink {
				t.Errorf("deepLink = %q, want %q", aws.ToString(done.Logs.DeepLink), wantLink)
			}
			if tc.wantStatus == types.StatusTypeFailed {
				ctxs := done.Phases[6].Contexts
				if len(ctxs) != 1 || aws.ToString(ctxs[0].StatusCode) != "COMMAND_EXECUTION_ERROR" || !strings.Contains(aws.ToString(ctxs[0].Message), "exit status 1") {
					t.Errorf("BUILD contexts = %+v", ctxs)
				}
			}
			if err := srv.CodeBuild.SucceedBuild(id); err == nil {
				t.Error("ending a finished build again was accepted")
			}
		})
	}
}

func TestCodeBuildListStopAndErrors(t *testing.T) {
	_, client, _ := newCodeBuildFake(t)
	ctx := context.Background()
	var ids []string
	for range 3 {
		out, err := client.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("runner-fleet-images")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.Build.Id))
	}
	list, err := client.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("runner-fleet-images")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(list.Ids, ",") != strings.Join([]string{ids[2], ids[1], ids[0]}, ",") {
		t.Errorf("ListBuildsForProject = %v, want newest first", list.Ids)
	}
	stop, err := client.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(ids[0])})
	if err != nil {
		t.Fatal(err)
	}
	if stop.Build.BuildStatus != types.StatusTypeStopped || !stop.Build.BuildComplete {
		t.Errorf("stopped build = %s %v", stop.Build.BuildStatus, stop.Build.BuildComplete)
	}
	_, err = client.StartBuild(ctx, &codebuild.StartBuildInput{ProjectName: aws.String("nope")})
	wantAPIError[*types.ResourceNotFoundException](t, err, "ResourceNotFoundException", "Project cannot be found: arn:aws:codebuild:us-east-1:123456789012:project/nope")
	_, err = client.ListBuildsForProject(ctx, &codebuild.ListBuildsForProjectInput{ProjectName: aws.String("nope")})
	wantAPIError[*types.ResourceNotFoundException](t, err, "ResourceNotFoundException", "")
}
