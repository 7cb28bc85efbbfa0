package runner

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runnerfleet/fleet/runner/imageref"
)

// Fake tools record each call as one line: the tool name and its arguments, separated by
// the ASCII unit separator, so arguments with spaces stay whole.
const fakeTool = `#!/bin/sh
{ printf '%s' "$(basename "$0")"; for a in "$@"; do printf '\037%s' "$a"; done; printf '\n'; } >>"$FAKE_LOG"
`

func writeFake(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(fakeTool+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// linkTools makes the named real tools available in dir, so PATH can be dir alone and
// nothing outside the test's control (a real apt-get, a real docker) can run.
func linkTools(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Fatalf("test needs %s: %v", n, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
}

type call []string

func readCalls(t *testing.T, log string) []call {
	t.Helper()
	data, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var calls []call
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line != "" {
			calls = append(calls, strings.Split(line, "\x1f"))
		}
	}
	return calls
}

func findCall(calls []call, prefix ...string) call {
	for _, c := range calls {
		if len(c) >= len(prefix) && slices.Equal(c[:len(prefix)], prefix) {
			return c
		}
	}
	return nil
}

// buildEnv is a build context with fake docker, aws, uname (and optionally soci and
// nerdctl) first on PATH.
type buildEnv struct {
	context, bin, log string
}

func newBuildEnv(t *testing.T, withSOCI bool) buildEnv {
	t.Helper()
	root := t.TempDir()
	e := buildEnv{context: filepath.Join(root, "context"), bin: filepath.Join(root, "bin"), log: filepath.Join(root, "calls.log")}
	if err := WriteContext(e.context); err != nil {
		t.Fatal(err)
	}
	ep := filepath.Join(e.context, "entrypoint", "linux-amd64")
	if err := os.MkdirAll(ep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ep, "runner-fleet-entrypoint"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFake(t, e.bin, "docker", `[ "$1" = login ] && cat >/dev/null
[ "$1" = build ] && exit "${FAKE_BUILD_EXIT:-0}"
exit 0
`)
	writeFake(t, e.bin, "aws", `case "$1 $2" in
"ecr describe-images") [ -n "${FAKE_IMAGE_EXISTS:-}" ] && exit 0; echo "ImageNotFoundException" >&2; exit 254 ;;
"ecr get-login-password") echo password ;;
esac
`)
	writeFake(t, e.bin, "uname", `echo "${FAKE_MACHINE:-x86_64}"`)
	if withSOCI {
		writeFake(t, e.bin, "soci", "")
		writeFake(t, e.bin, "nerdctl", "")
	}
	linkTools(t, e.bin, "bash", "sh", "cat", "dirname", "basename")
	return e
}

func (e buildEnv) run(t *testing.T, env map[string]string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.bin, "bash"), filepath.Join(e.context, "build-image.sh"))
	cmd.Env = []string{"PATH=" + e.bin, "FAKE_LOG=" + e.log}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run build-image.sh: %v", err)
	}
	return out.String(), errb.String(), code
}

func validBuild() map[string]string {
	return map[string]string{
		"BASE_IMAGE":         "public.ecr.aws/docker/library/ubuntu:24.04",
		"IMAGE_TAG":          "r-0123456789ab",
		"ECR_REPOSITORY_URI": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet",
		"TARGET_ARCH":        "x64",
	}
}

func TestBuildScriptAgreesWithImageref(t *testing.T) {
	e := newBuildEnv(t, false)
	for _, ex := range imageref.Examples() {
		if strings.ContainsRune(ex.Ref, 0) {
			continue // an environment variable cannot carry NUL at all
		}
		t.Run(ex.Name, func(t *testing.T) {
			os.Remove(e.log)
			env := validBuild()
			env["BASE_IMAGE"] = ex.Ref
			_, stderr, code := e.run(t, env)
			calls := readCalls(t, e.log)
			build := findCall(calls, "docker", "build")
			if !ex.Valid {
				if code == 0 || !strings.Contains(stderr, "BASE_IMAGE") {
					t.Fatalf("build-image.sh accepted %q (exit %d, stderr %q); imageref refuses it", ex.Ref, code, stderr)
				}
				if len(calls) != 0 {
					t.Fatalf("build-image.sh ran %v before refusing %q", calls, ex.Ref)
				}
				return
			}
			if code != 0 {
				t.Fatalf("build-image.sh refused %q (exit %d): %s", ex.Ref, code, stderr)
			}
			if build == nil {
				t.Fatalf("no docker build among %v", calls)
			}
			if !slices.Contains(build, "BASE_IMAGE="+ex.Ref) {
				t.Errorf("docker build %q does not carry BASE_IMAGE=%s as one argument", build, ex.Ref)
			}
		})
	}
}

func TestBuildScriptNoInjection(t *testing.T) {
	e := newBuildEnv(t, false)
	mark := filepath.Join(t.TempDir(), "pwned")
	for _, ref := range []string{
		"ubuntu;touch " + mark,
		"ubuntu:$(touch " + mark + ")",
		"ubuntu:`touch " + mark + "`",
		"ubuntu\ntouch " + mark,
		"ubuntu&&touch " + mark,
		"ubuntu|touch " + mark,
	} {
		env := validBuild()
		env["BASE_IMAGE"] = ref
		if _, _, code := e.run(t, env); code == 0 {
			t.Errorf("build-image.sh accepted %q", ref)
		}
		if _, err := os.Stat(mark); err == nil {
			t.Fatalf("BASE_IMAGE %q ran a command", ref)
		}
	}
}

func TestBuildScript(t *testing.T) {
	for _, tc := range []struct {
		name     string
		soci     bool
		env      map[string]string
		code     int // 0 or non-zero
		stderr   string
		stdout   string
		check    func(t *testing.T, calls []call)
		noDocker bool
	}{
		{
			name: "builds and pushes", env: validBuild(), stdout: "pushed 111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet:r-0123456789ab",
			check: func(t *testing.T, calls []call) {
				login := findCall(calls, "docker", "login")
				if !slices.Equal(login, call{"docker", "login", "--username", "AWS", "--password-stdin", "111122223333.dkr.ecr.eu-west-1.amazonaws.com"}) {
					t.Errorf("login = %q", login)
				}
				build := findCall(calls, "docker", "build")
				for _, want := range [][]string{{"--platform", "linux/amd64"}, {"--tag", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet:r-0123456789ab"}, {"--pull"}} {
					i := slices.Index(build, want[0])
					if i < 0 || (len(want) == 2 && (i+1 >= len(build) || build[i+1] != want[1])) {
						t.Errorf("docker build %q lacks %q", build, want)
					}
				}
				if !strings.HasSuffix(build[len(build)-1], "/context") {
					t.Errorf("docker build context = %q, want the script's directory", build[len(build)-1])
				}
				if push := findCall(calls, "docker", "push"); len(push) != 3 || push[2] != "111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet:r-0123456789ab" {
					t.Errorf("push = %q", push)
				}
				desc := findCall(calls, "aws", "ecr", "describe-images")
				if !slices.Equal(desc, call{"aws", "ecr", "describe-images", "--repository-name", "runner-fleet", "--image-ids", "imageTag=r-0123456789ab"}) {
					t.Errorf("describe-images = %q", desc)
				}
			},
		},
		{name: "no soci tool", env: validBuild(), stdout: "no SOCI index"},
		{
			name: "soci index when the tools are present", soci: true, env: validBuild(), stdout: "SOCI index pushed",
			check: func(t *testing.T, calls []call) {
				img := "111122223333.dkr.ecr.eu-west-1.amazonaws.com/runner-fleet:r-0123456789ab"
				if c := findCall(calls, "soci", "--namespace", "runner-fleet", "convert"); !slices.Equal(c, call{"soci", "--namespace", "runner-fleet", "convert", "--platform", "linux/amd64", img, img}) {
					t.Errorf("soci convert = %q", c)
				}
				if findCall(calls, "nerdctl", "--namespace", "runner-fleet", "push") == nil {
					t.Errorf("no nerdctl push among %v", calls)
				}
			},
		},
		{name: "image exists", env: with(validBuild(), "FAKE_IMAGE_EXISTS", "1"), stdout: "already exists", check: func(t *testing.T, calls []call) {
			if findCall(calls, "docker", "build") != nil {
				t.Error("rebuilt an image that exists")
			}
		}},
		{name: "docker build fails", env: with(validBuild(), "FAKE_BUILD_EXIT", "1"), code: 1, stderr: "docker build failed for base public.ecr.aws/docker/library/ubuntu:24.04"},
		{name: "missing base", env: without(validBuild(), "BASE_IMAGE"), code: 1, stderr: "BASE_IMAGE is not set", noDocker: true},
		{name: "bad tag", env: with(validBuild(), "IMAGE_TAG", "-x"), code: 1, stderr: "IMAGE_TAG is not a valid image tag", noDocker: true},
		{name: "missing tag", env: without(validBuild(), "IMAGE_TAG"), code: 1, stderr: "IMAGE_TAG", noDocker: true},
		{name: "bad repository", env: with(validBuild(), "ECR_REPOSITORY_URI", "runner-fleet"), code: 1, stderr: "ECR_REPOSITORY_URI must be", noDocker: true},
		{name: "repository with tag", env: with(validBuild(), "ECR_REPOSITORY_URI", "host.example/runner-fleet:x"), code: 1, stderr: "ECR_REPOSITORY_URI must be", noDocker: true},
		{name: "bad arch", env: with(validBuild(), "TARGET_ARCH", "amd64"), code: 1, stderr: "TARGET_ARCH must be x64 or arm64", noDocker: true},
		{name: "arch mismatch", env: with(validBuild(), "TARGET_ARCH", "arm64"), code: 1, stderr: "build arm64 images on a CodeBuild arm64 environment", noDocker: true},
		{name: "arm64 host without arm64 entrypoint", env: with(with(validBuild(), "TARGET_ARCH", "arm64"), "FAKE_MACHINE", "aarch64"), code: 1, stderr: "entrypoint/linux-arm64/runner-fleet-entrypoint; build it with 'make runner-context'", noDocker: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newBuildEnv(t, tc.soci)
			stdout, stderr, code := e.run(t, tc.env)
			if (code == 0) != (tc.code == 0) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if tc.stderr != "" && !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.stderr)
			}
			if tc.stdout != "" && !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout %q lacks %q", stdout, tc.stdout)
			}
			calls := readCalls(t, e.log)
			if tc.noDocker && findCall(calls, "docker") != nil {
				t.Errorf("docker ran although the inputs were refused: %v", calls)
			}
			if tc.check != nil {
				tc.check(t, calls)
			}
		})
	}
}

func with(env map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range env {
		out[a] = b
	}
	out[k] = v
	return out
}

func without(env map[string]string, k string) map[string]string {
	out := with(env, k, "")
	delete(out, k)
	return out
}

// installEnv runs install-runner.sh with PATH limited to a directory of fakes and a few
// real text tools: no real package manager is reachable, whatever the script does.
type installEnv struct {
	dir, bin, log, prefix string
}

func newInstallEnv(t *testing.T, packageManagers ...string) installEnv {
	t.Helper()
	root := t.TempDir()
	e := installEnv{dir: filepath.Join(root, "ctx"), bin: filepath.Join(root, "bin"), log: filepath.Join(root, "calls.log"), prefix: filepath.Join(root, "prefix")}
	if err := WriteContext(e.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	linkTools(t, e.bin, "sh", "sed", "tr", "head", "grep", "dirname", "basename", "mkdir", "sha256sum", "cat")
	writeFake(t, e.bin, "uname", `echo "${FAKE_MACHINE:-x86_64}"`)
	for _, pm := range packageManagers {
		writeFake(t, e.bin, pm, "exit 0\n")
	}
	// Every other tool that changes the system is a recording fake.
	for _, tool := range []string{"useradd", "install", "tar", "chown", "chmod"} {
		writeFake(t, e.bin, tool, "exit 0\n")
	}
	writeFake(t, e.bin, "id", "exit 1\n")     // no user named runner yet
	writeFake(t, e.bin, "getent", "exit 2\n") // uid 1001 is free
	writeFake(t, e.bin, "curl", `while [ $# -gt 0 ]; do [ "$1" = -o ] && { echo "not the release" >"$2"; }; shift; done`)
	return e
}

func (e installEnv) run(t *testing.T, env map[string]string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.bin, "sh"), filepath.Join(e.dir, "install-runner.sh"))
	cmd.Env = []string{"PATH=" + e.bin, "FAKE_LOG=" + e.log, "RUNNER_FLEET_PREFIX=" + e.prefix}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run install-runner.sh: %v", err)
	}
	return string(out), code
}

func writeOSRelease(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "os-release")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstallerRefuses(t *testing.T) {
	ubuntu := "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n"
	pins, err := File("runner.env")
	if err != nil {
		t.Fatal(err)
	}
	noX64Sum := filepath.Join(t.TempDir(), "runner.env")
	var kept []string
	for _, l := range strings.Split(string(pins), "\n") {
		if !strings.HasPrefix(l, "RUNNER_SHA256_X64=") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(noX64Sum, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name      string
		osRelease string
		env       map[string]string
		pms       []string
		want      string
		wantCalls []string // tool names that must have run; all others must not
	}{
		{name: "alpine", osRelease: "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.0\n", pms: []string{"apk", "apt-get"},
			want: "the GitHub Actions runner needs glibc and does not run on musl"},
		{name: "alpine derivative", osRelease: "ID=postmarketos\nID_LIKE=\"alpine\"\n", pms: []string{"apk"},
			want: "needs glibc"},
		{name: "missing checksum", osRelease: ubuntu, env: map[string]string{"RUNNER_FLEET_ENV_FILE": noX64Sum}, pms: []string{"apt-get"},
			want: "no valid SHA-256 for actions-runner-linux-x64-" + RunnerVersion + ".tar.gz"},
		{name: "unsupported architecture", osRelease: ubuntu, env: map[string]string{"FAKE_MACHINE": "s390x"}, pms: []string{"apt-get"},
			want: "architecture s390x is not supported"},
		{name: "no package manager", osRelease: "ID=gentoo\n", want: "has none of apt-get, dnf, microdnf or yum"},
		{name: "checksum mismatch on an apt base", osRelease: ubuntu, pms: []string{"apt-get"},
			want: "does not match the SHA-256 pinned in runner.env; refusing to install it", wantCalls: []string{"apt-get", "id", "getent", "useradd", "curl"}},
		{name: "checksum mismatch on a dnf base", osRelease: "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", pms: []string{"dnf"},
			want: "does not match the SHA-256 pinned in runner.env", wantCalls: []string{"dnf", "id", "getent", "useradd", "curl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newInstallEnv(t, tc.pms...)
			env := map[string]string{"RUNNER_FLEET_OS_RELEASE": writeOSRelease(t, tc.osRelease)}
			for k, v := range tc.env {
				env[k] = v
			}
			out, code := e.run(t, env)
			if code == 0 {
				t.Fatalf("install-runner.sh succeeded; want a refusal\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			ran := map[string]bool{}
			for _, c := range readCalls(t, e.log) {
				ran[c[0]] = true
				if !slices.Contains(tc.wantCalls, c[0]) && c[0] != "uname" {
					t.Errorf("%v ran before the refusal", c)
				}
			}
			for _, w := range tc.wantCalls {
				if !ran[w] {
					t.Errorf("%s did not run", w)
				}
			}
			if ran["tar"] || ran["install"] {
				t.Error("an unverified download was unpacked or installed")
			}
		})
	}
}

func TestInstallerPackages(t *testing.T) {
	for _, tc := range []struct {
		pm, osRelease string
		want          []string
	}{
		{"apt-get", "ID=debian\n", []string{"apt-get", "install", "-y", "--no-install-recommends", "ca-certificates", "git", "jq", "unzip", "sudo"}},
		{"dnf", "ID=amzn\nID_LIKE=\"fedora\"\n", []string{"dnf", "install", "-y", "--setopt=install_weak_deps=False", "ca-certificates", "git", "jq", "unzip", "sudo"}},
		{"yum", "ID=centos\nID_LIKE=\"rhel fedora\"\n", []string{"yum", "install", "-y", "--setopt=install_weak_deps=False", "ca-certificates", "git", "jq", "unzip", "sudo"}},
	} {
		t.Run(tc.pm, func(t *testing.T) {
			e := newInstallEnv(t, tc.pm)
			e.run(t, map[string]string{"RUNNER_FLEET_OS_RELEASE": writeOSRelease(t, tc.osRelease)})
			calls := readCalls(t, e.log)
			got := findCall(calls, tc.pm, "install")
			if got == nil || !slices.Equal(got[:len(tc.want)], tc.want) {
				t.Fatalf("install call = %q, want prefix %q", got, tc.want)
			}
			if tc.pm != "apt-get" {
				for _, lib := range []string{"libicu", "krb5-libs", "zlib", "openssl-libs", "shadow-utils"} {
					if !slices.Contains(got, lib) {
						t.Errorf("%s install lacks %s: %q", tc.pm, lib, got)
					}
				}
			}
			if u := findCall(calls, "useradd"); !slices.Contains(u, "--uid") || !slices.Contains(u, "1001") || u[len(u)-1] != "runner" {
				t.Errorf("useradd = %q, want the runner user with uid 1001", u)
			}
			dl := findCall(calls, "curl")
			url := "https://github.com/actions/runner/releases/download/v" + RunnerVersion + "/actions-runner-linux-x64-" + RunnerVersion + ".tar.gz"
			if dl == nil || dl[len(dl)-1] != url {
				t.Errorf("runner download = %q, want %s", dl, url)
			}
		})
	}
}

// buildspecCommands reads the build phase's commands from buildspec.yml: the "- "
// items under "commands:" (the file keeps them plain, one per line).
func buildspecCommands(t *testing.T) []string {
	t.Helper()
	var cmds []string
	in := false
	for _, line := range strings.Split(Buildspec(), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "commands:":
			in = true
		case in && strings.HasPrefix(trimmed, "- "):
			cmds = append(cmds, strings.TrimPrefix(trimmed, "- "))
		case in && trimmed != "":
			in = false
		}
	}
	if len(cmds) == 0 {
		t.Fatal("buildspec.yml has no build commands")
	}
	return cmds
}

func TestBuildspecCommands(t *testing.T) {
	cmds := buildspecCommands(t)
	for _, c := range cmds {
		// The inputs reach build-image.sh through its environment only.
		if strings.Contains(c, "$") || strings.Contains(c, "`") {
			t.Errorf("buildspec command %q expands variables; inputs must stay data", c)
		}
	}
	runAll := func(dir string, env map[string]string, e buildEnv) (string, int) {
		for _, c := range cmds {
			cmd := exec.Command(filepath.Join(e.bin, "bash"), "-c", c)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + e.bin, "FAKE_LOG=" + e.log}
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				return string(out), 1
			}
		}
		return "", 0
	}
	e := newBuildEnv(t, false)
	if out, code := runAll(t.TempDir(), validBuild(), e); code == 0 || !strings.Contains(out, "not the runner build context") {
		t.Errorf("buildspec in an empty source: exit %d, output %q; want a clear refusal", code, out)
	}
	if out, code := runAll(e.context, validBuild(), e); code != 0 {
		t.Errorf("buildspec in the build context failed: %s", out)
	}
	if findCall(readCalls(t, e.log), "docker", "push") == nil {
		t.Error("the buildspec did not build and push")
	}
}
