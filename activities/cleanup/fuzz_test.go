package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/runnerfleet/fleet/internal/fleet"
)

// FuzzAnalyze feeds state documents, seeded with the ones the real definition produces,
// to the verdict: whatever a state writes, Cleanup names one outcome, a failure always
// has a name, and the cause stays one bounded line.
func FuzzAnalyze(f *testing.F) {
	data, err := os.ReadFile("testdata/engine-inputs.json")
	if err != nil {
		f.Fatal(err)
	}
	var cases []struct {
		Payload struct {
			State json.RawMessage `json:"state"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		f.Add([]byte(c.Payload.State))
	}
	f.Add([]byte(`{"run":{"task":{"failure":{"RunRunner":{"Error":"States.TaskFailed","Cause":"{\"TaskArn\":\"x\",\"Containers\":[{\"ExitCode\":-1}]}"}}}}}`))
	f.Add([]byte(`{"failure":{"BuildImage":{"Error":"States.TaskFailed","Cause":"{\"Cause\":\"{\\\"Build\\\":{\\\"Logs\\\":{\\\"DeepLink\\\":\\\"https://x\\\"}}}\"}"}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var st fleet.State
		if json.Unmarshal(doc, &st) != nil {
			return
		}
		v := analyze(st)
		switch v.outcome {
		case fleet.OutcomeJobCompleted, fleet.OutcomeReapedIdle:
			if v.errName != "" {
				t.Fatalf("%s with error %q", v.outcome, v.errName)
			}
		case fleet.OutcomeFailed:
			if v.errName == "" {
				t.Fatalf("failed without an error name (cause %q)", v.cause)
			}
		default:
			t.Fatalf("outcome %q", v.outcome)
		}
		if strings.ContainsAny(v.cause, "\n\r\t") || len(v.cause) > maxCause+len("…") || !utf8.ValidString(v.cause) && utf8.ValidString(string(doc)) {
			t.Fatalf("cause is not one bounded line: %q", v.cause)
		}
	})
}
