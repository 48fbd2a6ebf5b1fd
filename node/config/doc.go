// Package config is the daemon's configuration: the YAML file's types with
// a doc comment on every field (confdoc generates docs/CONFIG.md from
// them), DefaultConfig, LoadConfig, and Validate, which checks a Config
// once and turns it into the typed Spec the node runs from, reporting every
// problem as a FieldError that names the key, the value and the fix. It
// also holds the names derived from configuration: default device names and
// the MAC of a node's interface on a network.
//
// It starts no goroutines and holds no state: a Spec is a value, made
// before anything starts and never changed afterwards. It imports no other
// package under node/; the node and its parts import it.
package config
