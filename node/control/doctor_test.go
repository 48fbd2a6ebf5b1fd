package control

import (
	"errors"
	"strings"
	"testing"

	"meshnet.dev/meshnet/tun"
)

func TestDoctorReportsTheCloneDeviceMode(t *testing.T) {
	if c := checkCloneMode(tun.CloneAccess{Perm: 0o666}, nil); c.Status != "ok" || !strings.Contains(c.Detail, "0666") {
		t.Errorf("0666: %+v", c)
	}
	c := checkCloneMode(tun.CloneAccess{Perm: 0o600}, nil)
	if c.Status != "warn" || !strings.Contains(c.Detail, "0600") || !strings.Contains(c.Fix, "--fix-perms") || !strings.Contains(c.Fix, "chmod 0666 /dev/net/tun") {
		t.Errorf("0600: %+v", c)
	}
	if c := checkCloneMode(tun.CloneAccess{}, errors.New("tun: /dev/net/tun is missing")); c.Status != "warn" || !strings.Contains(c.Detail, "missing") {
		t.Errorf("missing: %+v", c)
	}
}
