package imageref

import (
	"errors"
	"strings"
	"testing"
)

// Examples are shared with the build script test in package runner, which checks that
// build-image.sh accepts and refuses exactly the same references.
func TestValidate(t *testing.T) {
	for _, c := range Examples() {
		t.Run(c.Name, func(t *testing.T) {
			err := Validate(c.Ref)
			if c.Valid && err != nil {
				t.Fatalf("Validate(%q) = %v, want nil", c.Ref, err)
			}
			if !c.Valid {
				if err == nil {
					t.Fatalf("Validate(%q) = nil, want an error", c.Ref)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("Validate(%q) = %v, does not wrap ErrInvalid", c.Ref, err)
				}
				if strings.ContainsAny(err.Error(), "\n\r") {
					t.Errorf("error message carries a raw line break: %q", err.Error())
				}
			}
		})
	}
}

func TestValidateNamesTheProblem(t *testing.T) {
	for _, tc := range []struct{ ref, want string }{
		{"", "empty"},
		{"Ubuntu:24.04", "upper-case"},
		{"ubuntu;rm -rf /", `contains ';'`},
		{"ubuntu\nrm", "line break"},
		{strings.Repeat("a", MaxRefLen+1), "at most 512"},
		{strings.Repeat("a", 256), "at most 255"},
		{"ubuntu:24.04:1", "not a Docker reference"},
	} {
		err := Validate(tc.ref)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%.40q) = %v, want an error mentioning %q", tc.ref, err, tc.want)
		}
	}
}

func TestValidateTagAndRepository(t *testing.T) {
	for _, tc := range []struct {
		tag string
		ok  bool
	}{
		{"r-0123abcd", true}, {"v1.2_3", true}, {strings.Repeat("a", 128), true},
		{"", false}, {"-x", false}, {".x", false}, {strings.Repeat("a", 129), false},
		{"a b", false}, {"a;b", false}, {"a\n", false}, {"$(id)", false},
	} {
		if err := ValidateTag(tc.tag); (err == nil) != tc.ok {
			t.Errorf("ValidateTag(%q) = %v, want ok=%v", tc.tag, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet", true},
		{"127.0.0.1:5000/runner-fleet/images", true},
		{"runner-fleet", false}, // no registry host
		{"111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet:tag", false},
		{"host/Upper", false},
		{"host/a;b", false},
		{"host/a\nb", false},
	} {
		if err := ValidateRepository(tc.uri); (err == nil) != tc.ok {
			t.Errorf("ValidateRepository(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
		}
	}
}

func TestBuildEnvironment(t *testing.T) {
	b := Build{
		BaseImage:     "public.ecr.aws/docker/library/ubuntu:24.04",
		ImageTag:      "r-abc123",
		RepositoryURI: "111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet",
		Arch:          "arm64",
	}
	env, err := b.Environment()
	if err != nil {
		t.Fatalf("Environment() = %v", err)
	}
	got := map[string]string{}
	for _, v := range env {
		if v.Type != "PLAINTEXT" {
			t.Errorf("%s has type %q, want PLAINTEXT", v.Name, v.Type)
		}
		got[v.Name] = v.Value
	}
	want := map[string]string{
		"BASE_IMAGE": b.BaseImage, "IMAGE_TAG": b.ImageTag,
		"ECR_REPOSITORY_URI": b.RepositoryURI, "TARGET_ARCH": "arm64",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d variables %v, want exactly %v", len(got), got, want)
	}

	bad := Build{BaseImage: "ubuntu;id", ImageTag: "", RepositoryURI: "x", Arch: "s390x"}
	_, err = bad.Environment()
	if err == nil {
		t.Fatal("Environment() of a hostile build = nil error")
	}
	for _, field := range []string{"base image", "image tag", "ECR repository", "architecture"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name the %s", err, field)
		}
	}
}

func TestPlatform(t *testing.T) {
	for arch, want := range map[string]string{"x64": "linux/amd64", "arm64": "linux/arm64"} {
		if got, err := Platform(arch); err != nil || got != want {
			t.Errorf("Platform(%q) = %q, %v; want %q", arch, got, err, want)
		}
	}
	if _, err := Platform("amd64"); err == nil {
		t.Error("Platform(amd64) accepted a Docker name where the class vocabulary (x64) is expected")
	}
}

func FuzzValidate(f *testing.F) {
	for _, c := range Examples() {
		f.Add(c.Ref)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if Validate(ref) != nil {
			return
		}
		// Anything accepted must be free of what a shell or a Dockerfile would interpret.
		if strings.ContainsAny(ref, " \t\n\r;&|$`'\"\\<>(){}*?!#~") {
			t.Fatalf("Validate accepted %q", ref)
		}
		if len(ref) > MaxRefLen {
			t.Fatalf("Validate accepted %d characters", len(ref))
		}
	})
}

func TestCodeBuildEnvironmentPerArch(t *testing.T) {
	for _, tc := range []struct{ arch, env, image string }{
		{"x64", "LINUX_CONTAINER", BuildImageX64},
		{"arm64", "ARM_CONTAINER", BuildImageARM64},
	} {
		env, image, err := BuildEnvironment(tc.arch)
		if err != nil || env != tc.env || image != tc.image {
			t.Errorf("BuildEnvironment(%s) = %s, %s, %v; want %s, %s", tc.arch, env, image, err, tc.env, tc.image)
		}
	}
	if _, _, err := BuildEnvironment("riscv"); err == nil {
		t.Error("BuildEnvironment(riscv) accepted an unknown architecture")
	}
}
