// Package confdoc generates the configuration reference, docs/CONFIG.md,
// from the Go source of the configuration structs, so the reference is
// written once — as the doc comments on config.Config's fields — and never
// drifts from the code.
//
// It parses a package's source with go/parser, walks a root struct type
// and the struct types it nests (directly, through pointers and in lists),
// and lists every YAML key with its full dotted path, its type, its default
// and its doc comment. Defaults come from a value of the root type, usually
// the package's DefaultConfig(), read by reflection along the same fields.
//
// A default that is the zero value is usually decided later (a nil *bool
// that means true, a VNI derived from the network name); for those the
// "Default ..." sentence of the field's doc comment is shown instead. The
// one default that depends on the machine, the host name, is shown as "the
// host name" so the output is the same everywhere.
//
// The test in this package regenerates the reference and fails if
// docs/CONFIG.md differs: run `make docs` after changing node/config/config.go.
package confdoc

//go:generate go run ./cmd/confdoc -root ../../.. -o ../../../docs/CONFIG.md

import (
	"fmt"
	"path/filepath"
	"reflect"

	"meshnet.dev/meshnet/node/config"
)

// Field is one YAML key of the configuration.
type Field struct {
	// Key is the full dotted path: "gossip.interval", "networks[].vni".
	Key string
	// Depth is how deeply the key is nested (0 for top-level keys).
	Depth int
	// Type is the key's type for people: "string", "duration", "list of
	// objects", ...
	Type string
	// Default is the default, rendered for people ("" for objects).
	Default string
	// Literal reports whether Default is a YAML value (shown as code)
	// rather than a description taken from the doc comment.
	Literal bool
	// Doc is the doc comment, with Go field names replaced by YAML keys.
	Doc string
	// Object reports whether the key holds an object or a list of objects
	// whose own keys follow it.
	Object bool
}

// Options says what to document.
type Options struct {
	// Dir is the directory of the Go package holding the structs.
	Dir string
	// Root is the name of the root struct type, e.g. "Config".
	Root string
	// Defaults is a value of the root type holding the defaults.
	Defaults any
	// HostName is the machine's host name; a string default equal to it is
	// shown as "the host name". Empty: never.
	HostName string
}

// Fields parses the package in o.Dir and lists every key under o.Root, in
// the order the fields are declared.
func Fields(o Options) ([]Field, error) {
	pkg, err := parsePackage(o.Dir)
	if err != nil {
		return nil, err
	}
	if _, ok := pkg.structs[o.Root]; !ok {
		return nil, fmt.Errorf("confdoc: no struct type %s in %s", o.Root, o.Dir)
	}
	w := walker{pkg: pkg, host: o.HostName}
	if err := w.walk(o.Root, "", 0, reflect.ValueOf(o.Defaults), false); err != nil {
		return nil, err
	}
	return w.fields, nil
}

// Meshnet generates docs/CONFIG.md for the meshnet module rooted at root:
// config.Config documented from node/config/*.go, defaults from config.DefaultConfig.
func Meshnet(root, hostName string) ([]byte, error) {
	fields, err := Fields(Options{
		Dir:      filepath.Join(root, "node", "config"),
		Root:     "Config",
		Defaults: config.DefaultConfig(),
		HostName: hostName,
	})
	if err != nil {
		return nil, err
	}
	return Markdown(fields), nil
}
