package config

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSecretFile bounds a secret file; a join token is a few hundred bytes.
const maxSecretFile = 64 << 10

// readSecretFile reads a file holding a secret (a join token). Like ssh
// with its keys, it refuses a file other users may read: the token carries
// the cluster's gossip keys. On failure it returns the problem and the fix
// for a FieldError.
func readSecretFile(path string) (secret, problem, fix string) {
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
		return "", "larger than a join token", "point it at the file `meshnet token` wrote"
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", "empty", "write the token from `meshnet token` into it"
	}
	return tok, "", ""
}
