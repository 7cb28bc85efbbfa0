package fleetlocal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Control is a client of the fake GitHub's control API (/_local/), the way the demo,
// scripts and the end-to-end suite drive a scenario.
type Control struct {
	Base string // e.g. http://127.0.0.1:40187/_local/
	HTTP *http.Client
}

// Control returns a client of this environment's control API.
func (e *Env) Control() *Control {
	return &Control{Base: e.GitHubURL + "/_local/", HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// JobRequest is POST /_local/jobs.
type JobRequest struct {
	Repo            string   `json:"repo"`
	Labels          []string `json:"labels"`
	DurationSeconds float64  `json:"duration_seconds"`
	Public          bool     `json:"public,omitempty"`
	Name            string   `json:"name,omitempty"`
	Crash           bool     `json:"crash,omitempty"`
	Duplicate       bool     `json:"duplicate,omitempty"`
}

// JobStatus is a job as GET /_local/jobs shows it.
type JobStatus struct {
	ID          int64      `json:"id"`
	Repo        string     `json:"repo"`
	Name        string     `json:"name"`
	Labels      []string   `json:"labels"`
	Status      string     `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	RunnerName  *string    `json:"runner_name"`
	CreatedAt   *time.Time `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

// RunnerStatus is a registration as GET /_local/runners shows it.
type RunnerStatus struct {
	ID     int64    `json:"id"`
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
	Status string   `json:"status"`
	Busy   bool     `json:"busy"`
}

func (c *Control) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// QueueJob queues a job (GitHub sends its queued delivery) and returns its id.
func (c *Control) QueueJob(ctx context.Context, r JobRequest) (int64, error) {
	var out struct {
		ID int64 `json:"id"`
	}
	err := c.do(ctx, http.MethodPost, "jobs", r, &out)
	return out.ID, err
}

// Cancel cancels a job.
func (c *Control) Cancel(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodPost, "jobs/"+strconv.FormatInt(id, 10)+"/cancel", nil, nil)
}

// Jobs lists every job.
func (c *Control) Jobs(ctx context.Context) ([]JobStatus, error) {
	var out struct {
		Jobs []JobStatus `json:"jobs"`
	}
	err := c.do(ctx, http.MethodGet, "jobs", nil, &out)
	return out.Jobs, err
}

// Runners lists the runner registrations.
func (c *Control) Runners(ctx context.Context) ([]RunnerStatus, error) {
	var out struct {
		Runners []RunnerStatus `json:"runners"`
	}
	err := c.do(ctx, http.MethodGet, "runners", nil, &out)
	return out.Runners, err
}
