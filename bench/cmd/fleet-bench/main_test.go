package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown scenario", []string{"-scenarios", "chaos", "-go-bench=false", "-rie", "none"}, `unknown scenario "chaos"`},
		{"time scale above 1", []string{"-time-scale", "2", "-scenarios", "baseline"}, "time scale 2 must be in (0, 1]"},
		{"no jobs", []string{"-jobs", "0", "-scenarios", "baseline"}, "a burst needs at least one job"},
		{"zero GitHub rate", []string{"-github-writes-per-minute", "0"}, "the rate must be positive"},
		{"Spot discount of 100%", []string{"-spot-discount", "1"}, "Fargate Spot discount 1 must be in [0, 1)"},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Errorf("run(%q) = %v (stderr %q), want an error containing %q", tc.args, err, stderr.String(), tc.want)
			}
		})
	}
}

func TestShownDropsTheEmulatorPath(t *testing.T) {
	got := shown([]string{"-jobs", "10", "-rie", "/home/me/go/bin/aws-lambda-rie", "-rie=/x", "-scenarios", "baseline"})
	if want := []string{"-jobs", "10", "-scenarios", "baseline"}; !slices.Equal(got, want) {
		t.Errorf("shown = %q, want %q", got, want)
	}
}
