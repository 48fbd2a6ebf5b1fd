// Command confdoc writes the configuration reference, docs/CONFIG.md, from
// the doc comments of config.Config (see package confdoc). Run it from the
// repository root, or use `make docs`:
//
//	go run ./node/config/confdoc/cmd/confdoc -o docs/CONFIG.md
//
// With -check it writes nothing and exits 1 if the file is out of date.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"meshnet.dev/meshnet/node/config/confdoc"
)

func main() {
	root := flag.String("root", ".", "root of the meshnet repository")
	out := flag.String("o", "docs/CONFIG.md", "file to write (- for standard output)")
	check := flag.Bool("check", false, "only check that the file is up to date")
	flag.Parse()
	if err := run(*root, *out, *check); err != nil {
		fmt.Fprintln(os.Stderr, "confdoc:", err)
		os.Exit(1)
	}
}

func run(root, out string, check bool) error {
	host, _ := os.Hostname()
	doc, err := confdoc.Meshnet(root, host)
	if err != nil {
		return err
	}
	switch {
	case out == "-":
		_, err = os.Stdout.Write(doc)
		return err
	case check:
		have, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		if !bytes.Equal(have, doc) {
			return fmt.Errorf("%s is out of date; run `make docs`", out)
		}
		return nil
	}
	return os.WriteFile(out, doc, 0o644)
}
