package imageref

// This file is the image identity the fleet computes in one place: the operator's
// allow-list, a reference's normal form, the ECR tag a runner image is built under and
// the name of the build that makes it. ResolveImage plans with it and fleetctl's
// `images build` starts the very build ResolveImage would.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// AllowList is the operator's list of image patterns (IMAGE_ALLOW_LIST). A pattern is an
// image reference in which `*` stands for any run of characters except `/`:
//
//	ubuntu:*                          every tag of Docker Hub's ubuntu
//	public.ecr.aws/docker/library/*   every image (and tag) directly under that path
//	debian:12                         exactly that reference
//
// Because `*` never crosses a `/`, "ubuntu:*" cannot match "ubuntu:5000/someone/image"
// (an image on the registry host "ubuntu:5000"), and "ghcr.io/org/*" does not reach into
// deeper paths; list "ghcr.io/org/*/*" for those. A reference is allowed when a pattern
// matches it as written or when both are written out in Docker's normal form
// ("ubuntu:24.04" = "docker.io/library/ubuntu:24.04"). Matching ignores case: the
// webhook lower-cases image labels.
type AllowList struct {
	patterns []string
}

// ParseAllowList reads comma-separated patterns; empty allows nothing but the default image.
func ParseAllowList(v string) (AllowList, error) {
	var l AllowList
	for _, p := range splitPatterns(v) {
		p = strings.ToLower(p)
		for _, c := range p {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/:@*", c)) {
				return AllowList{}, fmt.Errorf("pattern %q contains %q; patterns are image references with * wildcards", p, c)
			}
		}
		l.patterns = append(l.patterns, p)
	}
	return l, nil
}

// Patterns returns the patterns as configured (lower case).
func (l AllowList) Patterns() []string { return append([]string(nil), l.patterns...) }

// Allows reports whether ref matches one of the patterns.
func (l AllowList) Allows(ref string) bool {
	ref = strings.ToLower(ref)
	norm := NormalizeRef(ref)
	for _, p := range l.patterns {
		if globMatch(p, ref) || globMatch(normalizeName(p), norm) {
			return true
		}
	}
	return false
}

// globMatch matches s against pattern, where `*` is any run of characters but `/`.
// Since neither side's `/` can be matched by a `*`, the two must have the same number of
// path elements, matched pairwise; each pair takes the classic greedy wildcard match,
// linear in practice and never exponential, whatever the operator writes.
func globMatch(pattern, s string) bool {
	ps, ss := strings.Split(pattern, "/"), strings.Split(s, "/")
	if len(ps) != len(ss) {
		return false
	}
	for i := range ps {
		if !matchElement(ps[i], ss[i]) {
			return false
		}
	}
	return true
}

// matchElement is wildcard matching of one path element ('*' only).
func matchElement(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			// Let the last star take one more character and retry after it.
			mark++
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// splitRef cuts a reference into its name and the rest (":tag", "@digest" or both). A
// colon starts the tag only when no slash follows it: before a slash it is a registry port.
func splitRef(ref string) (name, tag, digest string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref, digest = ref[:i], ref[i:]
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i:], "/") {
		ref, tag = ref[:i], ref[i:]
	}
	return ref, tag, digest
}

// normalizeName writes out the registry and the library/ namespace the way Docker does
// (github.com/distribution/reference, normalize.go): a first path element is a registry
// host only when it has a dot or a colon or is "localhost"; otherwise the image lives on
// docker.io, under library/ when it has a single path element. Tag and digest are kept.
func normalizeName(ref string) string {
	name, tag, digest := splitRef(ref)
	domain, path := "docker.io", name
	if first, rest, ok := strings.Cut(name, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		domain, path = strings.ToLower(first), rest
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return domain + "/" + path + tag + digest
}

// NormalizeRef is ref in Docker's normal form: registry and namespace written out, and
// ":latest" when it names neither tag nor digest. Two references with the same normal
// form are the same image, so they share a tag.
func NormalizeRef(ref string) string {
	n := normalizeName(ref)
	if _, tag, digest := splitRef(ref); tag == "" && digest == "" {
		n += ":latest"
	}
	return n
}

// Recipe identifies how runner images are built: the runner version installed and a hash
// of the build recipe (Dockerfile, scripts). Either changing gives every image a new tag.
type Recipe struct {
	RunnerVersion string
	RecipeHash    string
}

// Limits of what ImageTag produces.
const (
	// tagPrefixMax bounds the readable part of a tag, so the build name (tag, '-', a
	// 10-character hour bucket) stays within Step Functions' 80 characters.
	tagPrefixMax = 38
	// tagHashLen is the hex length of the identity hash (80 bits): collisions among the
	// images one fleet builds are not a practical concern.
	tagHashLen = 20
	// maxBuildName is Step Functions' execution name limit.
	maxBuildName = 80
)

// ImageTag is the ECR tag of the runner image built from ref for arch with recipe r:
// "<readable prefix>-<arch>-<hash>", at most 65 characters of [a-z0-9_.-]. The hash covers
// the normalised reference, the runner version, the recipe hash and the architecture, so
// different images never share a tag and a changed recipe gives a new one. It also
// returns the hash, which names the task definition family.
func ImageTag(ref, arch string, r Recipe) (tag, hash string) {
	sum := sha256.Sum256([]byte("runner-fleet image v1\x00" + NormalizeRef(strings.ToLower(ref)) + "\x00" +
		r.RunnerVersion + "\x00" + r.RecipeHash + "\x00" + arch))
	hash = hex.EncodeToString(sum[:])[:tagHashLen]
	return readablePrefix(ref) + "-" + arch + "-" + hash, hash
}

// readablePrefix is the image's last path element and its tag ("ubuntu-24.04"), or the
// start of its digest, sanitised to the tag alphabet and truncated.
func readablePrefix(ref string) string {
	name, tag, digest := splitRef(strings.ToLower(ref))
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	s := name
	switch {
	case tag != "":
		s += "-" + tag[1:]
	case digest != "":
		_, hex, _ := strings.Cut(digest[1:], ":")
		s += "-" + hex[:min(12, len(hex))]
	}
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '.':
			b.WriteRune(c)
		default:
			if !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	out := b.String()
	if len(out) > tagPrefixMax {
		out = out[:tagPrefixMax]
	}
	// A tag may not start with '.' or '-'; trailing ones read badly before the '-'.
	out = strings.Trim(out, ".-")
	if out == "" {
		out = "image"
	}
	return out
}

// BuildName is the RunnerFleetImageBuild execution name for tag at time now: the tag in
// Step Functions' alphabet plus the UTC hour. Every job wanting the tag within the hour
// gets the same name, so concurrent StartExecution calls join one build (the build
// lock). A closed execution name cannot be reused, so the hour is what lets a failed
// build be tried again: jobs in the same hour learn of the failure (ImageBuildFailed)
// instead of each starting a doomed build, and the first job of the next hour retries.
// The price is at most one duplicate build when a build straddles the hour; it pushes
// the same tag, so it is only wasted minutes.
func BuildName(tag string, now time.Time) string {
	name := strings.ReplaceAll(tag, ".", "_") + "-" + now.UTC().Format("2006010215")
	if len(name) > maxBuildName {
		// ImageTag keeps tags short enough; this guards a future change.
		name = name[len(name)-maxBuildName:]
	}
	return name
}

func splitPatterns(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseTag reads a tag ImageTag made back into its readable base and architecture, by the
// "<prefix>-<arch>-<20 hex>" convention; ok is false for any other tag.
func ParseTag(tag string) (base, arch string, ok bool) {
	i := strings.LastIndexByte(tag, '-')
	if i < 0 || len(tag)-i-1 != tagHashLen {
		return "", "", false
	}
	if _, err := hex.DecodeString(tag[i+1:]); err != nil {
		return "", "", false
	}
	rest := tag[:i]
	j := strings.LastIndexByte(rest, '-')
	if j < 0 {
		return "", "", false
	}
	arch = rest[j+1:]
	if arch != "x64" && arch != "arm64" {
		return "", "", false
	}
	return rest[:j], arch, true
}

// TagFor is ImageTag's tag alone, for callers that name the recipe by its parts.
func TagFor(ref, arch, runnerVersion, recipeHash string) string {
	tag, _ := ImageTag(ref, arch, Recipe{RunnerVersion: runnerVersion, RecipeHash: recipeHash})
	return tag
}
