package launch_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/runnerfleet/fleet/internal/seal"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/runner/launch"
)

const (
	execution = "octo-widgets-4242-1"
	// jitConfig stands for GitHub's encoded_jit_config: base64 text.
	jitConfig = "eyJydW5uZXIiOiJvY3RvLXdpZGdldHMtNDI0Mi0xIiwiLnJ1bm5lciI6IlNFQ1JFVC1KSVQtUExBSU5URVhUIn0="
)

type fakeKMS struct {
	srv    *awsfake.Server
	client *kms.Client
	keyARN string
	url    string
}

func newKMS(t *testing.T) fakeKMS {
	t.Helper()
	srv := awsfake.New(awsfake.Options{})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg, err := srv.AWSConfig(context.Background(), hs.URL, func(c *aws.Config) {
		c.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	})
	if err != nil {
		t.Fatal(err)
	}
	arn, err := srv.KMS.CreateKey("runner seals", "alias/runner-fleet")
	if err != nil {
		t.Fatal(err)
	}
	return fakeKMS{srv: srv, client: kms.NewFromConfig(cfg), keyARN: arn, url: hs.URL}
}

func (k fakeKMS) seal(t *testing.T, exec, plaintext string) string {
	t.Helper()
	s, err := seal.Seal(context.Background(), k.client, k.keyARN, exec, []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runnerDir writes a fake run.sh that records its arguments and environment in the
// directory, signals readiness by creating "ready", then runs body.
func runnerDir(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
printf '%s\n' "$@" >"$(dirname "$0")/args"
env >"$(dirname "$0")/env"
` + body
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func envOf(m map[string]string) (func(string) string, []string) {
	var environ []string
	for k, v := range m {
		environ = append(environ, k+"="+v)
	}
	environ = append(environ, "PATH="+os.Getenv("PATH"), "HOME=/home/runner")
	return func(k string) string { return m[k] }, environ
}

// syncBuffer is a bytes.Buffer safe for the runner's output goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	code      int
	err       error
	out, logs string
}

func run(t *testing.T, k fakeKMS, env map[string]string, signals <-chan os.Signal) result {
	t.Helper()
	getenv, environ := envOf(env)
	var out, logs syncBuffer
	code, err := launch.Run(context.Background(), launch.Options{
		KMS: k.client, Getenv: getenv, Environ: environ, Signals: signals,
		Stdout: &out, Stderr: &out, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		OpenTimeout: 5 * time.Second,
	})
	r := result{code: code, err: err, out: out.String(), logs: logs.String()}
	for _, s := range []string{r.out, r.logs, errString(err)} {
		if strings.Contains(s, jitConfig) || strings.Contains(s, "SECRET-JIT") {
			t.Errorf("the JIT config leaked into output or logs: %s", s)
		}
	}
	return r
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunOpensTheSealAndStartsTheRunner(t *testing.T) {
	k := newKMS(t)
	dir := runnerDir(t, "echo runner says hello\nexit 0\n")
	r := run(t, k, map[string]string{
		launch.EnvSealedJIT: k.seal(t, execution, jitConfig),
		launch.EnvExecution: execution,
		launch.EnvRunnerDir: dir,
		"KEEP_ME":           "yes",
	}, nil)
	if r.err != nil || r.code != 0 {
		t.Fatalf("Run = %d, %v\nlogs: %s", r.code, r.err, r.logs)
	}
	if !strings.Contains(r.out, "runner says hello") {
		t.Errorf("runner output not passed through: %q", r.out)
	}
	env := "\n" + readFile(t, filepath.Join(dir, "env"))
	if !strings.Contains(env, "\n"+launch.EnvJITConfig+"="+jitConfig+"\n") {
		t.Errorf("runner environment lacks %s with the opened config", launch.EnvJITConfig)
	}
	for _, gone := range []string{launch.EnvSealedJIT + "=", launch.EnvExecution + "="} {
		if strings.Contains(env, gone) {
			t.Errorf("runner environment still has %s", gone)
		}
	}
	for _, kept := range []string{"KEEP_ME=yes", launch.EnvManualTrap + "=1", "HOME=/home/runner"} {
		if !strings.Contains(env, kept) {
			t.Errorf("runner environment lacks %s", kept)
		}
	}
	if args := readFile(t, filepath.Join(dir, "args")); strings.TrimSpace(args) != "" {
		t.Errorf("run.sh got arguments %q; the JIT config must not be on the command line", args)
	}
	if !strings.Contains(r.logs, "execution="+execution) || !strings.Contains(r.logs, "runner exited") {
		t.Errorf("logs lack the execution or the exit: %s", r.logs)
	}
}

func TestRunPassesTheExitCodeThrough(t *testing.T) {
	k := newKMS(t)
	for _, code := range []int{1, 2, 3, 42} {
		dir := runnerDir(t, "exit "+strconv.Itoa(code)+"\n")
		r := run(t, k, map[string]string{
			launch.EnvSealedJIT: k.seal(t, execution, jitConfig), launch.EnvExecution: execution, launch.EnvRunnerDir: dir,
		}, nil)
		if r.err != nil || r.code != code {
			t.Errorf("run.sh exit %d: Run = %d, %v", code, r.code, r.err)
		}
	}
}

func TestRunForwardsSignals(t *testing.T) {
	k := newKMS(t)
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		body string
		want int
	}{
		{"SIGTERM trapped, exit 143", syscall.SIGTERM, `trap 'echo got TERM; exit 143' TERM`, 143},
		{"SIGINT trapped, chosen code", syscall.SIGINT, `trap 'echo got INT; exit 7' INT`, 7},
		{"SIGTERM not trapped", syscall.SIGTERM, ``, 128 + 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := runnerDir(t, tc.body+`
touch "$(dirname "$0")/ready"
i=0
while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
exit 99
`)
			signals := make(chan os.Signal, 1)
			go func() {
				for i := 0; i < 1000; i++ { // up to 10 s on a loaded machine
					if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
						signals <- tc.sig
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			r := run(t, k, map[string]string{
				launch.EnvSealedJIT: k.seal(t, execution, jitConfig), launch.EnvExecution: execution, launch.EnvRunnerDir: dir,
			}, signals)
			if r.err != nil || r.code != tc.want {
				t.Fatalf("Run = %d, %v; want %d\noutput: %s\nlogs: %s", r.code, r.err, tc.want, r.out, r.logs)
			}
			if !strings.Contains(r.logs, "forwarding signal") {
				t.Errorf("logs do not show the forwarded signal: %s", r.logs)
			}
		})
	}
}

func TestRunStopsTheRunnerWhenTheContextEnds(t *testing.T) {
	k := newKMS(t)
	dir := runnerDir(t, `trap 'exit 143' TERM
while :; do sleep 0.05; done
`)
	getenv, environ := envOf(map[string]string{
		launch.EnvSealedJIT: k.seal(t, execution, jitConfig), launch.EnvExecution: execution, launch.EnvRunnerDir: dir,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	code, err := launch.Run(ctx, launch.Options{KMS: k.client, Getenv: getenv, Environ: environ, Stdout: os.Stderr, Stderr: os.Stderr})
	if err != nil || code != 143 {
		t.Fatalf("Run = %d, %v; want 143 after the context ended", code, err)
	}
}

func TestRunDoesNotStartAfterAStop(t *testing.T) {
	k := newKMS(t)
	dir := runnerDir(t, "exit 0\n")
	signals := make(chan os.Signal, 1)
	signals <- syscall.SIGTERM
	r := run(t, k, map[string]string{
		launch.EnvSealedJIT: k.seal(t, execution, jitConfig), launch.EnvExecution: execution, launch.EnvRunnerDir: dir,
	}, signals)
	if r.code != launch.ExitStopped || !strings.Contains(errString(r.err), "before the runner started") {
		t.Fatalf("Run = %d, %v; want ExitStopped", r.code, r.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "args")); err == nil {
		t.Error("run.sh ran although the task was stopped first")
	}
}

func TestRunFailures(t *testing.T) {
	k := newKMS(t)
	good := runnerDir(t, "exit 0\n")
	sealed := k.seal(t, execution, jitConfig)
	notExec := t.TempDir()
	if err := os.WriteFile(filepath.Join(notExec, "run.sh"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badInterp := t.TempDir()
	if err := os.WriteFile(filepath.Join(badInterp, "run.sh"), []byte("#!/nonexistent/bash\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := func(kv ...string) map[string]string {
		m := map[string]string{launch.EnvSealedJIT: sealed, launch.EnvExecution: execution, launch.EnvRunnerDir: good}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		fault *awsfake.APIError
		code  int
		want  []string
	}{
		{"no execution", env(launch.EnvExecution, "<unset>"), nil, launch.ExitBadEnvironment,
			[]string{"RUNNER_FLEET_EXECUTION is not set", "RunTask overrides"}},
		{"bad execution", env(launch.EnvExecution, "octo/widgets;1"), nil, launch.ExitBadEnvironment,
			[]string{"RUNNER_FLEET_EXECUTION is not an execution name"}},
		{"no seal", env(launch.EnvSealedJIT, "<unset>"), nil, launch.ExitBadEnvironment,
			[]string{"RUNNER_FLEET_SEALED_JIT is not set"}},
		{"plaintext instead of a seal", env(launch.EnvSealedJIT, jitConfig), nil, launch.ExitBadEnvironment,
			[]string{"does not hold a sealed value", "plaintext JIT config is never accepted"}},
		{"relative runner dir", env(launch.EnvRunnerDir, "actions-runner"), nil, launch.ExitBadEnvironment,
			[]string{"RUNNER_FLEET_RUNNER_DIR=\"actions-runner\" is not an absolute path"}},
		{"runner missing", env(launch.EnvRunnerDir, "/nonexistent/actions-runner"), nil, launch.ExitRunnerMissing,
			[]string{"the runner is not installed: /nonexistent/actions-runner/run.sh is missing", "RUNNER_FLEET_RUNNER_DIR"}},
		{"run.sh not executable", env(launch.EnvRunnerDir, notExec), nil, launch.ExitRunnerMissing,
			[]string{"is not an executable file"}},
		{"run.sh cannot start", env(launch.EnvRunnerDir, badInterp), nil, launch.ExitRunnerStart,
			[]string{"cannot start", "bash"}},
		{"seal of another execution", env(launch.EnvSealedJIT, k.seal(t, "octo-widgets-9999-1", jitConfig)), nil, launch.ExitSealInvalid,
			[]string{"cannot be opened for execution " + execution, "sealed for another execution"}},
		{"corrupt seal", env(launch.EnvSealedJIT, "v1.kms.AAAA"), nil, launch.ExitSealInvalid,
			[]string{"cannot be opened"}},
		{"KMS access denied", env(), &awsfake.APIError{Code: "AccessDeniedException", Message: "not authorized to perform kms:Decrypt"}, launch.ExitKMSUnavailable,
			[]string{"KMS could not open", "kms:Decrypt permission", "AccessDeniedException"}},
		{"KMS down", env(), &awsfake.APIError{Code: "KMSInternalException", Status: 500}, launch.ExitKMSUnavailable,
			[]string{"KMS could not open", "network path to KMS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k.srv.ClearFaults()
			if tc.fault != nil {
				if err := k.srv.SetFault("kms", "Decrypt", awsfake.Fault{Err: tc.fault}); err != nil {
					t.Fatal(err)
				}
			}
			r := run(t, k, tc.env, nil)
			if r.code != tc.code {
				t.Fatalf("Run = %d, %v; want exit %d", r.code, r.err, tc.code)
			}
			if launch.ExitCode(r.err) != tc.code {
				t.Errorf("ExitCode(err) = %d, want %d", launch.ExitCode(r.err), tc.code)
			}
			var le *launch.Error
			if !errors.As(r.err, &le) {
				t.Fatalf("error %v is not a *launch.Error", r.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error %q lacks %q", r.err, w)
				}
			}
			if strings.ContainsAny(r.err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", r.err)
			}
		})
	}
	k.srv.ClearFaults()
}

func TestRunnerEnv(t *testing.T) {
	got := launch.RunnerEnv([]string{
		"PATH=/usr/bin", launch.EnvSealedJIT + "=v1.kms.x", launch.EnvExecution + "=e",
		launch.EnvJITConfig + "=stale", launch.EnvManualTrap + "=yes", "A=b=c",
	}, seal.Secret("fresh"))
	want := []string{"PATH=/usr/bin", launch.EnvManualTrap + "=yes", "A=b=c", launch.EnvJITConfig + "=fresh"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("RunnerEnv = %q, want %q", got, want)
	}
}

func TestRunKMSUnreachable(t *testing.T) {
	k := newKMS(t)
	sealed := k.seal(t, execution, jitConfig)
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close()
	cfg, err := awsfake.AWSConfig(context.Background(), deadURL, func(c *aws.Config) {
		c.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	})
	if err != nil {
		t.Fatal(err)
	}
	getenv, environ := envOf(map[string]string{
		launch.EnvSealedJIT: sealed, launch.EnvExecution: execution, launch.EnvRunnerDir: runnerDir(t, "exit 0\n"),
	})
	code, err := launch.Run(context.Background(), launch.Options{
		KMS: kms.NewFromConfig(cfg), Getenv: getenv, Environ: environ, OpenTimeout: 5 * time.Second,
	})
	if code != launch.ExitKMSUnavailable || err == nil || !strings.Contains(err.Error(), "network path to KMS") {
		t.Fatalf("Run with KMS unreachable = %d, %v; want ExitKMSUnavailable", code, err)
	}
}
