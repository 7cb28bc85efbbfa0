package ghrunner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-github/v66/github"
	"github.com/runnerfleet/fleet/internal/fleet"
)

// Runner is a runner registration as GitHub reports it.
type Runner struct {
	ID     int64
	Name   string
	OS     string
	Status string // "online" or "offline"
	Busy   bool
	Labels []string
}

// JITRequest asks for a just-in-time runner registration.
type JITRequest struct {
	// Name is the runner's name (the execution name), 1 to 64 characters, unique in
	// the scope.
	Name string
	// RunnerGroupID defaults to 1, the Default group.
	RunnerGroupID int64
	// Labels the runner registers with (1 to 100).
	Labels []string
	// WorkFolder defaults to GitHub's "_work".
	WorkFolder string
}

// Validate names the first field GitHub would refuse.
func (r JITRequest) Validate() error {
	switch {
	case r.Name == "":
		return errors.New("jit request: name is required")
	case len(r.Name) > fleet.MaxNameLength:
		return fmt.Errorf("jit request: name %q is %d characters; GitHub allows %d", r.Name, len(r.Name), fleet.MaxNameLength)
	case len(r.Labels) == 0 || len(r.Labels) > 100:
		return fmt.Errorf("jit request: %d labels; GitHub takes 1 to 100", len(r.Labels))
	case r.RunnerGroupID < 0:
		return fmt.Errorf("jit request: runner_group_id %d is negative", r.RunnerGroupID)
	}
	for _, l := range r.Labels {
		if strings.TrimSpace(l) == "" {
			return errors.New("jit request: a label is empty")
		}
	}
	return nil
}

// JIT is a registered just-in-time runner and its encoded JIT config, the runner's
// whole configuration including its credentials. It prints and logs without the
// config.
type JIT struct {
	RunnerID      int64
	Name          string
	Labels        []string
	EncodedConfig Secret
}

// String shows the registration and "[redacted]" for the config.
func (j JIT) String() string {
	return fmt.Sprintf("ghrunner.JIT{RunnerID: %d, Name: %q, Labels: %q, EncodedConfig: %s}", j.RunnerID, j.Name, j.Labels, redacted)
}

// GoString is String, for %#v.
func (j JIT) GoString() string { return j.String() }

// Format prints String for every verb.
func (j JIT) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(j.String())) }

// LogValue logs the registration with the config redacted (slog.LogValuer).
func (j JIT) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("runner_id", j.RunnerID),
		slog.String("runner_name", j.Name),
		slog.Any("labels", j.Labels),
		slog.String("encoded_jit_config", redacted),
	)
}

// GenerateJITConfig registers a just-in-time runner in scope and returns its JIT
// config (POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig or
// /orgs/{org}/...; docs.github.com/rest/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-a-repository).
// A name already registered in scope yields ErrRunnerExists.
func (c *Client) GenerateJITConfig(ctx context.Context, scope Scope, req JITRequest) (JIT, error) {
	if err := scope.Validate(); err != nil {
		return JIT{}, err
	}
	if err := req.Validate(); err != nil {
		return JIT{}, err
	}
	gh, id, err := c.client(ctx, scope)
	if err != nil {
		return JIT{}, err
	}
	body := &github.GenerateJITConfigRequest{Name: req.Name, RunnerGroupID: req.RunnerGroupID, Labels: req.Labels}
	if body.RunnerGroupID == 0 {
		body.RunnerGroupID = 1
	}
	if req.WorkFolder != "" {
		body.WorkFolder = github.String(req.WorkFolder)
	}
	var cfg *github.JITRunnerConfig
	if scope.IsOrg() {
		cfg, _, err = gh.Actions.GenerateOrgJITConfig(ctx, scope.Owner, body)
	} else {
		cfg, _, err = gh.Actions.GenerateRepoJITConfig(ctx, scope.Owner, scope.Repo, body)
	}
	if err != nil {
		return JIT{}, c.fail(ctx, opGenerateJIT, scope, id, err)
	}
	if cfg.GetEncodedJITConfig() == "" || cfg.GetRunner().GetID() == 0 {
		return JIT{}, &UnavailableError{Op: opGenerateJIT, Scope: scope, Err: errors.New("GitHub answered 201 without a runner id or JIT config")}
	}
	return JIT{
		RunnerID:      cfg.GetRunner().GetID(),
		Name:          cfg.GetRunner().GetName(),
		Labels:        labelNames(cfg.GetRunner()),
		EncodedConfig: NewSecret(cfg.GetEncodedJITConfig()),
	}, nil
}

func labelNames(r *github.Runner) []string {
	out := make([]string, 0, len(r.Labels))
	for _, l := range r.Labels {
		out = append(out, l.GetName())
	}
	return out
}

func toRunner(r *github.Runner) Runner {
	return Runner{ID: r.GetID(), Name: r.GetName(), OS: r.GetOS(), Status: r.GetStatus(), Busy: r.GetBusy(), Labels: labelNames(r)}
}

// GetRunner reads one registration (GET .../actions/runners/{runner_id}); an unknown
// id yields fleet.ErrRunnerNotFound.
func (c *Client) GetRunner(ctx context.Context, scope Scope, runnerID int64) (Runner, error) {
	if err := scope.Validate(); err != nil {
		return Runner{}, err
	}
	gh, id, err := c.client(ctx, scope)
	if err != nil {
		return Runner{}, err
	}
	var r *github.Runner
	if scope.IsOrg() {
		r, _, err = gh.Actions.GetOrganizationRunner(ctx, scope.Owner, runnerID)
	} else {
		r, _, err = gh.Actions.GetRunner(ctx, scope.Owner, scope.Repo, runnerID)
	}
	if err != nil {
		return Runner{}, c.fail(ctx, opGetRunner, scope, id, err)
	}
	return toRunner(r), nil
}

// ListOptions filters and pages ListRunners.
type ListOptions struct {
	// Name keeps only the runner with this exact name.
	Name string
	// PerPage is the page size asked of GitHub (default 100, its maximum).
	PerPage int
}

// maxPages bounds a listing so a misbehaving server cannot loop us forever: 1000
// pages of 100 is far beyond any scope's runner count.
const maxPages = 1000

// ListRunners lists the registrations in scope, following every page
// (GET .../actions/runners; docs.github.com/rest/actions/self-hosted-runners#list-self-hosted-runners-for-a-repository).
func (c *Client) ListRunners(ctx context.Context, scope Scope, opts ListOptions) ([]Runner, error) {
	if err := scope.Validate(); err != nil {
		return nil, err
	}
	gh, id, err := c.client(ctx, scope)
	if err != nil {
		return nil, err
	}
	lo := &github.ListRunnersOptions{ListOptions: github.ListOptions{PerPage: opts.PerPage, Page: 1}}
	if lo.PerPage <= 0 {
		lo.PerPage = 100
	}
	if opts.Name != "" {
		lo.Name = github.String(opts.Name)
	}
	var out []Runner
	for pages := 0; ; pages++ {
		if pages == maxPages {
			return nil, fmt.Errorf("%s for %s: more than %d pages; GitHub's pagination did not end", opListRunners, scope, maxPages)
		}
		var page *github.Runners
		var resp *github.Response
		if scope.IsOrg() {
			page, resp, err = gh.Actions.ListOrganizationRunners(ctx, scope.Owner, lo)
		} else {
			page, resp, err = gh.Actions.ListRunners(ctx, scope.Owner, scope.Repo, lo)
		}
		if err != nil {
			return nil, c.fail(ctx, opListRunners, scope, id, err)
		}
		for _, r := range page.Runners {
			out = append(out, toRunner(r))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		lo.Page = resp.NextPage
	}
}

// DeleteRunner deletes a registration (DELETE .../actions/runners/{runner_id}). GitHub
// refuses while the runner runs a job: fleet.ErrRunnerBusy. An unknown id yields
// fleet.ErrRunnerNotFound.
func (c *Client) DeleteRunner(ctx context.Context, scope Scope, runnerID int64) error {
	if err := scope.Validate(); err != nil {
		return err
	}
	gh, id, err := c.client(ctx, scope)
	if err != nil {
		return err
	}
	if scope.IsOrg() {
		_, err = gh.Actions.RemoveOrganizationRunner(ctx, scope.Owner, runnerID)
	} else {
		_, err = gh.Actions.RemoveRunner(ctx, scope.Owner, scope.Repo, runnerID)
	}
	if err != nil {
		return fmt.Errorf("runner %d: %w", runnerID, c.fail(ctx, opDeleteRunner, scope, id, err))
	}
	return nil
}

// DeleteRunnerByName finds the registration named name in scope and deletes it, for
// callers that know only the execution (= runner) name. No such runner yields
// fleet.ErrRunnerNotFound; a busy one fleet.ErrRunnerBusy.
func (c *Client) DeleteRunnerByName(ctx context.Context, scope Scope, name string) error {
	if name == "" {
		return errors.New("delete runner by name: name is empty")
	}
	runners, err := c.ListRunners(ctx, scope, ListOptions{Name: name})
	if err != nil {
		return err
	}
	found := false
	for _, r := range runners {
		// The name filter is exact on GitHub; compare anyway so a server that ignores
		// it cannot make us delete someone else's runner.
		if r.Name != name {
			continue
		}
		found = true
		if err := c.DeleteRunner(ctx, scope, r.ID); err != nil && !errors.Is(err, fleet.ErrRunnerNotFound) {
			return err
		}
	}
	if !found {
		return fmt.Errorf("%s %q in %s: %w", opDeleteRunner, name, scope, fleet.ErrRunnerNotFound)
	}
	return nil
}
