package main

import (
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	base := map[string]string{
		"GITHUB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:runner-fleet/github-AbCdEf",
		"KMS_KEY_ARN":       "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // variables named in the error
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.Scope != ScopeRepo || c.RunnerGroupID != 1 || c.Budget != 20*time.Second || c.SecretTTL != 5*time.Minute || c.RateLimitMaxWait != 6*time.Hour {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "organisation runners in a group", env: map[string]string{"RUNNER_SCOPE": "ORG", "RUNNER_GROUP_ID": "7", "GITHUB_BUDGET_SECONDS": "45", "GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS": "3600"},
			check: func(t *testing.T, c Config) {
				if c.Scope != ScopeOrg || c.RunnerGroupID != 7 || c.Budget != 45*time.Second || c.RateLimitMaxWait != time.Hour {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "missing secret and key", env: map[string]string{"GITHUB_SECRET_ARN": "", "KMS_KEY_ARN": ""}, wantErr: []string{"GITHUB_SECRET_ARN", "KMS_KEY_ARN"}},
		{name: "runner group on repository runners", env: map[string]string{"RUNNER_GROUP_ID": "7"}, wantErr: []string{"RUNNER_GROUP_ID"}},
		{name: "unknown scope", env: map[string]string{"RUNNER_SCOPE": "enterprise"}, wantErr: []string{"RUNNER_SCOPE"}},
		{name: "bad group and budget", env: map[string]string{"RUNNER_GROUP_ID": "0", "GITHUB_BUDGET_SECONDS": "600"}, wantErr: []string{"RUNNER_GROUP_ID", "GITHUB_BUDGET_SECONDS"}},
		{name: "rate-limit wait past GitHub's 24 h queue", env: map[string]string{"GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS": "90000"}, wantErr: []string{"GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := LoadConfig(mapEnv(env))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("LoadConfig: %v", err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatalf("LoadConfig(%v) succeeded; want errors naming %v", tc.env, tc.wantErr)
			}
			for _, v := range tc.wantErr {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
		})
	}
}
