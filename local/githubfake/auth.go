package githubfake

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// scopeRef names the repository or organisation a request touches.
type scopeRef struct {
	Owner string
	Repo  string // empty for an organisation
}

func (sc scopeRef) isOrg() bool { return sc.Repo == "" }

// key is the fleet's scope notation ("repo:owner/name", "org:name"), lower-cased
// because GitHub logins and repository names compare case-insensitively.
func (sc scopeRef) key() string {
	if sc.isOrg() {
		return "org:" + strings.ToLower(sc.Owner)
	}
	return "repo:" + strings.ToLower(sc.Owner) + "/" + strings.ToLower(sc.Repo)
}

// parseScope reads "repo:owner/name", "org:name", or the short forms "owner/name" and
// "name".
func parseScope(s string) (scopeRef, bool) {
	switch {
	case strings.HasPrefix(s, "repo:"):
		s = strings.TrimPrefix(s, "repo:")
		o, r, ok := strings.Cut(s, "/")
		return scopeRef{Owner: o, Repo: r}, ok && o != "" && r != "" && !strings.Contains(r, "/")
	case strings.HasPrefix(s, "org:"):
		o := strings.TrimPrefix(s, "org:")
		return scopeRef{Owner: o}, o != "" && !strings.Contains(o, "/")
	case strings.Contains(s, "/"):
		return parseScope("repo:" + s)
	default:
		return parseScope("org:" + s)
	}
}

func repoScope(r *http.Request) scopeRef {
	return scopeRef{Owner: r.PathValue("owner"), Repo: r.PathValue("repo")}
}

func orgScope(r *http.Request) scopeRef { return scopeRef{Owner: r.PathValue("org")} }

type principalKind int

const (
	kindPAT principalKind = iota + 1
	kindInstallation
	kindApp
)

// principal is who a request authenticated as.
type principal struct {
	kind  principalKind
	pat   *pat
	token *installationToken
	app   *app
}

// rateKey identifies the rate-limit bucket: GitHub counts per user, per installation
// and per App.
func (p *principal) rateKey() string {
	switch p.kind {
	case kindPAT:
		return "user:" + strconv.FormatInt(p.pat.userID, 10)
	case kindInstallation:
		return "installation:" + strconv.FormatInt(p.token.installationID, 10)
	default:
		return "app:" + strconv.FormatInt(p.app.id, 10)
	}
}

func (p *principal) rateSubject() string {
	switch p.kind {
	case kindPAT:
		return "user ID " + strconv.FormatInt(p.pat.userID, 10)
	case kindInstallation:
		return "installation ID " + strconv.FormatInt(p.token.installationID, 10)
	default:
		return "app ID " + strconv.FormatInt(p.app.id, 10)
	}
}

// authenticate resolves the Authorization header. It answers a non-zero status with
// GitHub's message when the credentials are missing or rejected.
func (s *Server) authenticate(r *http.Request, wantApp bool) (*principal, int, string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, http.StatusUnauthorized, "Requires authentication"
	}
	scheme, cred, ok := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	if !ok || cred == "" {
		return nil, http.StatusUnauthorized, "Bad credentials"
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token":
	default:
		return nil, http.StatusUnauthorized, "Bad credentials"
	}
	if wantApp {
		a, msg := s.verifyAppJWT(cred)
		if a == nil {
			return nil, http.StatusUnauthorized, msg
		}
		return &principal{kind: kindApp, app: a}, 0, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pats[cred]; ok {
		return &principal{kind: kindPAT, pat: p}, 0, ""
	}
	if t, ok := s.instTokens[cred]; ok {
		if !s.now().Before(t.expiresAt) {
			return nil, http.StatusUnauthorized, "Bad credentials"
		}
		if _, live := s.installations[t.installationID]; !live {
			return nil, http.StatusUnauthorized, "Bad credentials"
		}
		return &principal{kind: kindInstallation, token: t}, 0, ""
	}
	if looksLikeJWT(cred) {
		// An App JWT on an installation endpoint: GitHub wants an installation token.
		return nil, http.StatusForbidden, "Resource not accessible by integration"
	}
	return nil, http.StatusUnauthorized, "Bad credentials"
}

func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 && strings.HasPrefix(s, "eyJ") }

// authorize checks that p may act on sc with acc's permission, answering GitHub's
// 404 (no access to the resource at all) or 403 (access without the permission).
func (s *Server) authorize(w http.ResponseWriter, p *principal, sc scopeRef, acc access) bool {
	if acc.permission != "" {
		w.Header().Set("X-Accepted-GitHub-Permissions", acc.permission+"="+acc.level)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch p.kind {
	case kindPAT:
		w.Header().Set("X-OAuth-Scopes", strings.Join(p.pat.scopes, ", "))
		w.Header().Set("X-Accepted-OAuth-Scopes", strings.Join(acc.patScopes, ", "))
		if len(p.pat.owners) > 0 && !slices.ContainsFunc(p.pat.owners, func(o string) bool { return strings.EqualFold(o, sc.Owner) }) {
			writeError(w, http.StatusNotFound, "Not Found", docsREST)
			return false
		}
		if !slices.ContainsFunc(acc.patScopes, func(want string) bool { return slices.Contains(p.pat.scopes, want) }) {
			writeError(w, http.StatusForbidden, "Resource not accessible by personal access token", docsREST)
			return false
		}
		return true
	case kindInstallation:
		inst := s.installations[p.token.installationID]
		if inst == nil || !inst.covers(sc) || !p.token.covers(sc) {
			writeError(w, http.StatusNotFound, "Not Found", docsREST)
			return false
		}
		if !levelAtLeast(p.token.permissions[acc.permission], acc.level) {
			writeError(w, http.StatusForbidden, "Resource not accessible by integration", docsREST)
			return false
		}
		return true
	default:
		writeError(w, http.StatusForbidden, "Resource not accessible by integration", docsREST)
		return false
	}
}

// levelAtLeast reports whether granted ("read", "write", "admin") satisfies want.
func levelAtLeast(granted, want string) bool {
	rank := map[string]int{"read": 1, "write": 2, "admin": 3}
	return rank[granted] > 0 && rank[granted] >= rank[want]
}
