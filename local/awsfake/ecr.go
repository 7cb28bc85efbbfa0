package awsfake

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ECR emulates the ECR reads ResolveImage makes: DescribeImages and BatchGetImage, with
// RepositoryNotFoundException and ImageNotFoundException as ECR words them. Images
// arrive through PushImage (what a finished CodeBuild build would have pushed).
type ECR struct {
	s     *Server
	mu    sync.Mutex
	repos map[string]*ecrRepo
}

type ecrRepo struct {
	name   string
	images []*ecrImage // push order
}

type ecrImage struct {
	digest   string
	tags     []string
	size     int64
	pushedAt time.Time
	manifest string
}

const ociManifestType = "application/vnd.oci.image.manifest.v1+json"

func newECR(s *Server) *ECR {
	r := &ECR{s: s, repos: map[string]*ecrRepo{}}
	s.register(&service{
		id: "ecr", prefix: "AmazonEC2ContainerRegistry_V20150921", contentType: "application/x-amz-json-1.1",
		messageField: "message",
		ops: map[string]opFunc{
			"DescribeImages": jsonOp(r.describeImages),
			"BatchGetImage":  jsonOp(r.batchGetImage),
		},
	})
	return r
}

// CreateRepository creates an empty repository (no-op when it exists).
func (r *ECR) CreateRepository(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repos[name] == nil {
		r.repos[name] = &ecrRepo{name: name}
	}
}

// PushImage stores an image of size bytes tagged tag in repo (creating the repository),
// moving the tag off any older image as a push does, and returns the image digest.
func (r *ECR) PushImage(repo, tag string, size int64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	rp := r.repos[repo]
	if rp == nil {
		rp = &ecrRepo{name: repo}
		r.repos[repo] = rp
	}
	n := r.s.seq.Add(1)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s:%s:%d", repo, tag, n))
	digest := fmt.Sprintf("sha256:%x", sum)
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, ociManifestType, digest, size)
	for _, img := range rp.images {
		img.tags = slices.DeleteFunc(img.tags, func(t string) bool { return t == tag })
	}
	rp.images = append(rp.images, &ecrImage{digest: digest, tags: []string{tag}, size: size, pushedAt: r.s.now(), manifest: manifest})
	return digest
}

// RepositoryURI is repo's URI in the fake's registry, as ECR's repositoryUri reads.
func (r *ECR) RepositoryURI(repo string) string {
	return fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", r.s.account, r.s.region, repo)
}

// ImageURI is the pull reference of repo:tag in the fake's registry.
func (r *ECR) ImageURI(repo, tag string) string {
	return r.RepositoryURI(repo) + ":" + tag
}

type ecrImageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

func (id ecrImageID) String() string {
	q := func(s string) string {
		if s == "" {
			return "null"
		}
		return "'" + s + "'"
	}
	return fmt.Sprintf("{imageDigest:%s, imageTag:%s}", q(id.ImageDigest), q(id.ImageTag))
}

type ecrImagesInput struct {
	RegistryId     string       `json:"registryId"`
	RepositoryName string       `json:"repositoryName"`
	ImageIds       []ecrImageID `json:"imageIds"`
	MaxResults     int          `json:"maxResults"`
	NextToken      string       `json:"nextToken"`
}

func (r *ECR) repo(in *ecrImagesInput) (*ecrRepo, error) {
	registry := in.RegistryId
	if registry == "" {
		registry = r.s.account
	}
	rp := r.repos[in.RepositoryName]
	if rp == nil || registry != r.s.account {
		return nil, errorf("RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", in.RepositoryName, registry)
	}
	return rp, nil
}

func (rp *ecrRepo) find(id ecrImageID) *ecrImage {
	for _, img := range rp.images {
		if (id.ImageDigest == "" || img.digest == id.ImageDigest) && (id.ImageTag == "" || slices.Contains(img.tags, id.ImageTag)) {
			return img
		}
	}
	return nil
}

func (r *ECR) describeImages(_ context.Context, in *ecrImagesInput) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rp, err := r.repo(in)
	if err != nil {
		return nil, err
	}
	var imgs []*ecrImage
	if len(in.ImageIds) == 0 {
		imgs = rp.images
	}
	for _, id := range in.ImageIds {
		img := rp.find(id)
		if img == nil {
			return nil, errorf("ImageNotFoundException", "The image with imageId %s does not exist within the repository with name '%s' in the registry with id '%s'", id, rp.name, r.s.account)
		}
		imgs = append(imgs, img)
	}
	page, next, err := paginate(imgs, in.NextToken, in.MaxResults, 100, "images\x00"+rp.name)
	if err != nil {
		return nil, errorf("InvalidParameterException", "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid token'")
	}
	details := make([]map[string]any, 0, len(page))
	for _, img := range page {
		d := map[string]any{
			"registryId": r.s.account, "repositoryName": rp.name, "imageDigest": img.digest,
			"imageSizeInBytes": img.size, "imagePushedAt": epochTime(img.pushedAt),
			"imageManifestMediaType": ociManifestType, "artifactMediaType": "application/vnd.oci.image.config.v1+json",
		}
		if len(img.tags) > 0 {
			d["imageTags"] = img.tags
		}
		details = append(details, d)
	}
	out := map[string]any{"imageDetails": details}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (r *ECR) batchGetImage(_ context.Context, in *ecrImagesInput) (any, error) {
	if len(in.ImageIds) == 0 || len(in.ImageIds) > 100 {
		return nil, errorf("InvalidParameterException", "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rp, err := r.repo(in)
	if err != nil {
		return nil, err
	}
	images, failures := []map[string]any{}, []map[string]any{}
	for _, id := range in.ImageIds {
		img := rp.find(id)
		if img == nil {
			code, reason := "ImageNotFound", "Requested image not found"
			if id.ImageDigest != "" && id.ImageTag != "" && rp.find(ecrImageID{ImageDigest: id.ImageDigest}) != nil {
				code, reason = "ImageTagDoesNotMatchDigest", "Invalid image tag for digest"
			}
			failures = append(failures, map[string]any{"imageId": id, "failureCode": code, "failureReason": reason})
			continue
		}
		got := ecrImageID{ImageDigest: img.digest, ImageTag: id.ImageTag}
		images = append(images, map[string]any{
			"registryId": r.s.account, "repositoryName": rp.name, "imageId": got,
			"imageManifest": img.manifest, "imageManifestMediaType": ociManifestType,
		})
	}
	return map[string]any{"images": images, "failures": failures}, nil
}
