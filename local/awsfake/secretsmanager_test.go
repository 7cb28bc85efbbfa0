package awsfake

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestSecretsManagerGetSecretValue(t *testing.T) {
	srv, cfg, _ := newTestFake(t, Options{})
	arn := srv.SecretsManager.Put("fleet/config", `{"webhook_secret":"s"}`)
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:123456789012:secret:fleet/config-") || len(arn) != len("arn:aws:secretsmanager:us-east-1:123456789012:secret:fleet/config-")+6 {
		t.Fatalf("ARN = %q, want the name plus a dash and six characters", arn)
	}
	client := secretsmanager.NewFromConfig(cfg)
	for _, id := range []string{"fleet/config", arn, arn[:len(arn)-7]} {
		t.Run(id, func(t *testing.T) {
			out, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.SecretString) != `{"webhook_secret":"s"}` || aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "fleet/config" {
				t.Errorf("got %q %q %q", aws.ToString(out.SecretString), aws.ToString(out.ARN), aws.ToString(out.Name))
			}
			if len(out.VersionStages) != 1 || out.VersionStages[0] != "AWSCURRENT" || out.CreatedDate == nil || out.VersionId == nil {
				t.Errorf("stages %v created %v version %v", out.VersionStages, out.CreatedDate, out.VersionId)
			}
		})
	}
}

func TestSecretsManagerErrors(t *testing.T) {
	srv, cfg, _ := newTestFake(t, Options{})
	srv.SecretsManager.Put("present", "v1")
	client := secretsmanager.NewFromConfig(cfg)
	ctx := context.Background()

	_, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("missing")})
	wantAPIError[*types.ResourceNotFoundException](t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")

	_, err = client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("present"), VersionStage: aws.String("AWSPREVIOUS")})
	wantAPIError[*types.ResourceNotFoundException](t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS")

	_, err = client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("missing"), SecretString: aws.String("x")})
	wantAPIError[*types.ResourceNotFoundException](t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")

	_, err = client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("present"), SecretString: aws.String("x")})
	wantAPIError[*types.ResourceExistsException](t, err, "ResourceExistsException", "The operation failed because the secret present already exists.")

	_, err = client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("present")})
	wantAPIError[*types.InvalidRequestException](t, err, "InvalidRequestException", "")
}

func TestSecretsManagerPutRotatesStages(t *testing.T) {
	_, cfg, _ := newTestFake(t, Options{})
	client := secretsmanager.NewFromConfig(cfg)
	ctx := context.Background()
	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("fleet"), SecretString: aws.String("one")})
	if err != nil {
		t.Fatal(err)
	}
	put, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: created.ARN, SecretString: aws.String("two"), ClientRequestToken: aws.String("token-00000000000000000000000000002")})
	if err != nil {
		t.Fatal(err)
	}
	// A retried PutSecretValue with the same token and value is idempotent.
	again, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: created.ARN, SecretString: aws.String("two"), ClientRequestToken: aws.String("token-00000000000000000000000000002")})
	if err != nil || aws.ToString(again.VersionId) != aws.ToString(put.VersionId) {
		t.Fatalf("retried put: %v, version %v want %v", err, aws.ToString(again.VersionId), aws.ToString(put.VersionId))
	}
	tests := []struct {
		stage, want, version string
	}{
		{"AWSCURRENT", "two", aws.ToString(put.VersionId)},
		{"AWSPREVIOUS", "one", aws.ToString(created.VersionId)},
	}
	for _, tc := range tests {
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("fleet"), VersionStage: aws.String(tc.stage)})
		if err != nil {
			t.Fatalf("%s: %v", tc.stage, err)
		}
		if aws.ToString(out.SecretString) != tc.want || aws.ToString(out.VersionId) != tc.version {
			t.Errorf("%s = %q (version %s), want %q (version %s)", tc.stage, aws.ToString(out.SecretString), aws.ToString(out.VersionId), tc.want, tc.version)
		}
	}
}

func TestSecretsManagerWireErrorUsesCapitalMessage(t *testing.T) {
	_, _, url := newTestFake(t, Options{})
	status, ct, body := rawCall(t, url, "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", `{"SecretId":"nope"}`, true)
	if status != 400 || ct != "application/x-amz-json-1.1" {
		t.Fatalf("status %d content type %q", status, ct)
	}
	if body["__type"] != "ResourceNotFoundException" || body["Message"] != "Secrets Manager can't find the specified secret." {
		t.Errorf("body = %v, want the recorded __type and Message", body)
	}
}

func TestSecretsManagerSecretWithoutValue(t *testing.T) {
	_, cfg, _ := newTestFake(t, Options{})
	client := secretsmanager.NewFromConfig(cfg)
	ctx := context.Background()
	if _, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("empty")}); err != nil {
		t.Fatal(err)
	}
	_, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("empty")})
	wantAPIError[*types.ResourceNotFoundException](t, err, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
}
