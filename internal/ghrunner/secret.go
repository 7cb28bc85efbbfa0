package ghrunner

import (
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Secret holds a value that must never be printed or logged: a JIT config. Every way
// fmt, slog, encoding/json and encoding.TextMarshaler users render it gives
// "[redacted]"; Reveal is the one way to the plaintext (to seal it).
type Secret struct{ v string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the plaintext. Call it only to hand the value to the sealer.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (s Secret) GoString() string { return redacted }

// LogValue logs "[redacted]" (slog.LogValuer).
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]", so text encoders never carry the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns "[redacted]": seal the value (Reveal) before it goes into a
// document; a Secret marshalled by mistake carries nothing.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Format prints "[redacted]" for every verb, %x and %q included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

var (
	_ fmt.Stringer   = Secret{}
	_ fmt.GoStringer = Secret{}
	_ fmt.Formatter  = Secret{}
	_ slog.LogValuer = Secret{}
)
