package main

// This file mirrors the image naming of activities/resolveimage/image.go (ImageTag,
// NormalizeRef, BuildName), which lives in a main package fleetctl cannot import. The
// two must stay byte-for-byte equivalent in behaviour: `images build` pushes the tag
// ResolveImage will look for. Moving those functions into an importable package
// (runner/imageref) and deleting this copy is the fix; until then a change there must
// be repeated here.

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

const (
	tagPrefixMax = 38
	tagHashLen   = 20
	maxBuildName = 80
)

// imageTag is resolveimage.ImageTag: "<readable prefix>-<arch>-<hash>".
func imageTag(ref, arch, runnerVersion, recipeHash string) string {
	sum := sha256.Sum256([]byte("runner-fleet image v1\x00" + normalizeRef(strings.ToLower(ref)) + "\x00" +
		runnerVersion + "\x00" + recipeHash + "\x00" + arch))
	return readablePrefix(ref) + "-" + arch + "-" + hex.EncodeToString(sum[:])[:tagHashLen]
}

// buildName is resolveimage.BuildName: the build lock's execution name for the hour.
func buildName(tag string, now time.Time) string {
	name := strings.ReplaceAll(tag, ".", "_") + "-" + now.UTC().Format("2006010215")
	if len(name) > maxBuildName {
		name = name[len(name)-maxBuildName:]
	}
	return name
}

func splitRef(ref string) (name, tag, digest string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref, digest = ref[:i], ref[i:]
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i:], "/") {
		ref, tag = ref[:i], ref[i:]
	}
	return ref, tag, digest
}

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

func normalizeRef(ref string) string {
	n := normalizeName(ref)
	if _, tag, digest := splitRef(ref); tag == "" && digest == "" {
		n += ":latest"
	}
	return n
}

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
	out = strings.Trim(out, ".-")
	if out == "" {
		out = "image"
	}
	return out
}

// tagParts reads a tag back: the readable base and the architecture, by the
// "<prefix>-<arch>-<20 hex>" convention; ok is false for tags not made by ImageTag.
func tagParts(tag string) (base, arch string, ok bool) {
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
