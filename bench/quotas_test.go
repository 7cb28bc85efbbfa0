package bench

import (
	"testing"
	"time"
)

func TestQuotaMinimum(t *testing.T) {
	tests := []struct {
		name string
		q    Quota
		n    int
		want time.Duration
	}{
		{name: "within the burst", q: Quota{Burst: 100, PerSecond: 20, PerJob: 1}, n: 100, want: 0},
		{name: "past the burst", q: Quota{Burst: 100, PerSecond: 20, PerJob: 1}, n: 1000, want: 45 * time.Second},
		{name: "five tokens a job", q: Quota{Burst: 5000, PerSecond: 1500, PerJob: 5}, n: 1600, want: 2 * time.Second},
		{name: "GitHub writes as a bucket", q: Quota{Burst: 180, PerSecond: 3, PerJob: 1}, n: 1000, want: 273333333333},
		{name: "GitHub writes in a sliding window", q: Quota{Burst: 180, PerSecond: 3, Window: time.Minute, PerJob: 1}, n: 1000, want: 5 * time.Minute},
		{name: "exactly one window's worth", q: Quota{Burst: 180, PerSecond: 3, Window: time.Minute, PerJob: 1}, n: 360, want: time.Minute},
		{name: "within the window", q: Quota{Burst: 180, PerSecond: 3, Window: time.Minute, PerJob: 1}, n: 180, want: 0},
		{name: "no tokens needed", q: Quota{Burst: 0, PerSecond: 1, PerJob: 0}, n: 1000, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.q.Minimum(tc.n); got != tc.want {
				t.Errorf("%+v.Minimum(%d) = %v, want %v", tc.q, tc.n, got, tc.want)
			}
		})
	}
}

func TestTheoreticalMinimum(t *testing.T) {
	q := DefaultQuotas()
	got, b := q.TheoreticalMinimum(1000, 0)
	if b.Quota.ID != q.GitHubWrites.ID {
		t.Errorf("binding quota for 1000 jobs = %s, want the GitHub write limit", b.Quota.ID)
	}
	if want := q.GitHubWrites.Minimum(1000); got != want {
		t.Errorf("TheoreticalMinimum(1000) = %v, want %v", got, want)
	}
	// A build longer than every quota's bound is the floor.
	if got, _ := q.TheoreticalMinimum(10, 3*time.Minute); got != 3*time.Minute {
		t.Errorf("TheoreticalMinimum(10, 3m) = %v, want the 3m floor", got)
	}
	bounds := q.Bounds(1000)
	for i := 1; i < len(bounds); i++ {
		if bounds[i].Minimum > bounds[i-1].Minimum {
			t.Errorf("Bounds not sorted: %v before %v", bounds[i-1].Minimum, bounds[i].Minimum)
		}
	}
}

func TestQuotasValidate(t *testing.T) {
	if err := DefaultQuotas().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := DefaultQuotas()
	bad.RunTask.PerSecond = 0
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted a RunTask rate of 0")
	}
	bad = DefaultQuotas()
	bad.LambdaConcurrency = 0
	if err := bad.Validate(); err == nil {
		t.Error("Validate accepted a Lambda concurrency of 0")
	}
}

func TestQuotaAllowed(t *testing.T) {
	bucket := Quota{Burst: 100, PerSecond: 20}
	window := Quota{Burst: 180, PerSecond: 3, Window: time.Minute}
	tests := []struct {
		q    Quota
		t    time.Duration
		want float64
	}{
		{bucket, 0, 100}, {bucket, 10 * time.Second, 300},
		{window, 0, 180}, {window, 59 * time.Second, 180}, {window, time.Minute, 360},
	}
	for _, tc := range tests {
		if got := tc.q.Allowed(tc.t); got != tc.want {
			t.Errorf("%+v.Allowed(%v) = %v, want %v", tc.q, tc.t, got, tc.want)
		}
	}
}

func TestLambdaBound(t *testing.T) {
	// 1,000 concurrent executions, 250 ms of function time per job: 4,000 jobs a second.
	q := LambdaBound(1000, 0.25)
	if q.PerSecond != 4000 {
		t.Errorf("rate = %v, want 4000", q.PerSecond)
	}
	if got := q.Minimum(1000); got != 250*time.Millisecond {
		t.Errorf("Minimum(1000) = %v, want 250ms", got)
	}
	if err := q.Validate(); err != nil {
		t.Error(err)
	}
}
