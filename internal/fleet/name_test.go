package fleet

import (
	"regexp"
	"strings"
	"testing"
)

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func TestExecutionName(t *testing.T) {
	tests := []struct {
		name          string
		owner, repo   string
		job           int64
		attempt       int
		want          string // exact, when set
		wantSubstring []string
	}{
		{name: "short names stay readable and exact", owner: "octo-org", repo: "api", job: 29679449, attempt: 1, want: "octo-org-api-29679449-1"},
		{name: "dots are replaced and hashed", owner: "octo", repo: "my.repo", job: 7, attempt: 2, wantSubstring: []string{"octo-my_repo-", "-7-2"}},
		{name: "long names are shortened with a hash", owner: strings.Repeat("o", 39), repo: strings.Repeat("r", 100), job: 9223372036854775807, attempt: 12, wantSubstring: []string{"ooo", "rrr", "-9223372036854775807-12"}},
		{name: "unicode is sanitised", owner: "ünï", repo: "cödé", job: 1, attempt: 1, wantSubstring: []string{"-1-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ExecutionName(tc.owner, tc.repo, tc.job, tc.attempt)
			if !validName.MatchString(got) {
				t.Fatalf("ExecutionName(%q, %q, %d, %d) = %q (len %d); want <=64 chars of [A-Za-z0-9_-]", tc.owner, tc.repo, tc.job, tc.attempt, got, len(got))
			}
			if tc.want != "" && got != tc.want {
				t.Fatalf("ExecutionName(%q, %q, %d, %d) = %q; want %q", tc.owner, tc.repo, tc.job, tc.attempt, got, tc.want)
			}
			for _, s := range tc.wantSubstring {
				if !strings.Contains(got, s) {
					t.Errorf("ExecutionName(%q, %q, %d, %d) = %q; want it to contain %q", tc.owner, tc.repo, tc.job, tc.attempt, got, s)
				}
			}
			if again := ExecutionName(tc.owner, tc.repo, tc.job, tc.attempt); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
}

func TestExecutionNameDistinctJobsNeverCollide(t *testing.T) {
	seen := map[string]string{}
	owners := []string{"a", "a.b", "a_b", "A-B", strings.Repeat("x", 39), strings.Repeat("x", 38) + "y"}
	repos := []string{"r", "r.s", "r_s", strings.Repeat("long", 25), strings.Repeat("long", 25) + "x"}
	for _, o := range owners {
		for _, r := range repos {
			for job := int64(1); job <= 3; job++ {
				for attempt := 1; attempt <= 2; attempt++ {
					id := strings.ToLower(o) + "/" + strings.ToLower(r) + "#" + string(rune('0'+job)) + "." + string(rune('0'+attempt))
					n := ExecutionName(o, r, job, attempt)
					if prev, ok := seen[n]; ok && prev != id {
						t.Fatalf("%s and %s both map to %q", prev, id, n)
					}
					seen[n] = id
				}
			}
		}
	}
}

func FuzzExecutionName(f *testing.F) {
	f.Add("octo-org", "api", int64(1), 1)
	f.Add("ünï", strings.Repeat("r", 200), int64(-5), 0)
	f.Fuzz(func(t *testing.T, owner, repo string, job int64, attempt int) {
		if n := ExecutionName(owner, repo, job, attempt); !validName.MatchString(n) {
			t.Fatalf("ExecutionName(%q, %q, %d, %d) = %q: invalid", owner, repo, job, attempt, n)
		}
	})
}
