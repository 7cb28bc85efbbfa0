// Package seal seals a runner's JIT config with AWS KMS so that it can travel through the
// workflow (execution history, the ECS RunTask overrides, DescribeTasks) without its
// plaintext ever appearing there, and opens it again inside the runner task.
//
// Every seal is bound to one execution: the KMS encryption context is
// {"runner-fleet:execution": <execution name>}, so a seal copied into another execution's
// task cannot be opened there, and the runner task role's key policy can be limited to the
// context it needs.
//
// # Format
//
// A sealed value is a compact ASCII string, safe in JSON and in an environment variable:
//
//	v1.kms.<ciphertext>             plaintext of at most MaxDirectPlaintext (4096) bytes,
//	                                encrypted directly by KMS Encrypt
//	v1.env.<wrapped key>.<payload>  larger plaintext: envelope encryption. <wrapped key> is
//	                                the KMS-encrypted AES-256 data key (GenerateDataKey);
//	                                <payload> is a 12-byte nonce followed by the AES-256-GCM
//	                                ciphertext and tag, with the additional data
//	                                "runner-fleet:execution=<execution name>"
//
// Each <...> part is unpadded base64url (RFC 4648 §5). "v1" is the format version; a reader
// refuses versions and modes it does not know. A sealed value never exceeds MaxSealedLen
// characters, so that it fits in the 8 KiB ECS container overrides with room to spare.
package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// ContextKey is the KMS encryption context key whose value is the execution name.
const ContextKey = "runner-fleet:execution"

const (
	// MaxDirectPlaintext is the largest plaintext KMS Encrypt accepts (4 KiB); larger
	// plaintext is sealed with a data key.
	MaxDirectPlaintext = 4096

	// MaxSealedLen is the longest sealed value Seal produces and Open accepts. ECS allows
	// 8192 characters for all of a RunTask's overrides, JSON punctuation included; the
	// remaining 1 KiB holds the container name, the variable names, the execution name,
	// and the cpu/memory overrides.
	MaxSealedLen = 7168

	// MaxExecutionNameLen is the longest execution name Step Functions accepts.
	MaxExecutionNameLen = 80

	version     = "v1"
	modeDirect  = "kms"
	modeEnvelop = "env"
	dataKeyLen  = 32
)

var b64 = base64.RawURLEncoding

// Sentinel errors callers can match with errors.Is.
var (
	// ErrInvalidSeal: the sealed value is malformed, of an unknown version, truncated, or
	// KMS refused it as ciphertext (a seal of another execution, a corrupt value, or a
	// different key). KMS answers all of those with the same InvalidCiphertextException,
	// by design; so does this package.
	ErrInvalidSeal = errors.New("sealed value cannot be opened")
	// ErrTooLarge: the sealed value would exceed MaxSealedLen.
	ErrTooLarge = errors.New("sealed value is too large for the ECS overrides")
)

// Encrypter is what Seal needs of a KMS client; *kms.Client satisfies it.
type Encrypter interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, optFns ...func(*kms.Options)) (*kms.EncryptOutput, error)
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
}

// Decrypter is what Open needs of a KMS client; *kms.Client satisfies it.
type Decrypter interface {
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Seal encrypts plaintext under keyID for executionName and returns the sealed string.
// keyID is a key id, key ARN, alias name or alias ARN. The plaintext slice is not kept.
func Seal(ctx context.Context, client Encrypter, keyID, executionName string, plaintext []byte) (string, error) {
	if keyID == "" {
		return "", errors.New("seal: KMS key id is empty; configure the fleet's KMS key")
	}
	if err := checkExecution(executionName); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	if len(plaintext) == 0 {
		return "", errors.New("seal: plaintext is empty; there is nothing to seal")
	}
	encCtx := encryptionContext(executionName)
	var sealed string
	if len(plaintext) <= MaxDirectPlaintext {
		out, err := client.Encrypt(ctx, &kms.EncryptInput{
			KeyId:             &keyID,
			Plaintext:         plaintext,
			EncryptionContext: encCtx,
		})
		if err != nil {
			return "", fmt.Errorf("seal for execution %q: KMS Encrypt with key %q: %w", executionName, keyID, err)
		}
		if len(out.CiphertextBlob) == 0 {
			return "", fmt.Errorf("seal for execution %q: KMS Encrypt returned no ciphertext", executionName)
		}
		sealed = version + "." + modeDirect + "." + b64.EncodeToString(out.CiphertextBlob)
	} else {
		// Reject hopeless sizes before asking KMS for a data key.
		if envelopeLen(len(plaintext), 0) > MaxSealedLen {
			return "", fmt.Errorf("seal for execution %q: %d bytes of plaintext: %w (at most %d characters)", executionName, len(plaintext), ErrTooLarge, MaxSealedLen)
		}
		out, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
			KeyId:             &keyID,
			KeySpec:           kmstypes.DataKeySpecAes256,
			EncryptionContext: encCtx,
		})
		if err != nil {
			return "", fmt.Errorf("seal for execution %q: KMS GenerateDataKey with key %q: %w", executionName, keyID, err)
		}
		payload, err := sealGCM(out.Plaintext, executionName, plaintext)
		clear(out.Plaintext)
		if err != nil {
			return "", fmt.Errorf("seal for execution %q: %w", executionName, err)
		}
		if len(out.CiphertextBlob) == 0 {
			return "", fmt.Errorf("seal for execution %q: KMS GenerateDataKey returned no wrapped key", executionName)
		}
		sealed = version + "." + modeEnvelop + "." + b64.EncodeToString(out.CiphertextBlob) + "." + b64.EncodeToString(payload)
	}
	if err := CheckLen(sealed); err != nil {
		return "", fmt.Errorf("seal for execution %q: %d bytes of plaintext: %w", executionName, len(plaintext), err)
	}
	return sealed, nil
}

// Open decrypts a value made by Seal for executionName. A seal made for another
// execution, or altered in any way, yields an error matching ErrInvalidSeal. Callers
// should Zero the result when done with it.
func Open(ctx context.Context, client Decrypter, executionName, sealed string) (Secret, error) {
	if err := checkExecution(executionName); err != nil {
		return nil, fmt.Errorf("open seal: %w", err)
	}
	if err := CheckLen(sealed); err != nil {
		return nil, fmt.Errorf("open seal: %w", err)
	}
	parts := strings.Split(sealed, ".")
	if len(parts) < 2 || parts[0] != version {
		return nil, fmt.Errorf("open seal: %w: it does not start with %q (was it produced by this version of Runner Fleet?)", ErrInvalidSeal, version+".")
	}
	encCtx := encryptionContext(executionName)
	switch {
	case parts[1] == modeDirect && len(parts) == 3:
		blob, err := decodePart(parts[2], "ciphertext")
		if err != nil {
			return nil, err
		}
		out, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: encCtx})
		if err != nil {
			return nil, decryptError(executionName, err)
		}
		return Secret(out.Plaintext), nil
	case parts[1] == modeEnvelop && len(parts) == 4:
		wrapped, err := decodePart(parts[2], "wrapped key")
		if err != nil {
			return nil, err
		}
		payload, err := decodePart(parts[3], "payload")
		if err != nil {
			return nil, err
		}
		out, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped, EncryptionContext: encCtx})
		if err != nil {
			return nil, decryptError(executionName, err)
		}
		defer clear(out.Plaintext)
		if len(out.Plaintext) != dataKeyLen {
			return nil, fmt.Errorf("open seal: %w: the wrapped data key is %d bytes, want %d", ErrInvalidSeal, len(out.Plaintext), dataKeyLen)
		}
		plain, err := openGCM(out.Plaintext, executionName, payload)
		if err != nil {
			return nil, err
		}
		return Secret(plain), nil
	default:
		return nil, fmt.Errorf("open seal: %w: unknown mode or wrong number of parts (want %q with 3 parts or %q with 4)", ErrInvalidSeal, version+"."+modeDirect, version+"."+modeEnvelop)
	}
}

// CheckLen reports ErrTooLarge when sealed is longer than MaxSealedLen.
func CheckLen(sealed string) error {
	if len(sealed) > MaxSealedLen {
		return fmt.Errorf("%w: %d characters, at most %d fit", ErrTooLarge, len(sealed), MaxSealedLen)
	}
	return nil
}

func encryptionContext(executionName string) map[string]string {
	return map[string]string{ContextKey: executionName}
}

func checkExecution(name string) error {
	if name == "" {
		return errors.New("execution name is empty; the seal is bound to the execution name")
	}
	if len(name) > MaxExecutionNameLen {
		return fmt.Errorf("execution name is %d characters, Step Functions allows at most %d", len(name), MaxExecutionNameLen)
	}
	return nil
}

func decodePart(s, what string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("open seal: %w: its %s is empty", ErrInvalidSeal, what)
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("open seal: %w: its %s is not unpadded base64url: %v", ErrInvalidSeal, what, err)
	}
	return b, nil
}

func decryptError(executionName string, err error) error {
	var invalid *kmstypes.InvalidCiphertextException
	var incorrectKey *kmstypes.IncorrectKeyException
	if errors.As(err, &invalid) || errors.As(err, &incorrectKey) {
		return fmt.Errorf("open seal: %w: KMS refused the ciphertext for execution %q (sealed for another execution, altered, or under another key): %w", ErrInvalidSeal, executionName, err)
	}
	return fmt.Errorf("open seal for execution %q: KMS Decrypt: %w", executionName, err)
}

func aad(executionName string) []byte {
	return []byte(ContextKey + "=" + executionName)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	return cipher.NewGCM(block)
}

// sealGCM returns nonce || ciphertext || tag.
func sealGCM(key []byte, executionName string, plaintext []byte) ([]byte, error) {
	if len(key) != dataKeyLen {
		return nil, fmt.Errorf("KMS GenerateDataKey returned a %d-byte key, want %d", len(key), dataKeyLen)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return gcm.Seal(out, out, plaintext, aad(executionName)), nil
}

func openGCM(key []byte, executionName string, payload []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, fmt.Errorf("open seal: %w", err)
	}
	if len(payload) < gcm.NonceSize()+gcm.Overhead() {
		return nil, fmt.Errorf("open seal: %w: the payload is truncated", ErrInvalidSeal)
	}
	nonce, ct := payload[:gcm.NonceSize()], payload[gcm.NonceSize():]
	plain, err := gcm.Open(nil, nonce, ct, aad(executionName))
	if err != nil {
		return nil, fmt.Errorf("open seal: %w: the payload fails authentication (altered, or sealed for another execution)", ErrInvalidSeal)
	}
	return plain, nil
}

// envelopeLen is the sealed length for n bytes of plaintext and a wrapped key of w bytes.
func envelopeLen(n, w int) int {
	const nonce, tag = 12, 16
	return len(version+"."+modeEnvelop+"..") + b64.EncodedLen(w) + b64.EncodedLen(nonce+n+tag)
}
