package fleet

import (
	"errors"
	"fmt"
)

// Error names the state machine's Retry and Catch match. A Lambda's errorType is the
// name; the execution's error is the name. docs/contract.md says what each tells the
// operator.
const (
	ErrImageNotAllowed   = "ImageNotAllowed"
	ErrClassNotFound     = "ClassNotFound"
	ErrImageBuildFailed  = "ImageBuildFailed"
	ErrGitHubAuthFailed  = "GitHubAuthFailed"
	ErrGitHubUnavailable = "GitHubUnavailable"
	ErrGitHubRateLimited = "GitHubRateLimited"
	// ErrGitHubRetryAfter is never an execution's error: RequestRunner raises it when
	// GitHub asks for a longer wait than an invocation may sleep, and the state machine
	// waits (a Wait state, free) and asks again. See RetryAfter.
	ErrGitHubRetryAfter     = "GitHubRetryAfter"
	ErrRunnerLaunchFailed   = "RunnerLaunchFailed"
	ErrRunnerTimedOut       = "RunnerTimedOut"
	ErrRunnerFailed         = "RunnerFailed"
	ErrConfigurationInvalid = "ConfigurationInvalid"
	ErrInvalidInput         = "InvalidInput"
	ErrAWSThrottled         = "AWSThrottled"
)

// Sentinels adapters translate their dependency's answers into.
var (
	// ErrRunnerBusy: GitHub refused to delete a runner because it is running a job (422).
	ErrRunnerBusy = errors.New("runner is busy running a job")
	// ErrRunnerNotFound: the runner registration does not exist (404).
	ErrRunnerNotFound = errors.New("runner registration not found")
)

// WorkflowError is an error the workflow matches by Name. Activities return it (or wrap
// a cause in it); the Lambda boundary reports Name as the errorType so the state
// machine's ErrorEquals sees it, and Message as the cause the console shows.
type WorkflowError struct {
	Name    string
	Message string
	Err     error
}

func (e *WorkflowError) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *WorkflowError) Unwrap() error { return e.Err }

// RetryAfter builds the GitHubRetryAfter error for a wait of seconds (at least 1). Its
// message starts "retry after N s:": the state machine splits the message on spaces and
// reads the third word as the Wait state's seconds, so that prefix is a contract.
func RetryAfter(seconds int, cause error) *WorkflowError {
	seconds = max(seconds, 1)
	return &WorkflowError{Name: ErrGitHubRetryAfter, Message: fmt.Sprintf("retry after %d s: the workflow waits, then asks GitHub again", seconds), Err: cause}
}

// Errorf builds a WorkflowError named name; %w in format wraps the cause.
func Errorf(name, format string, args ...any) *WorkflowError {
	err := fmt.Errorf(format, args...)
	return &WorkflowError{Name: name, Message: err.Error(), Err: errors.Unwrap(err)}
}

// Named is implemented by adapters' typed errors that map to a workflow error name
// (ghrunner's *AuthError is GitHubAuthFailed, say) without depending on WorkflowError.
type Named interface {
	error
	WorkflowName() string
}

// NameOf returns the workflow name carried by err — a *WorkflowError or a Named error
// anywhere in its chain — or "" when err carries none.
func NameOf(err error) string {
	var we *WorkflowError
	if errors.As(err, &we) {
		return we.Name
	}
	var n Named
	if errors.As(err, &n) {
		return n.WorkflowName()
	}
	return ""
}

// CapacityError is ECS's "200 with failures[]": the task was not started for lack of
// capacity (or another per-task reason). Callers need the reasons, so it is a type.
type CapacityError struct {
	Reasons []string
}

func (e *CapacityError) Error() string {
	return fmt.Sprintf("ECS could not place the task: %v", e.Reasons)
}
