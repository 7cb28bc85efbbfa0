package fleet

import "testing"

func TestLabelArch(t *testing.T) {
	tests := []struct {
		name    string
		labels  []string
		want    string
		wantErr bool
	}{
		{name: "none", labels: []string{"self-hosted", "linux", "class:small"}, want: ""},
		{name: "arm64", labels: []string{"self-hosted", "ARM64"}, want: "arm64"},
		{name: "aarch64 alias", labels: []string{"aarch64"}, want: "arm64"},
		{name: "x64", labels: []string{"X64"}, want: "x64"},
		{name: "amd64 and x86_64 agree", labels: []string{"amd64", "x86_64"}, want: "x64"},
		{name: "two architectures", labels: []string{"x64", "arm64"}, wantErr: true},
		{name: "image label is not an arch", labels: []string{"image:arm64v8/ubuntu:24.04"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LabelArch(tt.labels)
			if (err != nil) != tt.wantErr {
				t.Fatalf("LabelArch(%q) error = %v, want error %v", tt.labels, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("LabelArch(%q) = %q, want %q", tt.labels, got, tt.want)
			}
		})
	}
}
