package keydist

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// redactedSuffix replaces the key material in every printed form of a
// secret type.
const redactedSuffix = "[redacted]"

// secretMarker returns the printed form of a secret of the given type prefix,
// e.g. "nodepriv:[redacted]".
func secretMarker(prefix string) string { return prefix + redactedSuffix }

// formatSecret implements fmt.Formatter for secret types: every verb,
// including %x, %d and %#v, prints only the marker.
func formatSecret(f fmt.State, prefix string) {
	_, _ = io.WriteString(f, secretMarker(prefix))
}

// logSecret implements slog.LogValuer for secret types.
func logSecret(prefix string) slog.Value { return slog.StringValue(secretMarker(prefix)) }

// jsonSecret implements json.Marshaler for secret types.
func jsonSecret(prefix string) []byte { return []byte(strconv.Quote(secretMarker(prefix))) }
