package ghrunner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/runnerfleet/fleet/internal/credentials"
)

func TestClientCacheFor(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	appSecret := credentials.Secret{WebhookSecret: "whsec", AppID: appID, PrivateKey: string(keyPEM), APIURL: e.url}
	patSecret := credentials.Secret{WebhookSecret: "whsec", Token: pat, APIURL: e.url}
	both := appSecret
	both.Token = pat
	badPEM := credentials.Secret{AppID: appID, PrivateKey: "-----BEGIN RSA PRIVATE KEY-----\nMIIsecretkeybytes\n-----END RSA PRIVATE KEY-----\n", APIURL: e.url}

	tests := []struct {
		name    string
		sec     credentials.Secret
		wantApp bool
		wantErr string // "" means success
		notCfg  bool   // the error wraps credentials.ErrNotConfigured
	}{
		{name: "app", sec: appSecret, wantApp: true},
		{name: "token", sec: patSecret},
		{name: "app preferred over token", sec: both, wantApp: true},
		{name: "empty", sec: credentials.Secret{WebhookSecret: "whsec"}, wantErr: "neither app_id", notCfg: true},
		{name: "app id without key", sec: credentials.Secret{AppID: appID, Token: pat}, wantErr: "private_key is empty", notCfg: true},
		{name: "key without app id", sec: credentials.Secret{PrivateKey: string(keyPEM), Token: pat}, wantErr: "app_id is missing", notCfg: true},
		{name: "bad key", sec: badPEM, wantErr: "not a PEM-encoded RSA key"},
		{name: "bad api url", sec: credentials.Secret{Token: pat, APIURL: "ftp://ghe.example.com"}, wantErr: "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := NewClientCache(Options{HTTPClient: e.srv.Client(), Clock: e.clock.Now})
			c, err := cache.For(ctx, tt.sec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("For: err = %v, want one containing %q", err, tt.wantErr)
				}
				if got := errors.Is(err, credentials.ErrNotConfigured); got != tt.notCfg {
					t.Errorf("errors.Is(err, ErrNotConfigured) = %v, want %v", got, tt.notCfg)
				}
				for _, v := range []string{pat, "MIIsecretkeybytes", string(keyPEM)} {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q carries a credential", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("For: %v", err)
			}
			if c.IsApp() != tt.wantApp {
				t.Fatalf("IsApp = %v, want %v", c.IsApp(), tt.wantApp)
			}
			// The client works against the fake GitHub with the credentials chosen.
			if _, err := c.ListRunners(ctx, repo, ListOptions{}); err != nil {
				t.Fatalf("ListRunners: %v", err)
			}
		})
	}
}

func TestClientCacheKeepsClientWhileCredentialsAreUnchanged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cache := NewClientCache(Options{HTTPClient: e.srv.Client(), Clock: e.clock.Now})
	base := credentials.Secret{WebhookSecret: "whsec", AppID: appID, PrivateKey: string(keyPEM), APIURL: e.url}
	first, err := cache.For(ctx, base)
	must(t, err)

	steps := []struct {
		name  string
		mod   func(s *credentials.Secret)
		fresh bool // a new client is expected
	}{
		{"same secret", func(*credentials.Secret) {}, false},
		{"webhook secret rotated", func(s *credentials.Secret) { s.WebhookSecret = "rotated" }, false},
		{"unused token added beside the App", func(s *credentials.Secret) { s.Token = pat }, false},
		{"api url changed", func(s *credentials.Secret) { s.APIURL = e.srv.URL + "/api/v3" }, true},
		{"switched to a token", func(s *credentials.Secret) { s.AppID, s.PrivateKey, s.Token = 0, "", pat }, true},
		{"token rotated", func(s *credentials.Secret) { s.AppID, s.PrivateKey, s.Token = 0, "", pat+"x" }, true},
		{"back to the App", func(*credentials.Secret) {}, true},
	}
	prev := first
	for _, st := range steps {
		sec := base
		st.mod(&sec)
		c, err := cache.For(ctx, sec)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if fresh := c != prev; fresh != st.fresh {
			t.Fatalf("%s: new client = %v, want %v", st.name, fresh, st.fresh)
		}
		prev = c
	}

	// A rejected secret leaves the last good client in place.
	if _, err := cache.For(ctx, credentials.Secret{}); err == nil {
		t.Fatal("For(empty secret) succeeded")
	}
	again, err := cache.For(ctx, base)
	must(t, err)
	if again != prev {
		t.Fatal("a rejected secret replaced the cached client")
	}
}

// The installation token minted through one cached client is reused by the next
// call, which is the point of the cache; the Logger given at construction hears it.
func TestClientCacheReusesInstallationTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var logs bytes.Buffer
	cache := NewClientCache(Options{HTTPClient: e.srv.Client(), Clock: e.clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	sec := credentials.Secret{AppID: appID, PrivateKey: string(keyPEM), APIURL: e.url}
	for range 3 {
		c, err := cache.For(ctx, sec)
		must(t, err)
		if _, err := c.ForInstallation(orgInstall).ListRunners(ctx, repo, ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "github installation token refreshed"); n != 1 {
		t.Fatalf("installation tokens minted = %d, want 1; log:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "BEGIN RSA") {
		t.Fatal("the log carries the private key")
	}
}

func TestClientCacheConcurrentUse(t *testing.T) {
	e := newEnv(t)
	cache := NewClientCache(Options{HTTPClient: e.srv.Client()})
	secs := []credentials.Secret{
		{AppID: appID, PrivateKey: string(keyPEM), APIURL: e.url},
		{Token: pat, APIURL: e.url},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			sec := secs[i%len(secs)]
			c, err := cache.For(context.Background(), sec)
			if err == nil && c.IsApp() != (sec.AppID != 0) {
				err = errors.New("client does not match the secret it was asked for")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewClientCacheIgnoresCredentialOptions(t *testing.T) {
	e := newEnv(t)
	cache := NewClientCache(Options{Token: "ghp_fromoptions", AppID: 7, HTTPClient: e.srv.Client()})
	c, err := cache.For(context.Background(), credentials.Secret{Token: pat, APIURL: e.url})
	must(t, err)
	if c.IsApp() {
		t.Fatal("the App id given at construction leaked into the client")
	}
	if _, err := c.ListRunners(context.Background(), repo, ListOptions{}); err != nil {
		t.Fatalf("ListRunners with the secret's token: %v", err)
	}
}
