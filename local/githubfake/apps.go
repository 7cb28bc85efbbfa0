package githubfake

// GitHub Apps: the App JWT, installations, installation access tokens and the
// classic personal access tokens the fleet may use instead.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

type app struct {
	id   int64
	slug string
	key  *rsa.PublicKey
}

// Installation is one installation of an App on an account.
type Installation struct {
	ID    int64
	AppID int64
	// Account is the organisation or user login the App is installed on.
	Account string
	// AccountType is "Organization" (the default) or "User".
	AccountType string
	// Repositories limits the installation to these repository names under Account;
	// nil means all of the account's repositories ("repository_selection": "all").
	Repositories []string
	// Permissions as GitHub names them, e.g. {"administration": "write",
	// "organization_self_hosted_runners": "write"}.
	Permissions map[string]string
	// Suspended installations cannot mint tokens.
	Suspended bool

	created time.Time
}

func (in *Installation) covers(sc scopeRef) bool {
	if !strings.EqualFold(in.Account, sc.Owner) {
		return false
	}
	if sc.isOrg() {
		return in.AccountType != "User"
	}
	return in.Repositories == nil || slices.ContainsFunc(in.Repositories, func(r string) bool { return strings.EqualFold(r, sc.Repo) })
}

type installationToken struct {
	installationID int64
	expiresAt      time.Time
	// repositories narrows the token; nil means all the installation covers.
	repositories []string
	permissions  map[string]string
}

func (t *installationToken) covers(sc scopeRef) bool {
	if t.repositories == nil || sc.isOrg() {
		return true
	}
	return slices.ContainsFunc(t.repositories, func(r string) bool { return strings.EqualFold(r, sc.Repo) })
}

// PAT is a classic personal access token.
type PAT struct {
	Token string
	// Scopes as GitHub names them: "repo", "admin:org", "admin:repo_hook", ...
	Scopes []string
	// Owners limits the accounts the token's user can administer; empty means any.
	Owners []string
}

type pat struct {
	userID int64
	scopes []string
	owners []string
}

// AddApp registers a GitHub App and the public half of its key; JWTs must be RS256
// signed by the private half.
func (s *Server) AddApp(id int64, slug string, key *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[id] = &app{id: id, slug: slug, key: key}
}

// AddInstallation installs an App (registered with AddApp) on an account.
func (s *Server) AddInstallation(in Installation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apps[in.AppID]; !ok {
		return fmt.Errorf("installation %d: app %d is not registered; call AddApp first", in.ID, in.AppID)
	}
	if in.ID <= 0 || in.Account == "" {
		return fmt.Errorf("installation needs a positive ID and an Account")
	}
	if in.AccountType == "" {
		in.AccountType = "Organization"
	}
	in.Repositories = slices.Clone(in.Repositories)
	in.Permissions = maps.Clone(in.Permissions)
	in.created = s.now()
	s.installations[in.ID] = &in
	return nil
}

// RemoveInstallation uninstalls the App; its tokens stop working at once.
func (s *Server) RemoveInstallation(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.installations, id)
}

// RevokeTokens invalidates every token minted for the installation, as
// DELETE /installation/token does for one.
func (s *Server) RevokeTokens(installationID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, t := range s.instTokens {
		if t.installationID == installationID {
			t.expiresAt = time.Time{}
			s.instTokens[tok] = t
		}
	}
}

// SetInstallationPermissions replaces an installation's permissions (as when the
// owner accepts or revokes them). Tokens minted before keep what they were granted,
// as on GitHub.
func (s *Server) SetInstallationPermissions(id int64, perms map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.installations[id]
	if !ok {
		return fmt.Errorf("installation %d is not registered", id)
	}
	in.Permissions = maps.Clone(perms)
	return nil
}

// AddPAT registers a classic personal access token.
func (s *Server) AddPAT(p PAT) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pats[p.Token] = &pat{userID: s.newID(), scopes: slices.Clone(p.Scopes), owners: slices.Clone(p.Owners)}
}

// TokenRequests counts installation tokens minted per installation so far.
func (s *Server) TokenRequests(installationID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.instTokens {
		if t.installationID == installationID {
			n++
		}
	}
	return n
}

// verifyAppJWT checks an App JWT as GitHub does: RS256, issued by a registered App
// (iss), signed by its key, not expired, iat not in the future, and at most ten
// minutes of lifetime. It returns the App, or nil and GitHub's message.
func (s *Server) verifyAppJWT(raw string) (*app, string) {
	const undecodable = "A JSON web token could not be decoded"
	var found *app
	lookedUp := false
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		lookedUp = true
		id, err := issuer(claims["iss"])
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		found = s.apps[id]
		s.mu.Unlock()
		if found == nil {
			return nil, fmt.Errorf("no app %d", id)
		}
		return found.key, nil
	})
	if err != nil {
		if lookedUp && found == nil {
			return nil, "Integration not found"
		}
		return nil, undecodable
	}
	now := time.Now()
	exp, okExp := claims["exp"].(float64)
	iat, okIat := claims["iat"].(float64)
	if !okExp {
		return nil, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	}
	if !okIat {
		return nil, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	}
	expT, iatT := time.Unix(int64(exp), 0), time.Unix(int64(iat), 0)
	switch {
	case !now.Before(expT):
		return nil, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	case expT.Sub(now) > 10*time.Minute+30*time.Second:
		return nil, "'Expiration time' claim ('exp') is too far in the future"
	case iatT.After(now.Add(60 * time.Second)):
		return nil, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	}
	return found, ""
}

// issuer reads the iss claim, which GitHub accepts as the App id (string or number).
func issuer(v any) (int64, error) {
	switch iss := v.(type) {
	case string:
		return strconv.ParseInt(iss, 10, 64)
	case float64:
		return int64(iss), nil
	}
	return 0, errors.New("iss claim missing")
}

func (s *Server) registerApps() {
	appOnly := access{app: true}
	s.handle("GET /app", "apps/get-authenticated", appOnly, s.getApp)
	s.handle("POST /app/installations/{installation_id}/access_tokens", "apps/create-installation-access-token", appOnly, s.createInstallationToken)
	s.handle("GET /repos/{owner}/{repo}/installation", "apps/get-repo-installation", appOnly, func(w http.ResponseWriter, r *request) {
		s.findInstallation(w, r, repoScope(r.Request))
	})
	s.handle("GET /orgs/{org}/installation", "apps/get-org-installation", appOnly, func(w http.ResponseWriter, r *request) {
		s.findInstallation(w, r, orgScope(r.Request))
	})
}

// getApp emulates GET /app (docs.github.com/rest/apps/apps#get-the-authenticated-app).
func (s *Server) getApp(w http.ResponseWriter, r *request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"id":       r.p.app.id,
		"slug":     r.p.app.slug,
		"name":     r.p.app.slug,
		"html_url": "https://github.com/apps/" + r.p.app.slug,
	})
}

type tokenRequest struct {
	Repositories  []string          `json:"repositories"`
	RepositoryIDs []int64           `json:"repository_ids"`
	Permissions   map[string]string `json:"permissions"`
}

// createInstallationToken emulates POST /app/installations/{id}/access_tokens
// (docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app;
// fixture apps.create-installation-access-token.201.json).
func (s *Server) createInstallationToken(w http.ResponseWriter, r *request) {
	id, err := strconv.ParseInt(r.PathValue("installation_id"), 10, 64)
	var req tokenRequest
	if r.ContentLength != 0 && r.Body != nil {
		if !decodeBody(w, r.Request, &req) {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.installations[id]
	if err != nil || in == nil || in.AppID != r.p.app.id {
		writeError(w, http.StatusNotFound, "Not Found", docsAppTokens)
		return
	}
	if in.Suspended {
		writeError(w, http.StatusForbidden, "This installation has been suspended", docsAppTokens)
		return
	}
	perms := maps.Clone(in.Permissions)
	if req.Permissions != nil {
		for k, v := range req.Permissions {
			if !levelAtLeast(in.Permissions[k], v) {
				writeError(w, http.StatusUnprocessableEntity, "The permissions requested are not granted to this installation.", docsAppTokens)
				return
			}
		}
		perms = maps.Clone(req.Permissions)
	}
	var repos []string
	if len(req.Repositories) > 0 {
		for _, name := range req.Repositories {
			if !in.covers(scopeRef{Owner: in.Account, Repo: name}) {
				writeError(w, http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.", docsAppTokens)
				return
			}
		}
		repos = slices.Clone(req.Repositories)
	}
	token := "ghs_" + randomAlnum(36)
	t := &installationToken{installationID: id, expiresAt: s.now().Add(s.cfg.TokenTTL).Truncate(time.Second), repositories: repos, permissions: perms}
	s.instTokens[token] = t
	body := map[string]any{
		"token":                token,
		"expires_at":           timestamp(t.expiresAt),
		"permissions":          perms,
		"repository_selection": "all",
	}
	if repos != nil || in.Repositories != nil {
		body["repository_selection"] = "selected"
		names := repos
		if names == nil {
			names = in.Repositories
		}
		list := make([]map[string]any, 0, len(names))
		for _, n := range names {
			list = append(list, map[string]any{
				"name":      n,
				"full_name": in.Account + "/" + n,
				"owner":     map[string]any{"login": in.Account, "type": in.AccountType},
				"url":       apiURL(r.Request, "/repos/"+in.Account+"/"+n),
			})
		}
		body["repositories"] = list
	}
	writeJSON(w, http.StatusCreated, body)
}

// findInstallation emulates GET /repos/{owner}/{repo}/installation and GET
// /orgs/{org}/installation (docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app;
// fixtures apps.get-repo-installation.200.json, apps.get-org-installation.200.json).
func (s *Server) findInstallation(w http.ResponseWriter, r *request, sc scopeRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.installations))
	for _, id := range ids {
		in := s.installations[id]
		if in.AppID != r.p.app.id || !in.covers(sc) {
			continue
		}
		selection := "all"
		if in.Repositories != nil {
			selection = "selected"
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id":                        in.ID,
			"account":                   map[string]any{"login": in.Account, "type": in.AccountType},
			"repository_selection":      selection,
			"access_tokens_url":         apiURL(r.Request, fmt.Sprintf("/app/installations/%d/access_tokens", in.ID)),
			"repositories_url":          apiURL(r.Request, "/installation/repositories"),
			"app_id":                    in.AppID,
			"app_slug":                  s.apps[in.AppID].slug,
			"target_type":               in.AccountType,
			"permissions":               in.Permissions,
			"events":                    []string{"workflow_job"},
			"created_at":                timestamp(in.created),
			"updated_at":                timestamp(in.created),
			"html_url":                  fmt.Sprintf("https://github.com/organizations/%s/settings/installations/%d", in.Account, in.ID),
			"client_id":                 fmt.Sprintf("Iv1.%016x", in.AppID),
			"target_id":                 in.ID,
			"single_file_name":          nil,
			"has_multiple_single_files": false,
			"single_file_paths":         []string{},
			"suspended_at":              nil,
			"suspended_by":              nil,
		})
		return
	}
	writeError(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app")
}

// NewAppKey generates an RSA key for a test or local App and returns it with its
// PKCS#1 PEM encoding, the form GitHub hands out (and ghinstallation reads).
func NewAppKey() (*rsa.PrivateKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate app key: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return key, pemBytes, nil
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomAlnum(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alnum)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("githubfake: crypto/rand failed: " + err.Error())
		}
		b[i] = alnum[v.Int64()]
	}
	return string(b)
}
