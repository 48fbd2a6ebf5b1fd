package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/internal/testenv"
)

// bin holds the binaries built once for the whole run.
var bin struct {
	dir, meshnet, xfer, cni string
	err                     error
}

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() == 0 {
			dir, err := os.MkdirTemp("", "meshnet-e2e-bin-")
			if err != nil {
				bin.err = err
			} else {
				defer os.RemoveAll(dir)
				bin.dir = dir
				bin.meshnet = filepath.Join(dir, "meshnet")
				bin.xfer = filepath.Join(dir, "xfer")
				bin.cni = filepath.Join(dir, "meshnet-cni")
				bin.err = build(bin.meshnet, "../cmd/meshnet")
				if bin.err == nil {
					// Static, so the Docker test's image can hold it.
					bin.err = build(bin.xfer, "./xfer", "CGO_ENABLED=0")
				}
				if bin.err == nil {
					bin.err = build(bin.cni, "../cmd/meshnet-cni")
				}
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func build(out, pkg string, env ...string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	// Static, as make build makes them; env may override.
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// newLab returns a lab of n hosts, removed when the test ends.
func newLab(t *testing.T, n int) (*netlab.Lab, []*netlab.Host) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "ping")
	if bin.err != nil {
		t.Fatal(bin.err)
	}
	lab, err := netlab.New(netlab.Options{Prefix: "mne2e", Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, h := range lab.Hosts() {
				if b, err := os.ReadFile(filepath.Join(h.Dir, "meshnet.log")); err == nil {
					t.Logf("--- %s meshnet.log ---\n%s", h.Name, b)
				}
			}
		}
		if err := lab.Close(); err != nil {
			t.Errorf("cleaning up the lab: %v", err)
		}
	})
	hosts := make([]*netlab.Host, n)
	for i := range hosts {
		h, err := lab.AddHost(fmt.Sprintf("h%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = h
	}
	return lab, hosts
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(string(p))
	return len(p), nil
}

func testenvTools(t *testing.T, names ...string) { testenv.RequireTools(t, names...) }
