package tun

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
)

var (
	tapMAC  = packet.MAC{0x02, 0x6d, 0x6e, 0x00, 0x00, 0x01}
	hostMAC = packet.MAC{0x02, 0x6d, 0x6e, 0x00, 0x00, 0x02} // the host "behind" a device
)

func (ns *testNS) linkExists(t *testing.T, name string) bool {
	t.Helper()
	ok, err := ns.links.LinkExists(name)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// configure gives a device in the namespace its addresses and brings it up.
func (ns *testNS) configure(t testing.TB, name string, prefixes ...netip.Prefix) {
	t.Helper()
	for _, p := range prefixes {
		if err := ns.links.AddAddress(name, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := ns.links.SetUp(name); err != nil {
		t.Fatal(err)
	}
}

func TestTAPKernelPingsThroughDevice(t *testing.T) {
	ns := newTestNS(t)
	cfg := DefaultTAPConfig("mntap0")
	cfg.MTU, cfg.MAC = 1400, tapMAC
	var tap *TAP
	ns.do(t, func() {
		var err error
		if tap, err = CreateTAP(cfg); err != nil {
			t.Fatal(err)
		}
	})
	if tap.Name() != "mntap0" || tap.MTU() != 1400 || tap.HardwareAddr() != tapMAC || tap.BatchSize() < 2 {
		t.Fatalf("TAP = %q mtu %d mac %s batch %d", tap.Name(), tap.MTU(), formatMAC(tap.HardwareAddr()), tap.BatchSize())
	}
	l, err := ns.links.h.LinkByName("mntap0")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Attrs().HardwareAddr.String(); got != formatMAC(tapMAC) || l.Attrs().MTU != 1400 {
		t.Fatalf("kernel sees MAC %s MTU %d, want %s 1400", got, l.Attrs().MTU, formatMAC(tapMAC))
	}
	ns.configure(t, "mntap0", netip.MustParsePrefix("10.99.0.1/24"))
	host := netip.MustParseAddr("10.99.0.2")
	r := startResponder(t, tap, host, hostMAC)

	if ok, out := ns.ping(t, host.String()); !ok {
		t.Fatalf("kernel ping through the TAP failed:\n%s", out)
	}
	// The kernel resolved the host with ARP from the TAP's MAC, then pinged.
	if !r.saw(func(f []byte) bool { return hasHeader(f, packet.BroadcastMAC(), tapMAC, packet.EtherTypeARP) }) {
		t.Error("no ARP request from the TAP's MAC was read")
	}
	if !r.saw(func(f []byte) bool {
		return hasHeader(f, hostMAC, tapMAC, packet.EtherTypeIPv4) && echoReply(f, host, hostMAC) != nil
	}) {
		t.Error("no echo request to the host's MAC was read")
	}

	// The device is held: a second open is refused with a useful message.
	ns.do(t, func() {
		_, err := CreateTAP(DefaultTAPConfig("mntap0"))
		if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), "in use by another process") {
			t.Errorf("second CreateTAP = %v, want EBUSY explained", err)
		}
	})

	if err := tap.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the closed TAP to disappear", func() bool { return !ns.linkExists(t, "mntap0") })
	bufs, sizes := testBufs(1, testBufSize)
	if _, err := tap.Read(bufs, sizes, testOffset); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if _, err := tap.Write([][]byte{inBuf(make([]byte, 60))}, testOffset); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestTAPCloseUnblocksRead(t *testing.T) {
	ns := newTestNS(t)
	tap, conn := newTAPWithSender(t, ns)
	reads := make(chan error, 16)
	go func() {
		bufs, sizes := testBufs(4, testBufSize)
		for {
			_, err := tap.Read(bufs, sizes, testOffset)
			reads <- err
			if err != nil {
				return
			}
		}
	}()
	// Once one frame has come through, the reader is back in Read, waiting.
	if _, err := conn.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("10.99.0.255:9")); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, reads, "first Read"); err != nil {
		t.Fatal(err)
	}
	tap.Close()
	for {
		err := waitErr(t, reads, "Read on a closed TAP")
		if err == nil {
			continue // a frame the kernel sent before Close
		}
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Read = %v, want ErrClosed", err)
		}
		return
	}
}

// newTAPWithSender creates mntap0 as 10.99.0.1/24 in ns and a UDP socket
// there; sending to the broadcast address 10.99.0.255 puts one frame on the
// TAP (broadcasts need no ARP).
func newTAPWithSender(t testing.TB, ns *testNS) (*TAP, *net.UDPConn) {
	t.Helper()
	var (
		tap  *TAP
		conn *net.UDPConn
	)
	ns.do(t, func() {
		var err error
		if tap, err = CreateTAP(DefaultTAPConfig("mntap0")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tap.Close() })
		ns.configure(t, "mntap0", netip.MustParsePrefix("10.99.0.1/24"))
		if conn, err = net.ListenUDP("udp4", nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
	})
	return tap, conn
}

func TestTAPVanishesWhenProcessIsKilled(t *testing.T) {
	ns := newTestNS(t)
	var cmd *exec.Cmd
	ns.do(t, func() {
		cmd = helperCommand(t, "", helperEnv{mode: "hold", dev: "mntap1"})
	})
	if !ns.linkExists(t, "mntap1") {
		t.Fatal("helper reported ready but its TAP does not exist")
	}
	if err := cmd.Process.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, "the killed process's TAP to disappear", func() bool { return !ns.linkExists(t, "mntap1") })
}

func TestTAPPersistSurvivesClose(t *testing.T) {
	ns := newTestNS(t)
	cfg := DefaultTAPConfig("mntap2")
	cfg.Persist = true
	ns.do(t, func() {
		tap, err := CreateTAP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tap.Close()
		// Opening it again without Persist must not clear persistence.
		if tap, err = OpenTAP(DefaultTAPConfig("mntap2")); err != nil {
			t.Fatal(err)
		}
		tap.Close()
	})
	if !ns.linkExists(t, "mntap2") {
		t.Fatal("persistent TAP disappeared on Close")
	}
	ns.do(t, func() {
		if err := DeletePersistent("mntap2"); err != nil {
			t.Fatal(err)
		}
	})
	if ns.linkExists(t, "mntap2") {
		t.Fatal("DeletePersistent left the TAP behind")
	}
}

func TestOpenTAPDoesNotCreate(t *testing.T) {
	ns := newTestNS(t)
	ns.do(t, func() {
		_, err := OpenTAP(DefaultTAPConfig("mntap3"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("OpenTAP of a missing device = %v, want ErrNotExist", err)
		}
	})
	if ns.linkExists(t, "mntap3") {
		t.Fatal("OpenTAP left a device behind")
	}
}

func TestTAPRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]TAPConfig{
		"long name":     {Name: "a-name-longer-than-15", Owner: -1, Group: -1},
		"negative MTU":  {Name: "x", MTU: -1, Owner: -1, Group: -1},
		"multicast MAC": {Name: "x", MAC: packet.MAC{1, 0, 0x5e, 0, 0, 1}, Owner: -1, Group: -1},
	} {
		if _, err := CreateTAP(cfg); err == nil {
			t.Errorf("%s: CreateTAP succeeded", name)
		}
	}
}

func TestTAPReadWriteDoNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	ns := newTestNS(t)
	tap, conn := newTAPWithSender(t, ns)
	dst := netip.MustParseAddrPort("10.99.0.255:9")
	payload := make([]byte, 100)
	bufs, sizes := testBufs(tap.BatchSize(), testBufSize)
	out := [][]byte{inBuf(ethFrame(packet.BroadcastMAC(), hostMAC, 0x88b5, make([]byte, 46)))}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := conn.WriteToUDPAddrPort(payload, dst); err != nil {
			t.Fatal(err)
		}
		if _, err := tap.Read(bufs, sizes, testOffset); err != nil {
			t.Fatal(err)
		}
		if _, err := tap.Write(out, testOffset); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("TAP Read+Write allocate %.1f times per round, want 0", allocs)
	}
}

// helperEnv tells a re-executed test binary what to do (see TestMain).
type helperEnv struct {
	mode, kind, dev, ip string
}

// startHelper starts the test binary as a helper process (as uid/gid 65534
// if user is "nobody") and returns it with the first line it prints. Call it
// inside ns.do so the helper starts in the namespace. Cleanup kills it.
func startHelper(t *testing.T, user string, env helperEnv) (*exec.Cmd, string) {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if user == "nobody" {
		bin = worldExecutableCopy(t, bin)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "MNTUN_HELPER="+env.mode, "MNTUN_KIND="+env.kind, "MNTUN_DEV="+env.dev, "MNTUN_IP="+env.ip)
	if user == "nobody" {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		return cmd, s
	case <-time.After(10 * time.Second):
		t.Fatalf("helper %s printed nothing within 10s", env.mode)
		return nil, ""
	}
}

// helperCommand starts a helper that must report "ready".
func helperCommand(t *testing.T, user string, env helperEnv) *exec.Cmd {
	t.Helper()
	cmd, line := startHelper(t, user, env)
	if line != "ready\n" {
		t.Fatalf("helper %s said %q, want ready", env.mode, line)
	}
	return cmd
}

// BenchmarkTAPWrite measures handing batches of 64 full-size frames to the
// kernel (which drops them: they are addressed to nobody).
func BenchmarkTAPWrite(b *testing.B) {
	ns := newTestNS(b)
	tap, _ := newTAPWithSender(b, ns)
	frame := ethFrame(hostMAC, tapMAC, 0x88b5, make([]byte, 1400))
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = inBuf(frame)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(bufs) * len(frame)))
	for b.Loop() {
		if _, err := tap.Write(bufs, testOffset); err != nil {
			b.Fatal(err)
		}
	}
}
