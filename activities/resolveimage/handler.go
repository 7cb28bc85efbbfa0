package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/runnerfleet/fleet/internal/activity"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/runner/imageref"
)

// imageDescriber is the ECR call ResolveImage makes.
type imageDescriber interface {
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// Clients are the AWS clients ResolveImage calls, built once in main.
type Clients struct {
	SSM parameterReader
	ECR imageDescriber
	ECS taskDefinitions
}

// Handler resolves a job's image and class into a Plan.
type Handler struct {
	cfg      Config
	recipe   imageref.Recipe
	classes  *classCache
	ecr      imageDescriber
	ecs      taskDefinitions
	taskDefs taskDefCache
	log      *slog.Logger
	now      func() time.Time
}

// NewHandler builds the handler; recipe identifies the runner image recipe (its version
// and hash are part of every image tag).
func NewHandler(cfg Config, recipe imageref.Recipe, c Clients, log *slog.Logger) *Handler {
	h := &Handler{
		cfg:      cfg,
		recipe:   recipe,
		ecr:      c.ECR,
		ecs:      c.ECS,
		taskDefs: taskDefCache{entries: map[taskDefKey]taskDefEntry{}},
		log:      log,
		now:      time.Now,
	}
	h.classes = &classCache{ssm: c.SSM, name: cfg.ClassTableParameter, ttl: cfg.ClassCacheTTL, now: func() time.Time { return h.now() }, log: log}
	return h
}

// Resolve is the activity: validate the job, check its image against the allow-list,
// look up its class, find or plan the image, and make sure a task definition exists.
func (h *Handler) Resolve(ctx context.Context, in fleet.Invocation) (fleet.Plan, error) {
	if err := activity.RequireJob(in); err != nil {
		return fleet.Plan{}, err
	}
	job := in.State.Job
	execution := activity.ExecutionName(in.Execution)
	log := h.log.With("execution", execution, "job_id", job.JobID, "repository", job.Repository.FullName())

	ref := strings.ToLower(strings.TrimSpace(job.ImageRef))
	if err := imageref.Validate(ref); err != nil {
		return fleet.Plan{}, fleet.Errorf(fleet.ErrImageNotAllowed, "image %q is not a valid image reference (%v); fix the job's image: label", job.ImageRef, err)
	}
	if !h.allowed(ref) {
		return fleet.Plan{}, fleet.Errorf(fleet.ErrImageNotAllowed,
			"image %q is not on the allow-list (IMAGE_ALLOW_LIST: %s); change the job's image: label or add a matching pattern to IMAGE_ALLOW_LIST",
			ref, h.allowListText())
	}

	class, err := h.class(ctx, job)
	if err != nil {
		return fleet.Plan{}, err
	}
	arch := class.Architecture()

	tag, hash := imageref.ImageTag(ref, arch, h.recipe)
	uri := h.cfg.RepositoryURI + ":" + tag
	exists, err := h.imageExists(ctx, tag)
	if err != nil {
		return fleet.Plan{}, err
	}
	image := fleet.ImagePlan{Ref: ref, Tag: tag, URI: uri, Exists: exists, Arch: arch, BuildName: imageref.BuildName(tag, h.now())}
	if in.Recheck && !exists {
		build := image.BuildName
		if in.State.Plan != nil && in.State.Plan.Image.BuildName != "" {
			build = in.State.Plan.Image.BuildName
		}
		return fleet.Plan{}, fleet.Errorf(fleet.ErrImageBuildFailed,
			"image %s was not built by build %s; see that execution's history (RunnerFleetImageBuild) for the build log", ref, build)
	}
	if !exists {
		input, err := h.buildInput(ref, tag, arch)
		if err != nil {
			return fleet.Plan{}, err
		}
		image.BuildInput = input
	}

	arn, err := h.taskDefinition(ctx, taskSpec{
		family: taskFamily(hash, arch, class.EphemeralStorageGiB), image: uri, ref: ref, tag: tag, arch: arch,
		cpu: class.CPU, memory: class.Memory, storageGiB: class.EphemeralStorageGiB,
	})
	if err != nil {
		return fleet.Plan{}, err
	}
	image.TaskDefinitionArn = arn

	plan := fleet.Plan{
		Image:  image,
		Class:  class,
		Launch: h.launch(arn, class, execution, job, ref),
		Timeouts: fleet.Timeouts{
			BuildSeconds:     h.cfg.BuildSeconds,
			IdleSeconds:      h.cfg.IdleSeconds,
			RunnerTTLSeconds: h.cfg.RunnerTTLSeconds,
		},
	}
	log.InfoContext(ctx, "image resolved", "image", ref, "image_tag", tag, "image_exists", exists, "class", class.Name, "arch", arch, "task_definition", arn, "recheck", in.Recheck)
	return plan, nil
}

func (h *Handler) allowed(ref string) bool {
	if imageref.NormalizeRef(ref) == imageref.NormalizeRef(h.cfg.DefaultImage) {
		return true
	}
	return h.cfg.AllowList.Allows(ref)
}

func (h *Handler) allowListText() string {
	p := h.cfg.AllowList.Patterns()
	if len(p) == 0 {
		return "empty, so only the default image " + h.cfg.DefaultImage + " is allowed"
	}
	return strings.Join(p, ", ")
}

// class looks the job's class up and checks it against the job's architecture label. A
// job that asks for arm64 but names an x64 class (or the reverse) is ClassNotFound: no
// class it named can run it, and the message lists the classes that can.
func (h *Handler) class(ctx context.Context, job fleet.Job) (fleet.Class, error) {
	table, err := h.classes.get(ctx)
	if err != nil {
		return fleet.Class{}, err
	}
	name := strings.ToLower(strings.TrimSpace(job.Class))
	class, ok := table[name]
	if !ok {
		return fleet.Class{}, fleet.Errorf(fleet.ErrClassNotFound,
			"class %q is not in the class table (%s); known classes: %s; fix the job's class: label or add the class",
			name, h.cfg.ClassTableParameter, strings.Join(table.Names(), ", "))
	}
	want, err := fleet.LabelArch(job.Labels)
	if err != nil {
		return fleet.Class{}, activity.Invalid("job labels: %v", err)
	}
	if want != "" && want != class.Architecture() {
		var fit []string
		for _, n := range table.Names() {
			if table[n].Architecture() == want {
				fit = append(fit, n)
			}
		}
		suggest := "none; add a class with \"arch\": \"" + want + "\""
		if len(fit) > 0 {
			suggest = strings.Join(fit, ", ")
		}
		return fleet.Class{}, fleet.Errorf(fleet.ErrClassNotFound,
			"class %q runs on %s but the job's labels ask for %s; classes for %s: %s",
			name, class.Architecture(), want, want, suggest)
	}
	return class, nil
}

// imageExists asks ECR whether tag is in the repository.
func (h *Handler) imageExists(ctx context.Context, tag string) (bool, error) {
	_, err := h.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String(h.cfg.RepositoryName),
		ImageIds:       []ecrtypes.ImageIdentifier{{ImageTag: aws.String(tag)}},
	})
	var notFound *ecrtypes.ImageNotFoundException
	var noRepo *ecrtypes.RepositoryNotFoundException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &notFound):
		return false, nil
	case errors.As(err, &noRepo):
		return false, activity.Misconfigured("ECR repository %s (ECR_REPOSITORY_NAME) does not exist: %v", h.cfg.RepositoryName, err)
	}
	return false, fmt.Errorf("look up image tag %s in ECR repository %s: %w", tag, h.cfg.RepositoryName, err)
}

func (h *Handler) buildInput(ref, tag, arch string) (json.RawMessage, error) {
	in, err := imageref.Build{BaseImage: ref, ImageTag: tag, RepositoryURI: h.cfg.RepositoryURI, Arch: arch}.Input(h.cfg.BuildSeconds)
	if err != nil {
		// ref was validated and the tag is ours, so this is the repository URI.
		return nil, activity.Misconfigured("image build input: %v", err)
	}
	data, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode image build input: %w", err)
	}
	return data, nil
}

// launch is the RunTask request RunRunner sends. Spot classes start on FARGATE_SPOT
// and fall back to FARGATE (OnDemandStrategy) when Spot has no capacity; on-demand
// classes use FARGATE for both, so the fallback simply tries again.
func (h *Handler) launch(taskDef string, class fleet.Class, execution string, job fleet.Job, ref string) fleet.Launch {
	onDemand := []fleet.CapacityProviderUse{{CapacityProvider: "FARGATE", Weight: 1}}
	strategy := onDemand
	if class.Spot {
		strategy = []fleet.CapacityProviderUse{{CapacityProvider: "FARGATE_SPOT", Weight: 1}}
	}
	public := "DISABLED"
	if h.cfg.AssignPublicIP {
		public = "ENABLED"
	}
	return fleet.Launch{
		Cluster:                  h.cfg.Cluster,
		TaskDefinition:           taskDef,
		CapacityProviderStrategy: strategy,
		OnDemandStrategy:         onDemand,
		NetworkConfiguration: fleet.NetworkConfiguration{AwsvpcConfiguration: fleet.AwsvpcConfiguration{
			Subnets:        append([]string(nil), h.cfg.Subnets...),
			SecurityGroups: append([]string(nil), h.cfg.SecurityGroups...),
			AssignPublicIp: public,
		}},
		Cpu:                 class.CPUString(),
		Memory:              class.MemoryString(),
		EphemeralStorageGiB: class.EphemeralStorageGiB,
		Tags:                fleetTags(execution, job, class.Name, ref),
	}
}
