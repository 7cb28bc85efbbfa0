package fleet

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Class is one row of the class table (SSM parameter, JSON object keyed by class name).
type Class struct {
	Name string `json:"name,omitempty"`
	// CPU in ECS units (1024 = 1 vCPU) and Memory in MiB, as Fargate accepts them.
	CPU    int    `json:"cpu"`
	Memory int    `json:"memory"`
	Arch   string `json:"arch,omitempty"` // "x64" (default) or "arm64"
	Spot   bool   `json:"spot,omitempty"`
	// EphemeralStorageGiB is 21..200; 0 means Fargate's default 20 GiB.
	EphemeralStorageGiB int `json:"ephemeral_storage_gib,omitempty"`
}

// ClassTable maps class names (lower case) to classes.
type ClassTable map[string]Class

// ParseClassTable decodes and validates the SSM document.
func ParseClassTable(data []byte) (ClassTable, error) {
	var raw map[string]Class
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("class table is not a JSON object of classes: %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("class table is empty; define at least one class")
	}
	t := make(ClassTable, len(raw))
	for name, c := range raw {
		key := strings.ToLower(name)
		c.Name = key
		if err := c.Validate(); err != nil {
			return nil, err
		}
		t[key] = c
	}
	return t, nil
}

// Names lists the table's class names, sorted.
func (t ClassTable) Names() []string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate checks the class against the CPU/memory pairs Fargate accepts
// (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size).
func (c Class) Validate() error {
	if c.Name == "" || strings.ContainsAny(c.Name, " :\t\n") {
		return fmt.Errorf("class name %q is empty or has spaces or colons", c.Name)
	}
	if err := ValidateFargateSize(c.CPU, c.Memory); err != nil {
		return fmt.Errorf("class %q: %w", c.Name, err)
	}
	switch c.Arch {
	case "", "x64", "arm64":
	default:
		return fmt.Errorf("class %q: arch %q must be x64 or arm64", c.Name, c.Arch)
	}
	if c.EphemeralStorageGiB != 0 && (c.EphemeralStorageGiB < 21 || c.EphemeralStorageGiB > 200) {
		return fmt.Errorf("class %q: ephemeral_storage_gib %d must be between 21 and 200 (0 keeps the 20 GiB default)", c.Name, c.EphemeralStorageGiB)
	}
	return nil
}

// Architecture is the class's arch with the default applied.
func (c Class) Architecture() string {
	if c.Arch == "" {
		return "x64"
	}
	return c.Arch
}

// ValidateFargateSize reports whether Fargate accepts the cpu (units) / memory (MiB) pair.
func ValidateFargateSize(cpu, memory int) error {
	var ok bool
	switch cpu {
	case 256:
		ok = memory == 512 || memory == 1024 || memory == 2048
	case 512:
		ok = memory >= 1024 && memory <= 4096 && memory%1024 == 0
	case 1024:
		ok = memory >= 2048 && memory <= 8192 && memory%1024 == 0
	case 2048:
		ok = memory >= 4096 && memory <= 16384 && memory%1024 == 0
	case 4096:
		ok = memory >= 8192 && memory <= 30720 && memory%1024 == 0
	case 8192:
		ok = memory >= 16384 && memory <= 61440 && memory%4096 == 0
	case 16384:
		ok = memory >= 32768 && memory <= 122880 && memory%8192 == 0
	default:
		return fmt.Errorf("cpu %d is not a Fargate size; use 256, 512, 1024, 2048, 4096, 8192 or 16384", cpu)
	}
	if !ok {
		return fmt.Errorf("Fargate does not accept cpu %d with memory %d MiB; see the Fargate task size table", cpu, memory)
	}
	return nil
}

// CPUString and MemoryString render the class for ECS overrides.
func (c Class) CPUString() string    { return strconv.Itoa(c.CPU) }
func (c Class) MemoryString() string { return strconv.Itoa(c.Memory) }

// DefaultClassTable is the table the stack creates (and fleet-local serves).
func DefaultClassTable() ClassTable {
	return ClassTable{
		"small":       {Name: "small", CPU: 1024, Memory: 2048},
		"medium":      {Name: "medium", CPU: 2048, Memory: 4096},
		"large":       {Name: "large", CPU: 4096, Memory: 8192},
		"medium-arm":  {Name: "medium-arm", CPU: 2048, Memory: 4096, Arch: "arm64"},
		"medium-spot": {Name: "medium-spot", CPU: 2048, Memory: 4096, Spot: true},
	}
}
