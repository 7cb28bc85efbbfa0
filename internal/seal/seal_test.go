package seal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/runnerfleet/fleet/internal/seal"
	"github.com/runnerfleet/fleet/local/awsfake"
)

const execution = "octo-widgets-4242-1"

// newKMS starts the KMS protocol fake and returns it, a real SDK client pointed at it,
// and the ARN of a fresh key aliased alias/runner-fleet.
func newKMS(t *testing.T) (*awsfake.Server, *kms.Client, string) {
	t.Helper()
	srv := awsfake.New(awsfake.Options{})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg, err := srv.AWSConfig(context.Background(), hs.URL, func(c *aws.Config) {
		c.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	})
	if err != nil {
		t.Fatal(err)
	}
	arn, err := srv.KMS.CreateKey("runner seals", "alias/runner-fleet")
	if err != nil {
		t.Fatal(err)
	}
	return srv, kms.NewFromConfig(cfg), arn
}

func randomText(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	// A JIT config is base64 text; make it look like one.
	s := base64.StdEncoding.EncodeToString(b)
	return []byte(s[:n])
}

var sealedChars = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func TestSealOpenRoundTrip(t *testing.T) {
	srv, client, arn := newKMS(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		size     int
		mode     string
		kmsOp    string
		keyIDFor func(arn string) string
	}{
		{"small config", 1800, "v1.kms.", "Encrypt", func(a string) string { return a }},
		{"one byte", 1, "v1.kms.", "Encrypt", func(string) string { return "alias/runner-fleet" }},
		{"exactly the Encrypt limit", seal.MaxDirectPlaintext, "v1.kms.", "Encrypt", func(a string) string { return a }},
		{"one byte over: envelope", seal.MaxDirectPlaintext + 1, "v1.env.", "GenerateDataKey", func(a string) string { return a }},
		{"large config: envelope", 5000, "v1.env.", "GenerateDataKey", func(string) string { return "alias/runner-fleet" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetCalls()
			plain := randomText(t, tc.size)
			sealed, err := seal.Seal(ctx, client, tc.keyIDFor(arn), execution, plain)
			if err != nil {
				t.Fatalf("Seal(%d bytes) = %v", tc.size, err)
			}
			if !strings.HasPrefix(sealed, tc.mode) {
				t.Errorf("sealed value starts %.10q, want %q", sealed, tc.mode)
			}
			if !sealedChars.MatchString(sealed) {
				t.Errorf("sealed value has characters outside [A-Za-z0-9_.-]")
			}
			if len(sealed) > seal.MaxSealedLen {
				t.Errorf("sealed value is %d characters, over MaxSealedLen %d", len(sealed), seal.MaxSealedLen)
			}
			// (A one-byte plaintext appears in any string by chance; check real ones.)
			if len(plain) >= 16 && strings.Contains(sealed, string(plain[:16])) {
				t.Error("sealed value contains the plaintext")
			}
			if got := srv.Calls("kms", tc.kmsOp); got != 1 {
				t.Errorf("KMS %s called %d times, want 1 (calls: %v)", tc.kmsOp, got, srv.CallCounts())
			}
			opened, err := seal.Open(ctx, client, execution, sealed)
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			if !bytes.Equal(opened.Bytes(), plain) {
				t.Errorf("Open returned %d bytes that differ from the %d sealed", opened.Len(), len(plain))
			}
		})
	}
}

// The seal is bound to exactly {"runner-fleet:execution": <name>}: KMS itself opens
// a direct seal's ciphertext under that context and no other.
func TestSealUsesTheExecutionContext(t *testing.T) {
	_, client, arn := newKMS(t)
	ctx := context.Background()
	sealed, err := seal.Seal(ctx, client, arn, execution, []byte("jit"))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "v1.kms."))
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"runner-fleet:execution": execution}})
	if err != nil || string(out.Plaintext) != "jit" {
		t.Fatalf("KMS Decrypt under the documented context = %q, %v", out.Plaintext, err)
	}
	if _, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob}); err == nil {
		t.Fatal("KMS opened the seal without an encryption context")
	}
}

func TestOpenRefusesAnotherExecutionsSeal(t *testing.T) {
	_, client, arn := newKMS(t)
	ctx := context.Background()
	for _, size := range []int{100, 5000} {
		sealed, err := seal.Seal(ctx, client, arn, execution, randomText(t, size))
		if err != nil {
			t.Fatal(err)
		}
		_, err = seal.Open(ctx, client, "octo-widgets-4243-1", sealed)
		if !errors.Is(err, seal.ErrInvalidSeal) {
			t.Errorf("%d bytes: Open under another execution = %v, want ErrInvalidSeal", size, err)
		}
	}
}

func TestOpenRefusesTamperedSeals(t *testing.T) {
	_, client, arn := newKMS(t)
	ctx := context.Background()
	direct, err := seal.Seal(ctx, client, arn, execution, []byte("config"))
	if err != nil {
		t.Fatal(err)
	}
	envelope, err := seal.Seal(ctx, client, arn, execution, randomText(t, 4500))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	envParts := strings.Split(envelope, ".")
	for name, sealed := range map[string]string{
		"empty":                  "",
		"no version":             "kms.abc",
		"future version":         strings.Replace(direct, "v1.", "v2.", 1),
		"unknown mode":           strings.Replace(direct, ".kms.", ".rsa.", 1),
		"direct without body":    "v1.kms.",
		"direct with extra part": direct + ".x",
		"not base64url":          "v1.kms.abc+/def==",
		"direct flipped":         flip(direct, len(direct)-5),
		"direct truncated":       direct[:len(direct)-8],
		"envelope missing part":  strings.Join(envParts[:3], "."),
		"envelope flipped key":   flip(envelope, len("v1.env.")+10),
		"envelope flipped data":  flip(envelope, len(envelope)-3),
		"envelope swapped key":   strings.Join([]string{"v1", "env", base64.RawURLEncoding.EncodeToString([]byte("not a kms blob")), envParts[3]}, "."),
		"envelope short payload": strings.Join([]string{envParts[0], envParts[1], envParts[2], "AAAA"}, "."),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := seal.Open(ctx, client, execution, sealed)
			if !errors.Is(err, seal.ErrInvalidSeal) {
				t.Fatalf("Open = %v, %v; want ErrInvalidSeal", got, err)
			}
		})
	}
}

func TestSealSizeLimits(t *testing.T) {
	srv, client, arn := newKMS(t)
	ctx := context.Background()

	_, err := seal.Seal(ctx, client, arn, execution, randomText(t, 7000))
	if !errors.Is(err, seal.ErrTooLarge) {
		t.Fatalf("Seal(7000 bytes) = %v, want ErrTooLarge", err)
	}
	if n := srv.Calls("kms", "GenerateDataKey"); n != 0 {
		t.Errorf("asked KMS for a data key (%d calls) for a value that cannot fit", n)
	}
	if !strings.Contains(err.Error(), "7168") {
		t.Errorf("error %q does not say the limit", err)
	}

	_, err = seal.Open(ctx, client, execution, "v1.kms."+strings.Repeat("A", seal.MaxSealedLen))
	if !errors.Is(err, seal.ErrTooLarge) {
		t.Errorf("Open of an oversized value = %v, want ErrTooLarge", err)
	}
	if err := seal.CheckLen(strings.Repeat("a", seal.MaxSealedLen)); err != nil {
		t.Errorf("CheckLen(MaxSealedLen) = %v", err)
	}

	// The largest plaintext that fits still round-trips.
	lo, hi := seal.MaxDirectPlaintext, 7000
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if _, err := seal.Seal(ctx, client, arn, execution, randomText(t, mid)); err == nil {
			lo = mid
		} else if errors.Is(err, seal.ErrTooLarge) {
			hi = mid
		} else {
			t.Fatal(err)
		}
	}
	t.Logf("largest plaintext that fits: %d bytes", lo)
	if lo < 5000 {
		t.Errorf("only %d bytes of plaintext fit; a JIT config is about 1-3 KiB but the limit should leave room", lo)
	}
}

func TestSealAndOpenInputErrors(t *testing.T) {
	srv, client, arn := newKMS(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, key, exec string
		plain           []byte
		want            string
	}{
		{"no key", "", execution, []byte("x"), "KMS key id is empty"},
		{"no execution", arn, "", []byte("x"), "execution name is empty"},
		{"execution too long", arn, strings.Repeat("e", 81), []byte("x"), "at most 80"},
		{"nothing to seal", arn, execution, nil, "plaintext is empty"},
		{"unknown key", "alias/missing", execution, []byte("x"), "NotFoundException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := seal.Seal(ctx, client, tc.key, tc.exec, tc.plain)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Seal = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := seal.Open(ctx, client, "", "v1.kms.AAAA"); err == nil || !strings.Contains(err.Error(), "execution name is empty") {
		t.Errorf("Open without execution = %v", err)
	}

	// A KMS failure that is not about the ciphertext is reported as such, not as a bad seal.
	sealed, err := seal.Seal(ctx, client, arn, execution, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetFault("kms", "Decrypt", awsfake.Fault{Err: &awsfake.APIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: kms:Decrypt"}}); err != nil {
		t.Fatal(err)
	}
	_, err = seal.Open(ctx, client, execution, sealed)
	if err == nil || errors.Is(err, seal.ErrInvalidSeal) || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Errorf("Open with access denied = %v; want the KMS error, not ErrInvalidSeal", err)
	}
	srv.ClearFaults()
	if err := srv.KMS.SetKeyEnabled(arn, false); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Seal(ctx, client, arn, execution, []byte("x")); err == nil || !strings.Contains(err.Error(), "DisabledException") {
		t.Errorf("Seal with a disabled key = %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	f.Add("v1.kms.AAAA")
	f.Add("v1.env.AAAA.BBBB")
	f.Add("v1.env..")
	f.Add("")
	srv := awsfake.New(awsfake.Options{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cfg, err := srv.AWSConfig(context.Background(), hs.URL, func(c *aws.Config) {
		c.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	})
	if err != nil {
		f.Fatal(err)
	}
	client := kms.NewFromConfig(cfg)
	f.Fuzz(func(t *testing.T, sealed string) {
		if _, err := seal.Open(context.Background(), client, execution, sealed); err == nil {
			t.Fatalf("Open accepted %q with no key in KMS", sealed)
		}
	})
}
