package githubfake

// GitHub Actions jobs: a queue per repository, the job lifecycle (queued → in_progress
// → completed), cancellation and the queue timeout. EnableActions switches it on; the
// dispatcher (dispatcher.go) gives queued jobs to runner sessions, deliveries.go sends
// the workflow_job webhooks, control.go serves /_local/.

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Job statuses and conclusions as the workflow_job payload spells them.
const (
	JobQueued     = "queued"
	JobInProgress = "in_progress"
	JobCompleted  = "completed"

	ConclusionSuccess   = "success"
	ConclusionFailure   = "failure"
	ConclusionCancelled = "cancelled"
)

// Defaults of ActionsConfig.
const (
	// DefaultQueueTimeout is GitHub's limit on how long a job for self-hosted runners
	// may wait for one (docs.github.com/actions/reference/usage-limits-for-self-hosted-runners).
	DefaultQueueTimeout = 24 * time.Hour
	// DefaultLostRunnerDelay is how long after its runner vanished a running job fails.
	DefaultLostRunnerDelay = 2 * time.Second
	// DefaultHookshotVersion is the suffix of the User-Agent deliveries carry.
	DefaultHookshotVersion = "044aadd"
)

// ActionsConfig switches on the Actions side of the fake: jobs, the dispatcher and
// workflow_job deliveries.
type ActionsConfig struct {
	// WebhookURL receives every workflow_job delivery (required).
	WebhookURL string
	// WebhookSecret signs deliveries (X-Hub-Signature-256). Empty sends them unsigned,
	// as GitHub does for a hook without a secret.
	WebhookSecret string
	// HookID goes in X-GitHub-Hook-ID (1 when 0). When it names a hook registered
	// through the REST API, the deliveries also appear in that hook's delivery list.
	HookID int64
	// HookTargetType and HookTargetID go in X-GitHub-Hook-Installation-Target-Type/-ID.
	// Default: "integration" and the App id when an App installation covers the
	// repository (an App webhook, the fleet's setup), else "repository" and its id.
	HookTargetType string
	HookTargetID   int64
	// QueueTimeout ends a job that waited this long for a runner; default
	// DefaultQueueTimeout (GitHub's 24 hours; scale it down locally).
	QueueTimeout time.Duration
	// QueueTimeoutConclusion is the conclusion of a job the queue timeout ended:
	// ConclusionFailure (default; GitHub's page says such a job "fails to complete")
	// or ConclusionCancelled (the same page says it "will be canceled").
	QueueTimeoutConclusion string
	// LostRunnerDelay is how long after its runner's session ended without finishing
	// (Session.Close, the registration removed) a running job completes as failure;
	// default DefaultLostRunnerDelay. GitHub waits for the runner's heartbeat to lapse.
	LostRunnerDelay time.Duration
	// Now tells the time of job timestamps and the queue timeout; default the
	// server's Config.Clock.
	Now func() time.Time
	// HTTPClient sends deliveries; default a client with GitHub's 10-second timeout.
	HTTPClient *http.Client
	// Sender is the login deliveries name as sender; default "octocat".
	Sender string
	// HookshotVersion is the User-Agent suffix; default DefaultHookshotVersion.
	HookshotVersion string
	// Logger receives one line per transition and per delivery; nil uses the
	// server's logger. Payloads and secrets are never logged.
	Logger *slog.Logger
}

// Errors of the Actions side.
var (
	ErrActionsDisabled = errors.New("githubfake: Actions are not enabled; call EnableActions first")
	ErrInvalidJob      = errors.New("githubfake: invalid job")
	ErrUnknownJob      = errors.New("githubfake: no such job")
	ErrJobCompleted    = errors.New("githubfake: job already completed")
)

// JobSpec describes a job to queue (QueueJob, POST /_local/jobs).
type JobSpec struct {
	// Repo is "owner/name". A repository is created on its first job, private unless
	// Public; later jobs must agree on its visibility.
	Repo   string
	Labels []string
	// Duration is how long the job runs on a runner, in simulated time (the simulated
	// runner scales it).
	Duration time.Duration
	Public   bool
	// Name and WorkflowName default to "build" and "CI".
	Name         string
	WorkflowName string
	// Crash makes the simulated runner die half-way through the job.
	Crash bool
	// DuplicateQueued sends the queued delivery twice, the copy with the same
	// X-GitHub-Delivery (an at-least-once duplicate).
	DuplicateQueued bool
}

// Job is a snapshot of one workflow job.
type Job struct {
	ID           int64
	RunID        int64
	RunAttempt   int
	Repo         string // owner/name
	RepoID       int64
	Public       bool
	Name         string
	WorkflowName string
	Labels       []string
	Status       string
	Conclusion   string // "" until completed
	// Runner fields are set once a runner took the job.
	RunnerID        int64
	RunnerName      string
	RunnerGroupID   int64
	RunnerGroupName string
	CreatedAt       time.Time
	StartedAt       time.Time
	CompletedAt     time.Time
	Duration        time.Duration
	Crash           bool
}

// RunTime is how long the job ran on its runner (0 until it completed after starting).
func (j Job) RunTime() time.Duration {
	if j.StartedAt.IsZero() || j.CompletedAt.IsZero() {
		return 0
	}
	return j.CompletedAt.Sub(j.StartedAt)
}

type repoRecord struct {
	id      int64
	owner   string
	name    string
	private bool
}

func (r *repoRecord) fullName() string { return r.owner + "/" + r.name }

type jobRecord struct {
	Job
	repo    *repoRecord
	session *Session      // the runner's session while it runs the job
	abort   chan struct{} // closed when the job is cancelled while it runs
	outbox  []*outgoing   // deliveries waiting to be sent, in order
	sending bool
}

func (j *jobRecord) snapshot() Job {
	out := j.Job
	out.Labels = slices.Clone(out.Labels)
	return out
}

// actions is the Actions state; every field is guarded by Server.mu.
type actions struct {
	cfg    ActionsConfig
	log    *slog.Logger
	client *http.Client

	repos      map[string]*repoRecord // lower-cased full name
	ownerIDs   map[string]int64       // lower-cased login
	jobs       map[int64]*jobRecord
	order      []*jobRecord // every job, creation order
	queue      []*jobRecord // queued jobs, FIFO
	sessions   map[int64]*Session
	deliveries []DeliveryRecord
	dupNext    int
	inflight   int // job outboxes being drained

	stop    chan struct{}
	wg      sync.WaitGroup
	stopped bool
}

// EnableActions switches on jobs, the dispatcher, deliveries and the /_local/ control
// API. Before it is called the server behaves as a plain REST fake. It starts the
// queue-timeout sweeper; CloseActions stops it.
func (s *Server) EnableActions(cfg ActionsConfig) error {
	if cfg.WebhookURL == "" {
		return errors.New("githubfake: ActionsConfig.WebhookURL is empty; give the webhook endpoint deliveries go to")
	}
	if cfg.QueueTimeout <= 0 {
		cfg.QueueTimeout = DefaultQueueTimeout
	}
	switch cfg.QueueTimeoutConclusion {
	case "":
		cfg.QueueTimeoutConclusion = ConclusionFailure
	case ConclusionFailure, ConclusionCancelled:
	default:
		return fmt.Errorf("githubfake: QueueTimeoutConclusion %q: want %q or %q", cfg.QueueTimeoutConclusion, ConclusionFailure, ConclusionCancelled)
	}
	if cfg.LostRunnerDelay <= 0 {
		cfg.LostRunnerDelay = DefaultLostRunnerDelay
	}
	if cfg.Now == nil {
		cfg.Now = s.cfg.Clock
	}
	if cfg.HTTPClient == nil {
		// Deliveries of many jobs go out in parallel: keep their connections.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	if cfg.Sender == "" {
		cfg.Sender = "octocat"
	}
	if cfg.HookshotVersion == "" {
		cfg.HookshotVersion = DefaultHookshotVersion
	}
	log := cfg.Logger
	if log == nil {
		log = s.log
	}
	a := &actions{
		cfg: cfg, log: log, client: cfg.HTTPClient,
		repos: map[string]*repoRecord{}, ownerIDs: map[string]int64{},
		jobs: map[int64]*jobRecord{}, sessions: map[int64]*Session{},
		stop: make(chan struct{}),
	}
	s.mu.Lock()
	if s.actions != nil {
		s.mu.Unlock()
		return errors.New("githubfake: EnableActions was already called")
	}
	s.actions = a
	s.mu.Unlock()

	tick := min(max(cfg.QueueTimeout/20, 5*time.Millisecond), time.Second)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-t.C:
				s.ExpireQueuedJobs()
			}
		}
	}()
	return nil
}

// CloseActions stops the queue-timeout sweeper and waits for deliveries in flight.
// Jobs and deliveries stay readable; nothing new is sent.
func (s *Server) CloseActions() {
	s.mu.Lock()
	a := s.actions
	if a == nil || a.stopped {
		s.mu.Unlock()
		return
	}
	a.stopped = true
	close(a.stop)
	s.mu.Unlock()
	a.wg.Wait()
}

// actionsLocked returns the Actions state; callers hold s.mu.
func (s *Server) actionsLocked() (*actions, error) {
	if s.actions == nil {
		return nil, ErrActionsDisabled
	}
	return s.actions, nil
}

var (
	repoNameRe  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	maxJobLabel = 256
)

// validate checks a spec and fills its defaults.
func (spec *JobSpec) validate() error {
	var problems []string
	if !repoNameRe.MatchString(spec.Repo) || strings.HasSuffix(spec.Repo, "/.") || strings.HasSuffix(spec.Repo, "/..") {
		problems = append(problems, fmt.Sprintf("repo %q must be owner/name (letters, digits and hyphens for the owner; letters, digits, '.', '-' and '_' for the name)", spec.Repo))
	}
	if len(spec.Labels) == 0 {
		problems = append(problems, "labels must name at least one runner label, e.g. [\"self-hosted\", \"linux\"]")
	} else if len(spec.Labels) > 100 {
		problems = append(problems, fmt.Sprintf("labels has %d items, at most 100 are allowed", len(spec.Labels)))
	}
	for _, l := range spec.Labels {
		if strings.TrimSpace(l) == "" || len(l) > maxJobLabel {
			problems = append(problems, fmt.Sprintf("label %q must be 1 to %d characters and not blank", l, maxJobLabel))
		}
	}
	if spec.Duration < 0 {
		problems = append(problems, fmt.Sprintf("duration %s must not be negative", spec.Duration))
	}
	if len(spec.Name) > 256 || len(spec.WorkflowName) > 256 {
		problems = append(problems, "name and workflow_name must be at most 256 characters")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidJob, strings.Join(problems, "; "))
	}
	if spec.Name == "" {
		spec.Name = "build"
	}
	if spec.WorkflowName == "" {
		spec.WorkflowName = "CI"
	}
	return nil
}

// QueueJob queues a job, sends its queued delivery and runs the dispatcher.
func (s *Server) QueueJob(spec JobSpec) (Job, error) {
	if err := spec.validate(); err != nil {
		return Job{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.actionsLocked()
	if err != nil {
		return Job{}, err
	}
	owner, name, _ := strings.Cut(spec.Repo, "/")
	key := strings.ToLower(spec.Repo)
	repo := a.repos[key]
	switch {
	case repo == nil:
		repo = &repoRecord{id: s.newID(), owner: owner, name: name, private: !spec.Public}
		a.repos[key] = repo
	case repo.private == spec.Public:
		vis := "private"
		if !repo.private {
			vis = "public"
		}
		return Job{}, fmt.Errorf("%w: repository %s is already %s; send the same \"public\" for all its jobs", ErrInvalidJob, repo.fullName(), vis)
	}
	now := a.cfg.Now()
	j := &jobRecord{
		Job: Job{
			ID: s.newID(), RunID: s.newID(), RunAttempt: 1,
			Repo: repo.fullName(), RepoID: repo.id, Public: !repo.private,
			Name: spec.Name, WorkflowName: spec.WorkflowName, Labels: slices.Clone(spec.Labels),
			Status: JobQueued, CreatedAt: now, Duration: spec.Duration, Crash: spec.Crash,
		},
		repo:  repo,
		abort: make(chan struct{}),
	}
	a.jobs[j.ID] = j
	a.order = append(a.order, j)
	a.queue = append(a.queue, j)
	a.log.Info("job queued", "job_id", j.ID, "repo", j.Repo, "labels", j.Labels)
	dup := spec.DuplicateQueued
	if !dup && a.dupNext > 0 {
		a.dupNext--
		dup = true
	}
	s.transitionLocked(a, j, JobQueued, dup)
	s.dispatchLocked(a)
	return j.snapshot(), nil
}

// CancelJob cancels a job as "Cancel workflow" does. A queued job completes at once as
// cancelled, without a runner. A running job completes as cancelled and its runner's
// AssignedJob.Cancelled is closed; the runner stays busy until its session finishes
// (Finish) or ends (Close).
func (s *Server) CancelJob(id int64) (Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.actionsLocked()
	if err != nil {
		return Job{}, err
	}
	j := a.jobs[id]
	if j == nil {
		return Job{}, fmt.Errorf("job %d: %w", id, ErrUnknownJob)
	}
	if j.Status == JobCompleted {
		return j.snapshot(), fmt.Errorf("job %d (%s): %w", id, j.Conclusion, ErrJobCompleted)
	}
	wasRunning := j.Status == JobInProgress
	s.completeLocked(a, j, ConclusionCancelled)
	if wasRunning {
		close(j.abort)
	}
	return j.snapshot(), nil
}

// ExpireQueuedJobs completes every job queued for QueueTimeout or longer with
// QueueTimeoutConclusion and returns how many it ended. The sweeper started by
// EnableActions calls it; tests with a fake Now may call it directly.
func (s *Server) ExpireQueuedJobs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.actionsLocked()
	if err != nil {
		return 0
	}
	now := a.cfg.Now()
	var expired []*jobRecord
	for _, j := range a.queue {
		if now.Sub(j.CreatedAt) >= a.cfg.QueueTimeout {
			expired = append(expired, j)
		}
	}
	for _, j := range expired {
		a.log.Info("job queue timeout", "job_id", j.ID, "repo", j.Repo, "queued_for", now.Sub(j.CreatedAt))
		s.completeLocked(a, j, a.cfg.QueueTimeoutConclusion)
	}
	return len(expired)
}

// completeLocked ends a job with conclusion and sends its completed delivery.
func (s *Server) completeLocked(a *actions, j *jobRecord, conclusion string) {
	if j.Status == JobCompleted {
		return
	}
	if j.Status == JobQueued {
		a.queue = slices.DeleteFunc(a.queue, func(q *jobRecord) bool { return q == j })
	}
	j.Status, j.Conclusion, j.CompletedAt = JobCompleted, conclusion, a.cfg.Now()
	a.log.Info("job completed", "job_id", j.ID, "repo", j.Repo, "conclusion", conclusion, "runner", j.RunnerName)
	s.transitionLocked(a, j, JobCompleted, false)
}

// Jobs returns every job, oldest first; nil before EnableActions.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.actions == nil {
		return nil
	}
	out := make([]Job, 0, len(s.actions.order))
	for _, j := range s.actions.order {
		out = append(out, j.snapshot())
	}
	return out
}

// JobByID returns one job.
func (s *Server) JobByID(id int64) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.actions == nil || s.actions.jobs[id] == nil {
		return Job{}, false
	}
	return s.actions.jobs[id].snapshot(), true
}
