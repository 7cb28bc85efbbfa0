package bench

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/runnerfleet/fleet/local/simrunner"
)

func TestAssign(t *testing.T) {
	sets := DefaultLabelSets()
	for _, n := range []int{1, 20, 1000} {
		got := assign(n, sets)
		if len(got) != n {
			t.Fatalf("assign(%d) gave %d jobs", n, len(got))
		}
		count := make([]int, len(sets))
		for _, i := range got {
			count[i]++
		}
		for i, s := range sets {
			want := s.Share * float64(n)
			if d := float64(count[i]) - want; d > 1 || d < -1 {
				t.Errorf("assign(%d): set %q got %d jobs, want %.1f ± 1", n, s.Name, count[i], want)
			}
		}
	}
	// Interleaved: the first twenty jobs already hold the new image and every class.
	first := map[int]bool{}
	for _, i := range assign(1000, sets)[:20] {
		first[i] = true
	}
	if len(first) != len(sets) {
		t.Errorf("the first 20 jobs cover %d of %d label sets; want them interleaved", len(first), len(sets))
	}
}

func TestImageKey(t *testing.T) {
	tests := []struct {
		labels []string
		want   string
	}{
		{[]string{"self-hosted", "class:small"}, "default/false"},
		{[]string{"self-hosted", "class:medium-arm"}, "default/true"},
		{[]string{"self-hosted", "Image:Debian:12", "class:medium"}, "image:debian:12/false"},
	}
	for _, tc := range tests {
		if got := imageKey(tc.labels); got != tc.want {
			t.Errorf("imageKey(%q) = %q, want %q", tc.labels, got, tc.want)
		}
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/runnerfleet/fleet/internal/fleet
cpu: Intel(R) Xeon(R) Processor
BenchmarkDecide/ours/image-class-2         	  714837	       343.4 ns/op	       8 B/op	       1 allocs/op
BenchmarkExecutionName/short-2             	  474932	       466.3 ns/op
PASS
pkg: github.com/runnerfleet/fleet/activities/webhook
BenchmarkVerifyParseDecide-2   	   10000	    105034 ns/op	  20.05 MB/s	   28213 B/op	     212 allocs/op
ok  	github.com/runnerfleet/fleet/internal/fleet	1.891s
`
	got, err := ParseGoBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []GoBenchmark{
		{Package: "github.com/runnerfleet/fleet/internal/fleet", Name: "BenchmarkDecide/ours/image-class", NsPerOp: 343.4, BytesPerOp: 8, AllocsPerOp: 1},
		{Package: "github.com/runnerfleet/fleet/internal/fleet", Name: "BenchmarkExecutionName/short", NsPerOp: 466.3},
		{Package: "github.com/runnerfleet/fleet/activities/webhook", Name: "BenchmarkVerifyParseDecide", NsPerOp: 105034, BytesPerOp: 28213, AllocsPerOp: 212},
	}
	if len(got) != len(want) {
		t.Fatalf("ParseGoBench gave %d benchmarks %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("benchmark %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func sampleReport(t *testing.T) *Report {
	t.Helper()
	r := &Report{Generated: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), Machine: "test", Command: "make bench",
		Quotas: DefaultQuotas(), Prices: DefaultPrices()}
	r.Config.Jobs, r.Config.TimeScale, r.Config.RunnerSize, r.Config.LabelSets = 3, 0.5, TaskSize{VCPU: 2, GB: 4}, DefaultLabelSets()
	r.Config.BuildSeconds, r.Config.Boot = 180, DefaultBootModel()
	b := &BurstResult{Scenario: Scenario{Name: "baseline"}, Jobs: 3, LaunchSpan: 200, Minimum: 180, Ratio: 200.0 / 180,
		Binding: "the new image's build (3m0s)", Bounds: r.Quotas.Bounds(3), Launches: []float64{1, 2, 200}, Runners: 3,
		Conclusions: map[string]int{"success": 3}, Completed: 3,
		PerJob:    Usage{Transitions: 10, LambdaInvocations: 7, LambdaGBSeconds: 0.05, KMSRequests: 2, SecretsManager: 0.05, GitHubCalls: 2},
		Fargate:   NotRunning{Boot: 60, Shutdown: 5, PerJob: 65, Tasks: 3},
		Functions: map[string]FunctionStats{"webhook": {Invocations: 9, MemoryMB: 256}},
		AWSCalls:  map[string]int{"kms.Encrypt": 3, "ecs.DescribeTasks": 999}, GitHubCalls: map[string]int64{"actions/generate-runner-jitconfig-for-repo": 3},
		Longest: []JobWait{{ID: 7, Set: "new image (fedora:41)", Wait: 240, Outcome: "success"}}}
	r.Bursts = []*BurstResult{b}
	if err := r.Price(); err != nil {
		t.Fatal(err)
	}
	r.Findings = Findings(r)
	return r
}

func TestReportRenders(t *testing.T) {
	r := sampleReport(t)
	c := r.Costs[0]
	// 1,000 jobs × 10 transitions × $0.000025 = $0.25.
	if !near(c.ControlPlane.StepFunctions, 0.25) {
		t.Errorf("Step Functions per 1,000 jobs = %v, want 0.25", c.ControlPlane.StepFunctions)
	}
	// 65 s × (2 × 0.04048 + 4 × 0.004445) / 3600 × 1000.
	if want := 65 * (2*0.04048 + 4*0.004445) / 3600 * 1000; !near(c.NotRunning[OnDemandX86], want) {
		t.Errorf("on-demand not-running cost = %v, want %v", c.NotRunning[OnDemandX86], want)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| **ratio** (measured / minimum) | **1.11** |", "| lost jobs | 0 |", "launches.svg",
		"https://aws.amazon.com/step-functions/pricing/", "job 7 (new image (fedora:41)) 240 s", "| AWS kms.Encrypt | 3 | 1.00 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "| AWS ecs.DescribeTasks") {
		t.Error("markdown lists the local engine's DescribeTasks polling as the fleet's calls")
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(&js)
	if err != nil || len(back.Bursts) != 1 || back.Bursts[0].LaunchSpan != 200 || back.Config.Jobs != 3 {
		t.Fatalf("JSON does not round-trip: %v %+v", err, back)
	}
	if err := back.Price(); err != nil || !near(back.Costs[0].ControlPlane.Total, r.Costs[0].ControlPlane.Total) {
		t.Errorf("re-priced report differs: %v %+v vs %+v", err, back.Costs, r.Costs)
	}
	if _, err := ReadReport(strings.NewReader(`{"bursts": []}`)); err == nil {
		t.Error("ReadReport accepted a report without bursts")
	}
}

func TestChartIsWellFormedSVG(t *testing.T) {
	r := sampleReport(t)
	var buf bytes.Buffer
	if err := Chart(&buf, r); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	polylines, texts := 0, []string{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
		if cd, ok := tok.(xml.CharData); ok {
			texts = append(texts, string(cd))
		}
	}
	// One launch line and the binding quota's line.
	if polylines != 2 {
		t.Errorf("chart has %d lines, want 2 (launches, quota)", polylines)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"runners launched: baseline", "new image built", "quota: "} {
		if !strings.Contains(all, want) {
			t.Errorf("chart lacks the label %q; texts: %s", want, all)
		}
	}
}

func TestQuotaSeriesCapsAtJobs(t *testing.T) {
	s := QuotaSeries(Quota{Name: "q", Burst: 10, PerSecond: 5, PerJob: 1}, 20, 10, "black")
	if s.Y[0] != 10 || s.Y[len(s.Y)-1] != 20 {
		t.Errorf("quota line starts at %v and ends at %v, want 10 (the burst) and 20 (the jobs)", s.Y[0], s.Y[len(s.Y)-1])
	}
}

func TestNotRunning(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// At time scale 0.5 a wall second is two production seconds.
	runs := []simrunner.Run{
		// Before the burst: ignored.
		{TaskARN: "warm", RunnerName: "warm", JobID: 1, StartedAt: at(-10), BootedAt: at(-5), JobStartedAt: at(-4), ExitedAt: at(-1)},
		// Boots 30 s, waits 1 s, job ends at 100, task stops at 101 (wall).
		{TaskARN: "a", RunnerName: "ra", JobID: 2, StartedAt: at(0), BootedAt: at(30), JobStartedAt: at(31), ExitedAt: at(100)},
		// Same shape, no stop time recorded by ECS: the exit counts.
		{TaskARN: "b", RunnerName: "rb", JobID: 3, StartedAt: at(0), BootedAt: at(30), JobStartedAt: at(33), ExitedAt: at(100)},
		// Never got a job: reaped at 60.
		{TaskARN: "c", RunnerName: "rc", StartedAt: at(0), BootedAt: at(30), ExitedAt: at(60)},
	}
	stopped := map[string]time.Time{"a": at(101), "c": at(60)}
	completed := map[string]time.Time{"ra": at(100), "rb": at(100)}
	got := notRunning(runs, stopped, completed, t0, 2, 0.5, 5*time.Second)
	want := NotRunning{Boot: 60, Idle: 4, Shutdown: 6, Unused: (120 + 5) / 2.0, Tasks: 3, TasksIdle: 1}
	want.PerJob = (60+4+6)*2/2.0 + want.Unused
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"boot", got.Boot, want.Boot}, {"idle", got.Idle, want.Idle}, {"shutdown", got.Shutdown, want.Shutdown},
		{"unused", got.Unused, want.Unused}, {"per job", got.PerJob, want.PerJob},
	} {
		if !near(f.got, f.want) {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if got.Tasks != want.Tasks || got.TasksIdle != want.TasksIdle {
		t.Errorf("tasks %d (idle %d), want %d (%d)", got.Tasks, got.TasksIdle, want.Tasks, want.TasksIdle)
	}
}

func TestNiceCeil(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{{0, 1}, {1, 1}, {336, 400}, {1000, 1000}, {1001, 1200}, {0.7, 0.8}, {26, 30}} {
		if got := niceCeil(tc.in); !near(got, tc.want) {
			t.Errorf("niceCeil(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
