package lambdalocal

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func buildEcho(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/echo")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build echo: %v\n%s", err, out)
	}
	return bin
}

func start(t *testing.T, fns ...Function) (*Runtime, *httptest.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	rt := New(nil, logs)
	srv := httptest.NewServer(rt)
	t.Cleanup(func() { rt.Close(); srv.Close() })
	if err := rt.Start(context.Background(), strings.TrimPrefix(srv.URL, "http://"), fns...); err != nil {
		t.Fatal(err)
	}
	return rt, srv, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInvoke(t *testing.T) {
	bin := buildEcho(t)
	rt, srv, _ := start(t, Function{Name: "echo", Bootstrap: bin, Concurrency: 2, Timeout: time.Second, Env: []string{"ECHO_SETTING=configured"}})
	ctx := context.Background()

	t.Run("response", func(t *testing.T) {
		out, err := rt.Invoke(ctx, "echo", []byte(`{"value":{"a":1}}`))
		if err != nil || string(out) != `{"a":1}` {
			t.Fatalf("got %s, %v", out, err)
		}
	})
	t.Run("environment", func(t *testing.T) {
		out, err := rt.Invoke(ctx, "echo", []byte(`{"do":"env"}`))
		if err != nil || string(out) != `"configured"` {
			t.Fatalf("got %s, %v", out, err)
		}
	})
	t.Run("named error", func(t *testing.T) {
		_, err := rt.Invoke(ctx, "echo", []byte(`{"do":"fail"}`))
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != "ImageNotAllowed" || fe.Message != "image x is not allowed" {
			t.Fatalf("got %v; want ImageNotAllowed", err)
		}
	})
	t.Run("timeout kills and replaces the sandbox", func(t *testing.T) {
		_, err := rt.Invoke(ctx, "echo", []byte(`{"do":"sleep"}`))
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" {
			t.Fatalf("got %v; want Sandbox.Timedout", err)
		}
		if out, err := rt.Invoke(ctx, "echo", []byte(`{"value":2}`)); err != nil || string(out) != "2" {
			t.Fatalf("after timeout: %s, %v", out, err)
		}
	})
	t.Run("crash reports Runtime.ExitError and recovers", func(t *testing.T) {
		_, err := rt.Invoke(ctx, "echo", []byte(`{"do":"exit"}`))
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != "Runtime.ExitError" {
			t.Fatalf("got %v; want Runtime.ExitError", err)
		}
		if out, err := rt.Invoke(ctx, "echo", []byte(`{"value":3}`)); err != nil || string(out) != "3" {
			t.Fatalf("after crash: %s, %v", out, err)
		}
	})
	t.Run("concurrent invocations", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if out, err := rt.Invoke(ctx, "echo", []byte(`{"value":"x"}`)); err != nil || string(out) != `"x"` {
					errs <- errors.Join(err, errors.New(string(out)))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		if _, err := rt.Invoke(ctx, "nope", nil); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("function URL", func(t *testing.T) {
		url := httptest.NewServer(rt.FunctionURL("echo"))
		defer url.Close()
		res, err := http.Post(url.URL+"/", "application/json", strings.NewReader(`{"hello":"world"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 202 || string(b) != `{"hello":"world"}` {
			t.Fatalf("got %d %s", res.StatusCode, b)
		}
	})
	t.Run("unknown sandbox path", func(t *testing.T) {
		res, err := http.Get(srv.URL + "/fn/echo/9/2018-06-01/runtime/invocation/next")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Fatalf("got %d", res.StatusCode)
		}
	})
	st := rt.Stats()["echo"]
	if st.Invocations < 25 || st.Errors < 3 || st.Inits < 2 || st.GBSeconds() <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStartRejectsMissingBootstrap(t *testing.T) {
	rt := New(nil, nil)
	err := rt.Start(context.Background(), "127.0.0.1:1", Function{Name: "x", Bootstrap: "/nonexistent/bootstrap"})
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("got %v", err)
	}
}

// A caller that gives up (GitHub's delivery timeout, say) does not make the invocation
// vanish from the bill: it still runs and Stats counts it when it ends.
func TestInvokeAbandonedStillCounted(t *testing.T) {
	bin := buildEcho(t)
	rt, _, _ := start(t, Function{Name: "echo", Bootstrap: bin, Concurrency: 1, Timeout: 5 * time.Second, MemoryMB: 128})
	if _, err := rt.Invoke(context.Background(), "echo", []byte(`{"value":1}`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// Occupies the only sandbox past the caller's deadline (the echo's "sleep" is 10 s,
	// cut at the 5 s timeout; either way it ends).
	if _, err := rt.Invoke(ctx, "echo", []byte(`{"do":"sleep"}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke with an expiring context = %v, want DeadlineExceeded", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for rt.Stats()["echo"].Invocations < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("abandoned invocation never counted: %+v", rt.Stats()["echo"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := rt.Stats()["echo"]; s.Billed < time.Second {
		t.Errorf("abandoned invocation billed %v in all, want the seconds it ran", s.Billed)
	}
}
