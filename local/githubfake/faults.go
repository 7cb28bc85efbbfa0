package githubfake

// Fault injection, call counters and rate limits.

import (
	"maps"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Faults are the knobs that make the fake misbehave the ways GitHub does. The zero
// value injects nothing.
type Faults struct {
	// ServerErrorRatio is the share (0..1) of authenticated API calls answered
	// 502 "Server Error".
	ServerErrorRatio float64
	// WritesPerMinute caps POST/PATCH/PUT/DELETE calls per credential in any
	// 60-second window; past it GitHub's secondary rate limit answers 403 with
	// Retry-After. 0 disables.
	WritesPerMinute int
	// WriteWindow is the window WritesPerMinute counts over; default one minute, as on
	// GitHub. A scaled local environment shortens it so a limited burst recovers in
	// seconds (Retry-After follows it).
	WriteWindow time.Duration
	// WritesPerRoute counts WritesPerMinute per credential and route, as GitHub's
	// "points per minute per REST endpoint" does (JIT configs and runner deletions
	// then have separate budgets); false counts every write of a credential together.
	WritesPerRoute bool
	// PrimaryLimit is the hourly request budget per credential (GitHub: 5000 for
	// installations and users). 0 means 5000. Past it: 403 with X-RateLimit-Remaining 0.
	PrimaryLimit int
	// Latency delays every API answer.
	Latency time.Duration
}

// Forced is a canned answer for a route.
type Forced struct {
	Status int
	// Times is how many calls get it; 0 or less means until ClearForced.
	Times int
	// Message overrides GitHub's usual message for Status.
	Message string
	// Header is added to the answer (e.g. Retry-After, X-RateLimit-Remaining).
	Header http.Header
}

type forcedStatus struct {
	Forced
	left int
}

type rateWindow struct {
	limit int
	used  int
	reset time.Time
}

// Secondary-rate-limit message, worded as GitHub words it.
const secondaryMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID "

// SetFaults replaces the fault knobs.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// ForceStatus answers the next times calls of route (an operationId such as
// "actions/delete-self-hosted-runner-from-repo"; README.md lists them) with status and
// GitHub's usual message for it. times <= 0 forces until ClearForced.
func (s *Server) ForceStatus(route string, status, times int) {
	s.ForceResponse(route, Forced{Status: status, Times: times})
}

// ForceResponse is ForceStatus with a custom message and headers.
func (s *Server) ForceResponse(route string, f Forced) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forced[route] = &forcedStatus{Forced: f, left: f.Times}
}

// ClearForced removes every forced answer.
func (s *Server) ClearForced() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.forced)
}

// Calls returns the number of calls per route (operationId) since the start or the
// last ResetCalls, counting every call that reached a route, refused or not.
func (s *Server) Calls() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// CallCount is Calls()[route].
func (s *Server) CallCount(route string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

var defaultMessages = map[int]string{
	http.StatusUnauthorized:        "Bad credentials",
	http.StatusForbidden:           "Resource not accessible by integration",
	http.StatusNotFound:            "Not Found",
	http.StatusConflict:            "Conflict",
	http.StatusUnprocessableEntity: "Validation Failed",
	http.StatusTooManyRequests:     "API rate limit exceeded",
	http.StatusInternalServerError: "Server Error",
	http.StatusBadGateway:          "Server Error",
	http.StatusServiceUnavailable:  "Service Unavailable",
}

// injectFault answers a forced status or a random 5xx; it reports whether it answered.
func (s *Server) injectFault(w http.ResponseWriter, route string) bool {
	s.mu.Lock()
	f := s.forced[route]
	var forced *Forced
	if f != nil {
		cp := f.Forced
		forced = &cp
		if f.Times > 0 {
			f.left--
			if f.left <= 0 {
				delete(s.forced, route)
			}
		}
	}
	fail := forced == nil && s.faults.ServerErrorRatio > 0 && s.rng.Float64() < s.faults.ServerErrorRatio
	s.mu.Unlock()
	switch {
	case forced != nil:
		msg := forced.Message
		if msg == "" {
			msg = defaultMessages[forced.Status]
		}
		if msg == "" {
			msg = http.StatusText(forced.Status)
		}
		for k, vs := range forced.Header {
			w.Header()[k] = vs
		}
		if forced.Status == http.StatusNoContent {
			w.WriteHeader(forced.Status)
			return true
		}
		writeError(w, forced.Status, msg, docsREST)
		return true
	case fail:
		writeError(w, http.StatusBadGateway, "Server Error", docsREST)
		return true
	}
	return false
}

func (s *Server) primaryLimit() int {
	if s.faults.PrimaryLimit > 0 {
		return s.faults.PrimaryLimit
	}
	return 5000
}

// window returns the current hourly window of key; callers hold s.mu.
func (s *Server) window(key string, limit int) *rateWindow {
	now := s.now()
	rw := s.primary[key]
	if rw == nil || !now.Before(rw.reset) {
		rw = &rateWindow{reset: now.Add(time.Hour).Truncate(time.Second)}
		s.primary[key] = rw
	}
	rw.limit = limit
	return rw
}

func writeRateHeaders(w http.ResponseWriter, rw *rateWindow) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(rw.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, rw.limit-rw.used)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(rw.reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(rw.used))
	h.Set("X-RateLimit-Resource", "core")
}

// takePrimary spends one request of p's hourly budget and writes the rate-limit
// headers; past the budget it answers GitHub's 403 and reports false.
func (s *Server) takePrimary(w http.ResponseWriter, p *principal) bool {
	s.mu.Lock()
	rw := s.window(p.rateKey(), s.primaryLimit())
	exhausted := rw.used >= rw.limit
	if !exhausted {
		rw.used++
	}
	cp := *rw
	s.mu.Unlock()
	writeRateHeaders(w, &cp)
	if exhausted {
		writeError(w, http.StatusForbidden, "API rate limit exceeded for "+p.rateSubject()+".", docsRateLimits)
		return false
	}
	return true
}

// setRateHeaders reports (and spends) the unauthenticated budget of the caller's
// address: 60 an hour, as on GitHub.
func (s *Server) setRateHeaders(w http.ResponseWriter, key string, cost int) {
	s.mu.Lock()
	rw := s.window(key, 60)
	rw.used = min(rw.limit, rw.used+cost)
	cp := *rw
	s.mu.Unlock()
	writeRateHeaders(w, &cp)
}

func (s *Server) anonymousKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

// takeWrite enforces the secondary (content-creation) limit on writes.
func (s *Server) takeWrite(w http.ResponseWriter, p *principal, route string) bool {
	s.mu.Lock()
	limit := s.faults.WritesPerMinute
	if limit <= 0 {
		s.mu.Unlock()
		return true
	}
	window := s.faults.WriteWindow
	if window <= 0 {
		window = time.Minute
	}
	now := s.now()
	key := p.rateKey()
	if s.faults.WritesPerRoute {
		key += " " + route
	}
	recent := s.writes[key][:0]
	for _, t := range s.writes[key] {
		if now.Sub(t) < window {
			recent = append(recent, t)
		}
	}
	if len(recent) >= limit {
		wait := recent[0].Add(window).Sub(now)
		s.writes[key] = recent
		s.mu.Unlock()
		secs := max(1, int((wait+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusForbidden, secondaryMessage+w.Header().Get("X-GitHub-Request-Id")+".", docsSecondaryRate)
		return false
	}
	s.writes[key] = append(recent, now)
	s.mu.Unlock()
	return true
}
