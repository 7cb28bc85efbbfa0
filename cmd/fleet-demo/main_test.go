package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/fleetlocal"
)

// make demo is the README's first command: the whole story must end in OK, with every
// job where the demo expects it and nothing leaked.
func TestDemoEndsWithNothingLeaked(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs the whole fleet for about 20 s")
	}
	root, err := fleetlocal.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := fleetlocal.BuildBootstraps(ctx, root, dir); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	stderr := &testenv.Buffer{}
	if err := run(ctx, []string{"-bootstraps", dir}, &stdout, stderr); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr)
	}
	out := stdout.String()
	for _, want := range []string{
		"1. a first job on a fresh deploy",
		"summary: 6 jobs, 6 runners (executions), 2 image builds,",
		"0 failed, 0 leaked tasks, 0 leaked registrations",
		"1 duplicated, still one execution per job",
		"OK: every job ended as expected, nothing leaked",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
}

func TestDemoRejectsBadArguments(t *testing.T) {
	if err := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v; want flag.ErrHelp", err)
	}
	if err := run(context.Background(), []string{"now"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `"now"`) {
		t.Errorf("a positional argument: %v; want an error naming it", err)
	}
}
