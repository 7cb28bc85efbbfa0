package awsfake

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

func newKMSFake(t *testing.T) (*Server, *kms.Client, string, string) {
	t.Helper()
	srv, cfg, url := newTestFake(t, Options{})
	keyARN, err := srv.KMS.CreateKey("runner seals", "alias/runner-fleet")
	if err != nil {
		t.Fatal(err)
	}
	return srv, kms.NewFromConfig(cfg), keyARN, url
}

func TestKMSEncryptDecryptByEveryKeyName(t *testing.T) {
	_, client, keyARN, _ := newKMSFake(t)
	ctx := context.Background()
	keyID := keyARN[strings.LastIndex(keyARN, "/")+1:]
	ec := map[string]string{"runner-fleet:execution": "octo-repo-1-1"}
	for _, name := range []string{keyID, keyARN, "alias/runner-fleet", "arn:aws:kms:us-east-1:123456789012:alias/runner-fleet"} {
		t.Run(name, func(t *testing.T) {
			enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(name), Plaintext: []byte("jit-config"), EncryptionContext: ec})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(enc.KeyId) != keyARN || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
				t.Errorf("Encrypt KeyId = %q alg %q, want the key ARN %q", aws.ToString(enc.KeyId), enc.EncryptionAlgorithm, keyARN)
			}
			if bytes.Contains(enc.CiphertextBlob, []byte("jit-config")) {
				t.Fatal("ciphertext contains the plaintext")
			}
			dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
			if err != nil {
				t.Fatal(err)
			}
			if string(dec.Plaintext) != "jit-config" || aws.ToString(dec.KeyId) != keyARN || dec.KeyMaterialId == nil {
				t.Errorf("Decrypt = %q %q %v", dec.Plaintext, aws.ToString(dec.KeyId), dec.KeyMaterialId)
			}
		})
	}
}

func TestKMSEncryptionContextIsEnforced(t *testing.T) {
	_, client, keyARN, _ := newKMSFake(t)
	ctx := context.Background()
	ec := map[string]string{"runner-fleet:execution": "octo-repo-1-1"}
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name string
		blob []byte
		ec   map[string]string
	}{
		{"missing context", enc.CiphertextBlob, nil},
		{"other execution", enc.CiphertextBlob, map[string]string{"runner-fleet:execution": "octo-repo-2-1"}},
		{"extra pair", enc.CiphertextBlob, map[string]string{"runner-fleet:execution": "octo-repo-1-1", "x": "y"}},
		{"tampered ciphertext", tampered, ec},
		{"header cut off", enc.CiphertextBlob[10:], ec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tc.blob, EncryptionContext: tc.ec})
			wantAPIError[*types.InvalidCiphertextException](t, err, "InvalidCiphertextException", "")
		})
	}
}

func TestKMSInvalidCiphertextWireHasNoMessage(t *testing.T) {
	_, _, _, url := newKMSFake(t)
	body := `{"CiphertextBlob":"` + base64.StdEncoding.EncodeToString([]byte("garbage-garbage-garbage-garbage")) + `"}`
	status, ct, got := rawCall(t, url, "TrentService.Decrypt", "application/x-amz-json-1.1", body, true)
	if status != 400 || ct != "application/x-amz-json-1.1" || got["__type"] != "InvalidCiphertextException" || len(got) != 1 {
		t.Errorf("Decrypt of garbage = %d %q %v, want 400 and only __type, as recorded", status, ct, got)
	}
}

func TestKMSLimitsAndKeyErrors(t *testing.T) {
	srv, client, keyARN, _ := newKMSFake(t)
	ctx := context.Background()
	if _, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: make([]byte, 4096)}); err != nil {
		t.Errorf("4096-byte plaintext: %v", err)
	}
	_, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: make([]byte, 4097)})
	wantAPIError[smithy.APIError](t, err, "ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")

	_, err = client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/nope"), Plaintext: []byte("x")})
	wantAPIError[*types.NotFoundException](t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found.")
	_, err = client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("00000000-0000-4000-8000-000000000000"), Plaintext: []byte("x")})
	wantAPIError[*types.NotFoundException](t, err, "NotFoundException", "Key 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000' does not exist")

	other, err := srv.KMS.CreateKey("other")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: aws.String(other)})
	wantAPIError[*types.IncorrectKeyException](t, err, "IncorrectKeyException", "")

	if err := srv.KMS.SetKeyEnabled("alias/runner-fleet", false); err != nil {
		t.Fatal(err)
	}
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantAPIError[*types.DisabledException](t, err, "DisabledException", keyARN+" is disabled.")
}

func TestKMSGenerateDataKey(t *testing.T) {
	_, client, keyARN, _ := newKMSFake(t)
	ctx := context.Background()
	ec := map[string]string{"runner-fleet:execution": "e"}
	tests := []struct {
		name    string
		in      kms.GenerateDataKeyInput
		wantLen int
	}{
		{"AES_256", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256}, 32},
		{"AES_128", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes128}, 16},
		{"64 bytes", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(64)}, 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.KeyId, in.EncryptionContext = aws.String("alias/runner-fleet"), ec
			out, err := client.GenerateDataKey(ctx, &in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Plaintext) != tc.wantLen || aws.ToString(out.KeyId) != keyARN {
				t.Fatalf("data key %d bytes, key %q", len(out.Plaintext), aws.ToString(out.KeyId))
			}
			dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
			if err != nil || !bytes.Equal(dec.Plaintext, out.Plaintext) {
				t.Errorf("the data key does not decrypt back: %v", err)
			}
		})
	}
	_, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyARN)})
	wantAPIError[smithy.APIError](t, err, "ValidationException", "")
}

func TestKMSCreateKeyAliasDescribe(t *testing.T) {
	_, client, _, _ := newKMSFake(t)
	ctx := context.Background()
	created, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("made by the SDK")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/sdk"), TargetKeyId: created.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	desc, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/sdk")})
	if err != nil {
		t.Fatal(err)
	}
	md := desc.KeyMetadata
	if aws.ToString(md.Arn) != aws.ToString(created.KeyMetadata.Arn) || !md.Enabled || md.KeyState != types.KeyStateEnabled || md.CreationDate == nil || aws.ToString(md.Description) != "made by the SDK" {
		t.Errorf("DescribeKey = %+v", md)
	}
	_, err = client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/sdk"), TargetKeyId: created.KeyMetadata.KeyId})
	wantAPIError[*types.AlreadyExistsException](t, err, "AlreadyExistsException", "")
}
