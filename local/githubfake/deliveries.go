package githubfake

// workflow_job deliveries: built at each transition from the job's state at that
// moment, signed, and sent asynchronously in order per job, never retried (GitHub does
// not retry failed deliveries; docs.github.com/webhooks/using-webhooks/handling-failed-webhook-deliveries).
// Headers follow docs.github.com/webhooks/webhook-events-and-payloads#delivery-headers.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DeliveryRecord is one delivery the fake sent.
type DeliveryRecord struct {
	// GUID is X-GitHub-Delivery. A duplicate (DuplicateNext, JobSpec.DuplicateQueued)
	// repeats its original's GUID; a redelivery has a new one.
	GUID       string
	HookID     int64
	Event      string // "workflow_job"
	Action     string // queued, in_progress, completed
	JobID      int64
	Redelivery bool
	Duplicate  bool
	// Header and Body are exactly what was sent.
	Header http.Header
	Body   []byte
	// StatusCode is the receiver's answer, 0 when the request failed (Error says why).
	StatusCode  int
	Error       string
	Duration    time.Duration
	DeliveredAt time.Time
}

type outgoing struct {
	guid       string
	action     string
	jobID      int64
	repoID     int64
	instID     int64
	redelivery bool
	duplicate  bool
	header     http.Header
	body       []byte
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Sign returns the X-Hub-Signature-256 value for body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func signSHA1(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// transitionLocked builds the delivery for j's action and queues it (twice when dup).
func (s *Server) transitionLocked(a *actions, j *jobRecord, action string, dup bool) {
	if a.stopped {
		return
	}
	body, instID := s.payloadLocked(a, j, action)
	out := &outgoing{guid: newGUID(), action: action, jobID: j.ID, repoID: j.repo.id, instID: instID, body: body}
	out.header = s.deliveryHeaderLocked(a, j, out)
	s.enqueueLocked(a, j, out)
	if dup {
		cp := *out
		cp.duplicate = true
		s.enqueueLocked(a, j, &cp)
	}
}

func (s *Server) deliveryHeaderLocked(a *actions, j *jobRecord, out *outgoing) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/"+a.cfg.HookshotVersion)
	h.Set("X-GitHub-Event", "workflow_job")
	h.Set("X-GitHub-Delivery", out.guid)
	hookID := a.cfg.HookID
	if hookID == 0 {
		hookID = 1 // GitHub never sends 0
	}
	h.Set("X-GitHub-Hook-ID", strconv.FormatInt(hookID, 10))
	typ, id := a.cfg.HookTargetType, a.cfg.HookTargetID
	if typ == "" {
		if in := s.installationForLocked(j.repo); in != nil {
			typ, id = "integration", in.AppID
		} else {
			typ, id = "repository", j.repo.id
		}
	}
	h.Set("X-GitHub-Hook-Installation-Target-Type", typ)
	h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(id, 10))
	if a.cfg.WebhookSecret != "" {
		h.Set("X-Hub-Signature", signSHA1(a.cfg.WebhookSecret, out.body))
		h.Set("X-Hub-Signature-256", Sign(a.cfg.WebhookSecret, out.body))
	}
	return h
}

// installationForLocked is the App installation covering repo, lowest id first.
func (s *Server) installationForLocked(repo *repoRecord) *Installation {
	var best *Installation
	for _, in := range s.installations {
		if in.covers(scopeRef{Owner: repo.owner, Repo: repo.name}) && (best == nil || in.ID < best.ID) {
			best = in
		}
	}
	return best
}

func (s *Server) ownerIDLocked(a *actions, login string) int64 {
	key := strings.ToLower(login)
	id, ok := a.ownerIDs[key]
	if !ok {
		id = s.newID()
		a.ownerIDs[key] = id
	}
	return id
}

func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

func timeOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return timestamp(t)
}

// payloadLocked renders the workflow_job payload of j at this transition
// (fixtures webhooks/workflow_job.*.json) and returns it with the installation id.
func (s *Server) payloadLocked(a *actions, j *jobRecord, action string) ([]byte, int64) {
	r := j.repo
	full := r.fullName()
	web := "https://github.com/" + full
	api := "https://api.github.com/repos/" + full
	org := s.ownerIsOrgLocked(r.owner)
	ownerType := "User"
	if org {
		ownerType = "Organization"
	}
	ownerID := s.ownerIDLocked(a, r.owner)
	visibility := "private"
	if !r.private {
		visibility = "public"
	}
	started := j.StartedAt
	if j.Status == JobQueued || started.IsZero() {
		// GitHub fills started_at with created_at until a runner starts the job.
		started = j.CreatedAt
	}
	var conclusion any
	if j.Status == JobCompleted {
		conclusion = j.Conclusion
	}
	var runnerGroupID any
	if j.RunnerGroupID != 0 {
		runnerGroupID = j.RunnerGroupID
	}
	job := map[string]any{
		"id": j.ID, "run_id": j.RunID, "run_attempt": j.RunAttempt,
		"run_url":  fmt.Sprintf("%s/actions/runs/%d", api, j.RunID),
		"node_id":  fmt.Sprintf("CR_kwDO%08d", j.ID),
		"head_sha": fmt.Sprintf("%040x", j.RunID), "head_branch": "main",
		"url":      fmt.Sprintf("%s/actions/jobs/%d", api, j.ID),
		"html_url": fmt.Sprintf("%s/actions/runs/%d/job/%d", web, j.RunID, j.ID),
		"status":   j.Status, "conclusion": conclusion,
		"created_at": timestamp(j.CreatedAt), "started_at": timestamp(started), "completed_at": timeOrNull(j.CompletedAt),
		"name": j.Name, "workflow_name": j.WorkflowName, "steps": []any{},
		"check_run_url": fmt.Sprintf("%s/check-runs/%d", api, j.ID),
		"labels":        slices.Clone(j.Labels),
		"runner_id":     nullable(j.RunnerID), "runner_name": nullable(j.RunnerName),
		"runner_group_id": runnerGroupID, "runner_group_name": nullable(j.RunnerGroupName),
	}
	owner := map[string]any{
		"login": r.owner, "id": ownerID, "type": ownerType, "site_admin": false,
		"url": "https://api.github.com/users/" + r.owner, "html_url": "https://github.com/" + r.owner,
	}
	payload := map[string]any{
		"action":       action,
		"workflow_job": job,
		"repository": map[string]any{
			"id": r.id, "name": r.name, "full_name": full, "private": r.private, "visibility": visibility,
			"owner": owner, "html_url": web, "url": api, "fork": false, "default_branch": "main",
		},
		"sender": map[string]any{
			"login": a.cfg.Sender, "id": s.ownerIDLocked(a, a.cfg.Sender), "type": "User", "site_admin": false,
		},
	}
	if org {
		payload["organization"] = map[string]any{
			"login": r.owner, "id": ownerID, "url": "https://api.github.com/orgs/" + r.owner,
		}
	}
	var instID int64
	if in := s.installationForLocked(r); in != nil {
		instID = in.ID
		payload["installation"] = map[string]any{"id": in.ID, "node_id": fmt.Sprintf("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u%d", in.ID)}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		panic("githubfake: workflow_job payload does not marshal: " + err.Error())
	}
	return body, instID
}

// enqueueLocked appends a delivery to the job's outbox and starts its sender.
func (s *Server) enqueueLocked(a *actions, j *jobRecord, out *outgoing) {
	j.outbox = append(j.outbox, out)
	if j.sending {
		return
	}
	j.sending = true
	a.inflight++
	a.wg.Add(1)
	go s.drain(a, j)
}

// drain sends j's deliveries one after the other.
func (s *Server) drain(a *actions, j *jobRecord) {
	defer a.wg.Done()
	for {
		s.mu.Lock()
		if len(j.outbox) == 0 {
			j.sending = false
			a.inflight--
			s.mu.Unlock()
			return
		}
		out := j.outbox[0]
		j.outbox = j.outbox[1:]
		s.mu.Unlock()

		rec := s.send(a, out)

		s.mu.Lock()
		a.deliveries = append(a.deliveries, rec)
		s.mu.Unlock()
		if a.cfg.HookID != 0 {
			// Shown by GET .../hooks/{id}/deliveries when HookID is a registered hook.
			_, _ = s.RecordDelivery(a.cfg.HookID, Delivery{
				GUID: rec.GUID, DeliveredAt: rec.DeliveredAt, Redelivery: rec.Redelivery, Duration: rec.Duration,
				StatusCode: rec.StatusCode, Event: rec.Event, Action: rec.Action, InstallationID: out.instID, RepositoryID: out.repoID,
			})
		}
	}
}

func (s *Server) send(a *actions, out *outgoing) DeliveryRecord {
	rec := DeliveryRecord{
		GUID: out.guid, HookID: a.cfg.HookID, Event: "workflow_job", Action: out.action, JobID: out.jobID,
		Redelivery: out.redelivery, Duplicate: out.duplicate, Header: out.header.Clone(), Body: out.body,
		DeliveredAt: a.cfg.Now(),
	}
	start := time.Now()
	req, err := http.NewRequest(http.MethodPost, a.cfg.WebhookURL, bytes.NewReader(out.body))
	if err != nil {
		rec.Error = fmt.Sprintf("cannot build the request to %s: %v", a.cfg.WebhookURL, err)
		return rec
	}
	req.Header = out.header.Clone()
	resp, err := a.client.Do(req)
	rec.Duration = time.Since(start)
	if err != nil {
		rec.Error = err.Error()
		a.log.Warn("webhook delivery failed", "guid", out.guid, "action", out.action, "job_id", out.jobID, "err", err)
		return rec
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	rec.StatusCode = resp.StatusCode
	a.log.Info("webhook delivered", "guid", out.guid, "action", out.action, "job_id", out.jobID,
		"status", resp.StatusCode, "duration", rec.Duration, "redelivery", out.redelivery, "duplicate", out.duplicate)
	return rec
}

// Deliveries returns every delivery sent so far, in the order they completed; nil
// before EnableActions.
func (s *Server) Deliveries() []DeliveryRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.actions == nil {
		return nil
	}
	out := make([]DeliveryRecord, len(s.actions.deliveries))
	for i, d := range s.actions.deliveries {
		d.Header = d.Header.Clone()
		out[i] = d
	}
	return out
}

// Redeliver sends a delivery again as the "Redeliver" button does: the same body and
// signature, a new X-GitHub-Delivery. It returns the new GUID; the result shows in
// Deliveries once sent.
func (s *Server) Redeliver(guid string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.actionsLocked()
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(a.deliveries, func(d DeliveryRecord) bool { return d.GUID == guid })
	if i < 0 {
		return "", fmt.Errorf("githubfake: no delivery %s has been sent (check Deliveries or GET /_local/deliveries)", guid)
	}
	if a.stopped {
		return "", fmt.Errorf("githubfake: Actions are closed; nothing is sent any more")
	}
	d := a.deliveries[i]
	j := a.jobs[d.JobID]
	out := &outgoing{guid: newGUID(), action: d.Action, jobID: d.JobID, repoID: j.repo.id, redelivery: true, body: d.Body, header: d.Header.Clone()}
	out.header.Set("X-GitHub-Delivery", out.guid)
	if in := s.installationForLocked(j.repo); in != nil {
		out.instID = in.ID
	}
	s.enqueueLocked(a, j, out)
	return out.guid, nil
}

// WaitDeliveries blocks until no delivery is waiting to be sent, or ctx ends.
func (s *Server) WaitDeliveries(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		idle := s.actions == nil || s.actions.inflight == 0
		s.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("githubfake: deliveries still in flight: %w", ctx.Err())
		case <-t.C:
		}
	}
}
