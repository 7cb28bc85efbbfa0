package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
)

// workflowJobEvent is the part of GitHub's workflow_job payload the fleet reads
// (docs.github.com/webhooks/webhook-events-and-payloads#workflow_job).
type workflowJobEvent struct {
	Action      *string `json:"action"`
	WorkflowJob *struct {
		ID           *int64   `json:"id"`
		RunID        *int64   `json:"run_id"`
		RunAttempt   *int     `json:"run_attempt"`
		Name         string   `json:"name"`
		WorkflowName string   `json:"workflow_name"`
		Labels       []string `json:"labels"`
		RunnerName   *string  `json:"runner_name"`
		Status       string   `json:"status"`
		Conclusion   *string  `json:"conclusion"`
		RunnerID     *int64   `json:"runner_id"`
		StartedAt    string   `json:"started_at"`
		CreatedAt    string   `json:"created_at"`
	} `json:"workflow_job"`
	Repository *struct {
		ID       int64  `json:"id"`
		Name     string `json:"name"`
		FullName string `json:"full_name"`
		Private  *bool  `json:"private"`
		// Visibility is "public", "private" or "internal" (absent on some GHES versions).
		Visibility string `json:"visibility"`
		Owner      *struct {
			Login string `json:"login"`
		} `json:"owner"`
	} `json:"repository"`
	Organization *struct {
		Login string `json:"login"`
	} `json:"organization"`
	Installation *struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

// validate names the first missing field a workflow_job delivery must carry. A queued
// delivery starts a runner, so it must carry everything the execution input needs; the
// other actions only need the job and its repository.
func (e *workflowJobEvent) validate() error {
	switch {
	case e.Action == nil || *e.Action == "":
		return errors.New("missing field: action")
	case e.WorkflowJob == nil:
		return errors.New("missing field: workflow_job")
	case e.WorkflowJob.ID == nil || *e.WorkflowJob.ID <= 0:
		return errors.New("missing or invalid field: workflow_job.id")
	case e.Repository == nil:
		return errors.New("missing field: repository")
	case e.Repository.Name == "":
		return errors.New("missing field: repository.name")
	case e.Repository.Owner == nil || e.Repository.Owner.Login == "":
		return errors.New("missing field: repository.owner.login")
	case *e.Action != "queued":
		return nil
	case e.WorkflowJob.RunID == nil || *e.WorkflowJob.RunID <= 0:
		return errors.New("missing or invalid field: workflow_job.run_id")
	case e.WorkflowJob.RunAttempt == nil || *e.WorkflowJob.RunAttempt <= 0:
		return errors.New("missing or invalid field: workflow_job.run_attempt")
	case e.WorkflowJob.Labels == nil:
		return errors.New("missing field: workflow_job.labels")
	case e.Repository.Private == nil && e.Repository.Visibility == "":
		return errors.New("missing field: repository.private (or repository.visibility)")
	}
	return nil
}

// public reports whether anyone on the internet can open a pull request's workflow run.
func (e *workflowJobEvent) public() bool {
	if e.Repository.Visibility != "" {
		return e.Repository.Visibility == "public"
	}
	return !*e.Repository.Private
}

func (e *workflowJobEvent) visibility() string {
	if e.Repository.Visibility != "" {
		return e.Repository.Visibility
	}
	if *e.Repository.Private {
		return "private"
	}
	return "public"
}

// payloadBytes extracts the JSON document from a delivery body for either content type
// GitHub offers: application/json, or application/x-www-form-urlencoded with a payload field.
func payloadBytes(contentType string, body []byte) ([]byte, error) {
	if contentType == "" {
		return nil, errUnsupportedMedia("missing Content-Type; configure the webhook with application/json")
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, errUnsupportedMedia(fmt.Sprintf("unreadable Content-Type %q", contentType))
	}
	switch mt {
	case "application/json":
		return body, nil
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("form body is not valid url-encoding: %w", err)
		}
		p := form.Get("payload")
		if p == "" {
			return nil, errors.New("form body has no payload field")
		}
		return []byte(p), nil
	}
	return nil, errUnsupportedMedia(fmt.Sprintf("Content-Type %q is not application/json or application/x-www-form-urlencoded", mt))
}

type errUnsupportedMedia string

func (e errUnsupportedMedia) Error() string { return string(e) }

// decodeStrict decodes one JSON value and refuses trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return errors.New("malformed JSON: trailing data after the payload")
	}
	return nil
}
