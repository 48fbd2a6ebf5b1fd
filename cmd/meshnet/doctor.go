package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
)

func doctorCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check what commonly breaks, and say what to do",
		Long: `Check the device and privileges, every peer's gossip and WireGuard ports
(with a fresh handshake), the path MTU to every peer (pings with "don't
fragment") against what the networks need, clock skew, key epochs,
duplicate addresses and conflicting definitions. Exits 1 if any check
fails.`,
		Example: "  meshnet doctor\n  meshnet doctor --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			checks, err := g.client().Doctor(ctx)
			if err != nil {
				return err
			}
			failed := 0
			for _, c := range checks {
				if c.Status == "fail" {
					failed++
				}
			}
			if g.json {
				if err := printJSON(g.stdout, checks); err != nil {
					return err
				}
			} else {
				paint := painter(g)
				for _, c := range checks {
					fmt.Fprintf(g.stdout, "%s  %s: %s\n", paint(c.Status), c.Name, c.Detail)
					if c.Fix != "" {
						fmt.Fprintf(g.stdout, "        fix: %s\n", c.Fix)
					}
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d check(s) failed", failed)
			}
			return nil
		},
	}
	addJSONFlag(c, g)
	return c
}

// painter colours a status word when output goes to a terminal (and
// NO_COLOR is not set); pipes and files get plain text.
func painter(g *globals) func(string) string {
	colour := map[string]string{"ok": "32", "warn": "33", "fail": "31", "skip": "90"}
	tty := false
	if f, ok := g.stdout.(*os.File); ok && os.Getenv("NO_COLOR") == "" {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return func(s string) string {
		word := fmt.Sprintf("%-4s", s)
		if !tty {
			return word
		}
		return "\x1b[" + colour[s] + "m" + word + "\x1b[0m"
	}
}
