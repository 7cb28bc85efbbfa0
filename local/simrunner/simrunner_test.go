package simrunner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/runnerfleet/fleet/internal/seal"
	"github.com/runnerfleet/fleet/local/awsfake"
	"github.com/runnerfleet/fleet/local/githubfake"
	"github.com/runnerfleet/fleet/runner/launch"
)

// world is the two fakes on loopback with simulated runners attached.
type world struct {
	aws    *awsfake.Server
	gh     *githubfake.Server
	ecs    *ecs.Client
	kms    *kms.Client
	keyARN string
	fleet  *Fleet

	mu     sync.Mutex
	opened map[string][]byte // execution → plaintext JIT the runner opened
}

func newWorld(t *testing.T, o Options) *world {
	t.Helper()
	return newWorldWith(t, awsfake.New(awsfake.Options{}), o)
}

func newWorldWith(t *testing.T, awsSrv *awsfake.Server, o Options) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{aws: awsSrv, opened: map[string][]byte{}}
	hs := httptest.NewServer(w.aws)
	t.Cleanup(hs.Close)
	cfg, err := w.aws.AWSConfig(ctx, hs.URL, func(c *aws.Config) { c.Retryer = func() aws.Retryer { return aws.NopRetryer{} } })
	if err != nil {
		t.Fatal(err)
	}
	w.ecs, w.kms = ecs.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	if w.keyARN, err = w.aws.KMS.CreateKey("runner fleet", "alias/runner-fleet"); err != nil {
		t.Fatal(err)
	}
	w.aws.ECS.CreateCluster("runner-fleet")
	if _, err := w.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("runner"), Cpu: aws.String("1024"), Memory: aws.String("2048"),
		NetworkMode: types.NetworkModeAwsvpc, RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("runner"), Image: aws.String("runner-fleet-runner:dev"), Essential: aws.Bool(true),
		}},
	}); err != nil {
		t.Fatal(err)
	}

	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusAccepted) }))
	t.Cleanup(hook.Close)
	w.gh = githubfake.New(githubfake.Config{Seed: 1})
	if err := w.gh.EnableActions(githubfake.ActionsConfig{WebhookURL: hook.URL, WebhookSecret: "s", LostRunnerDelay: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.gh.CloseActions)

	o.OnOpened = func(execution string, jit []byte) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.opened[execution] = jit
	}
	w.fleet = Attach(w.aws, w.gh, w.kms, o)
	t.Cleanup(w.fleet.Close)
	return w
}

// register creates a JIT runner and seals its config for execution, as RequestRunner does.
func (w *world) register(t *testing.T, name, sealFor string) (githubfake.Runner, string, string) {
	t.Helper()
	rn, jit, err := w.gh.RegisterRunner("octo-org/app", name, []string{"self-hosted", "linux", "x64"})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := seal.Seal(context.Background(), w.kms, "alias/runner-fleet", sealFor, []byte(jit))
	if err != nil {
		t.Fatal(err)
	}
	return rn, jit, sealed
}

// runTask starts a runner task with env in the runner container's overrides.
func (w *world) runTask(t *testing.T, env map[string]string) string {
	t.Helper()
	var kv []types.KeyValuePair
	for k, v := range env {
		kv = append(kv, types.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
	}
	out, err := w.ecs.RunTask(context.Background(), &ecs.RunTaskInput{
		Cluster: aws.String("runner-fleet"), TaskDefinition: aws.String("runner"), LaunchType: types.LaunchTypeFargate,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		StartedBy:            aws.String(awsfake.StartedByStepFunctions),
		Overrides:            &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("runner"), Environment: kv}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Tasks[0].TaskArn)
}

func (w *world) stopTask(t *testing.T, arn string) {
	t.Helper()
	if _, err := w.ecs.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("runner-fleet"), Task: aws.String(arn), Reason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (w *world) stopped(t *testing.T, arn string) *awsfake.Task {
	t.Helper()
	var task *awsfake.Task
	waitFor(t, "task "+arn+" to stop", func() bool {
		task, _ = w.aws.ECS.Task(arn)
		return task.LastStatus == awsfake.TaskStopped
	})
	return task
}

func (w *world) jobStatus(t *testing.T, id int64, status string) githubfake.Job {
	t.Helper()
	var j githubfake.Job
	waitFor(t, "job to be "+status, func() bool {
		j, _ = w.gh.JobByID(id)
		return j.Status == status
	})
	return j
}

func TestRunnerLifecycle(t *testing.T) {
	const exec = "octo-app-1-1"
	tests := []struct {
		name string
		// act drives the scenario after the task started; it returns the job, if any.
		act            func(t *testing.T, w *world, arn string, job githubfake.Job)
		jobDuration    time.Duration
		crash          bool
		sealFor        string // default exec
		env            map[string]string
		wantExit       *int // nil: no exit code (stopped before boot)
		wantStopCode   string
		wantConclusion string // "" when the job must stay queued
		wantOutcome    string
		wantOpened     bool
		wantRegistered bool // registration still there afterwards (offline)
	}{
		{
			name: "boot, job, exit 0", jobDuration: 20 * time.Millisecond,
			wantExit: ptr(0), wantStopCode: awsfake.StopCodeEssentialContainerExited, wantConclusion: "success",
			wantOutcome: "job", wantOpened: true,
		},
		{
			name: "StopTask mid-job", jobDuration: time.Hour,
			act: func(t *testing.T, w *world, arn string, job githubfake.Job) {
				w.jobStatus(t, job.ID, githubfake.JobInProgress)
				w.stopTask(t, arn)
			},
			wantExit: ptr(ExitSIGTERM), wantStopCode: awsfake.StopCodeUserInitiated, wantConclusion: "failure",
			wantOutcome: "stopped", wantOpened: true, wantRegistered: true,
		},
		{
			name: "seal of another execution", sealFor: "someone-else-9-1", jobDuration: time.Millisecond,
			wantExit: ptr(launch.ExitSealInvalid), wantStopCode: awsfake.StopCodeEssentialContainerExited,
			wantOutcome: "seal", wantRegistered: true,
		},
		{
			name: "plaintext where the seal belongs", env: map[string]string{launch.EnvExecution: exec, launch.EnvSealedJIT: "not-a-seal"},
			wantExit: ptr(launch.ExitBadEnvironment), wantStopCode: awsfake.StopCodeEssentialContainerExited,
			wantOutcome: "environment", wantRegistered: true,
		},
		{
			name: "crash mid-job", jobDuration: 20 * time.Millisecond, crash: true,
			wantExit: ptr(ExitRunnerError), wantStopCode: awsfake.StopCodeEssentialContainerExited, wantConclusion: "failure",
			wantOutcome: "crashed", wantOpened: true, wantRegistered: true,
		},
		{
			name: "job cancelled while running", jobDuration: time.Hour,
			act: func(t *testing.T, w *world, arn string, job githubfake.Job) {
				w.jobStatus(t, job.ID, githubfake.JobInProgress)
				if _, err := w.gh.CancelJob(job.ID); err != nil {
					t.Fatal(err)
				}
			},
			wantExit: ptr(0), wantStopCode: awsfake.StopCodeEssentialContainerExited, wantConclusion: "cancelled",
			wantOutcome: "job", wantOpened: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Options{BootDelay: 5 * time.Millisecond})
			rn, jit, sealed := w.register(t, "runner-1", or(tc.sealFor, exec))
			job, err := w.gh.QueueJob(githubfake.JobSpec{Repo: "octo-org/app", Labels: []string{"self-hosted", "linux"}, Duration: tc.jobDuration, Crash: tc.crash})
			if err != nil {
				t.Fatal(err)
			}
			env := tc.env
			if env == nil {
				env = map[string]string{launch.EnvExecution: exec, launch.EnvSealedJIT: sealed}
			}
			arn := w.runTask(t, env)
			if tc.act != nil {
				tc.act(t, w, arn, job)
			}
			task := w.stopped(t, arn)
			if got := task.Containers[0].ExitCode; (got == nil) != (tc.wantExit == nil) || (got != nil && *got != *tc.wantExit) {
				t.Errorf("exit code = %v, want %v", deref(got), deref(tc.wantExit))
			}
			if task.StopCode != tc.wantStopCode {
				t.Errorf("stop code = %s, want %s", task.StopCode, tc.wantStopCode)
			}
			if tc.wantConclusion != "" {
				j := w.jobStatus(t, job.ID, githubfake.JobCompleted)
				if j.Conclusion != tc.wantConclusion || j.RunnerName != "runner-1" {
					t.Errorf("job = %s on %q, want %s on runner-1", j.Conclusion, j.RunnerName, tc.wantConclusion)
				}
			} else if j, _ := w.gh.JobByID(job.ID); j.Status != githubfake.JobQueued {
				t.Errorf("job = %s, want it still queued", j.Status)
			}
			if err := w.fleet.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			runs := w.fleet.Runs()
			if len(runs) != 1 || runs[0].Outcome != tc.wantOutcome {
				t.Errorf("runs = %+v, want outcome %s", runs, tc.wantOutcome)
			}
			w.mu.Lock()
			opened, ok := w.opened[exec]
			w.mu.Unlock()
			if ok != tc.wantOpened || (ok && string(opened) != jit) {
				t.Errorf("OnOpened got the JIT config: %v, want %v (and equal to the registration's)", ok, tc.wantOpened)
			}
			got, registered := w.gh.RunnerByID(rn.ID)
			if registered != tc.wantRegistered {
				t.Errorf("registration present = %v, want %v", registered, tc.wantRegistered)
			}
			if registered && got.Status != githubfake.StatusOffline {
				t.Errorf("leftover registration is %s, want offline", got.Status)
			}
			if st := w.fleet.Stats(); st.TasksBooted != 1 || (tc.wantExit != nil && st.ExitCodes[*tc.wantExit] != 1) {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// The runner does not take "its" job: it takes the oldest job its labels cover.
func TestRunnerTakesWhateverJobComes(t *testing.T) {
	w := newWorld(t, Options{BootDelay: time.Millisecond, Scale: 0.001})
	older, _ := w.gh.QueueJob(githubfake.JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Duration: 10 * time.Second, Name: "older"})
	_, _, sealed := w.register(t, "runner-for-newer", "exec-newer")
	newer, _ := w.gh.QueueJob(githubfake.JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Duration: 10 * time.Second, Name: "newer"})
	arn := w.runTask(t, map[string]string{launch.EnvExecution: "exec-newer", launch.EnvSealedJIT: sealed})
	w.stopped(t, arn)
	if j := w.jobStatus(t, older.ID, githubfake.JobCompleted); j.RunnerName != "runner-for-newer" {
		t.Errorf("older job ran on %q", j.RunnerName)
	}
	if j, _ := w.gh.JobByID(newer.ID); j.Status != githubfake.JobQueued {
		t.Errorf("newer job = %s, want queued", j.Status)
	}
	// Scale applied: a 10-second job took about 10 ms.
	if r := w.fleet.Runs()[0]; r.ExitedAt.Sub(r.JobStartedAt) > 2*time.Second {
		t.Errorf("job ran %s; Scale not applied", r.ExitedAt.Sub(r.JobStartedAt))
	}
}

func TestStopWhileIdleOrBooting(t *testing.T) {
	t.Run("idle runner, StopTask", func(t *testing.T) {
		w := newWorld(t, Options{BootDelay: time.Millisecond})
		rn, _, sealed := w.register(t, "idle", "exec-idle")
		arn := w.runTask(t, map[string]string{launch.EnvExecution: "exec-idle", launch.EnvSealedJIT: sealed})
		waitFor(t, "runner online", func() bool { r, _ := w.gh.RunnerByID(rn.ID); return r.Status == githubfake.StatusOnline })
		w.stopTask(t, arn)
		task := w.stopped(t, arn)
		if c := task.Containers[0].ExitCode; c == nil || *c != ExitSIGTERM || task.StopCode != awsfake.StopCodeUserInitiated {
			t.Errorf("exit %v, stop code %s", deref(c), task.StopCode)
		}
		if r, _ := w.gh.RunnerByID(rn.ID); r.Status != githubfake.StatusOffline {
			t.Errorf("runner = %s after its task stopped", r.Status)
		}
		if st := w.fleet.Stats(); st.StoppedByStopTask != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
	t.Run("registration deleted while idle", func(t *testing.T) {
		w := newWorld(t, Options{BootDelay: time.Millisecond})
		rn, _, sealed := w.register(t, "reaped", "exec-reaped")
		arn := w.runTask(t, map[string]string{launch.EnvExecution: "exec-reaped", launch.EnvSealedJIT: sealed})
		waitFor(t, "runner online", func() bool { r, _ := w.gh.RunnerByID(rn.ID); return r.Status == githubfake.StatusOnline })
		if err := w.gh.RemoveRunner(rn.ID); err != nil {
			t.Fatal(err)
		}
		task := w.stopped(t, arn)
		if c := task.Containers[0].ExitCode; c == nil || *c != 0 {
			t.Errorf("exit %v, want 0", deref(c))
		}
		if st := w.fleet.Stats(); st.RegistrationDeleted != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
	t.Run("registration deleted before the runner connected", func(t *testing.T) {
		w := newWorld(t, Options{BootDelay: time.Millisecond})
		rn, _, sealed := w.register(t, "gone", "exec-gone")
		if err := w.gh.RemoveRunner(rn.ID); err != nil {
			t.Fatal(err)
		}
		task := w.stopped(t, w.runTask(t, map[string]string{launch.EnvExecution: "exec-gone", launch.EnvSealedJIT: sealed}))
		if c := task.Containers[0].ExitCode; c == nil || *c != 0 {
			t.Errorf("exit %v, want 0", deref(c))
		}
		if err := w.fleet.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r := w.fleet.Runs()[0]; r.Outcome != "deleted" || r.RunnerName != "" {
			t.Errorf("run = %+v", r)
		}
	})
	t.Run("KMS refuses: disabled key", func(t *testing.T) {
		w := newWorld(t, Options{BootDelay: time.Millisecond})
		_, _, sealed := w.register(t, "nokms", "exec-nokms")
		if err := w.aws.KMS.SetKeyEnabled("alias/runner-fleet", false); err != nil {
			t.Fatal(err)
		}
		task := w.stopped(t, w.runTask(t, map[string]string{launch.EnvExecution: "exec-nokms", launch.EnvSealedJIT: sealed}))
		if c := task.Containers[0].ExitCode; c == nil || *c != launch.ExitKMSUnavailable {
			t.Errorf("exit %v, want %d", deref(c), launch.ExitKMSUnavailable)
		}
		if st := w.fleet.Stats(); st.KMSFailures != 1 || st.SealFailures != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
	t.Run("StopTask while booting", func(t *testing.T) {
		w := newWorld(t, Options{BootDelay: 50 * time.Millisecond})
		rn, _, sealed := w.register(t, "slow", "exec-slow")
		arn := w.runTask(t, map[string]string{launch.EnvExecution: "exec-slow", launch.EnvSealedJIT: sealed})
		w.stopTask(t, arn)
		task := w.stopped(t, arn)
		if task.Containers[0].ExitCode != nil {
			t.Errorf("a task stopped while PROVISIONING has exit code %d", *task.Containers[0].ExitCode)
		}
		if err := w.fleet.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r, _ := w.gh.RunnerByID(rn.ID); r.Connected {
			t.Error("a runner stopped while booting connected")
		}
		if st := w.fleet.Stats(); st.StoppedBeforeBoot != 1 || st.TasksBooted != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
}

// Hooks set before Attach still run, and several tasks at once each get a runner.
func TestChainsHooksAndRunsManyTasks(t *testing.T) {
	aws0 := awsfake.New(awsfake.Options{})
	var mu sync.Mutex
	var seen []string
	aws0.ECS.OnTaskStarted = func(t *awsfake.Task) { mu.Lock(); seen = append(seen, t.ARN); mu.Unlock() }
	ww := newWorldWith(t, aws0, Options{BootDelay: time.Millisecond, Scale: 0.001})
	const n = 8
	var arns []string
	for i := range n {
		exec := "exec-" + string(rune('a'+i))
		_, _, sealed := ww.register(t, "r-"+exec, exec)
		if _, err := ww.gh.QueueJob(githubfake.JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Duration: 5 * time.Second}); err != nil {
			t.Fatal(err)
		}
		arns = append(arns, ww.runTask(t, map[string]string{launch.EnvExecution: exec, launch.EnvSealedJIT: sealed}))
	}
	for _, arn := range arns {
		if task := ww.stopped(t, arn); *task.Containers[0].ExitCode != 0 {
			t.Errorf("task %s exited %d", arn, *task.Containers[0].ExitCode)
		}
	}
	mu.Lock()
	if len(seen) != n {
		t.Errorf("previous OnTaskStarted saw %d tasks, want %d", len(seen), n)
	}
	mu.Unlock()
	if st := ww.fleet.Stats(); st.JobsSucceeded != n || st.TasksBooted != n {
		t.Errorf("stats = %+v", st)
	}
	for _, j := range ww.gh.Jobs() {
		if j.Conclusion != githubfake.ConclusionSuccess {
			t.Errorf("job %d = %s", j.ID, j.Conclusion)
		}
	}
	if left := ww.gh.Runners(""); len(left) != 0 {
		t.Errorf("%d registrations left", len(left))
	}
	ww.mu.Lock()
	for exec, jit := range ww.opened {
		if !strings.HasPrefix(exec, "exec-") || len(jit) == 0 {
			t.Errorf("opened[%s] = %d bytes", exec, len(jit))
		}
	}
	ww.mu.Unlock()
}

func ptr(i int) *int { return &i }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestFilterAndClose(t *testing.T) {
	w := newWorld(t, Options{BootDelay: time.Millisecond, Filter: func(task *awsfake.Task) bool {
		return task.Containers[0].Environment[launch.EnvExecution] != "not-a-runner"
	}})
	other := w.runTask(t, map[string]string{launch.EnvExecution: "not-a-runner"})
	rn, _, sealed := w.register(t, "long", "exec-long")
	if _, err := w.gh.QueueJob(githubfake.JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	arn := w.runTask(t, map[string]string{launch.EnvExecution: "exec-long", launch.EnvSealedJIT: sealed})
	waitFor(t, "the job to start", func() bool { r, _ := w.gh.RunnerByID(rn.ID); return r.Busy })
	w.fleet.Close()
	if n := w.fleet.Active(); n != 0 {
		t.Errorf("%d runners active after Close", n)
	}
	if r, _ := w.gh.RunnerByID(rn.ID); r.Status != githubfake.StatusOffline {
		t.Errorf("runner = %s after Close", r.Status)
	}
	if task, _ := w.aws.ECS.Task(arn); task.LastStatus != awsfake.TaskRunning {
		t.Errorf("Close touched the task: %s", task.LastStatus)
	}
	if task, _ := w.aws.ECS.Task(other); task.LastStatus != awsfake.TaskProvisioning {
		t.Errorf("filtered-out task = %s, want it left PROVISIONING", task.LastStatus)
	}
	if st := w.fleet.Stats(); st.TasksStarted != 1 {
		t.Errorf("stats = %+v", st)
	}
	// Tasks started after Close are ignored.
	late := w.runTask(t, map[string]string{launch.EnvExecution: "exec-late"})
	time.Sleep(10 * time.Millisecond)
	if task, _ := w.aws.ECS.Task(late); task.LastStatus != awsfake.TaskProvisioning {
		t.Errorf("task after Close = %s", task.LastStatus)
	}
}
