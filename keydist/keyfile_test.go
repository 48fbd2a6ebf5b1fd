package keydist

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fileMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestLoadOrCreateNodeKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	k1, created, err := LoadOrCreateNodeKey(dir)
	if err != nil || !created || k1.IsZero() {
		t.Fatalf("first call: %v created=%v", err, created)
	}
	path := filepath.Join(dir, NodeKeyFile)
	if m := fileMode(t, path); m != 0o600 {
		t.Fatalf("node.key mode %04o, want 0600", m)
	}
	if m := fileMode(t, dir); m != 0o700 {
		t.Fatalf("state dir mode %04o, want 0700", m)
	}
	// Same form as `wg genkey`: base64 and a newline.
	data, _ := os.ReadFile(path)
	if want := base64.StdEncoding.EncodeToString(k1.raw()[:]) + "\n"; string(data) != want {
		t.Fatalf("node.key holds %d bytes not in wg genkey form", len(data))
	}
	k2, created, err := LoadOrCreateNodeKey(dir)
	if err != nil || created || !k2.Equal(k1) {
		t.Fatalf("second call: %v created=%v same=%v", err, created, k2.Equal(k1))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("state dir holds %d entries, want only node.key (temp files left behind?)", len(entries))
	}
}

func TestLoadNodeKeyAcceptsWgGenkeyFile(t *testing.T) {
	dir := t.TempDir()
	k, _ := newNode(t)
	// An operator may provision the key with `wg genkey > node.key`.
	text := base64.StdEncoding.EncodeToString(k.raw()[:]) + "\n"
	if err := os.WriteFile(filepath.Join(dir, NodeKeyFile), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	got, created, err := LoadOrCreateNodeKey(dir)
	if err != nil || created || !got.Equal(k) {
		t.Fatalf("got created=%v err=%v", created, err)
	}
}

// refusedFile checks that content/mode in node.key or admin.key is refused
// with want and the file is left untouched.
func refusedFile(t *testing.T, name string, content []byte, mode fs.FileMode, want error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	var err error
	if name == NodeKeyFile {
		_, _, err = LoadOrCreateNodeKey(dir)
	} else {
		_, _, err = LoadOrCreateAdminKey(dir)
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, content) || fileMode(t, path) != mode {
		t.Fatal("refused file was modified")
	}
}

func TestKeyFilesRefused(t *testing.T) {
	node, _ := newNode(t)
	nodeText := []byte(base64.StdEncoding.EncodeToString(node.raw()[:]) + "\n")
	admin := newAdmin(t)
	adminText := []byte("adminpriv:" + base64.StdEncoding.EncodeToString(admin.seed()) + "\n")
	for _, tc := range []struct {
		name    string
		file    string
		content []byte
		mode    fs.FileMode
		want    error
	}{
		{"node world readable", NodeKeyFile, nodeText, 0o644, ErrKeyFilePermissions},
		{"node group readable", NodeKeyFile, nodeText, 0o640, ErrKeyFilePermissions},
		{"node group writable", NodeKeyFile, nodeText, 0o620, ErrKeyFilePermissions},
		{"node empty", NodeKeyFile, nil, 0o600, ErrKeyFileCorrupt},
		{"node garbage", NodeKeyFile, []byte("not a key\n"), 0o600, ErrKeyFileCorrupt},
		{"node short", NodeKeyFile, []byte(base64.StdEncoding.EncodeToString(make([]byte, 31))), 0o600, ErrKeyFileCorrupt},
		{"node long", NodeKeyFile, []byte(base64.StdEncoding.EncodeToString(make([]byte, 33))), 0o600, ErrKeyFileCorrupt},
		{"node all zero", NodeKeyFile, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))), 0o600, ErrKeyFileCorrupt},
		{"node huge", NodeKeyFile, bytes.Repeat([]byte("A"), 1<<20), 0o600, ErrKeyFileCorrupt},
		{"node holds admin key", NodeKeyFile, adminText, 0o600, ErrKeyFileCorrupt},
		{"admin world readable", AdminKeyFile, adminText, 0o644, ErrKeyFilePermissions},
		{"admin garbage", AdminKeyFile, []byte("adminpriv:???"), 0o600, ErrKeyFileCorrupt},
		{"admin holds node key", AdminKeyFile, nodeText, 0o600, ErrKeyFileCorrupt},
		{"admin raw bytes", AdminKeyFile, admin.seed(), 0o600, ErrKeyFileCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) { refusedFile(t, tc.file, tc.content, tc.mode, tc.want) })
	}
}

func TestKeyFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, NodeKeyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateNodeKey(dir); !errors.Is(err, ErrKeyFileCorrupt) {
		t.Fatalf("err = %v, want ErrKeyFileCorrupt", err)
	}
}

func TestLoadOrCreateAdminKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadAdminKey(dir); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "not an admin node") {
		t.Fatalf("LoadAdminKey on a fresh dir: %v", err)
	}
	k1, created, err := LoadOrCreateAdminKey(dir)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if m := fileMode(t, filepath.Join(dir, AdminKeyFile)); m != 0o600 {
		t.Fatalf("admin.key mode %04o", m)
	}
	k2, err := LoadAdminKey(dir)
	if err != nil || !k2.Equal(k1) {
		t.Fatalf("reload: %v", err)
	}
	k3, created, err := LoadOrCreateAdminKey(dir)
	if err != nil || created || !k3.Equal(k1) {
		t.Fatalf("second LoadOrCreate: %v %v", created, err)
	}
}

func TestWriteFileAtomicCreateOnlyDoesNotReplace(t *testing.T) {
	dir := t.TempDir()
	if err := writeFileAtomic(dir, "f", []byte("one"), false); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(dir, "f", []byte("two"), false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("create-only over an existing file: %v", err)
	}
	if err := writeFileAtomic(dir, "f", []byte("three"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "three" {
		t.Fatalf("content %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("%d entries left in dir, want 1", len(entries))
	}
}

func TestReplaceNodeKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReplaceNodeKey(dir); err == nil {
		t.Fatal("replaced a key that does not exist")
	}
	old, _, err := LoadOrCreateNodeKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := ReplaceNodeKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, created, err := LoadOrCreateNodeKey(dir)
	if err != nil || created || !again.Equal(fresh) || again.Equal(old) {
		t.Fatalf("after replace: created=%v equal-new=%v equal-old=%v err=%v", created, again.Equal(fresh), again.Equal(old), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, NodeKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
}
