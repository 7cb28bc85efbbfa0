package awsfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

// newTestFake starts the fake on httptest and returns it with an aws.Config whose
// clients call it. Retries are off so each SDK call is one HTTP call; tests of the
// retryer set their own.
func newTestFake(t *testing.T, opts Options) (*Server, aws.Config, string) {
	t.Helper()
	srv := New(opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg, err := srv.AWSConfig(context.Background(), hs.URL, func(c *aws.Config) {
		c.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg, hs.URL
}

// rawCall posts body to the fake with target and returns status, content type and the
// decoded JSON body, so tests can check the wire form the SDK hides.
func rawCall(t *testing.T, url, target, contentType string, body string, signed bool) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", contentType)
	if signed {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+TestAccessKeyID+"/20260101/us-east-1/x/aws4_request, SignedHeaders=host, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s answered %d with a body that is not JSON: %q", target, resp.StatusCode, data)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), m
}

// wantAPIError checks that err is the SDK's typed error T (or, for unmodeled codes, an
// API error with that code) and carries message.
func wantAPIError[T error](t *testing.T, err error, code, message string) {
	t.Helper()
	var typed T
	if !errors.As(err, &typed) {
		t.Fatalf("error = %T %v, want %T", err, err, typed)
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not a smithy.APIError", err)
	}
	if apiErr.ErrorCode() != code {
		t.Errorf("code = %q, want %q", apiErr.ErrorCode(), code)
	}
	if message != "" && apiErr.ErrorMessage() != message {
		t.Errorf("message = %q, want %q", apiErr.ErrorMessage(), message)
	}
}
