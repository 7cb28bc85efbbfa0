package awsfake

import (
	"fmt"
	"maps"
	"sync"
	"time"
)

// Fault is what SetFault injects into one operation (or all operations of a service).
// The checks run in field order: a forced error first, then the token bucket, then the
// throttle ratio. Throttled calls answer the service's throttling error (ECS:
// ThrottlingException "Rate exceeded", HTTP 400), which the SDK's retryer retries.
type Fault struct {
	// Err, when set, is answered instead of running the operation.
	Err *APIError
	// Count limits Err to the next Count calls; 0 applies it to every call.
	Count int
	// Bucket, when set, throttles calls once it is empty (one token per call).
	Bucket *TokenBucket
	// ThrottleRatio throttles this fraction of calls (0..1), drawn from the server's
	// seeded generator (Options.Seed) so runs repeat.
	ThrottleRatio float64
	// Delay holds every answer (error or not) this long, as a slow API would; the wait
	// ends early when the caller gives up.
	Delay time.Duration
}

type faultState struct {
	f         Fault
	remaining int
}

// SetFault injects f into service's operation; operation "*" applies it to every
// operation of the service (on top of an operation's own fault, which is checked first). service is the SDK package
// name ("sfn", "secretsmanager", "kms", "ecs", "ssm", "ecr", "codebuild",
// "cloudformation"); operation is the API name ("RunTask"). It replaces an earlier fault.
func (s *Server) SetFault(service, operation string, f Fault) error {
	svc := s.byID[service]
	if svc == nil {
		return fmt.Errorf("set fault: unknown service %q; use one of sfn, secretsmanager, kms, ecs, ssm, ecr, codebuild, cloudformation", service)
	}
	if operation != "*" && svc.ops[operation] == nil {
		return fmt.Errorf("set fault: service %s has no operation %q emulated", service, operation)
	}
	if f.Delay < 0 {
		return fmt.Errorf("set fault: delay %v must not be negative", f.Delay)
	}
	if f.ThrottleRatio < 0 || f.ThrottleRatio > 1 {
		return fmt.Errorf("set fault: throttle ratio %v must be between 0 and 1", f.ThrottleRatio)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[service+"."+operation] = &faultState{f: f, remaining: f.Count}
	return nil
}

// ClearFault removes the fault set on service's operation ("*" for the service-wide one).
func (s *Server) ClearFault(service, operation string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, service+"."+operation)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Calls is how many calls service's operation received, faulted ones included.
func (s *Server) Calls(service, operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[service+"."+operation]
}

// CallCounts returns every counter, keyed "service.Operation" (e.g. "ecs.RunTask").
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// ResetCalls zeroes every counter.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

// admit counts the call and answers an injected fault, if any, and how long to hold
// the answer. The operation's own fault is checked first, then the service-wide one:
// both apply, as a per-action bucket and an account-wide limit both do in AWS.
func (s *Server) admit(svc *service, op string) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[svc.id+"."+op]++
	var delay time.Duration
	for _, key := range []string{svc.id + "." + op, svc.id + ".*"} {
		st := s.faults[key]
		if st == nil {
			continue
		}
		delay = max(delay, st.f.Delay)
		if err := s.trip(svc, st); err != nil {
			return delay, err
		}
	}
	return delay, nil
}

// trip applies one fault: forced error, then bucket, then ratio.
func (s *Server) trip(svc *service, st *faultState) error {
	if st.f.Err != nil && (st.f.Count == 0 || st.remaining > 0) {
		if st.f.Count > 0 {
			st.remaining--
		}
		cp := *st.f.Err
		cp.bare = cp.Namespace == ""
		return &cp
	}
	if st.f.Bucket != nil && !st.f.Bucket.Take(1) {
		return throttleError(svc)
	}
	if st.f.ThrottleRatio > 0 && s.rng.Float64() < st.f.ThrottleRatio {
		return throttleError(svc)
	}
	return nil
}

// throttleError is the service's answer to a call over its rate.
func throttleError(svc *service) *APIError {
	if svc.query {
		return &APIError{Code: "Throttling", Message: "Rate exceeded", Type: "Sender", bare: true}
	}
	// ECS documents this exact body (fixtures/aws/ecs/errors.json); the other JSON
	// services use the same common-error code.
	return &APIError{Code: "ThrottlingException", Message: "Rate exceeded", bare: true}
}

// TokenBucket is a refilling bucket of call (or task-launch) tokens, the way AWS rate
// limits its APIs: it holds at most Capacity tokens and gains Refill per second.
type TokenBucket struct {
	mu       sync.Mutex
	capacity float64
	refill   float64
	tokens   float64
	last     time.Time
	now      func() time.Time
}

// NewTokenBucket returns a full bucket. quotas.json lists AWS's numbers, e.g. Fargate
// task launches: capacity 100, refill 20 per second.
func NewTokenBucket(capacity, refillPerSecond float64) *TokenBucket {
	return &TokenBucket{capacity: capacity, refill: refillPerSecond, tokens: capacity, now: time.Now}
}

// NewTokenBucket is the package NewTokenBucket on the server's clock (Options.Now), so
// a simulated clock drives the refill too.
func (s *Server) NewTokenBucket(capacity, refillPerSecond float64) *TokenBucket {
	b := NewTokenBucket(capacity, refillPerSecond)
	b.now = s.now
	return b
}

// Take removes n tokens when the bucket holds them and reports whether it did.
func (b *TokenBucket) Take(n float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fill()
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// Tokens is the number of tokens available now.
func (b *TokenBucket) Tokens() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fill()
	return b.tokens
}

func (b *TokenBucket) fill() {
	now := b.now()
	if !b.last.IsZero() {
		b.tokens = min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.refill)
	}
	b.last = now
}
