// Command cdk is the Runner Fleet CDK app: `cdk synth` / `cdk deploy` from the repository
// root run it (cdk.json: "go run ./cdk"). It decodes the CDK context once into a typed
// Config, fails synth naming any field to change, and builds the RunnerFleet stack.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// StackName is the stack's name; fleetctl reads its outputs by this name.
const StackName = "RunnerFleet"

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "runner-fleet synth:", err)
		os.Exit(1)
	}
}

// run builds and synthesizes the app. The stack fails by panicking (CDK's way, and
// jsii's for a failed validation such as a cdk-nag error); run turns that into one error.
func run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	root, fileContext, err := LoadCDKJSON(".")
	if err != nil {
		return err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &fileContext})
	cfg, err := ConfigFromApp(app, fileContext)
	if err != nil {
		return err
	}
	// Environment-agnostic on purpose: synth needs no credentials and no lookups, and
	// the same template deploys to any account and region.
	NewRunnerFleetStack(app, StackName, &RunnerFleetStackProps{Config: cfg, Root: root})
	app.Synth(nil)
	return nil
}

// LoadCDKJSON finds cdk.json in dir or the nearest parent and returns that directory
// (the repository root) and its "context" object. `go run` and `go test` ignore
// cdk.json, so both load it here and pass it as AppProps.Context: one template either way.
func LoadCDKJSON(dir string) (string, map[string]any, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, fmt.Errorf("find cdk.json: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "cdk.json"))
		if errors.Is(err, os.ErrNotExist) {
			if filepath.Dir(d) == d {
				return "", nil, fmt.Errorf("no cdk.json in %s or any parent; run from the repository root", abs)
			}
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("read cdk.json: %w", err)
		}
		var doc struct {
			Context map[string]any `json:"context"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return "", nil, fmt.Errorf("%s is not valid JSON: %w", filepath.Join(d, "cdk.json"), err)
		}
		if doc.Context == nil {
			doc.Context = map[string]any{}
		}
		return d, doc.Context, nil
	}
}

// ConfigFromApp decodes and validates the app's context: cdk.json's keys plus whatever
// the CLI passed (CDK_CONTEXT_JSON, which includes -c values), read back through the
// app so the CLI's values win as they do for CDK itself.
func ConfigFromApp(app awscdk.App, fileContext map[string]any) (Config, error) {
	keys := map[string]bool{}
	for k := range fileContext {
		keys[k] = true
	}
	if raw := os.Getenv("CDK_CONTEXT_JSON"); raw != "" {
		var cli map[string]any
		if err := json.Unmarshal([]byte(raw), &cli); err == nil {
			for k := range cli {
				keys[k] = true
			}
		}
	}
	for _, k := range ContextKeys() {
		keys[k] = true
	}
	ctx := map[string]any{}
	for k := range keys {
		if v := app.Node().TryGetContext(jsii.String(k)); v != nil {
			ctx[k] = v
		}
	}
	cfg, err := DecodeConfig(ctx)
	if err != nil {
		return Config{}, fmt.Errorf("invalid configuration, nothing synthesized:\n%w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("invalid configuration, nothing synthesized:\n%w", err)
	}
	return cfg, nil
}
