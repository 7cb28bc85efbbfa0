package fleet

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// The state machine reads RetryAfter's wait as the third space-separated word of the
// Lambda's errorMessage (States.ArrayGetItem(States.StringSplit(msg, ' '), 2)).
func TestRetryAfterMessageIsWhatTheStateMachineParses(t *testing.T) {
	cause := errors.New("POST /repos/o/r/actions/runners/generate-jitconfig: GitHub secondary rate limit reached; retry after 1m0s")
	for _, tc := range []struct{ seconds, want int }{{347, 347}, {1, 1}, {0, 1}, {-5, 1}, {3600, 3600}} {
		err := RetryAfter(tc.seconds, cause)
		if err.Name != ErrGitHubRetryAfter || !errors.Is(err, cause) {
			t.Fatalf("RetryAfter(%d) = %#v", tc.seconds, err)
		}
		words := strings.Split(err.Error(), " ")
		got, perr := strconv.Atoi(words[2])
		if perr != nil || got != tc.want || strings.Join(words[:2], " ") != "retry after" {
			t.Errorf("RetryAfter(%d): %q reads as %d (%v); want %d", tc.seconds, err.Error(), got, perr, tc.want)
		}
		if !strings.Contains(err.Error(), cause.Error()) {
			t.Errorf("the cause is lost: %q", err.Error())
		}
	}
}
