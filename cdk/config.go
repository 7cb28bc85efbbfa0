package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/runnerfleet/fleet/internal/fleet"
)

// Config is the stack's configuration: the CDK context (cdk.json, then `-c key=value`),
// decoded once by DecodeConfig and checked by Validate before any construct is built.
// The JSON names are the context keys; docs/deploy.md is the reference for each.
type Config struct {
	// Repositories (repositories) the fleet serves: owner/name, owner/* or *.
	Repositories []string
	// AllowPublicRepositories (allowPublicRepositories) lets public repositories use the
	// fleet; their pull requests could run anyone's code in your account.
	AllowPublicRepositories bool
	// RunnerScope (runnerScope) is where runners register: "repo" or "org".
	RunnerScope string
	// RunnerGroupID (runnerGroupId) is the organisation runner group (1 = Default).
	RunnerGroupID int
	// FleetLabel (fleetLabel) is the fleet's own runs-on label; empty disables it.
	FleetLabel string
	// ExtraLabels (extraLabels) are further labels a job may carry.
	ExtraLabels []string
	// DefaultImage (defaultImage) and DefaultClass (defaultClass) apply to jobs naming none.
	DefaultImage string
	DefaultClass string
	// ClassTable (classTable) seeds the SSM class table parameter.
	ClassTable fleet.ClassTable
	// ImageAllowList (imageAllowList) holds image reference patterns; * matches any run
	// of characters.
	ImageAllowList []string
	// Timeouts in seconds (idleTimeoutSeconds, runnerTtlSeconds, buildTimeoutSeconds).
	IdleTimeoutSeconds  int
	RunnerTTLSeconds    int
	BuildTimeoutSeconds int
	// RateLimitMaxWaitSeconds (rateLimitMaxWaitSeconds) bounds how long after a job was
	// queued the workflow still waits out GitHub's rate limits for it (RequestRunner's
	// GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS).
	RateLimitMaxWaitSeconds int
	// LogRetentionDays (logRetentionDays) applies to every log group of the stack.
	LogRetentionDays int
	// WebhookReservedConcurrency (webhookReservedConcurrency); 0 reserves none.
	WebhookReservedConcurrency int
	// EcrTagPatterns (ecrTagPatterns) and EcrKeepImages (ecrKeepImages): keep the
	// EcrKeepImages most recent images matching each pattern (ResolveImage tags images
	// <image>-<arch>-<hash>); untagged images expire after a day.
	EcrTagPatterns []string
	EcrKeepImages  int
	// Network: import VpcID + SubnetIDs, or create a VPC (public subnets by default;
	// PrivateSubnets adds private subnets behind NatGateways NAT gateways).
	VpcID          string
	SubnetIDs      []string
	VpcCidr        string
	MaxAzs         int
	PrivateSubnets bool
	NatGateways    int
	// AssignPublicIP (assignPublicIp) gives runner tasks a public IP; it defaults to true
	// unless the runners sit in private subnets.
	AssignPublicIP *bool
	// Alarm notifications: an e-mail address subscribed to a new topic, or an existing topic.
	AlarmEmail    string
	AlarmTopicArn string
}

// DefaultConfig is the configuration with nothing set in context.
func DefaultConfig() Config {
	return Config{
		RunnerScope:                "repo",
		RunnerGroupID:              1,
		FleetLabel:                 "runner-fleet",
		DefaultImage:               "ubuntu:24.04",
		DefaultClass:               "medium",
		ClassTable:                 fleet.DefaultClassTable(),
		ImageAllowList:             []string{"ubuntu:*", "debian:*", "public.ecr.aws/docker/library/*"},
		IdleTimeoutSeconds:         600,
		RunnerTTLSeconds:           6 * 3600,
		BuildTimeoutSeconds:        3600,
		RateLimitMaxWaitSeconds:    6 * 3600,
		LogRetentionDays:           30,
		WebhookReservedConcurrency: 20,
		EcrTagPatterns:             []string{"*-x64-*", "*-arm64-*"},
		EcrKeepImages:              50,
		MaxAzs:                     2,
		NatGateways:                1,
	}
}

// ConfigError names the context key that is wrong and what to change.
type ConfigError struct {
	Field   string
	Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("cdk context %q: %s", e.Field, e.Problem)
}

// Context keys the CLI and CDK itself put in context; they are not ours to check.
func isForeignContextKey(k string) bool {
	return strings.HasPrefix(k, "@") || strings.HasPrefix(k, "aws:") || strings.HasPrefix(k, "cdk") ||
		strings.HasPrefix(k, "acknowledged-issue-numbers") || strings.Contains(k, ":")
}

// DecodeConfig reads the context into a Config on top of DefaultConfig. Values may be
// JSON-typed (cdk.json) or strings (`-c key=value`): "600" for a number, "true" for a
// bool, "a,b" or a JSON array for a list, a JSON object for classTable. Unknown keys are
// errors, so a typo fails synth instead of being ignored. The result is not yet validated.
func DecodeConfig(ctx map[string]any) (Config, error) {
	c := DefaultConfig()
	var errs []error
	fields := c.setters()
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		set, ok := fields[k]
		if !ok {
			if !isForeignContextKey(k) {
				errs = append(errs, &ConfigError{k, "is not a setting of this stack; see the context reference in docs/deploy.md (" + strings.Join(ContextKeys(), ", ") + ")"})
			}
			continue
		}
		if ctx[k] == nil {
			continue
		}
		if err := set(ctx[k]); err != nil {
			errs = append(errs, &ConfigError{k, err.Error()})
		}
	}
	return c, errors.Join(errs...)
}

// ContextKeys lists the context keys the stack reads, sorted.
func ContextKeys() []string {
	var c Config
	keys := make([]string, 0, 32)
	for k := range c.setters() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// setters maps each context key to the function decoding its value into c.
func (c *Config) setters() map[string]func(any) error {
	return map[string]func(any) error{
		"repositories":               listInto(&c.Repositories),
		"allowPublicRepositories":    boolInto(&c.AllowPublicRepositories),
		"runnerScope":                stringInto(&c.RunnerScope),
		"runnerGroupId":              intInto(&c.RunnerGroupID),
		"fleetLabel":                 stringInto(&c.FleetLabel),
		"extraLabels":                listInto(&c.ExtraLabels),
		"defaultImage":               stringInto(&c.DefaultImage),
		"defaultClass":               stringInto(&c.DefaultClass),
		"classTable":                 classTableInto(&c.ClassTable),
		"imageAllowList":             listInto(&c.ImageAllowList),
		"idleTimeoutSeconds":         intInto(&c.IdleTimeoutSeconds),
		"runnerTtlSeconds":           intInto(&c.RunnerTTLSeconds),
		"buildTimeoutSeconds":        intInto(&c.BuildTimeoutSeconds),
		"rateLimitMaxWaitSeconds":    intInto(&c.RateLimitMaxWaitSeconds),
		"logRetentionDays":           intInto(&c.LogRetentionDays),
		"webhookReservedConcurrency": intInto(&c.WebhookReservedConcurrency),
		"ecrTagPatterns":             listInto(&c.EcrTagPatterns),
		"ecrKeepImages":              intInto(&c.EcrKeepImages),
		"vpcId":                      stringInto(&c.VpcID),
		"subnetIds":                  listInto(&c.SubnetIDs),
		"vpcCidr":                    stringInto(&c.VpcCidr),
		"maxAzs":                     intInto(&c.MaxAzs),
		"privateSubnets":             boolInto(&c.PrivateSubnets),
		"natGateways":                intInto(&c.NatGateways),
		"assignPublicIp":             optBoolInto(&c.AssignPublicIP),
		"alarmEmail":                 stringInto(&c.AlarmEmail),
		"alarmTopicArn":              stringInto(&c.AlarmTopicArn),
	}
}

var (
	labelPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	ownerPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)
	repoNamePattern   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	imagePattern      = regexp.MustCompile(`^[a-z0-9*][a-z0-9._/:@*-]*$`)
	vpcIDPattern      = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	subnetIDPattern   = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	topicArnPattern   = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)
	emailPattern      = regexp.MustCompile(`^[^@\s,]+@[^@\s,]+\.[^@\s,]+$`)
	cidrPattern       = regexp.MustCompile(`^([0-9]{1,3}\.){3}[0-9]{1,3}/(1[6-9]|2[0-8])$`)
	tagPatternPattern = regexp.MustCompile(`^[A-Za-z0-9._*-]{1,128}$`)
)

// retentionDays maps the retentions CloudWatch Logs accepts (days) to CDK's names.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// Validate reports every field that cannot be deployed, each naming its context key and
// what to change.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{field, fmt.Sprintf(format, args...)})
	}

	for _, r := range c.Repositories {
		if err := validateRepositoryPattern(r); err != nil {
			bad("repositories", "%v", err)
		}
	}
	switch c.RunnerScope {
	case "repo", "org":
	default:
		bad("runnerScope", "%q must be repo (runners register on each repository) or org (on the organisation)", c.RunnerScope)
	}
	if c.RunnerGroupID < 1 {
		bad("runnerGroupId", "%d must be a runner group id, 1 or more (1 is the Default group)", c.RunnerGroupID)
	}
	if c.FleetLabel != "" && (!labelPattern.MatchString(c.FleetLabel) || strings.Contains(strings.ToLower(c.FleetLabel), ":")) {
		bad("fleetLabel", "%q must be a plain label (letters, digits, . _ -), or empty to disable it", c.FleetLabel)
	}
	for _, l := range c.ExtraLabels {
		lower := strings.ToLower(l)
		if !labelPattern.MatchString(l) || strings.HasPrefix(lower, fleet.LabelImagePrefix) || strings.HasPrefix(lower, fleet.LabelClassPrefix) {
			bad("extraLabels", "%q must be a plain label (letters, digits, . _ -); image: and class: labels are already understood", l)
		}
	}

	if len(c.ClassTable) == 0 {
		bad("classTable", "is empty; define at least one class or remove the key to get the default table")
	} else if _, err := fleet.ParseClassTable(c.classTableJSON()); err != nil {
		bad("classTable", "%v", err)
	}
	if _, ok := c.ClassTable[strings.ToLower(c.DefaultClass)]; !ok {
		bad("defaultClass", "%q is not in the class table; use one of %s or add it to classTable", c.DefaultClass, strings.Join(c.ClassTable.Names(), ", "))
	}

	if len(c.ImageAllowList) == 0 {
		bad("imageAllowList", "is empty, so no image could ever run; list image patterns such as \"ubuntu:*\"")
	}
	for _, p := range c.ImageAllowList {
		if !imagePattern.MatchString(p) || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
			bad("imageAllowList", "%q is not an image pattern; use lower-case references like \"ubuntu:*\" or \"ghcr.io/my-org/*\" (* matches any characters)", p)
		}
	}
	switch {
	case c.DefaultImage == "":
		bad("defaultImage", "is empty; name the image jobs without an image: label run on, e.g. \"ubuntu:24.04\"")
	case strings.Contains(c.DefaultImage, "*") || !imagePattern.MatchString(strings.ToLower(c.DefaultImage)):
		bad("defaultImage", "%q is not an image reference like \"ubuntu:24.04\"", c.DefaultImage)
	case !ImageAllowed(c.ImageAllowList, c.DefaultImage):
		bad("defaultImage", "%q is not matched by imageAllowList; add a pattern for it", c.DefaultImage)
	}

	// The idle wait starts with the launch, so it must cover a Fargate boot (30-90 s)
	// plus the Spot capacity retries, or a runner is reaped before it could connect.
	if c.IdleTimeoutSeconds < 120 || c.IdleTimeoutSeconds > 86400 {
		bad("idleTimeoutSeconds", "%d must be between 120 and 86400 (the idle wait also covers launching the task)", c.IdleTimeoutSeconds)
	}
	// ResolveImage accepts up to a day: a runner living longer is a leak, not a job.
	if c.RunnerTTLSeconds < 300 || c.RunnerTTLSeconds > 86400 {
		bad("runnerTtlSeconds", "%d must be between 300 and 86400", c.RunnerTTLSeconds)
	}
	if c.RunnerTTLSeconds <= c.IdleTimeoutSeconds {
		bad("runnerTtlSeconds", "%d must be longer than idleTimeoutSeconds (%d)", c.RunnerTTLSeconds, c.IdleTimeoutSeconds)
	}
	// CodeBuild accepts 5 minutes and more; the image build machine gives up after 8 hours.
	if c.BuildTimeoutSeconds < 300 || c.BuildTimeoutSeconds > 28800 {
		bad("buildTimeoutSeconds", "%d must be between 300 and 28800 (the image build machine's own 8-hour limit)", c.BuildTimeoutSeconds)
	}
	// GitHub drops a job still queued after 24 h; waiting longer serves nobody.
	if c.RateLimitMaxWaitSeconds < 60 || c.RateLimitMaxWaitSeconds > 86400 {
		bad("rateLimitMaxWaitSeconds", "%d must be between 60 and 86400 (GitHub drops a job still queued after 24 h)", c.RateLimitMaxWaitSeconds)
	}
	if _, ok := retentionDays[c.LogRetentionDays]; !ok {
		days := slices.Sorted(maps.Keys(retentionDays))
		bad("logRetentionDays", "%d is not a CloudWatch Logs retention; use one of %v", c.LogRetentionDays, days)
	}
	if c.WebhookReservedConcurrency < 0 || c.WebhookReservedConcurrency > 1000 {
		bad("webhookReservedConcurrency", "%d must be between 1 and 1000, or 0 to reserve none", c.WebhookReservedConcurrency)
	}
	if len(c.EcrTagPatterns) == 0 {
		bad("ecrTagPatterns", "is empty; list tag patterns whose newest images to keep (e.g. \"*-x64-*\", \"*-arm64-*\")")
	}
	for _, p := range c.EcrTagPatterns {
		if !tagPatternPattern.MatchString(p) || strings.Count(p, "*") > 4 || strings.Trim(p, "*") == "" {
			bad("ecrTagPatterns", "%q is not an image tag pattern (letters, digits, . _ - and at most four *, not only *)", p)
		}
	}
	if c.EcrKeepImages < 1 || c.EcrKeepImages > 1000 {
		bad("ecrKeepImages", "%d must be between 1 and 1000", c.EcrKeepImages)
	}

	errs = append(errs, c.validateNetwork()...)

	if c.AlarmEmail != "" && c.AlarmTopicArn != "" {
		bad("alarmEmail", "set alarmEmail (a new topic with this subscriber) or alarmTopicArn (your existing topic), not both")
	}
	if c.AlarmEmail != "" && !emailPattern.MatchString(c.AlarmEmail) {
		bad("alarmEmail", "%q is not an e-mail address", c.AlarmEmail)
	}
	if c.AlarmTopicArn != "" && !topicArnPattern.MatchString(c.AlarmTopicArn) {
		bad("alarmTopicArn", "%q is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)", c.AlarmTopicArn)
	}
	return errors.Join(errs...)
}

func (c Config) validateNetwork() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{field, fmt.Sprintf(format, args...)})
	}
	imported := c.VpcID != "" || len(c.SubnetIDs) > 0
	if imported {
		if c.VpcID == "" {
			bad("vpcId", "is empty but subnetIds is set; set vpcId to the VPC those subnets belong to")
		} else if !vpcIDPattern.MatchString(c.VpcID) {
			bad("vpcId", "%q is not a VPC id (vpc-0123abcd...)", c.VpcID)
		}
		if len(c.SubnetIDs) == 0 {
			bad("subnetIds", "is empty but vpcId is set; list the subnets runner tasks start in")
		}
		seen := map[string]bool{}
		for _, s := range c.SubnetIDs {
			if !subnetIDPattern.MatchString(s) {
				bad("subnetIds", "%q is not a subnet id (subnet-0123abcd...)", s)
			}
			if seen[s] {
				bad("subnetIds", "%q is listed twice", s)
			}
			seen[s] = true
		}
		if c.VpcCidr != "" {
			bad("vpcCidr", "applies only to a VPC the stack creates; remove it or remove vpcId/subnetIds")
		}
		if c.PrivateSubnets {
			bad("privateSubnets", "applies only to a VPC the stack creates; with vpcId, list private subnets in subnetIds and set assignPublicIp to false")
		}
		return errs
	}
	if c.VpcCidr != "" && !cidrPattern.MatchString(c.VpcCidr) {
		bad("vpcCidr", "%q is not an IPv4 CIDR between /16 and /28", c.VpcCidr)
	}
	if c.MaxAzs < 1 || c.MaxAzs > 6 {
		bad("maxAzs", "%d must be between 1 and 6", c.MaxAzs)
	}
	if c.PrivateSubnets {
		if c.NatGateways < 1 || c.NatGateways > c.MaxAzs {
			bad("natGateways", "%d must be between 1 and maxAzs (%d): runners in private subnets reach GitHub through NAT", c.NatGateways, c.MaxAzs)
		}
	}
	if !c.PrivateSubnets && c.AssignPublicIP != nil && !*c.AssignPublicIP {
		bad("assignPublicIp", "false leaves runners in the created public subnets without a route out; set privateSubnets to true (NAT) or leave assignPublicIp unset")
	}
	return errs
}

// PublicIP reports whether runner tasks get a public IP.
func (c Config) PublicIP() bool {
	if c.AssignPublicIP != nil {
		return *c.AssignPublicIP
	}
	return c.VpcID == "" && !c.PrivateSubnets
}

// RunnerScopes are the GitHub scopes runners register in, as the janitor lists them
// (repo:owner/name or org:name): with runnerScope repo, each repository named in full;
// with org, each owner. Wildcard entries name no scope the janitor could list.
func (c Config) RunnerScopes() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range c.Repositories {
		owner, name, ok := strings.Cut(strings.ToLower(r), "/")
		if !ok {
			continue
		}
		var s string
		switch {
		case c.RunnerScope == "org":
			s = "org:" + owner
		case name != "*":
			s = "repo:" + owner + "/" + name
		default:
			continue
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ImageAllowed reports whether ref matches one of the patterns the way ResolveImage
// reads IMAGE_ALLOW_LIST: case-insensitively, * matching any run of characters but /,
// and a Docker Hub short name also matching its normal form (ubuntu = docker.io/library/ubuntu).
func ImageAllowed(patterns []string, ref string) bool {
	refs := dockerHubForms(strings.ToLower(ref))
	for _, p := range patterns {
		for _, pf := range dockerHubForms(strings.ToLower(p)) {
			for _, r := range refs {
				if ok, err := path.Match(pf, r); err == nil && ok {
					return true
				}
			}
		}
	}
	return false
}

// dockerHubForms is s and, for a name without a registry host, its docker.io form.
func dockerHubForms(s string) []string {
	first, _, hasSlash := strings.Cut(s, "/")
	switch {
	case !hasSlash:
		return []string{s, "docker.io/library/" + s}
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		return []string{s, "docker.io/" + s}
	}
	return []string{s}
}

func validateRepositoryPattern(r string) error {
	if r == "*" {
		return nil
	}
	owner, name, ok := strings.Cut(r, "/")
	if !ok || !ownerPattern.MatchString(owner) || (name != "*" && !repoNamePattern.MatchString(name)) {
		return fmt.Errorf("%q must be owner/name, owner/* or *", r)
	}
	return nil
}

// classTableJSON is the class table as the SSM parameter stores it.
func (c Config) classTableJSON() []byte {
	b, err := json.Marshal(c.ClassTable)
	if err != nil {
		// A map of plain structs always marshals.
		panic(err)
	}
	return b
}

func stringInto(dst *string) func(any) error {
	return func(v any) error {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be a string, got %s", jsonKind(v))
		}
		*dst = strings.TrimSpace(s)
		return nil
	}
}

func intInto(dst *int) func(any) error {
	return func(v any) error {
		switch n := v.(type) {
		case float64:
			if n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
				return fmt.Errorf("%v must be a whole number", n)
			}
			*dst = int(n)
		case string:
			i, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil {
				return fmt.Errorf("%q must be a whole number", n)
			}
			*dst = i
		default:
			return fmt.Errorf("must be a whole number, got %s", jsonKind(v))
		}
		return nil
	}
}

func boolInto(dst *bool) func(any) error {
	return func(v any) error {
		switch b := v.(type) {
		case bool:
			*dst = b
		case string:
			p, err := strconv.ParseBool(strings.TrimSpace(b))
			if err != nil {
				return fmt.Errorf("%q must be true or false", b)
			}
			*dst = p
		default:
			return fmt.Errorf("must be true or false, got %s", jsonKind(v))
		}
		return nil
	}
}

func optBoolInto(dst **bool) func(any) error {
	return func(v any) error {
		var b bool
		if err := boolInto(&b)(v); err != nil {
			return err
		}
		*dst = &b
		return nil
	}
}

func listInto(dst *[]string) func(any) error {
	return func(v any) error {
		var items []any
		switch l := v.(type) {
		case []any:
			items = l
		case string:
			s := strings.TrimSpace(l)
			if strings.HasPrefix(s, "[") {
				if err := json.Unmarshal([]byte(s), &items); err != nil {
					return fmt.Errorf("%q is not a JSON array: %w", s, err)
				}
				break
			}
			for _, p := range strings.Split(s, ",") {
				items = append(items, p)
			}
		default:
			return fmt.Errorf("must be a list of strings, got %s", jsonKind(v))
		}
		out := []string{}
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return fmt.Errorf("must be a list of strings, found %s", jsonKind(it))
			}
			if s = strings.TrimSpace(s); s != "" {
				if strings.Contains(s, ",") {
					return fmt.Errorf("%q must not contain a comma (the functions receive the list comma-separated)", s)
				}
				out = append(out, s)
			}
		}
		*dst = out
		return nil
	}
}

func classTableInto(dst *fleet.ClassTable) func(any) error {
	return func(v any) error {
		var data []byte
		switch t := v.(type) {
		case string:
			data = []byte(t)
		case map[string]any:
			b, err := json.Marshal(t)
			if err != nil {
				return fmt.Errorf("cannot re-encode: %w", err)
			}
			data = b
		default:
			return fmt.Errorf("must be a JSON object of classes, got %s", jsonKind(v))
		}
		table, err := fleet.ParseClassTable(data)
		if err != nil {
			return fmt.Errorf("%w; each class needs cpu and memory Fargate accepts, e.g. {\"small\": {\"cpu\": 1024, \"memory\": 2048}}", err)
		}
		*dst = table
		return nil
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
