package fleet

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Job is the execution input: what the webhook learned about one queued workflow job.
// Its JSON form is the document each RunnerFleet execution starts with.
type Job struct {
	JobID        int64      `json:"job_id"`
	RunID        int64      `json:"run_id"`
	RunAttempt   int        `json:"run_attempt"`
	JobName      string     `json:"job_name"`
	WorkflowName string     `json:"workflow_name,omitempty"`
	Repository   Repository `json:"repository"`
	// Organization is the owning organisation's login, empty for a user-owned repository.
	Organization string `json:"organization,omitempty"`
	// InstallationID is the GitHub App installation that sent the delivery, 0 when none.
	InstallationID int64 `json:"installation_id,omitempty"`
	// Labels are the job's runs-on labels exactly as GitHub sent them.
	Labels []string `json:"labels"`
	// ImageRef is the requested base image (the image: label, or the default).
	ImageRef string `json:"image_ref"`
	// Class is the requested size (the class: label, or the default).
	Class      string    `json:"class"`
	DeliveryID string    `json:"delivery_id,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// Repository identifies the repository a job belongs to.
type Repository struct {
	Owner      string `json:"owner"`
	Name       string `json:"name"`
	ID         int64  `json:"id"`
	Visibility string `json:"visibility"`
}

// FullName is "owner/name".
func (r Repository) FullName() string { return r.Owner + "/" + r.Name }

// Validate reports the first missing or malformed field, naming it.
func (j Job) Validate() error {
	var errs []error
	if j.JobID <= 0 {
		errs = append(errs, errors.New("job_id must be a positive integer"))
	}
	if j.RunID <= 0 {
		errs = append(errs, errors.New("run_id must be a positive integer"))
	}
	if j.RunAttempt <= 0 {
		errs = append(errs, errors.New("run_attempt must be a positive integer"))
	}
	if j.Repository.Owner == "" || j.Repository.Name == "" {
		errs = append(errs, errors.New("repository.owner and repository.name are required"))
	}
	if strings.ContainsAny(j.Repository.Owner+j.Repository.Name, "/ \t\n") {
		errs = append(errs, fmt.Errorf("repository %q is malformed", j.Repository.FullName()))
	}
	if len(j.Labels) == 0 {
		errs = append(errs, errors.New("labels must not be empty"))
	}
	if j.ImageRef == "" {
		errs = append(errs, errors.New("image_ref is required (the webhook applies the default image)"))
	}
	if j.Class == "" {
		errs = append(errs, errors.New("class is required (the webhook applies the default class)"))
	}
	return errors.Join(errs...)
}

// ExecutionName is this job's execution (and runner) name.
func (j Job) ExecutionName() string {
	return ExecutionName(j.Repository.Owner, j.Repository.Name, j.JobID, j.RunAttempt)
}
