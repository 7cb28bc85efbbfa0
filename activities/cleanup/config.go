package main

import (
	"errors"
	"strings"
	"time"

	"github.com/runnerfleet/fleet/internal/envconfig"
)

// Config is Cleanup's configuration, read once from the environment in main.
type Config struct {
	// SecretARN (GITHUB_SECRET_ARN) names the Secrets Manager secret holding the GitHub
	// App key or token that deletes runner registrations.
	SecretARN string
	// ClusterARN (CLUSTER_ARN) is the ECS cluster the runner tasks run in.
	ClusterARN string
	// Budget (CLEANUP_BUDGET_SECONDS, default 60) bounds the time one invocation spends
	// retrying GitHub 5xx answers and rate limits before it raises GitHubUnavailable or
	// GitHubRateLimited for the state machine to retry later. Keep it well below the
	// state's TimeoutSeconds (300).
	Budget time.Duration
	// BusyWait (CLEANUP_BUSY_WAIT_SECONDS, default 20) is how long Cleanup keeps trying to
	// delete a registration GitHub still counts busy after its task was stopped.
	BusyWait time.Duration
	// SecretTTL (SECRET_CACHE_SECONDS, default 300) bounds how long the secret is cached.
	SecretTTL time.Duration
}

// ConfigError names the environment variable that is wrong.
type ConfigError = envconfig.Error

// LoadConfig reads the configuration through getenv and validates it.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	c := Config{
		SecretARN: strings.TrimSpace(getenv("GITHUB_SECRET_ARN")),
		Budget:    60 * time.Second,
		BusyWait:  20 * time.Second,
		SecretTTL: 5 * time.Minute,
	}
	if c.SecretARN == "" {
		errs = append(errs, &ConfigError{Var: "GITHUB_SECRET_ARN", Problem: "must name the Secrets Manager secret holding the GitHub App key or token"})
	}
	var err error
	if c.ClusterARN, err = envconfig.ClusterARN(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := envconfig.Seconds(getenv, "CLEANUP_BUSY_WAIT_SECONDS", 0, 120, &c.BusyWait); err != nil {
		errs = append(errs, err)
	}
	if err := envconfig.Seconds(getenv, "CLEANUP_BUDGET_SECONDS", 1, 240, &c.Budget); err != nil {
		errs = append(errs, err)
	}
	if err := envconfig.Seconds(getenv, "SECRET_CACHE_SECONDS", 1, 3600, &c.SecretTTL); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}
