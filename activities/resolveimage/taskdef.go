package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/fleet"
)

// taskDefinitions is the part of the ECS client ResolveImage uses.
type taskDefinitions interface {
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
}

// Runner container settings; the container is fleet.RunnerContainer.
const (
	// stopTimeout is the seconds ECS waits between SIGTERM and SIGKILL: Fargate Spot's
	// interruption notice comes two minutes ahead, and 120 is Fargate's maximum, so the
	// runner hears SIGTERM as soon as the notice arrives and has the whole two minutes.
	stopTimeout = 120
	// logStreamPrefix makes each runner's stream runner/runner/<task id>.
	logStreamPrefix = "runner"
)

// taskSpec is what one runner task definition must contain.
type taskSpec struct {
	family      string
	image       string // ECR URI with tag
	ref         string // base image reference, for the tag
	tag         string
	arch        string // x64 or arm64
	cpu, memory int    // registered size; RunTask overrides it per class
	storageGiB  int    // 0 = Fargate's 20 GiB
}

// taskFamily names the task definition of image hash for arch: one family per image
// and architecture (and ephemeral storage size, which RunTask cannot override from the
// state machine without a value for every class), reused by every job wanting them.
func taskFamily(hash, arch string, storageGiB int) string {
	f := "runner-fleet-" + hash + "-" + arch
	if storageGiB > 0 {
		f += "-" + strconv.Itoa(storageGiB) + "gib"
	}
	return f
}

// taskDefCache remembers which task definition ARN serves which spec, so a burst of jobs
// for one image costs one DescribeTaskDefinition, not one each. Entries expire after ttl
// so a task definition deregistered by hand is noticed.
type taskDefCache struct {
	mu      sync.Mutex
	entries map[taskDefKey]taskDefEntry
	// locks serialise the lookup of one key, so concurrent invocations in one process
	// (the local environment runs handlers concurrently) register a family once.
	locks map[taskDefKey]*sync.Mutex
}

// lock returns the mutex of key, creating it.
func (c *taskDefCache) lock(key taskDefKey) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.locks == nil {
		c.locks = map[taskDefKey]*sync.Mutex{}
	}
	l := c.locks[key]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[key] = l
	}
	return l
}

// taskDefKey is what decides reuse: the family (image hash, arch, storage) and the
// image URI. The registered size is not part of it: RunTask overrides it per class.
type taskDefKey struct{ family, image string }

type taskDefEntry struct {
	arn string
	at  time.Time
}

// taskDefinition returns the ARN of an ACTIVE task definition for spec: the family's
// latest revision when it matches, a newly registered revision otherwise.
func (h *Handler) taskDefinition(ctx context.Context, spec taskSpec) (string, error) {
	key := taskDefKey{spec.family, spec.image}
	l := h.taskDefs.lock(key)
	l.Lock()
	defer l.Unlock()
	h.taskDefs.mu.Lock()
	e, ok := h.taskDefs.entries[key]
	h.taskDefs.mu.Unlock()
	if ok && h.now().Sub(e.at) < h.cfg.ClassCacheTTL {
		return e.arn, nil
	}
	arn, err := h.lookupOrRegister(ctx, spec)
	if err != nil {
		return "", err
	}
	h.taskDefs.mu.Lock()
	h.taskDefs.entries[key] = taskDefEntry{arn: arn, at: h.now()}
	h.taskDefs.mu.Unlock()
	return arn, nil
}

func (h *Handler) lookupOrRegister(ctx context.Context, spec taskSpec) (string, error) {
	out, err := h.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: &spec.family})
	switch {
	case err == nil && out.TaskDefinition != nil && h.matches(out.TaskDefinition, spec):
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
	case err == nil, isTaskDefinitionMissing(err):
		// Missing, or registered with other settings (roles, log group): register a revision.
	default:
		return "", fmt.Errorf("describe task definition %s: %w", spec.family, err)
	}
	reg, err := h.ecs.RegisterTaskDefinition(ctx, h.registration(spec))
	if err != nil {
		return "", fmt.Errorf("register task definition %s for image %s: %w", spec.family, spec.image, err)
	}
	if reg.TaskDefinition == nil || reg.TaskDefinition.TaskDefinitionArn == nil {
		return "", fmt.Errorf("register task definition %s: ECS answered without a task definition ARN", spec.family)
	}
	arn := aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	h.log.InfoContext(ctx, "task definition registered", "family", spec.family, "task_definition", arn, "image_tag", spec.tag)
	return arn, nil
}

// isTaskDefinitionMissing recognises ECS's answer for a family with no ACTIVE revision:
// ClientException "Unable to describe task definition." Any other ClientException (bad
// ARN, access) is a real failure.
func isTaskDefinitionMissing(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ClientException" &&
		strings.Contains(strings.ToLower(api.ErrorMessage()), "unable to describe task definition")
}

// matches reports whether td already runs spec with the current roles and logging.
func (h *Handler) matches(td *ecstypes.TaskDefinition, spec taskSpec) bool {
	if td.Status != "" && td.Status != ecstypes.TaskDefinitionStatusActive {
		return false
	}
	if aws.ToString(td.ExecutionRoleArn) != h.cfg.ExecutionRoleARN || aws.ToString(td.TaskRoleArn) != h.cfg.TaskRoleARN {
		return false
	}
	if td.RuntimePlatform == nil || td.RuntimePlatform.CpuArchitecture != cpuArchitecture(spec.arch) {
		return false
	}
	storage := 0
	if td.EphemeralStorage != nil {
		storage = int(td.EphemeralStorage.SizeInGiB)
	}
	if storage != spec.storageGiB {
		return false
	}
	for _, c := range td.ContainerDefinitions {
		if aws.ToString(c.Name) != fleet.RunnerContainer {
			continue
		}
		return aws.ToString(c.Image) == spec.image &&
			aws.ToInt32(c.StopTimeout) == stopTimeout &&
			c.LogConfiguration != nil && c.LogConfiguration.Options["awslogs-group"] == h.cfg.LogGroup
	}
	return false
}

func cpuArchitecture(arch string) ecstypes.CPUArchitecture {
	if arch == "arm64" {
		return ecstypes.CPUArchitectureArm64
	}
	return ecstypes.CPUArchitectureX8664
}

// registration is the RegisterTaskDefinition request for spec.
func (h *Handler) registration(spec taskSpec) *ecs.RegisterTaskDefinitionInput {
	in := &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(spec.family),
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		Cpu:                     aws.String(strconv.Itoa(spec.cpu)),
		Memory:                  aws.String(strconv.Itoa(spec.memory)),
		RuntimePlatform: &ecstypes.RuntimePlatform{
			CpuArchitecture:       cpuArchitecture(spec.arch),
			OperatingSystemFamily: ecstypes.OSFamilyLinux,
		},
		ExecutionRoleArn: aws.String(h.cfg.ExecutionRoleARN),
		TaskRoleArn:      aws.String(h.cfg.TaskRoleARN),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name:        aws.String(fleet.RunnerContainer),
			Image:       aws.String(spec.image),
			Essential:   aws.Bool(true),
			StopTimeout: aws.Int32(stopTimeout),
			LogConfiguration: &ecstypes.LogConfiguration{
				LogDriver: ecstypes.LogDriverAwslogs,
				Options: map[string]string{
					"awslogs-group":         h.cfg.LogGroup,
					"awslogs-region":        h.cfg.Region,
					"awslogs-stream-prefix": logStreamPrefix,
				},
			},
		}},
		Tags: []ecstypes.Tag{
			{Key: aws.String("runner-fleet:image"), Value: aws.String(tagValue(spec.ref))},
			{Key: aws.String("runner-fleet:image-tag"), Value: aws.String(spec.tag)},
			{Key: aws.String("runner-fleet:arch"), Value: aws.String(spec.arch)},
		},
	}
	if spec.storageGiB > 0 {
		in.EphemeralStorage = &ecstypes.EphemeralStorage{SizeInGiB: int32(spec.storageGiB)}
	}
	return in
}

// tagValue fits v to ECS's tag rules: at most 256 characters of letters, digits, spaces
// and _ . : / = + - @ (docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-using-tags.html).
// Anything else becomes '_'.
func tagValue(v string) string {
	var b strings.Builder
	for _, c := range v {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune(" _.:/=+-@", c):
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 256 {
			break
		}
	}
	s := b.String()
	return s[:min(len(s), 256)]
}

// fleetTags are the RunTask tags of one runner task (docs/contract.md).
func fleetTags(execution string, job fleet.Job, class, ref string) []fleet.Tag {
	return []fleet.Tag{
		{Key: "runner-fleet:execution", Value: tagValue(execution)},
		{Key: "runner-fleet:repository", Value: tagValue(job.Repository.FullName())},
		{Key: "runner-fleet:class", Value: tagValue(class)},
		{Key: "runner-fleet:image", Value: tagValue(ref)},
	}
}
