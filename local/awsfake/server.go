package awsfake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "123456789012"
)

// maxRequestBody bounds what the fake reads from one request. AWS limits differ per
// service (Step Functions input 256 KiB, ECS RunTask 64 KiB of overrides...); the
// per-operation limits are enforced where they apply, this only protects the process.
const maxRequestBody = 8 << 20

// Options configure a Server. The zero value is usable.
type Options struct {
	// Region and Account appear in every ARN. Defaults: us-east-1, 123456789012.
	Region  string
	Account string
	// Logger receives one debug line per call (service, operation, status, error code)
	// and errors the fake could not answer. Request bodies are never logged: they carry
	// secrets. Nil discards.
	Logger *slog.Logger
	// Now is the clock for timestamps and token buckets. Nil means time.Now.
	Now func() time.Time
	// Seed seeds the generator behind Fault.ThrottleRatio so a run repeats.
	Seed uint64
}

// Server is the fake. It is an http.Handler; mount it on an httptest.Server or a
// listener and point the SDK clients at it (see AWSConfig). Each service's state and
// owner hooks hang off its field. Safe for concurrent use.
type Server struct {
	region  string
	account string
	log     *slog.Logger
	now     func() time.Time

	SFN            *SFN
	SecretsManager *SecretsManager
	KMS            *KMS
	ECS            *ECS
	SSM            *SSM
	ECR            *ECR
	CodeBuild      *CodeBuild
	CloudFormation *CloudFormation

	byPrefix map[string]*service // X-Amz-Target prefix -> service
	byID     map[string]*service // "ecs" -> service

	mu     sync.Mutex
	faults map[string]*faultState // "ecs.RunTask" or "ecs.*"
	calls  map[string]int         // "ecs.RunTask"
	rng    *rand.Rand

	seq    atomic.Uint64 // deterministic resource ids
	reqSeq atomic.Uint64 // request ids, apart so calls do not shift resource ids
}

// opFunc runs one operation on a decoded request body and returns the value to encode
// as the JSON response (or the XML bytes, for awsQuery services).
type opFunc func(ctx context.Context, body []byte) (any, error)

// service is one AWS service as the wire sees it.
type service struct {
	id          string // SDK package name: "sfn", "ecs", ... (fault and counter keys)
	prefix      string // X-Amz-Target prefix, "" for awsQuery
	contentType string // response content type
	// namespace prefixes modeled error codes in __type ("ns#Code"); "" sends bare codes.
	namespace string
	// messageField is the casing of the error message member: "message" or "Message".
	messageField string
	query        bool // awsQuery protocol (CloudFormation)
	ops          map[string]opFunc
}

// New builds a Server with empty state for every service.
func New(opts Options) *Server {
	s := &Server{
		region:  opts.Region,
		account: opts.Account,
		log:     opts.Logger,
		now:     opts.Now,
		faults:  map[string]*faultState{},
		calls:   map[string]int{},
		rng:     rand.New(rand.NewPCG(opts.Seed, 0x6177736661)),
	}
	if s.region == "" {
		s.region = DefaultRegion
	}
	if s.account == "" {
		s.account = DefaultAccount
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.byPrefix = map[string]*service{}
	s.byID = map[string]*service{}
	s.SFN = newSFN(s)
	s.SecretsManager = newSecretsManager(s)
	s.KMS = newKMS(s)
	s.ECS = newECS(s)
	s.SSM = newSSM(s)
	s.ECR = newECR(s)
	s.CodeBuild = newCodeBuild(s)
	s.CloudFormation = newCloudFormation(s)
	return s
}

// Region is the region the fake answers for.
func (s *Server) Region() string { return s.region }

// Account is the account id in the fake's ARNs.
func (s *Server) Account() string { return s.account }

func (s *Server) register(svc *service) {
	if svc.prefix != "" {
		s.byPrefix[svc.prefix] = svc
	}
	s.byID[svc.id] = svc
}

// arn builds an ARN in the fake's partition, region and account.
func (s *Server) arn(svc, resource string) string {
	return "arn:aws:" + svc + ":" + s.region + ":" + s.account + ":" + resource
}

// newID returns a deterministic UUID-shaped id: the n-th id of this server for kind.
func (s *Server) newID(kind string) string {
	return uuidOf(kind, s.seq.Add(1))
}

// requestID is the x-amzn-RequestId of the next answer.
func (s *Server) requestID() string {
	return uuidOf("request", s.reqSeq.Add(1))
}

func uuidOf(kind string, n uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	h := sha256.Sum256(append([]byte(kind+"\x00"), b[:]...))
	h[6] = h[6]&0x0f | 0x40 // version 4 layout, as AWS ids look
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// ServeHTTP answers one AWS API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID()
	w.Header().Set("X-Amzn-RequestId", reqID)

	target := r.Header.Get("X-Amz-Target")
	if target == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		s.serveQuery(w, r, reqID)
		return
	}
	prefix, opName, _ := strings.Cut(target, ".")
	svc := s.byPrefix[prefix]
	ct := "application/x-amz-json-1.1"
	if svc != nil {
		ct = svc.contentType
	}
	if r.Method != http.MethodPost || svc == nil || svc.ops[opName] == nil {
		// What AWS's JSON front end answers to a target it does not know.
		writeJSONError(w, ct, &APIError{Code: "UnknownOperationException", Namespace: "com.amazon.coral.service", NoMessage: true}, "message")
		s.log.Debug("aws call", "target", target, "status", http.StatusBadRequest, "error", "UnknownOperationException")
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeJSONError(w, ct, &APIError{Code: "MissingAuthenticationTokenException", Namespace: "com.amazon.coral.service", Message: "Missing Authentication Token"}, svc.messageField)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil || len(body) > maxRequestBody {
		writeJSONError(w, ct, &APIError{Code: "SerializationException", Namespace: "com.amazon.coral.service", Message: "request body unreadable or larger than 8 MiB"}, svc.messageField)
		return
	}
	out, err := s.call(r.Context(), svc, opName, body)
	if err != nil {
		apiErr := s.asAPIError(svc, opName, err)
		writeJSONError(w, ct, apiErr, svc.messageField)
		s.log.Debug("aws call", "service", svc.id, "operation", opName, "status", apiErr.status(), "error", apiErr.Code)
		return
	}
	data, err := json.Marshal(out)
	if err != nil {
		s.log.Error("encode aws response", "service", svc.id, "operation", opName, "error", err)
		writeJSONError(w, ct, &APIError{Status: 500, Code: "InternalFailure", Message: "the fake could not encode its answer"}, svc.messageField)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
	s.log.Debug("aws call", "service", svc.id, "operation", opName, "status", http.StatusOK)
}

// call counts the call, applies any injected fault, then runs the operation.
func (s *Server) call(ctx context.Context, svc *service, opName string, body []byte) (any, error) {
	delay, err := s.admit(svc, opName)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, &APIError{Status: http.StatusRequestTimeout, Code: "RequestTimeoutException", Message: "the caller went away during an injected delay", bare: true}
		}
	}
	if err != nil {
		return nil, err
	}
	return svc.ops[opName](ctx, body)
}

// asAPIError turns an operation's error into the wire error; anything that is not an
// *APIError is a bug in the fake and answers 500 InternalFailure.
func (s *Server) asAPIError(svc *service, opName string, err error) *APIError {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		if apiErr.Namespace == "" && svc.namespace != "" && !apiErr.bare {
			cp := *apiErr
			cp.Namespace = svc.namespace
			return &cp
		}
		return apiErr
	}
	s.log.Error("aws fake operation failed", "service", svc.id, "operation", opName, "error", err)
	return &APIError{Status: 500, Code: "InternalFailure", Message: err.Error()}
}

// APIError is an AWS error answer. Operations return it; tests inject it with Fault.Err.
type APIError struct {
	// Status is the HTTP status; 0 means 400.
	Status int
	// Code is the bare error code, e.g. "ExecutionAlreadyExists".
	Code string
	// Message is the error text. NoMessage omits the member entirely (KMS's
	// InvalidCiphertextException carries none).
	Message   string
	NoMessage bool
	// Namespace, when set, prefixes the code on the wire ("ns#Code"). Empty uses the
	// service's namespace.
	Namespace string
	// Fields are extra modeled members of the error shape.
	Fields map[string]any
	// Type is the awsQuery fault type ("Sender" or "Receiver"); empty picks from Status.
	Type string

	bare bool // keep the code bare even when the service namespaces its errors
}

// Error renders the code and message, as the SDK's API errors do.
func (e *APIError) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

func (e *APIError) status() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

func writeJSONError(w http.ResponseWriter, contentType string, e *APIError, messageField string) {
	typ := e.Code
	if e.Namespace != "" {
		typ = e.Namespace + "#" + e.Code
	}
	body := map[string]any{"__type": typ}
	if !e.NoMessage {
		body[messageField] = e.Message
	}
	for k, v := range e.Fields {
		body[k] = v
	}
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(e.status())
	w.Write(data)
}

// errorf builds a 400 error with a formatted message.
func errorf(code, format string, args ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// validationError is the coral validation layer's answer, shared by the JSON services
// that model ValidationException (Step Functions, KMS, SSM, Secrets Manager...).
func validationError(format string, args ...any) *APIError {
	return &APIError{Code: "ValidationException", Namespace: "com.amazon.coral.validate",
		Message: "1 validation error detected: " + fmt.Sprintf(format, args...)}
}

// decodeInput decodes a JSON request body; an empty body is "{}" (what the SDK sends
// for an empty input). Bad JSON is a SerializationException, as AWS answers.
func decodeInput(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &APIError{Code: "SerializationException", Namespace: "com.amazon.coral.service", Message: "could not parse request body: " + err.Error()}
	}
	return nil
}

// jsonOp adapts a typed operation to an opFunc.
func jsonOp[In any](fn func(ctx context.Context, in *In) (any, error)) opFunc {
	return func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := decodeInput(body, in); err != nil {
			return nil, err
		}
		return fn(ctx, in)
	}
}

// epochTime marshals as epoch seconds with millisecond precision, the timestamp form of
// every awsJson service.
type epochTime time.Time

func (t epochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

// ts is the wire form of t, nil (omitted) when t is zero.
func ts(t time.Time) *epochTime {
	if t.IsZero() {
		return nil
	}
	e := epochTime(t)
	return &e
}

// paginate returns items[start:start+max] and the next token ("" when done). Tokens are
// opaque to clients: an offset bound to a fingerprint of the query, so a token used with
// different parameters is rejected as AWS rejects it.
func paginate[T any](items []T, token string, maxResults, defaultMax int, fingerprint string) ([]T, string, error) {
	if maxResults <= 0 {
		maxResults = defaultMax
	}
	start := 0
	if token != "" {
		fp, off, ok := strings.Cut(token, ".")
		n, err := strconv.Atoi(off)
		if !ok || err != nil || fp != tokenFingerprint(fingerprint) || n < 0 || n > len(items) {
			return nil, "", errInvalidToken
		}
		start = n
	}
	end := min(start+maxResults, len(items))
	next := ""
	if end < len(items) {
		next = tokenFingerprint(fingerprint) + "." + strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

var errInvalidToken = errors.New("invalid pagination token")

func tokenFingerprint(s string) string {
	h := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x", h[:6])
}
