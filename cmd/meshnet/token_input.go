package main

// A join token carries the cluster's gossip key, so it must not stay in the
// daemon's argv, which every local user can read (ps, /proc/PID/cmdline).
// `meshnet up` takes it from a file (--token-file), from standard input
// (--token -) or from the environment (MESHNET_TOKEN, readable only by the
// same user and root); a token given as --token TOKEN still works, but is
// overwritten in the process's argv as soon as the flags are parsed.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unsafe"
)

// tokenEnv names the environment variable `meshnet up` reads a token from.
const tokenEnv = "MESHNET_TOKEN"

// tokenSource says where the join token came from.
type tokenSource int

const (
	tokenNone  tokenSource = iota
	tokenFile              // --token-file: the node reads the file
	tokenValue             // --token TOKEN, --token - or MESHNET_TOKEN
)

// resolveToken reads the token the flags point at, once: a reload must not
// read standard input again. It returns the token (empty for tokenFile and
// tokenNone) and where it came from.
func (f *upFlags) resolveToken(stdin io.Reader) (string, tokenSource, error) {
	switch {
	case f.tokenFile != "" && f.token != "":
		return "", tokenNone, usageError{errors.New("--token and --token-file both given: keep one")}
	case f.tokenFile != "":
		return "", tokenFile, nil
	case f.token == "-":
		line, err := bufio.NewReader(io.LimitReader(stdin, maxTokenLen)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", tokenNone, fmt.Errorf("--token -: reading the token from standard input: %w", err)
		}
		tok := strings.TrimSpace(line)
		if tok == "" {
			return "", tokenNone, usageError{errors.New("--token -: standard input held no token (pipe it in: meshnet token | meshnet up --token - ...)")}
		}
		return tok, tokenValue, nil
	case f.token != "":
		tok := strings.Clone(f.token) // hideArgs overwrites the flag's bytes
		hideArgs(tok)
		return tok, tokenValue, nil
	case os.Getenv(tokenEnv) != "":
		return strings.TrimSpace(os.Getenv(tokenEnv)), tokenValue, nil
	}
	return "", tokenNone, nil
}

// maxTokenLen bounds what --token - reads; tokens are a few hundred bytes.
const maxTokenLen = 64 << 10

// hideArgs overwrites secret wherever it appears in the process's
// arguments. os.Args shares its bytes with the argument area the kernel
// shows in /proc/PID/cmdline (the runtime does not copy them), so the
// secret disappears from ps. Only os.Args is touched: its bytes live in
// that writable area, never in read-only memory.
func hideArgs(secret string) {
	if secret == "" {
		return
	}
	for _, a := range os.Args {
		for i := strings.Index(a, secret); i >= 0 && len(a) > 0; i = strings.Index(a, secret) {
			b := unsafe.Slice(unsafe.StringData(a), len(a))
			for j := i; j < i+len(secret); j++ {
				b[j] = '*'
			}
		}
	}
}
