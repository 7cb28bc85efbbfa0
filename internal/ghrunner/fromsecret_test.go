package ghrunner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/runnerfleet/fleet/internal/credentials"
	"github.com/runnerfleet/fleet/internal/fleet"
	"github.com/runnerfleet/fleet/local/awsfake"
)

func TestClientCacheFor(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	appSecret := credentials.Secret{WebhookSecret: "whsec", AppID: appID, PrivateKey: string(keyPEM), APIURL: e.url}
	patSecret := credentials.Secret{WebhookSecret: "whsec", Token: pat, APIURL: e.url}
	both := appSecret
	both.Token = pat
	badPEM := credentials.Secret{AppID: appID, PrivateKey: junkKey, APIURL: e.url}

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
				for _, v := range []string{pat, junkKeyBody, string(keyPEM)} {
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
	cache := NewClientCache(Options{Token: "test-pat-fromoptions", AppID: 7, HTTPClient: e.srv.Client()})
	c, err := cache.For(context.Background(), credentials.Secret{Token: pat, APIURL: e.url})
	must(t, err)
	if c.IsApp() {
		t.Fatal("the App id given at construction leaked into the client")
	}
	if _, err := c.ListRunners(context.Background(), repo, ListOptions{}); err != nil {
		t.Fatalf("ListRunners with the secret's token: %v", err)
	}
}

func TestSourceClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	aws := awsfake.New(awsfake.Options{})
	srv := httptest.NewServer(aws)
	t.Cleanup(srv.Close)
	cfg, err := aws.AWSConfig(ctx, srv.URL, func(c *awssdk.Config) { c.RetryMaxAttempts = 1 })
	must(t, err)
	sm := secretsmanager.NewFromConfig(cfg)
	appJSON, _ := json.Marshal(credentials.Secret{WebhookSecret: "whsec", AppID: appID, PrivateKey: string(keyPEM), APIURL: e.url})
	patJSON, _ := json.Marshal(credentials.Secret{WebhookSecret: "whsec", Token: pat, APIURL: e.url})

	tests := []struct {
		name     string
		value    string // the secret's value; "" leaves the secret absent
		fault    *awsfake.APIError
		install  int64
		wantApp  bool
		wantName string // the workflow error name; "" with wantCode means unnamed
		wantCode string // the AWS error code the error still wraps
	}{
		{name: "app, installation given", value: string(appJSON), install: orgInstall, wantApp: true},
		{name: "app, installation looked up", value: string(appJSON), wantApp: true},
		{name: "token ignores the installation", value: string(patJSON), install: orgInstall},
		{name: "secret absent", wantName: fleet.ErrConfigurationInvalid},
		{name: "access denied", value: string(appJSON), fault: &awsfake.APIError{Code: "AccessDeniedException", Message: "not authorized to perform secretsmanager:GetSecretValue"}, wantName: fleet.ErrConfigurationInvalid},
		{name: "undecryptable", value: string(appJSON), fault: &awsfake.APIError{Code: "DecryptionFailure", Message: "kms:Decrypt denied"}, wantName: fleet.ErrConfigurationInvalid},
		{name: "not JSON", value: "test-pat-pasted_alone", wantName: fleet.ErrConfigurationInvalid},
		{name: "no GitHub credentials", value: `{"webhook_secret":"whsec"}`, wantName: fleet.ErrConfigurationInvalid},
		{name: "unusable key", value: `{"app_id":101,"private_key":` + strconv.Quote(junkKey) + `}`, wantName: fleet.ErrConfigurationInvalid},
		{name: "throttled stays retryable", value: string(appJSON), fault: &awsfake.APIError{Code: "ThrottlingException", Message: "Rate exceeded"}, wantCode: "ThrottlingException"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("fleet-%d", i)
			if tt.value != "" {
				id = aws.SecretsManager.Put(id, tt.value)
			}
			aws.ClearFaults()
			if tt.fault != nil {
				must(t, aws.SetFault("secretsmanager", "GetSecretValue", awsfake.Fault{Err: tt.fault}))
			}
			src := NewSource(credentials.NewStore(sm, id, time.Minute), Options{HTTPClient: e.srv.Client(), Clock: e.clock.Now})
			c, err := src.Client(ctx, tt.install)
			if tt.wantName != "" || tt.wantCode != "" {
				if err == nil {
					t.Fatal("Client succeeded; want an error")
				}
				if got := fleet.NameOf(err); got != tt.wantName {
					t.Errorf("error name = %q, want %q (%v)", got, tt.wantName, err)
				}
				var api smithy.APIError
				if tt.wantCode != "" && (!errors.As(err, &api) || api.ErrorCode() != tt.wantCode) {
					t.Errorf("error %v does not wrap %s", err, tt.wantCode)
				}
				if strings.Contains(err.Error(), junkKeyBody) || strings.Contains(err.Error(), "test-pat-pasted_alone") {
					t.Errorf("error %q carries the secret's value", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Client: %v", err)
			}
			if c.IsApp() != tt.wantApp {
				t.Fatalf("IsApp = %v, want %v", c.IsApp(), tt.wantApp)
			}
			if _, err := c.ListRunners(ctx, repo, ListOptions{}); err != nil {
				t.Fatalf("ListRunners: %v", err)
			}
		})
	}
}
