package githubfake

// The control API under /_local/ on the same server: JSON, no authentication, not
// counted in Calls. It answers 404 like any unknown path until EnableActions is called.
// README.md documents every route.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ControlPath is the prefix of the control API.
const ControlPath = "/_local"

func (s *Server) registerControl() {
	s.controlRoute("POST "+ControlPath+"/jobs", s.ctlQueueJob)
	s.controlRoute("GET "+ControlPath+"/jobs", s.ctlListJobs)
	s.controlRoute("GET "+ControlPath+"/jobs/{id}", s.ctlGetJob)
	s.controlRoute("POST "+ControlPath+"/jobs/{id}/cancel", s.ctlCancelJob)
	s.controlRoute("GET "+ControlPath+"/runners", s.ctlListRunners)
	s.controlRoute("GET "+ControlPath+"/deliveries", s.ctlListDeliveries)
	s.controlRoute("POST "+ControlPath+"/deliveries/{guid}/redeliver", s.ctlRedeliver)
	s.controlRoute("POST "+ControlPath+"/deliveries/duplicate-next", s.ctlDuplicateNext)
}

func (s *Server) controlRoute(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		enabled := s.actions != nil
		s.mu.Unlock()
		if !enabled {
			writeError(w, http.StatusNotFound, "Not Found", docsREST)
			return
		}
		h(w, r)
	})
}

// controlError is the control API's error document.
func controlError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// jobRequest is POST /_local/jobs.
type jobRequest struct {
	Repo            string   `json:"repo"`
	Labels          []string `json:"labels"`
	DurationSeconds *float64 `json:"duration_seconds"`
	Public          bool     `json:"public"`
	Name            string   `json:"name"`
	WorkflowName    string   `json:"workflow_name"`
	Crash           bool     `json:"crash"`
	Duplicate       bool     `json:"duplicate"`
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			controlError(w, http.StatusBadRequest, "the request body is empty; send a JSON object")
			return false
		}
		controlError(w, http.StatusBadRequest, "the request body is not the expected JSON object: %v", err)
		return false
	}
	return true
}

func (s *Server) ctlQueueJob(w http.ResponseWriter, r *http.Request) {
	var req jobRequest
	if !decodeControl(w, r, &req) {
		return
	}
	if req.DurationSeconds == nil {
		controlError(w, http.StatusBadRequest, "duration_seconds is required: how long the job runs once a runner takes it (simulated seconds)")
		return
	}
	d := *req.DurationSeconds
	if d < 0 || d > 5*24*3600 {
		controlError(w, http.StatusBadRequest, "duration_seconds %v must be between 0 and 432000 (GitHub's 5-day job limit)", d)
		return
	}
	job, err := s.QueueJob(JobSpec{
		Repo: req.Repo, Labels: req.Labels, Duration: time.Duration(d * float64(time.Second)), Public: req.Public,
		Name: req.Name, WorkflowName: req.WorkflowName, Crash: req.Crash, DuplicateQueued: req.Duplicate,
	})
	if err != nil {
		controlError(w, http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "githubfake: "))
		return
	}
	writeJSON(w, http.StatusCreated, jobJSON(job))
}

// jobJSON is a job as the control API shows it.
func jobJSON(j Job) map[string]any {
	return map[string]any{
		"id": j.ID, "run_id": j.RunID, "run_attempt": j.RunAttempt, "repo": j.Repo, "public": j.Public,
		"name": j.Name, "workflow_name": j.WorkflowName, "labels": j.Labels,
		"status": j.Status, "conclusion": nullable(j.Conclusion),
		"runner_id": nullable(j.RunnerID), "runner_name": nullable(j.RunnerName),
		"created_at": timeOrNullMilli(j.CreatedAt), "started_at": timeOrNullMilli(j.StartedAt), "completed_at": timeOrNullMilli(j.CompletedAt),
		"duration_seconds": j.Duration.Seconds(), "run_seconds": j.RunTime().Seconds(), "crash": j.Crash,
	}
}

// timeOrNullMilli keeps milliseconds: scaled local runs last seconds.
func timeOrNullMilli(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func (s *Server) ctlListJobs(w http.ResponseWriter, r *http.Request) {
	jobs := s.Jobs()
	list := make([]map[string]any, 0, len(jobs))
	for _, j := range jobs {
		list = append(list, jobJSON(j))
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": list})
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		controlError(w, http.StatusBadRequest, "job id %q is not a positive integer", r.PathValue("id"))
		return 0, false
	}
	return id, true
}

func (s *Server) ctlGetJob(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	j, ok := s.JobByID(id)
	if !ok {
		controlError(w, http.StatusNotFound, "no job %d (GET /_local/jobs lists them)", id)
		return
	}
	writeJSON(w, http.StatusOK, jobJSON(j))
}

func (s *Server) ctlCancelJob(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	j, err := s.CancelJob(id)
	switch {
	case errors.Is(err, ErrUnknownJob):
		controlError(w, http.StatusNotFound, "no job %d (GET /_local/jobs lists them)", id)
	case errors.Is(err, ErrJobCompleted):
		controlError(w, http.StatusConflict, "job %d already completed (%s); only queued or running jobs can be cancelled", id, j.Conclusion)
	case err != nil:
		controlError(w, http.StatusInternalServerError, "%v", err)
	default:
		writeJSON(w, http.StatusOK, jobJSON(j))
	}
}

func (s *Server) ctlListRunners(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.actions
	jobOf := map[int64]int64{}
	connected := map[int64]bool{}
	for id, ss := range a.sessions {
		connected[id] = true
		if ss.job != nil {
			jobOf[id] = ss.job.ID
		}
	}
	s.mu.Unlock()
	runners := s.Runners("")
	list := make([]map[string]any, 0, len(runners))
	for _, rn := range runners {
		list = append(list, map[string]any{
			"id": rn.ID, "name": rn.Name, "scope": rn.Scope, "labels": rn.Labels, "status": rn.Status,
			"busy": rn.Busy, "ephemeral": rn.Ephemeral, "runner_group_id": rn.RunnerGroupID,
			"session": connected[rn.ID], "job_id": nullable(jobOf[rn.ID]),
			"created_at": timeOrNullMilli(rn.CreatedAt),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"runners": list})
}

func (s *Server) ctlListDeliveries(w http.ResponseWriter, r *http.Request) {
	ds := s.Deliveries()
	list := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		list = append(list, map[string]any{
			"guid": d.GUID, "event": d.Event, "action": d.Action, "job_id": d.JobID,
			"redelivery": d.Redelivery, "duplicate": d.Duplicate, "status_code": d.StatusCode,
			"error": nullable(d.Error), "duration_ms": float64(d.Duration.Microseconds()) / 1000,
			"delivered_at": timeOrNullMilli(d.DeliveredAt),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": list})
}

func (s *Server) ctlRedeliver(w http.ResponseWriter, r *http.Request) {
	guid, err := s.Redeliver(r.PathValue("guid"))
	if err != nil {
		controlError(w, http.StatusNotFound, "%s", strings.TrimPrefix(err.Error(), "githubfake: "))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"guid": guid})
}

func (s *Server) ctlDuplicateNext(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Count *int `json:"count"`
	}
	if !decodeControl(w, r, &req) {
		return
	}
	if req.Count == nil || *req.Count < 0 {
		controlError(w, http.StatusBadRequest, "count is required and must be 0 or more: how many of the next queued deliveries to send twice")
		return
	}
	_ = s.DuplicateNext(*req.Count)
	writeJSON(w, http.StatusOK, map[string]any{"count": *req.Count})
}
