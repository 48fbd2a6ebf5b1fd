package config

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSecretFile bounds a secret file; a join token is a few hundred bytes,
// a preshared key 45.
const maxSecretFile = 64 << 10

// secretKind names what a secret file should hold, for its errors.
type secretKind struct {
	what   string // "a join token"
	source string // where people get one: "the token from `meshnet token`"
}

var (
	tokenSecret = secretKind{"a join token", "the token from `meshnet token`"}
	pskSecret   = secretKind{"a preshared key", "the output of `wg genpsk` (the key the peer uses)"}
)

// readSecretFile reads a file holding a secret (a join token, a preshared
// key). Like ssh with its keys, it refuses a file other users may read:
// the token carries the cluster's gossip keys. On failure it returns the
// problem and the fix for a FieldError; neither quotes the file.
func readSecretFile(path string, kind secretKind) (secret, problem, fix string) {
	f, err := os.Open(path)
	if err != nil {
		return "", "cannot read it: " + err.Error(), "check the path and permissions"
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", "cannot read it: " + err.Error(), "check the path and permissions"
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Sprintf("readable by other users (mode %04o): it holds a secret", perm), "chmod 600 " + path
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", "cannot read it: " + err.Error(), "check the path and permissions"
	}
	if len(b) > maxSecretFile {
		return "", "larger than " + kind.what, "write " + kind.source + " into it"
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", "empty", "write " + kind.source + " into it"
	}
	return tok, "", ""
}
