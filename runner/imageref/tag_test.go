package imageref

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestAllowList(t *testing.T) {
	list, err := ParseAllowList("ubuntu:*, public.ecr.aws/docker/library/*, debian:12, ghcr.io/acme/*/*, Node:20")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref  string
		want bool
	}{
		{"ubuntu:24.04", true},
		{"ubuntu:22.04", true},
		{"docker.io/library/ubuntu:24.04", true}, // same image, written out
		{"index.docker.io/library/ubuntu:20.04", true},
		{"ubuntu", true},                  // ubuntu:latest once normalised
		{"ubuntu:latest", true},           // explicit tag
		{"ubuntu:5000/evil/image", false}, // registry host "ubuntu:5000", not a tag
		{"ubuntu-evil/image:1", false},    // another Docker Hub user
		{"public.ecr.aws/docker/library/node:20", true},
		{"public.ecr.aws/docker/library/deeper/node:20", false}, // * does not cross /
		{"public.ecr.aws/docker/other/node:20", false},
		{"debian:12", true},
		{"debian:12.1", false},
		{"debian", false},
		{"ghcr.io/acme/team/tool:1", true},
		{"ghcr.io/acme/tool:1", false},
		{"node:20", true}, // patterns compare case-insensitively
		{"NODE:20", true},
	}
	for _, tt := range tests {
		if got := list.Allows(tt.ref); got != tt.want {
			t.Errorf("Allows(%q) = %v, want %v (patterns %q)", tt.ref, got, tt.want, list.Patterns())
		}
	}
}

func TestAllowListEmptyAndInvalid(t *testing.T) {
	empty, err := ParseAllowList(" , ")
	if err != nil {
		t.Fatal(err)
	}
	if empty.Allows("ubuntu:24.04") {
		t.Error("empty allow-list allowed ubuntu:24.04")
	}
	for _, bad := range []string{"ubuntu:[0-9]*", "ubu ntu", "ubuntu:?"} {
		if _, err := ParseAllowList(bad); err == nil {
			t.Errorf("ParseAllowList(%q) accepted an invalid pattern", bad)
		}
	}
}

func TestNormalizeRef(t *testing.T) {
	tests := map[string]string{
		"ubuntu":                                   "docker.io/library/ubuntu:latest",
		"ubuntu:24.04":                             "docker.io/library/ubuntu:24.04",
		"library/ubuntu:24.04":                     "docker.io/library/ubuntu:24.04",
		"docker.io/ubuntu:24.04":                   "docker.io/library/ubuntu:24.04",
		"index.docker.io/library/ubuntu:24.04":     "docker.io/library/ubuntu:24.04",
		"someone/tool":                             "docker.io/someone/tool:latest",
		"ghcr.io/acme/tool:1":                      "ghcr.io/acme/tool:1",
		"localhost/tool":                           "localhost/tool:latest",
		"registry:5000/tool":                       "registry:5000/tool:latest",
		"ubuntu@sha256:" + strings.Repeat("a", 64): "docker.io/library/ubuntu@sha256:" + strings.Repeat("a", 64),
	}
	for in, want := range tests {
		if got := NormalizeRef(in); got != want {
			t.Errorf("NormalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
}

var (
	ecrTagRE    = regexp.MustCompile(`^[a-z0-9_][a-z0-9_.-]{0,127}$`)
	buildNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
)

func TestImageTagStableAndDistinct(t *testing.T) {
	recipe := Recipe{RunnerVersion: "2.334.0", RecipeHash: "abc123"}
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	long := "registry.example.com/" + strings.Repeat("very-long-path-component/", 8) + "image:" + strings.Repeat("t", 120)
	refs := []struct {
		ref  string
		arch string
	}{
		{"ubuntu:24.04", "x64"},
		{"ubuntu:24.04", "arm64"},
		{"ubuntu:22.04", "x64"},
		{"debian:12", "x64"},
		{"ghcr.io/acme/ubuntu:24.04", "x64"}, // same readable prefix as ubuntu:24.04
		{"ubuntu:24.04@" + digest, "x64"},
		{"ubuntu@" + digest, "x64"},
		{"ubuntu-24.04", "x64"}, // a repository whose name reads like another's tag
		{long, "x64"},
		{long + "x", "x64"}, // differs only past the truncation point
	}
	seen := map[string]string{}
	for _, r := range refs {
		tag, hash := ImageTag(r.ref, r.arch, recipe)
		if again, _ := ImageTag(r.ref, r.arch, recipe); again != tag {
			t.Errorf("ImageTag(%q, %s) is not stable: %q then %q", r.ref, r.arch, tag, again)
		}
		if !ecrTagRE.MatchString(tag) || len(tag) > 128 {
			t.Errorf("ImageTag(%q, %s) = %q: not an ECR tag", r.ref, r.arch, tag)
		}
		if err := ValidateTag(tag); err != nil {
			t.Errorf("ImageTag(%q, %s) = %q: %v", r.ref, r.arch, tag, err)
		}
		if !strings.HasSuffix(tag, "-"+r.arch+"-"+hash) {
			t.Errorf("ImageTag(%q, %s) = %q does not end in -%s-%s", r.ref, r.arch, tag, r.arch, hash)
		}
		if other, ok := seen[tag]; ok {
			t.Errorf("ImageTag(%q) = ImageTag(%q) = %q", r.ref, other, tag)
		}
		seen[tag] = r.ref + " " + r.arch
		name := BuildName(tag, time.Date(2026, 11, 27, 8, 59, 0, 0, time.UTC))
		if !buildNameRE.MatchString(name) {
			t.Errorf("BuildName(%q) = %q: not a Step Functions execution name of at most 80 characters", tag, name)
		}
	}
	if tag, _ := ImageTag("ubuntu:24.04", "x64", recipe); !strings.HasPrefix(tag, "ubuntu-24.04-x64-") {
		t.Errorf("ImageTag(ubuntu:24.04) = %q, want the readable prefix ubuntu-24.04-x64-", tag)
	}
}

func TestImageTagSameImageSameTag(t *testing.T) {
	recipe := Recipe{RunnerVersion: "2.334.0", RecipeHash: "abc123"}
	a, _ := ImageTag("ubuntu:24.04", "x64", recipe)
	for _, same := range []string{"docker.io/library/ubuntu:24.04", "library/ubuntu:24.04", "Ubuntu:24.04"} {
		if b, _ := ImageTag(same, "x64", recipe); b[strings.LastIndexByte(b, '-'):] != a[strings.LastIndexByte(a, '-'):] {
			t.Errorf("ImageTag(%q) hash differs from ImageTag(ubuntu:24.04): %q vs %q", same, b, a)
		}
	}
}

func TestImageTagChangesWithRecipe(t *testing.T) {
	base := Recipe{RunnerVersion: "2.334.0", RecipeHash: "abc123"}
	tag, _ := ImageTag("ubuntu:24.04", "x64", base)
	for name, r := range map[string]Recipe{
		"recipe hash":    {RunnerVersion: "2.334.0", RecipeHash: "abc124"},
		"runner version": {RunnerVersion: "2.335.0", RecipeHash: "abc123"},
	} {
		if other, _ := ImageTag("ubuntu:24.04", "x64", r); other == tag {
			t.Errorf("changing the %s kept tag %q", name, tag)
		}
	}
}

func TestBuildName(t *testing.T) {
	tag := "ubuntu-24.04-x64-0123456789abcdef0123"
	at := func(h, m int) string { return BuildName(tag, time.Date(2026, 11, 27, h, m, 0, 0, time.UTC)) }
	if got, want := at(8, 0), "ubuntu-24_04-x64-0123456789abcdef0123-2026112708"; got != want {
		t.Errorf("BuildName = %q, want %q", got, want)
	}
	if at(8, 1) != at(8, 59) {
		t.Error("two times within one hour gave different build names")
	}
	if at(8, 59) == at(9, 0) {
		t.Error("the next hour reuses the build name, so a failed build could never be retried")
	}
	// Another zone's clock names the same UTC hour.
	paris := time.FixedZone("CET", 3600)
	if BuildName(tag, time.Date(2026, 11, 27, 9, 30, 0, 0, paris)) != at(8, 30) {
		t.Error("BuildName depends on the clock's zone")
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "ubuntu:24.04", true},
		{"*", "a/b", false},
		{"*/*", "a/b", true},
		{"ubuntu:*", "ubuntu:", true},
		{"ubuntu:*", "ubuntu", false},
		{"*:24.04", "ubuntu:24.04", true},
		{"u*u*:2*", "ubuntu:24.04", true},
		{"u*x*", "ubuntu", false},
		{"a**b", "ab", true},
		{"", "", true},
		{"", "a", false},
		{strings.Repeat("*a", 30) + "b", strings.Repeat("a", 500), false}, // must stay fast
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}
