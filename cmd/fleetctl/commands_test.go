package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/githubfake"
	"github.com/runnerfleet/fleet/runner"
	"github.com/runnerfleet/fleet/runner/imageref"
)

func TestClasses(t *testing.T) {
	e := newEnv(t)
	r := e.run("", "classes", "list")
	if r.code != 0 {
		t.Fatalf("classes list: exit %d: %s", r.code, r.stderr)
	}
	golden(t, "classes_list", r.stdout)

	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   string // substring
		wantName string // class that must then exist
	}{
		{name: "new class", args: []string{"classes", "set", "xlarge-arm", "--cpu", "8192", "--memory", "32768", "--arch", "arm64", "--ephemeral-storage-gib", "50"}, wantName: "xlarge-arm"},
		{name: "change one field keeps the rest", args: []string{"classes", "set", "medium", "--spot"}, wantName: "medium"},
		{name: "pair Fargate refuses", args: []string{"classes", "set", "bad", "--cpu", "1024", "--memory", "512"}, code: 1, stderr: "Fargate does not accept cpu 1024 with memory 512"},
		{name: "bad arch", args: []string{"classes", "set", "small", "--arch", "riscv"}, code: 1, stderr: "must be x64 or arm64"},
		{name: "new class without size", args: []string{"classes", "set", "tiny", "--cpu", "256"}, code: 2, stderr: "give both --cpu and --memory"},
		{name: "bad storage", args: []string{"classes", "set", "small", "--ephemeral-storage-gib", "500"}, code: 1, stderr: "between 21 and 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.run("", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("fleetctl %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.code, tt.stderr)
			}
			if tt.wantName == "" {
				return
			}
			table := readTable(t, e)
			if _, ok := table[tt.wantName]; !ok {
				t.Fatalf("class %s not in the table: %v", tt.wantName, table.Names())
			}
		})
	}
	table := readTable(t, e)
	if m := table["medium"]; !m.Spot || m.CPU != 2048 || m.Memory != 4096 {
		t.Errorf("medium = %+v; want spot with its size kept", m)
	}
	r = e.run("", "classes", "list")
	golden(t, "classes_list_after_set", r.stdout)
}

func readTable(t *testing.T, e *env) fleet.ClassTable {
	t.Helper()
	r := e.run("", "classes", "list", "--json")
	if r.code != 0 {
		t.Fatalf("classes list --json: %s", r.stderr)
	}
	table, err := fleet.ParseClassTable([]byte(r.stdout))
	if err != nil {
		t.Fatalf("classes list --json does not parse as a class table: %v\n%s", err, r.stdout)
	}
	return table
}

func TestImagesList(t *testing.T) {
	e := newEnv(t)
	r := e.run("", "images", "list")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "no images") {
		t.Fatalf("empty repository: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	e.aws.ECR.PushImage(testRepo, "ubuntu-24.04-x64-0123456789abcdef0123", 412<<20)
	e.clock.Advance(60 * 1e9)
	e.aws.ECR.PushImage(testRepo, "debian-12-arm64-fedcba9876543210fedc", 2<<30)
	e.aws.ECR.PushImage(testRepo, "hand-pushed", 1234)
	r = e.run("", "images", "list")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "images_list", r.stdout)
}

func TestImagesBuild(t *testing.T) {
	e := newEnv(t)
	r := e.run("", "images", "build", "Ubuntu:24.04", "--class", "medium-arm")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	tag := imageref.TagFor("ubuntu:24.04", "arm64", runner.RunnerVersion, runner.RecipeHash())
	name := imageref.BuildName(tag, e.clock.Now()) + cliBuildSuffix
	arn := strings.Replace(e.ibARN, ":stateMachine:", ":execution:", 1) + ":" + name
	out, err := e.sfn.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("no image build execution %s: %v\n%s", name, err, r.stdout)
	}
	var in imageref.BuildInput
	if err := json.Unmarshal([]byte(aws.ToString(out.Input)), &in); err != nil {
		t.Fatal(err)
	}
	env, _ := imageref.Build{BaseImage: "ubuntu:24.04", ImageTag: tag, RepositoryURI: in.RepositoryURI, Arch: "arm64"}.Environment()
	if in.BaseImage != "ubuntu:24.04" || in.ImageTag != tag || in.Arch != "arm64" || in.BuildTimeoutSeconds != 3600 || len(in.Environment) != len(env) {
		t.Errorf("build input = %+v", in)
	}
	if !strings.HasPrefix(tag, "ubuntu-24.04-arm64-") {
		t.Errorf("tag %q lacks the readable prefix", tag)
	}

	// Being built: nothing new starts.
	again := e.run("", "images", "build", "ubuntu:24.04", "--arch", "arm64")
	if again.code != 0 || !strings.Contains(again.stdout, "is being built by "+name) {
		t.Errorf("second build: exit %d, %q", again.code, again.stdout)
	}
	// Built: nothing to do.
	e.aws.ECR.PushImage(testRepo, tag, 1<<20)
	done := e.run("", "images", "build", "ubuntu:24.04", "--arch", "arm64")
	if done.code != 0 || !strings.Contains(done.stdout, "already built") {
		t.Errorf("after push: exit %d, %q", done.code, done.stdout)
	}
	if bad := e.run("", "images", "build", "UBUNTU 24.04"); bad.code != 2 {
		t.Errorf("invalid reference: exit %d, want 2 (%s)", bad.code, bad.stderr)
	}
}

func TestTagParts(t *testing.T) {
	tag := imageref.TagFor("ghcr.io/acme/tools:1.2", "x64", "2.334.0", "abc")
	base, arch, ok := imageref.ParseTag(tag)
	if !ok || base != "tools-1.2" || arch != "x64" {
		t.Errorf("imageref.ParseTag(%q) = %q, %q, %v", tag, base, arch, ok)
	}
	for _, bad := range []string{"latest", "a-x64-zz", "a-riscv-0123456789abcdef0123"} {
		if _, _, ok := imageref.ParseTag(bad); ok {
			t.Errorf("imageref.ParseTag(%q) accepted a tag ImageTag never makes", bad)
		}
	}
}

func TestSetupGitHub(t *testing.T) {
	e := newEnv(t)
	e.aws.SecretsManager.Put(testSecretName, "{}") // an empty secret, as the stack creates it
	e.vars["GH_TOKEN"] = testToken
	api := e.ghURL + githubfake.BasePath + "/"
	args := []string{"setup", "github", "--repo", "octo/hello", "--token-env", "GH_TOKEN", "--stack", DefaultStack, "--api-url", api}

	first := e.run("", args...)
	if first.code != 0 {
		t.Fatalf("first setup: exit %d: %s", first.code, first.stderr)
	}
	golden(t, "setup_github_first", first.stdout)
	hooks := e.gh.Hooks("repo:octo/hello")
	if len(hooks) != 1 {
		t.Fatalf("%d hooks after setup, want 1", len(hooks))
	}
	h := hooks[0]
	if h.URL != testWebhookURL || h.ContentType != "json" || !h.Active || len(h.Events) != 1 || h.Events[0] != WebhookEvent {
		t.Errorf("hook = %+v", h)
	}
	sec := e.readSecret(t)
	if sec["webhook_secret"] != h.Secret || len(h.Secret) != 64 {
		t.Errorf("secret's webhook_secret (%d chars) is not the hook's secret", len(sec["webhook_secret"].(string)))
	}
	if sec["token"] != testToken || sec["api_url"] != e.ghURL+githubfake.BasePath+"/" {
		t.Errorf("secret document lacks the token or api_url: keys %v", keys(sec))
	}
	for _, out := range []string{first.stdout, first.stderr} {
		if strings.Contains(out, h.Secret) || strings.Contains(out, testToken) {
			t.Fatalf("output shows a secret:\n%s", out)
		}
	}

	// Second run, token on stdin: the same hook is updated with a new secret.
	args = []string{"setup", "github", "--repo", "octo/hello", "--token-stdin", "--api-url", api}
	second := e.run(testToken+"\n", args...)
	if second.code != 0 {
		t.Fatalf("second setup: exit %d: %s", second.code, second.stderr)
	}
	golden(t, "setup_github_second", second.stdout)
	hooks = e.gh.Hooks("repo:octo/hello")
	if len(hooks) != 1 || hooks[0].ID != h.ID {
		t.Fatalf("second setup left hooks %+v; want hook %d updated", hooks, h.ID)
	}
	if hooks[0].Secret == h.Secret || e.readSecret(t)["webhook_secret"] != hooks[0].Secret {
		t.Errorf("second setup did not rotate the webhook secret in both places")
	}

	// Credentials GitHub refuses: nothing is written.
	before := e.readSecret(t)["webhook_secret"]
	bad := e.run("test-pat-wrong\n", args...)
	if bad.code != 1 || !strings.Contains(bad.stderr, "check the credentials") || strings.Contains(bad.stderr, "test-pat-wrong") {
		t.Errorf("bad token: exit %d, stderr %q", bad.code, bad.stderr)
	}
	if e.readSecret(t)["webhook_secret"] != before {
		t.Errorf("a failed setup changed the secret")
	}

	usage := []struct {
		name string
		args []string
	}{
		{"no scope", []string{"setup", "github", "--token-stdin"}},
		{"two scopes", []string{"setup", "github", "--repo", "a/b", "--org", "a", "--token-stdin"}},
		{"no credential", []string{"setup", "github", "--repo", "a/b"}},
		{"two credentials", []string{"setup", "github", "--repo", "a/b", "--token-stdin", "--token-env", "X"}},
		{"app without key", []string{"setup", "github", "--repo", "a/b", "--app-id", "5"}},
		{"empty env", []string{"setup", "github", "--repo", "a/b", "--token-env", "UNSET"}},
	}
	for _, u := range usage {
		t.Run(u.name, func(t *testing.T) {
			if r := e.run("", u.args...); r.code != 2 {
				t.Errorf("exit %d, want 2: %s", r.code, r.stderr)
			}
		})
	}
}

func TestSetupGitHubApp(t *testing.T) {
	e := newEnv(t)
	key, pemBytes, err := githubfake.NewAppKey()
	if err != nil {
		t.Fatal(err)
	}
	e.gh.AddApp(42, "runner-fleet", &key.PublicKey)
	if err := e.gh.AddInstallation(githubfake.Installation{ID: 7, AppID: 42, Account: "octo-org",
		Permissions: map[string]string{"organization_self_hosted_runners": "write", "organization_hooks": "write"}}); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "setup", "github", "--org", "octo-org", "--app-id", "42", "--private-key-file", keyFile,
		"--api-url", e.ghURL+githubfake.BasePath+"/", "--webhook-url", "https://hooks.example.com/fleet")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if hooks := e.gh.Hooks("org:octo-org"); len(hooks) != 1 || hooks[0].URL != "https://hooks.example.com/fleet" {
		t.Errorf("org hooks = %+v", hooks)
	}
	sec := e.readSecret(t)
	if sec["app_id"] != float64(42) || sec["private_key"] != string(pemBytes) || sec["token"] != nil {
		t.Errorf("secret keys %v; want app_id and private_key only", keys(sec))
	}
	if strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
		t.Errorf("output shows the private key")
	}
}

func (e *env) readSecret(t *testing.T) map[string]any {
	t.Helper()
	sec, _, err := NewMainFor(e).secret(context.Background(), mustFleet(t, e))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(sec)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
