package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestResolveToken(t *testing.T) {
	t.Setenv(tokenEnv, "")
	for _, c := range []struct {
		name       string
		f          upFlags
		stdin, env string
		want       string
		from       tokenSource
		err        string
	}{
		{name: "none", from: tokenNone},
		{name: "file", f: upFlags{tokenFile: "/etc/meshnet/token"}, from: tokenFile},
		{name: "stdin", f: upFlags{token: "-"}, stdin: "meshnet1-abc\n", want: "meshnet1-abc", from: tokenValue},
		{name: "stdin without newline", f: upFlags{token: "-"}, stdin: "meshnet1-abc", want: "meshnet1-abc", from: tokenValue},
		{name: "empty stdin", f: upFlags{token: "-"}, err: "standard input held no token"},
		{name: "env", env: " meshnet1-env\n", want: "meshnet1-env", from: tokenValue},
		{name: "flag beats env", f: upFlags{token: "meshnet1-flag"}, env: "meshnet1-env", want: "meshnet1-flag", from: tokenValue},
		{name: "both flags", f: upFlags{token: "x", tokenFile: "y"}, err: "both given"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(tokenEnv, c.env)
			got, from, err := c.f.resolveToken(strings.NewReader(c.stdin))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want || from != c.from {
				t.Fatalf("= %q, %d, %v; want %q, %d", got, from, err, c.want, c.from)
			}
		})
	}
}

func TestHideArgsOverwritesTheTokenInPlace(t *testing.T) {
	saved := os.Args
	t.Cleanup(func() { os.Args = saved })
	// Arguments in writable memory, as the kernel's are; the flag value
	// shares their bytes as pflag's does.
	os.Args = []string{string([]byte("meshnet")), string([]byte("up")), string([]byte("--token=meshnet1-secret")), string([]byte("--name=n"))}
	flagValue := os.Args[2][len("--token="):]
	tok := strings.Clone(flagValue)
	hideArgs(tok)
	if got := strings.Join(os.Args, " "); strings.Contains(got, "secret") || got != "meshnet up --token="+strings.Repeat("*", len(tok))+" --name=n" {
		t.Fatalf("args after hiding: %q", got)
	}
	if tok != "meshnet1-secret" {
		t.Fatalf("the cloned token changed: %q", tok)
	}
}

func TestDaemonArgsPassTheTokenOnAPipe(t *testing.T) {
	args := []string{"up", "-d", "--token", "meshnet1-x", "--network", "blue", "--token-file=f", "--detach=true", "--token=meshnet1-y"}
	if got, want := daemonArgs(args, true), []string{"up", "--network", "blue", "--token", "-"}; !slices.Equal(got, want) {
		t.Errorf("with a piped token: %q, want %q", got, want)
	}
	if got, want := daemonArgs([]string{"up", "-d", "--token-file", "f"}, false), []string{"up", "--token-file", "f"}; !slices.Equal(got, want) {
		t.Errorf("with a token file: %q, want %q", got, want)
	}
}
