package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runnerfleet/fleet/local/fleetlocal"
)

// TestBurstSmoke runs a 20-job burst through RunBurst end to end (make bench-smoke).
// It needs the Node engine and the local bootstraps, so plain go test skips it.
func TestBurstSmoke(t *testing.T) {
	if os.Getenv("BENCH_SMOKE") == "" {
		t.Skip("set BENCH_SMOKE=1 (make bench-smoke) to run a 20-job burst in the local environment")
	}
	root, err := fleetlocal.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	q := DefaultQuotas()
	// Tighten the GitHub limit so it binds for 20 jobs: 12 at once, then 1 a second.
	q.GitHubWrites.Burst, q.GitHubWrites.PerSecond = 12, 1
	res, err := RunBurst(context.Background(), BurstConfig{
		Jobs: 20, TimeScale: 0.05, Quotas: q, Root: root, Bootstraps: filepath.Join(root, "build", "local"),
		Scenario: Scenario{Name: "smoke", GitHub5xx: 0.05, SpotShortage: 2}, Timeout: 4 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.Leaked.Tasks != 0 || res.Leaked.Registrations != 0 {
		t.Errorf("lost %d jobs %+v, leaked %d tasks and %d registrations; want none", res.Lost, res.LostJobs, res.Leaked.Tasks, res.Leaked.Registrations)
	}
	if res.Runners < 20 || len(res.Launches) != res.Runners {
		t.Errorf("%d runners launched (%d launch times) for 20 jobs", res.Runners, len(res.Launches))
	}
	if res.Executions != 20 || res.Builds != 1 {
		t.Errorf("%d executions and %d builds, want 20 and 1", res.Executions, res.Builds)
	}
	// A job's happy path is 10 transitions; build joins and retries add some.
	if res.PerJob.Transitions < 10 || res.PerJob.Transitions > 20 {
		t.Errorf("%.2f transitions per job, want 10..20", res.PerJob.Transitions)
	}
	if res.PerJob.LambdaInvocations < 7 || res.PerJob.KMSRequests < 2 || res.PerJob.GitHubCalls < 1 {
		t.Errorf("per job: %+v; want ≥ 7 invocations (3 webhook + 4 activities), ≥ 2 KMS calls (seal, open), ≥ 1 GitHub call", res.PerJob)
	}
	if res.Minimum <= 0 || res.LaunchSpan < res.Minimum*0.9 {
		t.Errorf("launch span %.1f s vs minimum %.1f s: a burst cannot beat its binding limit", res.LaunchSpan, res.Minimum)
	}
	t.Logf("launch span %.1f s, minimum %.1f s (%s), ratio %.2f, wall %.1f s", res.LaunchSpan, res.Minimum, res.Binding, res.Ratio, res.WallTotal)
}
