package githubfake

// Self-hosted runners: JIT registration, listing, reading and deleting runners,
// registration and remove tokens, runner groups — and the Go methods a simulated
// runner uses to connect with its JIT config, take a job and leave.

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Runner statuses as GitHub reports them.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// RunnerVersion is the actions/runner version simulated runners report.
const RunnerVersion = "2.323.0"

// MaxRunnerName is GitHub's limit on runner names.
const MaxRunnerName = 64

// Runner is a snapshot of one runner registration.
type Runner struct {
	ID   int64
	Name string
	// Scope is "repo:owner/name" or "org:name", lower-cased.
	Scope         string
	Labels        []string
	RunnerGroupID int64
	WorkFolder    string
	Status        string
	Busy          bool
	Ephemeral     bool
	OS            string
	CreatedAt     time.Time
	// Connected tells whether the JIT config has been used.
	Connected bool
}

type runnerRecord struct {
	Runner
	scope  scopeRef
	secret string
}

func (rr *runnerRecord) snapshot() Runner {
	r := rr.Runner
	r.Labels = slices.Clone(r.Labels)
	return r
}

// Errors of the runner model's Go methods.
var (
	ErrUnknownRunner = errors.New("githubfake: no such runner registration")
	ErrJITInvalid    = errors.New("githubfake: JIT config is malformed or does not match a registration")
	ErrJITUsed       = errors.New("githubfake: JIT config was already used; JIT runners connect once")
)

// readOnlyLabels are the labels GitHub assigns itself; the rest are "custom".
var readOnlyLabels = map[string]bool{"self-hosted": true, "x64": true, "arm64": true, "arm": true, "linux": true, "windows": true, "macos": true}

func (s *Server) registerRunners() {
	type variant struct {
		prefix, suffix string
		scope          func(*http.Request) scopeRef
		perm, pat      string
		from           string
	}
	for _, v := range []variant{
		{"/repos/{owner}/{repo}", "repo", repoScope, "administration", "repo", "from-repo"},
		{"/orgs/{org}", "org", orgScope, "organization_self_hosted_runners", "admin:org", "from-org"},
	} {
		read := access{scope: v.scope, permission: v.perm, level: "read", patScopes: []string{v.pat}}
		write := access{scope: v.scope, permission: v.perm, level: "write", patScopes: []string{v.pat}}
		scope := v.scope
		s.handle("POST "+v.prefix+"/actions/runners/generate-jitconfig", "actions/generate-runner-jitconfig-for-"+v.suffix, write,
			func(w http.ResponseWriter, r *request) { s.generateJIT(w, r, scope(r.Request)) })
		s.handle("GET "+v.prefix+"/actions/runners", "actions/list-self-hosted-runners-for-"+v.suffix, read,
			func(w http.ResponseWriter, r *request) { s.listRunners(w, r, scope(r.Request)) })
		s.handle("GET "+v.prefix+"/actions/runners/{runner_id}", "actions/get-self-hosted-runner-for-"+v.suffix, read,
			func(w http.ResponseWriter, r *request) { s.getRunner(w, r, scope(r.Request)) })
		s.handle("DELETE "+v.prefix+"/actions/runners/{runner_id}", "actions/delete-self-hosted-runner-"+v.from, write,
			func(w http.ResponseWriter, r *request) { s.deleteRunner(w, r, scope(r.Request)) })
		s.handle("POST "+v.prefix+"/actions/runners/registration-token", "actions/create-registration-token-for-"+v.suffix, write,
			func(w http.ResponseWriter, r *request) { s.runnerToken(w, r, scope(r.Request)) })
		s.handle("POST "+v.prefix+"/actions/runners/remove-token", "actions/create-remove-token-for-"+v.suffix, write,
			func(w http.ResponseWriter, r *request) { s.runnerToken(w, r, scope(r.Request)) })
	}
	s.handle("GET /orgs/{org}/actions/runner-groups", "actions/list-self-hosted-runner-groups-for-org",
		access{scope: orgScope, permission: "organization_self_hosted_runners", level: "read", patScopes: []string{"admin:org"}},
		s.listRunnerGroups)
}

type jitRequest struct {
	Name          string   `json:"name"`
	RunnerGroupID *int64   `json:"runner_group_id"`
	Labels        []string `json:"labels"`
	WorkFolder    string   `json:"work_folder"`
}

// generateJIT emulates POST .../actions/runners/generate-jitconfig
// (docs.github.com/rest/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-a-repository;
// fixtures actions.generate-runner-jitconfig-for-{repo,org}.{request,201}.json).
func (s *Server) generateJIT(w http.ResponseWriter, r *request, sc scopeRef) {
	var req jitRequest
	if !decodeBody(w, r.Request, &req) {
		return
	}
	var problems []string
	switch {
	case req.Name == "":
		problems = append(problems, `"name" wasn't supplied.`)
	case len(req.Name) > MaxRunnerName:
		problems = append(problems, fmt.Sprintf(`"name" is longer than the maximum of %d characters.`, MaxRunnerName))
	}
	if req.RunnerGroupID == nil {
		problems = append(problems, `"runner_group_id" wasn't supplied.`)
	}
	if req.Labels == nil {
		problems = append(problems, `"labels" wasn't supplied.`)
	} else if len(req.Labels) < 1 || len(req.Labels) > 100 {
		problems = append(problems, `"labels" must have between 1 and 100 items.`)
	}
	for _, l := range req.Labels {
		if strings.TrimSpace(l) == "" || len(l) > 256 {
			problems = append(problems, fmt.Sprintf("label %q must be 1 to 256 characters.", l))
		}
	}
	if len(problems) > 0 {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+strings.Join(problems, "\n"), docsRunners)
		return
	}
	if req.WorkFolder == "" {
		req.WorkFolder = "_work"
	}
	rn, jit, err := s.register(sc, req.Name, req.Labels, *req.RunnerGroupID, req.WorkFolder, apiURL(r.Request, ""))
	switch {
	case errors.Is(err, errNameTaken):
		writeError(w, http.StatusConflict, fmt.Sprintf("Already exists - A runner with the name %s already exists.", req.Name), docsRunners)
		return
	case errors.Is(err, errNoGroup):
		writeError(w, http.StatusNotFound, "Not Found", docsRunners)
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "Server Error", docsRunners)
		return
	}
	s.mu.Lock()
	runner := s.runnerJSON(rn)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"runner":             runner,
		"encoded_jit_config": jit,
	})
}

var (
	errNameTaken = errors.New("runner name taken")
	errNoGroup   = errors.New("runner group does not exist")
)

// register creates an offline registration and its JIT config.
func (s *Server) register(sc scopeRef, name string, labels []string, group int64, workFolder, serverURL string) (Runner, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.groupExists(sc, group) {
		return Runner{}, "", errNoGroup
	}
	for _, rr := range s.runners {
		if rr.scope.key() == sc.key() && strings.EqualFold(rr.Name, name) {
			return Runner{}, "", errNameTaken
		}
	}
	rr := &runnerRecord{
		Runner: Runner{
			ID: s.newID(), Name: name, Scope: sc.key(), Labels: slices.Clone(labels),
			RunnerGroupID: group, WorkFolder: workFolder, Status: StatusOffline,
			Ephemeral: true, OS: "unknown", CreatedAt: s.now(),
		},
		scope:  sc,
		secret: randomAlnum(32),
	}
	for _, l := range labels {
		key := strings.ToLower(l)
		if _, ok := s.labelIDs[key]; !ok {
			s.labelIDs[key] = s.newID()
		}
	}
	s.runners[rr.ID] = rr
	return rr.snapshot(), encodeJIT(rr, serverURL), nil
}

func (s *Server) groupExists(sc scopeRef, id int64) bool {
	if id == 1 {
		return true // every repository and organisation has the Default group
	}
	if sc.isOrg() {
		_, ok := s.runnerGroups[sc.key()][id]
		return ok
	}
	return false
}

// The JIT config is, as on GitHub, base64 of a JSON object mapping the runner's
// configuration files to their base64 contents; .runner identifies the registration
// and .credentials carries the secret the fake checks on ConnectRunner.
type jitRunnerFile struct {
	AgentID    int64  `json:"agentId"`
	AgentName  string `json:"agentName"`
	PoolID     int64  `json:"poolId"`
	PoolName   string `json:"poolName"`
	ServerURL  string `json:"serverUrl"`
	GitHubURL  string `json:"gitHubUrl"`
	WorkFolder string `json:"workFolder"`
	Ephemeral  bool   `json:"ephemeral"`
}

type jitCredentials struct {
	Scheme string `json:"scheme"`
	Data   struct {
		ClientID         string `json:"clientId"`
		AuthorizationURL string `json:"authorizationUrl"`
	} `json:"data"`
}

func encodeJIT(rr *runnerRecord, serverURL string) string {
	path := rr.scope.Owner
	if !rr.scope.isOrg() {
		path += "/" + rr.scope.Repo
	}
	runnerFile, _ := json.Marshal(jitRunnerFile{
		AgentID: rr.ID, AgentName: rr.Name, PoolID: rr.RunnerGroupID, PoolName: "Default",
		ServerURL: serverURL, GitHubURL: "https://github.com/" + path, WorkFolder: rr.WorkFolder, Ephemeral: true,
	})
	var cred jitCredentials
	cred.Scheme = "OAuth"
	cred.Data.ClientID = rr.secret
	cred.Data.AuthorizationURL = serverURL + "/_apis/oauth2/token"
	credFile, _ := json.Marshal(cred)
	files, _ := json.Marshal(map[string]string{
		".runner":      base64.StdEncoding.EncodeToString(runnerFile),
		".credentials": base64.StdEncoding.EncodeToString(credFile),
	})
	return base64.StdEncoding.EncodeToString(files)
}

func decodeJIT(jit string) (jitRunnerFile, jitCredentials, error) {
	var rf jitRunnerFile
	var cred jitCredentials
	raw, err := base64.StdEncoding.DecodeString(jit)
	if err != nil {
		return rf, cred, ErrJITInvalid
	}
	var files map[string]string
	if json.Unmarshal(raw, &files) != nil {
		return rf, cred, ErrJITInvalid
	}
	for name, dst := range map[string]any{".runner": &rf, ".credentials": &cred} {
		b, err := base64.StdEncoding.DecodeString(files[name])
		if err != nil || json.Unmarshal(b, dst) != nil {
			return rf, cred, ErrJITInvalid
		}
	}
	return rf, cred, nil
}

// ConnectRunner is a simulated runner starting with its JIT config: the registration
// the config names goes online. A JIT config works once.
func (s *Server) ConnectRunner(jit string) (Runner, error) {
	rf, cred, err := decodeJIT(jit)
	if err != nil {
		return Runner{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rr := s.runners[rf.AgentID]
	if rr == nil {
		return Runner{}, fmt.Errorf("runner %d: %w", rf.AgentID, ErrUnknownRunner)
	}
	if subtle.ConstantTimeCompare([]byte(rr.secret), []byte(cred.Data.ClientID)) != 1 {
		return Runner{}, ErrJITInvalid
	}
	if rr.Connected {
		return Runner{}, ErrJITUsed
	}
	rr.Connected = true
	rr.Status = StatusOnline
	rr.OS = "linux"
	return rr.snapshot(), nil
}

// DisconnectRunner marks a runner offline (its process died without deregistering).
func (s *Server) DisconnectRunner(id int64) error {
	return s.updateRunner(id, func(rr *runnerRecord) { rr.Status, rr.Busy = StatusOffline, false })
}

// SetBusy marks a runner as running a job (true) or idle (false).
func (s *Server) SetBusy(id int64, busy bool) error {
	return s.updateRunner(id, func(rr *runnerRecord) { rr.Busy = busy })
}

func (s *Server) updateRunner(id int64, f func(*runnerRecord)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rr := s.runners[id]
	if rr == nil {
		return fmt.Errorf("runner %d: %w", id, ErrUnknownRunner)
	}
	f(rr)
	return nil
}

// RemoveRunner deletes a registration the way an ephemeral runner leaves after its
// job, regardless of busy.
func (s *Server) RemoveRunner(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runners[id] == nil {
		return fmt.Errorf("runner %d: %w", id, ErrUnknownRunner)
	}
	delete(s.runners, id)
	s.runnerRemovedLocked(id)
	return nil
}

// RegisterRunner creates a registration as generate-jitconfig would, for tests and the
// local environment; it returns the runner and its encoded JIT config. scope is
// "repo:owner/name", "org:name" or the short forms "owner/name" and "name".
func (s *Server) RegisterRunner(scope, name string, labels []string) (Runner, string, error) {
	sc, ok := parseScope(scope)
	if !ok {
		return Runner{}, "", fmt.Errorf("scope %q: want repo:owner/name or org:name", scope)
	}
	if name == "" || len(name) > MaxRunnerName {
		return Runner{}, "", fmt.Errorf("runner name %q must be 1 to %d characters", name, MaxRunnerName)
	}
	return s.register(sc, name, labels, 1, "_work", "http://githubfake"+BasePath)
}

// Runners lists registrations in scope (all scopes when scope is ""), by id.
func (s *Server) Runners(scope string) []Runner {
	key := ""
	if scope != "" {
		sc, ok := parseScope(scope)
		if !ok {
			return nil
		}
		key = sc.key()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Runner
	for _, id := range slices.Sorted(maps.Keys(s.runners)) {
		if rr := s.runners[id]; key == "" || rr.scope.key() == key {
			out = append(out, rr.snapshot())
		}
	}
	return out
}

// RunnerByID returns one registration.
func (s *Server) RunnerByID(id int64) (Runner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rr := s.runners[id]
	if rr == nil {
		return Runner{}, false
	}
	return rr.snapshot(), true
}

// AddRunnerGroup creates an organisation runner group (group 1, "Default", always
// exists).
func (s *Server) AddRunnerGroup(org string, id int64, name string) {
	key := scopeRef{Owner: org}.key()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runnerGroups[key] == nil {
		s.runnerGroups[key] = map[int64]string{}
	}
	s.runnerGroups[key][id] = name
}

// runnerJSON renders a runner as GitHub does (fixture actions.get-self-hosted-runner-for-repo.200.json).
// Callers hold s.mu (it reads the label ids).
func (s *Server) runnerJSON(r Runner) map[string]any {
	labels := make([]map[string]any, 0, len(r.Labels))
	for _, l := range r.Labels {
		typ := "custom"
		if readOnlyLabels[strings.ToLower(l)] {
			typ = "read-only"
		}
		labels = append(labels, map[string]any{"id": s.labelIDs[strings.ToLower(l)], "name": l, "type": typ})
	}
	return map[string]any{
		"id":        r.ID,
		"name":      r.Name,
		"os":        r.OS,
		"status":    r.Status,
		"busy":      r.Busy,
		"ephemeral": r.Ephemeral,
		"version":   RunnerVersion,
		"labels":    labels,
	}
}

// listRunners emulates GET .../actions/runners
// (docs.github.com/rest/actions/self-hosted-runners#list-self-hosted-runners-for-a-repository;
// fixtures actions.list-self-hosted-runners-for-{repo,org}.200.json), with the name
// filter and Link pagination.
func (s *Server) listRunners(w http.ResponseWriter, r *request, sc scopeRef) {
	perPage, page := s.pageParams(r.Request)
	name := r.URL.Query().Get("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []Runner
	for _, id := range slices.Sorted(maps.Keys(s.runners)) {
		rr := s.runners[id]
		if rr.scope.key() == sc.key() && (name == "" || rr.Name == name) {
			matched = append(matched, rr.snapshot())
		}
	}
	lo, hi := paginate(w, r.Request, len(matched), perPage, page)
	list := make([]map[string]any, 0, hi-lo)
	for _, rn := range matched[lo:hi] {
		list = append(list, s.runnerJSON(rn))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(matched), "runners": list})
}

// lookup finds runner_id in sc; callers hold s.mu.
func (s *Server) lookup(r *request, sc scopeRef) *runnerRecord {
	id, err := strconv.ParseInt(r.PathValue("runner_id"), 10, 64)
	if err != nil {
		return nil
	}
	rr := s.runners[id]
	if rr == nil || rr.scope.key() != sc.key() {
		return nil
	}
	return rr
}

// getRunner emulates GET .../actions/runners/{runner_id}
// (docs.github.com/rest/actions/self-hosted-runners#get-a-self-hosted-runner-for-a-repository).
func (s *Server) getRunner(w http.ResponseWriter, r *request, sc scopeRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rr := s.lookup(r, sc)
	if rr == nil {
		writeError(w, http.StatusNotFound, "Not Found", docsRunners)
		return
	}
	writeJSON(w, http.StatusOK, s.runnerJSON(rr.snapshot()))
}

// deleteRunner emulates DELETE .../actions/runners/{runner_id}
// (docs.github.com/rest/actions/self-hosted-runners#delete-a-self-hosted-runner-from-a-repository):
// 204, 404 when unknown, 422 with GitHub's wording when the runner is running a job.
func (s *Server) deleteRunner(w http.ResponseWriter, r *request, sc scopeRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rr := s.lookup(r, sc)
	if rr == nil {
		writeError(w, http.StatusNotFound, "Not Found", docsRunners)
		return
	}
	if rr.Busy {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Bad request - Runner %q is still running a job\"", rr.Name), docsRunners)
		return
	}
	delete(s.runners, rr.ID)
	s.runnerRemovedLocked(rr.ID)
	w.WriteHeader(http.StatusNoContent)
}

type regToken struct {
	scope     string
	expiresAt time.Time
}

// runnerToken emulates the registration-token and remove-token endpoints
// (docs.github.com/rest/actions/self-hosted-runners#create-a-registration-token-for-a-repository;
// fixtures actions.create-{registration,remove}-token-for-{repo,org}.201.json).
func (s *Server) runnerToken(w http.ResponseWriter, r *request, sc scopeRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := strings.ToUpper(randomAlnum(29))
	exp := s.now().Add(time.Hour)
	s.regTokens[tok] = regToken{scope: sc.key(), expiresAt: exp}
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires_at": exp.Format("2006-01-02T15:04:05.000Z07:00")})
}

// RegistrationTokenScope tells which scope a registration or remove token was issued
// for, while it is unexpired: what a simulated config.sh-style runner would check.
func (s *Server) RegistrationTokenScope(token string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.regTokens[token]
	if !ok || !s.now().Before(t.expiresAt) {
		return "", false
	}
	return t.scope, true
}

// listRunnerGroups emulates GET /orgs/{org}/actions/runner-groups
// (docs.github.com/rest/actions/self-hosted-runner-groups; fixture
// actions.list-self-hosted-runner-groups-for-org.200.json).
func (s *Server) listRunnerGroups(w http.ResponseWriter, r *request) {
	sc := orgScope(r.Request)
	s.mu.Lock()
	groups := maps.Clone(s.runnerGroups[sc.key()])
	s.mu.Unlock()
	if groups == nil {
		groups = map[int64]string{}
	}
	groups[1] = "Default"
	perPage, page := s.pageParams(r.Request)
	ids := slices.Sorted(maps.Keys(groups))
	lo, hi := paginate(w, r.Request, len(ids), perPage, page)
	list := make([]map[string]any, 0, hi-lo)
	for _, id := range ids[lo:hi] {
		list = append(list, map[string]any{
			"id": id, "name": groups[id], "visibility": "all", "default": id == 1,
			"runners_url": apiURL(r.Request, fmt.Sprintf("/orgs/%s/actions/runner_groups/%d/runners", sc.Owner, id)),
			"inherited":   false, "allows_public_repositories": false, "restricted_to_workflows": false,
			"selected_workflows": []string{}, "workflow_restrictions_read_only": false,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(ids), "runner_groups": list})
}
