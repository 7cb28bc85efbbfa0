package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// DoctorCommand checks that every piece the fleet needs is in place, printing OK or
// what to fix for each.
type DoctorCommand struct {
	m *Main
}

// DoctorOptions are the command's flags.
type DoctorOptions struct {
	// Scope is the GitHub repository or organisation to check; zero means the scope
	// the newest execution recorded.
	Scope ghrunner.Scope
	JSON  bool
}

// CheckResult is one line of doctor's report.
type CheckResult struct {
	Check  string `json:"check"`
	Status string `json:"status"` // OK, FAIL or SKIP
	Detail string `json:"detail"`
}

// check is one line of the report.
type check struct {
	name string
	err  error  // nil: OK
	note string // what was seen, when OK
	skip bool
}

// Run parses args and runs the checks.
func (c *DoctorCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetctl doctor", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs)
	repo := fs.String("repo", "", "check GitHub access and the webhook on repository OWNER/NAME (default: env FLEET_GITHUB_SCOPE, else the scope the newest runner registered in)")
	org := fs.String("org", "", "check GitHub access and the webhook on organisation NAME")
	asJSON := fs.Bool("json", false, "print the checks as JSON: [{\"check\", \"status\" (OK, FAIL, SKIP), \"detail\"}]")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetctl doctor [--repo OWNER/NAME | --org NAME] [options]\n\nChecks the stack outputs, the secret, GitHub access, the webhook and its last delivery,\nthe state machine and the class table. Exit status 1 when any check fails.\n\noptions:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, c.m.Stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("doctor takes no arguments, got %q", fs.Args())
	}
	var opts DoctorOptions
	scope := ""
	switch {
	case *repo != "" && *org != "":
		return usageErrorf("give at most one of --repo and --org")
	case *repo != "":
		scope = "repo:" + *repo
	case *org != "":
		scope = "org:" + *org
	default:
		scope = c.m.Getenv("FLEET_GITHUB_SCOPE")
	}
	if scope != "" {
		sc, err := ghrunner.ParseScope(scope)
		if err != nil {
			return usageErrorf("%v", err)
		}
		opts.Scope = sc
	}
	f, err := c.m.fleet(ctx, &ff)
	if err != nil {
		return err
	}
	opts.JSON = *asJSON
	checks := c.checks(ctx, f, opts)
	failed := 0
	report := make([]CheckResult, 0, len(checks))
	for _, ch := range checks {
		r := CheckResult{Check: ch.name, Status: "OK", Detail: ch.note}
		switch {
		case ch.skip:
			r.Status = "SKIP"
		case ch.err != nil:
			failed++
			r.Status, r.Detail = "FAIL", oneLine(ch.err.Error())
		}
		report = append(report, r)
	}
	if opts.JSON {
		if err := writeJSON(c.m.Stdout, report); err != nil {
			return err
		}
	} else {
		for _, r := range report {
			fmt.Fprintf(c.m.Stdout, "%-4s  %s: %s\n", r.Status, r.Check, r.Detail)
		}
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed; fix them as each FAIL line says", failed, len(checks))
	}
	return nil
}

func (c *DoctorCommand) checks(ctx context.Context, f *Fleet, opts DoctorOptions) []check {
	var out []check
	add := func(name string, err error, note string) { out = append(out, check{name: name, err: err, note: note}) }
	skip := func(name, why string) { out = append(out, check{name: name, skip: true, note: why}) }

	// Stack outputs. When they cannot be read, the checks that need a resource no flag
	// or variable names are skipped rather than failing with the same error again.
	missing := map[string]bool{}
	for _, r := range resources {
		if _, err := f.Resource(ctx, r.output); err != nil {
			missing[r.output] = true
		}
	}
	needs := func(name string, outputs ...string) bool {
		for _, o := range outputs {
			if missing[o] {
				for _, r := range resources {
					if r.output == o {
						skip(name, fmt.Sprintf("needs %s: the stack's output, --%s or %s", o, r.flag, r.env))
					}
				}
				return true
			}
		}
		return false
	}
	if outs, err := f.Outputs(ctx); err != nil {
		if len(missing) == 0 {
			skip("stack "+f.StackName(), "not readable, but flags and FLEET_* variables name every resource")
		} else {
			add("stack "+f.StackName(), err, "")
		}
	} else {
		var absent []string
		for _, r := range resources {
			if outs[r.output] == "" {
				absent = append(absent, r.output)
			}
		}
		if len(absent) > 0 {
			add("stack "+f.StackName(), fmt.Errorf("outputs %s are missing; redeploy the stack (cdk deploy)", strings.Join(absent, ", ")), "")
		} else {
			add("stack "+f.StackName(), nil, fmt.Sprintf("%d outputs", len(outs)))
		}
	}

	// The secret.
	var sec credentials.Secret
	var secretARN string
	secErr := errors.New("no secret")
	if !needs("secret", OutputSecretARN) {
		sec, secretARN, secErr = c.m.secret(ctx, f)
	}
	switch {
	case secretARN == "":
	case secErr != nil:
		add("secret", fmt.Errorf("%w; run fleetctl setup github", secErr), "")
	default:
		add("secret", nil, secretARN+" is a JSON document")
		if err := sec.ValidateWebhook(); err != nil {
			add("secret webhook_secret", err, "")
		} else {
			add("secret webhook_secret", nil, "set")
		}
		if err := sec.ValidateGitHub(); err != nil {
			add("secret GitHub credentials", fmt.Errorf("%w; run fleetctl setup github", err), "")
		} else if sec.AppID != 0 {
			add("secret GitHub credentials", nil, fmt.Sprintf("GitHub App %d", sec.AppID))
		} else {
			add("secret GitHub credentials", nil, "personal access token")
		}
	}

	// GitHub: auth, runner permission, webhook.
	gitHubOK := secErr == nil && sec.ValidateGitHub() == nil
	scope := opts.Scope
	if gitHubOK && scope.Owner == "" {
		scope = c.recordedScope(ctx, f)
	}
	switch {
	case !gitHubOK:
		skip("GitHub access", "needs a complete secret")
		skip("webhook", "needs a complete secret")
	case scope.Owner == "":
		skip("GitHub access", "no scope to check: pass --repo OWNER/NAME or --org NAME (no runner has registered yet)")
		skip("webhook", "no scope to check: pass --repo or --org")
	default:
		c.checkGitHub(ctx, f, sec, scope, add)
	}

	// The state machine.
	if !needs("state machine", OutputStateMachineARN) {
		sm, _ := f.Resource(ctx, OutputStateMachineARN)
		d, err := f.SFN.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(sm)})
		switch {
		case err != nil:
			add("state machine", fmt.Errorf("%s (Step Functions DescribeStateMachine): %w; check the ARN and your states:DescribeStateMachine permission", sm, brief(err)), "")
		case d.Status != sfntypes.StateMachineStatusActive:
			add("state machine", fmt.Errorf("%s is %s; redeploy the stack", sm, d.Status), "")
		default:
			add("state machine", nil, aws.ToString(d.Name)+" is ACTIVE")
		}
	}

	// The class table.
	if !needs("class table", OutputClassTableParameter) {
		table, param, err := readClassTable(ctx, f)
		switch {
		case err != nil:
			add("class table", err, "")
		case table == nil:
			add("class table", fmt.Errorf("parameter %s does not exist; create a class with fleetctl classes set or redeploy the stack", param), "")
		default:
			add("class table", nil, fmt.Sprintf("%s: %d classes (%s)", param, len(table), strings.Join(table.Names(), ", ")))
		}
	}
	return out
}

// checkGitHub checks the credentials against scope and the webhook pointing at the
// fleet.
func (c *DoctorCommand) checkGitHub(ctx context.Context, f *Fleet, sec credentials.Secret, scope ghrunner.Scope, add func(string, error, string)) {
	gh, err := ghrunner.New(ctx, ghOptions(sec, c.m.HTTPClient))
	if err == nil {
		var runners []ghrunner.Runner
		runners, err = gh.ListRunners(ctx, scope, ghrunner.ListOptions{})
		if err == nil {
			add("GitHub access", nil, fmt.Sprintf("may manage runners in %s (%d registered)", scope, len(runners)))
		}
	}
	if err != nil {
		add("GitHub access", err, "")
		add("webhook", errors.New("not checked: GitHub access failed"), "")
		return
	}

	name := "webhook on " + scope.String()
	hc, err := hookClient(ctx, sec, scope, c.m.HTTPClient)
	if err != nil {
		add(name, err, "")
		return
	}
	api := hookAPI{c: hc, scope: scope}
	hooks, err := api.list(ctx)
	if err != nil {
		add(name, fmt.Errorf("list webhooks: %w; the credentials need webhook read access (PAT: admin:repo_hook or admin:org_hook; App: Webhooks: read)", ghError(err)), "")
		return
	}
	want, _ := f.Resource(ctx, OutputWebhookURL)
	if u, err := url.Parse(want); err != nil || u.Host == "" {
		want = "" // fleet-local's placeholder, or no output: match by event
	}
	hook := findHook(hooks, want)
	if hook == nil && want == "" {
		for _, h := range hooks {
			if slices.Contains(h.Events, WebhookEvent) || slices.Contains(h.Events, "*") {
				hook = h
				break
			}
		}
	}
	if hook == nil {
		target := "subscribed to " + WebhookEvent
		if want != "" {
			target = "pointing at " + want
		}
		add(name, fmt.Errorf("no webhook %s; run fleetctl setup github", target), "")
		return
	}
	var problems []string
	if !slices.Contains(hook.Events, WebhookEvent) && !slices.Contains(hook.Events, "*") {
		problems = append(problems, "it does not send "+WebhookEvent+" events")
	}
	if !hook.GetActive() {
		problems = append(problems, "it is inactive")
	}
	if ct := hook.GetConfig().GetContentType(); ct != "json" {
		problems = append(problems, "its content type is "+ct+", not json")
	}
	if len(problems) > 0 {
		add(name, fmt.Errorf("webhook %d: %s; run fleetctl setup github to fix it", hook.GetID(), strings.Join(problems, ", ")), "")
	} else {
		add(name, nil, fmt.Sprintf("%d sends %s as json to %s", hook.GetID(), WebhookEvent, hook.GetConfig().GetURL()))
	}

	d, err := api.lastDelivery(ctx, hook.GetID())
	switch {
	case err != nil:
		add("last delivery", fmt.Errorf("list deliveries of webhook %d: %w", hook.GetID(), ghError(err)), "")
	case d == nil:
		add("last delivery", nil, "none yet (GitHub sends one when a job is queued)")
	case d.GetStatusCode() < 200 || d.GetStatusCode() > 299:
		add("last delivery", fmt.Errorf("%s at %s answered %d (%s); read the webhook function's log (a 401 means the webhook secret differs: run fleetctl setup github)",
			d.GetEvent(), d.GetDeliveredAt().UTC().Format("2006-01-02T15:04:05Z"), d.GetStatusCode(), d.GetStatus()), "")
	default:
		add("last delivery", nil, fmt.Sprintf("%s at %s answered %d", d.GetEvent(), d.GetDeliveredAt().UTC().Format("2006-01-02T15:04:05Z"), d.GetStatusCode()))
	}
}

// recordedScope is the runner scope the newest runner registered in (its state
// document's runner.scope), or the zero Scope.
func (c *DoctorCommand) recordedScope(ctx context.Context, f *Fleet) ghrunner.Scope {
	sm, err := f.Resource(ctx, OutputStateMachineARN)
	if err != nil {
		return ghrunner.Scope{}
	}
	list, err := f.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), MaxResults: 10})
	if err != nil {
		return ghrunner.Scope{}
	}
	for _, e := range list.Executions {
		events, err := recentEvents(ctx, f.SFN, aws.ToString(e.ExecutionArn), recentEventsLimit)
		if err != nil {
			continue
		}
		slices.Reverse(events) // latestState reads oldest first
		if doc := latestState(events); doc != nil {
			if sc, err := ghrunner.ParseScope(doc.Runner.Scope); err == nil {
				return sc
			}
		}
	}
	return ghrunner.Scope{}
}
