package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// HandleURL adapts a Lambda Function URL (or API Gateway HTTP API v2.0) event.
func (h *Handler) HandleURL(ctx context.Context, ev events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	var body []byte
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return toURLResponse(answer(http.StatusBadRequest, StatusRejected, "body is marked base64 but is not valid base64")), nil
		}
		body = b
	} else {
		body = []byte(ev.Body)
	}
	headers := make(http.Header, len(ev.Headers))
	for k, v := range ev.Headers {
		headers.Set(k, v)
	}
	return toURLResponse(h.Serve(ctx, Request{Method: ev.RequestContext.HTTP.Method, Headers: headers, Body: body})), nil
}

func toURLResponse(r Response) events.LambdaFunctionURLResponse {
	b, _ := json.Marshal(r.Body)
	return events.LambdaFunctionURLResponse{
		StatusCode: r.Status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}

// ServeHTTP serves deliveries over plain HTTP (the local environment and tests).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	var resp Response
	if err != nil {
		resp = answer(http.StatusBadRequest, StatusRejected, "could not read the body")
	} else {
		resp = h.Serve(r.Context(), Request{Method: r.Method, Headers: r.Header, Body: body})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.Status)
	_ = json.NewEncoder(w).Encode(resp.Body)
}
