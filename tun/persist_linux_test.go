package tun

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"meshnet.dev/meshnet/internal/testenv"
)

// nobody is the unprivileged uid and gid the helper process runs as.
const nobody = 65534

// TestPersistentDeviceServesItsOwnerWithoutPrivilege prepares a device for
// nobody as root, then a helper running as nobody (no capabilities) opens it
// and answers the kernel's ping through it.
func TestPersistentDeviceServesItsOwnerWithoutPrivilege(t *testing.T) {
	openCloneToUsers(t)
	for i, kind := range []string{ModeTAP, ModeTUN} {
		t.Run(kind, func(t *testing.T) {
			ns := newTestNS(t)
			name := "mnp" + kind
			own := netip.MustParsePrefix(fmt.Sprintf("10.97.%d.1/24", i))
			host := netip.MustParseAddr(fmt.Sprintf("10.97.%d.2", i))
			ns.do(t, func() {
				if err := CreatePersistent(name, kind, nobody, nobody); err != nil {
					t.Fatal(err)
				}
				if err := CreatePersistent(name, kind, nobody, nobody); !errors.Is(err, os.ErrExist) {
					t.Errorf("creating it twice = %v, want ErrExist", err)
				}
			})
			ns.configure(t, name, own)

			var helper *exec.Cmd
			ns.do(t, func() {
				helper = helperCommand(t, "nobody", helperEnv{mode: "respond", kind: kind, dev: name, ip: host.String()})
			})
			if ok, out := ns.ping(t, host.String()); !ok {
				t.Fatalf("ping through a device served by nobody failed:\n%s", out)
			}
			if err := waitExit(helper.Wait); err != nil {
				t.Fatalf("helper: %v", err)
			}
			if !ns.linkExists(t, name) {
				t.Fatal("the persistent device went away when its user closed it")
			}
			ns.do(t, func() {
				if err := DeletePersistent(name); err != nil {
					t.Fatal(err)
				}
				if err := DeletePersistent(name); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("deleting it twice = %v, want ErrNotExist", err)
				}
			})
			if ns.linkExists(t, name) {
				t.Fatal("DeletePersistent left the device behind")
			}
		})
	}
}

// openCloneToUsers does what a user is told to when /dev/net/tun is 0600
// (`meshnet device create --fix-perms` calls OpenCloneToUsers), and puts
// the mode back after the test.
func openCloneToUsers(t *testing.T) {
	t.Helper()
	testenv.HoldCloneMode(t)
	if _, err := OpenCloneToUsers(); err != nil {
		t.Fatal(err)
	}
	if err := CheckCloneFor("nobody", nobody, nobody); err != nil {
		t.Fatal(err)
	}
}

// waitExit waits for a process, giving up after ten seconds.
func waitExit(wait func() error) error {
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("did not exit within 10s")
	}
}

func TestPersistentDeviceRefusesOtherUsers(t *testing.T) {
	ns := newTestNS(t)
	openCloneToUsers(t)
	ns.do(t, func() {
		if err := CreatePersistent("mnproot", ModeTAP, 0, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.do(t, func() { _ = DeletePersistent("mnproot") }) })
		_, line := startHelper(t, "nobody", helperEnv{mode: "open", kind: ModeTAP, dev: "mnproot"})
		if !strings.HasPrefix(line, "error:") || !strings.Contains(line, "CAP_NET_ADMIN") || !strings.Contains(line, "meshnet device create") {
			t.Errorf("nobody opening root's device said %q, want the CAP_NET_ADMIN explanation", line)
		}
	})
}

func TestPersistentDeviceInUseCannotBeDeleted(t *testing.T) {
	ns := newTestNS(t)
	ns.do(t, func() {
		if err := CreatePersistent("mnpbusy", ModeTUN, -1, -1); err != nil {
			t.Fatal(err)
		}
		dev, err := OpenTUN(DefaultTUNConfig("mnpbusy", tunMAC), tunNeighbs)
		if err != nil {
			t.Fatal(err)
		}
		if err := DeletePersistent("mnpbusy"); !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "in use") {
			t.Errorf("deleting a device in use = %v, want EBUSY explained", err)
		}
		dev.Close()
		if err := DeletePersistent("mnpbusy"); err != nil {
			t.Fatal(err)
		}
	})
	if ns.linkExists(t, "mnpbusy") {
		t.Fatal("device still exists after DeletePersistent")
	}
}

func TestCreatePersistentRejectsBadInput(t *testing.T) {
	if err := CreatePersistent("mnpx", "vxlan", -1, -1); err == nil || !strings.Contains(err.Error(), `"tap" or "tun"`) {
		t.Errorf("unknown mode = %v", err)
	}
	if err := CreatePersistent("", ModeTAP, -1, -1); err == nil {
		t.Error("empty name accepted")
	}
	if err := DeletePersistent(""); err == nil {
		t.Error("DeletePersistent of an empty name succeeded")
	}
}
