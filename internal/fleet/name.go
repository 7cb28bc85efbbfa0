package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// MaxNameLength is the longest execution name the fleet produces: GitHub limits runner
// names to 64 characters and the runner is named after its execution (Step Functions
// allows 80).
const MaxNameLength = 64

// ExecutionName derives the execution name from (repository, job id, run attempt) only,
// so a redelivered or duplicated queued event maps to the same execution. The name is
// readable — owner, repository, job id and attempt stay visible — and uses only
// [A-Za-z0-9_-]. When it would exceed MaxNameLength, the owner and repository parts are
// shortened and a hash of the full identity is inserted, so distinct jobs never collide.
func ExecutionName(owner, repo string, jobID int64, attempt int) string {
	tail := strconv.FormatInt(jobID, 10) + "-" + strconv.Itoa(attempt)
	o, r := sanitize(owner), sanitize(repo)
	full := o + "-" + r + "-" + tail
	// Sanitising can merge distinct identities ("a.b" and "a_b"); only an exact,
	// unchanged name is left without a hash.
	if len(full) <= MaxNameLength && o == owner && r == repo {
		return full
	}
	sum := sha256.Sum256([]byte(strings.ToLower(owner) + "/" + strings.ToLower(repo) + "#" + tail))
	hash := hex.EncodeToString(sum[:])[:10]
	// <owner>-<repo>-<hash>-<jobid>-<attempt>
	room := MaxNameLength - len(tail) - len(hash) - 3
	if room < 2 {
		// Job ids are int64 and attempts small, so this only happens for absurd attempts.
		return (hash + "-" + tail)[:MaxNameLength]
	}
	ol := min(len(o), room/2)
	rl := min(len(r), room-ol)
	ol = min(len(o), room-rl)
	return strings.Trim(o[:ol], "-") + "-" + strings.Trim(r[:rl], "-") + "-" + hash + "-" + tail
}

func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
