// Package lambdalocal runs the fleet's real Lambda bootstraps on this machine the way
// AWS Lambda runs them: each function is a pool of bootstrap processes that long-poll the
// Lambda Runtime API (served here) for invocations and post back responses or typed
// errors. The local environment invokes activities through it, so the binaries `make
// build` produces for AWS are the ones tested (GOARCH=amd64 for this machine).
package lambdalocal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const apiVersion = "2018-06-01"

// Function describes one Lambda function.
type Function struct {
	Name      string
	Bootstrap string   // path to the bootstrap executable
	Env       []string // KEY=VALUE, the function's configuration
	// Concurrency is the number of sandboxes (processes); invocations beyond it queue, as
	// with reserved concurrency. Default 1.
	Concurrency int
	// Timeout is the function timeout; a sandbox that overruns is killed and replaced.
	// Default 30 s.
	Timeout  time.Duration
	MemoryMB int // reported to the process and used for GB-second accounting; default 128
}

// FunctionError is an invocation that returned an error: Lambda's errorType and
// errorMessage, exactly what Step Functions sees as Error and Cause.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
	// Payload is the raw error document the runtime posted.
	Payload json.RawMessage `json:"-"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Stats counts one function's work for cost accounting.
type Stats struct {
	Invocations int
	Errors      int
	// Billed is the sum of invocation durations (Lambda bills per ms).
	Billed time.Duration
	// Inits is the number of sandboxes started and InitTotal their start-up time until
	// the first /next poll (cold starts).
	Inits     int
	InitTotal time.Duration
	MemoryMB  int
}

// GBSeconds is configured memory × measured duration.
func (s Stats) GBSeconds() float64 { return float64(s.MemoryMB) / 1024 * s.Billed.Seconds() }

// Runtime serves the Runtime API and supervises the sandboxes.
type Runtime struct {
	log  *slog.Logger
	logs io.Writer

	mu    sync.Mutex
	fns   map[string]*function
	stop  context.CancelFunc
	wg    sync.WaitGroup
	seq   atomic.Uint64
	inits sync.Map // sandbox key -> time.Time started
}

type function struct {
	Function
	queue    chan *invocation
	mu       sync.Mutex
	inflight map[string]*invocation // request id -> invocation
	stats    Stats
	procs    []*sandbox
}

type sandbox struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	current *invocation
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	started  time.Time
	done     chan result
	once     sync.Once
}

type result struct {
	body []byte
	err  *FunctionError
}

func (inv *invocation) finish(r result) bool {
	ok := false
	inv.once.Do(func() { inv.done <- r; ok = true })
	return ok
}

// New returns a Runtime; logs receives every sandbox's stdout and stderr, one line each
// prefixed with the function name (tests scan it for secrets).
func New(log *slog.Logger, logs io.Writer) *Runtime {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if logs == nil {
		logs = io.Discard
	}
	return &Runtime{log: log, logs: &lockedWriter{w: logs}, fns: map[string]*function{}}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Start launches every function's sandboxes against the Runtime API at apiAddr
// (host:port of the listener serving this Runtime). It returns once the processes are
// started; they live until Close.
func (r *Runtime) Start(ctx context.Context, apiAddr string, fns ...Function) error {
	ctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	r.stop = cancel
	for _, f := range fns {
		if f.Name == "" || strings.ContainsAny(f.Name, "/ ") {
			r.mu.Unlock()
			return fmt.Errorf("lambda function name %q is empty or has a slash or space", f.Name)
		}
		if _, err := os.Stat(f.Bootstrap); err != nil {
			r.mu.Unlock()
			return fmt.Errorf("function %s: bootstrap %s: %w (run `GOARCH=amd64 make build`)", f.Name, f.Bootstrap, err)
		}
		if f.Concurrency <= 0 {
			f.Concurrency = 1
		}
		if f.Timeout <= 0 {
			f.Timeout = 30 * time.Second
		}
		if f.MemoryMB <= 0 {
			f.MemoryMB = 128
		}
		fn := &function{Function: f, queue: make(chan *invocation, 1<<16), inflight: map[string]*invocation{}}
		fn.stats.MemoryMB = f.MemoryMB
		// The sandboxes exist before the function is published: the Runtime API reads
		// procs without a lock once a process polls.
		for range f.Concurrency {
			fn.procs = append(fn.procs, &sandbox{})
		}
		r.fns[f.Name] = fn
	}
	started := make([]*function, 0, len(fns))
	for _, f := range fns {
		started = append(started, r.fns[f.Name])
	}
	r.mu.Unlock()
	for _, fn := range started {
		for i, sb := range fn.procs {
			r.wg.Add(1)
			go r.supervise(ctx, apiAddr, fn, i, sb)
		}
	}
	return nil
}

// supervise keeps one sandbox process alive, restarting it when it exits (a crash, or a
// kill after a timeout), as Lambda replaces a failed execution environment.
func (r *Runtime) supervise(ctx context.Context, apiAddr string, fn *function, idx int, sb *sandbox) {
	defer r.wg.Done()
	key := fn.Name + "/" + strconv.Itoa(idx)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		cmd := exec.CommandContext(ctx, fn.Bootstrap)
		cmd.Env = append(append(os.Environ()[:0:0], fn.Env...),
			"AWS_LAMBDA_RUNTIME_API="+apiAddr+"/fn/"+key,
			"AWS_LAMBDA_FUNCTION_NAME="+fn.Name,
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(fn.MemoryMB),
			"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
			"AWS_LAMBDA_LOG_FORMAT=JSON",
			"PATH="+os.Getenv("PATH"),
		)
		out := &prefixWriter{prefix: fn.Name + ": ", w: r.logs}
		cmd.Stdout, cmd.Stderr = out, out
		cmd.WaitDelay = time.Second
		r.inits.Store(key, time.Now())
		if err := cmd.Start(); err != nil {
			r.log.Error("sandbox did not start", "function", fn.Name, "error", err)
			return
		}
		sb.mu.Lock()
		sb.cmd = cmd
		sb.mu.Unlock()
		err := cmd.Wait()
		out.Flush()
		sb.mu.Lock()
		cur := sb.current
		sb.current, sb.cmd = nil, nil
		sb.mu.Unlock()
		if cur != nil {
			// The process died holding an invocation: Lambda reports Runtime.ExitError.
			cur.finish(result{err: &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: %s Error: Runtime exited: %v", cur.id, err)}})
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("sandbox exited; starting a new one", "function", fn.Name, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// Close stops every sandbox and waits for them.
func (r *Runtime) Close() {
	r.mu.Lock()
	stop := r.stop
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
	r.wg.Wait()
}

// Stats returns a copy of every function's counters.
func (r *Runtime) Stats() map[string]Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Stats, len(r.fns))
	for name, fn := range r.fns {
		fn.mu.Lock()
		out[name] = fn.stats
		fn.mu.Unlock()
	}
	return out
}

// Invoke runs one synchronous invocation (RequestResponse) and returns the response
// payload, or a *FunctionError when the function returned an error, or another error when
// the function does not exist or ctx ended.
func (r *Runtime) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	r.mu.Lock()
	fn := r.fns[name]
	r.mu.Unlock()
	if fn == nil {
		return nil, fmt.Errorf("lambda function %q is not running here", name)
	}
	inv := &invocation{
		id:      fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().Unix(), r.seq.Add(1)),
		payload: payload,
		done:    make(chan result, 1),
	}
	select {
	case fn.queue <- inv:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Like Lambda, the timeout runs from the moment a sandbox takes the invocation (see
	// next); waiting for a free sandbox is throttling, bounded only by ctx.
	select {
	case res := <-inv.done:
		r.account(fn, inv, res)
		if res.err != nil {
			return nil, res.err
		}
		return res.body, nil
	case <-ctx.Done():
		// The caller gave up (e.g. GitHub's delivery timeout). As in Lambda, a queued or
		// running invocation still runs and is billed when it ends.
		go func() {
			select {
			case res := <-inv.done:
				r.account(fn, inv, res)
			case <-time.After(fn.Timeout + 10*time.Minute):
			}
		}()
		return nil, ctx.Err()
	}
}

func (r *Runtime) account(fn *function, inv *invocation, res result) {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	fn.stats.Invocations++
	if res.err != nil {
		fn.stats.Errors++
	}
	if !inv.started.IsZero() {
		fn.stats.Billed += time.Since(inv.started).Round(time.Millisecond)
	}
}

func (r *Runtime) killHolder(fn *function, inv *invocation) {
	for _, sb := range fn.procs {
		sb.mu.Lock()
		if sb.current == inv && sb.cmd != nil && sb.cmd.Process != nil {
			_ = sb.cmd.Process.Kill()
		}
		sb.mu.Unlock()
	}
}

// ServeHTTP serves the Runtime API under /fn/<function>/<sandbox>/2018-06-01/runtime/.
func (r *Runtime) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rest, ok := strings.CutPrefix(req.URL.Path, "/fn/")
	if !ok {
		http.NotFound(w, req)
		return
	}
	parts := strings.SplitN(rest, "/", 3) // name, sandbox, "2018-06-01/runtime/..."
	if len(parts) != 3 || !strings.HasPrefix(parts[2], apiVersion+"/runtime/") {
		http.NotFound(w, req)
		return
	}
	r.mu.Lock()
	fn := r.fns[parts[0]]
	r.mu.Unlock()
	idx, err := strconv.Atoi(parts[1])
	if fn == nil || err != nil || idx < 0 || idx >= len(fn.procs) {
		http.NotFound(w, req)
		return
	}
	sb := fn.procs[idx]
	action := strings.TrimPrefix(parts[2], apiVersion+"/runtime/")
	switch {
	case action == "invocation/next" && req.Method == http.MethodGet:
		r.next(w, req, fn, parts[0]+"/"+parts[1], sb)
	case strings.HasPrefix(action, "invocation/") && req.Method == http.MethodPost:
		id, verb, _ := strings.Cut(strings.TrimPrefix(action, "invocation/"), "/")
		r.post(w, req, fn, sb, id, verb)
	case action == "init/error" && req.Method == http.MethodPost:
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		r.log.Error("function init failed", "function", fn.Name, "error", string(body))
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, req)
	}
}

func (r *Runtime) next(w http.ResponseWriter, req *http.Request, fn *function, key string, sb *sandbox) {
	if t, ok := r.inits.LoadAndDelete(key); ok {
		fn.mu.Lock()
		fn.stats.Inits++
		fn.stats.InitTotal += time.Since(t.(time.Time))
		fn.mu.Unlock()
	}
	var inv *invocation
	select {
	case inv = <-fn.queue:
	case <-req.Context().Done():
		return
	}
	inv.started = time.Now()
	inv.deadline = inv.started.Add(fn.Timeout)
	time.AfterFunc(fn.Timeout, func() {
		if inv.finish(result{err: &FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, fn.Timeout.Seconds())}}) {
			r.killHolder(fn, inv)
		}
	})
	fn.mu.Lock()
	fn.inflight[inv.id] = inv
	fn.mu.Unlock()
	sb.mu.Lock()
	sb.current = inv
	sb.mu.Unlock()
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:"+fn.Name)
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+inv.id[:8]+"-"+strings.ReplaceAll(inv.id[9:], "-", "")[:24]+";Sampled=0")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

func (r *Runtime) post(w http.ResponseWriter, req *http.Request, fn *function, sb *sandbox, id, verb string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 6<<20+1))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	fn.mu.Lock()
	inv := fn.inflight[id]
	delete(fn.inflight, id)
	fn.mu.Unlock()
	if inv == nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`))
		return
	}
	sb.mu.Lock()
	if sb.current == inv {
		sb.current = nil
	}
	sb.mu.Unlock()
	switch verb {
	case "response":
		if len(body) > 6<<20 {
			inv.finish(result{err: &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: "Response payload size exceeded maximum allowed payload size (6291556 bytes)."}})
		} else {
			inv.finish(result{body: body})
		}
	case "error":
		fe := &FunctionError{Payload: body}
		if err := json.Unmarshal(body, fe); err != nil || fe.Type == "" {
			fe.Type = req.Header.Get("Lambda-Runtime-Function-Error-Type")
			if fe.Type == "" {
				fe.Type = "Unhandled"
			}
			fe.Message = string(body)
		}
		inv.finish(result{err: fe})
	default:
		http.NotFound(w, req)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// prefixWriter writes whole lines with a prefix.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	w      io.Writer
	buf    bytes.Buffer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	for {
		line, err := p.buf.ReadBytes('\n')
		if err != nil {
			p.buf.Write(line)
			break
		}
		_, _ = p.w.Write(append([]byte(p.prefix), line...))
	}
	return len(b), nil
}

// Flush writes a trailing partial line.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buf.Len() > 0 {
		_, _ = p.w.Write(append(append([]byte(p.prefix), p.buf.Bytes()...), '\n'))
		p.buf.Reset()
	}
}
