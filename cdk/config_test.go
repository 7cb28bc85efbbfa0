package main

import (
	"errors"
	"strings"
	"testing"
)

// cdkJSONContext is cdk.json's context, as `cdk synth` passes it.
func cdkJSONContext(t *testing.T) map[string]any {
	t.Helper()
	_, ctx, err := LoadCDKJSON(".")
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

func TestCDKJSONContextIsValid(t *testing.T) {
	cfg, err := DecodeConfig(cdkJSONContext(t))
	if err != nil {
		t.Fatalf("cdk.json context does not decode: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("cdk.json context does not validate: %v", err)
	}
}

func TestConfigValidationFailures(t *testing.T) {
	cases := []struct {
		name    string
		context map[string]any
		field   string // the ConfigError's Field
		hint    string // part of the message telling what to change
	}{
		{"unknown default class", map[string]any{"defaultClass": "huge"}, "defaultClass", "use one of large, medium, medium-arm, medium-spot, small"},
		{"default class missing from a custom table", map[string]any{"classTable": map[string]any{"tiny": map[string]any{"cpu": 256.0, "memory": 512.0}}}, "defaultClass", "add it to classTable"},
		{"cpu and memory Fargate refuses", map[string]any{"classTable": map[string]any{"medium": map[string]any{"cpu": 1024.0, "memory": 1024.0}}}, "classTable", "Fargate does not accept cpu 1024 with memory 1024"},
		{"cpu that is no Fargate size", map[string]any{"classTable": `{"medium": {"cpu": 3000, "memory": 8192}}`}, "classTable", "use 256, 512, 1024"},
		{"class table with an unknown field", map[string]any{"classTable": map[string]any{"medium": map[string]any{"cpu": 1024.0, "memory": 2048.0, "gpu": 1.0}}}, "classTable", "unknown field"},
		{"empty image allow-list", map[string]any{"imageAllowList": []any{}}, "imageAllowList", "list image patterns"},
		{"malformed image pattern", map[string]any{"imageAllowList": []any{"Ubuntu Latest"}}, "imageAllowList", "is not an image pattern"},
		{"image pattern with a double slash", map[string]any{"imageAllowList": []any{"ghcr.io//x"}}, "imageAllowList", "is not an image pattern"},
		{"default image outside the allow-list", map[string]any{"defaultImage": "alpine:3"}, "defaultImage", "add a pattern for it"},
		{"subnets without a VPC", map[string]any{"subnetIds": []any{"subnet-0123456789abcdef0"}}, "vpcId", "set vpcId"},
		{"VPC without subnets", map[string]any{"vpcId": "vpc-0123456789abcdef0"}, "subnetIds", "list the subnets"},
		{"imported VPC with NAT settings", map[string]any{"vpcId": "vpc-0123456789abcdef0", "subnetIds": "subnet-0123456789abcdef0", "privateSubnets": true}, "privateSubnets", "applies only to a VPC the stack creates"},
		{"imported VPC with a CIDR", map[string]any{"vpcId": "vpc-0123456789abcdef0", "subnetIds": "subnet-0123456789abcdef0", "vpcCidr": "10.1.0.0/16"}, "vpcCidr", "remove it"},
		{"malformed VPC id", map[string]any{"vpcId": "my-vpc", "subnetIds": "subnet-0123456789abcdef0"}, "vpcId", "is not a VPC id"},
		{"malformed subnet id", map[string]any{"vpcId": "vpc-0123456789abcdef0", "subnetIds": "subnet-1,sg-2"}, "subnetIds", "is not a subnet id"},
		{"no public IP in public subnets", map[string]any{"assignPublicIp": false}, "assignPublicIp", "set privateSubnets to true"},
		{"private subnets without NAT", map[string]any{"privateSubnets": true, "natGateways": 0.0}, "natGateways", "reach GitHub through NAT"},
		{"unknown runner scope", map[string]any{"runnerScope": "enterprise"}, "runnerScope", "must be repo"},
		{"malformed repository", map[string]any{"repositories": []any{"just-a-name"}}, "repositories", "owner/name, owner/* or *"},
		{"idle timeout shorter than a launch", map[string]any{"idleTimeoutSeconds": 90.0}, "idleTimeoutSeconds", "also covers launching the task"},
		{"rate-limit wait past GitHub's queue", map[string]any{"rateLimitMaxWaitSeconds": 90000.0}, "rateLimitMaxWaitSeconds", "GitHub drops a job"},
		{"ttl shorter than idle timeout", map[string]any{"idleTimeoutSeconds": 3600.0, "runnerTtlSeconds": 1800.0}, "runnerTtlSeconds", "longer than idleTimeoutSeconds"},
		{"retention CloudWatch refuses", map[string]any{"logRetentionDays": 10.0}, "logRetentionDays", "use one of [1 3 5 7 14 30"},
		{"both alarm targets", map[string]any{"alarmEmail": "ops@example.com", "alarmTopicArn": "arn:aws:sns:eu-west-1:111122223333:ops"}, "alarmEmail", "not both"},
		{"malformed topic", map[string]any{"alarmTopicArn": "ops-topic"}, "alarmTopicArn", "is not an SNS topic ARN"},
		{"typo in a key", map[string]any{"defaultClas": "medium"}, "defaultClas", "is not a setting of this stack"},
		{"wrong type", map[string]any{"idleTimeoutSeconds": "ten minutes"}, "idleTimeoutSeconds", "must be a whole number"},
		{"fractional number", map[string]any{"idleTimeoutSeconds": 600.5}, "idleTimeoutSeconds", "must be a whole number"},
		{"list item with a comma", map[string]any{"extraLabels": []any{"a,b"}}, "extraLabels", "must not contain a comma"},
		{"tag pattern of wildcards only", map[string]any{"ecrTagPatterns": "*"}, "ecrTagPatterns", "not only *"},
		{"extra label that is an image label", map[string]any{"extraLabels": "image:foo"}, "extraLabels", "already understood"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := cdkJSONContext(t)
			for k, v := range tc.context {
				ctx[k] = v
			}
			cfg, err := DecodeConfig(ctx)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatalf("context %v: no error; want one naming %q", tc.context, tc.field)
			}
			var found bool
			for _, e := range unjoin(err) {
				var ce *ConfigError
				if errors.As(e, &ce) && ce.Field == tc.field && strings.Contains(ce.Problem, tc.hint) {
					found = true
				}
			}
			if !found {
				t.Errorf("context %v:\ngot  %v\nwant a *ConfigError on %q containing %q", tc.context, err, tc.field, tc.hint)
			}
		})
	}
}

// unjoin flattens errors.Join trees.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func TestDecodeConfigAcceptsCLIStrings(t *testing.T) {
	// `cdk synth -c key=value` passes every value as a string.
	cfg, err := DecodeConfig(map[string]any{
		"repositories":                         "my-org/*, other/app",
		"allowPublicRepositories":              "true",
		"idleTimeoutSeconds":                   "900",
		"imageAllowList":                       `["ubuntu:*", "ghcr.io/my-org/*"]`,
		"classTable":                           `{"Medium": {"cpu": 2048, "memory": 4096, "arch": "arm64"}}`,
		"assignPublicIp":                       "false",
		"privateSubnets":                       "true",
		"@aws-cdk/core:newStyleStackSynthesis": true, // feature flags are not ours
		"aws:cdk:enable-path-metadata":         true, // neither are the CLI's keys
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Repositories, "|"); got != "my-org/*|other/app" {
		t.Errorf("repositories = %q", got)
	}
	if !cfg.AllowPublicRepositories || cfg.IdleTimeoutSeconds != 900 || cfg.PublicIP() {
		t.Errorf("allowPublic=%v idle=%d publicIP=%v", cfg.AllowPublicRepositories, cfg.IdleTimeoutSeconds, cfg.PublicIP())
	}
	if c, ok := cfg.ClassTable["medium"]; !ok || c.Arch != "arm64" || len(cfg.ClassTable) != 1 {
		t.Errorf("classTable = %+v; want only medium (lower-cased), arm64", cfg.ClassTable)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestImageAllowed(t *testing.T) {
	cases := []struct {
		patterns []string
		ref      string
		want     bool
	}{
		{[]string{"ubuntu:*"}, "ubuntu:24.04", true},
		{[]string{"ubuntu:*"}, "Ubuntu:24.04", true},
		{[]string{"ubuntu:*"}, "docker.io/library/ubuntu:24.04", true},
		{[]string{"docker.io/library/ubuntu:*"}, "ubuntu:22.04", true},
		{[]string{"ubuntu:*"}, "ubuntu:5000/someone/image", false}, // * never crosses /
		{[]string{"ghcr.io/org/*"}, "ghcr.io/org/deep/image:1", false},
		{[]string{"ghcr.io/org/*/*"}, "ghcr.io/org/deep/image:1", true},
		{[]string{"debian:*"}, "ubuntu:24.04", false},
	}
	for _, tc := range cases {
		if got := ImageAllowed(tc.patterns, tc.ref); got != tc.want {
			t.Errorf("ImageAllowed(%q, %q) = %v; want %v", tc.patterns, tc.ref, got, tc.want)
		}
	}
}

func TestRunnerScopes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Repositories = []string{"Org/App", "org/*", "other/lib", "*"}
	if got := strings.Join(cfg.RunnerScopes(), ","); got != "repo:org/app,repo:other/lib" {
		t.Errorf("repo scope: %q", got)
	}
	cfg.RunnerScope = "org"
	if got := strings.Join(cfg.RunnerScopes(), ","); got != "org:org,org:other" {
		t.Errorf("org scope: %q", got)
	}
}

func TestTaskResources(t *testing.T) {
	def := []byte(`{"StartAt":"A","States":{
		"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Next":"P"},
		"P":{"Type":"Parallel","Branches":[{"StartAt":"R","States":{"R":{"Type":"Task","Resource":"arn:aws:states:::ecs:runTask.sync","End":true}}}],"Next":"M"},
		"M":{"Type":"Map","ItemProcessor":{"StartAt":"L","States":{"L":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}},"End":true}}}`)
	got, err := taskResources(def)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "arn:aws:states:::ecs:runTask.sync arn:aws:states:::lambda:invoke" {
		t.Errorf("taskResources = %q", got)
	}
	if _, err := taskResources([]byte("{")); err == nil {
		t.Error("a broken definition gave no error")
	}
}
