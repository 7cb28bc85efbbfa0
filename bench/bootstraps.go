package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bootstrap is one Lambda function's binary size and cold start.
type Bootstrap struct {
	Function  string `json:"function"`
	SizeBytes int64  `json:"arm64_size_bytes"`
	// Init* are cold-start costs under the Runtime Interface Emulator (ColdStart), in
	// milliseconds, over Starts fresh processes.
	Starts       int       `json:"starts"`
	InitMedianMS float64   `json:"init_median_ms"`
	InitMinMS    float64   `json:"init_min_ms"`
	InitMaxMS    float64   `json:"init_max_ms"`
	InitsMS      []float64 `json:"inits_ms"`
}

// RIEVersion is the emulator make bench installs (the module has no tags; this pseudo
// version builds with Go 1.26).
const RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// BootstrapEnv is each function's environment with every variable its Load(getenv)
// validates set (values as fleet-local sets them; endpoints point nowhere because init
// makes no call), so main gets past configuration into the runtime loop.
func BootstrapEnv(function string) []string {
	common := []string{
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDBENCH", "AWS_SECRET_ACCESS_KEY=bench", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
		"GITHUB_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:runner-fleet/github-AbCdEf",
		"CLUSTER_ARN=arn:aws:ecs:us-east-1:123456789012:cluster/runner-fleet",
		"STATE_MACHINE_ARN=arn:aws:states:us-east-1:123456789012:stateMachine:RunnerFleet",
		"AWS_LAMBDA_FUNCTION_NAME=" + function, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	}
	per := map[string][]string{
		"webhook": {"ALLOWED_REPOSITORIES=*", "ALLOW_PUBLIC_REPOSITORIES=false", "DEFAULT_IMAGE=ubuntu:24.04",
			"DEFAULT_CLASS=medium", "FLEET_LABEL=runner-fleet", "RUNNER_SCOPE=repo"},
		"resolveimage": {"CLASS_TABLE_PARAMETER=/runner-fleet/classes",
			"SUBNETS=subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002", "SECURITY_GROUPS=sg-0a1b2c3d4e5f60001",
			"ASSIGN_PUBLIC_IP=true", "ECR_REPOSITORY_NAME=runner-fleet/runners",
			"ECR_REPOSITORY_URI=123456789012.dkr.ecr.us-east-1.amazonaws.com/runner-fleet/runners",
			"IMAGE_ALLOW_LIST=ubuntu:*,debian:*", "DEFAULT_IMAGE=ubuntu:24.04",
			"TASK_EXECUTION_ROLE_ARN=arn:aws:iam::123456789012:role/runner-fleet-task-execution",
			"TASK_ROLE_ARN=arn:aws:iam::123456789012:role/runner-fleet-runner-task",
			"RUNNER_LOG_GROUP=/runner-fleet/runners", "IDLE_TIMEOUT_SECONDS=300", "RUNNER_TTL_SECONDS=21600"},
		"requestrunner": {"KMS_KEY_ARN=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "RUNNER_SCOPE=repo"},
		"janitor":       {"RUNNER_SCOPES=repo:octo-org/api", "ORPHAN_GRACE_SECONDS=60"},
	}
	return append(common, per[function]...)
}

// ColdStart starts bootstrap under the emulator (rie) `starts` times, one fresh
// process each, invokes it once and returns each init's duration in milliseconds as
// the emulator's rapid core logs it ("INIT REPORT(durationMs: …)": from spawning the
// process to the runtime's first /next, i.e. Go runtime start and main's
// initialisation). The "Init Duration" of the REPORT line is not used: the emulator's
// Init call returns before the function has started. A function whose output says
// its configuration is invalid is an error: its init would not be the real one.
func ColdStart(ctx context.Context, rie, bootstrap, function string, starts int) ([]float64, error) {
	var out []float64
	for i := range starts {
		ms, err := coldStartOnce(ctx, rie, bootstrap, function)
		if err != nil {
			return nil, fmt.Errorf("%s start %d: %w", function, i+1, err)
		}
		out = append(out, ms)
	}
	return out, nil
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func coldStartOnce(ctx context.Context, rie, bootstrap, function string) (float64, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	apiPort, err := freePort()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(port),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort), bootstrap)
	cmd.Env = append(BootstrapEnv(function), "LOG_LEVEL=info")
	var output lockedBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the emulator %s: %w", rie, err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/2015-03-31/functions/function/invocations"
	// The emulator listens before it starts the function, and starts it (its "Init",
	// asynchronous: the Init Duration it prints is not the function's) on the first
	// invoke. Wait until it answers a GET (405), then time two invokes.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the emulator never answered on %s: %w\n%s", url, err, output.String())
		}
	}
	invoke := func() (time.Duration, error) {
		began := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{}`))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, fmt.Errorf("invoke: %w\n%s", err, output.String())
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(began), nil
	}
	if _, err := invoke(); err != nil {
		return 0, err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		text := output.String()
		if strings.Contains(text, "invalid configuration") {
			return 0, errors.New("the function reports an invalid configuration; BootstrapEnv is out of date with its Load:\n" + text)
		}
		if m := initReport.FindStringSubmatch(text); m != nil && strings.Contains(text, "REPORT RequestId") {
			return strconv.ParseFloat(m[1], 64)
		}
	}
	return 0, fmt.Errorf("no INIT REPORT in the emulator's output:\n%s", output.String())
}

// MeasureBootstraps reports, for each function, the size of armDir/<fn>/bootstrap
// (make build's arm64 output) and the cold start of localDir/<fn>/bootstrap (built
// for this machine) under the emulator. rie "" skips the cold starts.
func MeasureBootstraps(ctx context.Context, functions []string, armDir, localDir, rie string, starts int) ([]Bootstrap, error) {
	var out []Bootstrap
	for _, fn := range functions {
		b := Bootstrap{Function: fn}
		st, err := os.Stat(filepath.Join(armDir, fn, "bootstrap"))
		if err != nil {
			return nil, fmt.Errorf("arm64 bootstrap of %s: %w (run make build)", fn, err)
		}
		b.SizeBytes = st.Size()
		if rie != "" {
			inits, err := ColdStart(ctx, rie, filepath.Join(localDir, fn, "bootstrap"), fn, starts)
			if err != nil {
				return nil, err
			}
			b.Starts, b.InitsMS = len(inits), inits
			b.InitMedianMS, b.InitMinMS, b.InitMaxMS = summarize(inits)
		}
		out = append(out, b)
	}
	return out, nil
}

func summarize(v []float64) (median, lo, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	median = s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return median, s[0], s[len(s)-1]
}

// GoBenchmark is one line of go test -bench -benchmem output.
type GoBenchmark struct {
	Package     string  `json:"package"`
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
}

var benchName = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?$`)

// ParseGoBench reads go test -bench -benchmem output ("pkg:" lines name the package).
// After the name and the iteration count a line holds value-unit pairs in any order
// (ns/op, MB/s, B/op, allocs/op, custom metrics).
func ParseGoBench(r io.Reader) ([]GoBenchmark, error) {
	var out []GoBenchmark
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		m := benchName.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		g := GoBenchmark{Package: pkg, Name: m[1]}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				g.NsPerOp = v
			case "B/op":
				g.BytesPerOp = v
			case "allocs/op":
				g.AllocsPerOp = v
			}
		}
		out = append(out, g)
	}
	return out, sc.Err()
}

// RunGoBench runs the hot-path benchmarks of pkgs in root and parses them.
func RunGoBench(ctx context.Context, root, benchtime string, pkgs ...string) ([]GoBenchmark, error) {
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", benchtime}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return ParseGoBench(bytes.NewReader(out))
}
