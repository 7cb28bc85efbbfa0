package ghrunner

import (
	"fmt"
	"strings"
)

// Scope is where runners register: a repository (Owner and Repo) or an organisation
// (Owner only). Its String form is the one fleet.Runner.Scope stores.
type Scope struct {
	Owner string
	Repo  string
}

// RepoScope is the repository owner/repo.
func RepoScope(owner, repo string) Scope { return Scope{Owner: owner, Repo: repo} }

// OrgScope is the organisation org.
func OrgScope(org string) Scope { return Scope{Owner: org} }

// ParseScope reads "repo:owner/name" or "org:name" (fleet.Runner.Scope), and the short
// forms "owner/name" and "name".
func ParseScope(s string) (Scope, error) {
	var sc Scope
	switch {
	case strings.HasPrefix(s, "repo:"):
		owner, repo, ok := strings.Cut(strings.TrimPrefix(s, "repo:"), "/")
		if !ok {
			return Scope{}, fmt.Errorf("scope %q: a repository scope is repo:owner/name", s)
		}
		sc = RepoScope(owner, repo)
	case strings.HasPrefix(s, "org:"):
		sc = OrgScope(strings.TrimPrefix(s, "org:"))
	case strings.Contains(s, "/"):
		owner, repo, _ := strings.Cut(s, "/")
		sc = RepoScope(owner, repo)
	default:
		sc = OrgScope(s)
	}
	if err := sc.Validate(); err != nil {
		return Scope{}, err
	}
	return sc, nil
}

// IsOrg reports whether the scope is an organisation.
func (s Scope) IsOrg() bool { return s.Repo == "" }

// String is "repo:owner/name" or "org:name".
func (s Scope) String() string {
	if s.IsOrg() {
		return "org:" + s.Owner
	}
	return "repo:" + s.Owner + "/" + s.Repo
}

// Validate reports a scope that names no owner or has characters GitHub never puts
// in a login or repository name.
func (s Scope) Validate() error {
	bad := func(v string) bool { return strings.ContainsAny(v, "/ \t\n?#%") }
	switch {
	case s.Owner == "":
		return fmt.Errorf("scope %q names no owner or organisation", s.String())
	case bad(s.Owner) || bad(s.Repo):
		return fmt.Errorf("scope %q is malformed", s.String())
	}
	return nil
}

func (s Scope) key() string { return strings.ToLower(s.String()) }

// kindWord is "repository" or "organisation", for messages.
func (s Scope) kindWord() string {
	if s.IsOrg() {
		return "organisation"
	}
	return "repository"
}

// suffix is " for <scope>", or "" for the zero Scope, for messages.
func (s Scope) suffix() string {
	if s.Owner == "" {
		return ""
	}
	return " for " + s.String()
}
