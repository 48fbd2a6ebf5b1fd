package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"meshnet.dev/meshnet/internal/testenv"
)

// bin holds the binaries built once for the whole run.
var bin struct {
	dir     string
	meshnet string // the daemon
	skewed  string // the daemon with a wall clock shifted by $MESHNET_CHAOS_CLOCK_OFFSET seconds
	xfer    string // the traffic tool
	err     error
}

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() == 0 {
			dir, err := os.MkdirTemp("", "meshnet-chaos-bin-")
			if err != nil {
				bin.err = err
			} else {
				defer os.RemoveAll(dir)
				bin.dir = dir
				bin.meshnet = filepath.Join(dir, "meshnet")
				bin.skewed = filepath.Join(dir, "meshnet-skewed")
				bin.xfer = filepath.Join(dir, "xfer")
				bin.err = build(bin.meshnet, "../../cmd/meshnet")
				if bin.err == nil {
					bin.err = build(bin.xfer, "../xfer")
				}
				if bin.err == nil {
					bin.err = buildSkewed(bin.skewed, dir)
				}
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func build(out, pkg string, flags ...string) error {
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", out, pkg)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// clockOffsetEnv names the variable the skewed daemon reads its wall-clock
// offset from, in whole seconds (negative: behind).
const clockOffsetEnv = "MESHNET_CHAOS_CLOCK_OFFSET"

// buildSkewed builds meshnet with a wall clock that runs offset from the
// host's. faketime cannot do this for Go programs (Go reads the clock
// through the vDSO, never through libc, so LD_PRELOAD interposition misses
// it), and a time namespace offsets only CLOCK_MONOTONIC and
// CLOCK_BOOTTIME, never CLOCK_REALTIME. So the standard library's time.Now
// is patched at build time with `go build -overlay`: it adds the offset
// read once from $MESHNET_CHAOS_CLOCK_OFFSET to the wall reading (timers and
// the monotonic clock are untouched, as on a host whose clock is set
// wrong). The chaos run starts this binary inside a time namespace too, so
// the monotonic and boot clocks are off by the same amount.
// timensOffset is the monotonic and boot clock offset for a node whose
// wall clock is off by off seconds: the same, except that a time namespace
// cannot move those clocks below zero (the kernel refuses with ERANGE), so
// a clock set back further than the machine's uptime goes back to one
// minute after boot.
func timensOffset(off int64) int64 {
	if off >= 0 {
		return off
	}
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	up, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		return 0
	}
	return max(off, -max(int64(up)-60, 0))
}

func buildSkewed(out, dir string) error {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src", "time")
	orig, err := os.ReadFile(filepath.Join(src, "time.go"))
	if err != nil {
		return err
	}
	const call = "\tsec, nsec, mono := runtimeNow()\n"
	if strings.Count(string(orig), call) != 1 {
		return fmt.Errorf("time.Now in %s (Go %s) no longer reads runtimeNow as expected: update buildSkewed", src, runtime.Version())
	}
	patched := strings.Replace(string(orig), call, call+"\tsec += chaosClockOffset\n", 1)
	ovl := filepath.Join(dir, "overlay")
	if err := os.MkdirAll(ovl, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		filepath.Join(src, "time.go"):            patched,
		filepath.Join(src, "zz_chaos_offset.go"): skewSource,
	}
	var repl []string
	for path, text := range files {
		o := filepath.Join(ovl, filepath.Base(path))
		if err := os.WriteFile(o, []byte(text), 0o644); err != nil {
			return err
		}
		repl = append(repl, fmt.Sprintf("%q: %q", path, o))
	}
	cfg := filepath.Join(ovl, "overlay.json")
	if err := os.WriteFile(cfg, []byte(`{"Replace": {`+strings.Join(repl, ", ")+`}}`), 0o644); err != nil {
		return err
	}
	return build(out, "../../cmd/meshnet", "-overlay", cfg)
}

// skewSource is added to package time by buildSkewed.
const skewSource = `package time

import "syscall"

// chaosClockOffset shifts the wall clock by $` + clockOffsetEnv + ` seconds.
var chaosClockOffset = func() int64 {
	s, ok := syscall.Getenv("` + clockOffsetEnv + `")
	if !ok || s == "" {
		return 0
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}()
`

func testenvTools(t *testing.T, names ...string) {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, names...)
}
