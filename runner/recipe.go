// Package runner holds the runner image recipe: the CodeBuild buildspec, the build
// script, the Dockerfile template and installer every runner image is built from, and
// the pinned GitHub Actions runner version. The files live beside this package and are
// embedded, so the workflow can tag images by RecipeHash (a changed recipe yields new
// tags, hence rebuilt images) and the deployment can write the exact build context.
//
// Subpackages: imageref validates build inputs, launch opens the sealed JIT config and
// supervises the runner, entrypoint is the container's program.
package runner

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// RunnerVersion is the GitHub Actions runner release the image installs. runner.env
// pins the same version with its checksums; a test keeps the two equal.
const RunnerVersion = "2.334.0"

// RecipeFiles are the files that define an image build, in hashing order. Changing any
// byte of them changes RecipeHash.
var RecipeFiles = []string{
	"buildspec.yml",
	"build-image.sh",
	"Dockerfile.derived",
	"install-runner.sh",
	"runner.env",
}

//go:embed buildspec.yml build-image.sh Dockerfile.derived install-runner.sh runner.env
var recipe embed.FS

// RecipeHash is the lower-case hex SHA-256 over the recipe files: for each file in
// RecipeFiles order, its name, a NUL, its length in decimal, a NUL, and its bytes. The
// framing keeps moving bytes between files from yielding the same hash.
func RecipeHash() string {
	h := sha256.New()
	for _, name := range RecipeFiles {
		data := mustRead(name)
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// File returns the embedded bytes of one recipe file.
func File(name string) ([]byte, error) {
	return fs.ReadFile(recipe, name)
}

// Buildspec returns buildspec.yml, for a CodeBuild project that takes its buildspec
// inline rather than from the source.
func Buildspec() string { return string(mustRead("buildspec.yml")) }

// Pins returns the KEY=VALUE settings of runner.env (runner version and checksums).
func Pins() (map[string]string, error) {
	data, err := fs.ReadFile(recipe, "runner.env")
	if err != nil {
		return nil, err
	}
	pins := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("runner.env line %d is not KEY=VALUE: %q", n, line)
		}
		pins[k] = v
	}
	return pins, sc.Err()
}

// WriteContext writes the recipe files into dir (created if needed), scripts executable.
// The build context also needs the entrypoint binaries under
// entrypoint/linux-<amd64|arm64>/runner-fleet-entrypoint; `make runner-context` adds them.
func WriteContext(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create build context %s: %w", dir, err)
	}
	for _, name := range RecipeFiles {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, mustRead(name), mode); err != nil {
			return fmt.Errorf("write build context: %w", err)
		}
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("write build context: %w", err)
		}
	}
	return nil
}

func mustRead(name string) []byte {
	data, err := fs.ReadFile(recipe, name)
	if err != nil {
		// Only a name missing from the go:embed line can get here; tests read every file.
		panic(fmt.Sprintf("runner recipe file %s is not embedded: %v", name, err))
	}
	return data
}
