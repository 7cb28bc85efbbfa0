package main

import (
	"strings"
	"testing"
)

func TestTagValue(t *testing.T) {
	if got := tagValue("owner/repo:tag@sha256 a=b+c_d.e-f"); got != "owner/repo:tag@sha256 a=b+c_d.e-f" {
		t.Errorf("tagValue changed allowed characters: %q", got)
	}
	if got := tagValue("a;b|c"); got != "a_b_c" {
		t.Errorf("tagValue(a;b|c) = %q, want a_b_c", got)
	}
	if got := tagValue(strings.Repeat("x", 300)); len(got) != 256 {
		t.Errorf("tagValue kept %d characters, want 256", len(got))
	}
}
