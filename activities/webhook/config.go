package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/runnerfleet/fleet/internal/envconfig"
	"github.com/runnerfleet/fleet/internal/fleet"
)

// Config is the webhook's configuration, read once from the environment in main.
type Config struct {
	// StateMachineARN (STATE_MACHINE_ARN) is the RunnerFleet state machine.
	StateMachineARN string
	// SecretARN (GITHUB_SECRET_ARN) names the Secrets Manager secret holding webhook_secret.
	SecretARN string
	// Repositories (ALLOWED_REPOSITORIES): comma-separated owner/name, owner/*, or *.
	// Empty serves nothing.
	Repositories RepositoryFilter
	// AllowPublic (ALLOW_PUBLIC_REPOSITORIES, default false): serve public repositories,
	// whose pull requests could run anyone's code on your AWS account.
	AllowPublic bool
	// Labels: DEFAULT_IMAGE, DEFAULT_CLASS, EXTRA_LABELS (comma-separated), FLEET_LABEL.
	Labels fleet.LabelPolicy
	// SecretTTL (SECRET_CACHE_SECONDS, default 300) bounds how long the secret is cached.
	SecretTTL time.Duration
	// ClusterARN (CLUSTER_ARN) is the runners' ECS cluster: the webhook tags a runner's
	// task with the job it took and stops a runner it reaps. Unset: no tagging.
	ClusterARN string
	// RunnerScope (RUNNER_SCOPE, repo or org, default repo) is where runners register;
	// the cancellation path looks for idle runners there.
	RunnerScope string
}

// ConfigError names the environment variable that is wrong.
type ConfigError = envconfig.Error

// LoadConfig reads the configuration through getenv and validates it.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	c := Config{
		StateMachineARN: strings.TrimSpace(getenv("STATE_MACHINE_ARN")),
		SecretARN:       strings.TrimSpace(getenv("GITHUB_SECRET_ARN")),
		Labels: fleet.LabelPolicy{
			FleetLabel:   strings.TrimSpace(getenv("FLEET_LABEL")),
			Extra:        envconfig.List(getenv("EXTRA_LABELS")),
			DefaultImage: strings.TrimSpace(getenv("DEFAULT_IMAGE")),
			DefaultClass: strings.TrimSpace(getenv("DEFAULT_CLASS")),
		},
		SecretTTL:   5 * time.Minute,
		ClusterARN:  strings.TrimSpace(getenv("CLUSTER_ARN")),
		RunnerScope: strings.TrimSpace(getenv("RUNNER_SCOPE")),
	}
	switch c.RunnerScope {
	case "":
		c.RunnerScope = "repo"
	case "repo", "org":
	default:
		errs = append(errs, &ConfigError{Var: "RUNNER_SCOPE", Problem: fmt.Sprintf("%q must be repo or org", c.RunnerScope)})
	}
	if !strings.HasPrefix(c.StateMachineARN, "arn:") {
		errs = append(errs, &ConfigError{Var: "STATE_MACHINE_ARN", Problem: "must be the RunnerFleet state machine ARN"})
	}
	if c.SecretARN == "" {
		errs = append(errs, &ConfigError{Var: "GITHUB_SECRET_ARN", Problem: "must name the Secrets Manager secret holding webhook_secret"})
	}
	if c.Labels.DefaultImage == "" {
		errs = append(errs, &ConfigError{Var: "DEFAULT_IMAGE", Problem: "must name the image used when a job has no image: label"})
	}
	if c.Labels.DefaultClass == "" {
		errs = append(errs, &ConfigError{Var: "DEFAULT_CLASS", Problem: "must name the class used when a job has no class: label"})
	}
	repos, err := ParseRepositoryFilter(getenv("ALLOWED_REPOSITORIES"))
	if err != nil {
		errs = append(errs, &ConfigError{Var: "ALLOWED_REPOSITORIES", Problem: err.Error()})
	}
	c.Repositories = repos
	if v := strings.TrimSpace(getenv("ALLOW_PUBLIC_REPOSITORIES")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, &ConfigError{Var: "ALLOW_PUBLIC_REPOSITORIES", Problem: fmt.Sprintf("%q is not true or false", v)})
		}
		c.AllowPublic = b
	}
	if err := envconfig.Seconds(getenv, "SECRET_CACHE_SECONDS", 1, 3600, &c.SecretTTL); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// RepositoryFilter decides which repositories the fleet serves.
type RepositoryFilter struct {
	all    bool
	owners map[string]bool // owner/*
	repos  map[string]bool // owner/name
}

// ParseRepositoryFilter reads "owner/name, owner/*" or "*"; empty serves nothing.
func ParseRepositoryFilter(v string) (RepositoryFilter, error) {
	f := RepositoryFilter{owners: map[string]bool{}, repos: map[string]bool{}}
	for _, p := range envconfig.List(v) {
		p = strings.ToLower(p)
		if p == "*" {
			f.all = true
			continue
		}
		owner, name, ok := strings.Cut(p, "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") || strings.ContainsAny(p, " \t") || owner == "*" {
			return f, fmt.Errorf("%q is not owner/name, owner/* or *", p)
		}
		if name == "*" {
			f.owners[owner] = true
		} else if strings.Contains(name, "*") {
			return f, fmt.Errorf("%q: only a whole-name * is supported (owner/*)", p)
		} else {
			f.repos[p] = true
		}
	}
	return f, nil
}

// Empty reports whether the filter serves nothing.
func (f RepositoryFilter) Empty() bool { return !f.all && len(f.owners) == 0 && len(f.repos) == 0 }

// Allows reports whether owner/name is served (case-insensitive, as GitHub names are).
func (f RepositoryFilter) Allows(owner, name string) bool {
	o, n := strings.ToLower(owner), strings.ToLower(name)
	return f.all || f.owners[o] || f.repos[o+"/"+n]
}
