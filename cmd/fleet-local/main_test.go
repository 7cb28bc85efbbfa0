package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/fleetlocal"
)

var bootstraps string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		root, err := fleetlocal.FindRoot()
		if err != nil {
			panic(err)
		}
		dir, err := os.MkdirTemp("", "fleet-local-bootstraps-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		if err := fleetlocal.BuildBootstraps(context.Background(), root, dir); err != nil {
			panic(err)
		}
		bootstraps = dir
		return m.Run()
	}())
}

// The contract: the first stdout line is one JSON object with the endpoints, the
// environment serves until its context ends, and logs go to stderr.
func TestRunPrintsTheEndpointsFirstAndServesUntilStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, stdout := io.Pipe()
	stderr := &testenv.Buffer{}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-bootstraps", bootstraps, "-janitor-every", "-1s"}, stdout, stderr)
		_ = stdout.Close()
		done <- err
	}()
	lines := bufio.NewReader(out)
	first, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("no first line on stdout: %v; stderr:\n%s", err, stderr)
	}
	go func() { _, _ = io.Copy(io.Discard, lines) }()
	var ep map[string]any
	if err := json.Unmarshal([]byte(first), &ep); err != nil {
		t.Fatalf("first line is not one JSON object: %v: %q", err, first)
	}
	for _, key := range []string{"webhook_url", "sfn_endpoint", "aws_endpoint", "github_api_url", "webhook_secret"} {
		if v, _ := ep[key].(string); v == "" {
			t.Errorf("first line has no %s: %s", key, first)
		}
	}
	if strings.Contains(first, "level=") || !stderr.Eventually("fleet-local is running") {
		t.Errorf("logs belong on stderr; stdout %q, stderr:\n%s", first, stderr)
	}

	// The endpoints answer: the real SDK lists the fleet's state machines, and the
	// webhook refuses a GET as the Function URL does.
	client := sfn.New(sfn.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ep["sfn_endpoint"].(string)),
		Credentials: credentials.NewStaticCredentialsProvider(awsfake.TestAccessKeyID, awsfake.TestSecretAccessKey, ""),
	})
	machines, err := client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatalf("ListStateMachines at sfn_endpoint: %v", err)
	}
	var names []string
	for _, m := range machines.StateMachines {
		names = append(names, aws.ToString(m.Name))
	}
	if !slices.Contains(names, "RunnerFleet") || !slices.Contains(names, "RunnerFleetImageBuild") {
		t.Errorf("state machines %v; want RunnerFleet and RunnerFleetImageBuild", names)
	}
	resp, err := http.Get(ep["webhook_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET webhook_url = %d; want 405", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after its context ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fleet-local did not stop within 30 s of its context ending")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error; "" means flag.ErrHelp
	}{
		{args: []string{"-h"}},
		{args: []string{"-time-scale", "fast"}, want: "time-scale"},
		{args: []string{"-bootstraps", filepath.Join(t.TempDir(), "missing")}, want: "bootstrap"},
		{args: []string{"extra"}, want: "extra"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stderr := &testenv.Buffer{}
			err := run(context.Background(), tc.args, io.Discard, stderr)
			switch {
			case tc.want == "" && !errors.Is(err, flag.ErrHelp):
				t.Errorf("err = %v; want flag.ErrHelp", err)
			case tc.want == "" && !strings.Contains(stderr.String(), "-time-scale"):
				t.Errorf("-h printed no usage:\n%s", stderr)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want)):
				t.Errorf("err = %v (stderr %q); want one naming %q", err, stderr, tc.want)
			}
		})
	}
}
