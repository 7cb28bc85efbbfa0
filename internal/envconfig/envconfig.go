// Package envconfig holds the small pieces every Lambda's LoadConfig shares: the error
// that names the environment variable to fix, and readers for the value kinds the
// functions take. Each function still owns its Config type and the list of variables it
// reads (config.go in its folder), so the README of each function stays its reference.
package envconfig

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Error names the environment variable that is wrong and what is wrong with it.
type Error struct {
	Var, Problem string
}

func (e *Error) Error() string { return e.Var + ": " + e.Problem }

// Seconds reads an optional whole number of seconds in [lo, hi] from the variable name
// into d; an unset variable leaves d (the default) alone.
func Seconds(getenv func(string) string, name string, lo, hi int, d *time.Duration) error {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return &Error{name, fmt.Sprintf("%q must be a whole number of seconds from %d to %d", v, lo, hi)}
	}
	*d = time.Duration(n) * time.Second
	return nil
}

// ClusterARN reads the required CLUSTER_ARN: the runner cluster's ARN.
func ClusterARN(getenv func(string) string) (string, error) {
	v := strings.TrimSpace(getenv("CLUSTER_ARN"))
	if !strings.HasPrefix(v, "arn:") || !strings.Contains(v, ":cluster/") {
		return v, &Error{"CLUSTER_ARN", fmt.Sprintf("%q must be the runner cluster's ARN (arn:aws:ecs:<region>:<account>:cluster/<name>)", v)}
	}
	return v, nil
}

// List splits a comma-separated value, trimming blanks and dropping empty items.
func List(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
