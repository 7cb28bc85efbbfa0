// Package sfnlocal is fleet-local's Step Functions execution engine. The API (start,
// describe, list, stop, history) is local/awsfake's; this package runs the executions:
// the statemachine/ definition is interpreted by aws-local-stepfunctions in one Node
// process (local/_sfnengine/server.js), and every Task state comes back here to be
// performed as Step Functions performs it — lambda:invoke on the real bootstraps,
// ecs:runTask.sync, codebuild:startBuild.sync and states:startExecution.sync:2 against
// the AWS fakes — with the history events AWS would write.
package sfnlocal

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/runnerfleet/fleet/local/awsfake"
)

// Options configure an Engine.
type Options struct {
	// Root is the repository root (where local/_sfnengine and statemachine/_engine live).
	Root string
	// Node is the node executable; default "node".
	Node string
	// RetryScale multiplies every Retry IntervalSeconds (fleet-local's time scale);
	// 0 keeps the definition's intervals.
	RetryScale float64
	Log        *slog.Logger
}

// Engine runs executions for an awsfake.Server.
type Engine struct {
	opts  Options
	fake  *awsfake.Server
	integ *Integrations
	log   *slog.Logger

	cmd   *exec.Cmd
	stdin io.WriteCloser
	wmu   sync.Mutex

	mu       sync.Mutex
	prepared map[string]chan error // machine key -> result of prepare
	execs    map[string]*run       // execution ARN -> run
	calls    map[int64]context.CancelFunc
	closed   chan struct{}
	// transitions per finished execution ARN, as the engine counts them (state
	// entries + retries: what Step Functions bills); read by the burst benchmark.
	transitions map[string]int
}

type run struct {
	exec   *awsfake.Execution
	ctx    context.Context
	lastID int64
	mu     sync.Mutex
	// resources by Task state name, for the TaskTimedOut event
	resources map[string]string
	// The Node engine reports state events asynchronously, after it may already have
	// called the Task's handler; a Task's events wait for its StateEntered so the
	// history reads in Step Functions' order. entered counts StateEntered per state,
	// used what task() consumed.
	cond    *sync.Cond
	entered map[string]int
	used    map[string]int
}

// awaitEntered blocks until the state's next StateEntered event was written (or 5 s).
func (r *run) awaitEntered(state string) {
	deadline := time.Now().Add(5 * time.Second)
	// StateEntered and StateRetried broadcast; this timer wakes the wait at the deadline.
	// It takes the lock so its broadcast cannot fall between the check and Wait.
	timer := time.AfterFunc(5*time.Second, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.cond.Broadcast()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.entered[state] <= r.used[state] && time.Now().Before(deadline) {
		r.cond.Wait()
	}
	r.used[state]++
}

// Start launches the Node engine and attaches the engine to fake: every execution that
// fake's StartExecution creates runs here. integ performs the Task states.
func Start(ctx context.Context, fake *awsfake.Server, integ *Integrations, opts Options) (*Engine, error) {
	if opts.Node == "" {
		opts.Node = "node"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	script := filepath.Join(opts.Root, "local", "_sfnengine", "server.js")
	if _, err := os.Stat(filepath.Join(opts.Root, "statemachine", "_engine", "node_modules", "aws-local-stepfunctions")); err != nil {
		return nil, fmt.Errorf("the local Step Functions engine is not installed: run `npm ci --prefix statemachine/_engine` (make local does)")
	}
	cmd := exec.CommandContext(ctx, opts.Node, script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = &logWriter{log: opts.Log}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Node engine (%s): %w", opts.Node, err)
	}
	e := &Engine{
		opts: opts, fake: fake, integ: integ, log: opts.Log, cmd: cmd, stdin: stdin,
		prepared: map[string]chan error{}, execs: map[string]*run{}, calls: map[int64]context.CancelFunc{},
		closed: make(chan struct{}), transitions: map[string]int{},
	}
	go e.read(stdout)
	fake.SFN.OnStart = e.onStart
	return e, nil
}

// Close stops the Node process.
func (e *Engine) Close() error {
	_ = e.stdin.Close()
	select {
	case <-e.closed:
	case <-time.After(2 * time.Second):
		_ = e.cmd.Process.Kill()
	}
	return e.cmd.Wait()
}

type logWriter struct{ log *slog.Logger }

func (l *logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			l.log.Warn("sfn engine", "stderr", line)
		}
	}
	return len(p), nil
}

func (e *Engine) send(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	e.wmu.Lock()
	defer e.wmu.Unlock()
	_, err = e.stdin.Write(append(b, '\n'))
	return err
}

// message is any line from the Node engine.
type message struct {
	Ev          string          `json:"ev"`
	Machine     string          `json:"machine"`
	Error       *string         `json:"error"`
	ID          string          `json:"id"`
	Call        int64           `json:"call"`
	State       string          `json:"state"`
	Resource    string          `json:"resource"`
	Input       json.RawMessage `json:"input"`
	Timeout     *float64        `json:"timeout"`
	Event       json.RawMessage `json:"event"`
	Status      string          `json:"status"`
	Output      json.RawMessage `json:"output"`
	Cause       *string         `json:"cause"`
	Transitions int             `json:"transitions"`
}

func (e *Engine) read(r io.Reader) {
	defer close(e.closed)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			e.log.Error("unreadable line from the Node engine", "error", err)
			continue
		}
		switch m.Ev {
		case "prepared":
			e.mu.Lock()
			ch := e.prepared[m.Machine]
			e.mu.Unlock()
			if ch != nil {
				if m.Error != nil {
					ch <- errors.New(*m.Error)
				} else {
					ch <- nil
				}
			}
		case "task":
			go e.task(m)
		case "cancel":
			e.mu.Lock()
			cancel := e.calls[m.Call]
			e.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		case "event":
			e.event(m)
		case "done":
			e.done(m)
		}
	}
	if err := sc.Err(); err != nil {
		e.log.Error("reading the Node engine failed", "error", err)
	}
	// The engine is gone: fail what is still running so nothing waits forever.
	e.mu.Lock()
	runs := make([]*run, 0, len(e.execs))
	for _, r := range e.execs {
		runs = append(runs, r)
	}
	e.mu.Unlock()
	for _, r := range runs {
		_ = e.fake.SFN.Finish(r.exec.ARN, awsfake.Result{Status: awsfake.StatusFailed, Error: "States.Runtime", Cause: "the local Step Functions engine stopped"})
	}
}

// machineKey identifies a definition version: executions keep the definition they
// started with even if the state machine is updated meanwhile.
func machineKey(arn, definition string) string {
	sum := sha256.Sum256([]byte(definition))
	return arn + "#" + hex.EncodeToString(sum[:8])
}

func (e *Engine) prepare(arn, definition string) error {
	key := machineKey(arn, definition)
	e.mu.Lock()
	ch, ok := e.prepared[key]
	if !ok {
		ch = make(chan error, 1)
		e.prepared[key] = ch
	}
	e.mu.Unlock()
	if !ok {
		if err := e.send(map[string]any{"op": "prepare", "machine": key, "definition": definition, "retryScale": e.opts.RetryScale}); err != nil {
			return err
		}
	}
	select {
	case err := <-ch:
		ch <- err // keep the answer for the next caller
		return err
	case <-time.After(60 * time.Second):
		return errors.New("the Node engine did not prepare the definition within 60 s")
	}
}

func (e *Engine) onStart(ctx context.Context, x *awsfake.Execution) {
	r := &run{exec: x, ctx: ctx, lastID: 1, resources: map[string]string{}, entered: map[string]int{}, used: map[string]int{}}
	r.cond = sync.NewCond(&r.mu)
	e.mu.Lock()
	e.execs[x.ARN] = r
	e.mu.Unlock()
	go func() {
		key := machineKey(x.StateMachineARN, x.Definition)
		if err := e.prepare(x.StateMachineARN, x.Definition); err != nil {
			e.finish(x.ARN, awsfake.Result{Status: awsfake.StatusFailed, Error: "States.Runtime", Cause: "definition rejected by the engine: " + err.Error()})
			return
		}
		var input any
		_ = json.Unmarshal([]byte(x.Input), &input)
		if err := e.send(map[string]any{"op": "start", "id": x.ARN, "machine": key, "name": x.Name, "input": input}); err != nil {
			e.finish(x.ARN, awsfake.Result{Status: awsfake.StatusFailed, Error: "States.Runtime", Cause: "engine unavailable: " + err.Error()})
			return
		}
		<-ctx.Done()
		// StopExecution (or Finish) closed it; tell the engine to stop interpreting.
		var stop *awsfake.StopCause
		if errors.As(context.Cause(ctx), &stop) && stop.Status == awsfake.StatusAborted {
			_ = e.send(map[string]any{"op": "abort", "id": x.ARN})
		}
	}()
}

func (e *Engine) finish(arn string, res awsfake.Result) {
	e.mu.Lock()
	delete(e.execs, arn)
	e.mu.Unlock()
	if err := e.fake.SFN.Finish(arn, res); err != nil && !errors.Is(err, awsfake.ErrExecutionClosed) {
		e.log.Error("finishing an execution failed", "execution", arn, "error", err)
	}
}

func (e *Engine) done(m message) {
	e.mu.Lock()
	e.transitions[m.ID] = m.Transitions
	e.mu.Unlock()
	res := awsfake.Result{Status: m.Status}
	switch m.Status {
	case awsfake.StatusSucceeded:
		res.Output = string(m.Output)
		if res.Output == "" {
			res.Output = "null"
		}
	case awsfake.StatusAborted:
		return // StopExecution already closed it
	default:
		if m.Error != nil {
			res.Error = *m.Error
		}
		if m.Cause != nil {
			res.Cause = *m.Cause
		}
	}
	e.finish(m.ID, res)
}

// Transitions returns the state transitions Step Functions would bill for a finished
// execution (state entries + retries, counted by the engine), and whether the engine
// reported them: an execution still running, or stopped by StopExecution, has none.
func (e *Engine) Transitions(executionARN string) (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, ok := e.transitions[executionARN]
	return n, ok
}

func (e *Engine) run(id string) *run {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.execs[id]
}

// appendEvents writes history events to a running execution, chaining previous ids.
func (r *run) appendEvents(fake *awsfake.Server, evs ...awsfake.HistoryEvent) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range evs {
		if evs[i].PreviousEventID == 0 {
			evs[i].PreviousEventID = r.lastID
		}
	}
	ids, err := fake.SFN.AppendHistory(r.exec.ARN, evs...)
	if err != nil || len(ids) == 0 {
		return r.lastID
	}
	r.lastID = ids[len(ids)-1]
	return r.lastID
}
