package statemachine

import (
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/runner/imageref"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// dummyValues gives every placeholder a syntactically valid value, as the CDK stack and
// fleet-local give real ones.
func dummyValues(t *testing.T, def []byte) map[string]string {
	t.Helper()
	values := map[string]string{}
	for _, k := range Keys(def) {
		switch {
		case strings.HasSuffix(k, "FunctionArn"):
			values[k] = "arn:aws:lambda:us-east-1:123456789012:function:" + strings.TrimSuffix(k, "FunctionArn")
		case strings.HasSuffix(k, "StateMachineArn"):
			values[k] = "arn:aws:states:us-east-1:123456789012:stateMachine:" + strings.TrimSuffix(k, "StateMachineArn")
		case strings.HasSuffix(k, "ProjectName"):
			values[k] = "runner-fleet-" + strings.ToLower(strings.TrimSuffix(k, "ProjectName"))
		default:
			t.Fatalf("placeholder %s has no dummy value; teach dummyValues about it", k)
		}
	}
	return values
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"RunnerFleet", RunnerFleetKeys(), []string{
			"CleanupFunctionArn", "ImageBuildStateMachineArn", "ReapIfIdleFunctionArn",
			"RequestRunnerFunctionArn", "ResolveImageFunctionArn",
		}},
		{"ImageBuild", ImageBuildKeys(), []string{"ImageBuildProjectName"}},
		{"duplicates and order", Keys([]byte(`{"a":"${B}","b":"${A}","c":"${B}","d":"$${C}","e":"${9x}"}`)), []string{"A", "B", "C"}},
		{"none", Keys([]byte(`{"a":"$.b"}`)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Equal(tt.got, tt.want) {
				t.Errorf("Keys = %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	def := []byte(`{"FunctionName":"${Fn}","Name":"${Project}","Again":"${Fn}"}`)
	tests := []struct {
		name        string
		def         []byte
		values      map[string]string
		want        string
		wantMissing []string
		wantUnused  []string
		wantErr     string
	}{
		{
			name:   "every placeholder filled",
			def:    def,
			values: map[string]string{"Fn": "arn:aws:lambda:us-east-1:123456789012:function:x", "Project": "p"},
			want:   `{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:x","Name":"p","Again":"arn:aws:lambda:us-east-1:123456789012:function:x"}`,
		},
		{
			name:        "a placeholder without a value",
			def:         def,
			values:      map[string]string{"Fn": "f"},
			wantMissing: []string{"Project"},
		},
		{
			name:       "a value without a placeholder",
			def:        def,
			values:     map[string]string{"Fn": "f", "Project": "p", "Zeta": "z", "Alpha": "a"},
			wantUnused: []string{"Alpha", "Zeta"},
		},
		{
			name:        "both at once",
			def:         def,
			values:      map[string]string{"Fn": "f", "Other": "o"},
			wantMissing: []string{"Project"},
			wantUnused:  []string{"Other"},
		},
		{
			name:   "a value is escaped as JSON string content",
			def:    []byte(`{"a":"${V}"}`),
			values: map[string]string{"V": `say "hi"\now`},
			want:   `{"a":"say \"hi\"\\now"}`,
		},
		{
			name:    "a placeholder outside a string",
			def:     []byte(`{"a":${V}}`),
			values:  map[string]string{"V": "not-a-number"},
			wantErr: "not valid JSON",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Substitute(tt.def, tt.values)
			var serr *SubstitutionError
			switch {
			case tt.wantMissing != nil || tt.wantUnused != nil:
				if !errors.As(err, &serr) {
					t.Fatalf("Substitute(%s, %v) error = %v, want a *SubstitutionError", tt.def, tt.values, err)
				}
				if !slices.Equal(serr.Missing, tt.wantMissing) || !slices.Equal(serr.Unused, tt.wantUnused) {
					t.Errorf("missing %q unused %q, want missing %q unused %q", serr.Missing, serr.Unused, tt.wantMissing, tt.wantUnused)
				}
				for _, k := range append(slices.Clone(tt.wantMissing), tt.wantUnused...) {
					if !strings.Contains(err.Error(), k) {
						t.Errorf("error %q does not name %s", err, k)
					}
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Substitute(%s) error = %v, want one containing %q", tt.def, err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("Substitute(%s, %v): %v", tt.def, tt.values, err)
				}
				if string(got) != tt.want {
					t.Errorf("Substitute(%s, %v)\n got %s\nwant %s", tt.def, tt.values, got, tt.want)
				}
			}
		})
	}
}

func TestDefinitionsReturnCopies(t *testing.T) {
	a := RunnerFleet()
	a[0] = 'X'
	if RunnerFleet()[0] == 'X' {
		t.Fatal("RunnerFleet returned the embedded bytes; a caller changed the definition")
	}
}

// TestGolden keeps the substituted definitions in testdata/ so a change to the workflow
// shows up as a reviewable diff (go test ./statemachine -update rewrites them).
func TestGolden(t *testing.T) {
	for name, def := range map[string][]byte{"runnerfleet": RunnerFleet(), "imagebuild": ImageBuild()} {
		t.Run(name, func(t *testing.T) {
			got, err := Substitute(def, dummyValues(t, def))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".substituted.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test ./statemachine -update to create it): %v", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the substituted definition; review the change and run go test ./statemachine -update", path)
			}
		})
	}
}

// state is the part of an ASL state these tests inspect.
type state struct {
	Type               string            `json:"Type"`
	Resource           string            `json:"Resource"`
	Parameters         json.RawMessage   `json:"Parameters"`
	ResultSelector     map[string]string `json:"ResultSelector"`
	ResultPath         *string           `json:"ResultPath"`
	OutputPath         *string           `json:"OutputPath"`
	TimeoutSeconds     int               `json:"TimeoutSeconds"`
	TimeoutSecondsPath string            `json:"TimeoutSecondsPath"`
	HeartbeatSeconds   int               `json:"HeartbeatSeconds"`
	SecondsPath        string            `json:"SecondsPath"`
	Seconds            int               `json:"Seconds"`
	Retry              []retrier         `json:"Retry"`
	Catch              []catcher         `json:"Catch"`
	Next               string            `json:"Next"`
	End                bool              `json:"End"`
	Default            string            `json:"Default"`
	Choices            []json.RawMessage `json:"Choices"`
	Branches           []machine         `json:"Branches"`
	Error              string            `json:"Error"`
	ErrorPath          string            `json:"ErrorPath"`
	Comment            string            `json:"Comment"`
}

type retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds int      `json:"IntervalSeconds"`
	MaxAttempts     int      `json:"MaxAttempts"`
	BackoffRate     float64  `json:"BackoffRate"`
	MaxDelaySeconds int      `json:"MaxDelaySeconds"`
	JitterStrategy  string   `json:"JitterStrategy"`
}

type catcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	ResultPath  string   `json:"ResultPath"`
	Next        string   `json:"Next"`
}

type machine struct {
	Comment        string           `json:"Comment"`
	StartAt        string           `json:"StartAt"`
	TimeoutSeconds int              `json:"TimeoutSeconds"`
	States         map[string]state `json:"States"`
}

func parse(t *testing.T, def []byte) machine {
	t.Helper()
	var m machine
	if err := json.Unmarshal(def, &m); err != nil {
		t.Fatalf("definition is not valid JSON: %v", err)
	}
	return m
}

// walk visits every state, branches included; top is true outside any Parallel.
func walk(m machine, top bool, fn func(name string, s state, top bool)) {
	for _, name := range slices.Sorted(maps.Keys(m.States)) {
		s := m.States[name]
		fn(name, s, top)
		for _, b := range s.Branches {
			walk(b, false, fn)
		}
	}
}

var (
	stateName  = regexp.MustCompile(`^[A-Z][A-Za-z]+\??$`)
	lambdaErrs = []string{"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"}
)

// TestRunnerFleetRules checks the rules every state of RunnerFleet follows (docs/workflow.md).
func TestRunnerFleetRules(t *testing.T) {
	m := parse(t, RunnerFleet())
	if m.TimeoutSeconds != 25*60*60 {
		t.Errorf("TimeoutSeconds = %d, want 25 hours (a job waits at most 24 h for a runner, plus margin)", m.TimeoutSeconds)
	}
	if !strings.Contains(m.Comment, "25 hours") {
		t.Errorf("the top-level Comment does not explain TimeoutSeconds: %q", m.Comment)
	}
	checkGraph(t, "RunnerFleet", m)
	tasks := 0
	walk(m, true, func(name string, s state, top bool) {
		checkName(t, name, s)
		if s.Comment == "" && s.Type != "Succeed" {
			t.Errorf("%s has no Comment saying what it does", name)
		}
		switch s.Type {
		case "Wait":
			if name == "WaitForGitHub" {
				if s.SecondsPath != "$.rate_limit.seconds" || s.Next != "RequestRunner" {
					t.Errorf("Wait %s: SecondsPath %q then %q, want GitHub's wait ($.rate_limit.seconds) then RequestRunner", name, s.SecondsPath, s.Next)
				}
				return
			}
			if s.SecondsPath == "" || !strings.HasPrefix(s.SecondsPath, "$.plan.timeouts.") {
				t.Errorf("Wait %s: SecondsPath = %q, want one from plan.timeouts", name, s.SecondsPath)
			}
		case "Parallel":
			checkCatch(t, name, s, "Cleanup", "$.failure."+name)
		case "Task":
			tasks++
			checkTask(t, name, s)
			if name == "Cleanup" {
				if len(s.Catch) != 0 {
					t.Errorf("Cleanup has a Catch; its failure must be the execution's failure")
				}
				return
			}
			next := "Cleanup"
			if !top {
				next = "" // branch states record their failure inside the branch
			}
			checkCatch(t, name, s, next, "$.failure."+name)
		}
	})
	if tasks != 8 {
		t.Errorf("found %d Task states, want 8 (ResolveImage, BuildImage, RecheckImage, RequestRunner, RunRunner, RunRunnerOnDemand, ReapIfIdle, Cleanup)", tasks)
	}
}

func TestImageBuildRules(t *testing.T) {
	m := parse(t, ImageBuild())
	checkGraph(t, "RunnerFleetImageBuild", m)
	walk(m, true, func(name string, s state, _ bool) {
		checkName(t, name, s)
		if s.Type == "Task" {
			checkTask(t, name, s)
			checkCatch(t, name, s, "", "$.failure")
		}
		if s.Type == "Fail" && s.Error != fleet.ErrImageBuildFailed {
			t.Errorf("Fail %s: Error = %q, want %s", name, s.Error, fleet.ErrImageBuildFailed)
		}
	})
}

func checkName(t *testing.T, name string, s state) {
	t.Helper()
	if !stateName.MatchString(name) {
		t.Errorf("state name %q is not a readable CamelCase word (Choice names end in ?)", name)
	}
	if (s.Type == "Choice") != strings.HasSuffix(name, "?") {
		t.Errorf("state %q (%s): only Choice states are named as questions", name, s.Type)
	}
}

func checkTask(t *testing.T, name string, s state) {
	t.Helper()
	if s.TimeoutSeconds == 0 && s.TimeoutSecondsPath == "" {
		t.Errorf("Task %s has neither TimeoutSeconds nor TimeoutSecondsPath (the engine's default is 60 s, AWS's is none)", name)
	}
	if s.HeartbeatSeconds != 0 {
		t.Errorf("Task %s uses HeartbeatSeconds, which the local engine ignores", name)
	}
	if len(s.Retry) == 0 {
		t.Errorf("Task %s has no Retry", name)
	}
	for i, r := range s.Retry {
		if slices.Contains(r.ErrorEquals, "States.ALL") || slices.Contains(r.ErrorEquals, "States.TaskFailed") {
			t.Errorf("Task %s Retry[%d] retries a wildcard %q; retry named transient errors only", name, i, r.ErrorEquals)
		}
		if r.BackoffRate != 2 || r.MaxDelaySeconds <= 0 || r.JitterStrategy != "FULL" || r.MaxAttempts <= 0 || r.IntervalSeconds <= 0 {
			t.Errorf("Task %s Retry[%d] = %+v, want IntervalSeconds, MaxAttempts, BackoffRate 2, MaxDelaySeconds and JitterStrategy FULL", name, i, r)
		}
	}
	if s.Resource != "arn:aws:states:::lambda:invoke" {
		return
	}
	var params struct {
		FunctionName string         `json:"FunctionName"`
		Payload      map[string]any `json:"Payload"`
	}
	if err := json.Unmarshal(s.Parameters, &params); err != nil {
		t.Fatalf("Task %s Parameters: %v", name, err)
	}
	if len(Keys([]byte(params.FunctionName))) != 1 || !strings.HasSuffix(params.FunctionName, "FunctionArn}") {
		t.Errorf("Task %s FunctionName = %q, want a ${...FunctionArn} placeholder", name, params.FunctionName)
	}
	want := map[string]any{"state.$": "$", "execution.$": "$$.Execution.Id"}
	if name == "RecheckImage" {
		want["recheck"] = true
	}
	if !reflect.DeepEqual(params.Payload, want) {
		t.Errorf("Task %s Payload = %v, want %v (fleet.Invocation)", name, params.Payload, want)
	}
	var retried []string
	for _, r := range s.Retry {
		retried = append(retried, r.ErrorEquals...)
	}
	for _, e := range append(slices.Clone(lambdaErrs), fleet.ErrAWSThrottled) {
		if !slices.Contains(retried, e) {
			t.Errorf("Task %s does not retry %s", name, e)
		}
	}
	if (s.ResultSelector == nil) == (s.OutputPath == nil) {
		t.Errorf("Task %s must pick the Lambda's Payload with either ResultSelector or OutputPath \"$.Payload\"", name)
	}
	if s.OutputPath != nil && *s.OutputPath != "$.Payload" {
		t.Errorf("Task %s OutputPath = %q, want $.Payload", name, *s.OutputPath)
	}
	for key, path := range s.ResultSelector {
		if want := "$.Payload." + strings.TrimSuffix(key, ".$"); path != want {
			t.Errorf("Task %s ResultSelector %q = %q, want %q", name, key, path, want)
		}
	}
}

// checkCatch: the last catcher catches States.ALL, and every catcher records what it
// caught under wantPath (except the BuildImage catcher that is no failure) and, when
// wantNext is set, goes there.
func checkCatch(t *testing.T, name string, s state, wantNext, wantPath string) {
	t.Helper()
	if len(s.Catch) == 0 {
		t.Errorf("%s has no Catch", name)
		return
	}
	if last := s.Catch[len(s.Catch)-1]; !slices.Equal(last.ErrorEquals, []string{"States.ALL"}) {
		t.Errorf("%s: last Catch matches %q, want States.ALL so nothing escapes Cleanup", name, last.ErrorEquals)
	}
	for _, c := range s.Catch {
		if name == "BuildImage" && slices.Equal(c.ErrorEquals, []string{"StepFunctions.ExecutionAlreadyExistsException"}) {
			if c.Next != "RecheckImage" || c.ResultPath != "$.build" {
				t.Errorf("BuildImage: the already-exists catcher goes to %s writing %s, want RecheckImage writing $.build", c.Next, c.ResultPath)
			}
			continue
		}
		if name == "RequestRunner" && slices.Equal(c.ErrorEquals, []string{fleet.ErrGitHubRetryAfter}) {
			if c.Next != "ReadRetryAfter" || c.ResultPath != "$.rate_limit" {
				t.Errorf("RequestRunner: the GitHubRetryAfter catcher goes to %s writing %s, want ReadRetryAfter writing $.rate_limit", c.Next, c.ResultPath)
			}
			continue
		}
		if c.ResultPath != wantPath {
			t.Errorf("%s: Catch %q ResultPath = %q, want %q", name, c.ErrorEquals, c.ResultPath, wantPath)
		}
		if wantNext != "" && c.Next != wantNext {
			t.Errorf("%s: Catch %q goes to %q, want %q", name, c.ErrorEquals, c.Next, wantNext)
		}
	}
}

// checkGraph: every transition names a state of the same scope and every state is reachable.
func checkGraph(t *testing.T, what string, m machine) {
	t.Helper()
	if _, ok := m.States[m.StartAt]; !ok {
		t.Fatalf("%s: StartAt %q is no state", what, m.StartAt)
	}
	reached := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if reached[name] {
			return
		}
		reached[name] = true
		s, ok := m.States[name]
		if !ok {
			t.Errorf("%s: a transition goes to %q, which is no state here", what, name)
			return
		}
		targets := []string{s.Next, s.Default}
		for _, c := range s.Catch {
			targets = append(targets, c.Next)
		}
		for _, raw := range s.Choices {
			var rule struct{ Next string }
			if err := json.Unmarshal(raw, &rule); err != nil {
				t.Errorf("%s: Choice rule of %s: %v", what, name, err)
			}
			targets = append(targets, rule.Next)
		}
		for _, next := range targets {
			if next != "" {
				visit(next)
			}
		}
		for i, b := range s.Branches {
			checkGraph(t, what+"/"+name+"["+strconv.Itoa(i)+"]", b)
		}
	}
	visit(m.StartAt)
	for name := range m.States {
		if !reached[name] {
			t.Errorf("%s: state %s is unreachable", what, name)
		}
	}
}

// TestErrorNames: every error the workflow raises or matches by our own name is one of
// the named errors of docs/contract.md (fleet.Err*).
func TestErrorNames(t *testing.T) {
	named := []string{
		fleet.ErrImageNotAllowed, fleet.ErrClassNotFound, fleet.ErrImageBuildFailed, fleet.ErrGitHubAuthFailed,
		fleet.ErrGitHubUnavailable, fleet.ErrGitHubRateLimited, fleet.ErrRunnerLaunchFailed, fleet.ErrRunnerTimedOut,
		fleet.ErrRunnerFailed, fleet.ErrConfigurationInvalid, fleet.ErrInvalidInput, fleet.ErrAWSThrottled,
		fleet.ErrGitHubRetryAfter,
	}
	foreign := regexp.MustCompile(`^(States|Lambda|ECS|AmazonECS|StepFunctions|CodeBuild)\.`)
	for what, def := range map[string][]byte{"RunnerFleet": RunnerFleet(), "ImageBuild": ImageBuild()} {
		walk(parse(t, def), true, func(name string, s state, _ bool) {
			var used []string
			for _, r := range s.Retry {
				used = append(used, r.ErrorEquals...)
			}
			for _, c := range s.Catch {
				used = append(used, c.ErrorEquals...)
			}
			if s.Error != "" {
				used = append(used, s.Error)
			}
			for _, e := range used {
				if !foreign.MatchString(e) && !slices.Contains(named, e) {
					t.Errorf("%s/%s uses error %q, which is neither an AWS error nor a fleet.Err* name", what, name, e)
				}
			}
		})
	}
}

// TestResultSelectorsMatchGoTypes: ResolveImage and RequestRunner store their Payload
// field by field (a ResultSelector cannot store a whole value at a ResultPath), so the
// fields must be exactly the Go type's JSON fields, none of them omitempty (a missing
// field would stop the execution with States.Runtime).
func TestResultSelectorsMatchGoTypes(t *testing.T) {
	m := parse(t, RunnerFleet())
	tests := []struct {
		state string
		path  string
		typ   reflect.Type
	}{
		{"ResolveImage", "$.plan", reflect.TypeFor[fleet.Plan]()},
		{"RecheckImage", "$.plan", reflect.TypeFor[fleet.Plan]()},
		{"RequestRunner", "$.runner", reflect.TypeFor[fleet.Runner]()},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			s := m.States[tt.state]
			if s.ResultPath == nil || *s.ResultPath != tt.path {
				t.Errorf("ResultPath = %v, want %s", s.ResultPath, tt.path)
			}
			var selected []string
			for key := range s.ResultSelector {
				selected = append(selected, strings.TrimSuffix(key, ".$"))
			}
			slices.Sort(selected)
			var fields []string
			for f := range tt.typ.Fields() {
				tag := f.Tag.Get("json")
				name, opts, _ := strings.Cut(tag, ",")
				if name == "-" || name == "" {
					continue
				}
				if strings.Contains(opts, "omitempty") {
					t.Errorf("%s.%s is omitempty; the ResultSelector needs it present", tt.typ, f.Name)
				}
				fields = append(fields, name)
			}
			slices.Sort(fields)
			if !slices.Equal(selected, fields) {
				t.Errorf("ResultSelector picks %q, %s has JSON fields %q", selected, tt.typ, fields)
			}
		})
	}
}

// TestPathsExistInStateDocument resolves every $.plan… and $.runner… path the workflow
// reads against a fully populated fleet.State, so renaming a Go field without the ASL
// (or the reverse) fails here rather than as States.Runtime in an execution.
func TestPathsExistInStateDocument(t *testing.T) {
	doc := sampleState(t)
	build := fleetImageBuildInput(t)
	checks := []struct {
		what string
		def  []byte
		doc  any
		ok   func(path string) bool
	}{
		{"RunnerFleet", RunnerFleet(), doc, func(p string) bool {
			return strings.HasPrefix(p, "$.plan") || strings.HasPrefix(p, "$.runner")
		}},
		{"ImageBuild", ImageBuild(), build, func(p string) bool { return !strings.HasPrefix(p, "$.failure") }},
	}
	for _, c := range checks {
		paths := readPaths(t, c.def)
		if len(paths) == 0 {
			t.Fatalf("%s: found no paths to check", c.what)
		}
		for _, p := range paths {
			if !c.ok(p) {
				continue
			}
			if _, found := resolve(c.doc, p); !found {
				t.Errorf("%s reads %s, which a complete state document does not have", c.what, p)
			}
		}
	}
}

// readPaths collects the reference paths a definition reads from its state input
// (ResultSelector paths read a task's result and are left out).
func readPaths(t *testing.T, def []byte) []string {
	t.Helper()
	var raw any
	if err := json.Unmarshal(def, &raw); err != nil {
		t.Fatal(err)
	}
	pathKeys := map[string]bool{"Variable": true, "TimeoutSecondsPath": true, "SecondsPath": true, "ErrorPath": true, "CausePath": true, "InputPath": true}
	var paths []string
	var visit func(v any)
	visit = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "ResultSelector" {
					continue // reads the task's result, not the state input
				}
				if s, ok := x.(string); ok && strings.HasPrefix(s, "$.") && (strings.HasSuffix(k, ".$") || pathKeys[k]) {
					paths = append(paths, s)
				}
				visit(x)
			}
		case []any:
			for _, x := range v {
				visit(x)
			}
		}
	}
	visit(raw)
	slices.Sort(paths)
	return slices.Compact(paths)
}

// resolve follows a simple reference path ($.a.b[0].c) through decoded JSON.
func resolve(doc any, path string) (any, bool) {
	cur := doc
	for _, part := range strings.Split(strings.TrimPrefix(path, "$."), ".") {
		name, index, hasIndex := strings.Cut(part, "[")
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[name]; !ok {
			return nil, false
		}
		if hasIndex {
			i, err := strconv.Atoi(strings.TrimSuffix(index, "]"))
			arr, ok := cur.([]any)
			if err != nil || !ok || i >= len(arr) {
				return nil, false
			}
			cur = arr[i]
		}
	}
	return cur, true
}

func sampleState(t *testing.T) any {
	t.Helper()
	strategy := []fleet.CapacityProviderUse{{CapacityProvider: "FARGATE_SPOT", Weight: 1}}
	input, err := json.Marshal(fleetImageBuildInput(t))
	if err != nil {
		t.Fatal(err)
	}
	s := fleet.State{
		Job: fleet.Job{JobID: 1, RunID: 2, RunAttempt: 1, Repository: fleet.Repository{Owner: "o", Name: "r"}, Labels: []string{"self-hosted"}, ImageRef: "ubuntu:24.04", Class: "medium"},
		Plan: &fleet.Plan{
			Image: fleet.ImagePlan{Ref: "ubuntu:24.04", Tag: "t", URI: "u", Arch: "arm64", BuildName: "b", BuildInput: input},
			Class: fleet.Class{Name: "medium", CPU: 1024, Memory: 2048, Spot: true},
			Launch: fleet.Launch{
				Cluster: "c", TaskDefinition: "td", CapacityProviderStrategy: strategy,
				OnDemandStrategy: []fleet.CapacityProviderUse{{CapacityProvider: "FARGATE", Weight: 1}},
				Cpu:              "1024", Memory: "2048", Tags: []fleet.Tag{{Key: "runner-fleet:execution", Value: "x"}},
			},
			Timeouts: fleet.Timeouts{BuildSeconds: 1, IdleSeconds: 1, RunnerTTLSeconds: 1},
		},
		Runner: &fleet.Runner{Name: "x", ID: 1, Scope: "repo:o/r", Labels: []string{"self-hosted"}, SealedJITConfig: "sealed"},
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// fleetImageBuildInput is a complete RunnerFleetImageBuild input as ResolveImage writes
// it (imageref.Build.Input), decoded.
func fleetImageBuildInput(t *testing.T) any {
	t.Helper()
	build := imageref.Build{BaseImage: "ubuntu:24.04", ImageTag: "ubuntu-24.04-arm64-5f3c", RepositoryURI: "123456789012.dkr.ecr.us-east-1.amazonaws.com/runner-fleet", Arch: "arm64"}
	in, err := build.Input(3600)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}
