package fleet

import (
	"fmt"
	"strings"
)

// Label prefixes and fixed labels the fleet understands.
const (
	LabelSelfHosted  = "self-hosted"
	LabelImagePrefix = "image:"
	LabelClassPrefix = "class:"
)

// builtinLabels are accepted on any job besides image:*, class:* and the operator's extras.
var builtinLabels = map[string]bool{
	LabelSelfHosted: true,
	"linux":         true,
	"x64":           true,
	"arm64":         true,
	"x86_64":        true,
	"amd64":         true,
	"aarch64":       true,
}

// LabelPolicy is what the operator configures about labels.
type LabelPolicy struct {
	// FleetLabel is the fleet's own label (e.g. "runner-fleet"); naming it is enough to
	// make a job ours. Empty disables it.
	FleetLabel string
	// Extra are additional labels accepted (but not sufficient) on a job.
	Extra []string
	// DefaultImage and DefaultClass apply when a job names none.
	DefaultImage string
	DefaultClass string
}

// Request is what a job asks of the fleet once its labels are read.
type Request struct {
	ImageRef string
	Class    string
	// Arch is "arm64" or "x64" when a label names an architecture, else "".
	Arch string
}

// NotOursError says why a job belongs to other runners; the webhook answers 200 with it.
type NotOursError struct{ Reason string }

func (e *NotOursError) Error() string { return e.Reason }

// Decide applies the label rules of ARCHITECTURE.md: labels compare case-insensitively;
// self-hosted is required; every label must be one the fleet understands; the job must
// name at least one of image:, class: or the fleet label. Several image: (or class:)
// labels that disagree are refused, because no single runner could satisfy them
// (GitHub requires a runner to carry every label); repeats of the same value are fine.
func Decide(labels []string, p LabelPolicy) (Request, error) {
	var req Request
	selfHosted, named := false, false
	extra := make(map[string]bool, len(p.Extra))
	for _, e := range p.Extra {
		extra[strings.ToLower(strings.TrimSpace(e))] = true
	}
	fleetLabel := strings.ToLower(strings.TrimSpace(p.FleetLabel))
	for _, raw := range labels {
		l := strings.ToLower(strings.TrimSpace(raw))
		switch {
		case l == "":
			return Request{}, &NotOursError{"empty label"}
		case l == LabelSelfHosted:
			selfHosted = true
		case strings.HasPrefix(l, LabelImagePrefix):
			ref := strings.TrimSpace(raw)[len(LabelImagePrefix):]
			if ref == "" {
				return Request{}, &NotOursError{fmt.Sprintf("label %q names no image", raw)}
			}
			if req.ImageRef != "" && !strings.EqualFold(req.ImageRef, ref) {
				return Request{}, &NotOursError{fmt.Sprintf("labels ask for two images (%q and %q); no single runner can carry both", req.ImageRef, ref)}
			}
			req.ImageRef = strings.ToLower(ref)
			named = true
		case strings.HasPrefix(l, LabelClassPrefix):
			c := l[len(LabelClassPrefix):]
			if c == "" {
				return Request{}, &NotOursError{fmt.Sprintf("label %q names no class", raw)}
			}
			if req.Class != "" && req.Class != c {
				return Request{}, &NotOursError{fmt.Sprintf("labels ask for two classes (%q and %q); no single runner can carry both", req.Class, c)}
			}
			req.Class = c
			named = true
		case fleetLabel != "" && l == fleetLabel:
			named = true
		case builtinLabels[l]:
			if a := archOf(l); a != "" {
				if req.Arch != "" && req.Arch != a {
					return Request{}, &NotOursError{"labels ask for two architectures"}
				}
				req.Arch = a
			}
		case extra[l]:
		default:
			return Request{}, &NotOursError{fmt.Sprintf("label %q is not one this fleet serves", raw)}
		}
	}
	if !selfHosted {
		return Request{}, &NotOursError{"job does not ask for a self-hosted runner"}
	}
	if !named {
		return Request{}, &NotOursError{"job names none of image:, class: or the fleet label"}
	}
	if req.ImageRef == "" {
		req.ImageRef = strings.ToLower(p.DefaultImage)
	}
	if req.Class == "" {
		req.Class = strings.ToLower(p.DefaultClass)
	}
	return req, nil
}

func archOf(l string) string {
	switch l {
	case "arm64", "aarch64":
		return "arm64"
	case "x64", "x86_64", "amd64":
		return "x64"
	}
	return ""
}
