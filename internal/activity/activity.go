// Package activity is the boundary between an activity handler and the Lambda runtime:
// it decodes and validates the state machine's invocation, runs the handler, and turns
// whatever error it returns into the named error type the state machine's Retry and Catch
// match (docs/contract.md). Handlers stay plain Go functions, testable without Lambda.
package activity

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/fleet"
)

// Handler is an activity: it receives the state document and execution ARN and returns
// its part of the state document.
type Handler[Out any] func(ctx context.Context, in fleet.Invocation) (Out, error)

// Logger is the JSON logger every activity writes to stdout (Lambda filters by "level").
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, nil))
}

// AWSConfig loads the SDK configuration a function's clients share; attempts > 0 sets how
// often the SDK tries each call (with its own backoff), 0 keeps the SDK's default. A
// failure ends the process, which Lambda reports as an init error: without it no client
// could answer.
func AWSConfig(log *slog.Logger, attempts int) aws.Config {
	var opts []func(*config.LoadOptions) error
	if attempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(attempts))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		log.Error("loading AWS configuration failed", "error", err)
		os.Exit(1)
	}
	return cfg
}

// Start runs h under the Lambda runtime. It never returns.
func Start[Out any](log *slog.Logger, h Handler[Out]) {
	lambda.Start(Wrap(log, h))
}

// Wrap adapts h to the Lambda handler shape: raw JSON in, named errors out. It is what
// Start runs and what the local environment invokes.
func Wrap[Out any](log *slog.Logger, h Handler[Out]) func(ctx context.Context, payload json.RawMessage) (Out, error) {
	return func(ctx context.Context, payload json.RawMessage) (Out, error) {
		var zero Out
		var in fleet.Invocation
		dec := json.NewDecoder(strings.NewReader(string(payload)))
		if err := dec.Decode(&in); err != nil {
			err = fleet.Errorf(fleet.ErrInvalidInput, "the invocation is not the state document this activity expects: %v", err)
			return zero, report(ctx, log, err)
		}
		out, err := h(ctx, in)
		if err != nil {
			return zero, report(ctx, log, err)
		}
		return out, nil
	}
}

// report logs err once and converts it to the error the runtime reports.
func report(ctx context.Context, log *slog.Logger, err error) error {
	e := Classify(err)
	log.ErrorContext(ctx, "activity failed", "error_type", e.Type, "error", e.Message)
	return e
}

// Classify maps any error to the Lambda error whose Type the state machine matches:
// a *fleet.WorkflowError keeps its name; AWS throttling after the SDK's own retries
// becomes AWSThrottled (the workflow retries it); anything else is ActivityFailed.
func Classify(err error) messages.InvokeResponse_Error {
	if name := fleet.NameOf(err); name != "" {
		return messages.InvokeResponse_Error{Type: name, Message: err.Error()}
	}
	if IsThrottle(err) {
		return messages.InvokeResponse_Error{Type: fleet.ErrAWSThrottled, Message: err.Error()}
	}
	return messages.InvokeResponse_Error{Type: "ActivityFailed", Message: err.Error()}
}

// IsThrottle reports whether err is an AWS throttling answer.
func IsThrottle(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
		"ThrottledException", "RequestThrottled", "RequestThrottledException", "ProvisionedThroughputExceededException":
		return true
	}
	return false
}

// Invalid returns an InvalidInput error naming what was wrong with the state document.
func Invalid(format string, args ...any) error {
	return fleet.Errorf(fleet.ErrInvalidInput, format, args...)
}

// Misconfigured returns a ConfigurationInvalid error naming the field to fix.
func Misconfigured(format string, args ...any) error {
	return fleet.Errorf(fleet.ErrConfigurationInvalid, format, args...)
}

// RequireJob validates the job at the root of the state document.
func RequireJob(in fleet.Invocation) error {
	if err := in.State.Job.Validate(); err != nil {
		return Invalid("state document's job is invalid: %v", err)
	}
	if !strings.HasPrefix(in.Execution, "arn:") {
		return Invalid("execution %q is not an execution ARN; the state machine passes $$.Execution.Id", in.Execution)
	}
	return nil
}

// ExecutionName is the last segment of an execution ARN.
func ExecutionName(executionARN string) string {
	i := strings.LastIndexByte(executionARN, ':')
	return executionARN[i+1:]
}

// StartMisconfigured runs, in place of the real handler, one that fails every invocation
// with ConfigurationInvalid naming what is wrong with the environment: the execution then
// reports the bad variable instead of an opaque runtime exit. It never returns.
func StartMisconfigured[Out any](log *slog.Logger, cfgErr error) {
	log.Error("invalid configuration", "error", cfgErr)
	Start(log, func(context.Context, fleet.Invocation) (Out, error) {
		var zero Out
		return zero, Misconfigured("the function's environment is invalid: %v", cfgErr)
	})
}
