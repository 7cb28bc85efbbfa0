package awsfake

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// queryService is the awsQuery service (CloudFormation); nil until one registers.
func (s *Server) queryService() *service {
	for _, svc := range s.byID {
		if svc.query {
			return svc
		}
	}
	return nil
}

// serveQuery answers an awsQuery call: a form POST naming Action and Version, answered
// in XML, errors under <ErrorResponse><Error>.
func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, reqID string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil || len(body) > maxRequestBody {
		writeQueryError(w, reqID, &APIError{Code: "MalformedQueryString", Message: "request body unreadable or too large"})
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeQueryError(w, reqID, &APIError{Code: "MalformedQueryString", Message: err.Error()})
		return
	}
	action, version := form.Get("Action"), form.Get("Version")
	svc := s.queryService()
	if svc == nil || svc.ops[action] == nil {
		writeQueryError(w, reqID, errorf("InvalidAction", "Could not find operation %s for version %s", action, version))
		s.log.Debug("aws call", "action", action, "status", http.StatusBadRequest, "error", "InvalidAction")
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeQueryError(w, reqID, &APIError{Status: http.StatusForbidden, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token"})
		return
	}
	out, err := s.call(r.Context(), svc, action, body)
	if err != nil {
		apiErr := s.asAPIError(svc, action, err)
		writeQueryError(w, reqID, apiErr)
		s.log.Debug("aws call", "service", svc.id, "operation", action, "status", apiErr.status(), "error", apiErr.Code)
		return
	}
	data, _ := out.([]byte)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
	s.log.Debug("aws call", "service", svc.id, "operation", action, "status", http.StatusOK)
}

func writeQueryError(w http.ResponseWriter, reqID string, e *APIError) {
	typ := e.Type
	if typ == "" {
		typ = "Sender"
		if e.status() >= 500 {
			typ = "Receiver"
		}
	}
	var buf bytes.Buffer
	buf.WriteString(`<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">` + "\n<Error>\n<Type>")
	xml.EscapeText(&buf, []byte(typ))
	buf.WriteString("</Type>\n<Code>")
	xml.EscapeText(&buf, []byte(e.Code))
	buf.WriteString("</Code>\n<Message>")
	xml.EscapeText(&buf, []byte(e.Message))
	buf.WriteString("</Message>\n</Error>\n<RequestId>")
	xml.EscapeText(&buf, []byte(reqID))
	buf.WriteString("</RequestId>\n</ErrorResponse>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(e.status())
	w.Write(buf.Bytes())
}
