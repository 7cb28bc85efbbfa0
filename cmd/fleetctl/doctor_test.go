package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/runnerfleet/fleet/local/githubfake"
)

// healthyEnv is a fleet set up with fleetctl setup github, whose webhook delivered once.
func healthyEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.vars["GH_TOKEN"] = testToken
	if r := e.run("", "setup", "github", "--repo", "octo/hello", "--token-env", "GH_TOKEN", "--api-url", e.ghURL+githubfake.BasePath+"/"); r.code != 0 {
		t.Fatalf("setup github: %s", r.stderr)
	}
	hook := e.gh.Hooks("repo:octo/hello")[0]
	if _, err := e.gh.RecordDelivery(hook.ID, githubfake.Delivery{GUID: "g-1", StatusCode: 200, Event: "workflow_job", Action: "queued"}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDoctor(t *testing.T) {
	tests := []struct {
		name   string
		breakf func(t *testing.T, e *env)
		args   []string
		code   int
	}{
		{name: "doctor_healthy", args: []string{"--repo", "octo/hello"}},
		{name: "doctor_scope_from_history", breakf: func(t *testing.T, e *env) {
			e.seedRunner(seed{job: 1, phase: phaseWaiting})
		}},
		{name: "doctor_no_scope"},
		{name: "doctor_secret_not_json", args: []string{"--repo", "octo/hello"}, code: 1, breakf: func(t *testing.T, e *env) {
			e.aws.SecretsManager.Put(testSecretName, `{"webhook_secret": "x", "token": `)
		}},
		{name: "doctor_secret_incomplete", args: []string{"--repo", "octo/hello"}, code: 1, breakf: func(t *testing.T, e *env) {
			e.aws.SecretsManager.Put(testSecretName, `{"token": "`+testToken+`", "api_url": "`+e.ghURL+githubfake.BasePath+`/"}`)
		}},
		{name: "doctor_token_revoked", args: []string{"--repo", "octo/hello"}, code: 1, breakf: func(t *testing.T, e *env) {
			e.aws.SecretsManager.Put(testSecretName, e.secretDoc(testWebhookKey, "test-pat-revoked"))
		}},
		{name: "doctor_delivery_failed", args: []string{"--repo", "octo/hello"}, code: 1, breakf: func(t *testing.T, e *env) {
			hook := e.gh.Hooks("repo:octo/hello")[0]
			if _, err := e.gh.RecordDelivery(hook.ID, githubfake.Delivery{GUID: "g-2", StatusCode: 401, Event: "workflow_job", Action: "queued"}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "doctor_bad_class_table", args: []string{"--repo", "octo/hello"}, code: 1, breakf: func(t *testing.T, e *env) {
			e.aws.SSM.Put(testClassParam, `{"small":{"cpu":1024,"memory":512}}`)
		}},
		{name: "doctor_no_stack", code: 1, breakf: func(t *testing.T, e *env) {
			e.aws.CloudFormation.DeleteStack(DefaultStack)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := healthyEnv(t)
			if tt.breakf != nil {
				tt.breakf(t, e)
			}
			r := e.run("", append([]string{"doctor"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.code != 0 && (strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "checks failed")) {
				t.Errorf("stderr %q; want one line counting the failures", r.stderr)
			}
			if strings.Contains(r.stdout, testToken) || strings.Contains(r.stdout, testWebhookKey) {
				t.Fatalf("doctor printed a secret:\n%s", r.stdout)
			}
			golden(t, tt.name, strings.ReplaceAll(r.stdout, e.ghURL, "http://githubfake"))
		})
	}
}

func TestDoctorJSON(t *testing.T) {
	e := healthyEnv(t)
	e.aws.SecretsManager.Put(testSecretName, `not json`)
	r := e.run("", "doctor", "--repo", "octo/hello", "--json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
	}
	var got []CheckResult
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("--json output: %v\n%s", err, r.stdout)
	}
	status := map[string]string{}
	for _, c := range got {
		status[c.Check] = c.Status
	}
	if status["secret"] != "FAIL" || status["GitHub access"] != "SKIP" || status["class table"] != "OK" {
		t.Errorf("statuses %v", status)
	}
}
