package fleet

import (
	"errors"
	"strings"
	"testing"
)

// The hot paths the webhook runs on every delivery: label parsing (Decide) and the
// execution name. make bench reports their ns/op and allocs/op (docs/bench.md).

func BenchmarkDecide(b *testing.B) {
	policy := LabelPolicy{FleetLabel: "runner-fleet", Extra: []string{"team-a", "team-b"}, DefaultImage: "ubuntu:24.04", DefaultClass: "medium"}
	cases := []struct {
		name   string
		labels []string
		ours   bool
	}{
		{"ours/image-class", []string{"self-hosted", "linux", "x64", "image:ubuntu:22.04", "class:large"}, true},
		{"ours/fleet-label", []string{"self-hosted", "runner-fleet"}, true},
		{"not-ours/github-hosted", []string{"ubuntu-latest"}, false},
		{"not-ours/gpu", []string{"self-hosted", "class:small", "gpu"}, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := Decide(c.labels, policy)
				var no *NotOursError
				if got := err == nil; got != c.ours || (err != nil && !errors.As(err, &no)) {
					b.Fatalf("Decide(%q) = %v, want ours=%v", c.labels, err, c.ours)
				}
			}
		})
	}
}

func BenchmarkExecutionName(b *testing.B) {
	cases := []struct{ name, owner, repo string }{
		{"short", "octo-org", "hello-world"},
		{"sanitised", "octo.org", "hello.world"},
		{"hashed-long", "an-organisation-with-a-rather-long-name", strings.Repeat("repository-", 5)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if n := ExecutionName(c.owner, c.repo, 31415926535, 2); len(n) > MaxNameLength {
					b.Fatalf("ExecutionName(%q, %q) = %q, longer than %d", c.owner, c.repo, n, MaxNameLength)
				}
			}
		})
	}
}
