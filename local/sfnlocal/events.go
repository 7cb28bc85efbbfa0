package sfnlocal

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/runnerfleet/fleet/local/awsfake"
)

// engineEvent is one aws-local-stepfunctions event as the Node side forwards it.
type engineEvent struct {
	Type  string `json:"type"`
	State *struct {
		Name   string          `json:"name"`
		Type   string          `json:"type"`
		Input  json.RawMessage `json:"input"`
		Output json.RawMessage `json:"output"`
	} `json:"state"`
	Error string          `json:"Error"`
	Cause json.RawMessage `json:"Cause"`
}

func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}

func causeText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// event turns an engine event into the history events Step Functions writes for it.
// Task events (scheduled, started, submitted, succeeded, failed) are written by task().
func (e *Engine) event(m message) {
	r := e.run(m.ID)
	if r == nil {
		return
	}
	var ev engineEvent
	if err := json.Unmarshal(m.Event, &ev); err != nil || ev.State == nil {
		return
	}
	st := ev.State
	switch ev.Type {
	case "StateEntered":
		evs := []awsfake.HistoryEvent{{Type: st.Type + "StateEntered", Details: map[string]any{
			"name": st.Name, "input": jsonText(st.Input), "inputDetails": map[string]bool{"truncated": false},
		}}}
		if st.Type == "Parallel" {
			evs = append(evs, awsfake.HistoryEvent{Type: "ParallelStateStarted"})
		}
		r.appendEvents(e.fake, evs...)
		if st.Type == "Task" {
			r.mu.Lock()
			r.entered[st.Name]++
			r.mu.Unlock()
			r.cond.Broadcast()
		}
	case "StateRetried":
		// A retried Task calls its handler again without a new StateEntered.
		if st.Type == "Task" {
			r.mu.Lock()
			r.entered[st.Name]++
			r.mu.Unlock()
			r.cond.Broadcast()
		}
	case "StateExited":
		var evs []awsfake.HistoryEvent
		if st.Type == "Parallel" {
			evs = append(evs, awsfake.HistoryEvent{Type: "ParallelStateSucceeded"})
		}
		evs = append(evs, awsfake.HistoryEvent{Type: st.Type + "StateExited", Details: map[string]any{
			"name": st.Name, "output": jsonText(st.Output), "outputDetails": map[string]bool{"truncated": false},
		}})
		r.appendEvents(e.fake, evs...)
	case "StateFailed":
		switch {
		case st.Type == "Parallel":
			r.appendEvents(e.fake, awsfake.HistoryEvent{Type: "ParallelStateFailed", Details: map[string]any{"error": ev.Error, "cause": causeText(ev.Cause)}})
		case st.Type == "Task" && ev.Error == "States.Timeout":
			rt, rs := splitResource(e.resourceOf(r, st.Name))
			r.appendEvents(e.fake, awsfake.HistoryEvent{Type: "TaskTimedOut", Details: map[string]any{"resourceType": rt, "resource": rs, "error": "States.Timeout"}})
		}
	}
}

func (e *Engine) resourceOf(r *run, state string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resources[state]
}

// splitResource maps arn:aws:states:::ecs:runTask.sync to ("ecs", "runTask.sync"), as
// the history's resourceType/resource fields name it.
func splitResource(arn string) (string, string) {
	rest := strings.TrimPrefix(arn, "arn:aws:states:::")
	if rest == arn {
		// A plain function ARN: Step Functions reports lambda/invoke.
		return "lambda", "invoke"
	}
	svc, action, _ := strings.Cut(rest, ":")
	return svc, action
}

// task performs one Task state and answers the engine.
func (e *Engine) task(m message) {
	r := e.run(m.ID)
	if r == nil {
		_ = e.send(map[string]any{"op": "result", "call": m.Call, "error": "States.Runtime", "cause": "execution is not running"})
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	e.mu.Lock()
	e.calls[m.Call] = cancel
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.calls, m.Call)
		e.mu.Unlock()
	}()
	r.mu.Lock()
	if r.resources == nil {
		r.resources = map[string]string{}
	}
	r.resources[m.State] = m.Resource
	r.mu.Unlock()
	r.awaitEntered(m.State)
	rt, rs := splitResource(m.Resource)
	sched := map[string]any{"resourceType": rt, "resource": rs, "region": e.fake.Region(), "parameters": jsonText(m.Input)}
	if m.Timeout != nil {
		sched["timeoutInSeconds"] = int64(*m.Timeout)
	}
	r.appendEvents(e.fake,
		awsfake.HistoryEvent{Type: "TaskScheduled", Details: sched},
		awsfake.HistoryEvent{Type: "TaskStarted", Details: map[string]any{"resourceType": rt, "resource": rs}},
	)
	call := Call{
		Execution: r.exec,
		State:     m.State,
		Resource:  m.Resource,
		Input:     m.Input,
		Submitted: func(output []byte) {
			r.appendEvents(e.fake, awsfake.HistoryEvent{Type: "TaskSubmitted", Details: map[string]any{
				"resourceType": rt, "resource": rs, "output": string(output), "outputDetails": map[string]bool{"truncated": false},
			}})
		},
	}
	out, fail := e.integ.Run(ctx, call)
	if ctx.Err() != nil {
		return // timed out, branch or execution ended: the engine stopped waiting
	}
	if fail != nil {
		r.appendEvents(e.fake, awsfake.HistoryEvent{Type: "TaskFailed", Details: map[string]any{"resourceType": rt, "resource": rs, "error": fail.Error, "cause": fail.Cause}})
		_ = e.send(map[string]any{"op": "result", "call": m.Call, "error": fail.Error, "cause": fail.Cause})
		return
	}
	r.appendEvents(e.fake, awsfake.HistoryEvent{Type: "TaskSucceeded", Details: map[string]any{
		"resourceType": rt, "resource": rs, "output": string(out), "outputDetails": map[string]bool{"truncated": false},
	}})
	_ = e.send(map[string]any{"op": "result", "call": m.Call, "output": json.RawMessage(out)})
}
