package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/runnerfleet/fleet/internal/envconfig"
	"github.com/runnerfleet/fleet/runner/imageref"
)

// Config is ResolveImage's configuration, read once from the environment in main. The
// CDK stack sets every variable; README.md has the same table.
type Config struct {
	// Region (AWS_REGION, set by Lambda) is where the runner's logs go (awslogs-region).
	Region string
	// ClassTableParameter (CLASS_TABLE_PARAMETER) is the SSM parameter holding the class
	// table (JSON, see fleet.ParseClassTable).
	ClassTableParameter string
	// Cluster (CLUSTER_ARN) is the ECS cluster runner tasks start in.
	Cluster string
	// Subnets (SUBNETS) and SecurityGroups (SECURITY_GROUPS) are comma-separated ids for
	// the tasks' awsvpc network configuration.
	Subnets        []string
	SecurityGroups []string
	// AssignPublicIP (ASSIGN_PUBLIC_IP, true or false, default false): give each task a
	// public IP, needed in public subnets without a NAT gateway.
	AssignPublicIP bool
	// RepositoryName (ECR_REPOSITORY_NAME) and RepositoryURI (ECR_REPOSITORY_URI) name the
	// ECR repository runner images are built into.
	RepositoryName string
	RepositoryURI  string
	// AllowList (IMAGE_ALLOW_LIST): comma-separated image patterns; see AllowList. Empty
	// allows only the default image.
	AllowList imageref.AllowList
	// DefaultImage (DEFAULT_IMAGE) is always allowed.
	DefaultImage string
	// ExecutionRoleARN (TASK_EXECUTION_ROLE_ARN) lets ECS pull the image and write logs;
	// TaskRoleARN (TASK_ROLE_ARN) is the runner's own role (it may open its seal only).
	ExecutionRoleARN string
	TaskRoleARN      string
	// LogGroup (RUNNER_LOG_GROUP) is the CloudWatch Logs group of the runner containers.
	LogGroup string
	// IdleSeconds (IDLE_TIMEOUT_SECONDS, default 300): a runner still idle this long after
	// it was requested is reaped.
	IdleSeconds int
	// RunnerTTLSeconds (RUNNER_TTL_SECONDS, default 21600): the longest a runner task may
	// live, job included.
	RunnerTTLSeconds int
	// BuildSeconds (BUILD_TIMEOUT_SECONDS, default 3600): the longest an image build may take.
	BuildSeconds int
	// ClassCacheTTL (CLASS_CACHE_SECONDS, default 60): how long the class table (and the
	// task definitions resolved with it) are reused before SSM is read again.
	ClassCacheTTL time.Duration
}

// ConfigError names the environment variable that is wrong.
type ConfigError = envconfig.Error

// LoadConfig reads the configuration through getenv and validates it; every problem is a
// *ConfigError naming its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	c := Config{
		Region:              strings.TrimSpace(getenv("AWS_REGION")),
		ClassTableParameter: strings.TrimSpace(getenv("CLASS_TABLE_PARAMETER")),
		Cluster:             strings.TrimSpace(getenv("CLUSTER_ARN")),
		Subnets:             envconfig.List(getenv("SUBNETS")),
		SecurityGroups:      envconfig.List(getenv("SECURITY_GROUPS")),
		RepositoryName:      strings.TrimSpace(getenv("ECR_REPOSITORY_NAME")),
		RepositoryURI:       strings.TrimSpace(getenv("ECR_REPOSITORY_URI")),
		DefaultImage:        strings.ToLower(strings.TrimSpace(getenv("DEFAULT_IMAGE"))),
		ExecutionRoleARN:    strings.TrimSpace(getenv("TASK_EXECUTION_ROLE_ARN")),
		TaskRoleARN:         strings.TrimSpace(getenv("TASK_ROLE_ARN")),
		LogGroup:            strings.TrimSpace(getenv("RUNNER_LOG_GROUP")),
	}
	required := []struct{ name, value, problem string }{
		{"AWS_REGION", c.Region, "must name the region (Lambda sets it)"},
		{"CLASS_TABLE_PARAMETER", c.ClassTableParameter, "must name the SSM parameter holding the class table"},
		{"ECR_REPOSITORY_NAME", c.RepositoryName, "must name the ECR repository runner images are pushed to"},
		{"RUNNER_LOG_GROUP", c.LogGroup, "must name the CloudWatch Logs group for runner containers"},
	}
	for _, r := range required {
		if r.value == "" {
			errs = append(errs, &ConfigError{Var: r.name, Problem: r.problem})
		}
	}
	arns := []struct{ name, value, what string }{
		{"CLUSTER_ARN", c.Cluster, "the ECS cluster ARN"},
		{"TASK_EXECUTION_ROLE_ARN", c.ExecutionRoleARN, "the IAM role ARN ECS uses to pull images and write logs"},
		{"TASK_ROLE_ARN", c.TaskRoleARN, "the runner task's IAM role ARN"},
	}
	for _, a := range arns {
		if !strings.HasPrefix(a.value, "arn:") {
			errs = append(errs, &ConfigError{Var: a.name, Problem: "must be " + a.what})
		}
	}
	if len(c.Subnets) == 0 {
		errs = append(errs, &ConfigError{Var: "SUBNETS", Problem: "must list at least one subnet id (comma-separated)"})
	}
	if len(c.SecurityGroups) == 0 {
		errs = append(errs, &ConfigError{Var: "SECURITY_GROUPS", Problem: "must list at least one security group id (comma-separated)"})
	}
	if err := imageref.ValidateRepository(c.RepositoryURI); err != nil {
		errs = append(errs, &ConfigError{Var: "ECR_REPOSITORY_URI", Problem: "must be the repository URI without a tag, such as 111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet"})
	}
	if c.DefaultImage == "" {
		errs = append(errs, &ConfigError{Var: "DEFAULT_IMAGE", Problem: "must name the image used when a job has no image: label"})
	} else if err := imageref.Validate(c.DefaultImage); err != nil {
		errs = append(errs, &ConfigError{Var: "DEFAULT_IMAGE", Problem: err.Error()})
	}
	allow, err := imageref.ParseAllowList(getenv("IMAGE_ALLOW_LIST"))
	if err != nil {
		errs = append(errs, &ConfigError{Var: "IMAGE_ALLOW_LIST", Problem: err.Error()})
	}
	c.AllowList = allow
	if v := strings.TrimSpace(getenv("ASSIGN_PUBLIC_IP")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, &ConfigError{Var: "ASSIGN_PUBLIC_IP", Problem: fmt.Sprintf("%q is not true or false", v)})
		}
		c.AssignPublicIP = b
	}
	seconds := []struct {
		name       string
		dst        *int
		def        int
		lo, hi     int
		constraint string
	}{
		// The idle wait starts with the launch: it must cover a Fargate boot and the
		// Spot capacity retries, or a runner is reaped before it could connect.
		{"IDLE_TIMEOUT_SECONDS", &c.IdleSeconds, 300, 120, 86400, "from 120 to 86400 (the idle wait also covers launching the task)"},
		{"RUNNER_TTL_SECONDS", &c.RunnerTTLSeconds, 21600, 300, 86400, "from 300 to 86400 (GitHub gives up on a job after 24 hours)"},
		// CodeBuild accepts build timeouts of 5 to 2160 minutes; one runner image takes minutes.
		{"BUILD_TIMEOUT_SECONDS", &c.BuildSeconds, 3600, 300, 28800, "from 300 to 28800"},
	}
	for _, s := range seconds {
		*s.dst = s.def
		v := strings.TrimSpace(getenv(s.name))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < s.lo || n > s.hi {
			errs = append(errs, &ConfigError{Var: s.name, Problem: fmt.Sprintf("%q must be a whole number of seconds %s", v, s.constraint)})
			continue
		}
		*s.dst = n
	}
	if c.IdleSeconds >= c.RunnerTTLSeconds {
		errs = append(errs, &ConfigError{Var: "IDLE_TIMEOUT_SECONDS", Problem: fmt.Sprintf("%d must be shorter than RUNNER_TTL_SECONDS (%d)", c.IdleSeconds, c.RunnerTTLSeconds)})
	}
	c.ClassCacheTTL = time.Minute
	if v := strings.TrimSpace(getenv("CLASS_CACHE_SECONDS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3600 {
			errs = append(errs, &ConfigError{Var: "CLASS_CACHE_SECONDS", Problem: fmt.Sprintf("%q must be a whole number of seconds from 0 to 3600 (0 reads SSM on every invocation)", v)})
		} else {
			c.ClassCacheTTL = time.Duration(n) * time.Second
		}
	}
	return c, errors.Join(errs...)
}
