package fleet

import (
	"fmt"
	"strings"
)

// LabelArch returns the architecture a job's labels ask for, with the aliases Decide
// accepts ("aarch64" is "arm64"; "x86_64" and "amd64" are "x64"): "arm64", "x64", or ""
// when no label names one. Labels naming two architectures are an error. Activities use
// it to check a job's architecture against its class without the webhook's label policy.
func LabelArch(labels []string) (string, error) {
	arch := ""
	for _, raw := range labels {
		a := archOf(strings.ToLower(strings.TrimSpace(raw)))
		if a == "" {
			continue
		}
		if arch != "" && arch != a {
			return "", fmt.Errorf("labels ask for two architectures (%s and %s); no single runner can be both", arch, a)
		}
		arch = a
	}
	return arch, nil
}
