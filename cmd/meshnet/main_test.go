package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commandsOf lists every command path of the CLI, e.g. "service create".
func commandsOf(t *testing.T) []string {
	g := &globals{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	var out []string
	root := newRoot(g)
	for _, c := range root.Commands() {
		out = append(out, c.Name())
		for _, sub := range c.Commands() {
			out = append(out, c.Name()+" "+sub.Name())
		}
	}
	return out
}

// TestEveryCommandRejectsBadArguments: an unknown flag on any command
// prints the error and that command's usage, and exits 2.
func TestEveryCommandRejectsBadArguments(t *testing.T) {
	cmds := commandsOf(t)
	if len(cmds) < 20 {
		t.Fatalf("only %d commands found", len(cmds))
	}
	for _, c := range cmds {
		if c == "help" || strings.HasPrefix(c, "completion") {
			continue
		}
		var stdout, stderr bytes.Buffer
		args := append(strings.Fields(c), "--no-such-flag")
		code := run(args, &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("meshnet %s --no-such-flag: exit %d, want %d", c, code, exitUsage)
		}
		if !strings.Contains(stderr.String(), "unknown flag") || !strings.Contains(stderr.String(), "Usage:") {
			t.Errorf("meshnet %s --no-such-flag: stderr lacks the error or the usage:\n%s", c, stderr.String())
		}
	}
}

func TestWrongArgumentCounts(t *testing.T) {
	for _, args := range [][]string{{"network", "create"}, {"evict"}, {"ping"}, {"service", "add-backend", "web"}, {"status", "extra"}, {"bogus"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("meshnet %v: exit %d, want %d (%s)", args, code, exitUsage, stderr.String())
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	root := newRoot(&globals{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" || c.HasSubCommands() {
			for _, sub := range c.Commands() {
				if sub.Example == "" && c.Name() != "completion" && c.Name() != "help" {
					t.Errorf("meshnet %s %s has no example", c.Name(), sub.Name())
				}
			}
			continue
		}
		if c.Example == "" && c.Name() != "version" {
			t.Errorf("meshnet %s has no example", c.Name())
		}
	}
}

func TestCompletionScriptsGenerate(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"completion", shell}, &stdout, &stderr); code != exitOK {
			t.Fatalf("completion %s: exit %d: %s", shell, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "meshnet") || stdout.Len() < 1000 {
			t.Fatalf("completion %s: a %d-byte script", shell, stdout.Len())
		}
	}
}

// Flag help must not contain backquotes: pflag takes a backquoted word as
// the flag's argument name, which garbled `up --help`.
func TestFlagUsageNamesArguments(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(f)
			if strings.Contains(name, " ") {
				t.Errorf("%s --%s: argument name %q (a backquoted phrase in its usage)", c.CommandPath(), f.Name, name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&globals{stdout: io.Discard, stderr: io.Discard}))
}
