package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/runnerfleet/fleet/internal/fleet"
)

// TestEngineInputs reads what the real RunnerFleet definition hands Cleanup on each path,
// recorded by running it in the local engine (testdata/engine-inputs.js), and checks
// the verdict: the Go reading of $.run and $.failure agrees with what the ASL writes.
func TestEngineInputs(t *testing.T) {
	data, err := os.ReadFile("testdata/engine-inputs.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name string `json:"name"`
		Want struct {
			Outcome string `json:"outcome"`
			Error   string `json:"error"`
			Cause   string `json:"cause"`
		} `json:"want"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 10 {
		t.Fatalf("only %d recorded engine inputs", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var in fleet.Invocation
			if err := json.Unmarshal(tc.Payload, &in); err != nil {
				t.Fatalf("the payload is not a fleet.Invocation: %v", err)
			}
			if !strings.HasPrefix(in.Execution, "arn:aws:states:") {
				t.Errorf("execution %q is not an execution ARN", in.Execution)
			}
			v := analyze(in.State)
			if v.outcome != tc.Want.Outcome || v.errName != tc.Want.Error {
				t.Errorf("verdict %s %s (%s); want %s %s", v.outcome, v.errName, v.cause, tc.Want.Outcome, tc.Want.Error)
			}
			if !strings.Contains(v.cause, tc.Want.Cause) {
				t.Errorf("cause %q; want it to contain %q", v.cause, tc.Want.Cause)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	long := strings.Repeat("é", maxCause)
	got := oneLine("a\n\tb  " + long)
	if strings.ContainsAny(got, "\n\t") || len(got) > maxCause+len("…") || !strings.HasPrefix(got, "a b é") || !strings.HasSuffix(got, "…") {
		t.Errorf("oneLine = %q (%d bytes)", got[:20], len(got))
	}
	if !json.Valid([]byte(`"` + got + `"`)) {
		t.Error("oneLine cut a rune in half")
	}
}
