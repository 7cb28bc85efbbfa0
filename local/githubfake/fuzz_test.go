package githubfake

import (
	"encoding/base64"
	"errors"
	"testing"
)

// FuzzConnectRunner: a simulated runner hands the fake whatever JIT config it was given;
// nothing but a config the fake issued may connect, and nothing may panic.
func FuzzConnectRunner(f *testing.F) {
	s := New(Config{})
	_, jit, err := s.RegisterRunner("octo-org/app", "seed", []string{"self-hosted"})
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(jit)
	f.Add(string(raw))
	f.Add(`{".runner":"e30=",".credentials":"e30="}`)
	f.Add(`{".runner":"eyJhZ2VudElkIjoxfQ==",".credentials":"eyJkYXRhIjp7ImNsaWVudElkIjoiIn19"}`)
	f.Add("")
	f.Fuzz(func(t *testing.T, files string) {
		candidate := base64.StdEncoding.EncodeToString([]byte(files))
		if candidate == jit {
			return // the genuine config; connecting it would spend it
		}
		if r, err := s.ConnectRunner(candidate); err == nil {
			t.Fatalf("a forged JIT config connected runner %+v", r)
		} else if !errors.Is(err, ErrJITInvalid) && !errors.Is(err, ErrUnknownRunner) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
