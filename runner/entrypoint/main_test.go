package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	execution = "octo-widgets-77-2"
	jitConfig = "eyJTRUNSRVQiOiJKSVQtUExBSU5URVhULWVudHJ5cG9pbnQifQ=="
)

// The binary as the image runs it, against the KMS fake through the SDK's standard
// endpoint variable: real signals, real exit codes, real stderr.
func buildEntrypoint(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "runner-fleet-entrypoint")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestEntrypointBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the entrypoint binary")
	}
	bin := buildEntrypoint(t)

	srv := awsfake.New(awsfake.Options{})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg, err := srv.AWSConfig(context.Background(), hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	arn, err := srv.KMS.CreateKey("runner seals", "alias/runner-fleet")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := seal.Seal(context.Background(), kms.NewFromConfig(cfg), arn, execution, []byte(jitConfig))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	runSh := `#!/bin/sh
env >"$(dirname "$0")/env"
trap 'echo "run.sh got TERM"; exit 143' TERM
touch "$(dirname "$0")/ready"
i=0
while [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
exit 99
`
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte(runSh), 0o755); err != nil {
		t.Fatal(err)
	}
	baseEnv := []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_REGION=" + aws.ToString(&cfg.Region),
		"AWS_ENDPOINT_URL_KMS=" + hs.URL,
		"AWS_ACCESS_KEY_ID=" + awsfake.TestAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + awsfake.TestSecretAccessKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
	}

	t.Run("forwards SIGTERM and exits with the runner's code", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = append(baseEnv, launch.EnvSealedJIT+"="+sealed, launch.EnvExecution+"="+execution, launch.EnvRunnerDir+"="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("run.sh never started; stderr: %s", stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 143 {
			t.Fatalf("exit %d (%v), want 143\nstdout: %s\nstderr: %s", code, err, stdout.String(), stderr.String())
		}
		if !strings.Contains(stdout.String(), "run.sh got TERM") {
			t.Errorf("run.sh did not see the TERM: %s", stdout.String())
		}
		env, err := os.ReadFile(filepath.Join(dir, "env"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(env), launch.EnvJITConfig+"="+jitConfig) || strings.Contains(string(env), launch.EnvSealedJIT) {
			t.Error("run.sh environment: JIT config missing or the sealed value left in")
		}
		if strings.Contains(stderr.String()+stdout.String(), jitConfig) {
			t.Error("the JIT config leaked into the entrypoint's output")
		}
	})

	t.Run("failures print one line and a distinct code", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			env  []string
			code int
			want string
		}{
			{"bad environment", []string{launch.EnvSealedJIT + "=" + sealed}, launch.ExitBadEnvironment, "RUNNER_FLEET_EXECUTION is not set"},
			{"runner missing", []string{launch.EnvSealedJIT + "=" + sealed, launch.EnvExecution + "=" + execution, launch.EnvRunnerDir + "=/nonexistent"}, launch.ExitRunnerMissing, "the runner is not installed"},
			{"seal for another execution", []string{launch.EnvSealedJIT + "=" + sealed, launch.EnvExecution + "=octo-widgets-78-1", launch.EnvRunnerDir + "=" + dir}, launch.ExitSealInvalid, "cannot be opened for execution octo-widgets-78-1"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cmd := exec.Command(bin)
				cmd.Env = append(append([]string{}, baseEnv...), tc.env...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				_ = cmd.Run()
				if code := cmd.ProcessState.ExitCode(); code != tc.code {
					t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
				}
				var lines []string
				for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
					if strings.HasPrefix(l, "runner-fleet-entrypoint: ") {
						lines = append(lines, l)
					}
				}
				if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
					t.Errorf("want one failure line containing %q, got %q", tc.want, stderr.String())
				}
			})
		}
	})
}
