// Command echo is a test Lambda for lambdalocal: it echoes, fails with a named error,
// sleeps past its timeout, or exits mid-invocation, as the payload asks.
package main

import (
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

type in struct {
	Do    string          `json:"do"`
	Value json.RawMessage `json:"value"`
	// Function URL events have a body.
	Body string `json:"body"`
}

func main() {
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (any, error) {
		var req in
		_ = json.Unmarshal(raw, &req)
		switch req.Do {
		case "fail":
			return nil, messages.InvokeResponse_Error{Type: "ImageNotAllowed", Message: "image x is not allowed"}
		case "sleep":
			time.Sleep(10 * time.Second)
		case "exit":
			os.Exit(3)
		case "env":
			return os.Getenv("ECHO_SETTING"), nil
		}
		if req.Body != "" {
			return events.LambdaFunctionURLResponse{StatusCode: 202, Headers: map[string]string{"Content-Type": "application/json"}, Body: req.Body}, nil
		}
		return req.Value, nil
	})
}
