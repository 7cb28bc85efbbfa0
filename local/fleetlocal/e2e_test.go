package fleetlocal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
)

// The end-to-end suite: each scenario runs the whole fleet (real bootstraps, the
// statemachine/ definition in the local engine, fakes, simulated runners) and asserts
// that every job finished or failed with a named error, that nothing leaked, and that
// the execution history tells the story. Skipped under -short.

var bootstraps string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fleetlocal-bootstraps-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bootstraps = dir
	return m.Run()
}

var buildOnce sync.Once
var buildErr error

// scenario is one environment under test with the JIT configs its runners opened.
type scenario struct {
	*Env
	t    *testing.T
	ctl  *Control
	logs *lockedBuffer
	mu   sync.Mutex
	jits [][]byte
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func start(t *testing.T, mutate func(*Options)) *scenario {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end scenarios run the whole fleet; skipped with -short")
	}
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	buildOnce.Do(func() { buildErr = BuildBootstraps(context.Background(), root, bootstraps) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	s := &scenario{t: t, logs: &lockedBuffer{}}
	o := Options{
		Root: root, Bootstraps: bootstraps, BootDelay: 1 * time.Second, BuildDuration: 2 * time.Second,
		JanitorEvery: -1, Concurrency: 3, FunctionLogs: s.logs,
		OnOpened: func(_ string, jit []byte) {
			s.mu.Lock()
			s.jits = append(s.jits, bytes.Clone(jit))
			s.mu.Unlock()
		},
	}
	if mutate != nil {
		mutate(&o)
	}
	env, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	s.Env, s.ctl = env, env.Control()
	return s
}

func (s *scenario) queue(r JobRequest) int64 {
	s.t.Helper()
	if r.DurationSeconds == 0 {
		r.DurationSeconds = 60
	}
	id, err := s.ctl.QueueJob(context.Background(), r)
	if err != nil {
		s.t.Fatal(err)
	}
	return id
}

// settle waits for the end state and checks the invariants every scenario shares.
func (s *scenario) settle() ([]JobStatus, []Execution) {
	s.t.Helper()
	ctx := context.Background()
	if err := s.Settle(ctx, 150*time.Second); err != nil {
		execs, _ := s.Executions(ctx)
		for _, x := range execs {
			s.t.Logf("execution %s %s %s %.300s states %v", x.Name, x.Status, x.Error, x.Cause, x.States())
		}
		jobs, _ := s.ctl.Jobs(ctx)
		for _, j := range jobs {
			s.t.Logf("job %d %s %v runner %v", j.ID, j.Status, j.Conclusion, j.RunnerName)
		}
		s.t.Fatal(err)
	}
	jobs, err := s.ctl.Jobs(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	execs, err := s.Executions(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	if l := s.Leaked(); !l.Empty() {
		s.t.Errorf("leaked %s", l)
	}
	for _, x := range execs {
		if x.Status == "FAILED" && !namedErrors[x.Error] {
			s.t.Errorf("execution %s failed with %q (%s), not a named error", x.Name, x.Error, x.Cause)
		}
	}
	s.noPlaintextJIT(execs)
	return jobs, execs
}

var namedErrors = map[string]bool{
	"ImageNotAllowed": true, "ClassNotFound": true, "ImageBuildFailed": true, "GitHubAuthFailed": true,
	"GitHubUnavailable": true, "GitHubRateLimited": true, "RunnerLaunchFailed": true, "RunnerTimedOut": true,
	"RunnerFailed": true, "ConfigurationInvalid": true, "InvalidInput": true, "AWSThrottled": true,
}

// noPlaintextJIT scans every history event, every Lambda's output, every delivery and
// every task's environment for the JIT configs the runners opened.
func (s *scenario) noPlaintextJIT(execs []Execution) {
	s.t.Helper()
	s.mu.Lock()
	jits := slices.Clone(s.jits)
	s.mu.Unlock()
	var haystack [][]byte
	for _, x := range execs {
		for _, ev := range x.History {
			b, _ := json.Marshal(ev)
			haystack = append(haystack, b)
		}
	}
	haystack = append(haystack, s.logs.Bytes())
	for _, d := range s.GitHub.Deliveries() {
		b, _ := json.Marshal(d)
		haystack = append(haystack, b)
	}
	for _, t := range s.AWS.ECS.Tasks() {
		b, _ := json.Marshal(t)
		haystack = append(haystack, b)
	}
	for _, jit := range jits {
		if len(jit) < 16 {
			s.t.Fatalf("a runner opened a %d-byte JIT config", len(jit))
		}
		for _, h := range haystack {
			if bytes.Contains(h, jit) {
				s.t.Fatalf("a plaintext JIT config appears in: %.300s", h)
			}
		}
	}
}

func jobByID(jobs []JobStatus, id int64) JobStatus {
	for _, j := range jobs {
		if j.ID == id {
			return j
		}
	}
	return JobStatus{}
}

func conclusion(j JobStatus) string {
	if j.Conclusion == nil {
		return ""
	}
	return *j.Conclusion
}

func (x Execution) entered(state string) bool { return slices.Contains(x.States(), state) }

func TestHappyPath(t *testing.T) {
	s := start(t, nil)
	id := s.queue(JobRequest{Repo: "octo-org/api", Labels: []string{"self-hosted", "class:small"}})
	jobs, execs := s.settle()
	if j := jobByID(jobs, id); conclusion(j) != "success" || j.RunnerName == nil {
		t.Fatalf("job %+v", j)
	}
	if len(execs) != 1 || execs[0].Status != "SUCCEEDED" || execs[0].Result == nil || execs[0].Result.Outcome != "job_completed" || !execs[0].Result.JobRan {
		t.Fatalf("executions %+v", execs)
	}
	want := []string{"ResolveImage", "ImageReady?", "BuildImage", "RequestRunner", "Runner", "RunRunner", "WaitForIdleTimeout", "ReapIfIdle", "Cleanup", "Outcome?", "Done"}
	if got := execs[0].States(); !slices.Equal(got, want) {
		t.Fatalf("states %v; want %v", got, want)
	}
}

func TestTwentyJobsOneBuild(t *testing.T) {
	s := start(t, func(o *Options) { o.Concurrency = 4 })
	for i := 0; i < 20; i++ {
		s.queue(JobRequest{Repo: "octo-org/api", Name: fmt.Sprintf("shard-%d", i), Labels: []string{"self-hosted", "image:debian:12", "class:small"}, DurationSeconds: 30})
	}
	jobs, execs := s.settle()
	if n := s.AWS.Calls("codebuild", "StartBuild"); n != 1 {
		t.Fatalf("%d CodeBuild builds for one new image; want exactly 1", n)
	}
	built := 0
	for _, x := range execs {
		if x.entered("BuildImage") {
			built++
		}
	}
	for _, j := range jobs {
		if conclusion(j) != "success" {
			t.Errorf("job %d: %s", j.ID, conclusion(j))
		}
	}
	if len(execs) != 20 || built == 0 {
		t.Fatalf("%d executions, %d waited on the build", len(execs), built)
	}
}

func TestBuildFailure(t *testing.T) {
	s := start(t, func(o *Options) {
		o.FailBuilds = []string{"fedora:40"}
		o.QueueTimeout = 10 * time.Minute // the job never gets a runner; GitHub gives up
	})
	bad := s.queue(JobRequest{Repo: "octo-org/api", Labels: []string{"self-hosted", "image:fedora:40"}})
	good := s.queue(JobRequest{Repo: "octo-org/api", Labels: []string{"self-hosted", "class:small"}})
	jobs, execs := s.settle()
	if c := conclusion(jobByID(jobs, good)); c != "success" {
		t.Errorf("the job that did not need the broken image ended %s", c)
	}
	if c := conclusion(jobByID(jobs, bad)); c != "failure" {
		t.Errorf("the job whose image failed to build ended %s; want failure (queue timeout)", c)
	}
	failed := 0
	for _, x := range execs {
		if x.Status == "FAILED" {
			failed++
			if x.Error != "ImageBuildFailed" || !strings.Contains(x.Cause, "build log: https://") {
				t.Errorf("failed execution: %s %q; want ImageBuildFailed with the build log link", x.Error, x.Cause)
			}
		}
	}
	if failed != 1 {
		t.Fatalf("%d executions failed; want only the one that needed the image", failed)
	}
}

func TestCancelledWhileQueuedReapsAnIdleRunner(t *testing.T) {
	s := start(t, func(o *Options) { o.BootDelay = 3 * time.Second })
	ctx := context.Background()
	labels := []string{"self-hosted", "class:small"}
	busy := s.queue(JobRequest{Repo: "octo-org/api", Name: "long", Labels: labels, DurationSeconds: 600})
	// Wait until the busy job runs, then queue one more and cancel it once its runner
	// is registered but before it boots.
	waitUntil(t, 60*time.Second, func() bool { j, _ := s.ctl.Jobs(ctx); return jobByID(j, busy).Status == "in_progress" })
	victim := s.queue(JobRequest{Repo: "octo-org/api", Name: "cancelled", Labels: labels})
	waitUntil(t, 30*time.Second, func() bool { return len(s.GitHub.Runners("")) == 2 })
	cancelled := time.Now()
	if err := s.ctl.Cancel(ctx, victim); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, func() bool { return len(s.GitHub.Runners("")) == 1 })
	// How fast is for the benchmark; here the JobCancelled stop below proves the webhook
	// reaped it, not the idle timeout.
	t.Logf("the idle runner was reaped %s after the cancellation", time.Since(cancelled).Round(time.Millisecond))
	jobs, execs := s.settle()
	if c := conclusion(jobByID(jobs, busy)); c != "success" {
		t.Errorf("the running job was touched: %s", c)
	}
	aborted := 0
	for _, x := range execs {
		if x.Status == "ABORTED" {
			aborted++
			if x.Error != "JobCancelled" {
				t.Errorf("aborted with %q", x.Error)
			}
		}
	}
	if aborted != 1 {
		t.Fatalf("%d executions stopped by the cancellation; want 1", aborted)
	}
}

func TestStolenRunnerSameRepo(t *testing.T) {
	var mu sync.Mutex
	order := map[string]int{}
	s := start(t, func(o *Options) {
		o.BootDelayFor = func(task *awsfake.Task) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			n := len(order)
			order[task.ARN] = n
			if n == 0 {
				return 4 * time.Second // the first job's runner boots slowly
			}
			return 500 * time.Millisecond
		}
	})
	labels := []string{"self-hosted", "class:small"}
	a := s.queue(JobRequest{Repo: "octo-org/api", Name: "a", Labels: labels})
	waitUntil(t, 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 1 })
	b := s.queue(JobRequest{Repo: "octo-org/api", Name: "b", Labels: labels})
	jobs, execs := s.settle()
	ja, jb := jobByID(jobs, a), jobByID(jobs, b)
	if conclusion(ja) != "success" || conclusion(jb) != "success" {
		t.Fatalf("jobs %+v %+v", ja, jb)
	}
	ownA := fmt.Sprintf("octo-org-api-%d-1", a)
	if ja.RunnerName == nil || *ja.RunnerName == ownA {
		t.Fatalf("job a ran on %v; want the runner started for job b", ja.RunnerName)
	}
	for _, x := range execs {
		if x.Status != "SUCCEEDED" || x.Result == nil || !x.Result.JobRan {
			t.Errorf("execution %s: %s %+v", x.Name, x.Status, x.Result)
		}
	}
}

func TestDuplicatedAndRedeliveredWebhooks(t *testing.T) {
	s := start(t, nil)
	id := s.queue(JobRequest{Repo: "octo-org/api", Labels: []string{"self-hosted", "class:small"}, Duplicate: true})
	waitUntil(t, 30*time.Second, func() bool { return len(s.GitHub.Deliveries()) >= 2 })
	for _, d := range s.GitHub.Deliveries() {
		if d.Action == "queued" && !d.Duplicate {
			if _, err := s.GitHub.Redeliver(d.GUID); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	jobs, execs := s.settle()
	if conclusion(jobByID(jobs, id)) != "success" || len(execs) != 1 {
		t.Fatalf("job %+v, %d executions; want one", jobByID(jobs, id), len(execs))
	}
	queued := 0
	for _, d := range s.GitHub.Deliveries() {
		if d.Action == "queued" {
			queued++
			if d.StatusCode != 202 {
				t.Errorf("queued delivery answered %d", d.StatusCode)
			}
		}
	}
	if queued != 3 {
		t.Fatalf("%d queued deliveries; want original, duplicate and redelivery", queued)
	}
}

func TestGitHubFaultsRecover(t *testing.T) {
	s := start(t, func(o *Options) {
		o.Faults.GitHub5xxRatio = 0.2
		o.Faults.GitHubWritesPerMinute = 4
	})
	// The first JIT config answers a secondary rate limit longer than RequestRunner's
	// (scaled) budget: the workflow waits it out in WaitForGitHub and asks again.
	s.GitHub.ForceResponse("actions/generate-runner-jitconfig-for-repo", githubfake.Forced{Status: http.StatusForbidden, Times: 1,
		Message: "You have exceeded a secondary rate limit.", Header: http.Header{"Retry-After": {"2"}}})
	var ids []int64
	for i := 0; i < 6; i++ {
		ids = append(ids, s.queue(JobRequest{Repo: "octo-org/api", Name: fmt.Sprintf("j%d", i), Labels: []string{"self-hosted", "class:small"}}))
	}
	jobs, execs := s.settle()
	for _, id := range ids {
		if c := conclusion(jobByID(jobs, id)); c != "success" {
			t.Errorf("job %d ended %s", id, c)
		}
	}
	waited := 0
	for _, x := range execs {
		if x.Status != "SUCCEEDED" {
			t.Errorf("execution %s %s %s", x.Name, x.Status, x.Cause)
		}
		if x.entered("WaitForGitHub") {
			waited++
		}
	}
	if waited == 0 {
		t.Error("no execution waited out GitHub's Retry-After in WaitForGitHub")
	}
}

func TestSpotFallsBackToOnDemand(t *testing.T) {
	s := start(t, func(o *Options) { o.Faults.SpotShortage = -1; o.QueueTimeout = 10 * time.Minute })
	id := s.queue(JobRequest{Repo: "octo-org/api", Labels: []string{"self-hosted", "class:medium-spot"}})
	jobs, execs := s.settle()
	if testing.Verbose() {
		for _, ev := range execs[0].History {
			name := ""
			if ev.StateEnteredEventDetails != nil {
				name = *ev.StateEnteredEventDetails.Name
			}
			t.Logf("%s %s %s", ev.Timestamp.Format("15:04:05.000"), ev.Type, name)
		}
	}
	if conclusion(jobByID(jobs, id)) != "success" || len(execs) != 1 || !execs[0].entered("RunRunnerOnDemand") {
		t.Fatalf("job %+v, states %v", jobByID(jobs, id), execs[0].States())
	}
	for _, task := range s.AWS.ECS.Tasks() {
		if task.CapacityProvider != "FARGATE" {
			t.Errorf("task ran on %q; want FARGATE after the Spot shortage", task.CapacityProvider)
		}
	}
}

func TestRunTaskThrottling(t *testing.T) {
	s := start(t, func(o *Options) { o.Faults.ECSThrottleRatio = 0.4 })
	var ids []int64
	for i := 0; i < 4; i++ {
		ids = append(ids, s.queue(JobRequest{Repo: "octo-org/api", Name: fmt.Sprintf("j%d", i), Labels: []string{"self-hosted", "class:small"}}))
	}
	jobs, _ := s.settle()
	for _, id := range ids {
		if c := conclusion(jobByID(jobs, id)); c != "success" {
			t.Errorf("job %d ended %s", id, c)
		}
	}
	if s.AWS.Calls("ecs", "RunTask") <= 4 {
		t.Errorf("RunTask called %d times; the throttle should have forced retries", s.AWS.Calls("ecs", "RunTask"))
	}
}

func TestRunnerCrashMidJob(t *testing.T) {
	s := start(t, nil)
	id := s.queue(JobRequest{Repo: "octo-org/api", Labels: []string{"self-hosted", "class:small"}, Crash: true, DurationSeconds: 200})
	jobs, execs := s.settle()
	if c := conclusion(jobByID(jobs, id)); c != "failure" {
		t.Errorf("crashed job ended %s; want failure", c)
	}
	if len(execs) != 1 || execs[0].Status != "FAILED" || execs[0].Error != "RunnerFailed" || !execs[0].entered("Cleanup") {
		t.Fatalf("execution %s %s %q states %v", execs[0].Name, execs[0].Status, execs[0].Error, execs[0].States())
	}
}

func TestRunnerTTL(t *testing.T) {
	s := start(t, func(o *Options) {
		o.RunnerTTL = 300 * time.Second
		o.IdleTimeout = 150 * time.Second
		o.QueueTimeout = 30 * time.Minute
	})
	id := s.queue(JobRequest{Repo: "octo-org/api", Labels: []string{"self-hosted", "class:small"}, DurationSeconds: 3000})
	jobs, execs := s.settle()
	if len(execs) != 1 || execs[0].Status != "FAILED" || execs[0].Error != "RunnerTimedOut" {
		t.Fatalf("execution %+v", execs)
	}
	if c := conclusion(jobByID(jobs, id)); c != "failure" {
		t.Errorf("job ended %s; want failure (its runner was stopped)", c)
	}
}

func TestOperatorStopLeavesOrphanForTheJanitor(t *testing.T) {
	s := start(t, func(o *Options) { o.JanitorScopes = []string{"repo:octo-org/api"} })
	ctx := context.Background()
	id := s.queue(JobRequest{Repo: "octo-org/api", Labels: []string{"self-hosted", "class:small"}, DurationSeconds: 600})
	waitUntil(t, 60*time.Second, func() bool { j, _ := s.ctl.Jobs(ctx); return jobByID(j, id).Status == "in_progress" })
	execs, err := s.Executions(ctx)
	if err != nil || len(execs) != 1 {
		t.Fatal(execs, err)
	}
	client := sfn.NewFromConfig(s.AWSCfg)
	if _, err := client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: &execs[0].ARN}); err != nil {
		t.Fatal(err)
	}
	// Stopping an execution runs no Cleanup: the registration is left behind.
	waitUntil(t, 30*time.Second, func() bool { j, _ := s.ctl.Jobs(ctx); return jobByID(j, id).Status == "completed" })
	if len(s.GitHub.Runners("")) == 0 {
		t.Fatal("no orphan registration to clean up; the scenario proves nothing")
	}
	out, err := s.InvokeJanitor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Deleted int `json:"registrations_deleted"`
	}
	_ = json.Unmarshal(out, &sum)
	if sum.Deleted != 1 {
		t.Fatalf("janitor summary %s; want one registration deleted", out)
	}
	s.settle()
}

func waitUntil(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
