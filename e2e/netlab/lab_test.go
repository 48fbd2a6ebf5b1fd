package netlab

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRemoveStaleSocketsKeepsLiveOnes(t *testing.T) {
	dir := t.TempDir()
	since := time.Now().Add(-time.Second)
	live, err := net.Listen("unix", filepath.Join(dir, "live.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "dead.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false) // as a killed daemon leaves it
	dead.Close()
	if err := os.WriteFile(filepath.Join(dir, "plain.file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	removeStaleSockets(dir, since)
	for name, want := range map[string]bool{"live.sock": true, "dead.sock": false, "plain.file": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: present = %t, want %t", name, err == nil, want)
		}
	}
}
