package runner

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/runnerfleet/fleet/runner/imageref"
)

func TestRecipeHash(t *testing.T) {
	h := RecipeHash()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h) {
		t.Fatalf("RecipeHash() = %q, want 64 hex digits", h)
	}
	if h != RecipeHash() {
		t.Fatal("RecipeHash is not stable")
	}
	// The embedded bytes are the files on disk, so editing a file changes the hash.
	for _, name := range RecipeFiles {
		disk, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		emb, err := File(name)
		if err != nil {
			t.Fatalf("File(%s): %v", name, err)
		}
		if string(disk) != string(emb) {
			t.Errorf("embedded %s differs from the file on disk", name)
		}
	}
}

func TestRunnerVersionMatchesPins(t *testing.T) {
	pins, err := Pins()
	if err != nil {
		t.Fatalf("Pins() = %v", err)
	}
	if pins["RUNNER_VERSION"] != RunnerVersion {
		t.Errorf("runner.env pins %q, RunnerVersion is %q: change both together", pins["RUNNER_VERSION"], RunnerVersion)
	}
	sum := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, k := range []string{"RUNNER_SHA256_X64", "RUNNER_SHA256_ARM64", "TINI_SHA256_AMD64", "TINI_SHA256_ARM64"} {
		if !sum.MatchString(pins[k]) {
			t.Errorf("runner.env %s = %q, want a SHA-256", k, pins[k])
		}
	}
}

func TestWriteContext(t *testing.T) {
	dir := t.TempDir()
	if err := WriteContext(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range RecipeFiles {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		exec := st.Mode().Perm()&0o111 != 0
		if want := strings.HasSuffix(name, ".sh"); exec != want {
			t.Errorf("%s executable = %v, want %v", name, exec, want)
		}
	}
	if !strings.Contains(Buildspec(), "bash ./build-image.sh") {
		t.Error("buildspec does not run build-image.sh")
	}
}

// The build script validates its inputs again inside CodeBuild; its patterns must be
// imageref's, character for character.
func TestBuildScriptPatternsMatchImageref(t *testing.T) {
	script, err := File("build-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"ref_pattern":        imageref.RefPattern,
		"tag_pattern":        imageref.TagPattern,
		"repository_pattern": imageref.RepositoryPattern,
	} {
		line := name + "='" + want + "'"
		if !strings.Contains(string(script), "\n"+line+"\n") {
			t.Errorf("build-image.sh does not set %s to imageref's pattern; want the line\n%s", name, line)
		}
	}
	for name, want := range map[string]int{"max_ref_len": imageref.MaxRefLen, "max_name_len": imageref.MaxNameLen} {
		if !strings.Contains(string(script), "\n"+name+"="+strconv.Itoa(want)+"\n") {
			t.Errorf("build-image.sh %s differs from imageref (%d)", name, want)
		}
	}
}
