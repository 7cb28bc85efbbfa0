package githubfake

// The dispatcher gives queued jobs to runners by GitHub's rule, and runner sessions are
// how a simulated runner process talks to it: Connect with the JIT config, Next to wait
// for a job, Finish to report it, Close when the process dies.
//
// GitHub's rule (docs.github.com/actions/hosting-your-own-runners/managing-self-hosted-runners/using-self-hosted-runners-in-a-workflow):
// a job goes to any online, idle runner in the job's repository scope — the
// repository's runners, or the owning organisation's — whose labels include every
// label the job asks for, compared case-insensitively. Nothing ties a JIT runner to the
// job it was started for, so a runner started for job A may take job B ("stolen").

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors ending a session.
var (
	// ErrRunnerRemoved: the registration was deleted (REST DELETE or RemoveRunner)
	// while the runner waited; the real runner exits when that happens.
	ErrRunnerRemoved = errors.New("githubfake: runner registration was deleted")
	// ErrSessionDone: the ephemeral runner finished its one job and was removed.
	ErrSessionDone = errors.New("githubfake: ephemeral runner finished its job; session ended")
	// ErrSessionClosed: Close was called.
	ErrSessionClosed = errors.New("githubfake: session closed")
)

// Session is a connected runner process. Its methods are safe for concurrent use.
type Session struct {
	s      *Server
	runner Runner

	assigned chan AssignedJob // capacity 1: at most one job at a time
	ended    chan struct{}
	// guarded by s.mu
	endErr    error
	job       *jobRecord
	idleSince time.Time
}

// AssignedJob is what a runner receives from Next.
type AssignedJob struct {
	ID           int64
	RunID        int64
	Repo         string
	Name         string
	WorkflowName string
	Labels       []string
	// Duration is the simulated run time JobSpec asked for.
	Duration time.Duration
	// Crash asks the simulated runner to die half-way through.
	Crash bool
	// Cancelled is closed when the job is cancelled while the runner runs it; the
	// runner should stop and call Finish(ID, ConclusionCancelled).
	Cancelled <-chan struct{}
}

// Runner is the registration as it was when the session connected.
func (ss *Session) Runner() Runner { return ss.runner }

// Done is closed when the session has ended (Err says why).
func (ss *Session) Done() <-chan struct{} { return ss.ended }

// Err is why the session ended, nil while it lasts.
func (ss *Session) Err() error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	return ss.endErr
}

// Connect is a runner process starting with its JIT config: the registration goes
// online (ConnectRunner) and the runner becomes available to the dispatcher.
func (s *Server) Connect(jit string) (*Session, error) {
	s.mu.Lock()
	enabled := s.actions != nil
	s.mu.Unlock()
	if !enabled {
		return nil, ErrActionsDisabled
	}
	rn, err := s.ConnectRunner(jit)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.actions
	ss := &Session{s: s, runner: rn, assigned: make(chan AssignedJob, 1), ended: make(chan struct{}), idleSince: a.cfg.Now()}
	if s.runners[rn.ID] == nil {
		// Deleted between going online and registering with the dispatcher.
		ss.endLocked(ErrRunnerRemoved)
		return nil, fmt.Errorf("runner %d (%s): %w", rn.ID, rn.Name, ErrRunnerRemoved)
	}
	a.sessions[rn.ID] = ss
	a.log.Info("runner connected", "runner_id", rn.ID, "runner", rn.Name, "labels", rn.Labels)
	s.dispatchLocked(a)
	return ss, nil
}

// Next blocks until the dispatcher gives the runner a job, the session ends (the
// registration was deleted: ErrRunnerRemoved; the ephemeral runner's job is done:
// ErrSessionDone; Close: ErrSessionClosed), or ctx ends.
func (ss *Session) Next(ctx context.Context) (AssignedJob, error) {
	select {
	case j := <-ss.assigned:
		return j, nil
	default:
	}
	select {
	case j := <-ss.assigned:
		return j, nil
	case <-ss.ended:
		return AssignedJob{}, ss.Err()
	case <-ctx.Done():
		return AssignedJob{}, ctx.Err()
	}
}

// Finish reports the job the runner ran: it completes with conclusion (unless it was
// already completed, e.g. cancelled) and the runner goes idle — or, being ephemeral,
// is removed and the session ends with ErrSessionDone.
func (ss *Session) Finish(jobID int64, conclusion string) error {
	switch conclusion {
	case ConclusionSuccess, ConclusionFailure, ConclusionCancelled:
	default:
		return fmt.Errorf("finish job %d: conclusion %q: want success, failure or cancelled", jobID, conclusion)
	}
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	j := ss.job
	if j == nil || j.ID != jobID {
		return fmt.Errorf("finish job %d: runner %s is not running it", jobID, ss.runner.Name)
	}
	a := s.actions
	s.completeLocked(a, j, conclusion)
	j.session, ss.job = nil, nil
	rr := s.runners[ss.runner.ID]
	if rr == nil {
		return nil
	}
	rr.Busy = false
	if rr.Ephemeral {
		delete(s.runners, rr.ID)
		delete(a.sessions, rr.ID)
		ss.endLocked(ErrSessionDone)
		a.log.Info("ephemeral runner removed after its job", "runner_id", rr.ID, "runner", rr.Name)
		return nil
	}
	ss.idleSince = a.cfg.Now()
	s.dispatchLocked(a)
	return nil
}

// Close is the runner process dying: the registration goes offline and stays (the
// fleet's cleanup deletes it); a job it was running fails after LostRunnerDelay, as
// GitHub fails a job whose runner stopped answering. Close is idempotent.
func (ss *Session) Close() {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.endErr != nil && ss.job == nil {
		return
	}
	a := s.actions
	if a.sessions[ss.runner.ID] == ss {
		delete(a.sessions, ss.runner.ID)
	}
	if rr := s.runners[ss.runner.ID]; rr != nil {
		rr.Status = StatusOffline
		if ss.job == nil {
			rr.Busy = false
		}
	}
	s.loseJobLocked(a, ss)
	if ss.endErr == nil {
		ss.endLocked(ErrSessionClosed)
	}
	a.log.Info("runner session closed", "runner_id", ss.runner.ID, "runner", ss.runner.Name)
}

// loseJobLocked fails the session's running job after LostRunnerDelay.
func (s *Server) loseJobLocked(a *actions, ss *Session) {
	j := ss.job
	if j == nil {
		return
	}
	ss.job = nil
	runnerID := ss.runner.ID
	time.AfterFunc(a.cfg.LostRunnerDelay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if j.session == ss {
			j.session = nil
		}
		if j.Status != JobCompleted {
			a.log.Info("job lost its runner", "job_id", j.ID, "runner", j.RunnerName)
			s.completeLocked(a, j, ConclusionFailure)
		}
		if rr := s.runners[runnerID]; rr != nil && rr.Status == StatusOffline {
			rr.Busy = false
		}
	})
}

func (ss *Session) endLocked(err error) {
	if ss.endErr != nil {
		return
	}
	ss.endErr = err
	close(ss.ended)
}

// runnerRemovedLocked is called (under s.mu) when a registration is deleted: its
// session ends with ErrRunnerRemoved, and a job it ran is lost.
func (s *Server) runnerRemovedLocked(id int64) {
	a := s.actions
	if a == nil {
		return
	}
	ss := a.sessions[id]
	if ss == nil {
		return
	}
	delete(a.sessions, id)
	s.loseJobLocked(a, ss)
	ss.endLocked(ErrRunnerRemoved)
	a.log.Info("runner registration deleted while connected", "runner_id", id, "runner", ss.runner.Name)
}

// DuplicateNext makes the next n queued deliveries go out twice with the same
// X-GitHub-Delivery, as an at-least-once transport may deliver them.
func (s *Server) DuplicateNext(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.actionsLocked()
	if err != nil {
		return err
	}
	a.dupNext = max(n, 0)
	return nil
}

// eligible tells whether rr may take j by GitHub's rule; callers hold s.mu.
func eligible(rr *runnerRecord, j *jobRecord, ownerIsOrg bool) bool {
	if rr == nil || rr.Status != StatusOnline || rr.Busy {
		return false
	}
	if rr.scope.isOrg() {
		if !ownerIsOrg || !strings.EqualFold(rr.scope.Owner, j.repo.owner) {
			return false
		}
		// Organisation runner groups do not serve public repositories unless allowed
		// ("allows_public_repositories": false, the default of every group here).
		if !j.repo.private {
			return false
		}
	} else if !strings.EqualFold(rr.scope.Owner, j.repo.owner) || !strings.EqualFold(rr.scope.Repo, j.repo.name) {
		return false
	}
	return labelsCover(rr.Labels, j.Labels)
}

// labelsCover reports whether have includes every label of want, case-insensitively.
func labelsCover(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			return false
		}
	}
	return true
}

// ownerIsOrgLocked: an owner is an organisation unless an App installation on it says
// it is a user account.
func (s *Server) ownerIsOrgLocked(owner string) bool {
	for _, in := range s.installations {
		if strings.EqualFold(in.Account, owner) {
			return in.AccountType != "User"
		}
	}
	return true
}

// dispatchLocked hands queued jobs, oldest first, to eligible idle runners, the one
// idle longest first. Callers hold s.mu.
func (s *Server) dispatchLocked(a *actions) {
	if len(a.queue) == 0 || len(a.sessions) == 0 {
		return
	}
	idle := make([]*Session, 0, len(a.sessions))
	for _, ss := range a.sessions {
		if ss.job == nil && ss.endErr == nil {
			idle = append(idle, ss)
		}
	}
	slices.SortFunc(idle, func(x, y *Session) int {
		if c := x.idleSince.Compare(y.idleSince); c != 0 {
			return c
		}
		return int(x.runner.ID - y.runner.ID)
	})
	for _, j := range slices.Clone(a.queue) {
		org := s.ownerIsOrgLocked(j.repo.owner)
		i := slices.IndexFunc(idle, func(ss *Session) bool { return eligible(s.runners[ss.runner.ID], j, org) })
		if i < 0 {
			continue
		}
		ss := idle[i]
		idle = slices.Delete(idle, i, i+1)
		s.assignLocked(a, j, ss)
	}
}

func (s *Server) assignLocked(a *actions, j *jobRecord, ss *Session) {
	rr := s.runners[ss.runner.ID]
	rr.Busy = true
	a.queue = slices.DeleteFunc(a.queue, func(q *jobRecord) bool { return q == j })
	j.Status, j.StartedAt = JobInProgress, a.cfg.Now()
	j.RunnerID, j.RunnerName, j.RunnerGroupID = rr.ID, rr.Name, rr.RunnerGroupID
	j.RunnerGroupName = s.groupNameLocked(rr)
	j.session, ss.job = ss, j
	a.log.Info("job assigned", "job_id", j.ID, "repo", j.Repo, "runner_id", rr.ID, "runner", rr.Name)
	select {
	case <-ss.assigned:
		// A stale assignment the runner never read (it finished the job by id without
		// calling Next): the new one replaces it, so this send never blocks under s.mu.
	default:
	}
	ss.assigned <- AssignedJob{
		ID: j.ID, RunID: j.RunID, Repo: j.Repo, Name: j.Name, WorkflowName: j.WorkflowName,
		Labels: slices.Clone(j.Labels), Duration: j.Duration, Crash: j.Crash, Cancelled: j.abort,
	}
	s.transitionLocked(a, j, JobInProgress, false)
}

func (s *Server) groupNameLocked(rr *runnerRecord) string {
	if rr.RunnerGroupID == 1 {
		return "Default"
	}
	if name, ok := s.runnerGroups[rr.scope.key()][rr.RunnerGroupID]; ok {
		return name
	}
	return "Default"
}
