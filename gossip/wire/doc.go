// Package wire holds the bytes meshnet's gossip puts on the network: the
// message types with their encoders and decoders, the Vivaldi coordinate
// that rides on memberlist's ping acks, the item hashes that digests sum
// (nodes compare digests, so the hashes are part of the format), the
// framing of side requests, and the limits every decoder enforces on
// untrusted input (limits.go).
//
// It imports no other meshnet package, runs no goroutines, keeps no state
// and so needs no locks: every function works on the bytes and values it
// is given, and decoders copy what they keep, so a caller may reuse its
// buffer.
//
// # Format
//
// Every message starts with a version and a type byte:
//
//	 0               1               2
//	+---------------+---------------+-------- ... --------+
//	|    version    |     type      |        body         |
//	+---------------+---------------+-------- ... --------+
//
// The body is a sequence of fields: uvarints, length-prefixed (uvarint)
// strings and byte strings, flag bytes. Each message type documents its
// body next to its struct. Message types are append-only; a decoder
// refuses an unknown version or type, a field or list over its limit,
// reserved flag bits, truncation and trailing bytes, each with a sentinel
// error the caller can count. golden_test.go pins the bytes of every
// message: nodes of older and newer code must keep understanding each
// other.
package wire
