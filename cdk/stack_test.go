package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/runnerfleet/fleet/statemachine"
)

var update = flag.Bool("update", false, "rewrite cdk/testdata/RunnerFleet.template.json from the synthesized template")

const snapshotPath = "testdata/RunnerFleet.template.json"

var outdir string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		root, _, err := LoadCDKJSON(".")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := ensureBuilt(root); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		outdir, err = os.MkdirTemp("", "runnerfleet-cdk-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(outdir)
		return m.Run()
	}()
	jsii.Close()
	os.Exit(code)
}

// ensureBuilt runs `make build` when a Lambda bootstrap or the image build context is
// missing: the stack deploys those files, so synth needs them (make test builds first).
func ensureBuilt(root string) error {
	want := []string{filepath.Join(root, "build", "runner", "context", "build-image.sh")}
	for name := range functionNames {
		want = append(want, filepath.Join(root, "build", "lambda", name, "bootstrap"))
	}
	for _, f := range want {
		if _, err := os.Stat(f); err != nil {
			cmd := exec.Command("make", "-C", root, "build")
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("make build (the stack deploys its outputs): %w", err)
			}
			return nil
		}
	}
	return nil
}

// synthesized is one synthesized stack, shared by the tests that read it (jsii is slow).
type synthesized struct {
	stack       awscdk.Stack
	template    assertions.Template
	json        map[string]any
	annotations assertions.Annotations
	cfg         Config
}

var synths = map[string]*synthesized{}

// synth builds the stack from cdk.json's context with overrides on top, as `cdk synth -c`
// would, once per distinct overrides.
func synth(t *testing.T, overrides map[string]any) *synthesized {
	t.Helper()
	key := fmt.Sprint(overrides)
	if s, ok := synths[key]; ok {
		return s
	}
	root, ctx, err := LoadCDKJSON(".")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range overrides {
		ctx[k] = v
	}
	start := time.Now()
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(filepath.Join(outdir, fmt.Sprint(len(synths))))})
	cfg, err := ConfigFromApp(app, ctx)
	if err != nil {
		t.Fatal(err)
	}
	stack := NewRunnerFleetStack(app, StackName, &RunnerFleetStackProps{Config: cfg, Root: root})
	s := &synthesized{stack: stack, template: assertions.Template_FromStack(stack, nil), cfg: cfg}
	s.annotations = assertions.Annotations_FromStack(stack)
	b, err := json.Marshal(s.template.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s.json); err != nil {
		t.Fatal(err)
	}
	t.Logf("synthesized %s with %v in %s", StackName, overrides, time.Since(start).Round(time.Millisecond))
	synths[key] = s
	return s
}

func defaultStack(t *testing.T) *synthesized { return synth(t, nil) }

// logicalID is the logical ID of the CloudFormation resource behind the construct at path.
func (s *synthesized) logicalID(t *testing.T, path ...string) string {
	t.Helper()
	var c = s.stack.Node()
	var child any
	for _, p := range path {
		ch := c.TryFindChild(jsii.String(p))
		if ch == nil {
			t.Fatalf("no construct %s", strings.Join(path, "/"))
		}
		c, child = ch.Node(), ch
	}
	if dc := c.DefaultChild(); dc != nil {
		child = dc
	}
	el, ok := child.(awscdk.CfnElement)
	if !ok {
		t.Fatalf("%s is not a CloudFormation element", strings.Join(path, "/"))
	}
	return *s.stack.GetLogicalId(el)
}

func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			props, _ := r["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

func (s *synthesized) resource(t *testing.T, id string) map[string]any {
	t.Helper()
	r, ok := s.json["Resources"].(map[string]any)[id].(map[string]any)
	if !ok {
		t.Fatalf("no resource %s", id)
	}
	props, _ := r["Properties"].(map[string]any)
	return props
}

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestEveryLambdaIsGoOnArm64WithItsOwnLogGroup(t *testing.T) {
	s := defaultStack(t)
	fns := s.resources("AWS::Lambda::Function")
	if len(fns) != len(functionNames) {
		t.Errorf("%d functions; want %d (%v)", len(fns), len(functionNames), functionNames)
	}
	groups := s.resources("AWS::Logs::LogGroup")
	seen := map[string]bool{}
	for name, id := range functionNames {
		lid := s.logicalID(t, id)
		p := s.resource(t, lid)
		if p["Runtime"] != "provided.al2023" || !jsonEqual(p["Architectures"], []string{"arm64"}) || p["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v, architectures %v, handler %v; want provided.al2023, [arm64], bootstrap", name, p["Runtime"], p["Architectures"], p["Handler"])
		}
		lc, _ := p["LoggingConfig"].(map[string]any)
		if lc["LogFormat"] != "JSON" {
			t.Errorf("%s: log format %v; want JSON", name, lc["LogFormat"])
		}
		logGroup := s.logicalID(t, id+"Logs")
		if !jsonEqual(lc["LogGroup"], ref(logGroup)) {
			t.Errorf("%s: log group %v; want its own %s", name, lc["LogGroup"], logGroup)
		}
		if seen[logGroup] {
			t.Errorf("%s shares log group %s", name, logGroup)
		}
		seen[logGroup] = true
		if got := groups[logGroup]["RetentionInDays"]; got != float64(s.cfg.LogRetentionDays) {
			t.Errorf("%s: log retention %v; want %d (logRetentionDays)", name, got, s.cfg.LogRetentionDays)
		}
		code, _ := p["Code"].(map[string]any)
		if key, _ := code["S3Key"].(string); !regexp.MustCompile(`^[0-9a-f]{64}\.zip$`).MatchString(key) {
			t.Errorf("%s: code %v is not an asset", name, code)
		}
	}
	// The same through the assertions API, as a reader of the CDK docs expects it.
	s.template.AllResourcesProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogFormat": "JSON"}),
	})
}

func TestDeployedDefinitionsAreTheStatemachineFilesWithEveryKeyResolved(t *testing.T) {
	s := defaultStack(t)
	cases := []struct {
		machine string
		def     []byte
		want    map[string]any
	}{
		{"RunnerFleetMachine", statemachine.RunnerFleet(), map[string]any{
			"ResolveImageFunctionArn":   getAtt(s.logicalID(t, "ResolveImage"), "Arn"),
			"RequestRunnerFunctionArn":  getAtt(s.logicalID(t, "RequestRunner"), "Arn"),
			"ReapIfIdleFunctionArn":     getAtt(s.logicalID(t, "ReapIfIdle"), "Arn"),
			"CleanupFunctionArn":        getAtt(s.logicalID(t, "Cleanup"), "Arn"),
			"ImageBuildStateMachineArn": ref(s.logicalID(t, "ImageBuildMachine")),
			"ImageBuildProjectName":     ref(s.logicalID(t, "ImageBuild")),
			"ClusterArn":                getAtt(s.logicalID(t, "Cluster"), "Arn"),
			"TaskExecutionRoleArn":      getAtt(s.logicalID(t, "RunnerExecutionRole"), "Arn"),
			"TaskRoleArn":               getAtt(s.logicalID(t, "RunnerTaskRole"), "Arn"),
		}},
		{"ImageBuildMachine", statemachine.ImageBuild(), map[string]any{
			"ImageBuildProjectName": ref(s.logicalID(t, "ImageBuild")),
			"ImageBuildProjectArn":  getAtt(s.logicalID(t, "ImageBuild"), "Arn"),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.machine, func(t *testing.T) {
			p := s.resource(t, s.logicalID(t, tc.machine))
			if p["DefinitionString"] != string(tc.def) {
				t.Errorf("DefinitionString is not the statemachine package's definition byte for byte")
			}
			subs, _ := p["DefinitionSubstitutions"].(map[string]any)
			keys := statemachine.Keys(tc.def)
			if len(subs) != len(keys) {
				t.Errorf("substitutions %v; want exactly the definition's keys %v", subs, keys)
			}
			for _, k := range keys {
				want, known := tc.want[k]
				if !known {
					t.Errorf("${%s}: this test does not know which resource it names; add it", k)
					continue
				}
				if !jsonEqual(subs[k], want) {
					t.Errorf("${%s} = %v; want %v", k, subs[k], want)
				}
			}
			// fleet-local fills the same keys; Substitute is strict about missing ones.
			values := map[string]string{}
			for _, k := range keys {
				values[k] = "arn:aws:test:::" + k
			}
			if _, err := statemachine.Substitute(tc.def, values); err != nil {
				t.Errorf("the keys the stack fills do not substitute: %v", err)
			}
		})
	}
	// Named as docs/contract.md and fleetctl expect.
	if name := s.resource(t, s.logicalID(t, "RunnerFleetMachine"))["StateMachineName"]; name != statemachine.RunnerFleetName {
		t.Errorf("state machine name %v; want %s", name, statemachine.RunnerFleetName)
	}
}

func TestUnknownSubstitutionKeyFailsSynth(t *testing.T) {
	defs := EmbeddedDefinitions()
	defs.RunnerFleet = []byte(`{"StartAt":"X","States":{"X":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${MysteryFunctionArn}"},"End":true}}}`)
	msg := synthPanics(t, defs)
	if !strings.Contains(msg, "${MysteryFunctionArn}") || !strings.Contains(msg, "does not know how to fill") {
		t.Errorf("panic %q; want it to name ${MysteryFunctionArn}", msg)
	}
}

func TestUnknownIntegrationFailsSynth(t *testing.T) {
	defs := EmbeddedDefinitions()
	defs.RunnerFleet = []byte(`{"StartAt":"X","States":{"X":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","End":true}}}`)
	msg := synthPanics(t, defs)
	if !strings.Contains(msg, "dynamodb:putItem") || !strings.Contains(msg, "does not grant") {
		t.Errorf("panic %q; want it to name the ungranted integration", msg)
	}
}

func synthPanics(t *testing.T, defs Definitions) (msg string) {
	t.Helper()
	root, _, err := LoadCDKJSON(".")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("the stack was built; want a panic")
		}
		msg = fmt.Sprint(r)
	}()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(outdir, "panics"))})
	NewRunnerFleetStack(app, StackName, &RunnerFleetStackProps{Config: DefaultConfig(), Root: root, Definitions: &defs})
	return ""
}

var secretLooking = regexp.MustCompile(`(?i)-----BEGIN|private_key|webhook_secret|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_`)

func TestNoSecretInAnyLambdaEnvironment(t *testing.T) {
	s := defaultStack(t)
	secret, key := s.logicalID(t, "GitHubSecret"), s.logicalID(t, "FleetKey")
	for id, p := range s.resources("AWS::Lambda::Function") {
		env, _ := p["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for name, v := range vars {
			if str, ok := v.(string); ok && secretLooking.MatchString(str) {
				t.Errorf("%s: %s=%q looks like a secret value", id, name, str)
			}
			switch {
			case name == "GITHUB_SECRET_ARN":
				if !jsonEqual(v, ref(secret)) {
					t.Errorf("%s: GITHUB_SECRET_ARN=%v; want the secret's ARN (Ref %s), never its value", id, v, secret)
				}
			case name == "KMS_KEY_ARN":
				if !jsonEqual(v, getAtt(key, "Arn")) {
					t.Errorf("%s: KMS_KEY_ARN=%v; want the key's ARN", id, v)
				}
			case regexp.MustCompile(`SECRET|TOKEN|PASSWORD|PRIVATE`).MatchString(name):
				t.Errorf("%s: environment variable %s may carry a secret; secrets are read from Secrets Manager", id, name)
			}
		}
	}
	// The secret itself is generated at deploy time; the template holds only its shape.
	p := s.resource(t, secret)
	if _, ok := p["SecretString"]; ok {
		t.Errorf("the secret has a SecretString in the template")
	}
	gen, _ := p["GenerateSecretString"].(map[string]any)
	if gen["GenerateStringKey"] != "webhook_secret" || secretLooking.MatchString(strings.ReplaceAll(fmt.Sprint(gen["SecretStringTemplate"]), `"private_key"`, "")) {
		t.Errorf("secret generation %v; want a generated webhook_secret and an empty template", gen)
	}
}

// statements lists the policy statements attached to the role with the given logical ID.
func (s *synthesized) statements(roleID string) []map[string]any {
	var out []map[string]any
	for _, p := range s.resources("AWS::IAM::Policy") {
		roles, _ := p["Roles"].([]any)
		if !slices.ContainsFunc(roles, func(r any) bool { return jsonEqual(r, ref(roleID)) }) {
			continue
		}
		doc := p["PolicyDocument"].(map[string]any)
		for _, st := range doc["Statement"].([]any) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func actionsOf(st map[string]any) []string {
	switch a := st["Action"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func TestRunnerTaskRoleGrantsNothingOfTheControlPlane(t *testing.T) {
	s := defaultStack(t)
	role := s.logicalID(t, "RunnerTaskRole")
	rp := s.resource(t, role)
	if rp["ManagedPolicyArns"] != nil || rp["Policies"] != nil {
		t.Errorf("runner task role has managed or inline policies: %v %v", rp["ManagedPolicyArns"], rp["Policies"])
	}
	var actions []string
	for _, st := range s.statements(role) {
		if st["Effect"] != "Allow" {
			continue
		}
		for _, a := range actionsOf(st) {
			actions = append(actions, a)
			switch {
			case a == "kms:Decrypt":
				want := map[string]any{"StringLike": map[string]any{"kms:EncryptionContext:runner-fleet:execution": "*"}}
				if !jsonEqual(st["Condition"], want) {
					t.Errorf("kms:Decrypt condition %v; want %v", st["Condition"], want)
				}
				if !jsonEqual(st["Resource"], getAtt(s.logicalID(t, "FleetKey"), "Arn")) {
					t.Errorf("kms:Decrypt on %v; want the fleet key only", st["Resource"])
				}
			case strings.HasPrefix(a, "logs:"):
				if !jsonEqual(st["Resource"], getAtt(s.logicalID(t, "RunnerLogs"), "Arn")) {
					t.Errorf("%s on %v; want the runner log group only", a, st["Resource"])
				}
			}
		}
	}
	sort.Strings(actions)
	if want := []string{"kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents"}; !slices.Equal(actions, want) {
		t.Errorf("runner task role may %v; want exactly %v", actions, want)
	}
}

func TestStateMachineRolesCoverTheSyncIntegrations(t *testing.T) {
	s := defaultStack(t)
	grants := func(role string) map[string][]any {
		out := map[string][]any{}
		for _, st := range s.statements(role) {
			for _, a := range actionsOf(st) {
				out[a] = append(out[a], st["Resource"])
			}
		}
		return out
	}
	fleet := grants(s.logicalID(t, "RunnerFleetMachineRole"))
	b, _ := json.Marshal(fleet["events:PutRule"])
	for _, rule := range []string{"StepFunctionsGetEventsForECSTaskRule", "StepFunctionsGetEventsForStepFunctionsExecutionRule"} {
		if !strings.Contains(string(b), ":rule/"+rule) {
			t.Errorf("RunnerFleet role: events:PutRule on %s; want %s", b, rule)
		}
	}
	invoke, _ := json.Marshal(fleet["lambda:InvokeFunction"])
	for _, fn := range []string{"ResolveImage", "RequestRunner", "ReapIfIdle", "Cleanup"} {
		if !strings.Contains(string(invoke), `"`+s.logicalID(t, fn)+`"`) {
			t.Errorf("RunnerFleet role cannot invoke %s: %s", fn, invoke)
		}
	}
	for _, fn := range []string{"Webhook", "Janitor"} {
		if strings.Contains(string(invoke), `"`+s.logicalID(t, fn)+`"`) {
			t.Errorf("RunnerFleet role may invoke %s, which no state invokes", fn)
		}
	}
	for _, a := range []string{"ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "iam:PassRole", "states:StartExecution", "states:DescribeExecution", "states:StopExecution"} {
		if len(fleet[a]) == 0 {
			t.Errorf("RunnerFleet role lacks %s", a)
		}
	}
	build := grants(s.logicalID(t, "ImageBuildMachineRole"))
	if b, _ := json.Marshal(build["events:PutRule"]); !strings.Contains(string(b), ":rule/StepFunctionsGetEventsForCodeBuildStartBuildRule") {
		t.Errorf("image build role: events:PutRule on %s; want the CodeBuild managed rule", b)
	}
	for _, a := range []string{"codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds"} {
		if !jsonEqual(build[a], []any{getAtt(s.logicalID(t, "ImageBuild"), "Arn")}) {
			t.Errorf("image build role: %s on %v; want the project only", a, build[a])
		}
	}
	if len(build["ecs:RunTask"]) > 0 || len(build["lambda:InvokeFunction"]) > 0 {
		t.Errorf("image build role has grants for integrations its definition does not use")
	}
}

func TestWebhookBehindAPublicFunctionURL(t *testing.T) {
	s := defaultStack(t)
	webhook := s.logicalID(t, "Webhook")
	s.template.HasResourceProperties(jsii.String("AWS::Lambda::Url"), &map[string]any{
		"AuthType":          "NONE",
		"TargetFunctionArn": getAtt(webhook, "Arn"),
	})
	if got := s.resource(t, webhook)["ReservedConcurrentExecutions"]; got != float64(s.cfg.WebhookReservedConcurrency) {
		t.Errorf("webhook reserved concurrency %v; want %d", got, s.cfg.WebhookReservedConcurrency)
	}
	outputs := s.json["Outputs"].(map[string]any)
	var keys []string
	for k := range outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"ClassTableParameter", "ClusterName", "EcrRepositoryUri", "SecretArn", "StateMachineArn", "StateMachineConsoleUrl", "WebhookUrl"}
	if !slices.Equal(keys, want) {
		t.Errorf("outputs %v; want %v (fleetctl reads these keys)", keys, want)
	}
	if !jsonEqual(outputs["WebhookUrl"].(map[string]any)["Value"], getAtt(s.logicalID(t, "Webhook", "FunctionUrl"), "FunctionUrl")) {
		t.Errorf("WebhookUrl output %v is not the function URL", outputs["WebhookUrl"])
	}
}

func TestCDKNagAwsSolutionsClean(t *testing.T) {
	s := defaultStack(t)
	nag := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, m := range *s.annotations.FindError(jsii.String("*"), nag) {
		t.Errorf("cdk-nag error at %s: %v", *m.Id, m.Entry.Data)
	}
	for _, m := range *s.annotations.FindWarning(jsii.String("*"), nag) {
		t.Errorf("cdk-nag warning at %s: %v", *m.Id, m.Entry.Data)
	}
	// Suppressions are only honoured with a reason; each must say why.
	for id, r := range s.json["Resources"].(map[string]any) {
		md, _ := r.(map[string]any)["Metadata"].(map[string]any)
		nagMD, _ := md["cdk_nag"].(map[string]any)
		rules, _ := nagMD["rules_to_suppress"].([]any)
		for _, rule := range rules {
			rule := rule.(map[string]any)
			if reason, _ := rule["reason"].(string); len(reason) < 40 {
				t.Errorf("%s: suppression of %v has no real reason: %q", id, rule["id"], reason)
			}
		}
	}
}

// activityReads reports whether the activity's source (or the internal packages it
// shares) mentions the environment variable, i.e. its Config reads it.
func activityReads(t *testing.T, root, name, variable string) (bool, bool) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "activities", name, "*.go"))
	if len(files) == 0 {
		return false, false
	}
	shared, _ := filepath.Glob(filepath.Join(root, "internal", "*", "*.go"))
	for _, f := range append(files, shared...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"`+variable+`"`) {
			return true, true
		}
	}
	return false, true
}

func TestEachEnvironmentVariableIsOneItsFunctionReads(t *testing.T) {
	s := defaultStack(t)
	root, _, err := LoadCDKJSON(".")
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range functionNames {
		env, _ := s.resource(t, s.logicalID(t, id))["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for v := range vars {
			reads, exists := activityReads(t, root, name, v)
			if !exists {
				t.Logf("activities/%s has no source yet; not checked", name)
				break
			}
			if !reads {
				t.Errorf("the stack sets %s on %s, but activities/%s never reads it", v, name, name)
			}
		}
	}
}

func TestImportedVPCAndAlarmEmail(t *testing.T) {
	s := synth(t, map[string]any{
		"vpcId":          "vpc-0123456789abcdef0",
		"subnetIds":      []any{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"},
		"assignPublicIp": false,
		"alarmEmail":     "ops@example.com",
		"repositories":   []any{"my-org/*"},
	})
	if n := len(s.resources("AWS::EC2::VPC")); n != 0 {
		t.Errorf("%d VPCs created; want the imported one only", n)
	}
	s.template.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroup"), &map[string]any{"VpcId": "vpc-0123456789abcdef0"})
	env := s.resource(t, s.logicalID(t, "ResolveImage"))["Environment"].(map[string]any)["Variables"].(map[string]any)
	if env["SUBNETS"] != "subnet-0123456789abcdef0,subnet-0fedcba9876543210" || env["ASSIGN_PUBLIC_IP"] != "false" {
		t.Errorf("SUBNETS=%v ASSIGN_PUBLIC_IP=%v", env["SUBNETS"], env["ASSIGN_PUBLIC_IP"])
	}
	s.template.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), &map[string]any{"Protocol": "email", "Endpoint": "ops@example.com"})
	topic := s.logicalID(t, "AlarmTopic")
	for id, a := range s.resources("AWS::CloudWatch::Alarm") {
		if !jsonEqual(a["AlarmActions"], []any{ref(topic)}) {
			t.Errorf("alarm %s notifies %v; want the topic", id, a["AlarmActions"])
		}
	}
	if n := len(*s.annotations.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))); n != 0 {
		t.Errorf("%d cdk-nag errors with an imported VPC and an alarm topic", n)
	}
}

func TestPrivateSubnetsBehindNAT(t *testing.T) {
	s := synth(t, map[string]any{"privateSubnets": true, "natGateways": 1.0})
	if n := len(s.resources("AWS::EC2::NatGateway")); n != 1 {
		t.Errorf("%d NAT gateways; want 1", n)
	}
	env := s.resource(t, s.logicalID(t, "ResolveImage"))["Environment"].(map[string]any)["Variables"].(map[string]any)
	subnets, _ := json.Marshal(env["SUBNETS"])
	if env["ASSIGN_PUBLIC_IP"] != "false" || !strings.Contains(string(subnets), "RunnersSubnet") || strings.Contains(string(subnets), "PublicSubnet") {
		t.Errorf("ASSIGN_PUBLIC_IP=%v SUBNETS=%s; want no public IP, the private Runners subnets", env["ASSIGN_PUBLIC_IP"], subnets)
	}
}

func TestInvalidContextFailsBeforeAnyConstruct(t *testing.T) {
	ctx := map[string]any{"defaultClass": "huge", "logRetentionDays": 10.0}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(filepath.Join(outdir, "invalid"))})
	_, err := ConfigFromApp(app, ctx)
	if err == nil || !strings.Contains(err.Error(), `"defaultClass"`) || !strings.Contains(err.Error(), `"logRetentionDays"`) {
		t.Errorf("ConfigFromApp = %v; want an error naming defaultClass and logRetentionDays", err)
	}
}

// Normalised away from the snapshot: asset hashes (they follow the bootstrap bytes) and
// the documents other folders own, each checked for equality by the tests above.
var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

func normalisedTemplate(t *testing.T, s *synthesized) []byte {
	t.Helper()
	return normalise(t, s.json, s.cfg)
}

func normalise(t *testing.T, template map[string]any, cfg Config) []byte {
	t.Helper()
	var doc map[string]any
	b, _ := json.Marshal(template)
	_ = json.Unmarshal(b, &doc)
	res := doc["Resources"].(map[string]any)
	for id, r := range res {
		r := r.(map[string]any)
		p, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::StepFunctions::StateMachine":
			p["DefinitionString"] = "<statemachine package definition, see TestDeployedDefinitions...>"
		case "AWS::CodeBuild::Project":
			src := p["Source"].(map[string]any)
			want, err := os.ReadFile("../runner/buildspec.yml")
			if err != nil || src["BuildSpec"] != string(want) {
				t.Errorf("%s: BuildSpec is not runner/buildspec.yml verbatim", id)
			}
			src["BuildSpec"] = "<runner/buildspec.yml>"
		case "AWS::SSM::Parameter":
			if p["Value"] != string(cfg.classTableJSON()) {
				t.Errorf("%s: class table %v; want %s", id, p["Value"], cfg.classTableJSON())
			}
			p["Value"] = "<class table from classTable context or fleet.DefaultClassTable()>"
		}
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(assetHash.ReplaceAll(out, []byte("<asset-hash>")), '\n')
}

func TestTemplateSnapshot(t *testing.T) {
	got := normalisedTemplate(t, defaultStack(t))
	if *update {
		if err := os.WriteFile(snapshotPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", snapshotPath)
		return
	}
	want, err := os.ReadFile(snapshotPath)
	if err != nil {
		t.Fatalf("%v; create it with: go test ./cdk -run TestTemplateSnapshot -update", err)
	}
	if string(got) != string(want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		line := 0
		for line < len(gl) && line < len(wl) && gl[line] == wl[line] {
			line++
		}
		at := func(l []string) string {
			if line < len(l) {
				return l[line]
			}
			return "<end of file>"
		}
		t.Errorf("the synthesized template differs from %s from line %d:\n got: %s\nwant: %s\n"+
			"If the change is intended, review it and refresh the snapshot: go test ./cdk -run TestTemplateSnapshot -update",
			snapshotPath, line+1, at(gl), at(wl))
	}
}

// TestCLITemplateMatchesInProcess compares `cdk synth`'s template (make synth points
// RUNNERFLEET_CLI_TEMPLATE at it) with the one the tests synthesize: cdk.json reaches
// both the same way. The CLI adds only construct-path and asset metadata.
func TestCLITemplateMatchesInProcess(t *testing.T) {
	path := os.Getenv("RUNNERFLEET_CLI_TEMPLATE")
	if path == "" {
		t.Skip("RUNNERFLEET_CLI_TEMPLATE is not set; make synth sets it after cdk synth")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cli map[string]any
	if err := json.Unmarshal(b, &cli); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, r := range cli["Resources"].(map[string]any) {
		r := r.(map[string]any)
		md, _ := r["Metadata"].(map[string]any)
		for k := range md {
			if strings.HasPrefix(k, "aws:cdk:path") || strings.HasPrefix(k, "aws:asset:") {
				delete(md, k)
			}
		}
		if md != nil && len(md) == 0 {
			delete(r, "Metadata")
		}
	}
	s := defaultStack(t)
	got, want := normalise(t, cli, s.cfg), normalisedTemplate(t, s)
	if string(got) != string(want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		line := 0
		for line < len(gl) && line < len(wl) && gl[line] == wl[line] {
			line++
		}
		t.Errorf("cdk synth and go test synthesize different templates, from line %d:\n cli: %s\ntest: %s", line+1, gl[min(line, len(gl)-1)], wl[min(line, len(wl)-1)])
	}
}

// iamPrefix maps an AWS SDK for Go package name to its IAM service prefix.
var iamPrefix = map[string]string{
	"ecs": "ecs", "sfn": "states", "kms": "kms", "ecr": "ecr", "ssm": "ssm",
	"secretsmanager": "secretsmanager", "codebuild": "codebuild",
}

// Calls the shared packages make on an activity's behalf.
var sharedCalls = map[string][]string{
	"internal/history":     {"states:GetExecutionHistory"},
	"internal/credentials": {"secretsmanager:GetSecretValue"},
	"internal/seal":        {"kms:Encrypt", "kms:GenerateDataKey"}, // sealing; opening is the runner's
}

var (
	sdkMethod     = regexp.MustCompile(`(?m)^\s*([A-Z][A-Za-z]*)\(ctx context\.Context, [a-z]+ \*([a-z]+)\.([A-Z][A-Za-z]*)Input\b`)
	internalUsage = regexp.MustCompile(`"github\.com/runnerfleet/fleet/(internal/[a-z]+)"`)
)

// activityCalls lists the IAM actions an activity's AWS calls need: the SDK methods its
// interfaces declare (the handlers reach AWS only through them) and those of the shared
// packages it imports.
func activityCalls(t *testing.T, root, name string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "activities", name, "*.go"))
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sdkMethod.FindAllStringSubmatch(string(b), -1) {
			if p, ok := iamPrefix[m[2]]; ok && m[1] == m[3] {
				seen[p+":"+m[1]] = true
			}
		}
		for _, m := range internalUsage.FindAllStringSubmatch(string(b), -1) {
			for _, a := range sharedCalls[m[1]] {
				seen[a] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func TestEachFunctionRoleAllowsTheCallsItsHandlerMakes(t *testing.T) {
	s := defaultStack(t)
	root, _, err := LoadCDKJSON(".")
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range functionNames {
		calls := activityCalls(t, root, name)
		t.Logf("%s calls %v", name, calls)
		granted := map[string]bool{}
		for _, st := range s.statements(s.logicalID(t, id+"Role")) {
			for _, a := range actionsOf(st) {
				granted[a] = true
			}
		}
		for _, c := range calls {
			if !granted[c] {
				t.Errorf("activities/%s calls %s, but its role does not allow it; grant it in cdk/", name, c)
			}
		}
		for a := range granted {
			if strings.HasPrefix(a, "logs:") || strings.HasPrefix(a, "iam:PassRole") || slices.Contains(calls, a) {
				continue
			}
			// RegisterTaskDefinition with tags needs ecs:TagResource as well.
			if a == "ecs:TagResource" && slices.Contains(calls, "ecs:RegisterTaskDefinition") {
				continue
			}
			t.Errorf("the role of %s allows %s, which activities/%s never calls", name, a, name)
		}
	}
}

func TestRunnerInfrastructure(t *testing.T) {
	s := defaultStack(t)
	// Fargate and Fargate Spot, Container Insights.
	s.template.HasResourceProperties(jsii.String("AWS::ECS::ClusterCapacityProviderAssociations"), &map[string]any{
		"CapacityProviders": []any{"FARGATE", "FARGATE_SPOT"},
	})
	s.template.HasResourceProperties(jsii.String("AWS::ECS::Cluster"), &map[string]any{
		"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
	})
	// Scan on push; untagged images expire, each tag prefix keeps ecrKeepImages.
	repo := s.resource(t, s.logicalID(t, "Images"))
	if !jsonEqual(repo["ImageScanningConfiguration"], map[string]any{"ScanOnPush": true}) {
		t.Errorf("ECR scanning %v; want scan on push", repo["ImageScanningConfiguration"])
	}
	var policy struct {
		Rules []struct {
			Selection struct {
				TagStatus      string   `json:"tagStatus"`
				TagPatternList []string `json:"tagPatternList"`
				CountType      string   `json:"countType"`
				CountNumber    int      `json:"countNumber"`
			} `json:"selection"`
		} `json:"rules"`
	}
	text, _ := repo["LifecyclePolicy"].(map[string]any)["LifecyclePolicyText"].(string)
	if err := json.Unmarshal([]byte(text), &policy); err != nil {
		t.Fatalf("lifecycle policy %q: %v", text, err)
	}
	var kept []string
	untagged := false
	for _, r := range policy.Rules {
		switch sel := r.Selection; {
		case sel.TagStatus == "untagged":
			untagged = true
		case sel.TagStatus == "tagged" && sel.CountType == "imageCountMoreThan" && sel.CountNumber == s.cfg.EcrKeepImages:
			kept = append(kept, sel.TagPatternList...)
		}
	}
	if !untagged || !slices.Equal(kept, s.cfg.EcrTagPatterns) {
		t.Errorf("lifecycle rules %s; want untagged expiry and %d kept per pattern %v", text, s.cfg.EcrKeepImages, s.cfg.EcrTagPatterns)
	}
	// Docker builds need privileged mode; the project may push to this repository only.
	s.template.HasResourceProperties(jsii.String("AWS::CodeBuild::Project"), &map[string]any{
		"Environment": assertions.Match_ObjectLike(&map[string]any{"PrivilegedMode": true}),
		"Source":      assertions.Match_ObjectLike(&map[string]any{"Type": "S3"}),
	})
	for _, st := range s.statements(s.logicalID(t, "ImageBuild", "Role")) {
		for _, a := range actionsOf(st) {
			if a == "ecr:PutImage" && !jsonEqual(st["Resource"], getAtt(s.logicalID(t, "Images"), "Arn")) {
				t.Errorf("the build may push to %v; want the fleet repository only", st["Resource"])
			}
		}
	}
	s.template.HasResourceProperties(jsii.String("AWS::KMS::Key"), &map[string]any{"EnableKeyRotation": true})
	s.template.HasResourceProperties(jsii.String("AWS::Events::Rule"), &map[string]any{
		"ScheduleExpression": "rate(10 minutes)",
		"Targets":            []any{assertions.Match_ObjectLike(&map[string]any{"Arn": getAtt(s.logicalID(t, "Janitor"), "Arn")})},
	})
	// The class table parameter is the configured table; the security group lets nothing in.
	s.template.HasResourceProperties(jsii.String("AWS::SSM::Parameter"), &map[string]any{"Type": "String", "Value": string(s.cfg.classTableJSON())})
	sg := s.resource(t, s.logicalID(t, "RunnerSecurityGroup"))
	if sg["SecurityGroupIngress"] != nil {
		t.Errorf("runner security group allows ingress: %v", sg["SecurityGroupIngress"])
	}
	// The default VPC has no NAT gateway: runners in public subnets get public IPs.
	if n := len(s.resources("AWS::EC2::NatGateway")); n != 0 {
		t.Errorf("%d NAT gateways in the default network; want none", n)
	}
}
