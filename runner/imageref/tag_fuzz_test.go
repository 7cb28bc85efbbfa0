package imageref

import (
	"path"
	"strings"
	"testing"
	"time"
)

// FuzzImageTag checks, for any reference the fleet accepts, that the tag and build name
// are valid names, that the allow-list never panics, and that the readable prefix does
// not decide identity: two references with different normal forms get different tags.
func FuzzImageTag(f *testing.F) {
	for _, ref := range []string{
		"ubuntu:24.04", "ubuntu", "public.ecr.aws/docker/library/node:20", "ghcr.io/acme/tool@sha256:" + strings.Repeat("ab", 32),
		"localhost:5000/a/b:c", "ubuntu:5000/evil/image", "a.b-c_d/e__f:G.h-1",
	} {
		f.Add(ref, "ubuntu:*", "debian:12")
	}
	recipe := Recipe{RunnerVersion: "2.334.0", RecipeHash: "abc"}
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, ref, pattern, other string) {
		if list, err := ParseAllowList(pattern); err == nil {
			list.Allows(ref) // must not panic on any input
		}
		// Without path.Match's other metacharacters, its * is ours: any run but '/'.
		if !strings.ContainsAny(pattern, "?[]\\") {
			want, err := path.Match(pattern, ref)
			if got := globMatch(pattern, ref); err == nil && got != want {
				t.Fatalf("globMatch(%q, %q) = %v, path.Match says %v", pattern, ref, got, want)
			}
		}
		if Validate(ref) != nil {
			return
		}
		for _, arch := range []string{"x64", "arm64"} {
			tag, hash := ImageTag(ref, arch, recipe)
			if err := ValidateTag(tag); err != nil || len(tag) > 128 {
				t.Fatalf("ImageTag(%q, %s) = %q: %v", ref, arch, tag, err)
			}
			if len(hash) != tagHashLen {
				t.Fatalf("hash %q", hash)
			}
			if name := BuildName(tag, at); !buildNameRE.MatchString(name) {
				t.Fatalf("BuildName(%q) = %q", tag, name)
			}
		}
		if Validate(other) == nil && NormalizeRef(strings.ToLower(ref)) != NormalizeRef(strings.ToLower(other)) {
			a, _ := ImageTag(ref, "x64", recipe)
			b, _ := ImageTag(other, "x64", recipe)
			if a == b {
				t.Fatalf("%q and %q share tag %q", ref, other, a)
			}
		}
	})
}
