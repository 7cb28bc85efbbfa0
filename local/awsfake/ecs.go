package awsfake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ECS emulates the ECS operations the fleet uses on Fargate: RunTask, DescribeTasks,
// StopTask, ListTasks, TagResource, UntagResource, ListTagsForResource,
// RegisterTaskDefinition and DescribeTaskDefinition, with task shapes from
// fixtures/aws/ecs. Tasks do not run by themselves: RunTask leaves them PROVISIONING
// and calls OnTaskStarted; the owner (simulated runners, a test) moves them with
// SetTaskRunning and StopTaskWithExit.
//
// Capacity shortages (SetCapacityShortage) answer HTTP 200 with failures[], as ECS does;
// rate limits answer ThrottlingException "Rate exceeded" (Server.SetFault, LaunchBucket).
// RunTask enforces the Fargate limits: 8 KiB of overrides, startedBy of 36 characters,
// tag values of 256, count 1..10, awsvpc network configuration, valid CPU/memory pairs.
type ECS struct {
	s *Server

	// OnTaskStarted, when set, is called with a snapshot of each task RunTask created.
	// It must not block. Set it before the server takes requests.
	OnTaskStarted func(t *Task)
	// OnTaskStopping, when set, is called when StopTask asks a task that reached RUNNING
	// to stop; the owner then ends it with StopTaskWithExit (exit code of its choice,
	// empty stop code keeps UserInitiated). When nil, StopTask stops such tasks at once
	// with exit code 143 (SIGTERM). Tasks that never ran stop at once either way.
	OnTaskStopping func(t *Task)
	// StopTimeout, when set with OnTaskStopping, is Fargate's stopTimeout: a task the
	// owner has not ended this long after StopTask is killed (exit code 137, SIGKILL).
	// Fargate's default is 30 s; zero leaves the task to its owner.
	StopTimeout time.Duration
	// LaunchBucket, when set, is Fargate's task-launch rate (quotas.json: 100, refilled
	// 20 per second): each launched task takes a token and RunTask answers
	// ThrottlingException when the bucket cannot cover its count.
	LaunchBucket *TokenBucket

	mu       sync.Mutex
	clusters map[string]*ecsCluster // by name
	families map[string][]*taskDef  // revisions in order, revision n at index n-1
	tasks    map[string]*ecsTask    // by ARN
	order    []*ecsTask
	shortage map[string]*shortage // capacity provider -> injected shortage
}

type ecsCluster struct {
	name, arn string
	tags      []ecsTag
}

type shortage struct {
	remaining int // <0: every placement
	reason    string
}

// CapacityReason is the failures[] reason of a Fargate capacity shortage, quoted from
// AWS re:Post (fixtures/aws/ecs/run-task.failure-capacity.assembled.json).
const CapacityReason = "Capacity is unavailable at this time. Please try again later or in a different availability zone"

// Task is a snapshot of an ECS task for the fake's owner.
type Task struct {
	ARN               string
	ClusterARN        string
	TaskDefinitionARN string
	Family            string
	// LaunchType is FARGATE; CapacityProvider is FARGATE or FARGATE_SPOT when the call
	// used a capacity provider strategy, else "".
	LaunchType       string
	CapacityProvider string
	LastStatus       string
	DesiredStatus    string
	StartedBy        string
	Group            string
	CPU, Memory      string
	Tags             map[string]string
	Containers       []Container
	Subnets          []string
	SecurityGroups   []string
	StopCode         string
	StoppedReason    string
	CreatedAt        time.Time
	StartedAt        time.Time
	StoppedAt        time.Time
}

// StartedByStepFunctions is the StartedBy Step Functions gives the tasks it runs.
const StartedByStepFunctions = "AWS Step Functions"

// Container is one container of a Task, with the environment the task definition and
// the overrides give it.
type Container struct {
	Name        string
	Image       string
	Essential   bool
	Command     []string
	Environment map[string]string
	LastStatus  string
	ExitCode    *int
}

// Task statuses and stop codes used by the lifecycle methods.
const (
	TaskProvisioning = "PROVISIONING"
	TaskRunning      = "RUNNING"
	TaskStopped      = "STOPPED"

	StopCodeEssentialContainerExited = "EssentialContainerExited"
	StopCodeTaskFailedToStart        = "TaskFailedToStart"
	StopCodeUserInitiated            = "UserInitiated"
	StopCodeSpotInterruption         = "SpotInterruption"
)

type taskDef struct {
	arn, family             string
	revision                int
	cpu, memory             string
	networkMode             string
	requires                []string
	executionRoleArn        string
	taskRoleArn             string
	runtimePlatform         json.RawMessage
	ephemeralStorage        json.RawMessage
	containers              []containerDef
	containerDefinitionsRaw json.RawMessage
	registered              time.Time
}

type containerDef struct {
	Name        string         `json:"name"`
	Image       string         `json:"image"`
	Essential   *bool          `json:"essential"`
	Command     []string       `json:"command"`
	Environment []ecsNameValue `json:"environment"`
}

type ecsNameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type ecsTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type ecsTask struct {
	arn, id          string
	cluster          *ecsCluster
	def              *taskDef
	launchType       string
	capacityProvider string
	lastStatus       string
	desiredStatus    string
	startedBy, group string
	cpu, memory      string
	overrides        taskOverride
	tags             []ecsTag
	containers       []*ecsContainer
	subnets, sgs     []string
	attachmentID     string
	eniID, mac, ip   string    // the task's ENI, made up from its id
	connectedAt      time.Time // ENI attached (connectivity CONNECTED)
	stopCode         string
	stoppedReason    string
	version          int64
	createdAt        time.Time
	startedAt        time.Time
	stoppingAt       time.Time
	stoppedAt        time.Time
	ephemeralGiB     int
	az               string // spread over the region's a..c zones by task id
}

type ecsContainer struct {
	arn, name, image string
	essential        bool
	command          []string
	env              map[string]string
	lastStatus       string
	exitCode         *int
	runtimeID        string
	imageDigest      string // set once the image was pulled
}

func newECS(s *Server) *ECS {
	e := &ECS{s: s, clusters: map[string]*ecsCluster{}, families: map[string][]*taskDef{}, tasks: map[string]*ecsTask{}, shortage: map[string]*shortage{}}
	s.register(&service{
		id: "ecs", prefix: "AmazonEC2ContainerServiceV20141113", contentType: "application/x-amz-json-1.1",
		messageField: "message",
		ops: map[string]opFunc{
			"RunTask":                jsonOp(e.runTask),
			"DescribeTasks":          jsonOp(e.describeTasks),
			"StopTask":               jsonOp(e.stopTask),
			"ListTasks":              jsonOp(e.listTasks),
			"TagResource":            jsonOp(e.tagResource),
			"UntagResource":          jsonOp(e.untagResource),
			"ListTagsForResource":    jsonOp(e.listTagsForResource),
			"RegisterTaskDefinition": jsonOp(e.registerTaskDefinition),
			"DescribeTaskDefinition": jsonOp(e.describeTaskDefinition),
		},
	})
	return e
}

// CreateCluster creates the cluster name (no-op when it exists) and returns its ARN.
func (e *ECS) CreateCluster(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.clusters[name]; c != nil {
		return c.arn
	}
	c := &ecsCluster{name: name, arn: e.s.arn("ecs", "cluster/"+name)}
	e.clusters[name] = c
	return c.arn
}

// SetCapacityShortage makes the next n task placements on provider ("FARGATE" or
// "FARGATE_SPOT"; a launch type FARGATE call places on "FARGATE") fail with a
// failures[] entry carrying CapacityReason. n < 0 fails every placement; n == 0 clears.
func (e *ECS) SetCapacityShortage(provider string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n == 0 {
		delete(e.shortage, provider)
		return
	}
	e.shortage[provider] = &shortage{remaining: n, reason: CapacityReason}
}

// Task returns a snapshot of the task with arn.
func (e *ECS) Task(arn string) (*Task, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tasks[arn]
	if t == nil {
		return nil, false
	}
	return t.snapshot(), true
}

// Tasks returns snapshots of every task, oldest first.
func (e *ECS) Tasks() []*Task {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Task, 0, len(e.order))
	for _, t := range e.order {
		out = append(out, t.snapshot())
	}
	return out
}

// SetTaskRunning moves a PROVISIONING task to RUNNING: image pulled, containers
// running, ENI attached.
func (e *ECS) SetTaskRunning(arn string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tasks[arn]
	if t == nil {
		return fmt.Errorf("set task %s running: no such task", arn)
	}
	if t.lastStatus != TaskProvisioning {
		return fmt.Errorf("set task %s running: task is %s, not PROVISIONING", arn, t.lastStatus)
	}
	now := e.s.now()
	t.lastStatus, t.startedAt, t.connectedAt = TaskRunning, now, now
	for _, c := range t.containers {
		c.lastStatus = TaskRunning
		c.imageDigest = imageDigest(c.image)
	}
	t.version = 3 // PROVISIONING 1, PENDING 2, RUNNING 3, as DescribeTasks counts them
	return nil
}

// StopTaskWithExit stops a task as Fargate would after its essential container exited
// (stopCode EssentialContainerExited, reason "Essential container in task exited"),
// failed to start (TaskFailedToStart: the containers never ran, exitCode is ignored),
// was interrupted (SpotInterruption), or after StopTask (UserInitiated). Empty stopCode
// keeps the code StopTask set, else EssentialContainerExited; empty reason picks the
// code's usual text. A task that never reached RUNNING gets no exit code and cannot
// stop with EssentialContainerExited.
func (e *ECS) StopTaskWithExit(arn string, exitCode int, stopCode, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tasks[arn]
	if t == nil {
		return fmt.Errorf("stop task %s: no such task", arn)
	}
	if t.lastStatus == TaskStopped {
		return fmt.Errorf("stop task %s: task already STOPPED (%s)", arn, t.stopCode)
	}
	if stopCode == "" {
		stopCode = t.stopCode
	}
	if stopCode == "" {
		stopCode = StopCodeEssentialContainerExited
	}
	if reason == "" {
		switch {
		case stopCode == t.stopCode && t.stoppedReason != "":
			reason = t.stoppedReason
		case stopCode == StopCodeEssentialContainerExited:
			reason = "Essential container in task exited"
		case stopCode == StopCodeSpotInterruption:
			reason = "Your Spot Task was interrupted."
		default:
			reason = "Task stopped"
		}
	}
	code := &exitCode
	if t.startedAt.IsZero() {
		if stopCode == StopCodeEssentialContainerExited {
			return fmt.Errorf("stop task %s: its containers never ran, so none exited; call SetTaskRunning first or stop it with TaskFailedToStart", arn)
		}
		code = nil // no container ran, so none has an exit code
	}
	if stopCode == StopCodeTaskFailedToStart {
		// The ENI was attached before the image pull failed; no container ran.
		code = nil
		if t.connectedAt.IsZero() {
			t.connectedAt = e.s.now()
		}
	}
	t.stop(e.s.now(), stopCode, reason, code)
	return nil
}

func (t *ecsTask) stop(now time.Time, stopCode, reason string, exitCode *int) {
	if t.stoppingAt.IsZero() {
		t.stoppingAt = now
	}
	t.desiredStatus, t.lastStatus = TaskStopped, TaskStopped
	t.stopCode, t.stoppedReason, t.stoppedAt = stopCode, reason, now
	for _, c := range t.containers {
		c.lastStatus = TaskStopped
		if exitCode != nil && (c.essential || len(t.containers) == 1) {
			v := *exitCode
			c.exitCode = &v
		}
	}
	// Recorded versions: 5 for a task stopped after running, 4 for one that never ran.
	if t.startedAt.IsZero() {
		t.version = 4
	} else {
		t.version = 5
	}
}

func (t *ecsTask) snapshot() *Task {
	out := &Task{
		ARN: t.arn, ClusterARN: t.cluster.arn, TaskDefinitionARN: t.def.arn, Family: t.def.family,
		LaunchType: t.launchType, CapacityProvider: t.capacityProvider,
		LastStatus: t.lastStatus, DesiredStatus: t.desiredStatus, StartedBy: t.startedBy, Group: t.group,
		CPU: t.cpu, Memory: t.memory, Tags: map[string]string{},
		Subnets: slices.Clone(t.subnets), SecurityGroups: slices.Clone(t.sgs),
		StopCode: t.stopCode, StoppedReason: t.stoppedReason,
		CreatedAt: t.createdAt, StartedAt: t.startedAt, StoppedAt: t.stoppedAt,
	}
	for _, tg := range t.tags {
		out.Tags[tg.Key] = tg.Value
	}
	for _, c := range t.containers {
		sc := Container{Name: c.name, Image: c.image, Essential: c.essential, Command: slices.Clone(c.command), Environment: maps.Clone(c.env), LastStatus: c.lastStatus}
		if c.exitCode != nil {
			v := *c.exitCode
			sc.ExitCode = &v
		}
		out.Containers = append(out.Containers, sc)
	}
	return out
}

// --- errors ---------------------------------------------------------------------

func invalidParameter(format string, args ...any) *APIError {
	return errorf("InvalidParameterException", format, args...)
}

var errClusterNotFound = errorf("ClusterNotFoundException", "Cluster not found.")

// cluster resolves a cluster name or ARN; "" is "default", as in ECS.
func (e *ECS) cluster(ref string) (*ecsCluster, error) {
	if ref == "" {
		ref = "default"
	}
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		prefix := e.s.arn("ecs", "cluster/")
		if !strings.HasPrefix(ref, prefix) {
			return nil, errClusterNotFound
		}
		name = strings.TrimPrefix(ref, prefix)
	}
	c := e.clusters[name]
	if c == nil {
		return nil, errClusterNotFound
	}
	return c, nil
}

// taskDefinition resolves family, family:revision or an ARN (latest revision for a
// bare family).
func (e *ECS) taskDefinition(ref string) *taskDef {
	ref = strings.TrimPrefix(ref, e.s.arn("ecs", "task-definition/"))
	family, rev, hasRev := strings.Cut(ref, ":")
	revs := e.families[family]
	if len(revs) == 0 {
		return nil
	}
	if !hasRev {
		return revs[len(revs)-1]
	}
	n, err := strconv.Atoi(rev)
	if err != nil || n < 1 || n > len(revs) {
		return nil
	}
	return revs[n-1]
}

// --- RegisterTaskDefinition / DescribeTaskDefinition ----------------------------

type registerTaskDefinitionInput struct {
	Family                  string          `json:"family"`
	ContainerDefinitions    json.RawMessage `json:"containerDefinitions"`
	Cpu                     string          `json:"cpu"`
	Memory                  string          `json:"memory"`
	NetworkMode             string          `json:"networkMode"`
	RequiresCompatibilities []string        `json:"requiresCompatibilities"`
	ExecutionRoleArn        string          `json:"executionRoleArn"`
	TaskRoleArn             string          `json:"taskRoleArn"`
	RuntimePlatform         json.RawMessage `json:"runtimePlatform"`
	EphemeralStorage        json.RawMessage `json:"ephemeralStorage"`
	Tags                    []ecsTag        `json:"tags"`
}

var familyRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func (e *ECS) registerTaskDefinition(_ context.Context, in *registerTaskDefinitionInput) (any, error) {
	if !familyRe.MatchString(in.Family) {
		return nil, errorf("ClientException", "Family contains invalid characters or is empty: up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.")
	}
	var defs []containerDef
	if err := json.Unmarshal(in.ContainerDefinitions, &defs); err != nil || len(defs) == 0 {
		return nil, errorf("ClientException", "Container list cannot be empty.")
	}
	for _, d := range defs {
		if d.Name == "" || d.Image == "" {
			return nil, errorf("ClientException", "Container.name and Container.image should not be null or empty.")
		}
	}
	if slices.Contains(in.RequiresCompatibilities, "FARGATE") {
		if in.NetworkMode != "awsvpc" {
			return nil, errorf("ClientException", "Fargate only supports network mode 'awsvpc'.")
		}
		if err := checkFargateSize(in.Cpu, in.Memory); err != nil {
			return nil, err
		}
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rev := len(e.families[in.Family]) + 1
	td := &taskDef{
		arn: e.s.arn("ecs", fmt.Sprintf("task-definition/%s:%d", in.Family, rev)), family: in.Family, revision: rev,
		cpu: in.Cpu, memory: in.Memory, networkMode: in.NetworkMode, requires: in.RequiresCompatibilities,
		executionRoleArn: in.ExecutionRoleArn, taskRoleArn: in.TaskRoleArn,
		runtimePlatform: in.RuntimePlatform, ephemeralStorage: in.EphemeralStorage,
		containers: defs, containerDefinitionsRaw: in.ContainerDefinitions, registered: e.s.now(),
	}
	e.families[in.Family] = append(e.families[in.Family], td)
	return map[string]any{"taskDefinition": td.wire(), "tags": nonNilTags(in.Tags)}, nil
}

func (td *taskDef) wire() map[string]any {
	m := map[string]any{
		"taskDefinitionArn":    td.arn,
		"family":               td.family,
		"revision":             td.revision,
		"status":               "ACTIVE",
		"containerDefinitions": td.containerDefinitionsRaw,
		"compatibilities":      []string{"EC2", "FARGATE"},
		"registeredAt":         epochTime(td.registered),
	}
	for k, v := range map[string]string{"cpu": td.cpu, "memory": td.memory, "networkMode": td.networkMode, "executionRoleArn": td.executionRoleArn, "taskRoleArn": td.taskRoleArn} {
		if v != "" {
			m[k] = v
		}
	}
	if len(td.requires) > 0 {
		m["requiresCompatibilities"] = td.requires
	}
	if len(td.runtimePlatform) > 0 {
		m["runtimePlatform"] = td.runtimePlatform
	}
	if len(td.ephemeralStorage) > 0 {
		m["ephemeralStorage"] = td.ephemeralStorage
	}
	return m
}

type describeTaskDefinitionInput struct {
	TaskDefinition string `json:"taskDefinition"`
}

func (e *ECS) describeTaskDefinition(_ context.Context, in *describeTaskDefinitionInput) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	td := e.taskDefinition(in.TaskDefinition)
	if td == nil {
		return nil, errorf("ClientException", "Unable to describe task definition.")
	}
	return map[string]any{"taskDefinition": td.wire()}, nil
}

// checkFargateSize accepts the task CPU (units) / memory (MiB) pairs of the Fargate
// task-size table (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html).
func checkFargateSize(cpuS, memS string) error {
	cpu, err1 := strconv.Atoi(cpuS)
	mem, err2 := strconv.Atoi(memS)
	ok := err1 == nil && err2 == nil
	if ok {
		step, lo, hi := 1024, 0, 0
		switch cpu {
		case 256:
			ok = mem == 512 || mem == 1024 || mem == 2048
			lo, hi = mem, mem
		case 512:
			lo, hi = 1024, 4096
		case 1024:
			lo, hi = 2048, 8192
		case 2048:
			lo, hi = 4096, 16384
		case 4096:
			lo, hi = 8192, 30720
		case 8192:
			lo, hi, step = 16384, 61440, 4096
		case 16384:
			lo, hi, step = 32768, 122880, 8192
		default:
			ok = false
		}
		ok = ok && mem >= lo && mem <= hi && (cpu == 256 || mem%step == 0)
	}
	if !ok {
		return errorf("ClientException", "No Fargate configuration exists for given values: %s CPU, %s memory. See the Amazon ECS documentation for the valid values.", cpuS, memS)
	}
	return nil
}

// checkTags enforces ECS's tag rules: at most 50, keys 1..128, values 0..256
// characters, the aws: prefix reserved.
func checkTags(tags []ecsTag) error {
	if len(tags) > 50 {
		return invalidParameter("Too many tags: %d given, at most 50 are allowed.", len(tags))
	}
	for _, tg := range tags {
		switch {
		case len(tg.Key) == 0 || len([]rune(tg.Key)) > 128:
			return invalidParameter("Tag key %q must be 1 to 128 characters long.", tg.Key)
		case len([]rune(tg.Value)) > 256:
			return invalidParameter("Tag value for key %q is %d characters long; the maximum is 256.", tg.Key, len([]rune(tg.Value)))
		case strings.HasPrefix(strings.ToLower(tg.Key), "aws:"):
			return invalidParameter("Tag keys beginning with 'aws:' are reserved.")
		}
	}
	return nil
}

func nonNilTags(tags []ecsTag) []ecsTag {
	if tags == nil {
		return []ecsTag{}
	}
	return tags
}

// --- RunTask --------------------------------------------------------------------

type runTaskInput struct {
	Cluster                  string                `json:"cluster"`
	TaskDefinition           string                `json:"taskDefinition"`
	Count                    *int                  `json:"count"`
	LaunchType               string                `json:"launchType"`
	CapacityProviderStrategy []strategyItem        `json:"capacityProviderStrategy"`
	Overrides                json.RawMessage       `json:"overrides"`
	Tags                     []ecsTag              `json:"tags"`
	StartedBy                string                `json:"startedBy"`
	Group                    string                `json:"group"`
	NetworkConfiguration     *networkConfiguration `json:"networkConfiguration"`
	PlatformVersion          string                `json:"platformVersion"`
	PropagateTags            string                `json:"propagateTags"`
	EnableExecuteCommand     bool                  `json:"enableExecuteCommand"`
}

type strategyItem struct {
	CapacityProvider string `json:"capacityProvider"`
	Weight           int    `json:"weight"`
	Base             int    `json:"base"`
}

type networkConfiguration struct {
	AwsvpcConfiguration *struct {
		Subnets        []string `json:"subnets"`
		SecurityGroups []string `json:"securityGroups"`
		AssignPublicIp string   `json:"assignPublicIp"`
	} `json:"awsvpcConfiguration"`
}

type taskOverride struct {
	ContainerOverrides []containerOverride `json:"containerOverrides"`
	Cpu                string              `json:"cpu,omitempty"`
	Memory             string              `json:"memory,omitempty"`
	ExecutionRoleArn   string              `json:"executionRoleArn,omitempty"`
	TaskRoleArn        string              `json:"taskRoleArn,omitempty"`
	EphemeralStorage   *struct {
		SizeInGiB int `json:"sizeInGiB"`
	} `json:"ephemeralStorage,omitempty"`
	InferenceAcceleratorOverrides []any `json:"inferenceAcceleratorOverrides"`
}

type containerOverride struct {
	Name                 string         `json:"name"`
	Command              []string       `json:"command,omitempty"`
	Environment          []ecsNameValue `json:"environment,omitempty"`
	EnvironmentFiles     []any          `json:"environmentFiles,omitempty"`
	Cpu                  *int           `json:"cpu,omitempty"`
	Memory               *int           `json:"memory,omitempty"`
	MemoryReservation    *int           `json:"memoryReservation,omitempty"`
	ResourceRequirements []any          `json:"resourceRequirements,omitempty"`
}

// maxOverridesBytes is RunTask's limit on the overrides structure, JSON formatting
// included (API_RunTask: "A total of 8192 characters are allowed for overrides").
const maxOverridesBytes = 8192

var startedByRe = regexp.MustCompile(`^[A-Za-z0-9/_-]{0,36}$`)

type runTaskOutput struct {
	Tasks    []map[string]any `json:"tasks"`
	Failures []ecsFailure     `json:"failures"`
}

type ecsFailure struct {
	Arn    string `json:"arn,omitempty"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func (e *ECS) runTask(_ context.Context, in *runTaskInput) (any, error) {
	count := 1
	if in.Count != nil {
		count = *in.Count
	}
	if count < 1 || count > 10 {
		return nil, invalidParameter("Count must be between 1 and 10.")
	}
	if in.TaskDefinition == "" {
		return nil, invalidParameter("TaskDefinition cannot be null or empty.")
	}
	if in.LaunchType != "" && len(in.CapacityProviderStrategy) > 0 {
		return nil, invalidParameter("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	}
	// Step Functions' ecs:runTask integration starts tasks with StartedBy "AWS Step
	// Functions" (fixtures/aws/stepfunctions/integrations.json), which the public
	// grammar would refuse; the service accepts it from Step Functions.
	if in.StartedBy != StartedByStepFunctions && !startedByRe.MatchString(in.StartedBy) {
		return nil, invalidParameter("startedBy must be at most 36 letters, numbers, hyphens, forward slashes and underscores (got %d characters).", len(in.StartedBy))
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	var ov taskOverride
	if len(in.Overrides) > 0 && string(in.Overrides) != "null" {
		var compact bytes.Buffer
		if err := json.Compact(&compact, in.Overrides); err == nil && compact.Len() > maxOverridesBytes {
			return nil, invalidParameter("Container Overrides length must be at most %d", maxOverridesBytes)
		}
		if err := json.Unmarshal(in.Overrides, &ov); err != nil {
			return nil, invalidParameter("overrides are malformed: %v", err)
		}
	}

	out, started, err := e.place(in, ov, count)
	if err != nil {
		return nil, err
	}
	// Hooks run once the lock is released, so they may call back into the fake
	// (SetTaskRunning from OnTaskStarted is the usual first move).
	if hook := e.OnTaskStarted; hook != nil {
		for _, t := range started {
			hook(t)
		}
	}
	return out, nil
}

// place validates the call against the fake's state and creates the tasks, under the lock.
func (e *ECS) place(in *runTaskInput, ov taskOverride, count int) (*runTaskOutput, []*Task, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cluster, err := e.cluster(in.Cluster)
	if err != nil {
		return nil, nil, err
	}
	td := e.taskDefinition(in.TaskDefinition)
	if td == nil {
		return nil, nil, invalidParameter("TaskDefinition not found.")
	}

	provider, launchType := "", in.LaunchType
	switch {
	case len(in.CapacityProviderStrategy) > 0:
		provider, err = pickProvider(in.CapacityProviderStrategy)
		if err != nil {
			return nil, nil, err
		}
		launchType = "FARGATE"
	case launchType == "FARGATE":
	case launchType == "":
		// No launch type, no strategy, and fake clusters carry no default strategy: ECS
		// places on EC2 container instances, of which this cluster has none.
		return &runTaskOutput{Tasks: []map[string]any{}, Failures: []ecsFailure{{Reason: "No Container Instances were found in your cluster."}}}, nil, nil
	default:
		return nil, nil, invalidParameter("launchType %s is not emulated; the fleet runs on FARGATE.", launchType)
	}

	if td.networkMode == "awsvpc" || launchType == "FARGATE" {
		nc := in.NetworkConfiguration
		if nc == nil || nc.AwsvpcConfiguration == nil {
			return nil, nil, invalidParameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
		}
		vpc := nc.AwsvpcConfiguration
		switch {
		case len(vpc.Subnets) == 0:
			return nil, nil, invalidParameter("subnets can not be empty.")
		case len(vpc.Subnets) > 16:
			return nil, nil, invalidParameter("subnets can have at most 16 items.")
		case len(vpc.SecurityGroups) > 5:
			return nil, nil, invalidParameter("securityGroups can have at most 5 items.")
		case vpc.AssignPublicIp != "" && vpc.AssignPublicIp != "ENABLED" && vpc.AssignPublicIp != "DISABLED":
			return nil, nil, invalidParameter("assignPublicIp must be ENABLED or DISABLED.")
		}
	}

	cpu, memory := td.cpu, td.memory
	if ov.Cpu != "" {
		cpu = ov.Cpu
	}
	if ov.Memory != "" {
		memory = ov.Memory
	}
	if launchType == "FARGATE" {
		if err := checkFargateSize(cpu, memory); err != nil {
			return nil, nil, err
		}
	}
	for _, co := range ov.ContainerOverrides {
		if !slices.ContainsFunc(td.containers, func(d containerDef) bool { return d.Name == co.Name }) {
			return nil, nil, invalidParameter("Override for container named %s is not a container in the TaskDefinition.", co.Name)
		}
	}
	ephemeral := 20
	if ov.EphemeralStorage != nil {
		if ov.EphemeralStorage.SizeInGiB < 21 || ov.EphemeralStorage.SizeInGiB > 200 {
			return nil, nil, invalidParameter("ephemeralStorage.sizeInGiB must be between 21 and 200.")
		}
		ephemeral = ov.EphemeralStorage.SizeInGiB
	}
	if e.LaunchBucket != nil && !e.LaunchBucket.Take(float64(count)) {
		return nil, nil, throttleError(e.s.byID["ecs"])
	}

	out := &runTaskOutput{Tasks: []map[string]any{}, Failures: []ecsFailure{}}
	placeOn := provider
	if placeOn == "" {
		placeOn = launchType
	}
	var started []*Task
	for range count {
		if sh := e.shortage[placeOn]; sh != nil && sh.remaining != 0 {
			if sh.remaining > 0 {
				sh.remaining--
			}
			out.Failures = append(out.Failures, ecsFailure{Reason: sh.reason})
			continue
		}
		t := e.newTask(cluster, td, in, ov, launchType, provider, cpu, memory, ephemeral)
		out.Tasks = append(out.Tasks, t.wire(true))
		started = append(started, t.snapshot())
	}
	return out, started, nil
}

// pickProvider chooses where one task goes: a provider with a base first, else the
// highest weight (ties to the first listed), as a single task placement lands.
func pickProvider(strategy []strategyItem) (string, error) {
	best := -1
	for i, it := range strategy {
		if it.CapacityProvider != "FARGATE" && it.CapacityProvider != "FARGATE_SPOT" {
			return "", invalidParameter("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.")
		}
		if it.Weight < 0 || it.Weight > 1000 || it.Base < 0 || it.Base > 100000 {
			return "", invalidParameter("capacity provider strategy weight must be 0..1000 and base 0..100000.")
		}
		if it.Base > 0 {
			return it.CapacityProvider, nil
		}
		if best < 0 || it.Weight > strategy[best].Weight {
			best = i
		}
	}
	if strategy[best].Weight == 0 {
		return "", invalidParameter("At least one capacity provider in the strategy must have a weight greater than zero.")
	}
	return strategy[best].CapacityProvider, nil
}

func (e *ECS) newTask(c *ecsCluster, td *taskDef, in *runTaskInput, ov taskOverride, launchType, provider, cpu, memory string, ephemeral int) *ecsTask {
	id := strings.ReplaceAll(e.s.newID("ecs-task"), "-", "")
	t := &ecsTask{
		arn: e.s.arn("ecs", "task/"+c.name+"/"+id), id: id, cluster: c, def: td,
		launchType: launchType, capacityProvider: provider,
		lastStatus: TaskProvisioning, desiredStatus: TaskRunning,
		startedBy: in.StartedBy, group: in.Group, cpu: cpu, memory: memory,
		overrides: ov, tags: slices.Clone(in.Tags), version: 1, createdAt: e.s.now(),
		attachmentID: e.s.newID("eni-attachment"), ephemeralGiB: ephemeral,
		eniID: "eni-0" + id[:16], ip: fmt.Sprintf("10.0.%d.%d", hexByte(id[16:18]), hexByte(id[18:20])%254+1),
		mac: fmt.Sprintf("0e:%s:%s:%s:%s:%s", id[20:22], id[22:24], id[24:26], id[26:28], id[28:30]),
		az:  e.s.region + string(rune('a'+int(id[0])%3)),
	}
	if t.group == "" {
		t.group = "family:" + td.family
	}
	if nc := in.NetworkConfiguration; nc != nil && nc.AwsvpcConfiguration != nil {
		t.subnets = slices.Clone(nc.AwsvpcConfiguration.Subnets)
		t.sgs = slices.Clone(nc.AwsvpcConfiguration.SecurityGroups)
	}
	for _, d := range td.containers {
		c := &ecsContainer{
			arn:  e.s.arn("ecs", "container/"+t.cluster.name+"/"+id+"/"+e.s.newID("container")),
			name: d.Name, image: d.Image, essential: d.Essential == nil || *d.Essential,
			command: d.Command, env: map[string]string{}, lastStatus: "PENDING",
			runtimeID: fmt.Sprintf("%s-%d", id, 1000000000+len(t.containers)),
		}
		for _, kv := range d.Environment {
			c.env[kv.Name] = kv.Value
		}
		for _, co := range ov.ContainerOverrides {
			if co.Name != d.Name {
				continue
			}
			if co.Command != nil {
				c.command = co.Command
			}
			for _, kv := range co.Environment {
				c.env[kv.Name] = kv.Value
			}
		}
		t.containers = append(t.containers, c)
	}
	e.tasks[t.arn] = t
	e.order = append(e.order, t)
	return t
}

// wire is the task as ECS answers it; tags only when asked (DescribeTasks include TAGS).
func (t *ecsTask) wire(withTags bool) map[string]any {
	// The ENI as DescribeTasks shows it: PRECREATED with only the subnet while
	// provisioning, ATTACHED with its address once connected, type "eni" and DELETED
	// once the task stopped (fixtures/aws/ecs/*).
	attachmentStatus, attachmentType := "PRECREATED", "ElasticNetworkInterface"
	details := []ecsNameValue{}
	for _, s := range t.subnets[:min(1, len(t.subnets))] {
		details = append(details, ecsNameValue{"subnetId", s})
	}
	if !t.connectedAt.IsZero() {
		attachmentStatus = "ATTACHED"
		details = append(details,
			ecsNameValue{"networkInterfaceId", t.eniID}, ecsNameValue{"macAddress", t.mac},
			ecsNameValue{"privateDnsName", t.privateDNS()}, ecsNameValue{"privateIPv4Address", t.ip})
	}
	if t.lastStatus == TaskStopped {
		attachmentStatus, attachmentType = "DELETED", "eni"
	}
	containers := make([]map[string]any, 0, len(t.containers))
	for _, c := range t.containers {
		cm := map[string]any{
			"containerArn": c.arn, "taskArn": t.arn, "name": c.name, "image": c.image,
			"lastStatus": c.lastStatus, "cpu": "0",
			"gpuIds": []string{}, "managedAgents": []any{}, "networkBindings": []any{}, "networkInterfaces": []any{},
		}
		if c.exitCode != nil {
			cm["exitCode"] = *c.exitCode
		}
		if !t.connectedAt.IsZero() {
			cm["runtimeId"] = c.runtimeID
			cm["networkInterfaces"] = []map[string]string{{"attachmentId": t.attachmentID, "privateIpv4Address": t.ip}}
		}
		if c.imageDigest != "" {
			cm["imageDigest"] = c.imageDigest
		}
		containers = append(containers, cm)
	}
	ov := t.overrides
	if ov.ContainerOverrides == nil {
		ov.ContainerOverrides = []containerOverride{}
	}
	if ov.InferenceAcceleratorOverrides == nil {
		ov.InferenceAcceleratorOverrides = []any{}
	}
	m := map[string]any{
		"taskArn": t.arn, "clusterArn": t.cluster.arn, "taskDefinitionArn": t.def.arn,
		"attachments":      []map[string]any{{"id": t.attachmentID, "type": attachmentType, "status": attachmentStatus, "details": details}},
		"attributes":       []ecsNameValue{{"ecs.cpu-architecture", "x86_64"}},
		"availabilityZone": t.az, "containers": containers,
		"cpu": t.cpu, "memory": t.memory, "createdAt": epochTime(t.createdAt),
		"desiredStatus": t.desiredStatus, "lastStatus": t.lastStatus, "launchType": t.launchType,
		"enableExecuteCommand": false, "ephemeralStorage": map[string]int{"sizeInGiB": t.ephemeralGiB},
		"group": t.group, "inferenceAccelerators": []any{}, "overrides": ov,
		"platformFamily": "Linux", "platformVersion": "1.4.0", "version": t.version,
	}
	if t.capacityProvider != "" {
		m["capacityProviderName"] = t.capacityProvider
	}
	if t.startedBy != "" {
		m["startedBy"] = t.startedBy
	}
	if !t.connectedAt.IsZero() {
		m["connectivity"] = "CONNECTED"
		m["connectivityAt"] = epochTime(t.connectedAt)
	}
	if !t.startedAt.IsZero() {
		m["startedAt"] = epochTime(t.startedAt)
		m["pullStartedAt"] = epochTime(t.startedAt)
		m["pullStoppedAt"] = epochTime(t.startedAt)
	}
	if !t.stoppingAt.IsZero() {
		m["stoppingAt"] = epochTime(t.stoppingAt)
	}
	if !t.stoppedAt.IsZero() {
		m["stoppedAt"] = epochTime(t.stoppedAt)
		m["executionStoppedAt"] = epochTime(t.stoppedAt)
	}
	if t.stopCode != "" {
		m["stopCode"] = t.stopCode
	}
	if t.stoppedReason != "" {
		m["stoppedReason"] = t.stoppedReason
	}
	if withTags {
		m["tags"] = nonNilTags(t.tags)
	}
	return m
}

// --- DescribeTasks / StopTask / ListTasks ---------------------------------------

type describeTasksInput struct {
	Cluster string   `json:"cluster"`
	Tasks   []string `json:"tasks"`
	Include []string `json:"include"`
}

// lookupTask finds a task of cluster by ARN or id.
func (e *ECS) lookupTask(c *ecsCluster, ref string) *ecsTask {
	if !strings.HasPrefix(ref, "arn:") {
		ref = e.s.arn("ecs", "task/"+c.name+"/"+ref)
	}
	t := e.tasks[ref]
	if t == nil || t.cluster != c {
		return nil
	}
	return t
}

func (e *ECS) describeTasks(_ context.Context, in *describeTasksInput) (any, error) {
	if len(in.Tasks) == 0 {
		return nil, invalidParameter("Tasks cannot be empty.")
	}
	if len(in.Tasks) > 100 {
		return nil, invalidParameter("Tasks can have at most 100 items.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	withTags := slices.Contains(in.Include, "TAGS")
	out := &runTaskOutput{Tasks: []map[string]any{}, Failures: []ecsFailure{}}
	for _, ref := range in.Tasks {
		t := e.lookupTask(c, ref)
		if t == nil {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = e.s.arn("ecs", "task/"+c.name+"/"+ref)
			}
			out.Failures = append(out.Failures, ecsFailure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out.Tasks = append(out.Tasks, t.wire(withTags))
	}
	return out, nil
}

type stopTaskInput struct {
	Cluster string `json:"cluster"`
	Task    string `json:"task"`
	Reason  string `json:"reason"`
}

func (e *ECS) stopTask(_ context.Context, in *stopTaskInput) (any, error) {
	if len(in.Reason) > 255 {
		return nil, invalidParameter("Reason must be at most 255 characters.")
	}
	e.mu.Lock()
	c, err := e.cluster(in.Cluster)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	t := e.lookupTask(c, in.Task)
	if t == nil {
		e.mu.Unlock()
		return nil, invalidParameter("The referenced task was not found.")
	}
	var notify *Task
	hook := e.OnTaskStopping
	if t.lastStatus != TaskStopped && t.desiredStatus != TaskStopped {
		now := e.s.now()
		reason := in.Reason
		if reason == "" {
			reason = "Task stopped by user"
		}
		t.desiredStatus, t.stopCode, t.stoppedReason, t.stoppingAt = TaskStopped, StopCodeUserInitiated, reason, now
		t.version = 4
		switch {
		case t.lastStatus == TaskProvisioning:
			t.stop(now, StopCodeUserInitiated, reason, nil)
		case hook == nil:
			sigterm := 143
			t.stop(now, StopCodeUserInitiated, reason, &sigterm)
		default:
			notify = t.snapshot()
		}
	}
	out := map[string]any{"task": t.wire(true)}
	timeout := e.StopTimeout
	e.mu.Unlock()
	if notify != nil {
		if timeout > 0 {
			time.AfterFunc(timeout, func() { e.kill(notify.ARN) })
		}
		hook(notify)
	}
	return out, nil
}

// kill ends a task its owner left stopping past StopTimeout, as Fargate's SIGKILL does.
func (e *ECS) kill(arn string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tasks[arn]; t != nil && t.lastStatus != TaskStopped {
		sigkill := 137
		t.stop(e.s.now(), t.stopCode, t.stoppedReason, &sigkill)
	}
}

type listTasksInput struct {
	Cluster       string `json:"cluster"`
	DesiredStatus string `json:"desiredStatus"`
	StartedBy     string `json:"startedBy"`
	Family        string `json:"family"`
	LaunchType    string `json:"launchType"`
	MaxResults    int    `json:"maxResults"`
	NextToken     string `json:"nextToken"`
}

func (e *ECS) listTasks(_ context.Context, in *listTasksInput) (any, error) {
	desired := in.DesiredStatus
	switch desired {
	case "":
		desired = TaskRunning
	case TaskRunning, TaskStopped, "PENDING":
	default:
		return nil, invalidParameter("desiredStatus must be RUNNING, PENDING or STOPPED.")
	}
	if in.MaxResults < 0 || in.MaxResults > 100 {
		return nil, invalidParameter("maxResults must be between 1 and 100.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.cluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	arns := []string{}
	for _, t := range e.order {
		if t.cluster != c || t.desiredStatus != desired ||
			(in.StartedBy != "" && t.startedBy != in.StartedBy) ||
			(in.Family != "" && t.def.family != in.Family) ||
			(in.LaunchType != "" && t.launchType != in.LaunchType) {
			continue
		}
		arns = append(arns, t.arn)
	}
	page, next, err := paginate(arns, in.NextToken, in.MaxResults, 100, strings.Join([]string{"tasks", c.arn, desired, in.StartedBy, in.Family, in.LaunchType}, "\x00"))
	if err != nil {
		return nil, invalidParameter("Invalid nextToken.")
	}
	out := map[string]any{"taskArns": page}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// --- tags -----------------------------------------------------------------------

// taggable resolves a task or cluster ARN to its tag list.
func (e *ECS) taggable(arn string) (*[]ecsTag, error) {
	if t := e.tasks[arn]; t != nil {
		return &t.tags, nil
	}
	for _, c := range e.clusters {
		if c.arn == arn {
			return &c.tags, nil
		}
	}
	if !strings.HasPrefix(arn, "arn:aws:ecs:") {
		return nil, invalidParameter("Invalid resourceArn: %s", arn)
	}
	return nil, errorf("ResourceNotFoundException", "The specified resource is not found.")
}

type tagResourceInput struct {
	ResourceArn string   `json:"resourceArn"`
	Tags        []ecsTag `json:"tags"`
	TagKeys     []string `json:"tagKeys"`
}

func (e *ECS) tagResource(_ context.Context, in *tagResourceInput) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	tags, err := e.taggable(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	merged := slices.Clone(*tags)
	for _, tg := range in.Tags {
		i := slices.IndexFunc(merged, func(x ecsTag) bool { return x.Key == tg.Key })
		if i >= 0 {
			merged[i] = tg
		} else {
			merged = append(merged, tg)
		}
	}
	if err := checkTags(merged); err != nil {
		return nil, err
	}
	*tags = merged
	return struct{}{}, nil
}

func (e *ECS) untagResource(_ context.Context, in *tagResourceInput) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	tags, err := e.taggable(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	*tags = slices.DeleteFunc(*tags, func(x ecsTag) bool { return slices.Contains(in.TagKeys, x.Key) })
	return struct{}{}, nil
}

func (e *ECS) listTagsForResource(_ context.Context, in *tagResourceInput) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	tags, err := e.taggable(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return map[string]any{"tags": nonNilTags(slices.Clone(*tags))}, nil
}

func hexByte(h string) int {
	n, _ := strconv.ParseUint(h, 16, 8)
	return int(n)
}

// privateDNS is the ENI's DNS name as EC2 gives it (ec2.internal in us-east-1).
func (t *ecsTask) privateDNS() string {
	host := "ip-" + strings.ReplaceAll(t.ip, ".", "-")
	region := t.az[:len(t.az)-1]
	if region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}

// imageDigest is the digest a pull of image resolves to, made up from its name.
func imageDigest(image string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(image)))
}
