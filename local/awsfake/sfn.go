package awsfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// SFN emulates the Step Functions API subset the fleet uses: StartExecution (with AWS's
// idempotency), DescribeExecution, ListExecutions, StopExecution and
// GetExecutionHistory (fixtures/aws/stepfunctions/api). It does not interpret ASL: an
// engine registered through OnStart runs each execution, appends its history events with
// AppendHistory and closes it with Finish.
//
// Errors are awsJson 1.0 bodies with the namespaced __type AWS sends
// ("com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists") and a "message" member.
type SFN struct {
	s *Server

	// OnStart, when set, is called once for every new execution, after StartExecution
	// stored it and before the caller gets the answer. It must not block: start the
	// execution's work in a goroutine. ctx is cancelled when the execution closes
	// (StopExecution or Finish); context.Cause(ctx) is then a *StopCause. Set it before
	// the server takes requests.
	OnStart func(ctx context.Context, e *Execution)

	mu       sync.Mutex
	machines map[string]*StateMachine // by ARN
	execs    map[string]*execution    // by ARN
	byName   map[string]*execution    // by state machine ARN + "/" + name
	order    []*execution             // start order
}

// StateMachine is a registered state machine.
type StateMachine struct {
	Name       string
	ARN        string
	Definition string
	RoleARN    string
	Created    time.Time
}

// Execution describes a started execution to the engine. It does not change after
// OnStart; the execution's status lives in the fake (see SFN.Status).
type Execution struct {
	ARN             string
	Name            string
	StateMachineARN string
	// Definition and RoleARN are the state machine's at the time of the start.
	Definition string
	RoleARN    string
	// Input is the execution input, "{}" when the caller sent none.
	Input     string
	StartDate time.Time
}

// Execution statuses.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Result is how an execution ends (SFN.Finish).
type Result struct {
	// Status is SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
	Status string
	// Output is the JSON output of a SUCCEEDED execution.
	Output string
	// Error and Cause are the named error and its cause of the other statuses.
	Error string
	Cause string
}

// StopCause is context.Cause of an execution's context once it closed.
type StopCause struct {
	Status    string
	ErrorName string
	Cause     string
}

// Error says how the execution closed.
func (c *StopCause) Error() string {
	return fmt.Sprintf("execution %s (error %q)", strings.ToLower(c.Status), c.ErrorName)
}

// HistoryEvent is one event an engine appends to an execution's history.
type HistoryEvent struct {
	// Type is the event type, e.g. "TaskStateEntered", "TaskSucceeded".
	Type string
	// PreviousEventID links the event to the one it follows (0 for none).
	PreviousEventID int64
	// Timestamp defaults to now.
	Timestamp time.Time
	// Details is the event's details object (any value that marshals to a JSON object,
	// with the wire field names: "name", "input", "output", "resourceType", ...). It is
	// sent under the member the type implies: "stateEnteredEventDetails" for
	// *StateEntered, "stateExitedEventDetails" for *StateExited, else
	// "<lowerFirst(Type)>EventDetails". Nil sends no details. Strings such as input and
	// output are JSON text in a string, as AWS sends them.
	Details any
}

// Sentinel errors of the engine-facing methods.
var (
	ErrExecutionNotFound = errors.New("no such execution")
	ErrExecutionClosed   = errors.New("execution is no longer running")
)

type execution struct {
	Execution
	status   string
	stopDate time.Time
	output   string
	errName  string
	cause    string
	events   []storedEvent
	cancel   context.CancelCauseFunc
}

type storedEvent struct {
	id, prev   int64
	typ        string
	at         time.Time
	detailsKey string
	details    map[string]json.RawMessage
}

const sfnNamespace = "com.amazonaws.swf.service.v2.model"

func newSFN(s *Server) *SFN {
	f := &SFN{s: s, machines: map[string]*StateMachine{}, execs: map[string]*execution{}, byName: map[string]*execution{}}
	s.register(&service{
		id: "sfn", prefix: "AWSStepFunctions", contentType: "application/x-amz-json-1.0",
		namespace: sfnNamespace, messageField: "message",
		ops: map[string]opFunc{
			"StartExecution":       jsonOp(f.startExecution),
			"DescribeExecution":    jsonOp(f.describeExecution),
			"ListExecutions":       jsonOp(f.listExecutions),
			"StopExecution":        jsonOp(f.stopExecution),
			"GetExecutionHistory":  jsonOp(f.getExecutionHistory),
			"DescribeStateMachine": jsonOp(f.describeStateMachine),
			"ListStateMachines":    jsonOp(f.listStateMachines),
		},
	})
	return f
}

// RegisterStateMachine creates the state machine name (or replaces its definition and
// role) and returns its ARN, arn:aws:states:<region>:<account>:stateMachine:<name>.
func (f *SFN) RegisterStateMachine(name, definition, roleARN string) (string, error) {
	if err := checkSFNName(name); err != nil {
		return "", fmt.Errorf("register state machine %q: %w", name, err)
	}
	if !json.Valid([]byte(definition)) {
		return "", fmt.Errorf("register state machine %q: definition is not valid JSON", name)
	}
	arn := f.s.arn("states", "stateMachine:"+name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if sm := f.machines[arn]; sm != nil {
		sm.Definition, sm.RoleARN = definition, roleARN
		return arn, nil
	}
	f.machines[arn] = &StateMachine{Name: name, ARN: arn, Definition: definition, RoleARN: roleARN, Created: f.s.now()}
	return arn, nil
}

// StateMachine returns the registered state machine with arn.
func (f *SFN) StateMachine(arn string) (StateMachine, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sm := f.machines[arn]
	if sm == nil {
		return StateMachine{}, false
	}
	return *sm, true
}

// Status returns the execution's status (RUNNING, SUCCEEDED, ...).
func (f *SFN) Status(executionARN string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.execs[executionARN]
	if e == nil {
		return "", false
	}
	return e.status, true
}

// AppendHistory appends events to a running execution's history and returns their ids.
// The fake writes ExecutionStarted (id 1) itself and the terminal event in Finish or
// StopExecution, so engines append everything in between.
func (f *SFN) AppendHistory(executionARN string, events ...HistoryEvent) ([]int64, error) {
	stored := make([]storedEvent, 0, len(events))
	for _, ev := range events {
		if isTerminalEvent(ev.Type) {
			return nil, fmt.Errorf("append history: %s closes the execution; call Finish instead", ev.Type)
		}
		se, err := f.makeEvent(ev)
		if err != nil {
			return nil, fmt.Errorf("append history to %s: %w", executionARN, err)
		}
		stored = append(stored, se)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.execs[executionARN]
	if e == nil {
		return nil, fmt.Errorf("append history to %s: %w", executionARN, ErrExecutionNotFound)
	}
	if e.status != StatusRunning {
		return nil, fmt.Errorf("append history to %s (%s): %w", executionARN, e.status, ErrExecutionClosed)
	}
	ids := make([]int64, len(stored))
	for i, se := range stored {
		ids[i] = e.append(se)
	}
	return ids, nil
}

// Finish closes a running execution with r, appends the matching terminal event
// (ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut, ExecutionAborted) and cancels
// the execution's context. It returns ErrExecutionClosed when the execution already
// closed, e.g. because StopExecution won the race.
func (f *SFN) Finish(executionARN string, r Result) error {
	details := map[string]any{}
	var typ string
	switch r.Status {
	case StatusSucceeded:
		if r.Output == "" {
			r.Output = "{}"
		}
		if !json.Valid([]byte(r.Output)) {
			return fmt.Errorf("finish %s: output is not valid JSON", executionARN)
		}
		typ = "ExecutionSucceeded"
		details["output"] = r.Output
		details["outputDetails"] = map[string]bool{"truncated": false}
	case StatusFailed, StatusTimedOut, StatusAborted:
		typ = map[string]string{StatusFailed: "ExecutionFailed", StatusTimedOut: "ExecutionTimedOut", StatusAborted: "ExecutionAborted"}[r.Status]
		if r.Error != "" {
			details["error"] = r.Error
		}
		if r.Cause != "" {
			details["cause"] = r.Cause
		}
	default:
		return fmt.Errorf("finish %s: status %q must be SUCCEEDED, FAILED, TIMED_OUT or ABORTED", executionARN, r.Status)
	}
	se, err := f.makeEvent(HistoryEvent{Type: typ, Details: details})
	if err != nil {
		return fmt.Errorf("finish %s: %w", executionARN, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.execs[executionARN]
	if e == nil {
		return fmt.Errorf("finish %s: %w", executionARN, ErrExecutionNotFound)
	}
	if e.status != StatusRunning {
		return fmt.Errorf("finish %s (%s): %w", executionARN, e.status, ErrExecutionClosed)
	}
	se.prev = int64(len(e.events))
	e.close(se, r, f.s.now())
	return nil
}

func (e *execution) append(se storedEvent) int64 {
	se.id = int64(len(e.events) + 1)
	e.events = append(e.events, se)
	return se.id
}

func (e *execution) close(terminal storedEvent, r Result, now time.Time) {
	e.append(terminal)
	e.status, e.stopDate = r.Status, now
	e.output, e.errName, e.cause = r.Output, r.Error, r.Cause
	e.cancel(&StopCause{Status: r.Status, ErrorName: r.Error, Cause: r.Cause})
}

func isTerminalEvent(typ string) bool {
	switch typ {
	case "ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted":
		return true
	}
	return false
}

func (f *SFN) makeEvent(ev HistoryEvent) (storedEvent, error) {
	if ev.Type == "" {
		return storedEvent{}, errors.New("event has no type")
	}
	se := storedEvent{prev: ev.PreviousEventID, typ: ev.Type, at: ev.Timestamp, detailsKey: detailsKey(ev.Type)}
	if se.at.IsZero() {
		se.at = f.s.now()
	}
	if ev.Details != nil {
		raw, err := json.Marshal(ev.Details)
		if err != nil {
			return storedEvent{}, fmt.Errorf("event %s details: %w", ev.Type, err)
		}
		if err := json.Unmarshal(raw, &se.details); err != nil || se.details == nil {
			return storedEvent{}, fmt.Errorf("event %s details must be a JSON object", ev.Type)
		}
	}
	return se, nil
}

// detailsKey is the HistoryEvent member that carries typ's details.
func detailsKey(typ string) string {
	switch {
	case strings.HasSuffix(typ, "StateEntered"):
		return "stateEnteredEventDetails"
	case strings.HasSuffix(typ, "StateExited"):
		return "stateExitedEventDetails"
	}
	return strings.ToLower(typ[:1]) + typ[1:] + "EventDetails"
}

// --- ARNs and names -------------------------------------------------------------

// parseStatesARN checks an ARN given to the API. Step Functions answers InvalidArn for a
// malformed one and names the reason inside the message, as recorded.
func parseStatesARN(arn, wantType string) error {
	if !strings.HasPrefix(arn, "arn:aws:states:") {
		return errorf("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: %s'", arn)
	}
	parts := strings.Split(arn, ":")
	if len(parts) < 7 {
		return errorf("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn)
	}
	if parts[5] != wantType {
		return errorf("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", parts[5])
	}
	return nil
}

// checkSFNName enforces Step Functions' name rules: 1..80 characters, none of
// whitespace, brackets, wildcards, the listed punctuation, or control characters.
func checkSFNName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > 80 {
		return validationError("Value '%s' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80", name)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return errorf("InvalidName", "Invalid Name: '%s'", name)
		}
	}
	return nil
}

// --- operations -----------------------------------------------------------------

type startExecutionInput struct {
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Input           *string `json:"input"`
	TraceHeader     string  `json:"traceHeader"`
}

type startExecutionOutput struct {
	ExecutionArn string     `json:"executionArn"`
	StartDate    *epochTime `json:"startDate"`
}

// maxSFNPayload is Step Functions' input/output limit (256 KiB).
const maxSFNPayload = 262144

func (f *SFN) startExecution(_ context.Context, in *startExecutionInput) (any, error) {
	if err := parseStatesARN(in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	if in.Name == "" {
		in.Name = f.s.newID("execution-name")
	}
	if err := checkSFNName(in.Name); err != nil {
		return nil, err
	}
	input := "{}"
	if in.Input != nil {
		input = *in.Input
	}
	if len(input) > maxSFNPayload {
		return nil, validationError("Value at 'input' failed to satisfy constraint: Member must have length less than or equal to %d", maxSFNPayload)
	}
	if !json.Valid([]byte(input)) {
		return nil, errorf("InvalidExecutionInput", "Invalid State Machine Execution Input: 'input is not valid JSON'")
	}

	f.mu.Lock()
	sm := f.machines[in.StateMachineArn]
	if sm == nil {
		f.mu.Unlock()
		return nil, errorf("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", in.StateMachineArn)
	}
	if old := f.byName[sm.ARN+"/"+in.Name]; old != nil {
		defer f.mu.Unlock()
		// Same name and input while RUNNING: the original answer. Anything else: 400.
		if old.status == StatusRunning && old.Input == input {
			return &startExecutionOutput{ExecutionArn: old.ARN, StartDate: ts(old.StartDate)}, nil
		}
		return nil, errorf("ExecutionAlreadyExists", "Execution Already Exists: '%s'", old.ARN)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	e := &execution{
		Execution: Execution{
			ARN:             f.s.arn("states", "execution:"+sm.Name+":"+in.Name),
			Name:            in.Name,
			StateMachineARN: sm.ARN,
			Definition:      sm.Definition,
			RoleARN:         sm.RoleARN,
			Input:           input,
			StartDate:       f.s.now(),
		},
		status: StatusRunning,
		cancel: cancel,
	}
	started, _ := f.makeEvent(HistoryEvent{Type: "ExecutionStarted", Timestamp: e.StartDate, Details: map[string]any{
		"input": input, "inputDetails": map[string]bool{"truncated": false}, "roleArn": sm.RoleARN,
	}})
	e.append(started)
	f.execs[e.ARN] = e
	f.byName[sm.ARN+"/"+in.Name] = e
	f.order = append(f.order, e)
	onStart := f.OnStart
	f.mu.Unlock()

	if onStart != nil {
		desc := e.Execution
		onStart(ctx, &desc)
	}
	return &startExecutionOutput{ExecutionArn: e.ARN, StartDate: ts(e.StartDate)}, nil
}

type executionArnInput struct {
	ExecutionArn string `json:"executionArn"`
}

type describeExecutionOutput struct {
	ExecutionArn        string          `json:"executionArn"`
	StateMachineArn     string          `json:"stateMachineArn"`
	Name                string          `json:"name"`
	Status              string          `json:"status"`
	StartDate           *epochTime      `json:"startDate"`
	StopDate            *epochTime      `json:"stopDate,omitempty"`
	Input               string          `json:"input"`
	InputDetails        map[string]bool `json:"inputDetails"`
	Output              *string         `json:"output,omitempty"`
	OutputDetails       map[string]bool `json:"outputDetails,omitempty"`
	Error               string          `json:"error,omitempty"`
	Cause               string          `json:"cause,omitempty"`
	RedriveCount        int             `json:"redriveCount"`
	RedriveStatus       string          `json:"redriveStatus"`
	RedriveStatusReason string          `json:"redriveStatusReason,omitempty"`
}

// lookupExecution finds an execution named by the API, with AWS's two errors.
func (f *SFN) lookupExecution(arn string) (*execution, error) {
	if err := parseStatesARN(arn, "execution"); err != nil {
		return nil, err
	}
	e := f.execs[arn]
	if e == nil {
		return nil, errorf("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
	}
	return e, nil
}

func (f *SFN) describeExecution(_ context.Context, in *executionArnInput) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	out := &describeExecutionOutput{
		ExecutionArn: e.ARN, StateMachineArn: e.StateMachineARN, Name: e.Name, Status: e.status,
		StartDate: ts(e.StartDate), StopDate: ts(e.stopDate),
		Input: e.Input, InputDetails: map[string]bool{"included": true},
		Error: e.errName, Cause: e.cause,
	}
	if e.status == StatusSucceeded {
		out.Output = &e.output
		out.OutputDetails = map[string]bool{"included": true}
	}
	switch e.status {
	case StatusRunning, StatusSucceeded:
		out.RedriveStatus = "NOT_REDRIVABLE"
		out.RedriveStatusReason = "Execution is " + e.status + " and cannot be redriven"
	default:
		out.RedriveStatus = "REDRIVABLE"
	}
	return out, nil
}

type listExecutionsInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	StatusFilter    string `json:"statusFilter"`
	MaxResults      int    `json:"maxResults"`
	NextToken       string `json:"nextToken"`
}

type executionListItem struct {
	ExecutionArn    string     `json:"executionArn"`
	StateMachineArn string     `json:"stateMachineArn"`
	Name            string     `json:"name"`
	Status          string     `json:"status"`
	StartDate       *epochTime `json:"startDate"`
	StopDate        *epochTime `json:"stopDate,omitempty"`
	RedriveCount    int        `json:"redriveCount"`
}

type listExecutionsOutput struct {
	Executions []executionListItem `json:"executions"`
	NextToken  string              `json:"nextToken,omitempty"`
}

var sfnStatuses = []string{"SUCCEEDED", "TIMED_OUT", "PENDING_REDRIVE", "ABORTED", "FAILED", "RUNNING"}

func (f *SFN) listExecutions(_ context.Context, in *listExecutionsInput) (any, error) {
	if in.StateMachineArn == "" {
		return nil, validationError("Value null at 'stateMachineArn' failed to satisfy constraint: Must provide a StateMachine ARN or MapRun ARN")
	}
	if err := parseStatesARN(in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	if in.StatusFilter != "" && !slices.Contains(sfnStatuses, in.StatusFilter) {
		// Text as recorded (list-executions.status-filter.json).
		return nil, validationError("Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [%s]", in.StatusFilter, strings.Join(sfnStatuses, ", "))
	}
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, validationError("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", in.MaxResults)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.machines[in.StateMachineArn] == nil {
		return nil, errorf("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", in.StateMachineArn)
	}
	items := []executionListItem{}
	for i := len(f.order) - 1; i >= 0; i-- { // most recent first, as AWS lists them
		e := f.order[i]
		if e.StateMachineARN != in.StateMachineArn || (in.StatusFilter != "" && e.status != in.StatusFilter) {
			continue
		}
		items = append(items, executionListItem{
			ExecutionArn: e.ARN, StateMachineArn: e.StateMachineARN, Name: e.Name, Status: e.status,
			StartDate: ts(e.StartDate), StopDate: ts(e.stopDate),
		})
	}
	// The token is an offset into the list; executions started meanwhile shift it, a
	// difference from AWS's snapshot tokens that callers following nextToken do not see
	// when nothing starts during the walk.
	page, next, err := paginate(items, in.NextToken, in.MaxResults, 100, "list\x00"+in.StateMachineArn+"\x00"+in.StatusFilter)
	if err != nil {
		return nil, errorf("InvalidToken", "Invalid Token: '%s'", in.NextToken)
	}
	return &listExecutionsOutput{Executions: page, NextToken: next}, nil
}

type stopExecutionInput struct {
	ExecutionArn string `json:"executionArn"`
	Error        string `json:"error"`
	Cause        string `json:"cause"`
}

type stopExecutionOutput struct {
	StopDate *epochTime `json:"stopDate"`
}

func (f *SFN) stopExecution(_ context.Context, in *stopExecutionInput) (any, error) {
	if len(in.Error) > 256 {
		return nil, validationError("Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	if len(in.Cause) > 32768 {
		return nil, validationError("Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if e.status == StatusRunning {
		details := map[string]any{}
		if in.Error != "" {
			details["error"] = in.Error
		}
		if in.Cause != "" {
			details["cause"] = in.Cause
		}
		// previousEventId stays 0: the abort follows no event of the run, as recorded
		// (stepfunctions/history/execution-aborted.stop-execution.json).
		se, _ := f.makeEvent(HistoryEvent{Type: "ExecutionAborted", Details: details})
		e.close(se, Result{Status: StatusAborted, Error: in.Error, Cause: in.Cause}, f.s.now())
	}
	// Stopping a closed execution changes nothing and answers its stop date.
	return &stopExecutionOutput{StopDate: ts(e.stopDate)}, nil
}

type getExecutionHistoryInput struct {
	ExecutionArn         string `json:"executionArn"`
	MaxResults           int    `json:"maxResults"`
	NextToken            string `json:"nextToken"`
	ReverseOrder         bool   `json:"reverseOrder"`
	IncludeExecutionData *bool  `json:"includeExecutionData"`
}

type getExecutionHistoryOutput struct {
	Events    []map[string]any `json:"events"`
	NextToken string           `json:"nextToken,omitempty"`
}

func (f *SFN) getExecutionHistory(_ context.Context, in *getExecutionHistoryInput) (any, error) {
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, validationError("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", in.MaxResults)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.lookupExecution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	events := slices.Clone(e.events)
	if in.ReverseOrder {
		slices.Reverse(events)
	}
	page, next, err := paginate(events, in.NextToken, in.MaxResults, 100, fmt.Sprintf("history\x00%s\x00%t", e.ARN, in.ReverseOrder))
	if err != nil {
		return nil, errorf("InvalidToken", "Invalid Token: '%s'", in.NextToken)
	}
	withData := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	out := &getExecutionHistoryOutput{Events: make([]map[string]any, 0, len(page)), NextToken: next}
	for _, se := range page {
		ev := map[string]any{"id": se.id, "previousEventId": se.prev, "timestamp": epochTime(se.at), "type": se.typ}
		if se.details != nil {
			d := se.details
			if !withData {
				d = make(map[string]json.RawMessage, len(se.details))
				for k, v := range se.details {
					if k != "input" && k != "output" {
						d[k] = v
					}
				}
			}
			ev[se.detailsKey] = d
		}
		out.Events = append(out.Events, ev)
	}
	return out, nil
}

type describeStateMachineInput struct {
	StateMachineArn string `json:"stateMachineArn"`
}

func (f *SFN) describeStateMachine(_ context.Context, in *describeStateMachineInput) (any, error) {
	if err := parseStatesARN(in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sm := f.machines[in.StateMachineArn]
	if sm == nil {
		return nil, errorf("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", in.StateMachineArn)
	}
	return map[string]any{
		"stateMachineArn": sm.ARN, "name": sm.Name, "status": "ACTIVE", "definition": sm.Definition,
		"roleArn": sm.RoleARN, "type": "STANDARD", "creationDate": epochTime(sm.Created),
		"loggingConfiguration": map[string]any{"level": "OFF", "includeExecutionData": false},
		"tracingConfiguration": map[string]bool{"enabled": false},
	}, nil
}

type listStateMachinesInput struct {
	MaxResults int    `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

func (f *SFN) listStateMachines(_ context.Context, in *listStateMachinesInput) (any, error) {
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, validationError("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", in.MaxResults)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	items := make([]map[string]any, 0, len(f.machines))
	for _, arn := range slices.Sorted(maps.Keys(f.machines)) {
		sm := f.machines[arn]
		items = append(items, map[string]any{"stateMachineArn": sm.ARN, "name": sm.Name, "type": "STANDARD", "creationDate": epochTime(sm.Created)})
	}
	page, next, err := paginate(items, in.NextToken, in.MaxResults, 100, "machines")
	if err != nil {
		return nil, errorf("InvalidToken", "Invalid Token: '%s'", in.NextToken)
	}
	out := map[string]any{"stateMachines": page}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}
