// Package statemachine holds the Runner Fleet workflow definitions, the one artifact that
// both AWS (through the CDK stack's DefinitionSubstitutions) and fleet-local (through
// Substitute and the Node engine in _engine/) execute.
//
// The definitions are Amazon States Language in JSONPath mode with ${Name} placeholders
// for every ARN and name; nothing numeric is substituted, so each file is valid JSON as
// committed. docs/workflow.md describes the states and the errors they end with.
package statemachine

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
)

var (
	//go:embed runnerfleet.asl.json
	runnerFleet []byte
	//go:embed imagebuild.asl.json
	imageBuild []byte
)

// placeholder matches ${Name}, the DefinitionSubstitutions syntax.
var placeholder = regexp.MustCompile(`\$\{([A-Za-z][A-Za-z0-9_]*)\}`)

// Names of the state machines as deployed.
const (
	RunnerFleetName = "RunnerFleet"
	ImageBuildName  = "RunnerFleetImageBuild"
)

// RunnerFleet returns the main workflow definition (one execution per queued job), with
// its placeholders. The caller owns the returned slice.
func RunnerFleet() []byte { return bytes.Clone(runnerFleet) }

// ImageBuild returns the image build workflow definition (one execution per image tag,
// the build lock), with its placeholders. The caller owns the returned slice.
func ImageBuild() []byte { return bytes.Clone(imageBuild) }

// RunnerFleetKeys lists the placeholders of RunnerFleet: the substitution keys the CDK
// stack and fleet-local must provide.
func RunnerFleetKeys() []string { return Keys(runnerFleet) }

// ImageBuildKeys lists the placeholders of ImageBuild.
func ImageBuildKeys() []string { return Keys(imageBuild) }

// Keys lists the ${Name} placeholders in def, sorted, each once.
func Keys(def []byte) []string {
	var keys []string
	for _, m := range placeholder.FindAllSubmatch(def, -1) {
		keys = append(keys, string(m[1]))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// SubstitutionError says which placeholders had no value and which values had no
// placeholder; either means the caller and the definition disagree about the contract.
type SubstitutionError struct {
	Missing []string // placeholders in the definition without a value
	Unused  []string // values whose key is no placeholder of the definition
}

func (e *SubstitutionError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "placeholders without a value: "+strings.Join(e.Missing, ", "))
	}
	if len(e.Unused) > 0 {
		parts = append(parts, "values without a placeholder: "+strings.Join(e.Unused, ", "))
	}
	return "substitute state machine definition: " + strings.Join(parts, "; ") +
		" (the keys must be exactly statemachine.Keys of the definition)"
}

// Substitute replaces every ${Name} in def with values[Name], escaped as JSON string
// content (the placeholders sit inside JSON strings; an ARN needs no escaping, so the
// result equals what Step Functions' DefinitionSubstitutions produces). It fails with a
// *SubstitutionError when a placeholder has no value or a value has no placeholder, and
// when the result is not valid JSON.
func Substitute(def []byte, values map[string]string) ([]byte, error) {
	keys := Keys(def)
	serr := &SubstitutionError{}
	for _, k := range keys {
		if _, ok := values[k]; !ok {
			serr.Missing = append(serr.Missing, k)
		}
	}
	for k := range values {
		if _, found := slices.BinarySearch(keys, k); !found {
			serr.Unused = append(serr.Unused, k)
		}
	}
	if len(serr.Missing) > 0 || len(serr.Unused) > 0 {
		slices.Sort(serr.Unused)
		return nil, serr
	}
	out := placeholder.ReplaceAllFunc(def, func(m []byte) []byte {
		value := values[string(placeholder.FindSubmatch(m)[1])]
		quoted, _ := json.Marshal(value) // a string always marshals
		return quoted[1 : len(quoted)-1]
	})
	if !json.Valid(out) {
		return nil, errors.New("substitute state machine definition: the result is not valid JSON; is a placeholder outside a JSON string?")
	}
	return out, nil
}
