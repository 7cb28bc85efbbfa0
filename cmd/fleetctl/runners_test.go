package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/awsfake"
)

// seedMix creates one runner in each state, oldest first.
func seedMix(e *env) map[string]seeded {
	out := map[string]seeded{}
	for _, s := range []struct {
		key string
		s   seed
	}{
		{"done", seed{job: 101, phase: phaseDone}},
		{"reaped", seed{job: 102, phase: phaseReaped, class: "small"}},
		{"failed", seed{job: 103, phase: phaseFailed, owner: "octo", repo: "api"}},
		{"running", seed{job: 104, phase: phaseRunning, class: "large"}},
		{"waiting", seed{job: 105, phase: phaseWaiting, image: "debian:12"}},
		{"building", seed{job: 106, phase: phaseBuilding, image: "node:22"}},
		{"starting", seed{job: 107, phase: phaseResolving}},
	} {
		out[s.key] = e.seedRunner(s.s)
	}
	return out
}

func TestRunnersList(t *testing.T) {
	e := newEnv(t)
	seedMix(e)
	tests := []struct {
		name string
		args []string
	}{
		{"runners_list", []string{"runners", "list"}},
		{"runners_list_live", []string{"runners", "list", "--state", "running,waiting_for_job"}},
		{"runners_list_repo", []string{"runners", "list", "--repo", "octo/api"}},
		{"runners_list_since", []string{"runners", "list", "--since", "1m"}},
		{"runners_list_limit", []string{"runners", "list", "--limit", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.run("", tt.args...)
			if r.code != 0 {
				t.Fatalf("fleetctl %s: exit %d, stderr %q", strings.Join(tt.args, " "), r.code, r.stderr)
			}
			golden(t, tt.name, r.stdout)
		})
	}
}

func TestRunnersListJSON(t *testing.T) {
	e := newEnv(t)
	mix := seedMix(e)
	r := e.run("", "runners", "list", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got []Runner
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("--json output is not a JSON array of runners: %v\n%s", err, r.stdout)
	}
	want := map[string]string{
		mix["done"].name: StateDone, mix["reaped"].name: StateReaped, mix["failed"].name: StateFailed,
		mix["running"].name: StateRunning, mix["waiting"].name: StateWaitingForJob,
		mix["building"].name: StateBuildingImage, mix["starting"].name: StateStarting,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d runners, want %d", len(got), len(want))
	}
	for _, r := range got {
		if want[r.Name] != r.State {
			t.Errorf("runner %s: state %s, want %s", r.Name, r.State, want[r.Name])
		}
	}
	if got[0].Name != mix["starting"].name {
		t.Errorf("first runner %s, want the newest (%s)", got[0].Name, mix["starting"].name)
	}
	if got[3].TaskARN != mix["running"].task || got[3].Repository != "octo/hello" || got[3].JobID != 104 || got[3].Class != "large" {
		t.Errorf("running runner = %+v", got[3])
	}
}

func TestRunnersShow(t *testing.T) {
	e := newEnv(t)
	mix := seedMix(e)
	for _, key := range []string{"failed", "running", "reaped", "building"} {
		t.Run(key, func(t *testing.T) {
			r := e.run("", "runners", "show", mix[key].name)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			golden(t, "runners_show_"+key, r.stdout)
		})
	}
	t.Run("json", func(t *testing.T) {
		r := e.run("", "runners", "show", mix["failed"].name, "--json")
		var d RunnerDetail
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || r.code != 0 {
			t.Fatalf("exit %d, %v: %s%s", r.code, err, r.stdout, r.stderr)
		}
		if d.State != StateFailed || d.Error != "RunnerFailed" || d.ExitCode == nil || *d.ExitCode != 2 || d.TaskARN != mix["failed"].task {
			t.Errorf("show --json = %+v", d)
		}
		if !strings.Contains(d.LogURL, "log-group/$252Frunner-fleet$252Frunners/log-events/runner$252Frunner$252F") {
			t.Errorf("log link %q does not name the runner's stream", d.LogURL)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		r := e.run("", "runners", "show", "octo-nope-1-1")
		if r.code != 1 || !strings.Contains(r.stderr, "no runner octo-nope-1-1") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q; want 1 and one line naming the runner", r.code, r.stderr)
		}
	})
	t.Run("no name", func(t *testing.T) {
		if r := e.run("", "runners", "show"); r.code != 2 {
			t.Errorf("exit %d, want 2 (usage)", r.code)
		}
	})
}

func TestRunnersStopIsRepeatable(t *testing.T) {
	e := newEnv(t)
	s := e.seedRunner(seed{job: 500, phase: phaseRunning, registered: true})
	if n := len(e.gh.Runners("repo:octo/hello")); n != 1 {
		t.Fatalf("setup: %d registrations, want 1", n)
	}

	first := e.run("", "runners", "stop", s.name)
	if first.code != 0 {
		t.Fatalf("first stop: exit %d: %s", first.code, first.stderr)
	}
	golden(t, "runners_stop_first", first.stdout)
	if st, _ := e.aws.SFN.Status(s.arn); st != "ABORTED" {
		t.Errorf("execution status %s, want ABORTED", st)
	}
	if task, _ := e.aws.ECS.Task(s.task); task.DesiredStatus != "STOPPED" || task.StoppedReason != StopReason {
		t.Errorf("task desired %s reason %q, want STOPPED by the operator", task.DesiredStatus, task.StoppedReason)
	}
	if n := len(e.gh.Runners("repo:octo/hello")); n != 0 {
		t.Errorf("%d registrations left, want 0", n)
	}
	show := e.run("", "runners", "show", s.name, "--json")
	var d RunnerDetail
	if err := json.Unmarshal([]byte(show.stdout), &d); err != nil || d.Error != StopError || d.State != StateFailed {
		t.Errorf("after stop, show = %+v (%v); want error %s, state FAILED", d, err, StopError)
	}

	second := e.run("", "runners", "stop", s.name)
	if second.code != 0 {
		t.Fatalf("second stop: exit %d: %s", second.code, second.stderr)
	}
	golden(t, "runners_stop_again", second.stdout)
}

func TestRunnersListPaginates(t *testing.T) {
	e := newEnv(t)
	const n = 230 // three ListExecutions pages of 100
	for i := range n {
		e.seedRunner(seed{job: int64(1000 + i), phase: phaseDone})
	}
	e.aws.ResetCalls()
	r := e.run("", "runners", "list", "--json", "--limit", "1000")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got []Runner
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("listed %d runners, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for i, r := range got {
		if seen[r.Name] {
			t.Fatalf("runner %s listed twice", r.Name)
		}
		seen[r.Name] = true
		if want := int64(1000 + n - 1 - i); r.JobID != want {
			t.Fatalf("row %d is job %d, want %d (newest first)", i, r.JobID, want)
		}
	}
	// Three pages; on a loaded machine (make test runs this under -race beside other
	// suites) the SDK may retry one call after a transient connection error.
	if calls := e.aws.Calls("sfn", "ListExecutions"); calls < 3 || calls > 4 {
		t.Errorf("%d ListExecutions calls, want 3 pages (4 with one SDK retry)", calls)
	}
	if calls := e.aws.Calls("sfn", "GetExecutionHistory"); calls != 0 {
		t.Errorf("%d history reads for closed executions, want none", calls)
	}

	// --limit bounds the work too.
	e.aws.ResetCalls()
	if r := e.run("", "runners", "list", "--limit", "5"); r.code != 0 || strings.Count(r.stdout, "\n") != 6 {
		t.Errorf("--limit 5: exit %d, %d lines", r.code, strings.Count(r.stdout, "\n"))
	}
	if calls := e.aws.Calls("sfn", "DescribeExecution"); calls != 5 {
		t.Errorf("--limit 5 described %d executions, want 5", calls)
	}
	if calls := e.aws.Calls("sfn", "ListExecutions"); calls != 1 {
		t.Errorf("--limit 5 listed %d pages, want 1", calls)
	}
}

func TestDeriveState(t *testing.T) {
	entered := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	task := []string{"arn:aws:ecs:us-east-1:1:task/c/t1"}
	done := &fleet.Result{Outcome: fleet.OutcomeJobCompleted}
	reaped := &fleet.Result{Outcome: fleet.OutcomeReapedIdle}
	tests := []struct {
		name   string
		status sfntypes.ExecutionStatus
		result *fleet.Result
		p      progress
		tagged bool
		want   string
	}{
		{"succeeded with a job", sfntypes.ExecutionStatusSucceeded, done, progress{}, false, StateDone},
		{"succeeded idle", sfntypes.ExecutionStatusSucceeded, reaped, progress{}, false, StateReaped},
		{"failed", sfntypes.ExecutionStatusFailed, nil, progress{}, false, StateFailed},
		{"timed out", sfntypes.ExecutionStatusTimedOut, nil, progress{}, false, StateFailed},
		{"aborted", sfntypes.ExecutionStatusAborted, nil, progress{}, false, StateFailed},
		{"resolving", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("ResolveImage")}, false, StateStarting},
		{"building", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("ResolveImage", "ImageReady?", "BuildImage")}, false, StateBuildingImage},
		{"build joined, rechecking", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("BuildImage", "RecheckImage")}, false, StateStarting},
		{"registering", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("BuildImage", "RequestRunner")}, false, StateStarting},
		{"task not yet submitted", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("Runner", "RunRunner")}, false, StateStarting},
		{"task submitted", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("RunRunner"), tasks: task}, false, StateWaitingForJob},
		{"task tagged with the job", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("RunRunner"), tasks: task}, true, StateRunning},
		{"runner exited, idle wait open", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("RunRunner"), tasks: task, runnerExited: true}, true, StateDone},
		{"reaped, cleanup pending", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("ReapIfIdle"), tasks: task, reap: fleet.ReapReaped}, false, StateReaped},
		{"reaper found it busy", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("ReapIfIdle"), tasks: task, reap: fleet.ReapBusy}, true, StateRunning},
		{"runner stopped with an error", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("RunRunner", "RunnerStopped"), tasks: task}, true, StateFailed},
		{"launch failed", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("RunRunner", "LaunchFailure")}, false, StateFailed},
		{"cleanup after an early failure", sfntypes.ExecutionStatusRunning, nil, progress{entered: entered("ResolveImage", "Cleanup")}, false, StateFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.p.entered == nil {
				tt.p.entered = map[string]bool{}
			}
			if got := deriveState(tt.status, tt.result, tt.p, tt.tagged); got != tt.want {
				t.Errorf("deriveState(%s, %+v, %+v, tagged=%v) = %s, want %s", tt.status, tt.result, tt.p, tt.tagged, got, tt.want)
			}
		})
	}
}

func TestRunnersStopBeforeRegistration(t *testing.T) {
	e := newEnv(t)
	s := e.seedRunner(seed{job: 700, phase: phaseResolving})
	r := e.run("", "runners", "stop", s.name)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "runners_stop_starting", r.stdout)
}

func TestRunnersStopBusyRegistration(t *testing.T) {
	e := newEnv(t)
	s := e.seedRunner(seed{job: 600, phase: phaseRunning, registered: true})
	if err := e.gh.SetBusy(s.runnerID, true); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "runners", "stop", s.name)
	if r.code != 1 || !strings.Contains(r.stderr, "GitHub still sees it running a job") || !strings.Contains(r.stderr, "runners stop "+s.name+" again") {
		t.Fatalf("busy registration: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "stopped (error StoppedByOperator)") || !strings.Contains(r.stdout, ": stopping") {
		t.Errorf("the steps before the refusal are not reported:\n%s", r.stdout)
	}
	if err := e.gh.SetBusy(s.runnerID, false); err != nil {
		t.Fatal(err)
	}
	if r := e.run("", "runners", "stop", s.name); r.code != 0 || !strings.Contains(r.stdout, "registration  deleted") {
		t.Errorf("after the job ended: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestRunnersListAWSErrorIsOneLine(t *testing.T) {
	e := newEnv(t)
	e.seedRunner(seed{job: 1, phase: phaseDone})
	if err := e.aws.SetFault("sfn", "DescribeExecution", awsfake.Fault{Err: &awsfake.APIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: states:DescribeExecution"}}); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "runners", "list")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "states:DescribeExecution") || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and one line naming the denied call", r.code, r.stdout, r.stderr)
	}
}

func TestReadProgress(t *testing.T) {
	ev := func(typ sfntypes.HistoryEventType, f func(*sfntypes.HistoryEvent)) sfntypes.HistoryEvent {
		e := sfntypes.HistoryEvent{Type: typ}
		if f != nil {
			f(&e)
		}
		return e
	}
	exited := func(name, output string) sfntypes.HistoryEvent {
		return ev(sfntypes.HistoryEventTypeTaskStateExited, func(e *sfntypes.HistoryEvent) {
			e.StateExitedEventDetails = &sfntypes.StateExitedEventDetails{Name: aws.String(name), Output: aws.String(output)}
		})
	}
	ecsSucceeded := ev(sfntypes.HistoryEventTypeTaskSucceeded, func(e *sfntypes.HistoryEvent) {
		e.TaskSucceededEventDetails = &sfntypes.TaskSucceededEventDetails{ResourceType: aws.String("ecs"), Resource: aws.String("runTask.sync"), Output: aws.String("{}")}
	})
	submitted := ev(sfntypes.HistoryEventTypeTaskSubmitted, func(e *sfntypes.HistoryEvent) {
		e.TaskSubmittedEventDetails = &sfntypes.TaskSubmittedEventDetails{ResourceType: aws.String("ecs"), Resource: aws.String("runTask.sync"), Output: aws.String(`{"Tasks":[{"TaskArn":"arn:t1"}]}`)}
	})
	failed := ev(sfntypes.HistoryEventTypeTaskFailed, func(e *sfntypes.HistoryEvent) {
		e.TaskFailedEventDetails = &sfntypes.TaskFailedEventDetails{ResourceType: aws.String("ecs"), Resource: aws.String("runTask.sync"), Error: aws.String("States.TaskFailed")}
	})

	// A caught RunRunner failure exits the state too (fixtures/aws/stepfunctions/history/
	// lambda-invoke-service.exception-caught.json): it is not a normal end.
	p := readProgress([]sfntypes.HistoryEvent{submitted, failed, exited("RunRunner", `{"failure":{}}`)})
	if p.runnerExited || len(p.tasks) != 1 || p.tasks[0] != "arn:t1" {
		t.Errorf("caught failure: %+v; want tasks [arn:t1] and not exited", p)
	}
	// A Spot fallback submits a second task: newest first, in either order.
	second := submitted
	second.Id = 40
	second.TaskSubmittedEventDetails = &sfntypes.TaskSubmittedEventDetails{ResourceType: aws.String("ecs"), Resource: aws.String("runTask.sync"), Output: aws.String(`{"Tasks":[{"TaskArn":"arn:t2"}]}`)}
	submitted.Id = 12
	for _, evs := range [][]sfntypes.HistoryEvent{{submitted, second}, {second, submitted}} {
		if p := readProgress(evs); len(p.tasks) != 2 || p.tasks[0] != "arn:t2" {
			t.Errorf("tasks %q, want [arn:t2 arn:t1]", p.tasks)
		}
	}
	p = readProgress([]sfntypes.HistoryEvent{submitted, ecsSucceeded, exited("RunRunner", "{}")})
	if !p.runnerExited {
		t.Errorf("runTask succeeded: %+v; want exited", p)
	}
	p = readProgress([]sfntypes.HistoryEvent{exited("ReapIfIdle", `{"outcome":"reaped","task_arn":"arn:t1"}`)})
	if p.reap != fleet.ReapReaped {
		t.Errorf("reap outcome %q, want reaped", p.reap)
	}
}
