package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// dockerInstructions returns a Dockerfile's instructions, continuation lines joined and
// comments dropped.
func dockerInstructions(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		out = append(out, strings.Join(strings.Fields(cur+trimmed), " "))
		cur = ""
	}
	return out
}

// Both Dockerfiles must give the same runtime contract: tini as PID 1 starting the
// entrypoint, the runner user, run.sh's signal handling on. (hadolint is not packaged
// for Debian; this keeps the contract checked without it.)
func TestDockerfiles(t *testing.T) {
	derived := dockerInstructions(t, "Dockerfile.derived")
	byHand := dockerInstructions(t, "Dockerfile")
	if len(derived) < 2 || derived[0] != "ARG BASE_IMAGE=public.ecr.aws/docker/library/ubuntu:24.04" || derived[1] != "FROM ${BASE_IMAGE}" {
		t.Errorf("Dockerfile.derived must start with ARG BASE_IMAGE=<Ubuntu 24.04> and FROM ${BASE_IMAGE}; got %q", derived[:min(2, len(derived))])
	}
	tail := func(ins []string, from string) []string {
		for i, s := range ins {
			if strings.HasPrefix(s, from) {
				return ins[i:]
			}
		}
		t.Fatalf("no %q instruction", from)
		return nil
	}
	want := tail(derived, "ENV ")
	if got := tail(byHand, "ENV "); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("runner/Dockerfile's runtime settings differ from Dockerfile.derived:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, must := range []string{
		`ENTRYPOINT ["/usr/local/bin/tini", "--", "/usr/local/bin/runner-fleet-entrypoint"]`,
		"USER runner",
		"ENV RUNNER_MANUALLY_TRAP_SIG=1 ACTIONS_RUNNER_PRINT_LOG_TO_STDOUT=1 RUNNER_FLEET_RUNNER_DIR=/home/runner/actions-runner",
	} {
		if !slices.Contains(want, must) {
			t.Errorf("Dockerfile.derived lacks %q", must)
		}
	}
	// The entrypoint path is the one make runner-context and build-image.sh use.
	if !slices.Contains(derived, "COPY --chmod=0755 entrypoint/linux-${TARGETARCH}/runner-fleet-entrypoint /usr/local/bin/runner-fleet-entrypoint") {
		t.Error("Dockerfile.derived does not copy entrypoint/linux-${TARGETARCH}/runner-fleet-entrypoint")
	}
	for _, ins := range append(derived, byHand...) {
		if strings.HasPrefix(ins, "ADD ") {
			t.Errorf("%q: downloads belong in install-runner.sh, where they are checksummed", ins)
		}
	}
}

// make runner-context copies the recipe by name; the list must be RecipeFiles.
func TestMakeCopiesTheWholeRecipe(t *testing.T) {
	mk, err := os.ReadFile("../mk/runner.mk")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUNNER_RECIPE\s*:=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("mk/runner.mk has no RUNNER_RECIPE")
	}
	if got := strings.Fields(string(m[1])); !slices.Equal(got, RecipeFiles) {
		t.Errorf("RUNNER_RECIPE = %q, want RecipeFiles %q", got, RecipeFiles)
	}
}

// runner/Dockerfile copies only internal/seal and runner/ into its build stage; the
// entrypoint must not import anything else of this module.
func TestEntrypointSourcesAreInTheDockerfile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "./entrypoint").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/runnerfleet/fleet/"
	for _, pkg := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(pkg, module)
		if !ok {
			continue
		}
		if rel != "internal/seal" && !strings.HasPrefix(rel, "runner/") {
			t.Errorf("the entrypoint imports %s, which runner/Dockerfile does not copy", pkg)
		}
	}
}
