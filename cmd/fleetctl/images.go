package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/runnerfleet/fleet/runner"
	"github.com/runnerfleet/fleet/runner/imageref"
)

// ImagesListCommand lists the runner images in the fleet's ECR repository.
type ImagesListCommand struct {
	m *Main
}

// ImagesListOptions are the command's flags.
type ImagesListOptions struct {
	JSON bool
}

// Image is one runner image as images list shows it.
type Image struct {
	Tag      string    `json:"tag"`
	Base     string    `json:"base,omitempty"`
	Arch     string    `json:"arch,omitempty"`
	Digest   string    `json:"digest"`
	Size     int64     `json:"size_bytes"`
	PushedAt time.Time `json:"pushed_at"`
	URI      string    `json:"uri"`
}

// repositoryName is the repository part of an ECR URI (registry/name).
func repositoryName(uri string) (string, error) {
	_, name, ok := strings.Cut(uri, "/")
	if !ok || name == "" {
		return "", fmt.Errorf("%q is not an ECR repository URI (<account>.dkr.ecr.<region>.amazonaws.com/<name>); check --ecr-repository-uri", uri)
	}
	return name, nil
}

// Run parses args and prints the images.
func (c *ImagesListCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetctl images list", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, OutputEcrRepositoryURI)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetctl images list [options]\n\nLists the runner images in ECR, newest push first. BASE and ARCH are read from the\ntag (<base>-<arch>-<hash>, the base image's last path element and tag).\n\noptions:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, c.m.Stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("images list takes no arguments, got %q", fs.Args())
	}
	opts := ImagesListOptions{JSON: *asJSON}
	f, err := c.m.fleet(ctx, &ff)
	if err != nil {
		return err
	}
	images, err := listImages(ctx, f)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(c.m.Stdout, images)
	}
	return printImages(c.m.Stdout, images)
}

func listImages(ctx context.Context, f *Fleet) ([]Image, error) {
	uri, err := f.Resource(ctx, OutputEcrRepositoryURI)
	if err != nil {
		return nil, err
	}
	repo, err := repositoryName(uri)
	if err != nil {
		return nil, err
	}
	images := []Image{}
	p := ecr.NewDescribeImagesPaginator(f.ECR, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list images of ECR repository %s (DescribeImages): %w", repo, err)
		}
		for _, d := range page.ImageDetails {
			tags := d.ImageTags
			if len(tags) == 0 {
				tags = []string{""}
			}
			for _, tag := range tags {
				img := Image{Tag: tag, Digest: aws.ToString(d.ImageDigest), Size: aws.ToInt64(d.ImageSizeInBytes), PushedAt: aws.ToTime(d.ImagePushedAt).UTC(), URI: uri + ":" + tag}
				if tag == "" {
					img.URI = uri + "@" + img.Digest
				}
				img.Base, img.Arch, _ = imageref.ParseTag(tag)
				images = append(images, img)
			}
		}
	}
	// Newest push first; equal times by tag, so the order is stable.
	for i := 1; i < len(images); i++ {
		for j := i; j > 0 && (images[j].PushedAt.After(images[j-1].PushedAt) ||
			images[j].PushedAt.Equal(images[j-1].PushedAt) && images[j].Tag < images[j-1].Tag); j-- {
			images[j], images[j-1] = images[j-1], images[j]
		}
	}
	return images, nil
}

func printImages(w io.Writer, images []Image) error {
	if len(images) == 0 {
		_, err := fmt.Fprintln(w, "no images (the first job for each image builds it, or run fleetctl images build REF)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TAG\tBASE\tARCH\tSIZE\tPUSHED")
	for _, img := range images {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dash(img.Tag), dash(img.Base), dash(img.Arch), size(img.Size), img.PushedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func size(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d B", b)
}

// ImagesBuildCommand builds the runner image of a base image reference ahead of the
// first job that needs it.
type ImagesBuildCommand struct {
	m *Main
}

// ImagesBuildOptions are the command's flags.
type ImagesBuildOptions struct {
	Ref                 string
	Arch                string
	Class               string
	BuildTimeoutSeconds int
}

// cliBuildSuffix marks builds fleetctl starts. A job's BuildImage uses the bare build
// name with its own build_input; if fleetctl took that name with an input differing
// in any byte (say, another BUILD_TIMEOUT_SECONDS), the job would meet
// ExecutionAlreadyExists, find no image and fail with ImageBuildFailed. With its own
// name, a job arriving mid-build at worst builds the same tag a second time.
const cliBuildSuffix = "-cli"

// Run parses args and starts the build.
func (c *ImagesBuildCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetctl images build", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs, OutputEcrRepositoryURI, OutputStateMachineARN, OutputClassTableParameter)
	var opts ImagesBuildOptions
	fs.StringVar(&opts.Arch, "arch", "x64", "architecture to build for: x64 or arm64")
	fs.StringVar(&opts.Class, "class", "", "build for this class's architecture (overrides --arch)")
	fs.IntVar(&opts.BuildTimeoutSeconds, "build-timeout-seconds", 3600, "longest the build may take (ResolveImage's BUILD_TIMEOUT_SECONDS default)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetctl images build REF [options]\n\nStarts a RunnerFleetImageBuild execution for base image REF (as a job's image: label\nnames it), so the image exists before the first job needs it. Does nothing when the\nimage is built or being built.\n\noptions:\n")
		fs.PrintDefaults()
	}
	ref, err := parseNamed(fs, args, c.m.Stdout)
	if err != nil {
		return err
	}
	opts.Ref = strings.ToLower(strings.TrimSpace(ref))
	if err := imageref.Validate(opts.Ref); err != nil {
		return usageErrorf("REF %q: %v", ref, err)
	}
	if opts.Arch != "x64" && opts.Arch != "arm64" {
		return usageErrorf("--arch %q must be x64 or arm64", opts.Arch)
	}
	if opts.BuildTimeoutSeconds < 300 || opts.BuildTimeoutSeconds > 28800 {
		return usageErrorf("--build-timeout-seconds %d must be between 300 and 28800", opts.BuildTimeoutSeconds)
	}
	f, err := c.m.fleet(ctx, &ff)
	if err != nil {
		return err
	}
	return c.build(ctx, f, opts)
}

func (c *ImagesBuildCommand) build(ctx context.Context, f *Fleet, opts ImagesBuildOptions) error {
	w := c.m.Stdout
	if opts.Class != "" {
		table, param, err := readClassTable(ctx, f)
		if err != nil {
			return err
		}
		cl, ok := table[strings.ToLower(opts.Class)]
		if !ok {
			return fmt.Errorf("class %q is not in the class table %s; see fleetctl classes list", opts.Class, param)
		}
		opts.Arch = cl.Architecture()
	}
	uri, err := f.Resource(ctx, OutputEcrRepositoryURI)
	if err != nil {
		return err
	}
	repo, err := repositoryName(uri)
	if err != nil {
		return err
	}
	tag := imageref.TagFor(opts.Ref, opts.Arch, runner.RunnerVersion, runner.RecipeHash())

	_, err = f.ECR.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String(tag)}}})
	switch apiCode(err) {
	case "":
		fmt.Fprintf(w, "image %s (%s) is already built: %s:%s\n", opts.Ref, opts.Arch, uri, tag)
		return nil
	case "ImageNotFoundException":
	default:
		return fmt.Errorf("look up tag %s in ECR repository %s: %w", tag, repo, err)
	}

	machine, err := f.ImageBuildStateMachineARN(ctx)
	if err != nil {
		return err
	}
	prefix := strings.ReplaceAll(tag, ".", "_") + "-"
	running := sfn.NewListExecutionsPaginator(f.SFN, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine), StatusFilter: sfntypes.ExecutionStatusRunning, MaxResults: 100})
	for pages := 0; running.HasMorePages() && pages < 10; pages++ {
		page, err := running.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list running image builds of %s: %w", machine, err)
		}
		for _, e := range page.Executions {
			if strings.HasPrefix(aws.ToString(e.Name), prefix) {
				fmt.Fprintf(w, "image %s (%s) is being built by %s\nconsole: %s\n", opts.Ref, opts.Arch, aws.ToString(e.Name), consoleURL(f.Region(), aws.ToString(e.ExecutionArn)))
				return nil
			}
		}
	}

	in, err := imageref.Build{BaseImage: opts.Ref, ImageTag: tag, RepositoryURI: uri, Arch: opts.Arch}.Input(opts.BuildTimeoutSeconds)
	if err != nil {
		return fmt.Errorf("image build input: %w", err)
	}
	input, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode image build input: %w", err)
	}
	name := imageref.BuildName(tag, c.m.Now()) + cliBuildSuffix
	out, err := f.SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(string(input))})
	if apiCode(err) == "ExecutionAlreadyExists" {
		return fmt.Errorf("build %s already ran this hour and the image is still missing; read its history in the console (%s) before trying again next hour", name, machine)
	}
	if err != nil {
		return fmt.Errorf("start image build %s (Step Functions StartExecution): %w", name, err)
	}
	fmt.Fprintf(w, "building %s (%s) as %s:%s\nexecution: %s\nconsole:   %s\n", opts.Ref, opts.Arch, uri, tag, name, consoleURL(f.Region(), aws.ToString(out.ExecutionArn)))
	return nil
}
