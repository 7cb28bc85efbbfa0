package envconfig

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSeconds(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", 7 * time.Second, false}, // unset keeps the default
		{" 30 ", 30 * time.Second, false},
		{"1", time.Second, false},
		{"0", 0, true},
		{"121", 0, true},
		{"ten", 0, true},
		{"1.5", 0, true},
	}
	for _, tc := range tests {
		d := 7 * time.Second
		err := Seconds(func(string) string { return tc.value }, "X_SECONDS", 1, 120, &d)
		var e *Error
		switch {
		case tc.wantErr && (!errors.As(err, &e) || e.Var != "X_SECONDS" || !strings.Contains(e.Error(), "from 1 to 120")):
			t.Errorf("Seconds(%q) error %v; want an Error naming X_SECONDS and the range", tc.value, err)
		case !tc.wantErr && (err != nil || d != tc.want):
			t.Errorf("Seconds(%q) = %v, %v; want %v", tc.value, d, err, tc.want)
		}
	}
}

func TestList(t *testing.T) {
	if got := List(" a, ,b ,, c"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("List = %q", got)
	}
	if got := List(""); got != nil {
		t.Fatalf("List(\"\") = %q; want nil", got)
	}
}

func TestClusterARN(t *testing.T) {
	for value, ok := range map[string]bool{
		" arn:aws:ecs:us-east-1:123456789012:cluster/runner-fleet ": true,
		"":             false,
		"runner-fleet": false,
		"arn:aws:ecs:us-east-1:123456789012:service/runner-fleet/x": false,
	} {
		got, err := ClusterARN(func(name string) string {
			if name != "CLUSTER_ARN" {
				t.Fatalf("read %s", name)
			}
			return value
		})
		var e *Error
		switch {
		case ok && (err != nil || got != strings.TrimSpace(value)):
			t.Errorf("ClusterARN(%q) = %q, %v", value, got, err)
		case !ok && (!errors.As(err, &e) || e.Var != "CLUSTER_ARN" || !strings.Contains(e.Problem, ":cluster/")):
			t.Errorf("ClusterARN(%q) error %v; want one naming CLUSTER_ARN and the ARN's form", value, err)
		}
	}
}
