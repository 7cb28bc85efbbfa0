package seal

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a Secret prints as, whatever the verb or logger.
const Redacted = "[REDACTED]"

// Secret holds plaintext that must never reach a log line, an error message or a
// formatted string. Every way fmt, log/slog and encoding/json have of printing it prints
// Redacted instead; use Bytes (or a conversion to []byte) where the plaintext is
// genuinely needed, and Zero when done.
type Secret []byte

// String returns Redacted.
func (s Secret) String() string { return Redacted }

// GoString returns Redacted, so %#v does not print the bytes either.
func (s Secret) GoString() string { return Redacted }

// Format prints Redacted for every verb (%v, %+v, %#v, %s, %q, %x, %X, %d, ...).
func (s Secret) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, Redacted) }

// LogValue makes slog print Redacted, with any handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON encodes a Secret as "[REDACTED]", so a struct that embeds one by mistake
// leaks nothing when logged or stored as JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText keeps encoding.TextMarshaler users (slog's text handler on some paths,
// encoders of map keys) from printing the plaintext.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Bytes returns the plaintext itself (not a copy).
func (s Secret) Bytes() []byte { return s }

// Len is the plaintext's length in bytes, which is safe to log.
func (s Secret) Len() int { return len(s) }

// Zero overwrites the plaintext with zeros.
func (s Secret) Zero() { clear(s) }
