package keydist

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// File names in the state directory.
const (
	// NodeKeyFile holds the node's WireGuard private key in the form
	// `wg genkey` prints, so `wg pubkey < node.key` shows its public key.
	NodeKeyFile = "node.key"
	// AdminKeyFile holds the admin signing key on admin nodes:
	// "adminpriv:<base64 of the 32-byte ed25519 seed>".
	AdminKeyFile = "admin.key"

	// maxKeyFileLen bounds what is read from a key file.
	maxKeyFileLen = 1024
)

// LoadOrCreateNodeKey returns the node key from stateDir/node.key, creating
// the directory and a fresh key (file mode 0600, written atomically) if the
// file does not exist; created says which happened. An existing file that
// others can read, or that does not hold a key, is refused and never
// overwritten.
func LoadOrCreateNodeKey(stateDir string) (key NodePrivate, created bool, err error) {
	key, err = loadNodeKey(stateDir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key, err = NewNodePrivate(rand.Reader)
	if err != nil {
		return NodePrivate{}, false, err
	}
	text := base64.StdEncoding.EncodeToString(key.raw()[:]) + "\n"
	err = writeFileAtomic(stateDir, NodeKeyFile, []byte(text), false)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first; use theirs.
		key, err = loadNodeKey(stateDir)
		return key, false, err
	}
	if err != nil {
		return NodePrivate{}, false, err
	}
	return key, true, nil
}

// ReplaceNodeKey generates a new node key and atomically replaces
// stateDir/node.key with it (node identity rotation). The old key is gone
// once this returns: peers must learn the new public key before they can
// talk to this node again.
func ReplaceNodeKey(stateDir string) (NodePrivate, error) {
	if _, err := loadNodeKey(stateDir); err != nil {
		return NodePrivate{}, fmt.Errorf("rotate node key: %w", err)
	}
	key, err := NewNodePrivate(rand.Reader)
	if err != nil {
		return NodePrivate{}, err
	}
	text := base64.StdEncoding.EncodeToString(key.raw()[:]) + "\n"
	if err := writeFileAtomic(stateDir, NodeKeyFile, []byte(text), true); err != nil {
		return NodePrivate{}, fmt.Errorf("rotate node key: %w", err)
	}
	return key, nil
}

// loadNodeKey reads node.key; a missing file is an fs.ErrNotExist error.
func loadNodeKey(stateDir string) (NodePrivate, error) {
	path := filepath.Join(stateDir, NodeKeyFile)
	data, exists, err := readPrivateFile(stateDir, NodeKeyFile, maxKeyFileLen)
	if err != nil {
		return NodePrivate{}, err
	}
	if !exists {
		return NodePrivate{}, fmt.Errorf("no node key at %s: %w", path, fs.ErrNotExist)
	}
	key, err := parseNodeKeyFile(data)
	if err != nil {
		return NodePrivate{}, fmt.Errorf("%s %s; restore it from a backup, or remove it to give this node a new identity: %w", path, err, ErrKeyFileCorrupt)
	}
	return key, nil
}

// parseNodeKeyFile parses node.key content. Errors read after the file name.
func parseNodeKeyFile(data []byte) (NodePrivate, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(b) != NodeKeyLen {
		return NodePrivate{}, fmt.Errorf("does not hold a node key (want the base64 of %d bytes on one line, as `wg genkey` writes)", NodeKeyLen)
	}
	key := nodePrivateFrom(b)
	if key.IsZero() {
		return NodePrivate{}, fmt.Errorf("holds the all-zero key")
	}
	return key, nil
}

// LoadOrCreateAdminKey is LoadOrCreateNodeKey for the admin key
// (stateDir/admin.key). Only the node that creates a cluster calls it.
func LoadOrCreateAdminKey(stateDir string) (key AdminPrivate, created bool, err error) {
	key, err = LoadAdminKey(stateDir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key, err = NewAdminPrivate(rand.Reader)
	if err != nil {
		return AdminPrivate{}, false, err
	}
	text := adminPrivatePrefix + base64.StdEncoding.EncodeToString(key.seed()) + "\n"
	err = writeFileAtomic(stateDir, AdminKeyFile, []byte(text), false)
	if errors.Is(err, fs.ErrExist) {
		key, err = LoadAdminKey(stateDir)
		return key, false, err
	}
	if err != nil {
		return AdminPrivate{}, false, err
	}
	return key, true, nil
}

// LoadAdminKey reads stateDir/admin.key. If there is none the error wraps
// fs.ErrNotExist and says that this is not an admin node.
func LoadAdminKey(stateDir string) (AdminPrivate, error) {
	path := filepath.Join(stateDir, AdminKeyFile)
	data, exists, err := readPrivateFile(stateDir, AdminKeyFile, maxKeyFileLen)
	if err != nil {
		return AdminPrivate{}, err
	}
	if !exists {
		return AdminPrivate{}, fmt.Errorf("no admin key at %s, so this is not an admin node; run the command on the node that created the cluster, "+
			"or copy its admin.key here with mode 0600: %w", path, fs.ErrNotExist)
	}
	key, err := parseAdminKeyFile(data)
	if err != nil {
		return AdminPrivate{}, fmt.Errorf("%s %s; restore it from a backup: %w", path, err, ErrKeyFileCorrupt)
	}
	return key, nil
}

// parseAdminKeyFile parses admin.key content. Errors read after the file
// name.
func parseAdminKeyFile(data []byte) (AdminPrivate, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(string(data)), adminPrivatePrefix)
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if !ok || err != nil || len(b) != ed25519.SeedSize {
		return AdminPrivate{}, fmt.Errorf("does not hold an admin key (want %q and the base64 of a %d-byte seed on one line)", adminPrivatePrefix, ed25519.SeedSize)
	}
	return adminPrivateFromSeed(b), nil
}
