package activity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/fleet"
)

func TestWrapReportsNamedErrors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantType string
	}{
		{"workflow error", fleet.Errorf(fleet.ErrImageNotAllowed, "image %q is not allowed", "evil:1"), "ImageNotAllowed"},
		{"wrapped workflow error", errors.Join(errors.New("x"), fleet.Errorf(fleet.ErrGitHubAuthFailed, "bad credentials")), "GitHubAuthFailed"},
		{"throttle", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}, "AWSThrottled"},
		{"other", errors.New("boom"), "ActivityFailed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := Wrap(slog.New(slog.NewJSONHandler(&logs, nil)), func(context.Context, fleet.Invocation) (struct{}, error) { return struct{}{}, tc.err })
			_, err := h(context.Background(), json.RawMessage(`{"state":{},"execution":"arn:x"}`))
			var ie messages.InvokeResponse_Error
			if !errors.As(err, &ie) || ie.Type != tc.wantType {
				t.Fatalf("got %#v; want type %s", err, tc.wantType)
			}
			if !strings.Contains(logs.String(), tc.wantType) {
				t.Errorf("log does not name the error type: %s", logs.String())
			}
		})
	}
}

func TestWrapRejectsMalformedPayload(t *testing.T) {
	h := Wrap(slog.New(slog.DiscardHandler), func(context.Context, fleet.Invocation) (int, error) { return 1, nil })
	_, err := h(context.Background(), json.RawMessage(`[1,2]`))
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) || ie.Type != fleet.ErrInvalidInput {
		t.Fatalf("got %#v; want InvalidInput", err)
	}
}
