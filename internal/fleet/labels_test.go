package fleet

import (
	"errors"
	"strings"
	"testing"
)

func TestDecide(t *testing.T) {
	policy := LabelPolicy{FleetLabel: "runner-fleet", Extra: []string{"team-a"}, DefaultImage: "ubuntu:24.04", DefaultClass: "medium"}
	tests := []struct {
		name    string
		labels  []string
		want    Request
		notOurs string // substring of the reason when not ours
	}{
		{name: "image and class", labels: []string{"self-hosted", "image:ubuntu:22.04", "class:large"}, want: Request{ImageRef: "ubuntu:22.04", Class: "large"}},
		{name: "class only takes the default image", labels: []string{"self-hosted", "linux", "x64", "class:small"}, want: Request{ImageRef: "ubuntu:24.04", Class: "small", Arch: "x64"}},
		{name: "fleet label alone takes both defaults", labels: []string{"self-hosted", "runner-fleet"}, want: Request{ImageRef: "ubuntu:24.04", Class: "medium"}},
		{name: "case-insensitive", labels: []string{"Self-Hosted", "LINUX", "Image:Ubuntu:22.04", "CLASS:Large", "Team-A"}, want: Request{ImageRef: "ubuntu:22.04", Class: "large"}},
		{name: "arm64 label", labels: []string{"self-hosted", "ARM64", "class:small"}, want: Request{ImageRef: "ubuntu:24.04", Class: "small", Arch: "arm64"}},
		{name: "same image twice", labels: []string{"self-hosted", "image:a:1", "image:A:1"}, want: Request{ImageRef: "a:1", Class: "medium"}},
		{name: "unknown label", labels: []string{"self-hosted", "class:small", "gpu"}, notOurs: `label "gpu" is not one this fleet serves`},
		{name: "missing self-hosted", labels: []string{"linux", "class:small"}, notOurs: "self-hosted"},
		{name: "github-hosted", labels: []string{"ubuntu-latest"}, notOurs: "ubuntu-latest"},
		{name: "two images", labels: []string{"self-hosted", "image:a:1", "image:b:1"}, notOurs: "two images"},
		{name: "two classes", labels: []string{"self-hosted", "class:small", "class:large"}, notOurs: "two classes"},
		{name: "two architectures", labels: []string{"self-hosted", "class:small", "x64", "arm64"}, notOurs: "two architectures"},
		{name: "nothing of ours named", labels: []string{"self-hosted", "linux"}, notOurs: "names none"},
		{name: "extra label is not sufficient", labels: []string{"self-hosted", "team-a"}, notOurs: "names none"},
		{name: "empty image", labels: []string{"self-hosted", "image:"}, notOurs: "names no image"},
		{name: "empty label", labels: []string{"self-hosted", "", "class:small"}, notOurs: "empty label"},
		{name: "no labels", labels: nil, notOurs: "self-hosted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decide(tc.labels, policy)
			if tc.notOurs != "" {
				var no *NotOursError
				if !errors.As(err, &no) || !strings.Contains(no.Reason, tc.notOurs) {
					t.Fatalf("Decide(%q) = %+v, %v; want NotOursError containing %q", tc.labels, got, err, tc.notOurs)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Decide(%q) = %+v, %v; want %+v", tc.labels, got, err, tc.want)
			}
		})
	}
}

func FuzzDecide(f *testing.F) {
	f.Add("self-hosted,image:ubuntu:24.04,class:medium")
	f.Add("self-hosted,gpu")
	f.Add("Self-Hosted,IMAGE:x,runner-fleet")
	f.Fuzz(func(t *testing.T, joined string) {
		labels := strings.Split(joined, ",")
		req, err := Decide(labels, LabelPolicy{FleetLabel: "runner-fleet", DefaultImage: "ubuntu:24.04", DefaultClass: "medium"})
		if err != nil {
			var no *NotOursError
			if !errors.As(err, &no) {
				t.Fatalf("Decide(%q) returned %T, want *NotOursError", labels, err)
			}
			return
		}
		if req.ImageRef == "" || req.Class == "" {
			t.Fatalf("Decide(%q) = %+v: accepted without image or class", labels, req)
		}
	})
}
