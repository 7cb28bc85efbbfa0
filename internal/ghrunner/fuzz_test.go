package ghrunner

import (
	"strings"
	"testing"
)

// FuzzParseScope: scopes come from configuration (cdk.json, the janitor's list) and the
// state document; whatever parses must print back to itself and validate.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"repo:octo-org/app", "org:octo-org", "octo-org/app", "octo-org", "repo:a/b/c", "org:", "", "repo:/x", "a b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			return
		}
		if err := sc.Validate(); err != nil {
			t.Fatalf("ParseScope(%q) = %v, which does not validate: %v", s, sc, err)
		}
		back, err := ParseScope(sc.String())
		if err != nil || back != sc {
			t.Fatalf("ParseScope(%q) = %v; its String %q parses to %v, %v", s, sc, sc.String(), back, err)
		}
		if strings.Contains(sc.Owner, "/") || strings.Contains(sc.Repo, "/") {
			t.Fatalf("ParseScope(%q) = %v keeps a slash in a name", s, sc)
		}
	})
}
