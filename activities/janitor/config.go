package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/runnerfleet/fleet/internal/envconfig"
	"github.com/runnerfleet/fleet/internal/ghrunner"
)

// Config is the janitor's configuration, read once from the environment in main.
// README.md has the same table.
type Config struct {
	// Cluster (CLUSTER_ARN) is the ECS cluster runner tasks run in.
	Cluster string
	// StateMachineARN (STATE_MACHINE_ARN) is the RunnerFleet state machine; a runner
	// task or registration belongs to the fleet when it names one of its executions.
	StateMachineARN string
	// SecretARN (GITHUB_SECRET_ARN) is the Secrets Manager secret with the GitHub
	// credentials; required when RUNNER_SCOPES is set.
	SecretARN string
	// Scopes (RUNNER_SCOPES): comma-separated repo:owner/name and org:name where fleet
	// runners register. Empty skips the registration sweep.
	Scopes []ghrunner.Scope
	// OrphanGrace (ORPHAN_GRACE_SECONDS, default 600): a task younger than this is never
	// stopped, so a task whose execution is still being recorded is left alone.
	OrphanGrace time.Duration
	// SecretTTL (SECRET_CACHE_SECONDS, default 300) bounds how long the secret is cached.
	SecretTTL time.Duration
}

// ConfigError names the environment variable that is wrong.
type ConfigError = envconfig.Error

// LoadConfig reads the configuration through getenv and validates it; every problem is a
// *ConfigError naming its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	c := Config{
		Cluster:         strings.TrimSpace(getenv("CLUSTER_ARN")),
		StateMachineARN: strings.TrimSpace(getenv("STATE_MACHINE_ARN")),
		SecretARN:       strings.TrimSpace(getenv("GITHUB_SECRET_ARN")),
		OrphanGrace:     10 * time.Minute,
		SecretTTL:       5 * time.Minute,
	}
	if !strings.HasPrefix(c.Cluster, "arn:") {
		errs = append(errs, &ConfigError{Var: "CLUSTER_ARN", Problem: "must be the ECS cluster ARN runner tasks run in"})
	}
	if _, err := executionARNPrefix(c.StateMachineARN); err != nil {
		errs = append(errs, &ConfigError{Var: "STATE_MACHINE_ARN", Problem: err.Error()})
	}
	for _, s := range envconfig.List(getenv("RUNNER_SCOPES")) {
		if !strings.HasPrefix(s, "repo:") && !strings.HasPrefix(s, "org:") {
			errs = append(errs, &ConfigError{Var: "RUNNER_SCOPES", Problem: fmt.Sprintf("%q must be repo:owner/name or org:name", s)})
			continue
		}
		sc, err := ghrunner.ParseScope(s)
		if err != nil {
			errs = append(errs, &ConfigError{Var: "RUNNER_SCOPES", Problem: err.Error()})
			continue
		}
		c.Scopes = append(c.Scopes, sc)
	}
	if len(c.Scopes) > 0 && c.SecretARN == "" {
		errs = append(errs, &ConfigError{Var: "GITHUB_SECRET_ARN", Problem: "must name the Secrets Manager secret with the GitHub credentials when RUNNER_SCOPES is set"})
	}
	if v := strings.TrimSpace(getenv("ORPHAN_GRACE_SECONDS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 60 || n > 86400 {
			errs = append(errs, &ConfigError{Var: "ORPHAN_GRACE_SECONDS", Problem: fmt.Sprintf("%q must be a whole number of seconds from 60 to 86400", v)})
		} else {
			c.OrphanGrace = time.Duration(n) * time.Second
		}
	}
	if v := strings.TrimSpace(getenv("SECRET_CACHE_SECONDS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3600 {
			errs = append(errs, &ConfigError{Var: "SECRET_CACHE_SECONDS", Problem: fmt.Sprintf("%q must be a whole number of seconds from 1 to 3600", v)})
		} else {
			c.SecretTTL = time.Duration(n) * time.Second
		}
	}
	return c, errors.Join(errs...)
}

// executionARNPrefix turns a state machine ARN
// (arn:aws:states:<region>:<account>:stateMachine:<name>) into the prefix of its
// executions' ARNs (arn:aws:states:<region>:<account>:execution:<name>:). It is
// history.ExecutionARN(arn, ""), kept here because the janitor must not import
// internal/history: importing it means "reads execution histories" to the role check
// in cdk/stack_test.go, and the janitor only describes executions.
func executionARNPrefix(stateMachineARN string) (string, error) {
	parts := strings.Split(stateMachineARN, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return "", fmt.Errorf("%q must be a state machine ARN, arn:<partition>:states:<region>:<account>:stateMachine:<name>", stateMachineARN)
	}
	parts[5] = "execution"
	return strings.Join(parts, ":") + ":", nil
}
