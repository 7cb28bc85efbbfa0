package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnerfleet/fleet/local/awsfake"
)

func TestHelpEverywhere(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"--help"}, {"help"},
		{"runners", "--help"}, {"runners", "list", "--help"}, {"runners", "show", "--help"}, {"runners", "stop", "-h"},
		{"classes", "--help"}, {"classes", "list", "--help"}, {"classes", "set", "--help"},
		{"images", "list", "--help"}, {"images", "build", "--help"},
		{"setup", "--help"}, {"setup", "github", "--help"}, {"doctor", "--help"},
	} {
		r := e.run("", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "usage: fleetctl") || r.stderr != "" {
			t.Errorf("fleetctl %s: exit %d, stdout %q, stderr %q; want usage on stdout and exit 0", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{}, {"fly"}, {"runners"}, {"runners", "jump"}, {"runners", "list", "extra"},
		{"runners", "list", "--state", "SLEEPING"}, {"runners", "list", "--since", "yesterday"},
		{"runners", "list", "--limit", "0"}, {"runners", "list", "--repo", "noslash"}, {"runners", "list", "--bogus"},
		{"runners", "show", "a", "b"}, {"runners", "stop"}, {"classes", "set"},
		{"images", "build", "ubuntu", "--arch", "sparc"}, {"doctor", "--repo", "a/b", "--org", "c"},
	} {
		r := e.run("", args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "fleetctl: ") || r.stdout != "" && len(args) != 0 {
			t.Errorf("fleetctl %s: exit %d, stdout %q, stderr %q; want exit 2 and the problem on stderr", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

func TestFlagsAndVariablesNameResources(t *testing.T) {
	e := newEnv(t)
	e.aws.CloudFormation.DeleteStack(DefaultStack)
	if r := e.run("", "classes", "list"); r.code != 1 || !strings.Contains(r.stderr, "Stack with id RunnerFleet does not exist") {
		t.Fatalf("without a stack: exit %d, %q", r.code, r.stderr)
	}
	if r := e.run("", "classes", "list", "--class-table-parameter", testClassParam); r.code != 0 {
		t.Errorf("--class-table-parameter: exit %d, %q", r.code, r.stderr)
	}
	e.vars["FLEET_CLASS_TABLE_PARAMETER"] = testClassParam
	if r := e.run("", "classes", "list"); r.code != 0 {
		t.Errorf("FLEET_CLASS_TABLE_PARAMETER: exit %d, %q", r.code, r.stderr)
	}
	delete(e.vars, "FLEET_CLASS_TABLE_PARAMETER")
	e.aws.CloudFormation.SetStack("Other", map[string]string{OutputClassTableParameter: testClassParam})
	e.vars["FLEET_STACK"] = "Other"
	if r := e.run("", "classes", "list"); r.code != 0 {
		t.Errorf("FLEET_STACK=Other: exit %d, %q", r.code, r.stderr)
	}
	if r := e.run("", "runners", "list", "--stack", "Other"); r.code != 1 || !strings.Contains(r.stderr, "stack Other has no output StateMachineArn") {
		t.Errorf("missing output: exit %d, %q", r.code, r.stderr)
	}
}

// The default configuration (config.LoadDefaultConfig) follows AWS_ENDPOINT_URL, which
// is how fleetctl reaches fleet-local with no flag.
func TestDefaultConfigFollowsAWSEndpointURL(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "none")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": e.awsURL, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": awsfake.TestAccessKeyID, "AWS_SECRET_ACCESS_KEY": awsfake.TestSecretAccessKey,
		"AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty, "AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
	} {
		t.Setenv(k, v)
	}
	m := NewMain()
	var out, errb bytes.Buffer
	m.Stdout, m.Stderr, m.Getenv, m.Now = &out, &errb, func(string) string { return "" }, e.clock.Now
	if code := m.Exit(m.Run(context.Background(), []string{"classes", "list"})); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "medium-arm") {
		t.Errorf("classes list via AWS_ENDPOINT_URL printed %q", out.String())
	}
}
