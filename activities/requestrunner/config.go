package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/runnerfleet/fleet/internal/envconfig"
)

// Runner scopes (RUNNER_SCOPE).
const (
	ScopeRepo = "repo"
	ScopeOrg  = "org"
)

// Config is RequestRunner's configuration, read once from the environment in main.
type Config struct {
	// SecretARN (GITHUB_SECRET_ARN) names the Secrets Manager secret holding the GitHub
	// App key (app_id + private_key) or a token, and api_url for GitHub Enterprise Server.
	SecretARN string
	// KMSKeyARN (KMS_KEY_ARN) is the KMS key that seals the JIT config; the runner task
	// role may decrypt with it for its own execution only.
	KMSKeyARN string
	// Scope (RUNNER_SCOPE, "repo" or "org", default "repo") is where runners register:
	// on the job's repository, or on its organisation.
	Scope string
	// RunnerGroupID (RUNNER_GROUP_ID, default 1, the Default group) is the runner group
	// of organisation runners.
	RunnerGroupID int64
	// Budget (GITHUB_BUDGET_SECONDS, default 20) bounds the time one invocation spends
	// retrying GitHub 5xx answers and rate limits. Past it, a 5xx raises
	// GitHubUnavailable for the state machine to retry with backoff, and a rate limit
	// raises GitHubRetryAfter: the state machine waits as long as GitHub asked, in a
	// Wait state that costs nothing, and calls again.
	Budget time.Duration
	// RateLimitMaxWait (GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS, default 21600 = 6 h) bounds
	// how long after the job was queued a rate limit may still be waited out; past it
	// the execution fails with GitHubRateLimited. GitHub drops a queued job after 24 h.
	RateLimitMaxWait time.Duration
	// SecretTTL (SECRET_CACHE_SECONDS, default 300) bounds how long the secret is cached.
	SecretTTL time.Duration
}

// ConfigError names the environment variable that is wrong.
type ConfigError = envconfig.Error

// LoadConfig reads the configuration through getenv and validates it.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	c := Config{
		SecretARN:        strings.TrimSpace(getenv("GITHUB_SECRET_ARN")),
		KMSKeyARN:        strings.TrimSpace(getenv("KMS_KEY_ARN")),
		Scope:            strings.ToLower(strings.TrimSpace(getenv("RUNNER_SCOPE"))),
		RunnerGroupID:    1,
		Budget:           20 * time.Second,
		RateLimitMaxWait: 6 * time.Hour,
		SecretTTL:        5 * time.Minute,
	}
	if c.SecretARN == "" {
		errs = append(errs, &ConfigError{Var: "GITHUB_SECRET_ARN", Problem: "must name the Secrets Manager secret holding the GitHub App key or token"})
	}
	if c.KMSKeyARN == "" || strings.ContainsAny(c.KMSKeyARN, " \t\n") {
		errs = append(errs, &ConfigError{Var: "KMS_KEY_ARN", Problem: fmt.Sprintf("%q must be the ARN (or alias) of the KMS key that seals JIT configs", c.KMSKeyARN)})
	}
	switch c.Scope {
	case "":
		c.Scope = ScopeRepo
	case ScopeRepo, ScopeOrg:
	default:
		errs = append(errs, &ConfigError{Var: "RUNNER_SCOPE", Problem: fmt.Sprintf("%q must be repo (runners register on the job's repository) or org (on its organisation)", c.Scope)})
	}
	if v := strings.TrimSpace(getenv("RUNNER_GROUP_ID")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs = append(errs, &ConfigError{Var: "RUNNER_GROUP_ID", Problem: fmt.Sprintf("%q must be a positive runner group id (1 is the Default group)", v)})
		}
		c.RunnerGroupID = n
	}
	if c.Scope == ScopeRepo && c.RunnerGroupID != 1 {
		errs = append(errs, &ConfigError{Var: "RUNNER_GROUP_ID", Problem: fmt.Sprintf("%d applies to organisation runners only (RUNNER_SCOPE=org); repository runners join the Default group, 1", c.RunnerGroupID)})
	}
	if err := envconfig.Seconds(getenv, "GITHUB_BUDGET_SECONDS", 1, 150, &c.Budget); err != nil {
		errs = append(errs, err)
	}
	if err := envconfig.Seconds(getenv, "GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS", 60, 86400, &c.RateLimitMaxWait); err != nil {
		errs = append(errs, err)
	}
	if err := envconfig.Seconds(getenv, "SECRET_CACHE_SECONDS", 1, 3600, &c.SecretTTL); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}
