package githubfake

// Webhooks configuration: repository and organisation hooks and their recent
// deliveries, for fleetctl's setup and doctor commands. Sending deliveries belongs to
// the local environment's dispatcher; it reads hooks with Hooks and records what it
// sent with RecordDelivery.

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hook is a snapshot of one webhook.
type Hook struct {
	ID int64
	// Scope is "repo:owner/name" or "org:name", lower-cased.
	Scope       string
	Active      bool
	Events      []string
	URL         string
	ContentType string
	// Secret is what the hook signs deliveries with (the API never shows it).
	Secret      string
	InsecureSSL string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Delivery is one recorded webhook delivery, as GET .../hooks/{id}/deliveries lists it.
type Delivery struct {
	ID             int64
	GUID           string
	DeliveredAt    time.Time
	Redelivery     bool
	Duration       time.Duration
	StatusCode     int
	Event          string
	Action         string
	InstallationID int64
	RepositoryID   int64
}

type hookRecord struct {
	Hook
	scope      scopeRef
	deliveries []Delivery // oldest first
}

func (h *hookRecord) snapshot() Hook {
	out := h.Hook
	out.Events = slices.Clone(out.Events)
	return out
}

func (s *Server) registerHooks() {
	type variant struct {
		prefix, api string
		scope       func(*http.Request) scopeRef
		perm        string
		pats        []string
	}
	for _, v := range []variant{
		{"/repos/{owner}/{repo}", "repos", repoScope, "repository_hooks", []string{"admin:repo_hook", "repo"}},
		{"/orgs/{org}", "orgs", orgScope, "organization_hooks", []string{"admin:org_hook"}},
	} {
		read := access{scope: v.scope, permission: v.perm, level: "read", patScopes: v.pats}
		write := access{scope: v.scope, permission: v.perm, level: "write", patScopes: v.pats}
		scope := v.scope
		s.handle("GET "+v.prefix+"/hooks", v.api+"/list-webhooks", read,
			func(w http.ResponseWriter, r *request) { s.listHooks(w, r, scope(r.Request)) })
		s.handle("POST "+v.prefix+"/hooks", v.api+"/create-webhook", write,
			func(w http.ResponseWriter, r *request) { s.createHook(w, r, scope(r.Request)) })
		s.handle("GET "+v.prefix+"/hooks/{hook_id}", v.api+"/get-webhook", read,
			func(w http.ResponseWriter, r *request) { s.getHook(w, r, scope(r.Request)) })
		s.handle("PATCH "+v.prefix+"/hooks/{hook_id}", v.api+"/update-webhook", write,
			func(w http.ResponseWriter, r *request) { s.updateHook(w, r, scope(r.Request)) })
		s.handle("DELETE "+v.prefix+"/hooks/{hook_id}", v.api+"/delete-webhook", write,
			func(w http.ResponseWriter, r *request) { s.deleteHook(w, r, scope(r.Request)) })
		s.handle("GET "+v.prefix+"/hooks/{hook_id}/deliveries", v.api+"/list-webhook-deliveries", read,
			func(w http.ResponseWriter, r *request) { s.listDeliveries(w, r, scope(r.Request)) })
	}
}

type hookConfigBody struct {
	URL         *string `json:"url"`
	ContentType *string `json:"content_type"`
	Secret      *string `json:"secret"`
	InsecureSSL any     `json:"insecure_ssl"` // GitHub accepts "0"/"1" or a number
}

type hookBody struct {
	Name         *string         `json:"name"`
	Active       *bool           `json:"active"`
	Events       []string        `json:"events"`
	AddEvents    []string        `json:"add_events"`
	RemoveEvents []string        `json:"remove_events"`
	Config       *hookConfigBody `json:"config"`
}

// validationFailed is GitHub's 422 with an errors array.
func validationFailed(w http.ResponseWriter, docs string, field, code, message string) {
	e := map[string]any{"resource": "Hook", "code": code}
	if field != "" {
		e["field"] = field
	}
	if message != "" {
		e["message"] = message
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": []any{e}, "documentation_url": docs, "status": "422",
	})
}

func hookDocs(sc scopeRef) string {
	if sc.isOrg() {
		return docsOrgHooks
	}
	return docsHooks
}

// createHook emulates POST /repos/{owner}/{repo}/hooks and POST /orgs/{org}/hooks
// (docs.github.com/rest/repos/webhooks#create-a-repository-webhook,
// docs.github.com/rest/orgs/webhooks#create-an-organization-webhook).
func (s *Server) createHook(w http.ResponseWriter, r *request, sc scopeRef) {
	var body hookBody
	if !decodeBody(w, r.Request, &body) {
		return
	}
	docs := hookDocs(sc)
	if body.Name != nil && *body.Name != "web" {
		validationFailed(w, docs, "name", "invalid", "")
		return
	}
	if sc.isOrg() && body.Name == nil {
		validationFailed(w, docs, "name", "missing_field", "")
		return
	}
	if body.Config == nil || body.Config.URL == nil || *body.Config.URL == "" {
		validationFailed(w, docs, "url", "custom", "url cannot be blank")
		return
	}
	h := Hook{Scope: sc.key(), Active: true, Events: []string{"push"}, ContentType: "form", InsecureSSL: "0"}
	if body.Active != nil {
		h.Active = *body.Active
	}
	if body.Events != nil {
		h.Events = slices.Clone(body.Events)
	}
	applyConfig(&h, body.Config)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, other := range s.hooks {
		if other.scope.key() == sc.key() && other.URL == h.URL {
			what := "repository"
			if sc.isOrg() {
				what = "organization"
			}
			validationFailed(w, docs, "", "custom", "Hook already exists on this "+what)
			return
		}
	}
	h.ID = s.newID()
	h.CreatedAt, h.UpdatedAt = s.now(), s.now()
	rec := &hookRecord{Hook: h, scope: sc}
	s.hooks[h.ID] = rec
	writeJSON(w, http.StatusCreated, s.hookJSON(r.Request, rec))
}

func applyConfig(h *Hook, c *hookConfigBody) {
	if c == nil {
		return
	}
	if c.URL != nil {
		h.URL = *c.URL
	}
	if c.ContentType != nil {
		h.ContentType = *c.ContentType
	}
	if c.Secret != nil {
		h.Secret = *c.Secret
	}
	switch v := c.InsecureSSL.(type) {
	case string:
		h.InsecureSSL = v
	case float64:
		h.InsecureSSL = strconv.Itoa(int(v))
	}
}

func (s *Server) hookJSON(r *http.Request, h *hookRecord) map[string]any {
	path := "/repos/" + h.scope.Owner + "/" + h.scope.Repo
	typ := "Repository"
	if h.scope.isOrg() {
		path, typ = "/orgs/"+h.scope.Owner, "Organization"
	}
	self := fmt.Sprintf("%s/hooks/%d", path, h.ID)
	cfg := map[string]any{"url": h.URL, "content_type": h.ContentType, "insecure_ssl": h.InsecureSSL}
	if h.Secret != "" {
		cfg["secret"] = "********"
	}
	last := map[string]any{"code": nil, "status": "unused", "message": nil}
	if n := len(h.deliveries); n > 0 {
		d := h.deliveries[n-1]
		status := "active"
		if d.StatusCode < 200 || d.StatusCode > 299 {
			status = "failed"
		}
		last = map[string]any{"code": d.StatusCode, "status": status, "message": http.StatusText(d.StatusCode)}
	}
	out := map[string]any{
		"type": typ, "id": h.ID, "name": "web", "active": h.Active, "events": h.Events, "config": cfg,
		"updated_at": timestamp(h.UpdatedAt), "created_at": timestamp(h.CreatedAt),
		"url": apiURL(r, self), "ping_url": apiURL(r, self+"/pings"), "deliveries_url": apiURL(r, self+"/deliveries"),
		"last_response": last,
	}
	if !h.scope.isOrg() {
		out["test_url"] = apiURL(r, self+"/test")
	}
	return out
}

// listHooks emulates GET .../hooks (docs.github.com/rest/repos/webhooks#list-repository-webhooks).
func (s *Server) listHooks(w http.ResponseWriter, r *request, sc scopeRef) {
	perPage, page := s.pageParams(r.Request)
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*hookRecord
	for _, id := range slices.Sorted(maps.Keys(s.hooks)) {
		if h := s.hooks[id]; h.scope.key() == sc.key() {
			matched = append(matched, h)
		}
	}
	lo, hi := paginate(w, r.Request, len(matched), perPage, page)
	list := make([]map[string]any, 0, hi-lo)
	for _, h := range matched[lo:hi] {
		list = append(list, s.hookJSON(r.Request, h))
	}
	writeJSON(w, http.StatusOK, list)
}

// hookIn finds hook_id in sc; callers hold s.mu.
func (s *Server) hookIn(r *request, sc scopeRef) *hookRecord {
	id, err := strconv.ParseInt(r.PathValue("hook_id"), 10, 64)
	if err != nil {
		return nil
	}
	h := s.hooks[id]
	if h == nil || h.scope.key() != sc.key() {
		return nil
	}
	return h
}

// getHook emulates GET .../hooks/{hook_id}.
func (s *Server) getHook(w http.ResponseWriter, r *request, sc scopeRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hookIn(r, sc)
	if h == nil {
		writeError(w, http.StatusNotFound, "Not Found", hookDocs(sc))
		return
	}
	writeJSON(w, http.StatusOK, s.hookJSON(r.Request, h))
}

// updateHook emulates PATCH .../hooks/{hook_id}
// (docs.github.com/rest/repos/webhooks#update-a-repository-webhook): given config
// fields replace the stored ones; events, add_events and remove_events edit the list.
func (s *Server) updateHook(w http.ResponseWriter, r *request, sc scopeRef) {
	var body hookBody
	if !decodeBody(w, r.Request, &body) {
		return
	}
	if body.Config != nil && body.Config.URL != nil && *body.Config.URL == "" {
		validationFailed(w, hookDocs(sc), "url", "custom", "url cannot be blank")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hookIn(r, sc)
	if h == nil {
		writeError(w, http.StatusNotFound, "Not Found", hookDocs(sc))
		return
	}
	if body.Active != nil {
		h.Active = *body.Active
	}
	if body.Events != nil {
		h.Events = slices.Clone(body.Events)
	}
	for _, e := range body.AddEvents {
		if !slices.Contains(h.Events, e) {
			h.Events = append(h.Events, e)
		}
	}
	h.Events = slices.DeleteFunc(h.Events, func(e string) bool { return slices.Contains(body.RemoveEvents, e) })
	applyConfig(&h.Hook, body.Config)
	h.UpdatedAt = s.now()
	writeJSON(w, http.StatusOK, s.hookJSON(r.Request, h))
}

// deleteHook emulates DELETE .../hooks/{hook_id}.
func (s *Server) deleteHook(w http.ResponseWriter, r *request, sc scopeRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hookIn(r, sc)
	if h == nil {
		writeError(w, http.StatusNotFound, "Not Found", hookDocs(sc))
		return
	}
	delete(s.hooks, h.ID)
	w.WriteHeader(http.StatusNoContent)
}

// listDeliveries emulates GET .../hooks/{hook_id}/deliveries
// (docs.github.com/rest/repos/webhooks#list-deliveries-for-a-repository-webhook):
// newest first, cursor pagination through the Link header.
func (s *Server) listDeliveries(w http.ResponseWriter, r *request, sc scopeRef) {
	perPage, _ := s.pageParams(r.Request)
	offset, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	s.mu.Lock()
	h := s.hookIn(r, sc)
	if h == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found", hookDocs(sc))
		return
	}
	ds := slices.Clone(h.deliveries)
	s.mu.Unlock()
	slices.Reverse(ds)
	offset = min(max(offset, 0), len(ds))
	end := min(len(ds), offset+perPage)
	if end < len(ds) {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		if r.TLS != nil {
			u.Scheme = "https"
		}
		q := u.Query()
		q.Set("per_page", strconv.Itoa(perPage))
		q.Set("cursor", strconv.Itoa(end))
		u.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", u.String()))
	}
	list := make([]map[string]any, 0, end-offset)
	for _, d := range ds[offset:end] {
		status := "OK"
		if d.StatusCode < 200 || d.StatusCode > 299 {
			status = strings.TrimSpace(fmt.Sprintf("%d %s", d.StatusCode, http.StatusText(d.StatusCode)))
		}
		var action any
		if d.Action != "" {
			action = d.Action
		}
		list = append(list, map[string]any{
			"id": d.ID, "guid": d.GUID, "delivered_at": timestamp(d.DeliveredAt), "redelivery": d.Redelivery,
			"duration": d.Duration.Seconds(), "status": status, "status_code": d.StatusCode,
			"event": d.Event, "action": action, "installation_id": d.InstallationID, "repository_id": d.RepositoryID,
		})
	}
	writeJSON(w, http.StatusOK, list)
}

// Hooks lists the webhooks configured on scope ("" for all), by id, secrets included:
// the local dispatcher signs deliveries with them.
func (s *Server) Hooks(scope string) []Hook {
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
	var out []Hook
	for _, id := range slices.Sorted(maps.Keys(s.hooks)) {
		if h := s.hooks[id]; key == "" || h.scope.key() == key {
			out = append(out, h.snapshot())
		}
	}
	return out
}

// RecordDelivery appends a delivery to a hook's history (assigning ID and, when
// empty, DeliveredAt) and returns it.
func (s *Server) RecordDelivery(hookID int64, d Delivery) (Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hooks[hookID]
	if h == nil {
		return Delivery{}, errors.New("githubfake: no hook " + strconv.FormatInt(hookID, 10))
	}
	d.ID = s.newID()
	if d.DeliveredAt.IsZero() {
		d.DeliveredAt = s.now()
	}
	h.deliveries = append(h.deliveries, d)
	return d, nil
}
