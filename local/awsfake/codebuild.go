package awsfake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// CodeBuild emulates StartBuild, BatchGetBuilds, ListBuildsForProject and StopBuild for
// the image builds. Builds do not run: StartBuild queues one (SUBMITTED done, QUEUED in
// progress) and calls OnBuildStarted; the owner moves it with AdvanceBuild and ends it
// with SucceedBuild or FailBuild. Shapes follow fixtures/aws/codebuild: phases[] with
// durations and contexts, buildStatus, buildComplete, logs.deepLink.
type CodeBuild struct {
	s *Server

	// OnBuildStarted, when set, is called with a snapshot of each started build. It must
	// not block. Set it before the server takes requests.
	OnBuildStarted func(b *Build)

	mu       sync.Mutex
	projects map[string]*cbProject
	builds   map[string]*cbBuild
	order    []*cbBuild
}

type cbProject struct {
	name, arn, image, serviceRole string
	counter                       int64
}

type cbBuild struct {
	id, arn, project  string
	number            int64
	status            string
	complete          bool
	start, end        time.Time
	phases            []*cbPhase
	env               []cbEnvVar
	image             string
	sourceVersion     string
	buildspecOverride string
	stream            string
	timeoutMinutes    int
	serviceRole       string
	initiator         string
}

type cbPhase struct {
	typ, status string
	start, end  time.Time
	contexts    []map[string]string
}

type cbEnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Type  string `json:"type,omitempty"`
}

// Build is a snapshot of a CodeBuild build for the fake's owner.
type Build struct {
	ID            string
	ARN           string
	Project       string
	Number        int64
	Status        string // IN_PROGRESS, SUCCEEDED, FAILED, STOPPED
	CurrentPhase  string
	Image         string
	SourceVersion string
	Buildspec     string
	// Environment holds the build's environment variables (overrides included).
	Environment  map[string]string
	LogsDeepLink string
}

// Build phases in the order CodeBuild runs them.
var cbPhases = []string{"SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"}

func newCodeBuild(s *Server) *CodeBuild {
	cb := &CodeBuild{s: s, projects: map[string]*cbProject{}, builds: map[string]*cbBuild{}}
	s.register(&service{
		id: "codebuild", prefix: "CodeBuild_20161006", contentType: "application/x-amz-json-1.1",
		messageField: "message",
		ops: map[string]opFunc{
			"StartBuild":           jsonOp(cb.startBuild),
			"BatchGetBuilds":       jsonOp(cb.batchGetBuilds),
			"ListBuildsForProject": jsonOp(cb.listBuildsForProject),
			"StopBuild":            jsonOp(cb.stopBuild),
		},
	})
	return cb
}

// CreateProject creates the project name building with image (no-op when it exists) and
// returns its ARN.
func (cb *CodeBuild) CreateProject(name, image string) string {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if p := cb.projects[name]; p != nil {
		return p.arn
	}
	p := &cbProject{name: name, arn: cb.s.arn("codebuild", "project/"+name), image: image,
		serviceRole: "arn:aws:iam::" + cb.s.account + ":role/service-role/codebuild-" + name}
	cb.projects[name] = p
	return p.arn
}

// Build returns a snapshot of the build with id.
func (cb *CodeBuild) Build(id string) (*Build, bool) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	b := cb.builds[id]
	if b == nil {
		return nil, false
	}
	return b.snapshot(cb.s.region), true
}

// AdvanceBuild ends the current phase SUCCEEDED and starts the later phase (e.g.
// "BUILD"), marking any phases in between SUCCEEDED.
func (cb *CodeBuild) AdvanceBuild(id, phase string) error {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	b, err := cb.running(id)
	if err != nil {
		return fmt.Errorf("advance build %s: %w", id, err)
	}
	target := slices.Index(cbPhases, phase)
	if target < 0 || phase == "COMPLETED" || target <= slices.Index(cbPhases, b.current().typ) {
		return fmt.Errorf("advance build %s to %q: not a phase after %s (use SucceedBuild or FailBuild to end it)", id, phase, b.current().typ)
	}
	b.advanceTo(target, cb.s.now())
	return nil
}

// SucceedBuild runs the build's remaining phases to COMPLETED with buildStatus SUCCEEDED.
func (cb *CodeBuild) SucceedBuild(id string) error {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	b, err := cb.running(id)
	if err != nil {
		return fmt.Errorf("succeed build %s: %w", id, err)
	}
	now := cb.s.now()
	b.advanceTo(len(cbPhases)-1, now)
	b.finish("SUCCEEDED", now)
	return nil
}

// FailBuild fails the build in phase (default BUILD) with a COMMAND_EXECUTION_ERROR
// context carrying message (default a non-zero exit of the build command), then runs
// the closing phases as CodeBuild does (fixtures/aws/codebuild/batch-get-builds.failed.assembled.json).
func (cb *CodeBuild) FailBuild(id, phase, message string) error {
	if phase == "" {
		phase = "BUILD"
	}
	if message == "" {
		message = "Error while executing command: docker build. Reason: exit status 1"
	}
	cb.mu.Lock()
	defer cb.mu.Unlock()
	b, err := cb.running(id)
	if err != nil {
		return fmt.Errorf("fail build %s: %w", id, err)
	}
	target := slices.Index(cbPhases, phase)
	if target < slices.Index(cbPhases, b.current().typ) || target < 2 || phase == "COMPLETED" {
		return fmt.Errorf("fail build %s in %q: not a phase at or after %s", id, phase, b.current().typ)
	}
	now := cb.s.now()
	if b.current().typ != phase {
		b.advanceTo(target, now)
	}
	cur := b.current()
	cur.status, cur.end = "FAILED", now
	cur.contexts = []map[string]string{{"statusCode": "COMMAND_EXECUTION_ERROR", "message": message}}
	if target < slices.Index(cbPhases, "POST_BUILD") {
		b.phases = append(b.phases, &cbPhase{typ: "POST_BUILD", start: now})
	}
	b.advanceTo(len(cbPhases)-1, now)
	b.finish("FAILED", now)
	return nil
}

func (cb *CodeBuild) running(id string) (*cbBuild, error) {
	b := cb.builds[id]
	if b == nil {
		return nil, fmt.Errorf("no such build")
	}
	if b.complete {
		return nil, fmt.Errorf("build already %s", b.status)
	}
	return b, nil
}

func (b *cbBuild) current() *cbPhase { return b.phases[len(b.phases)-1] }

// advanceTo closes the current phase SUCCEEDED (unless already closed) and opens every
// phase up to cbPhases[target], which is left in progress.
func (b *cbBuild) advanceTo(target int, now time.Time) {
	cur := b.current()
	if cur.status == "" {
		cur.status, cur.end = "SUCCEEDED", now
	}
	for i := slices.Index(cbPhases, cur.typ) + 1; i <= target; i++ {
		p := &cbPhase{typ: cbPhases[i], start: now}
		if i < target {
			p.status, p.end = "SUCCEEDED", now
		}
		b.phases = append(b.phases, p)
	}
}

func (b *cbBuild) finish(status string, now time.Time) {
	b.status, b.complete, b.end = status, true, now
}

func (b *cbBuild) deepLink(region string) string {
	return fmt.Sprintf("https://console.aws.amazon.com/cloudwatch/home?region=%s#logEvent:group=/aws/codebuild/%s;stream=%s", region, b.project, b.stream)
}

func (b *cbBuild) snapshot(region string) *Build {
	env := map[string]string{}
	for _, v := range b.env {
		env[v.Name] = v.Value
	}
	return &Build{ID: b.id, ARN: b.arn, Project: b.project, Number: b.number, Status: b.status,
		CurrentPhase: b.current().typ, Image: b.image, SourceVersion: b.sourceVersion, Buildspec: b.buildspecOverride,
		Environment: maps.Clone(env), LogsDeepLink: b.deepLink(region)}
}

func (b *cbBuild) wire(s *Server) map[string]any {
	region := s.region
	phases := make([]map[string]any, 0, len(b.phases))
	for _, p := range b.phases {
		pm := map[string]any{"phaseType": p.typ, "startTime": epochTime(p.start)}
		if p.status != "" {
			pm["phaseStatus"] = p.status
		}
		if !p.end.IsZero() {
			pm["endTime"] = epochTime(p.end)
			pm["durationInSeconds"] = int64(p.end.Sub(p.start).Seconds())
		}
		if p.contexts != nil {
			pm["contexts"] = p.contexts
		} else if p.status != "" && slices.Index(cbPhases, p.typ) >= 2 {
			pm["contexts"] = []map[string]string{{"statusCode": "", "message": ""}}
		}
		phases = append(phases, pm)
	}
	env := b.env
	if env == nil {
		env = []cbEnvVar{}
	}
	m := map[string]any{
		"id": b.id, "arn": b.arn, "buildNumber": b.number, "projectName": b.project,
		"startTime": epochTime(b.start), "currentPhase": b.current().typ, "buildStatus": b.status,
		"buildComplete": b.complete, "phases": phases, "initiator": b.initiator,
		"source":             map[string]any{"type": "NO_SOURCE", "buildspec": b.buildspecOverride, "insecureSsl": false},
		"secondarySources":   []any{},
		"secondaryArtifacts": []any{},
		"artifacts":          map[string]any{"location": ""},
		"cache":              map[string]string{"type": "NO_CACHE"},
		"environment": map[string]any{
			"type": "LINUX_CONTAINER", "image": b.image, "computeType": "BUILD_GENERAL1_MEDIUM",
			"privilegedMode": true, "imagePullCredentialsType": "CODEBUILD", "environmentVariables": env,
		},
		"serviceRole": b.serviceRole,
		"logs": map[string]any{
			"groupName": "/aws/codebuild/" + b.project, "streamName": b.stream, "deepLink": b.deepLink(region),
			"cloudWatchLogs": map[string]string{"status": "ENABLED"}, "s3Logs": map[string]string{"status": "DISABLED"},
		},
		"timeoutInMinutes": b.timeoutMinutes, "queuedTimeoutInMinutes": 480,
		"encryptionKey": s.arn("kms", "alias/aws/s3"),
	}
	if b.sourceVersion != "" {
		m["sourceVersion"] = b.sourceVersion
	}
	if b.complete {
		m["endTime"] = epochTime(b.end)
	}
	return m
}

// --- operations -----------------------------------------------------------------

type startBuildInput struct {
	ProjectName                  string     `json:"projectName"`
	EnvironmentVariablesOverride []cbEnvVar `json:"environmentVariablesOverride"`
	SourceVersion                string     `json:"sourceVersion"`
	BuildspecOverride            string     `json:"buildspecOverride"`
	ImageOverride                string     `json:"imageOverride"`
	EnvironmentTypeOverride      string     `json:"environmentTypeOverride"`
	TimeoutInMinutesOverride     int        `json:"timeoutInMinutesOverride"`
}

func (cb *CodeBuild) projectNotFound(name string) *APIError {
	return errorf("ResourceNotFoundException", "Project cannot be found: %s", cb.s.arn("codebuild", "project/"+name))
}

func (cb *CodeBuild) startBuild(_ context.Context, in *startBuildInput) (any, error) {
	if in.ProjectName == "" {
		return nil, errorf("InvalidInputException", "Project name cannot be empty")
	}
	if t := in.TimeoutInMinutesOverride; t != 0 && (t < 5 || t > 2160) {
		return nil, errorf("InvalidInputException", "timeoutInMinutesOverride must be between 5 and 2160")
	}
	switch in.EnvironmentTypeOverride {
	case "", "LINUX_CONTAINER", "LINUX_GPU_CONTAINER", "ARM_CONTAINER", "WINDOWS_SERVER_2019_CONTAINER", "WINDOWS_SERVER_2022_CONTAINER",
		"LINUX_LAMBDA_CONTAINER", "ARM_LAMBDA_CONTAINER", "LINUX_EC2", "ARM_EC2", "WINDOWS_EC2", "MAC_ARM":
	default:
		return nil, errorf("InvalidInputException", "Invalid environment type: %s", in.EnvironmentTypeOverride)
	}
	for _, v := range in.EnvironmentVariablesOverride {
		if v.Name == "" {
			return nil, errorf("InvalidInputException", "Environment variable name cannot be empty")
		}
	}
	cb.mu.Lock()
	p := cb.projects[in.ProjectName]
	if p == nil {
		cb.mu.Unlock()
		return nil, cb.projectNotFound(in.ProjectName)
	}
	p.counter++
	now := cb.s.now()
	uuid := cb.s.newID("codebuild-build")
	b := &cbBuild{
		id: p.name + ":" + uuid, project: p.name, number: p.counter, status: "IN_PROGRESS", start: now,
		phases: []*cbPhase{{typ: "SUBMITTED", status: "SUCCEEDED", start: now, end: now}, {typ: "QUEUED", start: now}},
		env:    in.EnvironmentVariablesOverride, image: p.image, sourceVersion: in.SourceVersion,
		buildspecOverride: in.BuildspecOverride, stream: uuid, timeoutMinutes: 60, serviceRole: p.serviceRole,
		initiator: "runner-fleet",
	}
	b.arn = cb.s.arn("codebuild", "build/"+b.id)
	if in.ImageOverride != "" {
		b.image = in.ImageOverride
	}
	if in.TimeoutInMinutesOverride != 0 {
		b.timeoutMinutes = in.TimeoutInMinutesOverride
	}
	cb.builds[b.id] = b
	cb.order = append(cb.order, b)
	out := map[string]any{"build": b.wire(cb.s)}
	snap, hook := b.snapshot(cb.s.region), cb.OnBuildStarted
	cb.mu.Unlock()
	if hook != nil {
		hook(snap)
	}
	return out, nil
}

type buildIDsInput struct {
	Ids []string `json:"ids"`
	Id  string   `json:"id"`
}

func (cb *CodeBuild) batchGetBuilds(_ context.Context, in *buildIDsInput) (any, error) {
	if len(in.Ids) == 0 || len(in.Ids) > 100 {
		return nil, errorf("InvalidInputException", "Number of build ids must be between 1 and 100")
	}
	cb.mu.Lock()
	defer cb.mu.Unlock()
	builds, missing := []map[string]any{}, []string{}
	for _, id := range in.Ids {
		if b := cb.builds[id]; b != nil {
			builds = append(builds, b.wire(cb.s))
		} else {
			missing = append(missing, id)
		}
	}
	return map[string]any{"builds": builds, "buildsNotFound": missing}, nil
}

func (cb *CodeBuild) stopBuild(_ context.Context, in *buildIDsInput) (any, error) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	b := cb.builds[in.Id]
	if b == nil {
		return nil, errorf("ResourceNotFoundException", "Build cannot be found: %s", in.Id)
	}
	if !b.complete {
		now := cb.s.now()
		cur := b.current()
		cur.status, cur.end = "STOPPED", now
		b.phases = append(b.phases, &cbPhase{typ: "COMPLETED", start: now})
		b.finish("STOPPED", now)
	}
	return map[string]any{"build": b.wire(cb.s)}, nil
}

type listBuildsForProjectInput struct {
	ProjectName string `json:"projectName"`
	SortOrder   string `json:"sortOrder"`
	NextToken   string `json:"nextToken"`
}

func (cb *CodeBuild) listBuildsForProject(_ context.Context, in *listBuildsForProjectInput) (any, error) {
	if in.SortOrder != "" && in.SortOrder != "ASCENDING" && in.SortOrder != "DESCENDING" {
		return nil, errorf("InvalidInputException", "sortOrder must be ASCENDING or DESCENDING")
	}
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.projects[in.ProjectName] == nil {
		return nil, cb.projectNotFound(in.ProjectName)
	}
	ids := []string{}
	for _, b := range cb.order {
		if b.project == in.ProjectName {
			ids = append(ids, b.id)
		}
	}
	if in.SortOrder != "ASCENDING" {
		slices.Reverse(ids)
	}
	page, next, err := paginate(ids, in.NextToken, 100, 100, "builds\x00"+in.ProjectName+"\x00"+in.SortOrder)
	if err != nil {
		return nil, errorf("InvalidInputException", "Invalid next token")
	}
	out := map[string]any{"ids": page}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}
