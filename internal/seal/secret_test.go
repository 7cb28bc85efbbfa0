package seal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const plaintextMarker = "JITCONFIG-PLAINTEXT-7f3a9c"

func TestSecretNeverPrintsPlaintext(t *testing.T) {
	s := Secret(plaintextMarker)
	type holder struct {
		Name   string
		Config Secret
	}
	h := holder{Name: "runner", Config: s}

	var printed []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		printed = append(printed, fmt.Sprintf(verb, s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h))
	}
	printed = append(printed, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(s, h))

	js, err := json.Marshal(h)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	printed = append(printed, string(js))

	var logs bytes.Buffer
	for _, handler := range []slog.Handler{
		slog.NewTextHandler(&logs, nil),
		slog.NewJSONHandler(&logs, nil),
	} {
		log := slog.New(handler)
		log.Info("opened", "jit", s, "holder", h, slog.Any("any", s), slog.Group("g", "jit", s))
		log.With("jit", s).Error("failed", "err", fmt.Errorf("wrapped: %v", s))
	}
	printed = append(printed, logs.String())

	for _, out := range printed {
		if strings.Contains(out, plaintextMarker) {
			t.Errorf("plaintext leaked: %s", out)
		}
		// Hex and decimal renderings of the bytes would leak it too.
		decimal := strings.Trim(fmt.Sprintf("%d", []byte(plaintextMarker)), "[]")
		if strings.Contains(out, fmt.Sprintf("%x", []byte(plaintextMarker))) || strings.Contains(out, decimal) {
			t.Errorf("plaintext bytes leaked: %s", out)
		}
	}
	if !strings.Contains(logs.String(), Redacted) {
		t.Errorf("log output does not show %s where the secret was: %s", Redacted, logs.String())
	}
	if got := string(s.Bytes()); got != plaintextMarker {
		t.Errorf("Bytes() = %q, want the plaintext", got)
	}
}

func TestSecretZero(t *testing.T) {
	s := Secret("abc")
	s.Zero()
	if !bytes.Equal(s, []byte{0, 0, 0}) {
		t.Errorf("after Zero: %v bytes still set", []byte(s))
	}
}
