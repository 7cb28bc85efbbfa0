// Package imageref checks the inputs of a runner image build: the base image reference
// from a job's image: label, the tag the workflow computed, the ECR repository and the
// target architecture. These strings end up as arguments of docker in a CodeBuild
// project, so they are checked twice: here, before the workflow starts a build, and by
// the build script itself (runner/build-image.sh), with the same patterns.
//
// The reference grammar is Docker's (github.com/distribution/reference, reference.go):
//
//	reference := name [ ":" tag ] [ "@" digest ]
//	name      := [domain "/"] path-component ["/" path-component]*
//	domain    := domain-component ["." domain-component]* [":" port]
//	path-component := [a-z0-9]+ (separator [a-z0-9]+)*   separator := "." | "_" | "__" | "-"+
//	tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//	digest    := algorithm ":" hex{32,}
//
// IPv6 registry addresses are not accepted. Patterns use only the syntax POSIX extended
// regular expressions share with Go, so bash's [[ =~ ]] reads them as Go does.
package imageref

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Limits.
const (
	// MaxRefLen bounds a base image reference. Docker limits the name part to 255
	// characters; with a tag and a sha256 digest a reference stays below 512.
	MaxRefLen = 512
	// MaxNameLen is Docker's limit on the name part (domain and path).
	MaxNameLen = 255
)

const (
	domainComponent = `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`
	domain          = domainComponent + `(\.` + domainComponent + `)*(:[0-9]+)?`
	pathComponent   = `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
	name            = `(` + domain + `/)?` + pathComponent + `(/` + pathComponent + `)*`
	tag             = `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
	digest          = `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
)

// Patterns, exported so the build script's copies can be checked against them.
const (
	// RefPattern matches a whole base image reference.
	RefPattern = `^` + name + `(:` + tag + `)?(@` + digest + `)?$`
	// TagPattern matches an image tag (IMAGE_TAG).
	TagPattern = `^` + tag + `$`
	// RepositoryPattern matches a repository URI without tag or digest
	// (ECR_REPOSITORY_URI), which must name a registry host.
	RepositoryPattern = `^` + domain + `/` + pathComponent + `(/` + pathComponent + `)*$`
)

// Compiled with Go's default syntax, where ^ and $ anchor the whole text. (Go's POSIX
// mode lets them match at line breaks, so "ubuntu\nRUN ..." would pass; bash's regcomp
// anchors the whole text, as here.) Whether a fully anchored pattern matches does not
// depend on leftmost-first or leftmost-longest semantics.
var (
	refRE  = regexp.MustCompile(RefPattern)
	tagRE  = regexp.MustCompile(TagPattern)
	repoRE = regexp.MustCompile(RepositoryPattern)
)

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("invalid image build input")

// Validate reports whether ref is a Docker image reference the build accepts. The error
// says what is wrong without echoing control characters.
func Validate(ref string) error {
	switch {
	case ref == "":
		return fmt.Errorf("%w: base image reference is empty", ErrInvalid)
	case len(ref) > MaxRefLen:
		return fmt.Errorf("%w: base image reference is %d characters, at most %d are accepted", ErrInvalid, len(ref), MaxRefLen)
	case strings.ContainsAny(ref, "\n\r\x00"):
		return fmt.Errorf("%w: base image reference %q contains a line break or NUL", ErrInvalid, ref)
	}
	if bad := strings.IndexAny(ref, " \t;&|$`'\"\\<>(){}[]*?!#~%^,="); bad >= 0 {
		return fmt.Errorf("%w: base image reference %q contains %q, which no image reference has", ErrInvalid, ref, ref[bad])
	}
	if !refRE.MatchString(ref) {
		if strings.ToLower(nameOf(ref)) != nameOf(ref) && !hasDomain(ref) {
			return fmt.Errorf("%w: base image reference %q has upper-case letters in its repository name; Docker repository names are lower case", ErrInvalid, ref)
		}
		return fmt.Errorf("%w: base image reference %q is not a Docker reference of the form [registry/]repository[:tag][@sha256:digest]", ErrInvalid, ref)
	}
	if n := len(nameOf(ref)); n > MaxNameLen {
		return fmt.Errorf("%w: base image name is %d characters, Docker allows at most %d", ErrInvalid, n, MaxNameLen)
	}
	return nil
}

// ValidateTag reports whether tag is a valid image tag.
func ValidateTag(t string) error {
	if !tagRE.MatchString(t) {
		return fmt.Errorf("%w: image tag %q must be 1 to 128 of [A-Za-z0-9_.-], not starting with . or -", ErrInvalid, t)
	}
	return nil
}

// ValidateRepository reports whether uri is a registry/repository URI with no tag or
// digest, such as 111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet.
func ValidateRepository(uri string) error {
	if len(uri) > MaxNameLen || !repoRE.MatchString(uri) {
		return fmt.Errorf("%w: ECR repository URI %q must be <registry host>/<repository> with no tag", ErrInvalid, uri)
	}
	return nil
}

// Platform maps a class architecture ("x64" or "arm64", as in fleet.Class) to the Docker
// platform the build targets.
func Platform(arch string) (string, error) {
	switch arch {
	case "x64":
		return "linux/amd64", nil
	case "arm64":
		return "linux/arm64", nil
	}
	return "", fmt.Errorf("%w: target architecture %q must be x64 or arm64", ErrInvalid, arch)
}

// nameOf strips the tag and digest from a reference. A colon belongs to the tag only
// when no slash follows it (a colon before a slash separates a registry port).
func nameOf(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i:], "/") {
		ref = ref[:i]
	}
	return ref
}

// hasDomain reports whether the first path element is a registry host, which may be
// upper case (Docker's rule: it contains a dot or a colon, or is localhost).
func hasDomain(ref string) bool {
	first, _, ok := strings.Cut(nameOf(ref), "/")
	if !ok {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// Build is one image build's inputs, as the buildspec reads them from its environment.
type Build struct {
	BaseImage     string // BASE_IMAGE
	ImageTag      string // IMAGE_TAG
	RepositoryURI string // ECR_REPOSITORY_URI
	Arch          string // TARGET_ARCH: x64 or arm64
}

// Validate checks every field, naming the bad ones.
func (b Build) Validate() error {
	var errs []error
	if err := Validate(b.BaseImage); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateTag(b.ImageTag); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateRepository(b.RepositoryURI); err != nil {
		errs = append(errs, err)
	}
	if _, err := Platform(b.Arch); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// EnvVar is one environment variable override of a CodeBuild StartBuild call.
type EnvVar struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
	Type  string `json:"Type"`
}

// Environment validates b and returns it as CodeBuild environment variable overrides
// (type PLAINTEXT), the only way build inputs reach the build script. Values travel as
// data: the buildspec never interpolates them into a command line.
func (b Build) Environment() ([]EnvVar, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return []EnvVar{
		{Name: "BASE_IMAGE", Value: b.BaseImage, Type: "PLAINTEXT"},
		{Name: "IMAGE_TAG", Value: b.ImageTag, Type: "PLAINTEXT"},
		{Name: "ECR_REPOSITORY_URI", Value: b.RepositoryURI, Type: "PLAINTEXT"},
		{Name: "TARGET_ARCH", Value: b.Arch, Type: "PLAINTEXT"},
	}, nil
}

// CodeBuild environments that build runner images natively: build-image.sh refuses to
// build for an architecture other than its host's (the Dockerfile has RUN steps, and no
// emulator is installed), so an arm64 image builds on an ARM host.
const (
	// BuildImageX64 must stay the image build project's own image (cdk/images.go).
	BuildImageX64   = "aws/codebuild/standard:7.0"
	BuildImageARM64 = "aws/codebuild/amazonlinux2-aarch64-standard:3.0"
)

// BuildEnvironment is the CodeBuild environment type and image that build arch's runner
// images (StartBuild's environmentTypeOverride and imageOverride). Both run the project's
// SMALL compute type, which ARM_CONTAINER supports.
func BuildEnvironment(arch string) (environmentType, image string, err error) {
	switch arch {
	case "x64":
		return "LINUX_CONTAINER", BuildImageX64, nil
	case "arm64":
		return "ARM_CONTAINER", BuildImageARM64, nil
	}
	return "", "", fmt.Errorf("%w: target architecture %q must be x64 or arm64", ErrInvalid, arch)
}

// BuildInput is the input of a RunnerFleetImageBuild execution (statemachine/
// imagebuild.asl.json reads it). Every job wanting one image in one hour must send the
// same bytes, so ResolveImage and fleetctl build it here.
type BuildInput struct {
	BaseImage           string   `json:"base_image"`
	ImageTag            string   `json:"image_tag"`
	RepositoryURI       string   `json:"repository_uri"`
	Arch                string   `json:"arch"`
	BuildTimeoutSeconds int      `json:"build_timeout_seconds"`
	Environment         []EnvVar `json:"environment"`
	// BuildEnvironmentType and BuildImage pick a CodeBuild host of the image's
	// architecture (BuildEnvironment): arm64 images build on ARM.
	BuildEnvironmentType string `json:"build_environment_type"`
	BuildImage           string `json:"build_image"`
}

// Input validates b and returns the image build execution's input.
func (b Build) Input(timeoutSeconds int) (BuildInput, error) {
	env, err := b.Environment()
	if err != nil {
		return BuildInput{}, err
	}
	envType, image, err := BuildEnvironment(b.Arch)
	if err != nil {
		return BuildInput{}, err
	}
	return BuildInput{
		BaseImage: b.BaseImage, ImageTag: b.ImageTag, RepositoryURI: b.RepositoryURI, Arch: b.Arch,
		BuildTimeoutSeconds: timeoutSeconds, Environment: env,
		BuildEnvironmentType: envType, BuildImage: image,
	}, nil
}
