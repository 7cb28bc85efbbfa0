package fleet

import "encoding/json"

// Invocation is what every activity Lambda receives from the state machine:
// {"state": <the state document>, "execution": <execution ARN>}.
type Invocation struct {
	State     State  `json:"state"`
	Execution string `json:"execution"`
	// Recheck is set by RecheckImage: ResolveImage runs again after a build that another
	// execution owned, and a still-missing image is ImageBuildFailed.
	Recheck bool `json:"recheck,omitempty"`
}

// State is the workflow's state document: the Job at the root plus each state's result
// under its own key (docs/contract.md).
type State struct {
	Job
	Plan    *Plan                  `json:"plan,omitempty"`
	Build   json.RawMessage        `json:"build,omitempty"`
	Runner  *Runner                `json:"runner,omitempty"`
	Run     *Run                   `json:"run,omitempty"`
	Failure map[string]StepFailure `json:"failure,omitempty"`
}

// StepFailure is what a Catch writes: Step Functions' {"Error", "Cause"}.
type StepFailure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Plan is ResolveImage's output: everything the later states need.
type Plan struct {
	Image    ImagePlan `json:"image"`
	Class    Class     `json:"class"`
	Launch   Launch    `json:"launch"`
	Timeouts Timeouts  `json:"timeouts"`
}

// ImagePlan says which image the runner uses and whether it must be built first.
type ImagePlan struct {
	Ref               string `json:"ref"`
	Tag               string `json:"tag"`
	URI               string `json:"uri"`
	Exists            bool   `json:"exists"`
	Arch              string `json:"arch"`
	TaskDefinitionArn string `json:"task_definition_arn"`
	// BuildName is the RunnerFleetImageBuild execution name for this tag (the build lock).
	BuildName string `json:"build_name"`
	// BuildInput is that execution's input; identical for every job wanting the tag, so
	// concurrent StartExecution calls join the same build.
	BuildInput json.RawMessage `json:"build_input,omitempty"`
}

// Launch is the RunTask request RunRunner sends, in Step Functions' PascalCase.
type Launch struct {
	Cluster                  string                `json:"Cluster"`
	TaskDefinition           string                `json:"TaskDefinition"`
	CapacityProviderStrategy []CapacityProviderUse `json:"CapacityProviderStrategy"`
	// OnDemandStrategy is the fallback when Spot has no capacity.
	OnDemandStrategy     []CapacityProviderUse `json:"OnDemandStrategy"`
	NetworkConfiguration NetworkConfiguration  `json:"NetworkConfiguration"`
	Cpu                  string                `json:"Cpu"`
	Memory               string                `json:"Memory"`
	EphemeralStorageGiB  int                   `json:"EphemeralStorageGiB,omitempty"`
	Tags                 []Tag                 `json:"Tags"`
}

// CapacityProviderUse is one entry of a capacity provider strategy.
type CapacityProviderUse struct {
	CapacityProvider string `json:"CapacityProvider"`
	Weight           int    `json:"Weight"`
}

// NetworkConfiguration is ECS's awsvpc network configuration.
type NetworkConfiguration struct {
	AwsvpcConfiguration AwsvpcConfiguration `json:"AwsvpcConfiguration"`
}

// AwsvpcConfiguration lists subnets and security groups; AssignPublicIp is ENABLED or DISABLED.
type AwsvpcConfiguration struct {
	Subnets        []string `json:"Subnets"`
	SecurityGroups []string `json:"SecurityGroups"`
	AssignPublicIp string   `json:"AssignPublicIp"`
}

// Tag is an ECS tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Timeouts drive TimeoutSecondsPath and SecondsPath in the state machine.
type Timeouts struct {
	BuildSeconds     int `json:"build_seconds"`
	IdleSeconds      int `json:"idle_seconds"`
	RunnerTTLSeconds int `json:"runner_ttl_seconds"`
}

// Runner is RequestRunner's output.
type Runner struct {
	Name   string   `json:"name"`
	ID     int64    `json:"id"`
	Scope  string   `json:"scope"` // "repo:owner/name" or "org:name"
	Labels []string `json:"labels"`
	// SealedJITConfig is the JIT config sealed by internal/seal; never the plaintext.
	SealedJITConfig string `json:"sealed_jit_config"`
}

// Run is the Runner Parallel's output: the ECS task as Step Functions returned it (or
// the branch's caught error) and ReapIfIdle's answer.
type Run struct {
	Task json.RawMessage `json:"task,omitempty"`
	Reap *Reap           `json:"reap,omitempty"`
}

// Reap is ReapIfIdle's output.
type Reap struct {
	// Outcome is "reaped" (registration deleted, task stopped), "busy" (422: a job is
	// running), "gone" (404: the runner already left) or "error".
	Outcome string `json:"outcome"`
	TaskArn string `json:"task_arn,omitempty"`
	// Failure is what the state machine caught when ReapIfIdle itself failed (outcome
	// "error", written by the ReapFailed Pass state).
	Failure *StepFailure `json:"failure,omitempty"`
}

// Reap outcomes (Reap.Outcome).
const (
	ReapReaped = "reaped"
	ReapBusy   = "busy"
	ReapGone   = "gone"
	ReapError  = "error"
)

// ReapStopReason is the ECS stopped reason ReapIfIdle gives the task of a runner it
// reaped; Cleanup recognises a reaped runner by it even when the reap's own answer was
// lost. ECS keeps at most 255 characters of a reason.
const ReapStopReason = "runner-fleet: idle runner reaped (registration deleted)"

// RunnerContainer is the runner task definition's container name (docs/contract.md).
const RunnerContainer = "runner"

// Result is Cleanup's output and the execution's output: what happened.
type Result struct {
	Outcome    string `json:"outcome"` // OutcomeJobCompleted, OutcomeReapedIdle, OutcomeFailed
	RunnerName string `json:"runner_name"`
	TaskArn    string `json:"task_arn,omitempty"`
	ExitCode   *int   `json:"exit_code,omitempty"`
	JobRan     bool   `json:"job_ran"`
	Error      string `json:"error,omitempty"`
	Cause      string `json:"cause,omitempty"`
}

// Result outcomes (Result.Outcome).
const (
	OutcomeJobCompleted = "job_completed"
	OutcomeReapedIdle   = "reaped_idle"
	OutcomeFailed       = "failed"
)
