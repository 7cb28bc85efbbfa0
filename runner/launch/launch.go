// Package launch is what a runner task does first: it reads the sealed JIT config and
// the execution name from the environment, opens the seal with KMS, and starts the
// GitHub Actions runner with the config, supervising it until it exits. The container's
// entrypoint (runner/entrypoint) is a thin main around Run; the local environment's
// simulated runner tasks call the same code.
//
// The JIT config reaches the runner as ACTIONS_RUNNER_INPUT_JITCONFIG, not on the command
// line: the runner's listener reads every ACTIONS_RUNNER_INPUT_<arg> variable as the
// argument <arg>, masks it as a secret and deletes it from its own environment before
// starting any job (actions/runner src/Runner.Listener/CommandSettings.cs; GitHub's
// actions-runner-controller starts run.sh the same way). A command line would be
// readable by every process in the container through /proc/<pid>/cmdline.
package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/runnerfleet/fleet/internal/seal"
)

// Environment variables.
const (
	// EnvSealedJIT carries the sealed JIT config (internal/seal format).
	EnvSealedJIT = "RUNNER_FLEET_SEALED_JIT"
	// EnvExecution carries the execution name, the seal's KMS encryption context.
	EnvExecution = "RUNNER_FLEET_EXECUTION"
	// EnvRunnerDir overrides the directory holding run.sh.
	EnvRunnerDir = "RUNNER_FLEET_RUNNER_DIR"
	// EnvJITConfig is how the runner reads its JIT config (see the package comment).
	EnvJITConfig = "ACTIONS_RUNNER_INPUT_JITCONFIG"
	// EnvManualTrap makes run.sh trap SIGTERM/SIGINT, pass them to the listener, and exit
	// with the listener's code; without it run.sh exits 0 whatever happened.
	EnvManualTrap = "RUNNER_MANUALLY_TRAP_SIG"

	// DefaultRunnerDir is where the image installs the runner.
	DefaultRunnerDir = "/home/runner/actions-runner"
	// RunScript is the runner's start script inside the runner directory.
	RunScript = "run.sh"
)

// Exit codes of the entrypoint's own failures (sysexits.h values, clear of the runner's
// own codes 0-4 and of 128+signal). Any other code is the runner's.
const (
	ExitSealInvalid    = 65 // EX_DATAERR: the seal is malformed or KMS refused it
	ExitKMSUnavailable = 69 // EX_UNAVAILABLE: KMS could not be asked (network, credentials, permission)
	ExitRunnerStart    = 71 // EX_OSERR: run.sh exists but could not be started
	ExitRunnerMissing  = 72 // EX_OSFILE: no executable run.sh in the runner directory
	ExitStopped        = 75 // EX_TEMPFAIL: stopped by a signal before the runner started
	ExitBadEnvironment = 78 // EX_CONFIG: RUNNER_FLEET_* variables missing or malformed
)

// Error is a launch failure: Message says what went wrong and what to check, Code is the
// process exit status. It never contains the JIT config.
type Error struct {
	Code    int
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the process exit status for err: the Code of an *Error, 1 for anything else.
func ExitCode(err error) int {
	var le *Error
	if errors.As(err, &le) {
		return le.Code
	}
	return 1
}

// Config is what the task's environment says.
type Config struct {
	Execution string
	Sealed    string // the sealed JIT config: ciphertext, safe to hold and log the length of
	RunnerDir string
}

var executionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// LoadConfig reads and checks the environment through getenv.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		Execution: getenv(EnvExecution),
		Sealed:    getenv(EnvSealedJIT),
		RunnerDir: getenv(EnvRunnerDir),
	}
	if c.RunnerDir == "" {
		c.RunnerDir = DefaultRunnerDir
	}
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, &Error{Code: ExitBadEnvironment, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.Execution == "":
		return bad("%s is not set; the task must be started by the RunnerFleet workflow, which sets it to the execution name (check the task definition's container name and the RunTask overrides)", EnvExecution)
	case !executionName.MatchString(c.Execution):
		return bad("%s is not an execution name (1-80 of [A-Za-z0-9_-]); check the RunTask overrides", EnvExecution)
	case c.Sealed == "":
		return bad("%s is not set; the RequestRunner step seals the JIT config into it (check the RunTask overrides)", EnvSealedJIT)
	case !strings.HasPrefix(c.Sealed, "v1."):
		return bad("%s does not hold a sealed value (it must start with \"v1.\"; a plaintext JIT config is never accepted)", EnvSealedJIT)
	case len(c.Sealed) > seal.MaxSealedLen:
		return bad("%s is %d characters, longer than any seal (%d)", EnvSealedJIT, len(c.Sealed), seal.MaxSealedLen)
	case !filepath.IsAbs(c.RunnerDir):
		return bad("%s=%q is not an absolute path", EnvRunnerDir, c.RunnerDir)
	}
	return c, nil
}

// RunScriptPath is the run.sh the runner is started with.
func (c Config) RunScriptPath() string { return filepath.Join(c.RunnerDir, RunScript) }

// CheckRunner reports ExitRunnerMissing unless run.sh is an executable file.
func (c Config) CheckRunner() error {
	path := c.RunScriptPath()
	st, err := os.Stat(path)
	if err != nil {
		return &Error{Code: ExitRunnerMissing, Message: fmt.Sprintf("the runner is not installed: %s is missing (check %s and that the image was built by the Runner Fleet recipe)", path, EnvRunnerDir), Err: err}
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return &Error{Code: ExitRunnerMissing, Message: fmt.Sprintf("the runner is not installed: %s is not an executable file (check the image's file modes)", path)}
	}
	return nil
}

// Open opens the seal with KMS under the execution's encryption context.
func Open(ctx context.Context, kms seal.Decrypter, c Config) (seal.Secret, error) {
	jit, err := seal.Open(ctx, kms, c.Execution, c.Sealed)
	switch {
	case err == nil:
		return jit, nil
	case errors.Is(err, seal.ErrInvalidSeal), errors.Is(err, seal.ErrTooLarge):
		return nil, &Error{Code: ExitSealInvalid, Message: fmt.Sprintf("the sealed JIT config cannot be opened for execution %s: it was sealed for another execution, altered, or under another KMS key (check that %s and %s come from the same RequestRunner step)", c.Execution, EnvSealedJIT, EnvExecution), Err: err}
	default:
		return nil, &Error{Code: ExitKMSUnavailable, Message: "KMS could not open the sealed JIT config (check the task role's kms:Decrypt permission on the fleet key with the runner-fleet:execution encryption context, the network path to KMS, and AWS_REGION)", Err: err}
	}
}

// RunnerEnv returns environ for the runner process: without the fleet's variables (and
// any stale JIT config), with the JIT config as EnvJITConfig and run.sh's signal
// handling switched on.
func RunnerEnv(environ []string, jit seal.Secret) []string {
	out := make([]string, 0, len(environ)+2)
	manualTrap := false
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case EnvSealedJIT, EnvExecution, EnvJITConfig:
			continue
		case EnvManualTrap:
			manualTrap = true
		}
		out = append(out, kv)
	}
	if !manualTrap {
		out = append(out, EnvManualTrap+"=1")
	}
	return append(out, EnvJITConfig+"="+string(jit))
}

// Process is the runner process to supervise.
type Process struct {
	Path   string   // run.sh
	Dir    string   // working directory
	Env    []string // the complete environment (RunnerEnv)
	Stdout io.Writer
	Stderr io.Writer
	Log    *slog.Logger
}

// Supervise starts p, forwards every signal received on signals to it until it exits,
// sends it SIGTERM if ctx ends first, and returns its exit status: its exit code, or
// 128+n when signal n ended it.
func Supervise(ctx context.Context, p Process, signals <-chan os.Signal) (int, error) {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cmd := exec.Command(p.Path)
	cmd.Dir = p.Dir
	cmd.Env = p.Env
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	// Its own process group: a terminal's Ctrl-C reaches it once, through us, and
	// run.sh passes signals on to the listener's group itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return ExitRunnerStart, &Error{Code: ExitRunnerStart, Message: fmt.Sprintf("cannot start %s (check that it is a valid script and its interpreter, bash, is installed)", p.Path), Err: err}
	}
	log.Info("runner started", "pid", cmd.Process.Pid, "script", p.Path)

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ctxDone := ctx.Done()
	for {
		select {
		case err := <-done:
			code := exitStatus(cmd.ProcessState, err)
			log.Info("runner exited", "exit_code", code)
			return code, nil
		case sig := <-signals:
			log.Info("forwarding signal to the runner", "signal", sig.String())
			if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				log.Warn("signal not delivered", "signal", sig.String(), "err", err)
			}
		case <-ctxDone:
			ctxDone = nil
			log.Info("stopping the runner", "reason", ctx.Err().Error())
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
}

func exitStatus(ps *os.ProcessState, waitErr error) int {
	if ps == nil {
		return ExitRunnerStart
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// Options are Run's dependencies; the entrypoint fills them from the real process.
type Options struct {
	KMS     seal.Decrypter
	Getenv  func(string) string
	Environ []string // the entrypoint's environment, passed on without the fleet's variables
	Signals <-chan os.Signal
	Stdout  io.Writer
	Stderr  io.Writer
	Log     *slog.Logger
	// OpenTimeout bounds the KMS call; 0 means 30 seconds.
	OpenTimeout time.Duration
}

// Run is the whole launch: configuration, runner check, seal, supervision. It returns
// the exit status for the process and, when the launch itself failed, an *Error saying
// why (the status is then its Code).
func Run(ctx context.Context, o Options) (int, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.KMS == nil || o.Getenv == nil {
		err := &Error{Code: ExitBadEnvironment, Message: "launch.Run needs a KMS client and a getenv function"}
		return err.Code, err
	}
	cfg, err := LoadConfig(o.Getenv)
	if err != nil {
		return ExitCode(err), err
	}
	log = log.With("execution", cfg.Execution)
	if err := cfg.CheckRunner(); err != nil {
		return ExitCode(err), err
	}
	timeout := o.OpenTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	openCtx, cancel := context.WithTimeout(ctx, timeout)
	jit, err := Open(openCtx, o.KMS, cfg)
	cancel()
	if err != nil {
		return ExitCode(err), err
	}
	log.Info("sealed JIT config opened", "bytes", jit.Len())
	env := RunnerEnv(o.Environ, jit)
	jit.Zero()

	// A stop that arrived while KMS answered: do not start a runner that would take a
	// job only to be killed.
	select {
	case sig := <-o.Signals:
		err := &Error{Code: ExitStopped, Message: fmt.Sprintf("stopped by %s before the runner started; no job was taken", sig)}
		return err.Code, err
	default:
	}
	return Supervise(ctx, Process{
		Path: cfg.RunScriptPath(), Dir: cfg.RunnerDir, Env: env,
		Stdout: o.Stdout, Stderr: o.Stderr, Log: log,
	}, o.Signals)
}
