package fleet

import (
	"strings"
	"testing"
)

func TestValidateFargateSize(t *testing.T) {
	tests := []struct {
		cpu, mem int
		ok       bool
	}{
		{256, 512, true}, {256, 1024, true}, {256, 4096, false},
		{512, 1024, true}, {512, 4096, true}, {512, 512, false},
		{1024, 2048, true}, {1024, 8192, true}, {1024, 1024, false},
		{2048, 4096, true}, {2048, 16384, true}, {2048, 3072, false},
		{4096, 8192, true}, {4096, 30720, true}, {4096, 32768, false},
		{8192, 16384, true}, {8192, 20480, true}, {8192, 17408, false},
		{16384, 32768, true}, {16384, 122880, true}, {16384, 36864, false},
		{3000, 4096, false}, {0, 0, false},
	}
	for _, tc := range tests {
		err := ValidateFargateSize(tc.cpu, tc.mem)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateFargateSize(%d, %d) = %v; want ok=%v", tc.cpu, tc.mem, err, tc.ok)
		}
	}
}

func TestParseClassTable(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
	}{
		{name: "valid", doc: `{"small":{"cpu":1024,"memory":2048},"Big":{"cpu":4096,"memory":8192,"arch":"arm64","ephemeral_storage_gib":50}}`},
		{name: "bad pair", doc: `{"small":{"cpu":1024,"memory":512}}`, wantErr: "does not accept cpu 1024 with memory 512"},
		{name: "unknown field", doc: `{"small":{"cpu":1024,"memory":2048,"gpu":1}}`, wantErr: "unknown field"},
		{name: "bad arch", doc: `{"small":{"cpu":1024,"memory":2048,"arch":"riscv"}}`, wantErr: "arch"},
		{name: "bad storage", doc: `{"small":{"cpu":1024,"memory":2048,"ephemeral_storage_gib":500}}`, wantErr: "ephemeral_storage_gib"},
		{name: "empty", doc: `{}`, wantErr: "empty"},
		{name: "not json", doc: `[`, wantErr: "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl, err := ParseClassTable([]byte(tc.doc))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseClassTable(%s): %v", tc.doc, err)
				}
				if _, ok := tbl["big"]; !ok {
					t.Fatalf("class names are not lower-cased: %v", tbl.Names())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseClassTable(%s) error = %v; want it to mention %q", tc.doc, err, tc.wantErr)
			}
		})
	}
}

func TestDefaultClassTableIsValid(t *testing.T) {
	for name, c := range DefaultClassTable() {
		if err := c.Validate(); err != nil || c.Name != name {
			t.Errorf("default class %q invalid: %v", name, err)
		}
	}
}
