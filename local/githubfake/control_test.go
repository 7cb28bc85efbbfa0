package githubfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestControlAPIBeforeEnableIs404(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/_local/jobs", "/_local/runners", "/_local/deliveries"} {
		if a := e.do(t, "GET", path, "", ""); a.status != http.StatusNotFound {
			t.Errorf("GET %s before EnableActions = %d", path, a.status)
		}
	}
}

func TestControlQueueValidation(t *testing.T) {
	e, _ := newActionsEnv(t, nil)
	tests := []struct {
		name, body string
		status     int
		reason     string
	}{
		{"empty body", "", 400, "empty"},
		{"not JSON", "{", 400, "not the expected JSON"},
		{"unknown field", `{"repo":"o/r","labels":["x"],"duration_seconds":1,"lables":["x"]}`, 400, "lables"},
		{"no duration", `{"repo":"o/r","labels":["x"]}`, 400, "duration_seconds is required"},
		{"negative duration", `{"repo":"o/r","labels":["x"],"duration_seconds":-1}`, 400, "between 0 and"},
		{"no repo", `{"labels":["x"],"duration_seconds":1}`, 400, "must be owner/name"},
		{"repo without owner", `{"repo":"octo-repo","labels":["x"],"duration_seconds":1}`, 400, "must be owner/name"},
		{"repo with three parts", `{"repo":"a/b/c","labels":["x"],"duration_seconds":1}`, 400, "must be owner/name"},
		{"no labels", `{"repo":"o/r","duration_seconds":1}`, 400, "at least one runner label"},
		{"blank label", `{"repo":"o/r","labels":[" "],"duration_seconds":1}`, 400, "not blank"},
		{"labels as a string", `{"repo":"o/r","labels":"x","duration_seconds":1}`, 400, "not the expected JSON"},
		{"valid", `{"repo":"octo-org/app","labels":["self-hosted","linux"],"duration_seconds":2.5,"name":"unit"}`, 201, ""},
		{"visibility conflict", `{"repo":"octo-org/app","labels":["x"],"duration_seconds":1,"public":true}`, 400, "already private"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, "POST", "/_local/jobs", "", tc.body)
			if a.status != tc.status {
				t.Fatalf("status = %d %s, want %d", a.status, a.body, tc.status)
			}
			m := a.json(t)
			if tc.status != 201 {
				if msg, _ := m["error"].(string); !strings.Contains(msg, tc.reason) {
					t.Errorf("error = %q, want it to mention %q", msg, tc.reason)
				}
				return
			}
			if m["id"].(float64) <= 0 || m["status"] != "queued" || m["duration_seconds"] != 2.5 || m["name"] != "unit" || m["public"] != false || m["runner_name"] != nil {
				t.Errorf("answer = %v", m)
			}
		})
	}
	if n := len(e.fake.Jobs()); n != 1 {
		t.Errorf("%d jobs queued, want only the valid one", n)
	}
}

func TestControlJobsRunnersCancelDeliveries(t *testing.T) {
	e, rc := newActionsEnv(t, nil)
	ss := connect(t, e.fake, "octo-org/app", "r1", "linux")
	a := e.do(t, "POST", "/_local/jobs", "", `{"repo":"octo-org/app","labels":["linux"],"duration_seconds":1}`)
	running := int64(a.json(t)["id"].(float64))
	a = e.do(t, "POST", "/_local/jobs", "", `{"repo":"octo-org/app","labels":["gpu"],"duration_seconds":1,"duplicate":true}`)
	waiting := int64(a.json(t)["id"].(float64))
	next(t, ss)

	jobs := e.do(t, "GET", "/_local/jobs", "", "").json(t)["jobs"].([]any)
	if len(jobs) != 2 {
		t.Fatalf("jobs = %v", jobs)
	}
	first := jobs[0].(map[string]any)
	if first["status"] != "in_progress" || first["runner_name"] != "r1" || first["started_at"] == nil {
		t.Errorf("first job = %v", first)
	}
	one := e.do(t, "GET", "/_local/jobs/"+strconv.FormatInt(waiting, 10), "", "").json(t)
	if one["status"] != "queued" {
		t.Errorf("GET job = %v", one)
	}
	runners := e.do(t, "GET", "/_local/runners", "", "").json(t)["runners"].([]any)
	r := runners[0].(map[string]any)
	if len(runners) != 1 || r["name"] != "r1" || r["status"] != "online" || r["busy"] != true || r["job_id"] != float64(running) || r["session"] != true {
		t.Errorf("runners = %v", runners)
	}

	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/_local/jobs/" + strconv.FormatInt(waiting, 10) + "/cancel", 200},
		{"/_local/jobs/" + strconv.FormatInt(waiting, 10) + "/cancel", 409},
		{"/_local/jobs/999999/cancel", 404},
		{"/_local/jobs/abc/cancel", 400},
	} {
		if a := e.do(t, "POST", tc.path, "", ""); a.status != tc.status {
			t.Errorf("POST %s = %d %s, want %d", tc.path, a.status, a.body, tc.status)
		}
	}
	got, _ := e.fake.JobByID(waiting)
	if got.Conclusion != ConclusionCancelled {
		t.Errorf("cancelled job = %+v", got)
	}

	rc.wait(t, 5) // running: queued, in_progress; waiting: queued ×2, completed
	if err := e.fake.WaitDeliveries(t.Context()); err != nil {
		t.Fatal(err)
	}
	ds := e.do(t, "GET", "/_local/deliveries", "", "").json(t)["deliveries"].([]any)
	if len(ds) != 5 {
		t.Fatalf("deliveries = %d", len(ds))
	}
	d0 := ds[0].(map[string]any)
	if d0["status_code"] != float64(http.StatusAccepted) || d0["event"] != "workflow_job" || d0["error"] != nil {
		t.Errorf("delivery = %v", d0)
	}
	guid := d0["guid"].(string)
	a = e.do(t, "POST", "/_local/deliveries/"+guid+"/redeliver", "", "")
	if a.status != http.StatusAccepted || a.json(t)["guid"] == guid {
		t.Errorf("redeliver = %d %s", a.status, a.body)
	}
	if a := e.do(t, "POST", "/_local/deliveries/nope/redeliver", "", ""); a.status != http.StatusNotFound {
		t.Errorf("redeliver unknown = %d", a.status)
	}
	rc.wait(t, 6)
	if a := e.do(t, "POST", "/_local/deliveries/duplicate-next", "", `{"count":-1}`); a.status != 400 {
		t.Errorf("duplicate-next -1 = %d", a.status)
	}
	if a := e.do(t, "POST", "/_local/deliveries/duplicate-next", "", `{"count":1}`); a.status != 200 {
		t.Errorf("duplicate-next 1 = %d", a.status)
	}
	e.do(t, "POST", "/_local/jobs", "", `{"repo":"octo-org/app","labels":["gpu"],"duration_seconds":1}`)
	rc.wait(t, 8)
	// The control API is not a GitHub route: it is not counted.
	if n := len(e.fake.Calls()); n != 0 {
		t.Errorf("control calls counted: %v", e.fake.Calls())
	}
}

// FuzzControlQueueJob: whatever a script posts to /_local/jobs, the answer is 201 with
// a queued job or 400 with a reason — never a 5xx or a panic.
func FuzzControlQueueJob(f *testing.F) {
	s := New(Config{})
	if err := s.EnableActions(ActionsConfig{WebhookURL: "http://127.0.0.1:1/unreachable"}); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.CloseActions)
	for _, seed := range []string{
		`{"repo":"octo-org/app","labels":["self-hosted","linux"],"duration_seconds":30}`,
		`{"repo":"octo-org/app","labels":["x"],"duration_seconds":1e308}`,
		`{"repo":"a/b","labels":[""],"duration_seconds":-0}`,
		`{"repo":"octo-org/site","labels":["x"],"duration_seconds":1,"public":true,"crash":true,"duplicate":true}`,
		`[]`, `null`, `{"repo":null}`, "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/_local/jobs", strings.NewReader(body))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer %d is not a JSON object: %q", w.Code, w.Body.String())
		}
		switch w.Code {
		case http.StatusCreated:
			if m["status"] != JobQueued || m["id"] == nil {
				t.Fatalf("201 without a queued job: %v", m)
			}
		case http.StatusBadRequest:
			if msg, _ := m["error"].(string); msg == "" {
				t.Fatalf("400 without a reason: %v", m)
			}
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
	})
}
