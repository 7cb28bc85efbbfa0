package githubfake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const testWebhookSecret = "It's a Secret to Everybody"

// received is one delivery as the test receiver saw it.
type received struct {
	header  http.Header
	body    []byte
	payload map[string]any
}

func (r received) action() string { return r.payload["action"].(string) }
func (r received) job() map[string]any {
	return r.payload["workflow_job"].(map[string]any)
}
func (r received) jobID() int64 { return int64(r.job()["id"].(float64)) }

// receiver is a webhook endpoint that recomputes every signature.
type receiver struct {
	srv    *httptest.Server
	secret string

	mu      sync.Mutex
	got     []received
	badSigs []string
	status  int
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	rc := &receiver{secret: secret, status: http.StatusAccepted}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte(rc.secret))
		m.Write(body)
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		if rc.secret == "" {
			want = "" // a hook without a secret: GitHub sends no signature
		}
		var payload map[string]any
		_ = json.Unmarshal(body, &payload)
		rc.mu.Lock()
		if !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(want)) {
			rc.badSigs = append(rc.badSigs, r.Header.Get("X-GitHub-Delivery"))
		}
		if r.Method != http.MethodPost {
			rc.badSigs = append(rc.badSigs, "method "+r.Method)
		}
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body, payload: payload})
		status := rc.status
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	t.Cleanup(func() {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.badSigs) > 0 {
			t.Errorf("deliveries with a wrong signature or method: %v", rc.badSigs)
		}
	})
	return rc
}

// wait returns the deliveries once at least n arrived (failing after 5 s).
func (rc *receiver) wait(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]received(nil), rc.got...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d deliveries, want at least %d", len(got), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// forJob filters deliveries of one job, in arrival order.
func forJob(got []received, id int64) []received {
	var out []received
	for _, r := range got {
		if r.jobID() == id {
			out = append(out, r)
		}
	}
	return out
}

func actionsOf(got []received) []string {
	out := make([]string, len(got))
	for i, r := range got {
		out[i] = r.action()
	}
	return out
}

// newActionsEnv is newEnv with Actions enabled and deliveries going to a receiver.
func newActionsEnv(t *testing.T, mutate func(*ActionsConfig)) (*env, *receiver) {
	t.Helper()
	e := newEnv(t)
	rc := newReceiver(t, testWebhookSecret)
	cfg := ActionsConfig{WebhookURL: rc.srv.URL, WebhookSecret: testWebhookSecret, HookID: 292430182, LostRunnerDelay: 20 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	if err := e.fake.EnableActions(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.fake.CloseActions)
	return e, rc
}

// connect registers a runner in scope and connects a session for it.
func connect(t *testing.T, f *Server, scope, name string, labels ...string) *Session {
	t.Helper()
	_, jit, err := f.RegisterRunner(scope, name, labels)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := f.Connect(jit)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func queue(t *testing.T, f *Server, spec JobSpec) Job {
	t.Helper()
	j, err := f.QueueJob(spec)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func next(t *testing.T, ss *Session) AssignedJob {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	j, err := ss.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return j
}

func webhookFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "fixtures", "github", "webhooks", name))
	if err != nil {
		t.Fatalf("read fixture (shared/ must sit beside the checkout): %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// A job's three deliveries reach the webhook in order, signed over the exact body,
// with GitHub's headers and the payload fields of the fixtures.
func TestDeliveriesSignedAndShaped(t *testing.T) {
	e, rc := newActionsEnv(t, nil)
	f := e.fake
	job := queue(t, f, JobSpec{Repo: "octo-org/octo-repo", Labels: []string{"self-hosted", "linux"}, Name: "test", WorkflowName: "CI", Duration: time.Second})
	ss := connect(t, f, "repo:octo-org/octo-repo", "runner-1", "self-hosted", "linux", "x64")
	aj := next(t, ss)
	if aj.ID != job.ID || aj.Duration != time.Second || aj.Repo != "octo-org/octo-repo" {
		t.Fatalf("assigned %+v, want job %d", aj, job.ID)
	}
	if err := ss.Finish(aj.ID, ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	got := rc.wait(t, 3)
	if a := actionsOf(got); strings.Join(a, ",") != "queued,in_progress,completed" {
		t.Fatalf("actions = %v", a)
	}
	guids := map[string]bool{}
	for _, d := range got {
		h := d.header
		for k, want := range map[string]string{
			"Content-Type": "application/json", "X-GitHub-Event": "workflow_job", "X-GitHub-Hook-ID": "292430182",
			"X-GitHub-Hook-Installation-Target-Type": "integration", "X-GitHub-Hook-Installation-Target-ID": "42",
		} {
			if h.Get(k) != want {
				t.Errorf("%s: %s = %q, want %q", d.action(), k, h.Get(k), want)
			}
		}
		if !strings.HasPrefix(h.Get("User-Agent"), "GitHub-Hookshot/") {
			t.Errorf("User-Agent = %q", h.Get("User-Agent"))
		}
		if g := h.Get("X-GitHub-Delivery"); !uuidRe.MatchString(g) || guids[g] {
			t.Errorf("X-GitHub-Delivery %q is not a fresh UUID", g)
		} else {
			guids[g] = true
		}
		p := d.payload
		repo := p["repository"].(map[string]any)
		if repo["full_name"] != "octo-org/octo-repo" || repo["name"] != "octo-repo" || repo["private"] != true || repo["visibility"] != "private" ||
			repo["owner"].(map[string]any)["login"] != "octo-org" {
			t.Errorf("repository = %v", repo)
		}
		if p["organization"].(map[string]any)["login"] != "octo-org" {
			t.Errorf("organization = %v", p["organization"])
		}
		if p["installation"].(map[string]any)["id"] != float64(testInstall) {
			t.Errorf("installation = %v", p["installation"])
		}
		if p["sender"].(map[string]any)["login"] != "octocat" {
			t.Errorf("sender = %v", p["sender"])
		}
		wj := d.job()
		if wj["id"] != float64(job.ID) || wj["run_id"] != float64(job.RunID) || wj["run_attempt"] != float64(1) ||
			wj["name"] != "test" || wj["workflow_name"] != "CI" || wj["status"] != d.action() {
			t.Errorf("%s workflow_job = %v", d.action(), wj)
		}
		if l, _ := wj["labels"].([]any); len(l) != 2 || l[0] != "self-hosted" || l[1] != "linux" {
			t.Errorf("labels = %v", wj["labels"])
		}
		if _, err := time.Parse(time.RFC3339, wj["created_at"].(string)); err != nil {
			t.Errorf("created_at: %v", err)
		}
	}
	sameKeys(t, "workflow_job", got[0].job(), webhookFixture(t, "workflow_job.queued.0.json")["workflow_job"])
	q, ip, c := got[0].job(), got[1].job(), got[2].job()
	for _, k := range []string{"runner_id", "runner_name", "runner_group_id", "runner_group_name", "conclusion", "completed_at"} {
		if q[k] != nil {
			t.Errorf("queued %s = %v, want null", k, q[k])
		}
	}
	if ip["runner_name"] != "runner-1" || ip["runner_id"] != float64(ss.Runner().ID) || ip["runner_group_name"] != "Default" || ip["conclusion"] != nil {
		t.Errorf("in_progress runner fields = %v %v %v", ip["runner_name"], ip["runner_id"], ip["runner_group_name"])
	}
	if c["conclusion"] != "success" || c["completed_at"] == nil || c["runner_name"] != "runner-1" {
		t.Errorf("completed = %v", c)
	}
	// The ephemeral runner left after its job; the job records its runner and times.
	if _, ok := f.RunnerByID(ss.Runner().ID); ok {
		t.Error("ephemeral runner still registered after Finish")
	}
	if _, err := ss.Next(context.Background()); !errors.Is(err, ErrSessionDone) {
		t.Errorf("Next after the job = %v, want ErrSessionDone", err)
	}
	j, _ := f.JobByID(job.ID)
	if j.Status != JobCompleted || j.Conclusion != ConclusionSuccess || j.RunnerName != "runner-1" || j.StartedAt.IsZero() || j.CompletedAt.IsZero() {
		t.Errorf("job = %+v", j)
	}
	// Recorded for tests and listed on the registered hook's deliveries.
	if err := f.WaitDeliveries(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := f.Deliveries()
	if len(recs) != 3 || recs[0].StatusCode != http.StatusAccepted || recs[0].Action != JobQueued || recs[0].Duration <= 0 || recs[0].JobID != job.ID {
		t.Errorf("records = %+v", recs)
	}
}

// A user-owned repository without an installation: no organization, no installation,
// repository target; a public repository says so.
func TestDeliveryForUserRepository(t *testing.T) {
	e, rc := newActionsEnv(t, nil)
	if err := e.fake.AddInstallation(Installation{ID: 8, AppID: testAppID, Account: "mona", AccountType: "User", Repositories: []string{"other"}}); err != nil {
		t.Fatal(err)
	}
	job := queue(t, e.fake, JobSpec{Repo: "mona/dotfiles", Labels: []string{"linux"}, Public: true})
	d := rc.wait(t, 1)[0]
	if _, ok := d.payload["organization"]; ok {
		t.Error("a user's repository carries organization")
	}
	if _, ok := d.payload["installation"]; ok {
		t.Error("installation present although none covers mona/dotfiles")
	}
	repo := d.payload["repository"].(map[string]any)
	if repo["private"] != false || repo["visibility"] != "public" || repo["owner"].(map[string]any)["type"] != "User" {
		t.Errorf("repository = %v", repo)
	}
	if d.header.Get("X-GitHub-Hook-Installation-Target-Type") != "repository" || d.header.Get("X-GitHub-Hook-Installation-Target-ID") != jsonNumber(repo["id"]) {
		t.Errorf("target = %s %s", d.header.Get("X-GitHub-Hook-Installation-Target-Type"), d.header.Get("X-GitHub-Hook-Installation-Target-ID"))
	}
	if job.Public != true {
		t.Errorf("job.Public = false")
	}
	if _, err := e.fake.QueueJob(JobSpec{Repo: "mona/dotfiles", Labels: []string{"linux"}}); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("a private job on the public repository = %v, want ErrInvalidJob", err)
	}
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// GitHub's rule: online, idle, in the job's scope, labels a superset of the job's
// (case-insensitively); organisation groups do not serve public repositories.
func TestDispatcherLabelRule(t *testing.T) {
	type runner struct {
		scope, name string
		labels      []string
	}
	tests := []struct {
		name    string
		runners []runner
		job     JobSpec
		want    string // runner name, "" for none
	}{
		{"exact labels", []runner{{"octo-org/app", "r1", []string{"self-hosted", "linux"}}},
			JobSpec{Repo: "octo-org/app", Labels: []string{"self-hosted", "linux"}}, "r1"},
		{"runner has more labels", []runner{{"octo-org/app", "r1", []string{"self-hosted", "linux", "x64", "gpu"}}},
			JobSpec{Repo: "octo-org/app", Labels: []string{"linux", "gpu"}}, "r1"},
		{"runner lacks a label", []runner{{"octo-org/app", "r1", []string{"self-hosted", "linux"}}},
			JobSpec{Repo: "octo-org/app", Labels: []string{"self-hosted", "linux", "gpu"}}, ""},
		{"case-insensitive", []runner{{"octo-org/app", "r1", []string{"Self-Hosted", "LINUX"}}},
			JobSpec{Repo: "octo-org/app", Labels: []string{"self-hosted", "Linux"}}, "r1"},
		{"other repository's runner", []runner{{"octo-org/other", "r1", []string{"linux"}}},
			JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}}, ""},
		{"repository names compare case-insensitively", []runner{{"Octo-Org/App", "r1", []string{"linux"}}},
			JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}}, "r1"},
		{"organisation runner serves its repositories", []runner{{"org:octo-org", "r1", []string{"linux"}}},
			JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}}, "r1"},
		{"other organisation's runner", []runner{{"org:other-org", "r1", []string{"linux"}}},
			JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}}, ""},
		{"organisation group refuses a public repository", []runner{{"org:octo-org", "r1", []string{"linux"}}},
			JobSpec{Repo: "octo-org/site", Labels: []string{"linux"}, Public: true}, ""},
		{"repository runner serves its public repository", []runner{{"octo-org/site", "r1", []string{"linux"}}},
			JobSpec{Repo: "octo-org/site", Labels: []string{"linux"}, Public: true}, "r1"},
		{"first matching runner of several", []runner{
			{"octo-org/app", "small", []string{"linux", "small"}},
			{"octo-org/app", "large", []string{"linux", "large"}},
		}, JobSpec{Repo: "octo-org/app", Labels: []string{"linux", "large"}}, "large"},
		{"longest idle runner first", []runner{
			{"octo-org/app", "early", []string{"linux"}},
			{"org:octo-org", "late", []string{"linux"}},
		}, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}}, "early"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newActionsEnv(t, nil)
			for _, r := range tc.runners {
				connect(t, e.fake, r.scope, r.name, r.labels...)
				e.clock.Advance(time.Second) // distinct idle-since times
			}
			j := queue(t, e.fake, tc.job)
			got, _ := e.fake.JobByID(j.ID)
			if got.RunnerName != tc.want {
				t.Errorf("runner = %q, want %q", got.RunnerName, tc.want)
			}
			wantStatus := JobInProgress
			if tc.want == "" {
				wantStatus = JobQueued
			}
			if got.Status != wantStatus {
				t.Errorf("status = %s, want %s", got.Status, wantStatus)
			}
			if tc.want != "" {
				if rn, _ := e.fake.RunnerByID(got.RunnerID); !rn.Busy {
					t.Error("the runner that took the job is not busy")
				}
			}
		})
	}
}

// Jobs are served oldest first, and nothing ties a runner to the job it was started
// for: a runner launched for job B takes the older job A ("stolen"), and B waits for
// the next runner.
func TestDispatcherFIFOAndStolenRunner(t *testing.T) {
	e, rc := newActionsEnv(t, nil)
	f := e.fake
	a := queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Name: "A"})
	b := queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Name: "B"})
	forB := connect(t, f, "octo-org/app", "runner-for-b", "linux")
	if got := next(t, forB); got.ID != a.ID {
		t.Fatalf("runner-for-b took job %d (%s), want the older job A %d", got.ID, got.Name, a.ID)
	}
	if jb, _ := f.JobByID(b.ID); jb.Status != JobQueued {
		t.Fatalf("job B = %s, want queued", jb.Status)
	}
	forA := connect(t, f, "octo-org/app", "runner-for-a", "linux")
	if got := next(t, forA); got.ID != b.ID {
		t.Fatalf("runner-for-a took job %d, want B %d", got.ID, b.ID)
	}
	got := rc.wait(t, 4)
	for _, d := range got {
		if d.action() == JobInProgress && d.jobID() == a.ID && d.job()["runner_name"] != "runner-for-b" {
			t.Errorf("job A's in_progress names %v", d.job()["runner_name"])
		}
	}
	// Both runners are busy: a third job waits for a third runner.
	c := queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Name: "C"})
	if jc, _ := f.JobByID(c.ID); jc.Status != JobQueued {
		t.Errorf("job C went to a busy runner: %+v", jc)
	}
	ss := connect(t, f, "octo-org/app", "third", "linux")
	if got := next(t, ss); got.ID != c.ID {
		t.Fatalf("new runner took %d, want C %d", got.ID, c.ID)
	}
}

func TestCancel(t *testing.T) {
	t.Run("queued", func(t *testing.T) {
		e, rc := newActionsEnv(t, nil)
		j := queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"gpu"}})
		got, err := e.fake.CancelJob(j.ID)
		if err != nil || got.Status != JobCompleted || got.Conclusion != ConclusionCancelled {
			t.Fatalf("CancelJob = %+v, %v", got, err)
		}
		d := rc.wait(t, 2)
		if a := actionsOf(d); a[0] != "queued" || a[1] != "completed" {
			t.Fatalf("actions = %v", a)
		}
		wj := d[1].job()
		if wj["conclusion"] != "cancelled" || wj["runner_name"] != nil || wj["runner_id"] != nil {
			t.Errorf("completed = %v", wj)
		}
		// A runner arriving later finds nothing to take.
		ss := connect(t, e.fake, "octo-org/app", "late", "gpu")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if aj, err := ss.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next = %+v, %v; want nothing to take", aj, err)
		}
		if _, err := e.fake.CancelJob(j.ID); !errors.Is(err, ErrJobCompleted) {
			t.Errorf("second cancel = %v, want ErrJobCompleted", err)
		}
	})
	t.Run("running", func(t *testing.T) {
		e, rc := newActionsEnv(t, nil)
		ss := connect(t, e.fake, "octo-org/app", "r1", "linux")
		j := queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
		aj := next(t, ss)
		if _, err := e.fake.CancelJob(j.ID); err != nil {
			t.Fatal(err)
		}
		select {
		case <-aj.Cancelled:
		case <-time.After(10 * time.Second):
			t.Fatal("the runner was not told to abort")
		}
		// The runner is still busy until it reports: DELETE answers 422.
		del := e.do(t, "DELETE", "/api/v3/repos/octo-org/app/actions/runners/"+jsonNumber(ss.Runner().ID), "token "+testPAT, "")
		if del.status != http.StatusUnprocessableEntity {
			t.Errorf("DELETE while cancelling = %d", del.status)
		}
		if err := ss.Finish(aj.ID, ConclusionCancelled); err != nil {
			t.Fatal(err)
		}
		d := rc.wait(t, 3)
		if err := e.fake.WaitDeliveries(context.Background()); err != nil {
			t.Fatal(err)
		}
		if a := actionsOf(rc.wait(t, 3)); len(a) != 3 || a[2] != "completed" {
			t.Fatalf("actions = %v (one completed only)", a)
		}
		if d[2].job()["conclusion"] != "cancelled" || d[2].job()["runner_name"] != "r1" {
			t.Errorf("completed = %v", d[2].job())
		}
	})
}

func TestQueueTimeout(t *testing.T) {
	t.Run("wall clock, default conclusion", func(t *testing.T) {
		e, rc := newActionsEnv(t, func(c *ActionsConfig) {
			c.QueueTimeout = 40 * time.Millisecond
			c.Now = time.Now
		})
		j := queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"nobody-has-this"}})
		d := rc.wait(t, 2)
		if d[1].action() != "completed" || d[1].job()["conclusion"] != ConclusionFailure || d[1].job()["runner_name"] != nil {
			t.Fatalf("second delivery = %s %v", d[1].action(), d[1].job()["conclusion"])
		}
		got, _ := e.fake.JobByID(j.ID)
		if waited := got.CompletedAt.Sub(got.CreatedAt); waited < 40*time.Millisecond {
			t.Errorf("ended after %s, before the queue timeout", waited)
		}
	})
	t.Run("fake clock, cancelled", func(t *testing.T) {
		e, rc := newActionsEnv(t, func(c *ActionsConfig) {
			c.QueueTimeout = 24 * time.Hour
			c.QueueTimeoutConclusion = ConclusionCancelled
		})
		old := queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"nobody-has-this"}})
		e.clock.Advance(23 * time.Hour)
		young := queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"nobody-has-this"}})
		if n := e.fake.ExpireQueuedJobs(); n != 0 {
			t.Fatalf("expired %d jobs after 23 h", n)
		}
		e.clock.Advance(time.Hour)
		if n := e.fake.ExpireQueuedJobs(); n != 1 {
			t.Fatalf("expired %d jobs after 24 h, want 1", n)
		}
		if got, _ := e.fake.JobByID(old.ID); got.Conclusion != ConclusionCancelled {
			t.Errorf("old job = %s %s", got.Status, got.Conclusion)
		}
		if got, _ := e.fake.JobByID(young.ID); got.Status != JobQueued {
			t.Errorf("young job = %s", got.Status)
		}
		d := rc.wait(t, 3)
		if c := forJob(d, old.ID); len(c) != 2 || c[1].job()["conclusion"] != ConclusionCancelled {
			t.Errorf("old job's deliveries = %v", actionsOf(c))
		}
	})
	if err := New(Config{}).EnableActions(ActionsConfig{WebhookURL: "http://127.0.0.1:1", QueueTimeoutConclusion: "skipped"}); err == nil {
		t.Error("QueueTimeoutConclusion skipped accepted")
	}
	t.Run("a running job is not touched", func(t *testing.T) {
		e, _ := newActionsEnv(t, func(c *ActionsConfig) {
			c.QueueTimeout = 10 * time.Millisecond
			c.Now = time.Now
		})
		ss := connect(t, e.fake, "octo-org/app", "r1", "linux")
		j := queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
		next(t, ss)
		time.Sleep(40 * time.Millisecond)
		if got, _ := e.fake.JobByID(j.ID); got.Status != JobInProgress {
			t.Errorf("running job = %s %s", got.Status, got.Conclusion)
		}
	})
}

// The real runner exits when its registration is deleted; Next must end too.
func TestRunnerDeletedWhileWaiting(t *testing.T) {
	e, _ := newActionsEnv(t, nil)
	ss := connect(t, e.fake, "octo-org/app", "r1", "linux")
	errc := make(chan error, 1)
	go func() {
		_, err := ss.Next(context.Background())
		errc <- err
	}()
	del := e.do(t, "DELETE", "/api/v3/repos/octo-org/app/actions/runners/"+jsonNumber(ss.Runner().ID), "token "+testPAT, "")
	if del.status != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", del.status, del.body)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrRunnerRemoved) {
			t.Errorf("Next = %v, want ErrRunnerRemoved", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next still waiting after the registration was deleted")
	}
	// A job queued now is not given to the deleted runner.
	j := queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
	if got, _ := e.fake.JobByID(j.ID); got.Status != JobQueued {
		t.Errorf("job = %s on %q", got.Status, got.RunnerName)
	}
}

// A runner process that dies mid-job: offline at once, the job fails shortly after.
func TestSessionCloseMidJob(t *testing.T) {
	e, rc := newActionsEnv(t, nil)
	ss := connect(t, e.fake, "octo-org/app", "r1", "linux")
	j := queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
	next(t, ss)
	ss.Close()
	ss.Close() // idempotent
	if rn, _ := e.fake.RunnerByID(ss.Runner().ID); rn.Status != StatusOffline {
		t.Errorf("runner after Close = %s", rn.Status)
	}
	d := rc.wait(t, 3)
	if d[2].action() != "completed" || d[2].job()["conclusion"] != "failure" {
		t.Errorf("completed = %v", d[2].job())
	}
	got, _ := e.fake.JobByID(j.ID)
	if got.Conclusion != ConclusionFailure {
		t.Errorf("job = %+v", got)
	}
	if rn, _ := e.fake.RunnerByID(ss.Runner().ID); rn.Busy {
		t.Error("offline runner still busy after its job failed")
	}
	if _, err := ss.Next(context.Background()); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("Next after Close = %v", err)
	}
	if err := ss.Finish(j.ID, ConclusionSuccess); err == nil {
		t.Error("Finish after Close succeeded")
	}
}

func TestRedeliverAndDuplicate(t *testing.T) {
	e, rc := newActionsEnv(t, nil)
	f := e.fake
	queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, DuplicateQueued: true})
	d := rc.wait(t, 2)
	if d[0].header.Get("X-GitHub-Delivery") != d[1].header.Get("X-GitHub-Delivery") || string(d[0].body) != string(d[1].body) || d[1].action() != "queued" {
		t.Errorf("duplicate differs: %s vs %s", d[0].header.Get("X-GitHub-Delivery"), d[1].header.Get("X-GitHub-Delivery"))
	}
	if err := f.WaitDeliveries(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := d[0].header.Get("X-GitHub-Delivery")
	guid, err := f.Redeliver(first)
	if err != nil {
		t.Fatal(err)
	}
	d = rc.wait(t, 3)
	re := d[2]
	if re.header.Get("X-GitHub-Delivery") != guid || guid == first || string(re.body) != string(d[0].body) ||
		re.header.Get("X-Hub-Signature-256") != d[0].header.Get("X-Hub-Signature-256") {
		t.Errorf("redelivery: guid %s (was %s), same body %v", guid, first, string(re.body) == string(d[0].body))
	}
	if _, err := f.Redeliver("00000000-0000-4000-8000-000000000000"); err == nil {
		t.Error("Redeliver of an unknown delivery succeeded")
	}
	// DuplicateNext applies to the next queued delivery only.
	if err := f.DuplicateNext(1); err != nil {
		t.Fatal(err)
	}
	j2 := queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
	j3 := queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
	all := rc.wait(t, 6)
	if err := f.WaitDeliveries(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n2, n3 := len(forJob(all, j2.ID)), len(forJob(all, j3.ID)); n2 != 2 || n3 != 1 {
		t.Errorf("deliveries for j2, j3 = %d, %d; want 2, 1", n2, n3)
	}
	recs := f.Deliveries()
	var redeliveries, duplicates int
	for _, r := range recs {
		if r.Redelivery {
			redeliveries++
		}
		if r.Duplicate {
			duplicates++
		}
	}
	if redeliveries != 1 || duplicates != 2 {
		t.Errorf("records: %d redeliveries, %d duplicates", redeliveries, duplicates)
	}
}

// A receiver answering 500 is recorded, not retried.
func TestDeliveryNotRetried(t *testing.T) {
	e, rc := newActionsEnv(t, nil)
	rc.mu.Lock()
	rc.status = http.StatusInternalServerError
	rc.mu.Unlock()
	queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
	if err := e.fake.WaitDeliveries(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if got := rc.wait(t, 1); len(got) != 1 {
		t.Errorf("%d attempts, want 1", len(got))
	}
	if recs := e.fake.Deliveries(); len(recs) != 1 || recs[0].StatusCode != 500 {
		t.Errorf("records = %+v", recs)
	}
}

func TestEnableActionsRequiresWebhook(t *testing.T) {
	f := New(Config{})
	if err := f.EnableActions(ActionsConfig{}); err == nil {
		t.Error("EnableActions without WebhookURL succeeded")
	}
	if _, err := f.QueueJob(JobSpec{Repo: "a/b", Labels: []string{"x"}}); !errors.Is(err, ErrActionsDisabled) {
		t.Errorf("QueueJob before EnableActions = %v", err)
	}
	_, jit, _ := f.RegisterRunner("a/b", "r", []string{"x"})
	if _, err := f.Connect(jit); !errors.Is(err, ErrActionsDisabled) {
		t.Errorf("Connect before EnableActions = %v", err)
	}
}

// Many runners and jobs at once: every job runs exactly once, on a runner whose labels
// cover it (run with -race).
func TestDispatcherConcurrent(t *testing.T) {
	e, rc := newActionsEnv(t, nil)
	f := e.fake
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
		}()
		go func() {
			defer wg.Done()
			ss := connect(t, f, "octo-org/app", "r-"+jsonNumber(i), "linux", "x64")
			aj := next(t, ss)
			if err := ss.Finish(aj.ID, ConclusionSuccess); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := rc.wait(t, 3*n)
	seen := map[int64]int{}
	for _, d := range got {
		if d.action() == "in_progress" {
			seen[d.jobID()]++
		}
	}
	if len(seen) != n {
		t.Errorf("%d jobs started, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("job %d started %d times", id, c)
		}
	}
	for _, j := range f.Jobs() {
		if j.Conclusion != ConclusionSuccess {
			t.Errorf("job %d = %s %s", j.ID, j.Status, j.Conclusion)
		}
	}
	if left := f.Runners(""); len(left) != 0 {
		t.Errorf("%d registrations left after their jobs", len(left))
	}
}

// A persistent (non-ephemeral) runner goes idle after each job and takes the next; an
// assignment it never read does not wedge the dispatcher.
func TestPersistentRunnerTakesJobsInTurn(t *testing.T) {
	e, rc := newActionsEnv(t, nil)
	f := e.fake
	ss := connect(t, f, "octo-org/app", "persistent", "linux")
	if err := f.updateRunner(ss.Runner().ID, func(rr *runnerRecord) { rr.Ephemeral = false }); err != nil {
		t.Fatal(err)
	}
	a := queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Name: "A"})
	b := queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Name: "B"})
	c := queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}, Name: "C"})
	if got := next(t, ss); got.ID != a.ID {
		t.Fatalf("first job = %d, want A", got.ID)
	}
	if err := ss.Finish(a.ID, ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	// B is assigned at once; finish it without reading it.
	if jb, _ := f.JobByID(b.ID); jb.Status != JobInProgress || jb.RunnerName != "persistent" {
		t.Fatalf("B = %s on %q", jb.Status, jb.RunnerName)
	}
	if err := ss.Finish(b.ID, ConclusionFailure); err != nil {
		t.Fatal(err)
	}
	if got := next(t, ss); got.ID != c.ID {
		t.Fatalf("third assignment = %d, want C %d", got.ID, c.ID)
	}
	if err := ss.Finish(c.ID, ConclusionSuccess); err != nil {
		t.Fatal(err)
	}
	if rn, ok := f.RunnerByID(ss.Runner().ID); !ok || rn.Busy || rn.Status != StatusOnline {
		t.Errorf("persistent runner after its jobs = %+v, %v", rn, ok)
	}
	rc.wait(t, 9)
	if err := ss.Finish(c.ID, ConclusionSuccess); err == nil {
		t.Error("Finish of a job the runner no longer runs succeeded")
	}
	if err := ss.Finish(c.ID, "skipped"); err == nil {
		t.Error("Finish with conclusion skipped succeeded")
	}
}

// Among eligible runners the one idle longest goes first, whatever its id.
func TestDispatcherPrefersLongestIdle(t *testing.T) {
	e, _ := newActionsEnv(t, nil)
	f := e.fake
	_, jitA, _ := f.RegisterRunner("octo-org/app", "registered-first", []string{"linux"})
	_, jitB, _ := f.RegisterRunner("octo-org/app", "connected-first", []string{"linux"})
	if _, err := f.Connect(jitB); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if _, err := f.Connect(jitA); err != nil {
		t.Fatal(err)
	}
	j := queue(t, f, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
	if got, _ := f.JobByID(j.ID); got.RunnerName != "connected-first" {
		t.Errorf("job went to %q, want the runner idle longest", got.RunnerName)
	}
}

// With HookID naming a hook created through the REST API, the deliveries show in its
// delivery list, as fleetctl doctor reads them; without HookID the header says 1.
func TestDeliveriesListedOnRegisteredHook(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, testWebhookSecret)
	tok := "token " + e.installationToken(t, "")
	a := e.do(t, "POST", "/api/v3/orgs/octo-org/hooks", tok,
		`{"name":"web","events":["workflow_job"],"config":{"url":"`+rc.srv.URL+`","content_type":"json","secret":"`+testWebhookSecret+`"}}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create hook: %d %s", a.status, a.body)
	}
	hookID := int64(a.json(t)["id"].(float64))
	if err := e.fake.EnableActions(ActionsConfig{WebhookURL: rc.srv.URL, WebhookSecret: testWebhookSecret, HookID: hookID}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.fake.CloseActions)
	queue(t, e.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
	d := rc.wait(t, 1)
	if d[0].header.Get("X-GitHub-Hook-ID") != jsonNumber(hookID) {
		t.Errorf("X-GitHub-Hook-ID = %s, want %d", d[0].header.Get("X-GitHub-Hook-ID"), hookID)
	}
	if err := e.fake.WaitDeliveries(t.Context()); err != nil {
		t.Fatal(err)
	}
	a = e.do(t, "GET", "/api/v3/orgs/octo-org/hooks/"+jsonNumber(hookID)+"/deliveries", tok, "")
	var list []map[string]any
	if err := json.Unmarshal(a.body, &list); err != nil || len(list) != 1 {
		t.Fatalf("deliveries: %d %s", a.status, a.body)
	}
	if l := list[0]; l["guid"] != d[0].header.Get("X-GitHub-Delivery") || l["action"] != "queued" || l["event"] != "workflow_job" ||
		l["status_code"] != float64(http.StatusAccepted) || l["installation_id"] != float64(testInstall) {
		t.Errorf("listed delivery = %v", l)
	}

	e2, rc2 := newEnv(t), newReceiver(t, "")
	if err := e2.fake.EnableActions(ActionsConfig{WebhookURL: rc2.srv.URL}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e2.fake.CloseActions)
	queue(t, e2.fake, JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}})
	h := rc2.wait(t, 1)[0].header
	if h.Get("X-GitHub-Hook-ID") != "1" || h.Get("X-Hub-Signature-256") != "" {
		t.Errorf("no HookID, no secret: Hook-ID %q, signature %q", h.Get("X-GitHub-Hook-ID"), h.Get("X-Hub-Signature-256"))
	}
}

// BenchmarkJobLifecycle: one job through queue → dispatch → in_progress → completed,
// with its three signed deliveries answered by a loopback receiver.
func BenchmarkJobLifecycle(b *testing.B) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hook.Close()
	f := New(Config{})
	if err := f.EnableActions(ActionsConfig{WebhookURL: hook.URL, WebhookSecret: testWebhookSecret}); err != nil {
		b.Fatal(err)
	}
	defer f.CloseActions()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, jit, err := f.RegisterRunner("octo-org/app", "bench-"+jsonNumber(i), []string{"self-hosted", "linux"})
		if err != nil {
			b.Fatal(err)
		}
		ss, err := f.Connect(jit)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.QueueJob(JobSpec{Repo: "octo-org/app", Labels: []string{"linux"}}); err != nil {
			b.Fatal(err)
		}
		aj, err := ss.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := ss.Finish(aj.ID, ConclusionSuccess); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.WaitDeliveries(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(f.Deliveries()))/float64(b.N), "deliveries/op")
}
