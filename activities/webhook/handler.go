package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/internal/history"
)

// MaxBodyBytes is the largest delivery accepted. GitHub caps payloads at 25 MB, but a
// workflow_job delivery is a few KiB; anything over 1 MiB is refused unread.
const MaxBodyBytes = 1 << 20

// refreshMinAge bounds how often a failed signature may refetch the secret.
const refreshMinAge = 30 * time.Second

// Answer statuses, the "status" of every JSON answer.
const (
	StatusStarted        = "started"
	StatusAlreadyStarted = "already_started"
	StatusIgnored        = "ignored"
	StatusOK             = "ok"
	StatusRejected       = "rejected"
	StatusError          = "error"
)

// Request is one delivery as received: method, headers, exact body bytes.
type Request struct {
	Method  string
	Headers http.Header
	Body    []byte
}

// Response is the answer: an HTTP status and a short JSON body.
type Response struct {
	Status int    `json:"-"`
	Body   Answer `json:"-"`
}

// Answer is the JSON body of every response.
type Answer struct {
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	Execution string `json:"execution,omitempty"`
}

// Starter is the Step Functions call every queued job makes.
type Starter interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

// StepFunctions is what the job-started and cancellation paths also need.
type StepFunctions interface {
	Starter
	history.API
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
}

// Tasks is the ECS part: tag the task with the job it took, stop a reaped runner's task.
type Tasks interface {
	TagResource(ctx context.Context, in *ecs.TagResourceInput, optFns ...func(*ecs.Options)) (*ecs.TagResourceOutput, error)
	StopTask(ctx context.Context, in *ecs.StopTaskInput, optFns ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
}

// Runners is the GitHub part of the cancellation path.
type Runners interface {
	ListRunners(ctx context.Context, scope ghrunner.Scope, opts ghrunner.ListOptions) ([]ghrunner.Runner, error)
	DeleteRunner(ctx context.Context, scope ghrunner.Scope, runnerID int64) error
}

// Deps are the handler's clients, built once in main.
type Deps struct {
	Secrets SecretSource
	SFN     StepFunctions
	ECS     Tasks
	// GitHub builds a client from the current secret (credentials rotate).
	GitHub func(ctx context.Context, s credentials.Secret) (Runners, error)
	// Metrics receives CloudWatch embedded-metric-format lines (stdout in Lambda).
	Metrics io.Writer
}

// SecretSource yields the webhook secret, cached, and refetches it on demand.
type SecretSource interface {
	Get(ctx context.Context) (credentials.Secret, error)
	Refresh(ctx context.Context, minAge time.Duration) (credentials.Secret, bool, error)
}

// Handler answers GitHub webhook deliveries.
type Handler struct {
	cfg     Config
	secrets SecretSource
	sfn     Starter
	deps    Deps
	log     *slog.Logger
	now     func() time.Time
}

// NewHandler wires a handler; clients are built once in main.
func NewHandler(cfg Config, deps Deps, log *slog.Logger) *Handler {
	if deps.Metrics == nil {
		deps.Metrics = io.Discard
	}
	return &Handler{cfg: cfg, secrets: deps.Secrets, sfn: deps.SFN, deps: deps, log: log, now: time.Now}
}

func answer(status int, s, reason string) Response {
	return Response{Status: status, Body: Answer{Status: s, Reason: reason}}
}

// Serve applies the answer table of the README to one delivery. Order matters: the
// method and size are checked unread, the signature over the exact bytes before anything
// is parsed, and only then the payload.
func (h *Handler) Serve(ctx context.Context, req Request) Response {
	delivery := req.Headers.Get("X-GitHub-Delivery")
	event := req.Headers.Get("X-GitHub-Event")
	log := h.log.With("delivery_id", delivery, "event", event)
	resp := h.serve(ctx, log, req, event, delivery)
	level := slog.LevelInfo
	if resp.Status >= 500 {
		level = slog.LevelError
	} else if resp.Status >= 400 {
		level = slog.LevelWarn
	}
	log.Log(ctx, level, "webhook answered", "http_status", resp.Status, "status", resp.Body.Status,
		"reason", resp.Body.Reason, "execution", resp.Body.Execution)
	return resp
}

func (h *Handler) serve(ctx context.Context, log *slog.Logger, req Request, event, delivery string) Response {
	if req.Method != http.MethodPost {
		return answer(http.StatusMethodNotAllowed, StatusRejected, "only POST deliveries are accepted")
	}
	if len(req.Body) > MaxBodyBytes {
		return answer(http.StatusRequestEntityTooLarge, StatusRejected, fmt.Sprintf("body is over %d bytes", MaxBodyBytes))
	}
	if resp, ok := h.verify(ctx, log, req); !ok {
		return resp
	}
	switch event {
	case "":
		return answer(http.StatusBadRequest, StatusRejected, "missing X-GitHub-Event header")
	case "ping":
		return answer(http.StatusOK, StatusOK, "pong")
	case "workflow_job":
	default:
		return answer(http.StatusOK, StatusIgnored, fmt.Sprintf("event %q is not one this fleet handles (subscribe to workflow_job only)", event))
	}
	payload, err := payloadBytes(req.Headers.Get("Content-Type"), req.Body)
	if err != nil {
		var um errUnsupportedMedia
		if errors.As(err, &um) {
			return answer(http.StatusUnsupportedMediaType, StatusRejected, err.Error())
		}
		return answer(http.StatusBadRequest, StatusRejected, err.Error())
	}
	var ev workflowJobEvent
	if err := decodeStrict(payload, &ev); err != nil {
		return answer(http.StatusBadRequest, StatusRejected, err.Error())
	}
	if err := ev.validate(); err != nil {
		return answer(http.StatusBadRequest, StatusRejected, err.Error())
	}
	return h.workflowJob(ctx, log, &ev, delivery)
}

// serves applies the repository rules; the reason says why a repository is not served.
func (h *Handler) serves(ev *workflowJobEvent) (string, bool) {
	repo := ev.Repository
	switch {
	case h.cfg.Repositories.Empty():
		return "ALLOWED_REPOSITORIES is empty, so this fleet serves no repository; set it to owner/name, owner/* or *", false
	case !h.cfg.Repositories.Allows(repo.Owner.Login, repo.Name):
		return fmt.Sprintf("repository %s/%s is not in ALLOWED_REPOSITORIES", repo.Owner.Login, repo.Name), false
	case ev.public() && !h.cfg.AllowPublic:
		return fmt.Sprintf("repository %s/%s is public and ALLOW_PUBLIC_REPOSITORIES is false: anyone's pull request could run code on these runners", repo.Owner.Login, repo.Name), false
	}
	return "", true
}

// verify checks X-Hub-Signature-256 over the exact bytes, refetching the secret once if
// it does not match (the secret may have been rotated).
func (h *Handler) verify(ctx context.Context, log *slog.Logger, req Request) (Response, bool) {
	sig, err := parseSignature(req.Headers.Get("X-Hub-Signature-256"))
	if err != nil {
		return answer(http.StatusUnauthorized, StatusRejected, err.Error()), false
	}
	sec, err := h.secrets.Get(ctx)
	if err != nil {
		return h.secretFailure(ctx, log, err), false
	}
	if err := sec.ValidateWebhook(); err != nil {
		log.ErrorContext(ctx, "webhook secret not configured", "error", err)
		return answer(http.StatusInternalServerError, StatusError, "webhook secret is not configured; nothing is accepted unsigned"), false
	}
	if signatureMatches(sec.WebhookSecret, req.Body, sig) {
		return Response{}, true
	}
	sec, fetched, err := h.secrets.Refresh(ctx, refreshMinAge)
	if err != nil {
		return h.secretFailure(ctx, log, err), false
	}
	if fetched && sec.ValidateWebhook() == nil && signatureMatches(sec.WebhookSecret, req.Body, sig) {
		log.InfoContext(ctx, "webhook secret was rotated; using the new one")
		return Response{}, true
	}
	return answer(http.StatusUnauthorized, StatusRejected, "X-Hub-Signature-256 does not match the body; check the webhook secret"), false
}

func (h *Handler) secretFailure(ctx context.Context, log *slog.Logger, err error) Response {
	if errors.Is(err, credentials.ErrNotConfigured) {
		log.ErrorContext(ctx, "webhook secret not configured", "error", err)
		return answer(http.StatusInternalServerError, StatusError, "webhook secret is not configured; nothing is accepted unsigned")
	}
	log.ErrorContext(ctx, "reading the webhook secret failed", "error", err)
	return answer(http.StatusBadGateway, StatusError, "could not read the webhook secret from Secrets Manager; redeliver later")
}

// parseSignature reads "sha256=<64 hex>"; SHA-1 (X-Hub-Signature) is never consulted.
func parseSignature(header string) ([]byte, error) {
	if header == "" {
		return nil, errors.New("missing X-Hub-Signature-256 header; set a webhook secret in GitHub")
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return nil, errors.New("X-Hub-Signature-256 must start with sha256=")
	}
	if len(hexSig) != 2*sha256.Size {
		return nil, errors.New("X-Hub-Signature-256 is not a SHA-256 hex digest")
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil {
		return nil, errors.New("X-Hub-Signature-256 is not a SHA-256 hex digest")
	}
	return sig, nil
}

func signatureMatches(secret string, body, sig []byte) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), sig)
}

// Sign computes the X-Hub-Signature-256 header GitHub would send for body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (h *Handler) workflowJob(ctx context.Context, log *slog.Logger, ev *workflowJobEvent, delivery string) Response {
	wj, repo := ev.WorkflowJob, ev.Repository
	log = log.With("action", *ev.Action, "job_id", *wj.ID, "repository", repo.Owner.Login+"/"+repo.Name)
	switch *ev.Action {
	case "queued":
	case "in_progress":
		return h.jobStarted(ctx, log, ev)
	case "completed":
		return h.jobCompleted(ctx, log, ev)
	default:
		return answer(http.StatusOK, StatusIgnored, fmt.Sprintf("workflow_job action %q needs nothing from this fleet", *ev.Action))
	}
	if reason, ok := h.serves(ev); !ok {
		return answer(http.StatusOK, StatusIgnored, reason)
	}
	want, err := fleet.Decide(wj.Labels, h.cfg.Labels)
	if err != nil {
		return answer(http.StatusOK, StatusIgnored, "not ours: "+err.Error())
	}
	job := fleet.Job{
		JobID:        *wj.ID,
		RunID:        *wj.RunID,
		RunAttempt:   *wj.RunAttempt,
		JobName:      wj.Name,
		WorkflowName: wj.WorkflowName,
		Repository: fleet.Repository{
			Owner: repo.Owner.Login, Name: repo.Name, ID: repo.ID, Visibility: ev.visibility(),
		},
		Labels:     wj.Labels,
		ImageRef:   want.ImageRef,
		Class:      want.Class,
		DeliveryID: delivery,
		ReceivedAt: h.now().UTC(),
	}
	if ev.Organization != nil {
		job.Organization = ev.Organization.Login
	}
	if ev.Installation != nil {
		job.InstallationID = ev.Installation.ID
	}
	if err := job.Validate(); err != nil {
		return answer(http.StatusBadRequest, StatusRejected, err.Error())
	}
	input, err := json.Marshal(job)
	if err != nil {
		return answer(http.StatusInternalServerError, StatusError, "could not encode the execution input")
	}
	name := job.ExecutionName()
	log = log.With("execution", name)
	_, err = h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: &h.cfg.StateMachineARN,
		Name:            &name,
		Input:           new(string(input)),
	})
	var exists *sfntypes.ExecutionAlreadyExists
	switch {
	case err == nil:
		r := answer(http.StatusAccepted, StatusStarted, "runner requested")
		r.Body.Execution = name
		return r
	case errors.As(err, &exists):
		// The name is derived from the job alone, so it exists only if this job was
		// already handled: a redelivery or a duplicate.
		r := answer(http.StatusAccepted, StatusAlreadyStarted, "an execution for this job already exists")
		r.Body.Execution = name
		return r
	}
	log.ErrorContext(ctx, "StartExecution failed", "error", err)
	return answer(http.StatusBadGateway, StatusError, "could not start the runner workflow (Step Functions failed); redeliver from GitHub once it recovers")
}
