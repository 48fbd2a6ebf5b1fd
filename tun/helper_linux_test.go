package tun

// The test binary doubles as a helper process for tests that need a second
// process: one killed with SIGKILL, or one running as an unprivileged user.
// TestMain runs the helper instead of the tests when MNTUN_HELPER is set.

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helperTimeout bounds a helper's life in case its parent forgets it.
const helperTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	if mode := os.Getenv("MNTUN_HELPER"); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

func runHelper(mode string) int {
	go func() {
		time.Sleep(helperTimeout)
		fmt.Fprintln(os.Stderr, "helper: timed out")
		os.Exit(3)
	}()
	dev, kind := os.Getenv("MNTUN_DEV"), os.Getenv("MNTUN_KIND")
	if err := checkUnprivileged(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	switch mode {
	case "hold": // create a non-persistent TAP and wait to be killed
		tap, err := CreateTAP(DefaultTAPConfig(dev))
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		defer tap.Close()
		fmt.Println("ready")
		select {}
	case "open": // report whether the device opens
		d, err := openHelperDevice(kind, dev)
		if err != nil {
			fmt.Println("error:", err)
			return 0
		}
		d.Close()
		fmt.Println("opened")
		return 0
	case "respond": // answer one ping for MNTUN_IP through the device
		d, err := openHelperDevice(kind, dev)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		defer d.Close()
		fmt.Println("ready")
		r := &responder{dev: d, ip: netip.MustParseAddr(os.Getenv("MNTUN_IP")), mac: hostMAC}
		if err := r.run(1); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "helper: unknown mode %q\n", mode)
	return 2
}

// checkUnprivileged makes sure a helper started as another user really runs
// without capabilities, so what it manages proves something.
func checkUnprivileged() error {
	if os.Getuid() == 0 {
		return nil
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok && strings.Trim(strings.TrimSpace(v), "0") != "" {
			return fmt.Errorf("uid %d still has capabilities %s", os.Getuid(), strings.TrimSpace(v))
		}
	}
	return nil
}

func openHelperDevice(kind, name string) (Device, error) {
	switch kind {
	case ModeTAP:
		return OpenTAP(DefaultTAPConfig(name))
	case ModeTUN:
		nb := mapNeighbors{netip.MustParseAddr(os.Getenv("MNTUN_IP")): hostMAC}
		return OpenTUN(DefaultTUNConfig(name, tapMAC), nb)
	}
	return nil, errors.New("unknown device kind " + kind)
}

// worldExecutableCopy copies the test binary where another user can run it
// (the go tool builds it in a directory only its owner can enter).
func worldExecutableCopy(t *testing.T, bin string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mntun-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dstPath := filepath.Join(dir, "tun.test")
	dst, err := os.OpenFile(dstPath, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return dstPath
}
