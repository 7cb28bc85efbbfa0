package credentials

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/runnerfleet/fleet/internal/testenv"
	"github.com/runnerfleet/fleet/local/awsfake"
)

const secretName = "runner-fleet/github"

func store(t *testing.T, value string) (*Store, *awsfake.Server, *time.Time) {
	t.Helper()
	fake, _, cfg := testenv.AWS(t)
	fake.SecretsManager.Put(secretName, value)
	s := NewStore(secretsmanager.NewFromConfig(cfg), secretName, time.Minute)
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	return s, fake, &now
}

func TestStoreCachesForTTL(t *testing.T) {
	s, fake, now := store(t, `{"webhook_secret":"one","token":"test-pat-a"}`)
	ctx := context.Background()
	reads := func() int { return fake.Calls("secretsmanager", "GetSecretValue") }
	for range 3 {
		if sec, err := s.Get(ctx); err != nil || sec.WebhookSecret != "one" {
			t.Fatalf("Get = %v, %v", sec, err)
		}
	}
	if reads() != 1 {
		t.Fatalf("%d reads within the TTL; want 1", reads())
	}
	fake.SecretsManager.Put(secretName, `{"webhook_secret":"two","token":"test-pat-a"}`)
	*now = now.Add(61 * time.Second)
	if sec, err := s.Get(ctx); err != nil || sec.WebhookSecret != "two" || reads() != 2 {
		t.Fatalf("after the TTL: %v, %v, %d reads", sec, err, reads())
	}
}

func TestRefreshHonoursMinAge(t *testing.T) {
	s, fake, now := store(t, `{"webhook_secret":"one"}`)
	ctx := context.Background()
	if _, err := s.Get(ctx); err != nil {
		t.Fatal(err)
	}
	fake.SecretsManager.Put(secretName, `{"webhook_secret":"rotated"}`)
	if sec, fetched, err := s.Refresh(ctx, 30*time.Second); err != nil || fetched || sec.WebhookSecret != "one" {
		t.Fatalf("young cache: %v fetched=%v %v; want the cached copy, no fetch", sec, fetched, err)
	}
	*now = now.Add(31 * time.Second)
	if sec, fetched, err := s.Refresh(ctx, 30*time.Second); err != nil || !fetched || sec.WebhookSecret != "rotated" {
		t.Fatalf("old cache: %v fetched=%v %v; want the rotated secret", sec, fetched, err)
	}
}

func TestUnusableDocuments(t *testing.T) {
	const value = "the-value-itself"
	tests := []struct {
		name, doc, want string
	}{
		{"not JSON", value, "not valid JSON"},
		{"wrong type", `{"app_id":"` + value + `"}`, "app_id is a number"},
		{"empty", "  ", "no string value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := store(t, tc.doc)
			_, err := s.Get(context.Background())
			if !errors.Is(err, ErrNotConfigured) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), value) {
				t.Fatalf("Get error %v; want ErrNotConfigured mentioning %q, without the value", err, tc.want)
			}
		})
	}
	t.Run("absent", func(t *testing.T) {
		_, _, cfg := testenv.AWS(t)
		_, err := NewStore(secretsmanager.NewFromConfig(cfg), "absent", time.Minute).Get(context.Background())
		if err == nil || errors.Is(err, ErrNotConfigured) || !strings.Contains(err.Error(), "absent") {
			t.Fatalf("Get error %v; want a Secrets Manager error naming the secret", err)
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name            string
		sec             Secret
		webhookOK, ghOK bool
		ghWant          string
	}{
		{"app", Secret{WebhookSecret: "w", AppID: 1, PrivateKey: "k"}, true, true, ""},
		{"token", Secret{WebhookSecret: "w", Token: "t"}, true, true, ""},
		{"app without key", Secret{WebhookSecret: "w", AppID: 1}, true, false, "private_key is empty"},
		{"key without app", Secret{PrivateKey: "k"}, false, false, "app_id is missing"},
		{"nothing", Secret{WebhookSecret: " "}, false, false, "neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.sec.ValidateWebhook(); (err == nil) != tc.webhookOK {
				t.Errorf("ValidateWebhook = %v; want ok=%v", err, tc.webhookOK)
			}
			err := tc.sec.ValidateGitHub()
			if (err == nil) != tc.ghOK || (err != nil && (!errors.Is(err, ErrNotConfigured) || !strings.Contains(err.Error(), tc.ghWant))) {
				t.Errorf("ValidateGitHub = %v; want ok=%v mentioning %q", err, tc.ghOK, tc.ghWant)
			}
		})
	}
}

func TestSecretNeverPrintsItsValues(t *testing.T) {
	sec := Secret{WebhookSecret: "whsec-value", AppID: 42, PrivateKey: "key-value", Token: "token-value", APIURL: "https://ghe.example.com/api/v3/"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("secret", "secret", sec)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", sec, sec, sec, sec), logs.String()} {
		for _, v := range []string{"whsec-value", "key-value", "token-value"} {
			if strings.Contains(out, v) {
				t.Fatalf("%q printed a secret value: %s", v, out)
			}
		}
		if !strings.Contains(out, "ghe.example.com") {
			t.Errorf("the API URL is not secret and should show: %s", out)
		}
	}
}
