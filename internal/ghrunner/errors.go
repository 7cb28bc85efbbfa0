package ghrunner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v66/github"
	"github.com/runnerfleet/fleet/internal/fleet"
)

// Operation names, as they appear in error text.
const (
	opGenerateJIT      = "generate JIT config"
	opGetRunner        = "get runner"
	opListRunners      = "list runners"
	opDeleteRunner     = "delete runner"
	opCreateToken      = "create installation token"
	opFindInstallation = "find App installation"
)

// ErrRunnerExists: a runner with the requested name is already registered in the
// scope (GitHub's 409 "Already exists"). A retried RequestRunner meets it when its
// first attempt registered the runner; DeleteRunnerByName and a new request fix it.
var ErrRunnerExists = errors.New("a runner with this name is already registered")

// AuthError: GitHub refused the credentials, or they lack a permission. It names what
// to grant. Workflow name: fleet.ErrGitHubAuthFailed.
type AuthError struct {
	Op     string
	Scope  Scope
	Status int
	// Message is GitHub's own message ("Bad credentials").
	Message string
	// Need says what to fix, e.g. "the GitHub App needs Administration: write on the
	// repository".
	Need string
}

func (e *AuthError) Error() string {
	where := e.Scope.suffix()
	return fmt.Sprintf("%s%s: GitHub refused the request (%d %s): %s", e.Op, where, e.Status, e.Message, e.Need)
}

// WorkflowName is the state machine's error name for e.
func (e *AuthError) WorkflowName() string { return fleet.ErrGitHubAuthFailed }

// RateLimitError: GitHub's primary (hourly budget spent) or secondary (too many
// requests or writes in a short time) rate limit. RetryAfter is how long GitHub asks
// to wait. Workflow name: fleet.ErrGitHubRateLimited.
type RateLimitError struct {
	Op         string
	Scope      Scope
	RetryAfter time.Duration
	Secondary  bool
	Message    string
}

func (e *RateLimitError) Error() string {
	kind := "primary"
	if e.Secondary {
		kind = "secondary"
	}
	where := e.Scope.suffix()
	return fmt.Sprintf("%s%s: GitHub %s rate limit reached; retry after %s", e.Op, where, kind, e.RetryAfter.Round(time.Second))
}

// WorkflowName is the state machine's error name for e.
func (e *RateLimitError) WorkflowName() string { return fleet.ErrGitHubRateLimited }

// UnavailableError: GitHub answered 5xx, or could not be reached or timed out.
// Workflow name: fleet.ErrGitHubUnavailable.
type UnavailableError struct {
	Op    string
	Scope Scope
	// Status is the HTTP status, 0 when no answer came.
	Status int
	Err    error
}

func (e *UnavailableError) Error() string {
	where := e.Scope.suffix()
	if e.Status != 0 {
		return fmt.Sprintf("%s%s: GitHub is unavailable (%d %s)", e.Op, where, e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s%s: GitHub could not be reached: %v", e.Op, where, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// WorkflowName is the state machine's error name for e.
func (e *UnavailableError) WorkflowName() string { return fleet.ErrGitHubUnavailable }

// ErrorName returns the workflow error name (fleet.ErrGitHub*) err carries, or "".
func ErrorName(err error) string {
	var named interface{ WorkflowName() string }
	if errors.As(err, &named) {
		return named.WorkflowName()
	}
	return ""
}

// Classify wraps err in a *fleet.WorkflowError named after it when it is one of this
// package's typed errors, for the Lambda boundary; other errors pass unchanged.
func Classify(err error) error {
	if name := ErrorName(err); name != "" {
		return &fleet.WorkflowError{Name: name, Message: err.Error(), Err: err}
	}
	return err
}

// authInfo says how the failed call authenticated, so an AuthError names the right
// fix: an App permission or a PAT scope.
type authInfo struct {
	app          bool
	installation int64
	ghes         bool // an api_url was configured
}

// mapError is the one place GitHub's answers become the fleet's errors.
func mapError(ctx context.Context, op string, scope Scope, a authInfo, err error) error {
	if err == nil {
		return nil
	}
	// Already translated: a token refresh inside the transport failed, and net/http
	// wrapped its error in a *url.Error. Return the translation itself.
	var auth *AuthError
	if errors.As(err, &auth) {
		return auth
	}
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl
	}
	var un *UnavailableError
	if errors.As(err, &un) {
		return un
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s%s: %w", op, scope.suffix(), ctxErr)
	}

	var ghRate *github.RateLimitError
	if errors.As(err, &ghRate) {
		return &RateLimitError{Op: op, Scope: scope, RetryAfter: max(0, time.Until(ghRate.Rate.Reset.Time)), Message: ghRate.Message}
	}
	var ghAbuse *github.AbuseRateLimitError
	if errors.As(err, &ghAbuse) {
		wait := time.Minute
		if ghAbuse.RetryAfter != nil && *ghAbuse.RetryAfter > 0 {
			wait = *ghAbuse.RetryAfter
		}
		return &RateLimitError{Op: op, Scope: scope, RetryAfter: wait, Secondary: true, Message: ghAbuse.Message}
	}
	var ghErr *github.ErrorResponse
	if errors.As(err, &ghErr) && ghErr.Response != nil {
		return mapStatus(op, scope, a, ghErr.Response, ghErr.Message)
	}
	var accepted *github.AcceptedError
	if errors.As(err, &accepted) {
		return &UnavailableError{Op: op, Scope: scope, Status: http.StatusAccepted, Err: errors.New("GitHub accepted the request for later processing")}
	}
	return &UnavailableError{Op: op, Scope: scope, Err: sanitize(err)}
}

// mapStatus maps an HTTP error answer.
func mapStatus(op string, scope Scope, a authInfo, resp *http.Response, message string) error {
	status := resp.StatusCode
	if message == "" {
		message = http.StatusText(status)
	}
	if status == http.StatusForbidden || status == http.StatusTooManyRequests {
		if rl := rateLimitFrom(op, scope, resp, message); rl != nil {
			return rl
		}
	}
	switch {
	case status == http.StatusUnprocessableEntity && op == opDeleteRunner:
		return fmt.Errorf("%s%s: GitHub answered %d %q: %w", op, scope.suffix(), status, message, fleet.ErrRunnerBusy)
	case status == http.StatusNotFound && (op == opDeleteRunner || op == opGetRunner):
		return fmt.Errorf("%s%s: GitHub answered %d: %w", op, scope.suffix(), status, fleet.ErrRunnerNotFound)
	case status == http.StatusConflict && op == opGenerateJIT:
		return fmt.Errorf("%s%s: GitHub answered %d %q: %w", op, scope.suffix(), status, message, ErrRunnerExists)
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusNotFound:
		return &AuthError{Op: op, Scope: scope, Status: status, Message: message, Need: need(op, scope, a, status)}
	case status >= 500:
		return &UnavailableError{Op: op, Scope: scope, Status: status, Err: errors.New(message)}
	}
	return fmt.Errorf("%s%s: GitHub refused the request (%d %s)", op, scope.suffix(), status, message)
}

// rateLimitFrom recognises a rate-limit answer that go-github left as a plain error
// response (429s, and 403s it did not classify).
func rateLimitFrom(op string, scope Scope, resp *http.Response, message string) *RateLimitError {
	h := resp.Header
	retryAfter, hasRetryAfter := parseRetryAfter(h.Get("Retry-After"))
	secondaryMsg := strings.Contains(strings.ToLower(message), "secondary rate limit")
	switch {
	case h.Get("X-RateLimit-Remaining") == "0" && !hasRetryAfter && !secondaryMsg:
		wait := time.Minute
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			wait = max(0, time.Until(time.Unix(reset, 0)))
		}
		return &RateLimitError{Op: op, Scope: scope, RetryAfter: wait, Message: message}
	case hasRetryAfter || secondaryMsg || resp.StatusCode == http.StatusTooManyRequests:
		if !hasRetryAfter {
			retryAfter = time.Minute // GitHub: wait at least a minute when it names no time
		}
		return &RateLimitError{Op: op, Scope: scope, RetryAfter: retryAfter, Secondary: true, Message: message}
	}
	return nil
}

func parseRetryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t)), true
	}
	return 0, false
}

// need says what the operator must grant or fix for an auth failure.
func need(op string, scope Scope, a authInfo, status int) string {
	switch op {
	case opCreateToken:
		if status == http.StatusNotFound {
			return fmt.Sprintf("the GitHub App has no installation %d; install the App on the repository or organisation and use its installation id", a.installation)
		}
		return "the GitHub App could not authenticate; check app_id and private_key in the secret (and the server clock: App JWTs are time-limited)"
	case opFindInstallation:
		if status == http.StatusNotFound {
			return fmt.Sprintf("the GitHub App is not installed on the %s %s; install it there", scope.kindWord(), scope)
		}
		return "the GitHub App could not authenticate; check app_id and private_key in the secret"
	}
	perm := "Administration: write on the repository"
	patScope := "repo"
	if scope.IsOrg() {
		perm = "Self-hosted runners: write on the organisation"
		patScope = "admin:org"
	}
	if a.app {
		switch status {
		case http.StatusUnauthorized:
			return "the installation token was rejected (the App was uninstalled or suspended?); reinstall the App"
		case http.StatusNotFound:
			return fmt.Sprintf("the %s does not exist or the GitHub App's installation does not include it; the GitHub App needs %s (and runner_group_id must exist)%s", scope.kindWord(), perm, ghesHint(op, a))
		}
		return "the GitHub App needs " + perm + "; grant it in the App's permissions and accept it on the installation"
	}
	switch status {
	case http.StatusUnauthorized:
		return "the token is invalid or expired; put a valid token in the secret"
	case http.StatusNotFound:
		return fmt.Sprintf("the %s does not exist or the token cannot administer it; the token needs the %s scope and admin rights there%s", scope.kindWord(), patScope, ghesHint(op, a))
	}
	return fmt.Sprintf("the token needs the %s scope (and admin rights on the %s)", patScope, scope.kindWord())
}

// ghesHint: GitHub Enterprise Server has JIT runners only from 3.10, and answers 404
// before that.
func ghesHint(op string, a authInfo) string {
	if op == opGenerateJIT && a.ghes {
		return "; GitHub Enterprise Server needs version 3.10 or later for just-in-time runners"
	}
	return ""
}

// sanitize strips credentials from URLs in transport errors; the rest of the text is
// the transport's own and never holds a token (tokens travel in headers).
func sanitize(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		cp := *ue
		cp.URL = redactURL(ue.URL)
		var ne net.Error
		if errors.As(ue.Err, &ne) && ne.Timeout() {
			return fmt.Errorf("%s %s: timed out: %w", cp.Op, cp.URL, ue.Err)
		}
		return &cp
	}
	return err
}

// redactURL drops userinfo and the query (where some APIs put secrets) from raw.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable URL]"
	}
	u.User = nil
	u.RawQuery, u.ForceQuery = "", false
	return u.String()
}
