// Package githubfake is a protocol-level fake of the GitHub REST API, served under
// /api/v3/ (the GitHub Enterprise Server shape), so the real go-github client — and
// with it the fleet's api_url handling — is exercised in every test.
//
// It emulates the endpoints the fleet calls: GitHub App installation tokens, runner
// registration (JIT configs, registration and remove tokens), listing, reading and
// deleting runners, and repository/organisation webhooks. Answers follow GitHub's
// official response examples (shared/fixtures/github/rest), its error wording, status
// codes, Link pagination and rate-limit headers. Authentication is checked: tokens
// must be known personal access tokens or unexpired installation tokens minted from an
// RS256 JWT signed by a registered App key, and permissions are enforced per
// installation (403 "Resource not accessible by integration").
//
// The runner model (register → connect with the JIT config → busy/idle → removed) is
// driven by Go methods so the local environment can simulate runners; fault knobs
// inject 5xx answers, secondary rate limits, forced statuses and latency, and a call
// counter per route feeds the benchmark. README.md lists each endpoint and the GitHub
// page it emulates.
//
// Files are split by API area, as go-github's services are: apps.go (App JWTs,
// installations, tokens), runners.go (runners and JIT), hooks.go (webhooks config),
// faults.go (knobs, counters, rate limits); auth.go checks credentials. The Actions
// side, switched on by EnableActions, is jobs.go (job queue, cancellation, queue
// timeout), dispatcher.go (GitHub's label rule, runner sessions), deliveries.go (signed
// workflow_job webhooks) and control.go (the /_local/ control API).
package githubfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BasePath is the prefix every API route is served under (GitHub Enterprise Server's
// REST path). Requests outside it are answered 404.
const BasePath = "/api/v3"

// Documentation URLs GitHub puts in error bodies; clients (go-github among them)
// recognise some of them, e.g. the secondary-rate-limit suffix.
const (
	docsREST          = "https://docs.github.com/rest"
	docsRateLimits    = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	docsSecondaryRate = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	docsRunners       = "https://docs.github.com/rest/actions/self-hosted-runners"
	docsAppTokens     = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
	docsHooks         = "https://docs.github.com/rest/repos/webhooks"
	docsOrgHooks      = "https://docs.github.com/rest/orgs/webhooks"
)

// Config sets up a Server. The zero value is usable.
type Config struct {
	// Clock tells the fake's time: installation-token expiry and rate-limit windows
	// follow it, so tests can age tokens. App JWTs are checked against the wall clock,
	// as GitHub does, because their issuers sign them with the wall clock. Default
	// time.Now.
	Clock func() time.Time
	// TokenTTL is the lifetime of installation tokens (GitHub: one hour).
	TokenTTL time.Duration
	// DefaultPerPage is the page size when a list request names none. GitHub uses 30;
	// the fake defaults to 3 so pagination loops run in small tests.
	DefaultPerPage int
	// Seed makes the 5xx ratio reproducible; 0 picks a random seed.
	Seed uint64
	// Logger receives one debug line per request; nil discards. Tokens and JIT
	// configs are never logged.
	Logger *slog.Logger
}

// Server is the fake. It is an http.Handler; wrap it in httptest.NewServer (tests) or
// an http.Server (fleet-local). All state sits behind one mutex, so it is safe for
// concurrent use, and every exported method may be called while it serves.
type Server struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger

	mu     sync.Mutex
	rng    *mrand.Rand
	nextID int64

	// apps.go
	apps          map[int64]*app
	installations map[int64]*Installation
	instTokens    map[string]*installationToken
	pats          map[string]*pat

	// runners.go
	runners      map[int64]*runnerRecord
	labelIDs     map[string]int64
	runnerGroups map[string]map[int64]string // scope key → group id → name
	regTokens    map[string]regToken

	// hooks.go
	hooks map[int64]*hookRecord

	// faults.go
	faults  Faults
	forced  map[string]*forcedStatus
	calls   map[string]int64
	primary map[string]*rateWindow
	writes  map[string][]time.Time

	// jobs.go, dispatcher.go, deliveries.go, control.go: nil until EnableActions.
	actions *actions
}

// New returns a Server with no apps, installations or tokens; register them with
// AddApp, AddInstallation and AddPAT.
func New(cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.DefaultPerPage <= 0 {
		cfg.DefaultPerPage = 3
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:           cfg,
		mux:           http.NewServeMux(),
		log:           log,
		rng:           mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		nextID:        1,
		apps:          map[int64]*app{},
		installations: map[int64]*Installation{},
		instTokens:    map[string]*installationToken{},
		pats:          map[string]*pat{},
		runners:       map[int64]*runnerRecord{},
		labelIDs:      map[string]int64{},
		runnerGroups:  map[string]map[int64]string{},
		regTokens:     map[string]regToken{},
		hooks:         map[int64]*hookRecord{},
		forced:        map[string]*forcedStatus{},
		calls:         map[string]int64{},
		primary:       map[string]*rateWindow{},
		writes:        map[string][]time.Time{},
	}
	s.registerApps()
	s.registerRunners()
	s.registerHooks()
	s.registerControl()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.setRateHeaders(w, s.anonymousKey(r), 1)
		writeError(w, http.StatusNotFound, "Not Found", docsREST)
	})
	return s
}

// ServeHTTP serves the API under BasePath.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-GitHub-Request-Id", s.requestID())
	w.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) now() time.Time { return s.cfg.Clock() }

// newID hands out ids for runners, hooks and deliveries; callers hold s.mu.
func (s *Server) newID() int64 {
	id := s.nextID
	s.nextID++
	return id
}

func (s *Server) requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:4]) + ":" + hex.EncodeToString(b[4:]))
}

// Request is what a route handler receives once the request passed faults, auth and
// rate limits.
type request struct {
	*http.Request
	p     *principal
	route string
}

// access says what a route requires of the caller.
type access struct {
	// app routes take an App JWT; the others take a PAT or an installation token.
	app bool
	// scope derives the repo/org the route touches from the path; nil for none.
	scope func(r *http.Request) scopeRef
	// permission is the installation permission the route needs ("administration"),
	// level "read" or "write"; patScopes are the classic PAT scopes accepted.
	permission string
	level      string
	patScopes  []string
}

// handle registers pattern (a Go ServeMux pattern without BasePath) as route, the
// name the counters and forced statuses use (GitHub's operationId).
func (s *Server) handle(pattern, route string, acc access, h func(http.ResponseWriter, *request)) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		panic("githubfake: pattern needs a method: " + pattern)
	}
	s.mux.HandleFunc(method+" "+BasePath+path, func(w http.ResponseWriter, r *http.Request) {
		s.serveRoute(w, r, route, acc, h)
	})
}

func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, route string, acc access, h func(http.ResponseWriter, *request)) {
	start := time.Now()
	s.mu.Lock()
	s.calls[route]++
	latency := s.faults.Latency
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		s.log.Debug("github fake request", "route", route, "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration", time.Since(start))
	}()

	p, status, msg := s.authenticate(r, acc.app)
	if status != 0 {
		s.setRateHeaders(rec, s.anonymousKey(r), 1)
		writeError(rec, status, msg, docsREST)
		return
	}
	if !s.takePrimary(rec, p) {
		return
	}
	if s.injectFault(rec, route) {
		return
	}
	if isWrite(r.Method) && !s.takeWrite(rec, p, route) {
		return
	}
	if acc.scope != nil {
		if !s.authorize(rec, p, acc.scope(r), acc) {
			return
		}
	}
	h(rec, &request{Request: r, p: p, route: route})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// errorBody is GitHub's error document.
type errorBody struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status,omitempty"`
}

func writeError(w http.ResponseWriter, status int, message, docs string) {
	writeJSON(w, status, errorBody{Message: message, DocumentationURL: docs, Status: strconv.Itoa(status)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// decodeBody decodes a JSON request body into v; on failure it answers 400 as GitHub
// does ("Problems parsing JSON") and reports false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", docsREST)
		return false
	}
	return true
}

// pageParams reads per_page (max 100) and page (1-based) as GitHub does.
func (s *Server) pageParams(r *http.Request) (perPage, page int) {
	perPage = s.cfg.DefaultPerPage
	if v, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	page = 1
	if v, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && v > 0 {
		page = v
	}
	return perPage, page
}

// paginate returns the [lo, hi) slice bounds of page and sets the Link header the way
// GitHub does: next and last while pages remain, first and prev after page one.
func paginate(w http.ResponseWriter, r *http.Request, total, perPage, page int) (lo, hi int) {
	last := max(1, int(math.Ceil(float64(total)/float64(perPage))))
	link := func(p int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		if r.TLS != nil {
			u.Scheme = "https"
		}
		q := u.Query()
		q.Set("per_page", strconv.Itoa(perPage))
		q.Set("page", strconv.Itoa(p))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min(total, (page-1)*perPage)
	hi = min(total, lo+perPage)
	return lo, hi
}

// apiURL is the absolute API URL of path on the host the request reached.
func apiURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + BasePath + path
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
