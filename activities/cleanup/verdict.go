package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/runnerfleet/fleet/internal/fleet"
)

// Step Functions error names Cleanup reads in the state document.
const (
	errTaskFailed = "States.TaskFailed"
	errTimeout    = "States.Timeout"
	// errBuildJoinedClosed is BuildImage's Catch to RecheckImage: a build of the tag had
	// already finished. It is not a failure of the execution by itself.
	errBuildJoinedClosed = "StepFunctions.ExecutionAlreadyExistsException"
)

// maxCause bounds the cause Cleanup writes: one line an operator reads in the console.
const maxCause = 1024

// failureOrder lists the states whose Catch writes $.failure.<state> and routes to
// Cleanup, latest first: the first one present is the one that ended the run.
var failureOrder = []string{"Runner", "RequestRunner", "RecheckImage", "BuildImage", "ResolveImage"}

// verdict is what the state document says happened, before Cleanup acts.
type verdict struct {
	outcome string
	errName string
	cause   string
	// task is the runner task as the state reports it (stopped), when it does.
	task     *ecsTask
	exitCode *int
	jobRan   bool
	// launched: the workflow got as far as starting a runner task, so one may exist
	// even when the state names none.
	launched bool
}

func (v verdict) failed(name, cause string) verdict {
	v.outcome, v.errName, v.cause = fleet.OutcomeFailed, name, oneLine(cause)
	return v
}

// summary is the verdict in a few words, for messages that must not lose it.
func (v verdict) summary() string {
	if v.errName == "" {
		return v.outcome
	}
	return v.outcome + " with " + v.errName + ": " + v.cause
}

// entrypointExits explains the runner entrypoint's own exit codes (docs/runner.md).
var entrypointExits = map[int]string{
	65: "the seal cannot be opened: RUNNER_FLEET_SEALED_JIT and RUNNER_FLEET_EXECUTION from different executions, altered, or another key",
	69: "KMS could not be asked to open the seal: check the task role's kms:Decrypt, the network path to KMS and AWS_REGION",
	71: "run.sh exists but could not be started",
	72: "no executable run.sh in the runner directory: check the image",
	75: "stopped by a signal before the runner started; no job taken",
	78: "RUNNER_FLEET_* missing or malformed: check the container name (runner) and the RunTask overrides",
}

// exitMeaning is ": <meaning>" for a known exit code, else "".
func exitMeaning(code int) string {
	if m, ok := entrypointExits[code]; ok {
		return ": " + m
	}
	if code > 128 && code < 160 {
		return fmt.Sprintf(": ended by signal %d", code-128)
	}
	return ""
}

// ecsTask is the ECS task as Step Functions hands it over: the runTask.sync output or
// the JSON cause of its States.TaskFailed, DescribeTasks' task in PascalCase.
type ecsTask struct {
	TaskArn       string
	LastStatus    string
	DesiredStatus string
	StopCode      string
	StoppedReason string
	Containers    []ecsContainer
}

type ecsContainer struct {
	Name     string
	ExitCode *int
	Reason   string
}

// parseTask decodes data as a task object; ok is false when it is not one.
func parseTask(data []byte) (*ecsTask, bool) {
	var t ecsTask
	if err := json.Unmarshal(data, &t); err != nil || t.TaskArn == "" {
		return nil, false
	}
	return &t, true
}

// runnerFirst returns the containers with the runner container first.
func (t *ecsTask) runnerFirst() []ecsContainer {
	cs := slices.Clone(t.Containers)
	slices.SortStableFunc(cs, func(a, b ecsContainer) int {
		switch {
		case a.Name == fleet.RunnerContainer && b.Name != fleet.RunnerContainer:
			return -1
		case b.Name == fleet.RunnerContainer && a.Name != fleet.RunnerContainer:
			return 1
		}
		return 0
	})
	return cs
}

// exitCode is the runner container's exit code, else the first one reported.
func (t *ecsTask) exitCode() *int {
	for _, c := range t.runnerFirst() {
		if c.ExitCode != nil {
			return c.ExitCode
		}
	}
	return nil
}

// nonZero returns the first container (runner first) that exited non-zero: any such
// container fails runTask.sync (fixtures/aws/stepfunctions/integrations.json).
func (t *ecsTask) nonZero() (ecsContainer, bool) {
	for _, c := range t.runnerFirst() {
		if c.ExitCode != nil && *c.ExitCode != 0 {
			return c, true
		}
	}
	return ecsContainer{}, false
}

// stopped describes how the task stopped, for causes.
func (t *ecsTask) stopped() string {
	switch {
	case t.StopCode != "" && t.StoppedReason != "":
		return t.StopCode + ": " + t.StoppedReason
	case t.StopCode != "":
		return t.StopCode
	case t.StoppedReason != "":
		return t.StoppedReason
	}
	return "no stop reason recorded"
}

// analyze reads the state document Cleanup receives and names what happened.
func analyze(st fleet.State) verdict {
	if state, f, ok := terminalFailure(st.Failure); ok {
		return failureVerdict(st, state, f)
	}
	if st.Run == nil {
		return verdict{launched: st.Runner != nil}.failed(fleet.ErrInvalidInput,
			"Cleanup was reached with neither a caught failure nor the Runner state's result; the state document is incomplete (was the execution started by hand?)")
	}
	return runVerdict(st)
}

// terminalFailure finds the caught failure that routed the execution to Cleanup.
func terminalFailure(m map[string]fleet.StepFailure) (string, fleet.StepFailure, bool) {
	for _, state := range failureOrder {
		f, ok := m[state]
		if !ok || (state == "BuildImage" && f.Error == errBuildJoinedClosed) {
			continue
		}
		return state, f, true
	}
	// A state this version does not know of: report its error as it is.
	for _, state := range sortedKeys(m) {
		if !slices.Contains(failureOrder, state) {
			return state, m[state], true
		}
	}
	return "", fleet.StepFailure{}, false
}

func failureVerdict(st fleet.State, state string, f fleet.StepFailure) verdict {
	v := verdict{}
	switch state {
	case "BuildImage":
		return v.failed(fleet.ErrImageBuildFailed, buildCause(st, f))
	case "Runner":
		v.launched = true
		if f.Error == fleet.ErrRunnerLaunchFailed {
			return v.failed(fleet.ErrRunnerLaunchFailed, "ECS could not start the runner task: "+launchCause(f.Cause))
		}
		return v.failed(errorName(f.Error, fleet.ErrRunnerFailed), "the Runner state failed: "+summarize(f.Cause))
	}
	if f.Error == errTimeout {
		return v.failed(errTimeout, state+" did not answer within its TimeoutSeconds")
	}
	return v.failed(errorName(f.Error, "ActivityFailed"), state+": "+summarize(f.Cause))
}

// errorName is name, or fallback when the failure carried none.
func errorName(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}

// buildCause explains a failed BuildImage: the child execution's description is the
// cause, and inside it the CodeBuild build whose Logs.DeepLink is the build log.
func buildCause(st fleet.State, f fleet.StepFailure) string {
	image := ""
	if st.Plan != nil && st.Plan.Image.Tag != "" {
		image = fmt.Sprintf(" of %s (tag %s)", st.ImageRef, st.Plan.Image.Tag)
	} else if st.ImageRef != "" {
		image = " of " + st.ImageRef
	}
	if f.Error == errTimeout {
		secs := 0
		if st.Plan != nil {
			secs = st.Plan.Timeouts.BuildSeconds
		}
		return fmt.Sprintf("the image build%s did not finish within plan.timeouts.build_seconds (%d s)", image, secs)
	}
	var doc any
	_ = json.Unmarshal([]byte(f.Cause), &doc)
	parts := []string{"the image build" + image + " failed"}
	if status := findString(doc, "BuildStatus", 0); status != "" {
		parts[0] += " (CodeBuild " + status + ")"
	} else if status := findString(doc, "Status", 0); status != "" && status != "SUCCEEDED" {
		parts[0] += " (build execution " + status + ")"
	}
	// The child's own cause when it is text (a timeout message), not the build JSON.
	if m, ok := doc.(map[string]any); ok {
		if c, ok := m["Cause"].(string); ok && c != "" && !strings.HasPrefix(strings.TrimSpace(c), "{") {
			parts = append(parts, c)
		}
	} else if doc == nil && f.Cause != "" {
		parts = append(parts, f.Cause)
	}
	if link := findString(doc, "DeepLink", 0); link != "" {
		parts = append(parts, "build log: "+link)
	}
	return strings.Join(parts, "; ")
}

// launchCause explains RunnerLaunchFailed: its cause is the branch's failure map
// ({"RunRunner": {"Error", "Cause"}, "RunRunnerOnDemand": ...}) as JSON text.
func launchCause(cause string) string {
	var m map[string]fleet.StepFailure
	if err := json.Unmarshal([]byte(cause), &m); err != nil || len(m) == 0 {
		return summarize(cause)
	}
	var parts []string
	for _, state := range []string{"RunRunner", "RunRunnerOnDemand"} {
		if f, ok := m[state]; ok {
			parts = append(parts, state+": "+f.Error+": "+summarize(f.Cause))
		}
	}
	if len(parts) == 0 {
		return summarize(cause)
	}
	return strings.Join(parts, "; ")
}

// runVerdict reads the Runner Parallel's result: the task branch and the reap.
func runVerdict(st fleet.State) verdict {
	v := verdict{launched: true}
	reap := st.Run.Reap
	if reap == nil {
		reap = &fleet.Reap{}
	}
	reaped := reap.Outcome == fleet.ReapReaped
	v.jobRan = reap.Outcome == fleet.ReapBusy || reap.Outcome == fleet.ReapGone

	task, caught := branchResult(st.Run.Task)
	v.task = task
	if task != nil {
		v.exitCode = task.exitCode()
	}
	reapedIdle := func() verdict {
		v.outcome, v.jobRan = fleet.OutcomeReapedIdle, false
		return v
	}
	switch {
	case task != nil && task.StoppedReason == fleet.ReapStopReason:
		return reapedIdle()
	case reaped && reap.TaskArn == "":
		// The registration was deleted before the task came up: whatever the task did
		// next (fail to register, exit) follows from the reap.
		return reapedIdle()
	case caught.Error == errTimeout:
		ttl := 0
		if st.Plan != nil {
			ttl = st.Plan.Timeouts.RunnerTTLSeconds
		}
		return v.failed(fleet.ErrRunnerTimedOut, fmt.Sprintf("the runner outlived the runner TTL (plan.timeouts.runner_ttl_seconds = %d s); Cleanup stopped its task", ttl))
	case task == nil && caught.Error != "":
		return v.failed(fleet.ErrRunnerFailed, fmt.Sprintf("the runner task failed (%s): %s", caught.Error, summarize(caught.Cause)))
	case task == nil && reaped:
		return reapedIdle()
	case task == nil:
		return v.failed(fleet.ErrInvalidInput, "the Runner state's result holds no task; the state document is incomplete")
	case task.StopCode == "TaskFailedToStart":
		return v.failed(fleet.ErrRunnerLaunchFailed, "the runner task failed to start: "+task.StoppedReason)
	}
	if c, ok := task.nonZero(); ok {
		cause := fmt.Sprintf("container %q exited with code %d%s (%s)", c.Name, *c.ExitCode, exitMeaning(*c.ExitCode), task.stopped())
		if c.Reason != "" {
			cause += "; container reason: " + c.Reason
		}
		return v.failed(fleet.ErrRunnerFailed, "the runner task failed: "+cause)
	}
	if caught.Error != "" || v.exitCode == nil {
		// Stopped without an exit code (Spot interruption, a StopTask by someone
		// else), or failed with none non-zero.
		return v.failed(fleet.ErrRunnerFailed, "the runner task stopped before its runner finished: "+task.stopped())
	}
	if reaped {
		// The runner left on its own once its registration was deleted.
		return reapedIdle()
	}
	v.outcome, v.jobRan = fleet.OutcomeJobCompleted, true
	return v
}

// branchResult reads the task branch's output: the stopped task (runTask.sync
// succeeded), or {"failure": {...}} from RunnerStopped whose latest entry is the
// caught error, its cause the task JSON for States.TaskFailed.
func branchResult(raw json.RawMessage) (*ecsTask, fleet.StepFailure) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, fleet.StepFailure{}
	}
	if t, ok := parseTask(raw); ok {
		return t, fleet.StepFailure{}
	}
	var out struct {
		Failure map[string]fleet.StepFailure `json:"failure"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fleet.StepFailure{}
	}
	for _, state := range []string{"RunRunnerOnDemand", "RunRunner"} {
		f, ok := out.Failure[state]
		if !ok {
			continue
		}
		t, _ := parseTask([]byte(f.Cause))
		return t, f
	}
	return nil, fleet.StepFailure{}
}

// summarize turns a caught cause into one readable line: a Lambda error's message, a
// task's stop reason, or the text itself.
func summarize(cause string) string {
	cause = strings.TrimSpace(cause)
	if cause == "" {
		return "no cause recorded"
	}
	if strings.HasPrefix(cause, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(cause), &m) == nil {
			if msg, ok := m["errorMessage"].(string); ok && msg != "" {
				return msg
			}
			if t, ok := parseTask([]byte(cause)); ok {
				return t.stopped()
			}
		}
	}
	return cause
}

// findString returns the first string value under key anywhere in v, looking into
// strings that hold JSON objects too (Step Functions nests causes as JSON text).
func findString(v any, key string, depth int) string {
	if depth > 8 {
		return ""
	}
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x[key].(string); ok && s != "" {
			return s
		}
		for _, k := range sortedKeys(x) {
			if s := findString(x[k], key, depth+1); s != "" {
				return s
			}
		}
	case []any:
		for _, e := range x {
			if s := findString(e, key, depth+1); s != "" {
				return s
			}
		}
	case string:
		if t := strings.TrimSpace(x); strings.HasPrefix(t, "{") {
			var inner any
			if json.Unmarshal([]byte(t), &inner) == nil {
				return findString(inner, key, depth+1)
			}
		}
	}
	return ""
}

// oneLine collapses whitespace and bounds the length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxCause {
		return s
	}
	cut := maxCause
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
