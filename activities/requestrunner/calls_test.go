package main

import (
	"context"
	"testing"
)

// TestRequestRunnerCallsPerInvocation pins what a warm RequestRunner costs: one
// generate-jitconfig and one KMS Encrypt per runner; the secret read once per cache
// period and, for an App, one installation token per hour.
func TestRequestRunnerCallsPerInvocation(t *testing.T) {
	for _, app := range []bool{false, true} {
		t.Run(map[bool]string{false: "PAT", true: "App"}[app], func(t *testing.T) {
			e := newEnv(t, envOptions{app: app})
			const n = 10
			for i := range n {
				job := testJob()
				job.JobID += int64(i)
				if _, err := e.handler.Handle(context.Background(), invocation(job)); err != nil {
					t.Fatal(err)
				}
			}
			checks := []struct {
				what      string
				got, want int64
			}{
				{"generate-jitconfig", e.gh.CallCount(routeJITRepo), n},
				{"KMS Encrypt", int64(e.aws.Calls("kms", "Encrypt")), n},
				{"KMS GenerateDataKey", int64(e.aws.Calls("kms", "GenerateDataKey")), 0},
				{"Secrets Manager GetSecretValue", int64(e.aws.Calls("secretsmanager", "GetSecretValue")), 1},
			}
			if app {
				checks = append(checks, struct {
					what      string
					got, want int64
				}{"installation tokens", int64(e.gh.TokenRequests(testInstallID)), 1})
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: %d calls for %d runners; want %d", c.what, c.got, n, c.want)
				}
			}
		})
	}
}

// BenchmarkRequestRunner measures one warm invocation against the loopback fakes
// (GitHub JIT registration through go-github, KMS seal through the SDK).
func BenchmarkRequestRunner(b *testing.B) {
	e := newEnv(b, envOptions{app: true})
	job := testJob()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		job.JobID = int64(1_000_000 + i)
		if _, err := e.handler.Handle(context.Background(), invocation(job)); err != nil {
			b.Fatal(err)
		}
	}
}
