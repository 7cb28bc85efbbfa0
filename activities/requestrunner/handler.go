package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/internal/ghrunner"
	"github.com/runnerfleet/fleet/internal/seal"
)

// discardTimeout bounds the best-effort delete of a registration whose JIT config could
// not be sealed.
const discardTimeout = 5 * time.Second

// registrar is what RequestRunner asks of GitHub (*ghrunner.Client).
type registrar interface {
	GenerateJITConfig(ctx context.Context, scope ghrunner.Scope, req ghrunner.JITRequest) (ghrunner.JIT, error)
	DeleteRunnerByName(ctx context.Context, scope ghrunner.Scope, name string) error
	DeleteRunner(ctx context.Context, scope ghrunner.Scope, runnerID int64) error
}

// githubSource hands out the GitHub client acting as an installation, built from the
// fleet's secret (*ghrunner.Source); its errors are already named for the workflow.
type githubSource interface {
	Client(ctx context.Context, installation int64) (*ghrunner.Client, error)
}

// Handler is the RequestRunner activity.
type Handler struct {
	cfg     Config
	github  githubSource
	kms     seal.Encrypter
	log     *slog.Logger
	retrier ghrunner.Retrier
	// now and spread are the clock and the random extra wait (0..n) of rate-limit
	// deferrals; tests replace them.
	now    func() time.Time
	spread func(n int) int
}

// NewHandler wires a handler; clients are built once in main.
func NewHandler(cfg Config, github githubSource, kms seal.Encrypter, log *slog.Logger) *Handler {
	return &Handler{cfg: cfg, github: github, kms: kms, log: log, retrier: ghrunner.Retrier{Logger: log}, now: time.Now, spread: rand.IntN}
}

// Handle registers a just-in-time runner named after the execution, with the job's
// labels, and returns it with its JIT config sealed by KMS for this execution. The
// plaintext config exists only inside this call.
func (h *Handler) Handle(ctx context.Context, in fleet.Invocation) (fleet.Runner, error) {
	if err := activity.RequireJob(in); err != nil {
		return fleet.Runner{}, err
	}
	job := in.State.Job
	name := activity.ExecutionName(in.Execution)
	if want := job.ExecutionName(); name != want {
		return fleet.Runner{}, activity.Invalid("execution name %q is not the job's name %q (owner-repo-jobid-attempt); the webhook starts each execution under its job's name", name, want)
	}
	scope, err := h.scope(job)
	if err != nil {
		return fleet.Runner{}, err
	}
	req := ghrunner.JITRequest{Name: name, Labels: job.Labels, RunnerGroupID: h.cfg.RunnerGroupID}
	if err := req.Validate(); err != nil {
		return fleet.Runner{}, activity.Invalid("the job cannot have a runner: %v", err)
	}
	log := h.log.With("execution", name, "job_id", job.JobID, "scope", scope.String())
	gh, err := h.github.Client(ctx, job.InstallationID)
	if err != nil {
		return fleet.Runner{}, err
	}
	jit, err := h.register(ctx, log, gh, scope, req)
	var limited *ghrunner.RateLimitError
	if errors.As(err, &limited) {
		return fleet.Runner{}, h.deferRateLimit(ctx, log, job, err, limited.RetryAfter)
	}
	if err != nil {
		return fleet.Runner{}, githubError(err)
	}
	plain := []byte(jit.EncodedConfig.Reveal())
	sealed, err := seal.Seal(ctx, h.kms, h.cfg.KMSKeyARN, name, plain)
	clear(plain)
	if err != nil {
		h.discard(ctx, log, gh, scope, jit.RunnerID)
		return fleet.Runner{}, h.sealError(err, len(plain), len(job.Labels))
	}
	log.InfoContext(ctx, "runner registered", "runner_id", jit.RunnerID, "runner_name", name, "labels", job.Labels, "sealed_len", len(sealed))
	return fleet.Runner{Name: name, ID: jit.RunnerID, Scope: scope.String(), Labels: job.Labels, SealedJITConfig: sealed}, nil
}

// scope is where the runner registers: the job's repository, or its organisation.
func (h *Handler) scope(job fleet.Job) (ghrunner.Scope, error) {
	sc := ghrunner.RepoScope(job.Repository.Owner, job.Repository.Name)
	if h.cfg.Scope == ScopeOrg {
		if job.Organization == "" {
			return ghrunner.Scope{}, activity.Misconfigured("RUNNER_SCOPE is org but repository %s is owned by a user, not an organisation; serve it with RUNNER_SCOPE=repo, or move the repository into an organisation", job.Repository.FullName())
		}
		sc = ghrunner.OrgScope(job.Organization)
	}
	if err := sc.Validate(); err != nil {
		return ghrunner.Scope{}, activity.Invalid("runner scope: %v", err)
	}
	return sc, nil
}

// register asks GitHub for the JIT config, retrying 5xx and rate limits inside the
// budget. A runner already registered under the name is an earlier attempt of this
// very state whose answer was lost (its config never reached a task): it is deleted
// and the runner registered again, so a retried invocation is idempotent.
func (h *Handler) register(ctx context.Context, log *slog.Logger, gh registrar, scope ghrunner.Scope, req ghrunner.JITRequest) (ghrunner.JIT, error) {
	var jit ghrunner.JIT
	err := h.retrier.Do(ctx, h.cfg.Budget, func(ctx context.Context) error {
		j, err := gh.GenerateJITConfig(ctx, scope, req)
		if errors.Is(err, ghrunner.ErrRunnerExists) {
			log.InfoContext(ctx, "runner name already registered by an earlier attempt; replacing it", "runner_name", req.Name)
			derr := gh.DeleteRunnerByName(ctx, scope, req.Name)
			switch {
			case errors.Is(derr, fleet.ErrRunnerBusy):
				return fmt.Errorf("runner %q is already registered in %s and running a job; it was not started by this execution's runner: %w", req.Name, scope, derr)
			case derr != nil && !errors.Is(derr, fleet.ErrRunnerNotFound):
				return derr
			}
			j, err = gh.GenerateJITConfig(ctx, scope, req)
		}
		jit = j
		return err
	})
	return jit, err
}

// discard deletes a registration whose config will never reach a runner, so it does
// not linger offline until the janitor's sweep. Best effort: a retry replaces it anyway.
func (h *Handler) discard(ctx context.Context, log *slog.Logger, gh registrar, scope ghrunner.Scope, id int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discardTimeout)
	defer cancel()
	if err := gh.DeleteRunner(ctx, scope, id); err != nil && !errors.Is(err, fleet.ErrRunnerNotFound) {
		log.WarnContext(ctx, "could not delete the unsealed runner's registration; the janitor removes it", "runner_id", id, "error", err)
	}
}

// deferRateLimit hands a rate limit that outlasts the budget to the state machine:
// GitHubRetryAfter with GitHub's wait plus up to a tenth more, so jobs limited together
// do not come back together; it is waited in a Wait state, which costs nothing, where an
// invocation would sleep at Lambda prices and hold account concurrency. A job queued
// longer than RateLimitMaxWait by the end of that wait fails with GitHubRateLimited.
func (h *Handler) deferRateLimit(ctx context.Context, log *slog.Logger, job fleet.Job, err error, retryAfter time.Duration) error {
	// Whole seconds, rounded up: a primary-limit reset is a moment, not a count, and
	// coming back a fraction early is coming back limited.
	secs := int((max(retryAfter, time.Second) + time.Second - 1) / time.Second)
	secs += h.spread(secs/10 + 1)
	resume := h.now().Add(time.Duration(secs) * time.Second)
	if !job.ReceivedAt.IsZero() && resume.Sub(job.ReceivedAt) > h.cfg.RateLimitMaxWait {
		return fleet.Errorf(fleet.ErrGitHubRateLimited, "GitHub would still rate-limit this job %s after it was queued, past GITHUB_RATE_LIMIT_MAX_WAIT_SECONDS (%d); spread the load over more GitHub App installations or raise the limit: %w",
			resume.Sub(job.ReceivedAt).Round(time.Second), int(h.cfg.RateLimitMaxWait/time.Second), err)
	}
	log.WarnContext(ctx, "GitHub rate limit outlasts this invocation; the workflow waits and asks again", "retry_after_s", secs, "error", err)
	return fleet.RetryAfter(secs, err)
}

// githubError names a GitHub failure for the state machine.
func githubError(err error) error {
	switch {
	case ghrunner.ErrorName(err) != "":
		return ghrunner.Classify(err)
	case errors.Is(err, context.DeadlineExceeded):
		return fleet.Errorf(fleet.ErrGitHubUnavailable, "register the runner: GitHub did not answer in time: %w", err)
	case fleet.NameOf(err) != "":
		return err
	}
	return fmt.Errorf("register the runner: %w", err)
}

// sealError names a sealing failure: a config too large for the ECS overrides is the
// job's doing, a key KMS refuses is the deployment's, throttling is retried.
func (h *Handler) sealError(err error, plainLen, labels int) error {
	if errors.Is(err, seal.ErrTooLarge) {
		return activity.Invalid("the runner's JIT config (%d bytes for %d labels) does not fit, sealed, in the %d characters the ECS container overrides leave for it; give the job fewer or shorter labels: %v", plainLen, labels, seal.MaxSealedLen, err)
	}
	if activity.IsThrottle(err) {
		return fmt.Errorf("seal the JIT config: %w", err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDeniedException", "NotFoundException", "DisabledException", "KMSInvalidStateException",
			"InvalidKeyUsageException", "KeyUnavailableException", "IncorrectKeyException":
			return activity.Misconfigured("KMS_KEY_ARN %s cannot seal the JIT config (%s): the key must exist, be enabled for ENCRYPT_DECRYPT and allow this function kms:Encrypt and kms:GenerateDataKey: %v", h.cfg.KMSKeyARN, api.ErrorCode(), err)
		}
	}
	return fmt.Errorf("seal the JIT config: %w", err)
}
