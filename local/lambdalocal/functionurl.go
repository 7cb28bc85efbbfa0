package lambdalocal

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// maxURLRequest is Lambda's synchronous invocation payload limit; a Function URL refuses
// larger requests before the function runs.
const maxURLRequest = 6 << 20

// FunctionURL serves a function behind a Lambda Function URL (auth type NONE, BUFFERED):
// each HTTP request becomes the payload-format-2.0 event Lambda sends, with lower-cased
// headers and a base64 body when it is not UTF-8 text, and the function's response
// document becomes the HTTP answer.
func (r *Runtime) FunctionURL(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, maxURLRequest+1))
		if err != nil || len(body) > maxURLRequest {
			http.Error(w, `{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}`, http.StatusRequestEntityTooLarge)
			return
		}
		ev := events.LambdaFunctionURLRequest{
			Version:        "2.0",
			RawPath:        req.URL.Path,
			RawQueryString: req.URL.RawQuery,
			Headers:        map[string]string{},
		}
		for k, v := range req.Header {
			ev.Headers[strings.ToLower(k)] = strings.Join(v, ",")
		}
		ev.RequestContext.HTTP.Method = req.Method
		ev.RequestContext.HTTP.Path = req.URL.Path
		ev.RequestContext.HTTP.Protocol = req.Proto
		ev.RequestContext.HTTP.SourceIP = strings.Split(req.RemoteAddr, ":")[0]
		ev.RequestContext.HTTP.UserAgent = req.UserAgent()
		ev.RequestContext.RequestID = req.Header.Get("X-GitHub-Delivery")
		ev.RequestContext.TimeEpoch = time.Now().UnixMilli()
		if strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") || (utf8.Valid(body) && strings.HasPrefix(req.Header.Get("Content-Type"), "text/")) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
		payload, _ := json.Marshal(ev)
		out, err := r.Invoke(req.Context(), name, payload)
		var fe *FunctionError
		if errors.As(err, &fe) || err != nil {
			// A Function URL answers 502 when the function errors.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"Message":"Internal Server Error"}`))
			return
		}
		var resp events.LambdaFunctionURLResponse
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(out)
			return
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		respBody := []byte(resp.Body)
		if resp.IsBase64Encoded {
			respBody, _ = base64.StdEncoding.DecodeString(resp.Body)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(respBody)
	})
}
