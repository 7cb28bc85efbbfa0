package awsfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// loadRecorded reads recorded.<key> from a fixture copy in testdata/fixtures.
func loadRecorded(t *testing.T, file, key string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures", file))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Recorded map[string]map[string]any `json:"recorded"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	rec, ok := doc.Recorded[key]
	if !ok {
		t.Fatalf("%s has no recorded.%s", file, key)
	}
	delete(rec, "ResponseMetadata")
	return rec
}

// snapshotNormalize applies the LocalStack snapshot tool's first rule to a wire answer:
// strings that start with "{" are parsed, one level deep.
func snapshotNormalize(v any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			out[k] = snapshotNormalize(val, depth)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = snapshotNormalize(val, depth)
		}
		return out
	case string:
		if depth == 0 && strings.HasPrefix(x, "{") {
			var parsed any
			if json.Unmarshal([]byte(x), &parsed) == nil {
				return snapshotNormalize(parsed, depth+1)
			}
		}
	}
	return v
}

func flatten(prefix string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[prefix] = "{}"
		}
		for k, val := range x {
			flatten(prefix+"."+k, val, out)
		}
	case []any:
		if len(x) == 0 {
			out[prefix] = "[]"
		}
		for i, val := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), val, out)
		}
	default:
		out[prefix] = x
	}
}

// volatile reports whether a recorded value is a placeholder the snapshot tool wrote
// for a time, id or ARN; only its presence can be compared.
func volatile(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	switch s {
	case "datetime", "timestamp", "time", "snf_role_arn", "cluster_arn", "task_definition_arn", "eni_value", "mac_value":
		return true
	}
	return strings.Contains(s, "<") || strings.HasPrefix(s, "arn:") || strings.HasPrefix(s, "ip_value")
}

// recordingAllowances are differences from a recording that are not the fake's.
type recordingAllowances struct {
	// extra fields the fake sends that this recording lacks, with the reason.
	extra map[string]string
	// emptyListsOptional: the recording went through Step Functions' Java SDK, which
	// writes every unset list as []; AWS's own answers omit them (documented examples).
	emptyListsOptional bool
}

// compareToRecording fails unless got has exactly the recording's fields, with the
// recording's value wherever that value is not a placeholder.
func compareToRecording(t *testing.T, name string, got, want any) {
	t.Helper()
	compareToRecordingAllowing(t, name, got, want, recordingAllowances{})
}

func compareToRecordingAllowing(t *testing.T, name string, got, want any, allow recordingAllowances) {
	t.Helper()
	g, w := map[string]any{}, map[string]any{}
	flatten("", snapshotNormalize(got, 0), g)
	flatten("", want, w)
	var problems []string
	for path, wv := range w {
		gv, ok := g[path]
		switch {
		case !ok && allow.emptyListsOptional && wv == "[]":
		case !ok:
			problems = append(problems, fmt.Sprintf("missing %s (recorded %v)", path, wv))
		case !volatile(wv) && fmt.Sprint(gv) != fmt.Sprint(wv):
			problems = append(problems, fmt.Sprintf("%s = %v, recorded %v", path, gv, wv))
		}
	}
	for path, gv := range g {
		if _, ok := allow.extra[strings.TrimPrefix(path[strings.LastIndex(path, "]")+1:], ".")]; ok {
			continue
		}
		if _, ok := w[path]; !ok {
			problems = append(problems, fmt.Sprintf("extra %s = %v (not in the recording)", path, gv))
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Errorf("%s differs from the AWS recording:\n  %s", name, strings.Join(problems, "\n  "))
	}
}

// The recorded one-Pass-state run (stepfunctions/api/start-describe-list-history.json
// and describe-execution.succeeded.json), replayed with the engine's events appended
// through AppendHistory.
func TestSFNMatchesRecordedPassRun(t *testing.T) {
	srv, _, url := newTestFake(t, Options{})
	smARN, _ := srv.SFN.RegisterStateMachine("BASE_PASS_RESULT", `{"StartAt":"State_1","States":{"State_1":{"Type":"Pass","Result":{"Arg1":"argument1"},"End":true}}}`, "arn:aws:iam::123456789012:role/sfn")
	call := func(op, body string) map[string]any {
		t.Helper()
		status, _, out := rawCall(t, url, "AWSStepFunctions."+op, "application/x-amz-json-1.0", body, true)
		if status != 200 {
			t.Fatalf("%s = %d %v", op, status, out)
		}
		return out
	}
	start := call("StartExecution", `{"stateMachineArn":"`+smARN+`"}`)
	compareToRecording(t, "StartExecution", start, loadRecorded(t, "start-describe-list-history.json", "exec_resp"))
	arn := start["executionArn"].(string)
	if _, err := srv.SFN.AppendHistory(arn,
		HistoryEvent{Type: "PassStateEntered", Details: map[string]any{"name": "State_1", "input": "{}", "inputDetails": map[string]bool{"truncated": false}}},
		HistoryEvent{Type: "PassStateExited", PreviousEventID: 2, Details: map[string]any{"name": "State_1", "output": `{"Arg1":"argument1"}`, "outputDetails": map[string]bool{"truncated": false}}},
	); err != nil {
		t.Fatal(err)
	}
	if err := srv.SFN.Finish(arn, Result{Status: StatusSucceeded, Output: `{"Arg1":"argument1"}`}); err != nil {
		t.Fatal(err)
	}
	compareToRecording(t, "ListExecutions", call("ListExecutions", `{"stateMachineArn":"`+smARN+`"}`), loadRecorded(t, "start-describe-list-history.json", "exec_list_resp"))
	compareToRecording(t, "GetExecutionHistory", call("GetExecutionHistory", `{"executionArn":"`+arn+`"}`), loadRecorded(t, "start-describe-list-history.json", "exec_hist_resp"))
	compareToRecording(t, "DescribeExecution", call("DescribeExecution", `{"executionArn":"`+arn+`"}`), loadRecorded(t, "describe-execution.succeeded.json", "describe_execution"))
}

// StopExecution during a Wait (stepfunctions/history/execution-aborted.stop-execution.json).
func TestSFNMatchesRecordedStop(t *testing.T) {
	srv, _, url := newTestFake(t, Options{})
	smARN, _ := srv.SFN.RegisterStateMachine("wait", `{"StartAt":"State_1","States":{"State_1":{"Type":"Wait","Seconds":60,"End":true}}}`, "arn:aws:iam::123456789012:role/sfn")
	_, _, start := rawCall(t, url, "AWSStepFunctions.StartExecution", "application/x-amz-json-1.0", `{"stateMachineArn":"`+smARN+`"}`, true)
	arn := start["executionArn"].(string)
	if _, err := srv.SFN.AppendHistory(arn, HistoryEvent{Type: "WaitStateEntered", Details: map[string]any{"name": "State_1", "input": "{}", "inputDetails": map[string]bool{"truncated": false}}}); err != nil {
		t.Fatal(err)
	}
	_, _, stop := rawCall(t, url, "AWSStepFunctions.StopExecution", "application/x-amz-json-1.0", `{"executionArn":"`+arn+`"}`, true)
	compareToRecording(t, "StopExecution", stop, loadRecorded(t, "execution-aborted.stop-execution.json", "stop_res"))
	_, _, hist := rawCall(t, url, "AWSStepFunctions.GetExecutionHistory", "application/x-amz-json-1.0", `{"executionArn":"`+arn+`"}`, true)
	var want map[string]any
	for _, v := range loadRecordedAll(t, "execution-aborted.stop-execution.json") {
		if m, ok := v.(map[string]any); ok && m["events"] != nil {
			delete(m, "ResponseMetadata")
			want = m
		}
	}
	compareToRecording(t, "GetExecutionHistory", hist, want)
}

func loadRecordedAll(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures", file))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Recorded map[string]any `json:"recorded"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Recorded
}

func TestSecretsManagerMatchesRecording(t *testing.T) {
	srv, _, url := newTestFake(t, Options{})
	srv.SecretsManager.Put("s-c64bdc03", "my_secret")
	_, _, got := rawCall(t, url, "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", `{"SecretId":"s-c64bdc03"}`, true)
	compareToRecording(t, "GetSecretValue", got, loadRecorded(t, "get-secret-value.recorded.json", "get_secret_value"))
}

func loadResponse(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures", file))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Response map[string]any `json:"response"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Response
}

// The recorded Fargate run of runTask.sync (ecs/run-task.fargate.derived.json and the
// two derived DescribeTasks answers), replayed: RunTask, then the task runs and exits 0,
// or its image pull fails.
func TestECSMatchesRecordedFargateRun(t *testing.T) {
	srv, _, url := newTestFake(t, Options{})
	srv.ECS.CreateCluster("cluster_name")
	call := func(op, body string) map[string]any {
		t.Helper()
		status, _, out := rawCall(t, url, "AmazonEC2ContainerServiceV20141113."+op, "application/x-amz-json-1.1", body, true)
		if status != 200 {
			t.Fatalf("%s = %d %v", op, status, out)
		}
		return out
	}
	register := func(image string) {
		call("RegisterTaskDefinition", `{"family":"task_definition_family","cpu":"256","memory":"512","networkMode":"awsvpc","requiresCompatibilities":["FARGATE"],`+
			`"containerDefinitions":[{"name":"task_definition_container_name","image":"`+image+`"}]}`)
	}
	run := func() (map[string]any, string) {
		out := call("RunTask", `{"cluster":"cluster_name","taskDefinition":"task_definition_family","launchType":"FARGATE","startedBy":"AWS Step Functions",`+
			`"networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet_value"],"securityGroups":["sg_value"]}},`+
			`"overrides":{"containerOverrides":[{"name":"task_definition_container_name"}]}}`)
		return out, out["tasks"].([]any)[0].(map[string]any)["taskArn"].(string)
	}
	describe := func(arn string) map[string]any {
		return call("DescribeTasks", `{"cluster":"cluster_name","tasks":["`+arn+`"],"include":["TAGS"]}`)
	}
	javaSDK := recordingAllowances{emptyListsOptional: true}
	stopped := recordingAllowances{emptyListsOptional: true, extra: map[string]string{
		"platformFamily": "DescribeTasks sends it (ecs/describe-tasks.fargate-running.documented.json); the Java SDK behind this recording predates it",
	}}

	register("busybox")
	out, arn := run()
	compareToRecordingAllowing(t, "RunTask", out, loadResponse(t, "run-task.fargate.derived.json"), javaSDK)
	if err := srv.ECS.SetTaskRunning(arn); err != nil {
		t.Fatal(err)
	}
	if err := srv.ECS.StopTaskWithExit(arn, 0, "", ""); err != nil {
		t.Fatal(err)
	}
	compareToRecordingAllowing(t, "DescribeTasks after exit 0", describe(arn), loadResponse(t, "describe-tasks.fargate-stopped.essential-container-exited.derived.json"), stopped)

	register("no_such_image")
	_, arn = run()
	reason := "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref docker.io/library/no_such_image:latest: pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
	if err := srv.ECS.StopTaskWithExit(arn, 0, StopCodeTaskFailedToStart, reason); err != nil {
		t.Fatal(err)
	}
	compareToRecordingAllowing(t, "DescribeTasks after a failed pull", describe(arn), loadResponse(t, "describe-tasks.fargate-stopped.task-failed-to-start.derived.json"), stopped)
}

// Phase by phase, a finished build has the documented phases[] shape: the same phases in
// order, the same keys, statuses and contexts (times are the fake's own).
func TestCodeBuildPhasesMatchDocumentedBuilds(t *testing.T) {
	tests := []struct {
		file string
		end  func(cb *CodeBuild, id string) error
	}{
		{"batch-get-builds.succeeded.documented.json", func(cb *CodeBuild, id string) error { return cb.SucceedBuild(id) }},
		{"batch-get-builds.failed.assembled.json", func(cb *CodeBuild, id string) error {
			return cb.FailBuild(id, "BUILD", "Error while executing command: <command>. Reason: exit status 1")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			srv, _, url := newTestFake(t, Options{})
			srv.CodeBuild.CreateProject("codebuild-demo-project", "aws/codebuild/standard:7.0")
			_, _, started := rawCall(t, url, "CodeBuild_20161006.StartBuild", "application/x-amz-json-1.1", `{"projectName":"codebuild-demo-project"}`, true)
			id := started["build"].(map[string]any)["id"].(string)
			if err := tc.end(srv.CodeBuild, id); err != nil {
				t.Fatal(err)
			}
			_, _, got := rawCall(t, url, "CodeBuild_20161006.BatchGetBuilds", "application/x-amz-json-1.1", `{"ids":["`+id+`"]}`, true)
			want := loadResponse(t, tc.file)
			build := func(m map[string]any) map[string]any { return m["builds"].([]any)[0].(map[string]any) }
			gb, wb := build(got), build(want)
			for _, k := range []string{"buildStatus", "buildComplete", "currentPhase"} {
				if fmt.Sprint(gb[k]) != fmt.Sprint(wb[k]) {
					t.Errorf("%s = %v, documented %v", k, gb[k], wb[k])
				}
			}
			gp, wp := gb["phases"].([]any), wb["phases"].([]any)
			if len(gp) != len(wp) {
				t.Fatalf("%d phases, documented %d", len(gp), len(wp))
			}
			for i := range wp {
				g, w := gp[i].(map[string]any), wp[i].(map[string]any)
				if strings.Join(slices.Sorted(maps.Keys(g)), ",") != strings.Join(slices.Sorted(maps.Keys(w)), ",") {
					t.Errorf("phase %d keys %v, documented %v", i, slices.Sorted(maps.Keys(g)), slices.Sorted(maps.Keys(w)))
				}
				for _, k := range []string{"phaseType", "phaseStatus", "contexts"} {
					if fmt.Sprint(g[k]) != fmt.Sprint(w[k]) {
						t.Errorf("phase %d %s = %v, documented %v", i, k, g[k], w[k])
					}
				}
			}
			logs := gb["logs"].(map[string]any)
			for _, k := range slices.Sorted(maps.Keys(wb["logs"].(map[string]any))) {
				if _, ok := logs[k]; !ok {
					t.Errorf("logs.%s missing", k)
				}
			}
		})
	}
}
