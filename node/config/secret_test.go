package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	for _, c := range []struct {
		mode    os.FileMode
		content string
		want    string // a part of the error, or "" for none
	}{
		{0o600, "meshnet1-abc\n", ""},
		{0o400, "meshnet1-abc", ""},
		{0o644, "meshnet1-abc\n", "chmod 600 " + path},
		{0o640, "meshnet1-abc\n", "readable by other users (mode 0640)"},
		{0o600, " \n", "empty"},
	} {
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, c.mode); err != nil {
			t.Fatal(err)
		}
		s, err := parse(t, goodConfig+"token_file: "+path+"\n")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("mode %04o: %v", c.mode, err)
		case c.want == "" && s.Token != "meshnet1-abc":
			t.Errorf("mode %04o: token %q", c.mode, s.Token)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), "token_file") || !strings.Contains(err.Error(), c.want)):
			t.Errorf("mode %04o, %q: err = %v, want one naming token_file and %q", c.mode, c.content, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "meshnet1-abc") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}

func TestLeaveTimeoutIsBounded(t *testing.T) {
	if _, err := parse(t, goodConfig+"gossip:\n  leave_timeout: 5m\n"); err == nil || !strings.Contains(err.Error(), "gossip.leave_timeout") {
		t.Errorf("a five-minute leave_timeout: %v", err)
	}
	s, err := parse(t, goodConfig+"gossip:\n  leave_timeout: 1s\n")
	if err != nil || s.Gossip.LeaveTimeout.Seconds() != 1 {
		t.Errorf("leave_timeout 1s: %v", err)
	}
}
